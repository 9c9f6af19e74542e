// One endpoint: its settings, what the workers saw of it over 24 hours, its
// recent deliveries, and the actions on it: enable or disable and rotate the
// secret (admin), replay its deliveries (admin, operator). The health and the
// deliveries refresh every five seconds while the page is open.
import { api, query, mayAdminister, mayReplay, principal } from './api.js';
import { h, badge, formatDate, formatMs, formatNumber, describeError, tableWrap, announce, secretOnce } from './ui.js';
import { stateText, rateText, batchText } from './endpoints.js';

const REFRESH_MS = 5000;
// GET /api/notifications has no filter by endpoint: the page looks among the
// tenant's newest webhook notifications, one page of the list's largest size.
const SCAN = 100;

function card(id, label, value) {
  return h('div', { class: 'card' }, h('div', { class: 'label', id: `${id}-label` }, label),
    h('div', { class: 'value', id, 'aria-labelledby': `${id}-label` }, value));
}

function fieldList(pairs) {
  return h('dl', { class: 'doc' }, pairs.map(([label, value, id]) => [h('dt', {}, label), h('dd', { id }, value)]));
}

function percent(rate) {
  return rate === null || rate === undefined ? '—' : `${Math.round(rate * 1000) / 10} %`;
}

export function render(main, params, id) {
  let timer = null;
  let endpoint = null;
  const error = h('div', {});
  const settings = h('section', { 'aria-labelledby': 'h-settings' }, h('h2', { id: 'h-settings' }, 'Settings'));
  const actions = h('section', { 'aria-labelledby': 'h-actions', id: 'endpoint-actions' });
  const health = h('section', { 'aria-labelledby': 'h-health' }, h('h2', { id: 'h-health' }, 'Health (last 24 hours)'),
    h('p', { class: 'muted' }, 'Loading…'));
  const deliveries = h('section', { 'aria-labelledby': 'h-deliveries' }, h('h2', { id: 'h-deliveries' }, 'Recent deliveries'),
    h('p', { class: 'muted' }, 'Loading…'));
  main.append(h('p', {}, h('a', { href: '#/endpoints' }, '← All endpoints')),
    h('h1', {}, 'Endpoint ', h('span', { class: 'mono' }, id)), error, settings, health, actions, deliveries);

  function showSettings(e) {
    settings.replaceChildren(settings.firstChild, fieldList([
      ['URL', h('span', { class: 'mono' }, e.url), 'endpoint-url'],
      ['Description', e.description || '—'],
      ['Event types', h('span', { class: 'mono' }, e.eventTypes.join(', '))],
      ['State', stateText(e), 'endpoint-state'],
      ['Rate limit', rateText(e.rateLimit)],
      ['Batching', batchText(e.batch), 'endpoint-batch'],
      ['Filter', e.filter ? h('pre', {}, JSON.stringify(e.filter, null, 2)) : 'None: every event of its types'],
      ['Transformation', e.transformation ? h('pre', {}, JSON.stringify(e.transformation, null, 2)) : 'None: the event\'s envelope'],
      // Names only: a header's value may be the receiver's credential.
      ['Extra headers', e.headers ? Object.keys(e.headers).join(', ') : 'None'],
      ['Previous secret valid until', e.previousSecretValidUntil ? formatDate(e.previousSecretValidUntil) : '—'],
      ['Created', formatDate(e.createdAt)], ['Updated', formatDate(e.updatedAt)],
    ]));
    settings.dataset.enabled = String(e.enabled);
    toggle.textContent = e.enabled ? 'Disable endpoint' : 'Enable endpoint';
    toggle.className = e.enabled ? 'danger' : '';
    toggle.disabled = false;
  }

  function showHealth(x) {
    const l = x.latencyMs;
    health.replaceChildren(health.firstChild,
      h('div', { class: 'cards' },
        card('health-attempts', 'Attempts', formatNumber(x.attempts)),
        card('health-delivered', 'Delivered', formatNumber(x.delivered)),
        card('health-failed', 'Failed', formatNumber(x.failed)),
        card('health-success-rate', 'Success rate', percent(x.successRate))),
      h('h3', {}, 'Latency of the requests that reached it'),
      l === null ? h('p', { id: 'health-latency', class: 'muted' }, 'No request has reached it.')
        : h('div', { class: 'cards', id: 'health-latency' },
          card('latency-average', 'Average', formatMs(l.average)), card('latency-p50', 'p50', formatMs(l.p50)),
          card('latency-p95', 'p95', formatMs(l.p95)), card('latency-p99', 'p99', formatMs(l.p99))),
      h('h3', {}, 'Last outcomes'),
      fieldList([
        ['Last success', formatDate(x.lastSuccessAt), 'health-last-success'],
        ['Last failure', formatDate(x.lastFailureAt), 'health-last-failure'],
        ['Last error', x.lastError || '—', 'health-last-error'],
        ['Failing since', x.failingSince ? formatDate(x.failingSince) : 'Not failing', 'health-failing-since'],
        ['Disabled automatically at', x.disablesAt ? formatDate(x.disablesAt) : '—', 'health-disables-at'],
      ]));
    health.dataset.attempts = String(x.attempts);
    health.dataset.failed = String(x.failed);
  }

  function showDeliveries(items) {
    const note = h('p', { class: 'hint' },
      `Among the tenant's ${SCAN} newest webhook notifications; an older delivery is found through its event. `,
      'Each delivery\'s page shows what every attempt was answered.');
    if (items.length === 0) {
      deliveries.replaceChildren(deliveries.firstChild, note, h('p', { id: 'deliveries-empty' }, 'None of them went to this endpoint.'));
      return;
    }
    const rows = items.map((n) => h('tr', { 'data-id': n._id, 'data-status': n.status },
      h('td', {}, h('a', { href: `#/notifications/${n._id}`, class: 'mono', 'aria-label': `Delivery ${n._id}` }, n._id)),
      h('td', {}, n.eventId ? h('a', { href: `#/events/${encodeURIComponent(n.eventId)}`, class: 'mono' }, n.eventId) : '—'),
      h('td', {}, badge(n.status)),
      h('td', { class: 'num' }, String(n.retryCount || 0)),
      h('td', { class: 'reason' }, n.error || (n.status === 'SENT' ? 'Accepted (2xx)' : '—')),
      h('td', { class: 'hide-narrow' }, formatDate(n.updatedAt || n.createdAt))));
    deliveries.replaceChildren(deliveries.firstChild, note,
      tableWrap('Recent deliveries', h('table', { id: 'endpoint-deliveries' },
        h('caption', { class: 'visually-hidden' }, 'This endpoint\'s recent deliveries, newest first'),
        h('thead', {}, h('tr', {}, ['Delivery', 'Event', 'Status', 'Retries', 'Last answer', 'Updated']
          .map((t, i) => h('th', { scope: 'col', class: i === 3 ? 'num' : i === 5 ? 'hide-narrow' : null }, t)))),
        h('tbody', {}, rows))));
  }

  // --- the actions ---
  const actionOutcome = h('div', { id: 'action-outcome', tabindex: '-1' });
  const toggle = h('button', { type: 'button', id: 'endpoint-toggle', disabled: true }, 'Disable endpoint');
  const rotate = h('button', { type: 'button', class: 'secondary', id: 'endpoint-rotate' }, 'Rotate secret');
  toggle.addEventListener('click', async () => {
    const enabled = !endpoint.enabled;
    toggle.disabled = true;
    try {
      const res = await api('PATCH', `/api/endpoints/${id}`, { enabled });
      endpoint = res.data;
      showSettings(endpoint);
      actionOutcome.replaceChildren(h('div', { class: 'notice ok', role: 'status' },
        enabled ? 'Enabled: events published from now on reach it again.' : 'Disabled: it matches no event until it is enabled.'));
      announce(enabled ? 'Endpoint enabled' : 'Endpoint disabled');
    } catch (err) {
      actionOutcome.replaceChildren(h('div', { class: 'notice error', role: 'alert' }, `Not changed: ${describeError(err)}`));
    }
    toggle.disabled = false;
  });
  rotate.addEventListener('click', async () => {
    rotate.disabled = true;
    try {
      const res = await api('POST', `/api/endpoints/${id}/rotate-secret`);
      endpoint = res.data;
      showSettings(endpoint);
      actionOutcome.replaceChildren(secretOnce(res.data.secret, 'New signing secret'),
        h('p', { class: 'hint' }, 'Until ', formatDate(res.data.previousSecretValidUntil),
          ' every delivery is signed with both secrets, so the receiver can switch to the new one meanwhile.'));
      announce('Secret rotated; copy the new one now');
    } catch (err) {
      actionOutcome.replaceChildren(h('div', { class: 'notice error', role: 'alert' }, `Not rotated: ${describeError(err)}`));
    }
    rotate.disabled = false;
    actionOutcome.focus();
  });

  function replayForm() {
    const since = h('input', { type: 'datetime-local', id: 'replay-since', name: 'since', 'aria-describedby': 'replay-since-hint' });
    const failed = h('input', { type: 'radio', name: 'replay-status', value: 'FAILED', id: 'replay-failed', checked: true });
    const all = h('input', { type: 'radio', name: 'replay-status', value: 'ALL', id: 'replay-all' });
    const submit = h('button', { type: 'submit', id: 'replay-endpoint' }, 'Replay');
    const form = h('form', { novalidate: true, 'aria-labelledby': 'h-replay' },
      h('h3', { id: 'h-replay' }, 'Replay'),
      h('fieldset', {}, h('legend', {}, 'Which deliveries'),
        h('div', { class: 'choices' },
          h('label', {}, failed, 'The failed ones, under their own webhook-id'),
          h('label', {}, all, 'All since the time below (sent ones again as new deliveries)'))),
      h('div', { class: 'field' }, h('label', { for: 'replay-since' }, 'Since (your local time)'), since,
        h('p', { class: 'hint', id: 'replay-since-hint' },
          'Required for all. For the failed ones it keeps those created since then; empty, every failed one.')),
      submit);

    async function send(body) {
      submit.disabled = true;
      try {
        const res = await api('POST', `/api/endpoints/${id}/replay`, body);
        const d = res.data;
        const more = d.more
          ? h('button', { type: 'button', class: 'secondary', id: 'replay-continue',
            onclick: () => send({ ...body, since: d.continueSince }) }, `Continue from ${formatDate(d.continueSince)}`)
          : null;
        actionOutcome.replaceChildren(h('div', { class: 'notice ok', role: 'status', id: 'replay-result' },
          h('p', {}, `${d.replayed} replayed, ${d.resent} resent, ${d.notSent} not sent.`),
          d.more ? h('p', {}, 'More deliveries remain (at most 500 a request).') : null, more));
        announce(`${d.replayed} replayed, ${d.resent} resent, ${d.notSent} not sent`);
        load();
      } catch (err) {
        actionOutcome.replaceChildren(h('div', { class: 'notice error', role: 'alert' }, `Not replayed: ${describeError(err)}`));
      }
      submit.disabled = false;
      actionOutcome.focus();
    }

    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const body = { status: all.checked ? 'ALL' : 'FAILED' };
      // datetime-local has no zone: read as the browser's local time.
      if (since.value !== '') {
        const d = new Date(since.value);
        body.since = Number.isNaN(d.getTime()) ? since.value : d.toISOString();
      }
      send(body);
    });
    return form;
  }

  const role = principal() ? principal().role : '';
  actions.append(h('h2', { id: 'h-actions' }, 'Actions'), actionOutcome);
  if (mayAdminister()) {
    actions.append(h('div', { class: 'toolbar' }, toggle, rotate));
  } else {
    actions.append(h('p', { class: 'notice' }, `A ${role} key may not disable, enable or rotate; an admin key may.`));
  }
  if (mayReplay()) {
    actions.append(replayForm());
  } else {
    actions.append(h('p', { class: 'notice' }, `A ${role} key may not replay; an admin or operator key may.`));
  }

  async function load() {
    window.clearTimeout(timer);
    try {
      const [e, x, list] = await Promise.all([
        api('GET', `/api/endpoints/${id}`),
        api('GET', `/api/endpoints/${id}/health`),
        api('GET', `/api/notifications${query({ type: 'WEBHOOK', limit: SCAN })}`),
      ]);
      endpoint = e.data;
      showSettings(endpoint);
      showHealth(x.data);
      showDeliveries(list.data.notifications.filter((n) => n.endpointId === id));
      error.replaceChildren();
    } catch (err) {
      error.replaceChildren(h('div', { class: 'notice error', role: 'alert' }, describeError(err)));
      if (err.status === 404 || err.status === 400) {
        return;
      }
    }
    if (main.isConnected) {
      timer = window.setTimeout(load, REFRESH_MS);
    }
  }

  load();
  return () => window.clearTimeout(timer);
}
