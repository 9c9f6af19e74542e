// The dashboard's shell: sign-in, the navigation, and a router on the
// address's fragment (#/overview, #/notifications/<id>, #/endpoints/<id>,
// #/events/<event id>, ...). Each page module renders into <main> and returns
// what stops its timers.
import { signIn, signOut, signedIn, resume, principal, whenSignedOut } from './api.js';
import { h, describeError, EVENT_ID } from './ui.js';
import * as overview from './overview.js';
import * as notifications from './notifications.js';
import * as detail from './detail.js';
import * as create from './create.js';
import * as dlq from './dlq.js';
import * as keys from './keys.js';
import * as endpoints from './endpoints.js';
import * as endpoint from './endpoint.js';
import * as event from './event.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const who = document.getElementById('who');
let stopPage = null;
let firstRoute = true;

const PAGES = {
  overview: { module: overview, title: 'Overview' },
  notifications: { module: notifications, title: 'Notifications' },
  create: { module: create, title: 'Create' },
  dlq: { module: dlq, title: 'Dead letters' },
  keys: { module: keys, title: 'API keys' },
  endpoints: { module: endpoints, title: 'Endpoints' },
};

function decoded(part) {
  try {
    return decodeURIComponent(part);
  } catch (err) {
    return '';
  }
}

function parseRoute() {
  const hash = location.hash.startsWith('#/') ? location.hash.slice(2) : 'overview';
  const [path, search] = hash.split('?');
  const parts = path.split('/').filter((p) => p !== '');
  const params = new URLSearchParams(search || '');
  if (parts[0] === 'notifications' && parts.length === 2 && /^[0-9a-f]{24}$/.test(parts[1])) {
    return { module: detail, nav: 'notifications', id: parts[1], params, title: `Notification ${parts[1]}` };
  }
  if (parts[0] === 'endpoints' && parts.length === 2 && /^[0-9a-f]{24}$/.test(parts[1])) {
    return { module: endpoint, nav: 'endpoints', id: parts[1], params, title: `Endpoint ${parts[1]}` };
  }
  if (parts[0] === 'events' && parts.length === 2 && EVENT_ID.test(decoded(parts[1]))) {
    const id = decoded(parts[1]);
    return { module: event, nav: 'endpoints', id, params, title: `Event ${id}` };
  }
  const name = PAGES[parts[0]] ? parts[0] : 'overview';
  return { module: PAGES[name].module, nav: name, params, title: PAGES[name].title };
}

function showSignIn(message, kind) {
  nav.hidden = true;
  who.hidden = true;
  document.title = 'Sign in · WaveCom dashboard';
  const input = h('input', { id: 'api-key', name: 'apiKey', type: 'password', autocomplete: 'off', required: true, 'aria-describedby': 'api-key-hint' });
  const status = h('div', { id: 'signin-status' },
    message ? h('div', { class: `notice ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, message) : null);
  const form = h('form', { class: 'signin', novalidate: true, 'aria-labelledby': 'h-signin' },
    h('h1', { id: 'h-signin' }, 'Sign in'),
    status,
    h('div', { class: 'field' }, h('label', { for: 'api-key' }, 'API key'), input,
      h('p', { class: 'hint', id: 'api-key-hint' },
        'The key is kept in this tab only, and forgotten when the tab closes or you sign out.')),
    h('button', { type: 'submit', id: 'signin-button' }, 'Sign in'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const key = input.value.trim();
    if (key === '') {
      status.replaceChildren(h('div', { class: 'notice error', role: 'alert' }, 'Enter an API key.'));
      input.focus();
      return;
    }
    try {
      await signIn(key);
      route();
    } catch (err) {
      status.replaceChildren(h('div', { class: 'notice error', role: 'alert' }, `Not signed in: ${describeError(err)}`));
      input.focus();
    }
  });
  main.replaceChildren(form);
  input.focus();
}

function route() {
  if (stopPage) {
    stopPage();
    stopPage = null;
  }
  if (!signedIn() || principal() === null) {
    showSignIn();
    return;
  }
  const r = parseRoute();
  nav.hidden = false;
  who.hidden = false;
  document.getElementById('who-text').textContent = `Tenant ${principal().tenantId} · ${principal().role}`;
  for (const a of nav.querySelectorAll('a')) {
    if (a.dataset.page === r.nav) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  document.title = `${r.title} · WaveCom dashboard`;
  main.replaceChildren();
  stopPage = r.module.render(main, r.params, r.id) || null;
  // After a navigation inside the page, focus moves to the new content (a
  // screen reader then reads it); a fresh load starts at the top, as any page.
  if (!firstRoute) {
    main.focus();
  }
  firstRoute = false;
}

document.getElementById('skip-link').addEventListener('click', (ev) => {
  ev.preventDefault();
  main.focus();
});
document.getElementById('sign-out').addEventListener('click', () => signOut());
whenSignedOut((reason) => {
  if (stopPage) {
    stopPage();
    stopPage = null;
  }
  if (reason) {
    showSignIn(reason, 'error');
  } else {
    showSignIn('Signed out; the key is forgotten.', 'ok');
  }
});
window.addEventListener('hashchange', route);

(async () => {
  if (signedIn()) {
    try {
      await resume();
    } catch (err) {
      signOut(`Not signed in: ${describeError(err)}`);
      return;
    }
  }
  route();
})();
