// The throughput chart: created, sent and failed per minute over the last
// hour, drawn as SVG lines. A text summary beside it carries the same
// information for screen readers.
const SVG = 'http://www.w3.org/2000/svg';
const WIDTH = 640;
const HEIGHT = 200;
const PAD = { left: 40, right: 10, top: 10, bottom: 24 };

function s(tag, attrs) {
  const el = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) {
    el.setAttribute(name, String(value));
  }
  return el;
}

function niceMax(max) {
  if (max <= 5) {
    return 5;
  }
  const step = 10 ** Math.floor(Math.log10(max));
  return Math.ceil(max / step) * step;
}

export function throughputChart(data) {
  const series = ['created', 'sent', 'failed'];
  const n = data.created.length;
  const max = niceMax(Math.max(1, ...series.flatMap((name) => data[name])));
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const x = (i) => PAD.left + (n <= 1 ? 0 : (i * plotW) / (n - 1));
  const y = (v) => PAD.top + plotH - (v * plotH) / max;

  const svg = s('svg', { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: 'img', 'aria-labelledby': 'chart-title', focusable: 'false' });
  const title = s('title', { id: 'chart-title' });
  const totals = series.map((name) => `${data[name].reduce((a, b) => a + b, 0)} ${name}`);
  title.textContent = `Notifications per minute over the last hour: ${totals.join(', ')}`;
  svg.appendChild(title);
  for (const frac of [0, 0.5, 1]) {
    const v = max * frac;
    svg.appendChild(s('line', { class: frac === 0 ? 'axis' : 'grid', x1: PAD.left, x2: WIDTH - PAD.right, y1: y(v), y2: y(v) }));
    const label = s('text', { x: PAD.left - 6, y: y(v) + 4, 'text-anchor': 'end' });
    label.textContent = String(v);
    svg.appendChild(label);
  }
  const labels = [[0, '−60 min'], [Math.floor((n - 1) / 2), '−30 min'], [n - 1, 'now']];
  for (const [i, text] of labels) {
    const label = s('text', { x: x(i), y: HEIGHT - 6, 'text-anchor': i === 0 ? 'start' : i === n - 1 ? 'end' : 'middle' });
    label.textContent = text;
    svg.appendChild(label);
  }
  for (const name of series) {
    const points = data[name].map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    svg.appendChild(s('polyline', { class: name, points }));
  }
  return svg;
}

// Usage per day: accepted and refused as bars, one pair per day.
export function dailyChart(days) {
  const n = days.length;
  const max = niceMax(Math.max(1, ...days.map((d) => Math.max(d.accepted, d.refused))));
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const slot = plotW / Math.max(1, n);
  const y = (v) => PAD.top + plotH - (v * plotH) / max;
  const svg = s('svg', { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: 'img', 'aria-labelledby': 'daily-title', focusable: 'false' });
  const title = s('title', { id: 'daily-title' });
  const accepted = days.reduce((a, d) => a + d.accepted, 0);
  const refused = days.reduce((a, d) => a + d.refused, 0);
  title.textContent = `Notifications accepted and requests refused per day over ${n} days: ${accepted} accepted, ${refused} refused`;
  svg.appendChild(title);
  for (const frac of [0, 0.5, 1]) {
    const v = max * frac;
    svg.appendChild(s('line', { class: frac === 0 ? 'axis' : 'grid', x1: PAD.left, x2: WIDTH - PAD.right, y1: y(v), y2: y(v) }));
    const label = s('text', { x: PAD.left - 6, y: y(v) + 4, 'text-anchor': 'end' });
    label.textContent = String(v);
    svg.appendChild(label);
  }
  days.forEach((d, i) => {
    const x = PAD.left + i * slot;
    const w = Math.max(1, slot / 2 - 1);
    svg.appendChild(s('rect', { class: 'accepted', 'data-day': d.day, x, y: y(d.accepted), width: w, height: y(0) - y(d.accepted) }));
    svg.appendChild(s('rect', { class: 'refused', 'data-day': d.day, x: x + w, y: y(d.refused), width: w, height: y(0) - y(d.refused) }));
  });
  for (const [i, anchor] of [[0, 'start'], [n - 1, 'end']]) {
    const label = s('text', { x: PAD.left + (i + (anchor === 'end' ? 1 : 0)) * slot, y: HEIGHT - 6, 'text-anchor': anchor });
    label.textContent = days[i] ? days[i].day : '';
    svg.appendChild(label);
  }
  return svg;
}
