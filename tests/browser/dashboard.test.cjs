// Drives the WaveCom dashboard in Debian's Chromium (playwright-core) against
// a real local stack that test_dashboard.py started. Exits non-zero on the
// first failed check. Every step is bounded by a Playwright timeout.
'use strict';
const assert = require('node:assert/strict');
const path = require('node:path');
const { chromium } = require('playwright-core');

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (run through test_dashboard.py)`);
  return v;
};
const URL = env('DASHBOARD_URL');
const ADMIN_KEY = env('DASHBOARD_ADMIN_KEY');
const VIEWER_KEY = env('DASHBOARD_VIEWER_KEY');
const WEBHOOK_URL = env('DASHBOARD_WEBHOOK_URL');
const WEBHOOK_SECRET = env('DASHBOARD_WEBHOOK_SECRET');
const CONTROL = env('DASHBOARD_DOUBLES_CONTROL');
const SHOTS = env('DASHBOARD_SCREENSHOT_DIR');
const RUN = env('DASHBOARD_RUN_ID');
const DELIVERY_TIMEOUT = 60000;

function step(name) {
  console.log(`-- ${name}`);
}

// Text whose contrast with its background is below WCAG AA's 4.5:1, on the page as it is now.
async function lowContrastText(page) {
  return page.evaluate(() => {
    const parse = (c) => {
      const p = c.match(/rgba?\(([^)]+)\)/)[1].split(',').map(Number);
      return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
    };
    const channel = (v) => {
      const x = v / 255;
      return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4;
    };
    const lum = (c) => 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b);
    const background = (el) => {
      for (let e = el; e !== null; e = e.parentElement) {
        const c = parse(getComputedStyle(e).backgroundColor);
        if (c.a > 0) return c;
      }
      return { r: 255, g: 255, b: 255, a: 1 };
    };
    const low = [];
    for (const el of document.querySelectorAll('body *')) {
      const shown = el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
      const text = [...el.childNodes].some((n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim() !== '');
      if (!shown || !text || el.closest('.visually-hidden, svg, [disabled]')) continue;
      const a = lum(parse(getComputedStyle(el).color));
      const b = lum(background(el));
      const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
      if (ratio < 4.5) low.push(`${el.tagName} "${el.textContent.trim().slice(0, 30)}": ${ratio.toFixed(2)}:1`);
    }
    return low;
  });
}

// A screenshot of the whole page, after checking its text contrast.
async function shot(page, name) {
  assert.deepEqual(await lowContrastText(page), [], `text contrast on ${name}`);
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

// Registers a signing secret (the tenant's unless given) for webhook paths under `prefix` at the
// receiver double.
async function registerWebhookSecret(prefix, secret = WEBHOOK_SECRET) {
  const res = await fetch(`${CONTROL}/_control/webhook/secrets`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ prefix, secret }),
  });
  assert.ok(res.ok, `registering the webhook secret answered ${res.status}`);
}

// One API call with the admin key, as a client of the tenant would make it.
async function apiCall(method, route, body) {
  const res = await fetch(URL + route, {
    method,
    headers: { Authorization: `Bearer ${ADMIN_KEY}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

// Publishes an event with the given id; returns the ids of the endpoints it matched.
async function publishEvent(type, eventId, payload) {
  const res = await apiCall('POST', '/api/events', { type, eventId, payload });
  assert.equal(res.status, 201, `publishing ${eventId} answered ${res.status}: ${JSON.stringify(res.json)}`);
  return res.json.data.endpoints;
}

// Waits until the endpoint page (which refreshes every 5 s) shows at least `n` in the health
// count `what` (attempts or failed); the workers flush their counts about once a second.
async function waitHealth(page, what, n) {
  await page.waitForFunction(([name, want]) => {
    const el = document.querySelector(`section[data-${name}]`);
    return el !== null && Number(el.dataset[name]) >= want;
  }, [what, n], { timeout: 45000 });
}

async function text(page, selector) {
  return (await page.locator(selector).textContent()).trim();
}

async function signIn(page, key) {
  await page.goto(URL + '/');
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
}

async function overviewValue(page, id) {
  return (await page.locator(`#${id}`).textContent()).trim();
}

// Waits until the overview shows `expected` in cell `id` (the statistics are cached a few seconds).
async function waitOverview(page, id, expected) {
  await page.waitForFunction(([cell, want]) => {
    const el = document.getElementById(cell);
    return el !== null && el.textContent.trim() === want;
  }, [id, expected], { timeout: 45000 });
}

// Fills the create form for `channel` and submits it; returns the new notification's id.
async function createThroughForm(page, channel, fields) {
  await page.goto(URL + '/#/create');
  await page.getByRole('heading', { name: 'Create a notification' }).waitFor();
  await page.locator(`#channel-${channel}`).check();
  for (const [name, value] of Object.entries(fields)) {
    const control = page.locator(`#f-${name}`);
    if ((await control.evaluate((el) => el.tagName)) === 'SELECT') {
      await control.selectOption(value);
    } else {
      await control.fill(value);
    }
  }
  await page.getByRole('button', { name: 'Create notification' }).click();
  await page.waitForURL(/#\/notifications\/[0-9a-f]{24}$/);
  return page.url().split('/').pop();
}

async function waitStatus(page, status) {
  await page.locator(`#detail-status[data-status="${status}"]`).waitFor({ timeout: DELIVERY_TIMEOUT });
}

async function main() {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    timeout: 60000,
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(20000);
  const page = await context.newPage();
  const consoleErrors = [];
  page.on('console', (msg) => {
    // The API's 4xx answers the test provokes (a wrong key, invalid input) are logged as failed
    // resources; those are expected.
    if (msg.type() === 'error' && !/status of 4[0-9][0-9]/.test(msg.text())) consoleErrors.push(msg.text());
  });
  page.on('pageerror', (err) => consoleErrors.push(String(err)));

  try {
    step('the page is served with its security headers');
    const res = await page.goto(URL + '/');
    const headers = res.headers();
    assert.match(headers['content-security-policy'], /script-src 'self'/);
    assert.match(headers['content-type'], /^text\/html/);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await shot(page, '01-sign-in');

    step('a wrong key is refused with the API\'s message');
    await page.getByLabel('API key').fill('wc_not_a_real_key');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('Not signed in: invalid API key').waitFor();

    step('sign in; the key stays in sessionStorage, never in localStorage or a cookie');
    await page.getByLabel('API key').fill(ADMIN_KEY);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
    const storage = await page.evaluate(() => ({
      local: localStorage.length, cookie: document.cookie, session: sessionStorage.length,
    }));
    assert.deepEqual(storage, { local: 0, cookie: '', session: 1 });
    await waitOverview(page, 'total-all', '0');
    step('the worker host\'s circuit breakers, each state in words, the host\'s report fresh');
    const twilioBreaker = page.locator('#breakers tr[data-breaker="twilio"]').first();
    await twilioBreaker.waitFor({ timeout: 45000 });
    assert.match(await twilioBreaker.textContent(), /Closed \(calls go through\)/);
    assert.doesNotMatch(await page.locator('#breakers caption').first().textContent(), /STALE/);
    await shot(page, '02-overview-empty');

    step('the API\'s validation messages appear beside their fields');
    await page.goto(URL + '/#/create');
    await page.locator('#channel-EMAIL').check();
    await page.locator('#f-recipient').fill('not-an-address');
    await page.getByRole('button', { name: 'Create notification' }).click();
    await page.locator('#create-summary [role="alert"]').waitFor();
    assert.notEqual((await page.locator('#f-recipient-error').textContent()).trim(), '');
    assert.notEqual((await page.locator('#f-subject-error').textContent()).trim(), '');
    assert.equal(await page.locator('#f-recipient').getAttribute('aria-invalid'), 'true');
    await shot(page, '03-create-validation');

    step('each channel through the form, watched to SENT on its detail page');
    await registerWebhookSecret(`/dash-ok-${RUN}`);
    const created = {};
    created.EMAIL = await createThroughForm(page, 'EMAIL', {
      recipient: `dash-${RUN}@example.com`, subject: 'Dashboard test', message: 'Sent from the dashboard', priority: 'HIGH',
    });
    await waitStatus(page, 'SENT');
    // The trail ends with SENT (QUEUED may be missing: a worker can claim before the API's write).
    await page.locator('#timeline li').last().filter({ hasText: 'SENT' }).waitFor();
    assert.ok(await page.locator('#timeline li').count() >= 3);
    assert.notEqual((await page.locator('#provider-message-id').textContent()).trim(), '');
    await shot(page, '04-detail-email-sent');
    created.SMS = await createThroughForm(page, 'SMS', { recipient: '+14155550123', message: 'Your code is 1234' });
    await waitStatus(page, 'SENT');
    created.PUSH = await createThroughForm(page, 'PUSH', {
      platform: 'fcm', recipient: `fcm-token-${RUN}`, title: 'Hello', message: 'Push from the dashboard', data: '{"k": "v"}',
    });
    await waitStatus(page, 'SENT');
    created.WEBHOOK = await createThroughForm(page, 'WEBHOOK', {
      recipient: `${WEBHOOK_URL}/dash-ok-${RUN}/orders`, message: 'order paid', payload: '{"event": "order.paid"}',
    });
    await waitStatus(page, 'SENT');

    step('a template picked on the Create page gives the content, rendered with the typed data');
    const made = await fetch(`${URL}/api/templates`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${ADMIN_KEY}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: `dash-${RUN}`.replace(/[^A-Za-z0-9._-]/g, '-'), defaultLocale: 'en',
        locales: { en: { SMS: { text: 'Code {{code}} for {{name}}' } } } }),
    });
    assert.equal(made.status, 201);
    const templateId = (await made.json()).data._id;
    const fromTemplate = await createThroughForm(page, 'SMS', {
      templateId, recipient: '+14155550123', variables: '{"code": "4321", "name": "<Ana>"}',
    });
    await waitStatus(page, 'SENT');
    const read = await fetch(`${URL}/api/notifications/${fromTemplate}`, { headers: { Authorization: `Bearer ${ADMIN_KEY}` } });
    const sent = (await read.json()).data.notification;
    assert.equal(sent.message, 'Code 4321 for <Ana>');
    assert.equal(sent.template.id, templateId);

    step('a webhook whose receiver refuses it ends FAILED with the provider\'s reason');
    const deadPrefix = `/dash-dlq-${RUN}`;
    const deadId = await createThroughForm(page, 'WEBHOOK', {
      recipient: `${WEBHOOK_URL}${deadPrefix}/0`, payload: '{"n": 1}', maxRetries: '0',
    });
    await waitStatus(page, 'FAILED');
    assert.notEqual((await page.locator('#provider-error').textContent()).trim(), '');
    await shot(page, '05-detail-failed');

    step('it is listed on the DLQ page with its reason; a viewer may not replay');
    await page.goto(URL + '/#/dlq');
    const row = page.locator(`tr[data-id="${deadId}"]`);
    // The DLQ list walks the stats counters, which the worker writes about once a second
    // (docs/ARCHITECTURE.md §3.3): the page shows the FAILED one within a reload or two.
    for (let attempt = 1; ; attempt++) {
      try {
        await row.waitFor({ timeout: 2000 });
        break;
      } catch (err) {
        if (attempt >= 10) throw err;
        await page.reload();
      }
    }
    assert.notEqual((await row.locator('td.reason').textContent()).trim(), '—');
    await shot(page, '06-dlq');

    step('the receiver is fixed, and the notification replayed from the DLQ page');
    await registerWebhookSecret(deadPrefix);
    await page.getByLabel(new RegExp(`Select WEBHOOK .*${deadId}`)).check();
    await page.getByRole('button', { name: 'Replay selected' }).click();
    await page.locator('#replay-outcome').getByText('Replayed 1 of 1.').waitFor();
    await shot(page, '07-dlq-replayed');
    await page.goto(`${URL}/#/notifications/${deadId}`);
    await waitStatus(page, 'SENT');
    await page.getByText('Replayed from the dead-letter queue').waitFor();
    await shot(page, '08-detail-replayed-sent');

    step('the overview counters moved');
    await page.goto(URL + '/#/overview');
    // One per channel, the one made from a template, and the replayed webhook.
    await waitOverview(page, 'total-all', '6');
    await waitOverview(page, 'status-SENT', '6');
    await waitOverview(page, 'status-FAILED', '0');
    await waitOverview(page, 'type-WEBHOOK', '2');
    await waitOverview(page, 'success-rate', '100 %');
    await page.locator('#throughput-chart svg polyline.sent').waitFor();
    assert.notEqual(await overviewValue(page, 'p95-time'), '—');
    await shot(page, '09-overview-after');

    step('a scheduled notification is cancelled from its detail page');
    const tomorrow = new Date(Date.now() + 24 * 3600 * 1000);
    const pad = (n) => String(n).padStart(2, '0');
    const local = `${tomorrow.getFullYear()}-${pad(tomorrow.getMonth() + 1)}-${pad(tomorrow.getDate())}T10:30`;
    const scheduledId = await createThroughForm(page, 'SMS', { recipient: '+14155550123', message: 'Later', scheduledAt: local });
    await waitStatus(page, 'SCHEDULED');
    await page.getByLabel('Reason (optional)').fill('changed my mind');
    await page.getByRole('button', { name: 'Cancel notification' }).click();
    await waitStatus(page, 'CANCELLED');
    await page.getByText('Cancelled via API: changed my mind').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Cancel notification' }).count(), 0);
    await shot(page, '09b-detail-cancelled');

    step('a suppressed recipient: its notification ends SUPPRESSED, in the filters and the counts');
    const listed = await apiCall('POST', '/api/suppressions', { channel: 'SMS', recipient: '+14155550199', reason: 'manual' });
    assert.equal(listed.status, 201, JSON.stringify(listed.json));
    const toListed = await apiCall('POST', '/api/notifications', { type: 'SMS', recipient: '+14155550199', message: 'Not for you' });
    assert.equal(toListed.status, 201, JSON.stringify(toListed.json));
    const suppressedId = toListed.json.data._id;
    await page.goto(`${URL}/#/notifications/${suppressedId}`);
    await waitStatus(page, 'SUPPRESSED');
    await page.getByText('the recipient is on the suppression list (manual)').waitFor();
    await shot(page, '09c-detail-suppressed');
    await page.goto(URL + '/#/overview');
    await waitOverview(page, 'status-SUPPRESSED', '1');
    await waitOverview(page, 'total-SUPPRESSED', '1');
    await page.goto(URL + '/#/notifications');
    await page.getByLabel('Status').selectOption('SUPPRESSED');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.locator('#page-summary').getByText('1 notifications').waitFor();
    await page.getByRole('link', { name: suppressedId }).waitFor();
    await shot(page, '09d-notifications-suppressed');

    step('the list filters by status and type, and links to the detail page');
    await page.goto(URL + '/#/notifications');
    await page.getByLabel('Status').selectOption('SENT');
    await page.getByLabel('Type').selectOption('EMAIL');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.locator('#page-summary').getByText('1 notifications').waitFor();
    await shot(page, '10-notifications-filtered');
    await page.getByRole('link', { name: created.EMAIL }).click();
    await waitStatus(page, 'SENT');

    step('the API keys page: the admin key with its last use and counts, and the day in the chart');
    const adminHint = ADMIN_KEY.slice(0, 12);
    const today = new Date().toISOString().slice(0, 10);
    await page.goto(URL + '/#/keys');
    const keyRow = page.locator(`#keys tr[data-hint="${adminHint}"]`);
    // Usage reaches the database once per WAVECOM_USAGE_FLUSH_SECONDS (5 s): a reload or two.
    // The admin key sent 8: one per channel, the templated SMS, the refused webhook, the
    // cancelled scheduled SMS and the suppressed SMS.
    const sentByAdmin = 8;
    for (let attempt = 1; ; attempt++) {
      await keyRow.waitFor({ timeout: 5000 });
      const accepted = Number((await keyRow.locator('td.num').nth(1).textContent()).replace(/[^0-9]/g, ''));
      if (accepted === sentByAdmin) break;
      if (attempt >= 15) assert.fail(`the admin key shows ${accepted} accepted notifications`);
      await page.waitForTimeout(1000);
      await page.reload();
    }
    assert.notEqual((await keyRow.locator('td').nth(4).textContent()).trim(), 'never');
    assert.equal((await keyRow.locator('td').nth(3).textContent()).trim(), 'active');
    await page.locator('#stale-count').getByText('0 stale keys').waitFor();
    const bar = page.locator(`#usage-chart rect.accepted[data-day="${today}"]`);
    assert.ok(Number(await bar.getAttribute('height')) > 0, 'today has a bar of accepted notifications');
    await shot(page, '10b-keys');
    // A key's hint opens the list of what that key sent.
    await keyRow.getByRole('link', { name: `Notifications sent with key ${adminHint}` }).click();
    await page.locator('#page-summary').getByText(`${sentByAdmin} notifications`).waitFor();
    assert.equal(await page.getByLabel('API key').inputValue(), adminHint);

    step('the Endpoints page: a refused endpoint names its field; a registered one shows its secret once');
    await page.goto(URL + '/#/endpoints');
    await page.getByRole('heading', { name: 'Endpoints', level: 1 }).waitFor();
    await page.locator('#endpoints-empty').waitFor();
    const hookPrefix = `/dash-evt-${RUN}`;
    const hookUrl = `${WEBHOOK_URL}${hookPrefix}/hook`;
    await page.locator('#ep-url').fill(hookUrl);
    await page.locator('#ep-eventTypes').fill('dash.*, not a type!');
    await page.locator('#ep-batchMaxEvents').fill('1');
    await page.locator('#ep-batchMaxWaitMs').fill('100');
    await page.getByRole('button', { name: 'Register endpoint' }).click();
    await page.locator('#endpoint-outcome [role="alert"]').waitFor();
    assert.notEqual(await text(page, '#ep-eventTypes-error'), '');
    assert.equal(await page.locator('#ep-eventTypes').getAttribute('aria-invalid'), 'true');
    // batch.maxEvents is named beside its own field; the wait was fine.
    assert.match(await text(page, '#ep-batchMaxEvents-error'), /from 2 to 100/);
    assert.equal(await page.locator('#ep-batchMaxEvents').getAttribute('aria-invalid'), 'true');
    assert.equal(await text(page, '#ep-batchMaxWaitMs-error'), '');
    await page.locator('#ep-batchMaxEvents').fill('');
    await page.locator('#ep-batchMaxWaitMs').fill('');
    assert.equal(await page.locator('#endpoint-secret').count(), 0);
    await page.locator('#ep-eventTypes').fill('dash.order, dash.refund');
    // Markup in a description stays text.
    const description = `<b>Orders</b> of run ${RUN} & co`;
    await page.locator('#ep-description').fill(description);
    await page.locator('#ep-rateLimit').fill('20');
    await page.getByRole('button', { name: 'Register endpoint' }).click();
    await page.locator('#endpoint-secret').waitFor();
    const firstSecret = await text(page, '#endpoint-secret');
    assert.match(firstSecret, /^whsec_[A-Za-z0-9+/=]+$/);
    await page.locator('#secret-box').getByText('Copy it now').waitFor();
    await registerWebhookSecret(hookPrefix, firstSecret);
    const endpointRow = page.locator('#endpoints tbody tr').filter({ hasText: hookUrl });
    await endpointRow.waitFor();
    const endpointId = await endpointRow.getAttribute('data-id');
    assert.match(endpointId, /^[0-9a-f]{24}$/);
    assert.equal(await endpointRow.locator('td').nth(1).textContent(), 'dash.order, dash.refund');
    assert.equal(await endpointRow.locator('.endpoint-state').textContent(), 'Enabled');
    assert.equal(await endpointRow.locator('td').nth(3).textContent(), '20 a second');
    assert.equal(await endpointRow.locator('td .muted').textContent(), description);
    assert.equal(await page.locator('#endpoints b').count(), 0);
    await shot(page, '16-endpoints-created');
    await page.reload();
    await endpointRow.waitFor();
    assert.equal(await page.locator('#endpoint-secret').count(), 0, 'the secret is not shown again');

    step('an event published through the API reaches it: the health and the delivery show it');
    const firstEvent = `dash-${RUN}-1`;
    const payload = { order: '<img src=x onerror=alert(1)>', total: 42 };
    assert.deepEqual(await publishEvent('dash.order', firstEvent, payload), [endpointId]);
    await endpointRow.getByRole('link', { name: `Endpoint ${hookUrl}` }).click();
    await page.waitForURL(new RegExp(`#/endpoints/${endpointId}$`));
    await waitHealth(page, 'attempts', 1);
    assert.equal(await text(page, '#endpoint-batch'), 'Each delivery alone');
    assert.equal(await text(page, '#health-delivered'), '1');
    assert.equal(await text(page, '#health-failed'), '0');
    assert.equal(await text(page, '#health-success-rate'), '100 %');
    assert.notEqual(await text(page, '#latency-p95'), '—');
    assert.notEqual(await text(page, '#health-last-success'), '—');
    assert.equal(await text(page, '#health-failing-since'), 'Not failing');
    const sentRow = page.locator('#endpoint-deliveries tbody tr[data-status="SENT"]');
    await sentRow.first().waitFor({ timeout: DELIVERY_TIMEOUT });
    assert.equal(await sentRow.first().locator('td').nth(1).textContent(), firstEvent);
    await shot(page, '17-endpoint-healthy');

    step('the event page, opened by its id: its type, payload as text, and the delivery SENT');
    await page.goto(URL + '/#/endpoints');
    await page.locator('#ep-event-id').fill(firstEvent);
    await page.getByRole('button', { name: 'Open event' }).click();
    await page.waitForURL(new RegExp(`#/events/${firstEvent}$`));
    const eventDelivery = page.locator(`#event-deliveries tr[data-endpoint="${endpointId}"][data-status="SENT"]`);
    await eventDelivery.waitFor({ timeout: DELIVERY_TIMEOUT });
    assert.equal(await text(page, '#event-type'), 'dash.order');
    assert.equal(await page.locator('#event-fanout').getAttribute('data-fanout'), 'done');
    assert.equal(await text(page, '#event-matched'), '1');
    assert.deepEqual(JSON.parse(await page.locator('#event-payload').textContent()), payload);
    assert.equal(await page.locator('main img').count(), 0);
    await shot(page, '18-event');
    await eventDelivery.getByRole('link', { name: /and its attempts$/ }).click();
    await waitStatus(page, 'SENT');
    await page.locator('#timeline li').last().filter({ hasText: 'SENT' }).waitFor();
    assert.equal(await text(page, '#detail-event'), firstEvent);

    step('disabled, the endpoint matches no event; enabled again, it does');
    await page.goto(`${URL}/#/endpoints/${endpointId}`);
    await page.getByRole('button', { name: 'Disable endpoint' }).click();
    await page.locator('#endpoint-state').getByText('Disabled').waitFor();
    const whileDisabled = `dash-${RUN}-2`;
    assert.deepEqual(await publishEvent('dash.order', whileDisabled, { n: 2 }), []);
    await page.goto(`${URL}/#/endpoints`);
    assert.equal(await endpointRow.locator('.endpoint-state').textContent(), 'Disabled');
    await page.goto(`${URL}/#/events/${whileDisabled}`);
    await page.locator('#event-no-deliveries').waitFor();
    await page.goto(`${URL}/#/endpoints/${endpointId}`);
    await page.getByRole('button', { name: 'Enable endpoint' }).click();
    await page.locator('#endpoint-state').getByText('Enabled').waitFor();

    step('a rotated secret is shown once and signs the next delivery');
    await page.getByRole('button', { name: 'Rotate secret' }).click();
    await page.locator('#endpoint-secret').waitFor();
    const secondSecret = await text(page, '#endpoint-secret');
    assert.match(secondSecret, /^whsec_/);
    assert.notEqual(secondSecret, firstSecret);
    await shot(page, '19-endpoint-rotated');
    // The receiver now knows only the new secret: a delivery signed without it would be refused.
    await registerWebhookSecret(hookPrefix, secondSecret);
    const afterRotation = `dash-${RUN}-3`;
    assert.deepEqual(await publishEvent('dash.refund', afterRotation, { n: 3 }), [endpointId]);
    await page.goto(`${URL}/#/events/${afterRotation}`);
    await eventDelivery.waitFor({ timeout: DELIVERY_TIMEOUT });

    step('replay: nothing failed; all since an hour ago sends both delivered events again');
    await page.goto(`${URL}/#/endpoints/${endpointId}`);
    await waitHealth(page, 'attempts', 2);
    await page.getByRole('button', { name: 'Replay', exact: true }).click();
    await page.locator('#replay-result').getByText('0 replayed, 0 resent, 0 not sent.').waitFor();
    await page.locator('#replay-all').check();
    const hourAgo = new Date(Date.now() - 3600 * 1000);
    const pad2 = (n) => String(n).padStart(2, '0');
    await page.locator('#replay-since').fill(`${hourAgo.getFullYear()}-${pad2(hourAgo.getMonth() + 1)}-${pad2(hourAgo.getDate())}T${pad2(hourAgo.getHours())}:${pad2(hourAgo.getMinutes())}`);
    await page.getByRole('button', { name: 'Replay', exact: true }).click();
    await page.locator('#replay-result').getByText('0 replayed, 2 resent, 0 not sent.').waitFor();
    await waitHealth(page, 'attempts', 4);
    assert.equal(await text(page, '#health-failed'), '0');
    await shot(page, '20-endpoint-replayed');

    step('a receiver that is gone: its failure, last error and streak; its failed delivery replayed');
    const gonePrefix = `/gone/dash-${RUN}`;
    const gone = await apiCall('POST', '/api/endpoints', { url: `${WEBHOOK_URL}${gonePrefix}`, eventTypes: ['dash.gone'] });
    assert.equal(gone.status, 201);
    await registerWebhookSecret(gonePrefix, gone.json.data.secret);
    const goneId = gone.json.data.id;
    assert.deepEqual(await publishEvent('dash.gone', `dash-${RUN}-4`, { n: 4 }), [goneId]);
    await page.goto(`${URL}/#/endpoints/${goneId}`);
    await waitHealth(page, 'failed', 1);
    assert.match(await text(page, '#health-last-error'), /410/);
    assert.notEqual(await text(page, '#health-failing-since'), 'Not failing');
    assert.notEqual(await text(page, '#health-disables-at'), '—');
    assert.equal(await text(page, '#health-success-rate'), '0 %');
    await page.locator('#endpoint-deliveries tbody tr[data-status="FAILED"]').waitFor({ timeout: DELIVERY_TIMEOUT });
    await page.getByRole('button', { name: 'Replay', exact: true }).click();
    await page.locator('#replay-result').getByText('1 replayed, 0 resent, 0 not sent.').waitFor();
    // Replayed where it was, it meets the same answer: a second failed attempt.
    await waitHealth(page, 'failed', 2);
    await shot(page, '21-endpoint-failing');

    step('keyboard: skip link, navigation, channel choice by arrow keys, visible focus');
    await page.goto(URL + '/#/overview');
    await page.reload();
    await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'skip-link');
    await page.keyboard.press('Enter');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'pause-refresh');
    await page.keyboard.press('Shift+Tab');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'sign-out');
    for (let i = 0; i < 6; i++) await page.keyboard.press('Shift+Tab');
    assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Overview');
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    assert.notEqual(outline, 'none', 'a focused link shows its focus');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Create');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Create a notification' }).waitFor();
    await page.locator('#channel-EMAIL').focus();
    await page.keyboard.press('ArrowRight');
    assert.equal(await page.locator('#channel-SMS').isChecked(), true);
    assert.equal(await page.locator('#f-subject').isVisible(), false);

    step('phone width: nothing wider than the screen, navigation reachable');
    await page.setViewportSize({ width: 375, height: 740 });
    for (const [route, name] of [['#/overview', '11-phone-overview'], ['#/notifications', '12-phone-notifications'],
      [`#/notifications/${created.EMAIL}`, '13-phone-detail'], ['#/create', '14-phone-create'], ['#/dlq', '15-phone-dlq'],
      ['#/endpoints', '22-phone-endpoints'], [`#/endpoints/${endpointId}`, '23-phone-endpoint'],
      [`#/events/${firstEvent}`, '24-phone-event']]) {
      await page.goto(`${URL}/${route}`);
      await page.locator('main h1').waitFor();
      await page.waitForTimeout(300);
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= 375, `${route} is ${width}px wide at phone width`);
      assert.ok(await page.getByRole('link', { name: 'Dead letters' }).isVisible());
      await shot(page, name);
    }
    await page.setViewportSize({ width: 1280, height: 900 });

    step('a viewer key reads but may not create');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    await signIn(page, VIEWER_KEY);
    await page.goto(URL + '/#/create');
    assert.equal(await page.getByRole('button', { name: 'Create notification' }).isDisabled(), true);
    await page.goto(URL + '/#/endpoints');
    await page.locator('#endpoints tbody tr').first().waitFor();
    assert.equal(await page.locator('#endpoint-form').count(), 0, 'a viewer gets no create form');
    await page.goto(`${URL}/#/endpoints/${endpointId}`);
    await page.locator('section[data-attempts]').waitFor();
    for (const name of ['Disable endpoint', 'Rotate secret', 'Replay']) {
      assert.equal(await page.getByRole('button', { name, exact: true }).count(), 0, `a viewer gets no ${name} button`);
    }

    assert.deepEqual(consoleErrors, [], 'the page logged no errors');
    console.log('dashboard: all checks passed');
  } catch (err) {
    await page.screenshot({ path: path.join(SHOTS, '99-failure.png'), fullPage: true }).catch(() => {});
    throw err;
  } finally {
    await browser.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
