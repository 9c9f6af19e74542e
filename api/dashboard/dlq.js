// Dead letters: the tenant's FAILED notifications with why they failed;
// replay the selected ones (admin and operator keys).
import { api, query, mayReplay, principal } from './api.js';
import { h, formatDate, describeError, tableWrap, announce, TYPES } from './ui.js';

const LIMIT = 20;

export function render(main, params) {
  const page = Math.max(1, Number.parseInt(params.get('page') || '1', 10) || 1);
  const type = params.get('type') || '';
  const outcome = h('div', { id: 'replay-outcome', tabindex: '-1' });
  const results = h('div', { id: 'dlq-results' }, h('p', { class: 'muted' }, 'Loading…'));
  const typeSelect = h('select', { id: 'dlq-type', name: 'type' }, h('option', { value: '' }, 'Any'),
    TYPES.map((t) => h('option', { value: t, selected: t === type }, t)));
  const filter = h('form', { class: 'toolbar', 'aria-label': 'Filter dead letters', novalidate: true },
    h('label', { for: 'dlq-type' }, 'Type'), typeSelect, h('button', { type: 'submit', class: 'secondary' }, 'Apply'));
  filter.addEventListener('submit', (ev) => {
    ev.preventDefault();
    location.hash = `#/dlq${query({ type: typeSelect.value })}`;
  });
  main.append(h('h1', {}, 'Dead letters'),
    h('p', { class: 'hint' }, 'Notifications that failed for good: a permanent error, or every retry used. Replaying one queues it again.'),
    filter, outcome, results);

  const selected = new Set();
  const keep = h('input', { type: 'checkbox', id: 'keep-attempts' });
  const replay = h('button', { type: 'button', id: 'replay-button', disabled: true }, 'Replay selected');
  const count = h('span', { id: 'selected-count', 'aria-live': 'polite' }, '0 selected');

  function updateSelection() {
    count.textContent = `${selected.size} selected`;
    replay.disabled = selected.size === 0 || !mayReplay();
  }

  replay.addEventListener('click', async () => {
    const ids = [...selected];
    replay.disabled = true;
    try {
      const res = await api('POST', '/api/dlq/replay', { ids, keepAttempts: keep.checked });
      const lines = res.data.results.map((r) => h('li', {}, h('a', { href: `#/notifications/${r.id}`, class: 'mono' }, r.id),
        ` — ${r.outcome}${r.status ? ` (${r.status})` : ''}`));
      outcome.replaceChildren(h('div', { class: 'notice ok', role: 'status' },
        h('p', {}, `Replayed ${res.data.replayed} of ${ids.length}.`), h('ul', {}, lines)));
      announce(`Replayed ${res.data.replayed} of ${ids.length}`);
    } catch (err) {
      outcome.replaceChildren(h('div', { class: 'notice error', role: 'alert' }, `Replay failed: ${describeError(err)}`));
    }
    outcome.focus();
    selected.clear();
    load();
  });

  load();
  async function load() {
    let res;
    try {
      res = await api('GET', `/api/dlq${query({ type, page, limit: LIMIT })}`);
    } catch (err) {
      results.replaceChildren(h('div', { class: 'notice error', role: 'alert' }, describeError(err)));
      return;
    }
    const { notifications, pagination, queueDepth } = res.data;
    const all = h('input', { type: 'checkbox', id: 'select-all', 'aria-label': 'Select every notification on this page' });
    const boxes = [];
    const rows = notifications.map((n) => {
      const box = h('input', { type: 'checkbox', value: n._id, id: `sel-${n._id}`, 'aria-label': `Select ${n.type} to ${n.recipient} (${n._id})` });
      box.addEventListener('change', () => {
        if (box.checked) selected.add(n._id); else selected.delete(n._id);
        all.checked = boxes.every((b) => b.checked);
        updateSelection();
      });
      boxes.push(box);
      return h('tr', { 'data-id': n._id },
        h('td', {}, box),
        h('td', {}, h('a', { href: `#/notifications/${n._id}`, class: 'mono' }, n._id)),
        h('td', {}, n.type),
        h('td', { class: 'mono' }, n.recipient),
        h('td', { class: 'reason' }, n.error || '—'),
        h('td', { class: 'num' }, String(n.retryCount)),
        h('td', { class: 'hide-narrow' }, formatDate(n.failedAt)));
    });
    all.addEventListener('change', () => {
      for (const b of boxes) {
        b.checked = all.checked;
        if (all.checked) selected.add(b.value); else selected.delete(b.value);
      }
      updateSelection();
    });
    const role = principal() ? principal().role : '';
    const pageButton = (p, label) => h('button', {
      type: 'button', class: 'secondary', disabled: p < 1 || p > Math.max(1, pagination.totalPages),
      onclick: () => { location.hash = `#/dlq${query({ type, page: p })}`; },
    }, label);
    results.replaceChildren(
      h('p', {}, `${pagination.totalItems} failed notifications. `,
        h('span', { class: 'muted' }, `Messages in the broker's dead-letter queue (every tenant): ${queueDepth === null ? 'unknown' : queueDepth}.`)),
      ...(notifications.length === 0 ? [h('p', { id: 'dlq-empty' }, 'Nothing has failed.')] : [
        h('div', { class: 'toolbar' }, replay,
          h('label', { for: 'keep-attempts', class: 'choices' }, keep, ' Keep the attempts made'), count),
        mayReplay() ? null : h('p', { class: 'notice' }, `A ${role} key may not replay; an admin or operator key may.`),
        tableWrap('Failed notifications', h('table', {},
          h('caption', { class: 'visually-hidden' }, 'Failed notifications with their reason'),
          h('thead', {}, h('tr', {},
            h('th', { scope: 'col' }, all),
            h('th', { scope: 'col' }, 'ID'), h('th', { scope: 'col' }, 'Type'), h('th', { scope: 'col' }, 'Recipient'),
            h('th', { scope: 'col' }, 'Reason'), h('th', { scope: 'col', class: 'num' }, 'Retries'),
            h('th', { scope: 'col', class: 'hide-narrow' }, 'Failed at'))),
          h('tbody', {}, rows))),
        h('nav', { class: 'toolbar', 'aria-label': 'Pages' }, pageButton(page - 1, 'Previous page'),
          h('span', {}, `Page ${pagination.currentPage} of ${Math.max(1, pagination.totalPages)}`), pageButton(page + 1, 'Next page')),
      ].filter((el) => el !== null)));
    updateSelection();
  }
}
