// API keys: the tenant's keys with their last use, their counts of the last
// 30 days and whether they are stale, and a chart of the tenant's usage per
// day (GET /api/keys, GET /api/usage; admin keys only).
import { api, query } from './api.js';
import { h, formatDate, formatNumber, describeError, tableWrap } from './ui.js';
import { dailyChart } from './chart.js';

const DAYS = 30;

function dayText(date) {
  return date.toISOString().slice(0, 10);
}

// One entry per day of the range, summed over the keys: accepted and refused.
function perDay(rows, from, n) {
  const days = [];
  for (let i = 0; i < n; i++) {
    const d = new Date(from.getTime() + i * 86400000);
    days.push({ day: dayText(d), accepted: 0, refused: 0 });
  }
  const index = new Map(days.map((d, i) => [d.day, i]));
  for (const row of rows) {
    const i = index.get(row.day);
    if (i === undefined) continue;
    days[i].accepted += Object.values(row.accepted).reduce((a, b) => a + b, 0);
    days[i].refused += Object.values(row.refused).reduce((a, b) => a + b, 0);
  }
  return days;
}

export function render(main) {
  const chart = h('div', { id: 'usage-chart', class: 'chart' }, h('p', { class: 'muted' }, 'Loading…'));
  const table = h('div', { id: 'keys-table' }, h('p', { class: 'muted' }, 'Loading…'));
  main.append(h('h1', {}, 'API keys'),
    h('p', { class: 'hint' }, 'Counts reach this page within a few seconds of the traffic. A stale key is older than 30 days and unused for 30: it can be revoked without anyone noticing.'),
    h('h2', {}, `Usage per day (last ${DAYS} days, UTC)`), chart,
    h('h2', {}, 'Keys'), table);
  load();

  async function load() {
    const to = new Date();
    const from = new Date(Date.UTC(to.getUTCFullYear(), to.getUTCMonth(), to.getUTCDate()) - (DAYS - 1) * 86400000);
    try {
      const [keys, usage] = await Promise.all([
        api('GET', '/api/keys'),
        api('GET', `/api/usage${query({ from: dayText(from), to: dayText(to) })}`),
      ]);
      const days = perDay(usage.data.days, from, DAYS);
      chart.replaceChildren(dailyChart(days),
        h('ul', { class: 'legend' },
          h('li', {}, h('span', { class: 'swatch accepted', 'aria-hidden': 'true' }), 'accepted'),
          h('li', {}, h('span', { class: 'swatch refused', 'aria-hidden': 'true' }), 'refused')),
        h('p', { class: 'muted', id: 'usage-totals' },
          `${formatNumber(days.reduce((a, d) => a + d.accepted, 0))} accepted, ${formatNumber(days.reduce((a, d) => a + d.refused, 0))} refused`));
      renderKeys(keys.data);
    } catch (err) {
      const message = err.status === 403 ? 'Only admin keys may see the API keys and their usage.' : describeError(err);
      chart.replaceChildren(h('div', { class: 'notice error', role: 'alert' }, message));
      table.replaceChildren();
    }
  }

  function renderKeys(data) {
    const rows = data.keys.map((k) => h('tr', { 'data-hint': k.hint },
      h('td', { class: 'mono' }, h('a', { href: `#/notifications?apiKey=${encodeURIComponent(k.hint)}`, 'aria-label': `Notifications sent with key ${k.hint}` }, k.hint)),
      h('td', {}, k.role),
      h('td', {}, k.name || '—'),
      h('td', {}, k.revoked ? 'revoked' : k.stale ? 'stale' : 'active'),
      h('td', {}, k.lastUsedAt ? formatDate(k.lastUsedAt) : 'never'),
      h('td', { class: 'mono' }, k.lastUsedFrom || '—'),
      h('td', { class: 'num' }, formatNumber(k.requests30d)),
      h('td', { class: 'num' }, formatNumber(k.accepted30d)),
      h('td', { class: 'num' }, formatNumber(k.refused30d))));
    const head = h('thead', {}, h('tr', {}, ['Key', 'Role', 'Name', 'State', 'Last used', 'From', 'Requests (30 d)', 'Accepted (30 d)', 'Refused (30 d)']
      .map((t) => h('th', { scope: 'col' }, t))));
    table.replaceChildren(
      h('p', { id: 'stale-count' }, `${data.staleKeys} stale ${data.staleKeys === 1 ? 'key' : 'keys'}`),
      tableWrap('API keys', h('table', { id: 'keys' }, head, h('tbody', {}, rows))));
  }
  return null;
}
