// Overview: totals by status, type and priority, the last hour's throughput,
// success rate, processing times, queue depths and each worker host's circuit
// breakers, refreshed every few seconds (pausable, for readers who need the
// page to hold still).
import { api } from './api.js';
import { throughputChart } from './chart.js';
import { h, clear, formatDate, formatMs, formatNumber, describeError, tableWrap, STATUSES, TYPES, PRIORITIES } from './ui.js';

const REFRESH_MS = 5000;

const QUEUES = [
  ['high_priority', 'High priority (CRITICAL, HIGH)'],
  ['notifications', 'Standard (MEDIUM, LOW)'],
  ['retry', 'Retry tiers (all delays)'],
  ['notifications_dlq', 'Dead-letter queue'],
];

function card(id, label) {
  return h('div', { class: 'card' }, h('div', { class: 'label', id: `${id}-label` }, label),
    h('div', { class: 'value', id }, '…'));
}

function countTable(caption, prefix, names) {
  return tableWrap(caption, h('table', {},
    h('caption', {}, caption),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col', class: 'num' }, 'Count'))),
    h('tbody', {}, names.map(([key, label]) => h('tr', {},
      h('th', { scope: 'row' }, label), h('td', { class: 'num', id: `${prefix}-${key}` }, '…'))))));
}

const BREAKER_STATES = {
  closed: 'Closed (calls go through)',
  open: 'Open (calls refused)',
  'half-open': 'Half-open (one probe allowed)',
};

function ago(ms) {
  return ms < 1000 ? 'just now' : `${formatNumber(Math.round(ms / 1000))} s ago`;
}

// One table per worker host: each provider's breaker state in words (the
// badge's colour only repeats it), and whether the host's report is fresh.
function breakerTable(host) {
  const caption = host.stale
    ? `Host ${host.id}: STALE, last report ${ago(host.ageMs)} (its states may no longer hold)`
    : `Host ${host.id}: reported ${ago(host.ageMs)}`;
  return tableWrap(`Circuit breakers of ${host.id}`, h('table', { class: host.stale ? 'stale' : null, 'data-host': host.id },
    h('caption', {}, caption),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Provider'), h('th', { scope: 'col' }, 'State'),
      h('th', { scope: 'col' }, 'Since'))),
    h('tbody', {}, host.breakers.map((b) => h('tr', { 'data-breaker': b.name },
      h('th', { scope: 'row' }, b.name),
      h('td', {}, h('span', { class: `badge breaker-${b.state}` }, BREAKER_STATES[b.state] || b.state)),
      h('td', {}, b.since ? formatDate(b.since) : '—'))))));
}

function set(id, text) {
  const el = document.getElementById(id);
  if (el !== null) {
    el.textContent = text;
  }
}

export function render(main) {
  let paused = false;
  let timer = null;
  const status = h('p', { class: 'muted', id: 'overview-updated' }, 'Loading…');
  const error = h('div', {});
  const chart = h('div', { class: 'chart', id: 'throughput-chart' });
  const breakers = h('div', { id: 'breakers' });
  const pause = h('button', { type: 'button', class: 'secondary', id: 'pause-refresh', 'aria-pressed': 'false' }, 'Pause auto-refresh');
  pause.addEventListener('click', () => {
    paused = !paused;
    pause.setAttribute('aria-pressed', String(paused));
    pause.textContent = paused ? 'Resume auto-refresh' : 'Pause auto-refresh';
    if (!paused) {
      refresh();
    }
  });

  main.append(
    h('h1', {}, 'Overview'),
    h('div', { class: 'toolbar' }, pause, status),
    error,
    h('section', { 'aria-labelledby': 'h-totals' },
      h('h2', { id: 'h-totals' }, 'Totals'),
      h('div', { class: 'cards' },
        card('total-all', 'All notifications'),
        card('total-SENT', 'Sent'),
        card('total-FAILED', 'Failed'),
        card('total-SUPPRESSED', 'Suppressed'),
        card('success-rate', 'Success rate'),
        card('avg-time', 'Average processing, last hour'),
        card('p95-time', 'p95 processing, last hour'))),
    h('section', { 'aria-labelledby': 'h-throughput' },
      h('h2', { id: 'h-throughput' }, 'Throughput, last hour (per minute)'),
      chart,
      h('ul', { class: 'legend' },
        h('li', {}, h('span', { class: 'swatch created' }), 'created'),
        h('li', {}, h('span', { class: 'swatch sent' }), 'sent'),
        h('li', {}, h('span', { class: 'swatch failed' }), 'failed (dashed)'))),
    h('section', { 'aria-labelledby': 'h-breakdown' },
      h('h2', { id: 'h-breakdown' }, 'By status, type and priority'),
      h('div', { class: 'grid-2' },
        countTable('By status', 'status', STATUSES.map((s) => [s, s])),
        countTable('By type', 'type', TYPES.map((t) => [t, t])),
        countTable('By priority', 'priority', PRIORITIES.map((p) => [p, p])))),
    h('section', { 'aria-labelledby': 'h-queues' },
      h('h2', { id: 'h-queues' }, 'Queues'),
      countTable('Messages waiting per queue', 'queue', QUEUES)),
    h('section', { 'aria-labelledby': 'h-breakers' },
      h('h2', { id: 'h-breakers' }, 'Circuit breakers'),
      h('p', { class: 'hint' }, 'Per worker host, as each host last reported them. Webhook breakers (one per hashed target host) are listed only while not closed.'),
      breakers));

  async function refresh() {
    window.clearTimeout(timer);
    try {
      const [stats, tp, workers] = await Promise.all([
        api('GET', '/api/notifications/stats/system', undefined, { maxAge: true }),
        api('GET', '/api/notifications/stats/throughput', undefined, { maxAge: true }),
        api('GET', '/api/workers'),
      ]);
      show(stats.data, tp.data);
      showBreakers(workers.data);
      clear(error);
      status.textContent = `Updated ${new Date().toLocaleTimeString()}`;
    } catch (err) {
      clear(error);
      error.append(h('div', { class: 'notice error' }, `Could not refresh: ${describeError(err)}`));
    }
    if (!paused && main.isConnected) {
      timer = window.setTimeout(refresh, REFRESH_MS);
    }
  }

  function show(stats, tp) {
    set('total-all', formatNumber(stats.total));
    set('total-SENT', formatNumber(stats.byStatus.SENT));
    set('total-FAILED', formatNumber(stats.byStatus.FAILED));
    set('total-SUPPRESSED', formatNumber(stats.byStatus.SUPPRESSED));
    set('success-rate', stats.successRate === null ? '—' : `${stats.successRate} %`);
    set('avg-time', formatMs(stats.averageProcessingTime));
    set('p95-time', formatMs(tp.processingTime.p95Ms));
    for (const s of STATUSES) set(`status-${s}`, formatNumber(stats.byStatus[s]));
    for (const t of TYPES) set(`type-${t}`, formatNumber(stats.byType[t]));
    for (const p of PRIORITIES) set(`priority-${p}`, formatNumber(stats.byPriority[p]));
    for (const [q] of QUEUES) set(`queue-${q}`, formatNumber(stats.queueDepth[q]));
    clear(chart);
    chart.append(throughputChart(tp));
    if (tp.truncated) {
      chart.append(h('p', { class: 'hint' }, 'More notifications changed this hour than the chart reads; it shows a part.'));
    }
  }

  function showBreakers(data) {
    clear(breakers);
    if (data.hosts.length === 0) {
      breakers.append(h('p', { class: 'muted' }, 'No worker host has reported its breakers yet.'));
      return;
    }
    for (const host of data.hosts) {
      breakers.append(breakerTable(host));
    }
  }

  refresh();
  return () => window.clearTimeout(timer);
}
