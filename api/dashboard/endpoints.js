// Endpoints: the tenant's event subscriptions in a table, a form that
// registers one (its signing secret shown once, here, and nowhere else), and
// a box that opens an event by its id.
import { api, mayAdminister, principal } from './api.js';
import { h, describeError, tableWrap, announce, secretOnce, EVENT_ID } from './ui.js';

function stateText(e) {
  if (e.enabled) {
    return 'Enabled';
  }
  return e.disabledReason ? `Disabled: ${e.disabledReason}` : 'Disabled';
}

function rateText(rateLimit) {
  return rateLimit === null || rateLimit === undefined ? 'No limit' : `${rateLimit} a second`;
}

function batchText(batch) {
  return batch ? `Up to ${batch.maxEvents} events a request, waiting at most ${batch.maxWaitMs} ms` : 'Each delivery alone';
}

function field(name, label, hint, control) {
  const id = `ep-${name}`;
  return h('div', { class: 'field' },
    h('label', { for: id }, label), control,
    h('p', { class: 'hint', id: `${id}-hint` }, hint),
    h('p', { class: 'error-text', id: `${id}-error` }));
}

function input(name, attrs) {
  const id = `ep-${name}`;
  return h('input', { id, name, type: 'text', autocomplete: 'off', spellcheck: 'false',
    'aria-describedby': `${id}-hint ${id}-error`, ...attrs });
}

// The event search: an id typed here opens the event's page.
function eventSearch() {
  const box = input('event-id', { placeholder: 'evt_…', maxlength: '128' });
  const error = h('p', { class: 'error-text', id: 'ep-event-id-error', role: 'alert' });
  const form = h('form', { class: 'toolbar', 'aria-labelledby': 'h-event-search', novalidate: true, role: 'search' },
    h('label', { for: 'ep-event-id' }, 'Event id'), box,
    h('button', { type: 'submit', class: 'secondary', id: 'event-open' }, 'Open event'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const id = box.value.trim();
    if (!EVENT_ID.test(id)) {
      error.textContent = 'An event id is 1 to 128 letters, digits, _ . : or -.';
      box.setAttribute('aria-invalid', 'true');
      box.focus();
      return;
    }
    location.hash = `#/events/${encodeURIComponent(id)}`;
  });
  return h('section', { 'aria-labelledby': 'h-event-search' },
    h('h2', { id: 'h-event-search' }, 'Open an event'),
    h('p', { class: 'hint', id: 'ep-event-id-hint' }, 'Where each endpoint\'s delivery of one event stands.'),
    form, error);
}

export function render(main) {
  const outcome = h('div', { id: 'endpoint-outcome', tabindex: '-1' });
  const list = h('div', { id: 'endpoints-list' }, h('p', { class: 'muted' }, 'Loading…'));
  const create = h('section', { 'aria-labelledby': 'h-endpoint-create' });
  main.append(h('h1', {}, 'Endpoints'),
    h('p', { class: 'hint' }, 'Each endpoint receives the events whose type its patterns cover, signed with its own secret.'),
    outcome, list, eventSearch(), create);

  if (mayAdminister()) {
    create.append(createForm());
  } else {
    const role = principal() ? principal().role : '';
    create.append(h('h2', { id: 'h-endpoint-create' }, 'Register an endpoint'),
      h('p', { class: 'notice' }, `A ${role} key may read endpoints; an admin key registers and changes them.`));
  }

  function createForm() {
    const controls = {
      url: input('url', { type: 'url', required: true }),
      eventTypes: input('eventTypes', { required: true }),
      description: input('description', { maxlength: '512' }),
      rateLimit: input('rateLimit', { type: 'number', inputmode: 'numeric', min: '1', max: '10000', step: '1' }),
      batchMaxEvents: input('batchMaxEvents', { type: 'number', inputmode: 'numeric', min: '2', max: '100', step: '1' }),
      batchMaxWaitMs: input('batchMaxWaitMs', { type: 'number', inputmode: 'numeric', min: '10', max: '30000', step: '1' }),
    };
    const submit = h('button', { type: 'submit', id: 'endpoint-create' }, 'Register endpoint');
    const form = h('form', { novalidate: true, 'aria-labelledby': 'h-endpoint-create', id: 'endpoint-form' },
      h('h2', { id: 'h-endpoint-create' }, 'Register an endpoint'),
      field('url', 'URL', 'Where the events are posted, e.g. https://example.com/hooks/wavecom', controls.url),
      field('eventTypes', 'Event types', 'Comma-separated: a type (invoice.paid), a prefix (invoice.*) or *', controls.eventTypes),
      field('description', 'Description', 'Optional, up to 512 bytes', controls.description),
      field('rateLimit', 'Rate limit (deliveries a second)', 'Optional, 1 to 10,000; empty for none', controls.rateLimit),
      field('batchMaxEvents', 'Batch: events a request', 'Optional, 2 to 100; with the wait below, deliveries go together as one JSON array', controls.batchMaxEvents),
      field('batchMaxWaitMs', 'Batch: longest wait (ms)', 'With the field above, 10 to 30,000', controls.batchMaxWaitMs),
      submit);

    function clearErrors() {
      for (const [name, control] of Object.entries(controls)) {
        control.removeAttribute('aria-invalid');
        form.querySelector(`#ep-${name}-error`).textContent = '';
      }
    }

    // The API's messages beside the fields they name ("eventTypes[1]" belongs to eventTypes).
    function showErrors(err) {
      const items = err.errors.length > 0 ? err.errors : [{ field: null, message: err.message }];
      for (const e of items) {
        // "batch.maxEvents" belongs to batchMaxEvents; "batch" alone to both batch fields.
        const parts = String(e.field || '').split(/[.[]/);
        const name = parts[0] === 'batch' && parts[1] ? `batch${parts[1][0].toUpperCase()}${parts[1].slice(1)}` : parts[0];
        if (controls[name]) {
          controls[name].setAttribute('aria-invalid', 'true');
          const slot = form.querySelector(`#ep-${name}-error`);
          slot.textContent = slot.textContent ? `${slot.textContent} ${e.message}` : e.message;
        }
      }
      outcome.replaceChildren(h('div', { class: 'notice error', role: 'alert' },
        h('p', {}, `The API did not register the endpoint (${err.status}): ${describeError(err)}`),
        h('ul', {}, items.map((e) => h('li', {}, e.field ? `${e.field}: ${e.message}` : e.message)))));
    }

    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clearErrors();
      const body = {
        url: controls.url.value.trim(),
        eventTypes: controls.eventTypes.value.split(',').map((t) => t.trim()).filter((t) => t !== ''),
      };
      if (controls.description.value.trim() !== '') {
        body.description = controls.description.value.trim();
      }
      if (controls.rateLimit.value.trim() !== '') {
        // Sent as typed when it is no number, so the API names the rule.
        const n = Number(controls.rateLimit.value);
        body.rateLimit = Number.isNaN(n) ? controls.rateLimit.value : n;
      }
      const batchFields = [['maxEvents', controls.batchMaxEvents], ['maxWaitMs', controls.batchMaxWaitMs]]
        .filter(([, control]) => control.value.trim() !== '');
      if (batchFields.length > 0) {
        // Only what was typed: a missing half is the API's to name.
        body.batch = Object.fromEntries(batchFields.map(([key, control]) => {
          const n = Number(control.value);
          return [key, Number.isNaN(n) ? control.value : n];
        }));
      }
      submit.disabled = true;
      try {
        const res = await api('POST', '/api/endpoints', body);
        const e = res.data;
        outcome.replaceChildren(secretOnce(e.secret, `Endpoint registered: ${e.url}`),
          h('p', {}, h('a', { href: `#/endpoints/${e.id}`, id: 'new-endpoint-link' }, 'Open the new endpoint')));
        form.reset();
        announce('Endpoint registered; copy its secret now');
        load();
      } catch (err) {
        showErrors(err);
      } finally {
        submit.disabled = false;
      }
      outcome.focus();
    });
    return form;
  }

  load();
  async function load() {
    let res;
    try {
      res = await api('GET', '/api/endpoints');
    } catch (err) {
      list.replaceChildren(h('div', { class: 'notice error', role: 'alert' }, describeError(err)));
      return;
    }
    const endpoints = res.data;
    if (endpoints.length === 0) {
      list.replaceChildren(h('p', { id: 'endpoints-empty' }, 'No endpoint is registered yet.'));
      return;
    }
    const rows = endpoints.map((e) => h('tr', { 'data-id': e.id },
      h('td', { class: 'mono' }, h('a', { href: `#/endpoints/${e.id}`, 'aria-label': `Endpoint ${e.url}` }, e.url),
        e.description ? h('div', { class: 'muted' }, e.description) : null),
      h('td', { class: 'mono' }, e.eventTypes.join(', ')),
      h('td', { class: 'endpoint-state' }, stateText(e)),
      h('td', {}, rateText(e.rateLimit))));
    list.replaceChildren(
      h('p', {}, `${endpoints.length} ${endpoints.length === 1 ? 'endpoint' : 'endpoints'}, oldest first.`),
      tableWrap('Endpoints', h('table', { id: 'endpoints' },
        h('caption', { class: 'visually-hidden' }, 'The tenant\'s endpoints'),
        h('thead', {}, h('tr', {}, ['URL', 'Event types', 'State', 'Rate limit']
          .map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, rows))));
  }
}

export { stateText, rateText, batchText };
