// One notification: its fields, the provider's answer, the audit trail as a
// timeline and the whole document; cancel while no worker has taken it.
// Refreshes every two seconds until the notification is settled.
import { api, mayWrite } from './api.js';
import { h, badge, formatDate, formatMs, describeError, announce } from './ui.js';

const REFRESH_MS = 2000;
const SETTLED = ['SENT', 'FAILED', 'CANCELLED', 'SUPPRESSED'];
const CANCELLABLE = ['SCHEDULED', 'PENDING', 'QUEUED', 'RETRYING'];

function fieldList(pairs) {
  return h('dl', { class: 'doc' }, pairs
    .filter(([, value]) => value !== undefined && value !== null && value !== '')
    .map(([label, value, id]) => [h('dt', {}, label), h('dd', { id }, value)]));
}

export function render(main, params, id) {
  let timer = null;
  let lastKey = '';
  const heading = h('h1', {}, 'Notification ', h('span', { class: 'mono' }, id));
  const statusLine = h('p', { id: 'detail-status' });
  const error = h('div', {});
  const summary = h('section', { 'aria-labelledby': 'h-summary' }, h('h2', { id: 'h-summary' }, 'Summary'));
  const provider = h('section', { 'aria-labelledby': 'h-provider' }, h('h2', { id: 'h-provider' }, 'Provider response'));
  const trail = h('section', { 'aria-labelledby': 'h-trail' }, h('h2', { id: 'h-trail' }, 'Audit trail'));
  const raw = h('section', { 'aria-labelledby': 'h-doc' }, h('h2', { id: 'h-doc' }, 'Document'));
  const cancelBox = h('div', { id: 'cancel-box' });
  main.append(h('p', {}, h('a', { href: '#/notifications' }, '← All notifications')), heading, statusLine, error,
    cancelBox, summary, provider, trail, raw);

  let cancelShown = false;
  function showCancel(n) {
    const allowed = CANCELLABLE.includes(n.status) && mayWrite();
    if (allowed === cancelShown) {
      return;
    }
    cancelShown = allowed;
    cancelBox.replaceChildren();
    if (!allowed) {
      return;
    }
    const reason = h('input', { id: 'cancel-reason', name: 'reason', maxlength: '200', 'aria-describedby': 'cancel-hint' });
    const form = h('form', { 'aria-labelledby': 'h-cancel', novalidate: true },
      h('h2', { id: 'h-cancel' }, 'Cancel'),
      h('div', { class: 'field' }, h('label', { for: 'cancel-reason' }, 'Reason (optional)'), reason,
        h('p', { class: 'hint', id: 'cancel-hint' }, 'Possible until a worker takes the notification.')),
      h('button', { type: 'submit', class: 'danger', id: 'cancel-button' }, 'Cancel notification'));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      try {
        const body = reason.value.trim() === '' ? undefined : { reason: reason.value.trim() };
        await api('POST', `/api/notifications/${id}/cancel`, body);
        announce('Notification cancelled');
      } catch (err) {
        error.replaceChildren(h('div', { class: 'notice error', role: 'alert' }, `Not cancelled: ${describeError(err)}`));
      }
      load();
    });
    cancelBox.append(form);
  }

  function show(n, logs) {
    statusLine.replaceChildren('Status: ', badge(n.status));
    statusLine.dataset.status = n.status;
    summary.replaceChildren(summary.firstChild, fieldList([
      ['Type', n.type], ['Recipient', n.recipient], ['Subject', n.subject], ['Title', n.title],
      ['Platform', n.platform], ['Priority', n.priority],
      ['Attempts', `${n.retryCount} of at most ${n.maxRetries} retries`],
      ['Created', formatDate(n.createdAt)], ['Scheduled for', n.scheduledAt && formatDate(n.scheduledAt)],
      ['Updated', formatDate(n.updatedAt)], ['Correlation id', n.correlationId],
      // A delivery of an event: the event shows its other endpoints' deliveries.
      ['Event', n.eventId && h('a', { href: `#/events/${encodeURIComponent(n.eventId)}`, class: 'mono', id: 'detail-event' }, n.eventId)],
      ['Endpoint', n.endpointId && h('a', { href: `#/endpoints/${n.endpointId}`, class: 'mono' }, n.endpointId)],
    ]));
    provider.replaceChildren(provider.firstChild, fieldList([
      ['Provider message id', n.providerMessageId, 'provider-message-id'],
      ['Error', n.error, 'provider-error'],
      ['Processing time', n.processingTimeMs !== undefined && n.processingTimeMs !== null ? formatMs(n.processingTimeMs) : null],
      ['Sent', n.sentAt && formatDate(n.sentAt)],
      ['Failed', n.failedAt && formatDate(n.failedAt)],
    ]), ...(n.providerMessageId || n.error ? [] : [h('p', { class: 'muted' }, SETTLED.includes(n.status) ? 'No provider was asked.' : 'No provider answer yet.')]));
    trail.replaceChildren(trail.firstChild, h('ol', { class: 'timeline', id: 'timeline' }, logs.map((e) => h('li', {},
      h('div', {}, badge(e.status), ' ', e.message || ''),
      h('div', { class: 'when' }, h('time', { datetime: e.timestamp || e.createdAt }, formatDate(e.timestamp || e.createdAt)),
        e.actor ? ` · ${e.actor}` : '')))));
    raw.replaceChildren(raw.firstChild, h('pre', { tabindex: '0', 'aria-label': 'Notification document as JSON' },
      JSON.stringify(n, null, 2)));
    showCancel(n);
  }

  async function load() {
    window.clearTimeout(timer);
    let settled = false;
    try {
      const res = await api('GET', `/api/notifications/${id}`);
      const { notification, logs } = res.data;
      const key = `${notification.status}:${logs.length}:${notification.updatedAt}`;
      if (key !== lastKey) {
        if (lastKey !== '') {
          announce(`Status ${notification.status}`);
        }
        lastKey = key;
        show(notification, logs);
      }
      error.replaceChildren();
      settled = SETTLED.includes(notification.status);
    } catch (err) {
      error.replaceChildren(h('div', { class: 'notice error', role: 'alert' }, describeError(err)));
      settled = err.status === 404 || err.status === 400;
    }
    if (!settled && main.isConnected) {
      timer = window.setTimeout(load, REFRESH_MS);
    }
  }

  load();
  return () => window.clearTimeout(timer);
}
