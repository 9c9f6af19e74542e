// Small DOM helpers. Text always goes in as text (never as HTML), so no value
// from a notification can become markup.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) {
      continue;
    }
    if (name.startsWith('on') && typeof value === 'function') {
      el.addEventListener(name.slice(2), value);
    } else if (name === 'class') {
      el.className = value;
    } else {
      el.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) {
      continue;
    }
    if (Array.isArray(child)) {
      append(el, child);
    } else if (child instanceof Node) {
      el.appendChild(child);
    } else {
      el.appendChild(document.createTextNode(String(child)));
    }
  }
}

export function clear(el) {
  while (el.firstChild) {
    el.removeChild(el.firstChild);
  }
}

// Tells screen-reader users what just happened.
export function announce(text) {
  const region = document.getElementById('announcer');
  region.textContent = '';
  window.setTimeout(() => { region.textContent = text; }, 50);
}

export function formatDate(iso) {
  if (!iso) {
    return '—';
  }
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString();
}

export function formatNumber(n) {
  return n === null || n === undefined ? '—' : Number(n).toLocaleString();
}

export function formatMs(ms) {
  if (ms === null || ms === undefined) {
    return '—';
  }
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms} ms`;
}

export function badge(status) {
  return h('span', { class: `badge ${status}` }, status);
}

export function notice(text, kind) {
  return h('div', { class: `notice ${kind || ''}`, role: kind === 'error' ? 'alert' : null }, text);
}

// A signing secret the API shows this once: kept only in this element, never
// stored, so leaving the page forgets it.
export function secretOnce(secret, heading) {
  const code = h('code', { id: 'endpoint-secret', class: 'mono' }, secret);
  const copied = h('span', { role: 'status' });
  const copy = h('button', {
    type: 'button', class: 'secondary', id: 'copy-secret',
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(secret);
        copied.textContent = 'Copied.';
      } catch (err) {
        copied.textContent = 'The browser refused; select the secret and copy it by hand.';
      }
    },
  }, 'Copy secret');
  return h('div', { class: 'notice ok secret', id: 'secret-box', tabindex: '-1' },
    h('p', {}, h('strong', {}, heading)),
    h('p', {}, 'Copy it now: WaveCom shows this secret only once. Receivers check each delivery\'s signature with it.'),
    h('p', {}, code),
    h('div', { class: 'toolbar' }, copy, copied));
}

// A message for an ApiError or any other failure.
export function describeError(err) {
  if (err && err.status === 403) {
    return `Not allowed: ${err.message}`;
  }
  if (err && err.status === 503) {
    return `The service is unavailable right now (${err.message}). It will be retried.`;
  }
  return err && err.message ? err.message : String(err);
}

// A horizontally scrollable region for a wide table, reachable by keyboard.
export function tableWrap(label, table) {
  return h('div', { class: 'table-wrap', role: 'region', 'aria-label': label, tabindex: '0' }, table);
}

// An event id as GET /api/events/:eventId takes it: only characters a URL path carries as they are.
export const EVENT_ID = /^[A-Za-z0-9_.:-]{1,128}$/;

export const STATUSES = ['SCHEDULED', 'PENDING', 'QUEUED', 'PROCESSING', 'RETRYING', 'SENT', 'FAILED', 'CANCELLED', 'SUPPRESSED'];
export const TYPES = ['EMAIL', 'SMS', 'PUSH', 'WEBHOOK'];
export const PRIORITIES = ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'];
