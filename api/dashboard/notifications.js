// Notifications: a filtered, paginated list. The filters and the page live in
// the address (#/notifications?status=SENT&page=2), so a view can be shared
// and the back button works.
import { api, query } from './api.js';
import { h, badge, formatDate, describeError, tableWrap, announce, STATUSES, TYPES, PRIORITIES } from './ui.js';

const LIMIT = 20;

function select(name, label, options, value) {
  const id = `filter-${name}`;
  return h('div', { class: 'field' },
    h('label', { for: id }, label),
    h('select', { id, name },
      h('option', { value: '' }, 'Any'),
      options.map((o) => h('option', { value: o, selected: o === value }, o))));
}

function dateField(name, label, value) {
  const id = `filter-${name}`;
  // datetime-local has no zone: the page reads and writes local time.
  const local = value ? toLocalInput(value) : '';
  return h('div', { class: 'field' },
    h('label', { for: id }, label),
    h('input', { id, name, type: 'datetime-local', value: local }));
}

function toLocalInput(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) {
    return '';
  }
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function render(main, params) {
  const page = Math.max(1, Number.parseInt(params.get('page') || '1', 10) || 1);
  const filters = {
    status: params.get('status') || '',
    type: params.get('type') || '',
    priority: params.get('priority') || '',
    from: params.get('from') || '',
    to: params.get('to') || '',
    apiKey: params.get('apiKey') || '',
  };
  const form = h('form', { class: 'filters', 'aria-label': 'Filter notifications', novalidate: true },
    select('status', 'Status', STATUSES, filters.status),
    select('type', 'Type', TYPES, filters.type),
    select('priority', 'Priority', PRIORITIES, filters.priority),
    dateField('from', 'Created from', filters.from),
    dateField('to', 'Created before', filters.to),
    h('div', { class: 'field' },
      h('label', { for: 'filter-apiKey' }, 'API key'),
      h('input', { id: 'filter-apiKey', name: 'apiKey', value: filters.apiKey, placeholder: 'wck_…', pattern: 'wck_[0-9a-f]{8}', size: 14, autocomplete: 'off' })),
    h('div', { class: 'field' }, h('button', { type: 'submit' }, 'Apply filters')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const data = new FormData(form);
    const next = {};
    for (const name of ['status', 'type', 'priority']) next[name] = data.get(name);
    next.apiKey = (data.get('apiKey') || '').trim();
    for (const name of ['from', 'to']) {
      const v = data.get(name);
      next[name] = v ? new Date(v).toISOString() : '';
    }
    location.hash = `#/notifications${query(next)}`;
  });
  const results = h('div', { id: 'list-results', 'aria-live': 'polite' }, h('p', { class: 'muted' }, 'Loading…'));
  main.append(h('h1', {}, 'Notifications'), form, results);

  load();
  async function load() {
    let res;
    try {
      res = await api('GET', `/api/notifications${query({ ...filters, page, limit: LIMIT })}`);
    } catch (err) {
      results.replaceChildren(h('div', { class: 'notice error', role: 'alert' }, describeError(err)));
      return;
    }
    const { notifications, pagination } = res.data;
    const rows = notifications.map((n) => h('tr', {},
      h('td', {}, h('a', { href: `#/notifications/${n._id}`, class: 'mono' }, n._id)),
      h('td', {}, n.type),
      h('td', { class: 'mono' }, n.recipient),
      h('td', { class: 'hide-narrow' }, n.priority),
      h('td', {}, badge(n.status)),
      h('td', { class: 'hide-narrow' }, formatDate(n.createdAt))));
    const pageLink = (p, label) => {
      const disabled = p < 1 || p > Math.max(1, pagination.totalPages);
      return h('button', {
        type: 'button', class: 'secondary', disabled,
        onclick: () => { location.hash = `#/notifications${query({ ...filters, page: p })}`; },
      }, label);
    };
    const summary = `Page ${pagination.currentPage} of ${Math.max(1, pagination.totalPages)}, ${pagination.totalItems} notifications`;
    results.replaceChildren(
      notifications.length === 0
        ? h('p', {}, 'No notification matches these filters.')
        : tableWrap('Notifications', h('table', {},
          h('caption', { class: 'visually-hidden' }, `Notifications, newest first. ${summary}`),
          h('thead', {}, h('tr', {},
            h('th', { scope: 'col' }, 'ID'), h('th', { scope: 'col' }, 'Type'),
            h('th', { scope: 'col' }, 'Recipient'), h('th', { scope: 'col', class: 'hide-narrow' }, 'Priority'),
            h('th', { scope: 'col' }, 'Status'), h('th', { scope: 'col', class: 'hide-narrow' }, 'Created'))),
          h('tbody', {}, rows))),
      h('nav', { class: 'toolbar', 'aria-label': 'Pages' },
        pageLink(page - 1, 'Previous page'),
        h('span', { id: 'page-summary' }, summary),
        pageLink(page + 1, 'Next page')));
    announce(summary);
  }
}
