// One published event: its type, payload and fan-out, and where each matched
// endpoint's delivery stands, each linking to the delivery's page (whose trail
// shows what every attempt was answered). Refreshes every two seconds until
// every delivery is settled.
import { api } from './api.js';
import { h, badge, formatDate, describeError, tableWrap, announce } from './ui.js';

const REFRESH_MS = 2000;
const SETTLED = ['SENT', 'FAILED', 'CANCELLED', 'SUPPRESSED'];

export function render(main, params, id) {
  let timer = null;
  let lastKey = '';
  const error = h('div', {});
  const summary = h('section', { 'aria-labelledby': 'h-event-summary' }, h('h2', { id: 'h-event-summary' }, 'Summary'));
  const deliveries = h('section', { 'aria-labelledby': 'h-event-deliveries' },
    h('h2', { id: 'h-event-deliveries' }, 'Deliveries'), h('p', { class: 'muted' }, 'Loading…'));
  const payload = h('section', { 'aria-labelledby': 'h-event-payload' }, h('h2', { id: 'h-event-payload' }, 'Payload'));
  main.append(h('p', {}, h('a', { href: '#/endpoints' }, '← Endpoints')),
    h('h1', {}, 'Event ', h('span', { class: 'mono' }, id)), error, summary, deliveries, payload);

  function show(e) {
    const fanout = e.fanout === 'done'
      ? 'Done: every matched endpoint\'s delivery is stored'
      : 'Pending: the event is stored and the sweeper stores the missing deliveries';
    summary.replaceChildren(summary.firstChild, h('dl', { class: 'doc' },
      h('dt', {}, 'Type'), h('dd', { class: 'mono', id: 'event-type' }, e.type),
      h('dt', {}, 'Created'), h('dd', {}, formatDate(e.createdAt)),
      h('dt', {}, 'Fan-out'), h('dd', { id: 'event-fanout', 'data-fanout': e.fanout }, fanout),
      h('dt', {}, 'Endpoints matched'), h('dd', { id: 'event-matched' }, String(e.endpoints.length))));
    payload.replaceChildren(payload.firstChild, h('pre', { tabindex: '0', 'aria-label': 'Event payload as JSON', id: 'event-payload' },
      JSON.stringify(e.payload, null, 2)));
    const items = e.endpointDeliveries;
    if (items.length === 0) {
      deliveries.replaceChildren(deliveries.firstChild,
        h('p', { id: 'event-no-deliveries' }, 'It matched no endpoint when it was published: nothing was delivered.'));
      return;
    }
    const rows = items.map((d) => h('tr', { 'data-endpoint': d.endpointId, 'data-status': d.status || 'none' },
      h('td', {}, h('a', { href: `#/endpoints/${d.endpointId}`, class: 'mono' }, d.endpointId)),
      h('td', {}, d.status ? badge(d.status) : 'Not stored yet'),
      h('td', { class: 'num' }, d.retryCount === undefined ? '—' : String(d.retryCount)),
      h('td', { class: 'reason' }, d.error || '—'),
      h('td', { class: 'hide-narrow' }, formatDate(d.sentAt || d.failedAt || d.updatedAt)),
      h('td', {}, d.status
        ? h('a', { href: `#/notifications/${d.notificationId}`, class: 'mono', 'aria-label': `Delivery ${d.notificationId} and its attempts` }, d.notificationId)
        : h('span', { class: 'mono' }, d.notificationId))));
    deliveries.replaceChildren(deliveries.firstChild,
      tableWrap('Deliveries', h('table', { id: 'event-deliveries' },
        h('caption', { class: 'visually-hidden' }, 'Each matched endpoint\'s delivery of this event'),
        h('thead', {}, h('tr', {}, ['Endpoint', 'Status', 'Retries', 'Error', 'Settled or updated', 'Delivery']
          .map((t, i) => h('th', { scope: 'col', class: i === 2 ? 'num' : i === 4 ? 'hide-narrow' : null }, t)))),
        h('tbody', {}, rows))));
  }

  async function load() {
    window.clearTimeout(timer);
    let settled = false;
    try {
      // The router let only an id of EVENT_ID's characters through, which a path carries as they are.
      const res = await api('GET', `/api/events/${id}`);
      const e = res.data;
      const key = `${e.fanout}:${e.endpointDeliveries.map((d) => `${d.status}/${d.retryCount}`).join(',')}`;
      if (key !== lastKey) {
        if (lastKey !== '') {
          announce('The deliveries changed');
        }
        lastKey = key;
        show(e);
      }
      error.replaceChildren();
      settled = e.fanout === 'done' && e.endpointDeliveries.every((d) => SETTLED.includes(d.status));
    } catch (err) {
      error.replaceChildren(h('div', { class: 'notice error', role: 'alert' }, describeError(err)));
      settled = err.status === 404 || err.status === 400;
      if (settled) {
        deliveries.replaceChildren(deliveries.firstChild);
      }
    }
    if (!settled && main.isConnected) {
      timer = window.setTimeout(load, REFRESH_MS);
    }
  }

  load();
  return () => window.clearTimeout(timer);
}
