// Create: one form, its fields following the chosen channel and, when a
// template is picked, its variables instead of the content. The page does
// not validate: it sends what was typed and shows the API's own messages
// beside the fields they name, and all of them in a summary at the top.
import { api, mayWrite } from './api.js';
import { h, describeError, announce, TYPES, PRIORITIES } from './ui.js';

// What a field belongs to: both ways of sending, only content typed here, or
// only a template's (whose content comes rendered from the template).
const ALWAYS = 'always';
const CONTENT = 'content';
const TEMPLATE = 'template';

// name, label, kind, channels, hint, mode
const FIELDS = [
  ['templateId', 'Template', 'template', TYPES, 'Optional: a template of this tenant gives the content', ALWAYS],
  ['recipient', 'Recipient', 'text', TYPES, {
    EMAIL: 'An email address, e.g. user@example.com',
    SMS: 'A phone number in E.164 form, e.g. +14155550123',
    PUSH: 'The device token',
    WEBHOOK: 'The https:// URL to post to',
  }],
  ['subject', 'Subject', 'text', ['EMAIL'], 'Up to 255 characters, one line', CONTENT],
  ['platform', 'Platform', 'platform', ['PUSH'], 'fcm (Android, web) or apns (Apple)'],
  ['title', 'Title', 'text', ['PUSH'], 'Optional, up to 255 characters', CONTENT],
  ['message', 'Message', 'textarea', TYPES, {
    EMAIL: 'The body, up to 5,000 characters',
    SMS: 'Up to 1,600 characters',
    PUSH: 'The body of the push notification',
    WEBHOOK: 'Optional description',
  }, CONTENT],
  ['data', 'Data (JSON object of strings)', 'json', ['PUSH'], 'Optional, e.g. {"orderId": "42"}', CONTENT],
  ['payload', 'Payload (JSON)', 'json', ['WEBHOOK'], 'The JSON object or array that is posted, signed', CONTENT],
  ['locale', 'Locale', 'text', TYPES, 'Optional, e.g. pt-BR: then pt, then the template\'s default locale', TEMPLATE],
  ['variables', 'Template data (JSON object)', 'json', TYPES, 'Every variable the template uses, e.g. {"name": "Ana"}', TEMPLATE],
  ['priority', 'Priority', 'priority', TYPES, 'CRITICAL and HIGH go to the high-priority queue'],
  ['maxRetries', 'Maximum retries', 'number', TYPES, 'Optional, 0 to 10 (default 3)'],
  ['scheduledAt', 'Send at', 'datetime', TYPES, 'Optional: leave empty to send now (your local time)'],
  ['metadata', 'Metadata (JSON object)', 'json', TYPES, 'Optional, kept with the notification'],
];

function control(name, kind) {
  const id = `f-${name}`;
  const described = `${id}-hint ${id}-error`;
  const common = { id, name, 'aria-describedby': described };
  switch (kind) {
    case 'textarea':
    case 'json':
      return h('textarea', { ...common, rows: kind === 'json' ? '4' : '5', spellcheck: kind === 'json' ? 'false' : null });
    case 'template':
      return h('select', common, h('option', { value: '' }, 'None: write the content below'));
    case 'platform':
      return h('select', common, h('option', { value: '' }, 'Choose…'), h('option', { value: 'fcm' }, 'fcm'), h('option', { value: 'apns' }, 'apns'));
    case 'priority':
      return h('select', common, PRIORITIES.map((p) => h('option', { value: p, selected: p === 'MEDIUM' }, p)));
    case 'number':
      return h('input', { ...common, type: 'number', inputmode: 'numeric', min: '0', max: '10', step: '1' });
    case 'datetime':
      return h('input', { ...common, type: 'datetime-local' });
    default:
      return h('input', { ...common, type: 'text', autocomplete: 'off', spellcheck: 'false' });
  }
}

export function render(main) {
  let channel = 'EMAIL';
  const summary = h('div', { id: 'create-summary', tabindex: '-1' });
  const rows = {};
  const form = h('form', { novalidate: true, 'aria-labelledby': 'h-create' });
  const channelSet = h('fieldset', {}, h('legend', {}, 'Channel'),
    h('div', { class: 'choices' }, TYPES.map((t) => h('label', {},
      h('input', { type: 'radio', name: 'channel', value: t, checked: t === channel, id: `channel-${t}` }), t))));
  form.append(channelSet);
  for (const [name, label, kind] of FIELDS) {
    const id = `f-${name}`;
    rows[name] = h('div', { class: 'field', 'data-field': name },
      h('label', { for: id, id: `${id}-label` }, label),
      control(name, kind),
      h('p', { class: 'hint', id: `${id}-hint` }),
      h('p', { class: 'error-text', id: `${id}-error` }));
    form.append(rows[name]);
  }
  const submit = h('button', { type: 'submit', id: 'create-submit' }, 'Create notification');
  form.append(submit);
  main.append(h('h1', { id: 'h-create' }, 'Create a notification'), summary, form);
  if (!mayWrite()) {
    summary.append(h('div', { class: 'notice' }, 'This key\'s role (viewer) may read but not create notifications.'));
    submit.disabled = true;
  }

  // The templates to pick from (the first 100 by name); without them the
  // form still sends typed content.
  const picker = form.elements.templateId;
  api('GET', '/api/templates?limit=100').then((res) => {
    for (const t of res.data.templates) {
      picker.append(h('option', { value: t._id }, `${t.name} (v${t.latestVersion})`));
    }
  }).catch(() => {});
  const usingTemplate = () => picker.value !== '';
  const shown = (channels, mode) => channels.includes(channel)
    && (mode === CONTENT ? !usingTemplate() : mode === TEMPLATE ? usingTemplate() : true);

  function applyChannel() {
    for (const [name, , , channels, hint, mode] of FIELDS) {
      rows[name].hidden = !shown(channels, mode);
      const text = typeof hint === 'string' ? hint : hint[channel];
      rows[name].querySelector('.hint').textContent = text || '';
    }
  }
  channelSet.addEventListener('change', (ev) => {
    if (ev.target.name === 'channel') {
      channel = ev.target.value;
      clearErrors();
      applyChannel();
    }
  });
  picker.addEventListener('change', () => {
    clearErrors();
    applyChannel();
  });
  applyChannel();

  function clearErrors() {
    summary.replaceChildren();
    for (const row of Object.values(rows)) {
      row.querySelector('.error-text').textContent = '';
      const input = row.querySelector('input, select, textarea');
      input.removeAttribute('aria-invalid');
    }
  }

  function body() {
    const out = { type: channel };
    for (const [name, , kind, channels, , mode] of FIELDS) {
      if (!shown(channels, mode)) {
        continue;
      }
      // The template's variables travel as "data".
      const key = name === 'variables' ? 'data' : name;
      const value = form.elements[name].value;
      if (value.trim() === '') {
        continue; // left out: the API says when a required field is missing
      }
      if (kind === 'json') {
        // Invalid JSON goes as it was typed, so the API names the field and the rule.
        try {
          out[key] = JSON.parse(value);
        } catch (err) {
          out[key] = value;
        }
      } else if (kind === 'number') {
        out[key] = Number(value);
      } else if (kind === 'datetime') {
        const d = new Date(value);
        out[key] = Number.isNaN(d.getTime()) ? value : d.toISOString();
      } else {
        out[key] = value;
      }
    }
    return out;
  }

  // The field of the form an API error names: "payload.x" and "data[2]" belong to their top-level field.
  function rowFor(field) {
    let top = String(field || '').split(/[.[]/)[0];
    if (top === 'data' && usingTemplate()) {
      top = 'variables';
    }
    return rows[top] && !rows[top].hidden ? rows[top] : null;
  }

  function showErrors(err) {
    const items = err.errors.length > 0 ? err.errors : [{ field: null, message: err.message }];
    const list = h('ul', {}, items.map((e) => {
      const row = rowFor(e.field);
      const text = e.field ? `${e.field}: ${e.message}` : e.message;
      if (row !== null) {
        const input = row.querySelector('input, select, textarea');
        const slot = row.querySelector('.error-text');
        slot.textContent = slot.textContent ? `${slot.textContent} ${e.message}` : e.message;
        input.setAttribute('aria-invalid', 'true');
        return h('li', {}, h('a', { href: `#f-${row.dataset.field}`, onclick: (ev) => { ev.preventDefault(); input.focus(); } }, text));
      }
      return h('li', {}, text);
    }));
    summary.replaceChildren(h('div', { class: 'notice error', role: 'alert' },
      h('p', {}, `The API did not accept the notification (${err.status}): ${describeError(err)}`), list));
    summary.focus();
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors();
    submit.disabled = true;
    try {
      const res = await api('POST', '/api/notifications', body());
      announce('Notification created');
      location.hash = `#/notifications/${res.data._id}`;
    } catch (err) {
      showErrors(err);
    } finally {
      submit.disabled = !mayWrite();
    }
  });
}
