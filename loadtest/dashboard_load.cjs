// loadtest/dashboard_load.cjs: how long the dashboard's Overview and Notifications pages take to
// show their data, in a real browser (Debian's Chromium driven by playwright-core).
//
//   WAVECOM_DASHBOARD_KEY=<api key> node loadtest/dashboard_load.cjs --url http://127.0.0.1:PORT \
//       --out FILE.json [--loads N] [--timeout-ms MS] [--overall-timeout-s S]
//
// The key is read from WAVECOM_DASHBOARD_KEY only (a command line is visible to every user of the
// machine). --url must be an IPv4 address in 127.0.0.0/8 with no path; Chromium is also told that
// no host name resolves, so nothing it loads can leave the machine. playwright-core is taken from
// WAVECOM_BROWSER_NODE_MODULES, else <repo>/.wavecom/browser/node_modules (where deploy/stack.sh
// install puts it, as for tests/browser).
//
// For each page (#/overview, #/notifications) and each mode it makes N loads (default 10):
//   cold  a new browser context per load (empty HTTP cache, no ETags); the key is placed in the
//         tab's sessionStorage before the page opens, where the sign-in form keeps it, so the page
//         signs in as a reloaded tab does (GET /api/me) and then fetches its data;
//   warm  one context, signed in through the sign-in form, the page opened once unmeasured, then
//         left for about:blank and opened again N times (cached assets, ETags, and the statistics
//         the server allowed the browser to keep).
// A load's time runs from the navigation's start (the document's performance.timeOrigin) to the
// first animation frame after the page shows its data. That moment is found by a MutationObserver
// in the page, never by a fixed sleep:
//   Overview       #total-all holds a number and #throughput-chart holds the drawn chart (both are
//                  written together once stats/system, stats/throughput and workers answered);
//   Notifications  #list-results holds the table of the first page (or its "no notification" line).
// An error notice or the sign-in form instead, or no data within --timeout-ms (default 15,000),
// makes the load a failed one: it is counted and listed in the output, never dropped. The whole run
// stops after --overall-timeout-s; loads not made then are reported as missing.
//
// Output (--out, JSON): the Chromium version, and per page and mode: n (loads that showed data),
// failed, missing, p50 and max in ms, every load's ms (null when failed) with the reason, and per
// load what it showed (the total, or the rows drawn), when its document arrived and its scripts
// had run (responseEnd, domContentLoaded: ms since the navigation's start) and its API requests:
// path, status as sent on the wire (304 for a revalidation, "cache" when the browser's cache
// answered without asking), start and duration from resource timing, bytes transferred and of the
// body. Exit status: 0 every load showed its data, 1 some failed or the run stopped early (the
// JSON is written all the same), 2 bad usage.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const CHROMIUM = '/usr/bin/chromium';
const KEY_ENV = 'WAVECOM_DASHBOARD_KEY';
const MODULES_ENV = 'WAVECOM_BROWSER_NODE_MODULES';
// The key the dashboard's sign-in keeps in sessionStorage (api/dashboard/api.js).
const STORAGE_KEY = 'wavecom.apiKey';
const PAGES = { overview: '/#/overview', notifications: '/#/notifications' };
const MODES = ['cold', 'warm'];
const LIMITS = {
  loads: [1, 100],
  timeoutMs: [1000, 120000],
  overallTimeoutS: [10, 7200],
};

class UsageError extends Error {}

function wholeNumber(name, text, [min, max]) {
  if (!/^[0-9]+$/.test(text || '')) {
    throw new UsageError(`${name} must be a whole number, not '${text}'`);
  }
  const n = Number(text);
  if (n < min || n > max) {
    throw new UsageError(`${name} must be ${min} to ${max}, not ${n}`);
  }
  return n;
}

// The origin of `text` when it names a loopback IPv4 address (127.0.0.0/8) over http(s) with no
// path, query or fragment; a UsageError otherwise.
function loopbackOrigin(text) {
  let url;
  try {
    url = new URL(text);
  } catch (err) {
    throw new UsageError(`--url is not a URL: '${text}'`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`--url must be http or https, not ${url.protocol}`);
  }
  const octets = url.hostname.split('.');
  const ipv4 = octets.length === 4 && octets.every((o) => /^[0-9]{1,3}$/.test(o) && Number(o) <= 255);
  if (!ipv4 || octets[0] !== '127') {
    throw new UsageError(`--url must name an address in 127.0.0.0/8 (loopback only), not '${url.hostname}'`);
  }
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    throw new UsageError('--url is the API\'s origin only (http://127.0.0.1:PORT), without path, query or credentials');
  }
  return url.origin;
}

// The run's settings from argv (without node and the script) and env; throws UsageError.
function parseArgs(argv, env) {
  const opts = { loads: '10', timeoutMs: '15000', overallTimeoutS: null, url: null, out: null };
  const flags = {
    '--url': 'url', '--out': 'out', '--loads': 'loads', '--timeout-ms': 'timeoutMs',
    '--overall-timeout-s': 'overallTimeoutS',
  };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === '--key' || arg.startsWith('--key=')) {
      throw new UsageError(`the API key is read from ${KEY_ENV}, never from the command line`);
    }
    if (!(arg in flags)) {
      throw new UsageError(`unknown argument '${arg}'`);
    }
    if (i + 1 >= argv.length) {
      throw new UsageError(`${arg} needs a value`);
    }
    opts[flags[arg]] = argv[i + 1];
    i += 1;
  }
  if (opts.url === null) throw new UsageError('--url is required');
  if (opts.out === null || opts.out === '') throw new UsageError('--out is required');
  const key = env[KEY_ENV];
  if (!key || key.trim() === '') {
    throw new UsageError(`${KEY_ENV} must hold the API key of the tenant whose pages are loaded`);
  }
  const settings = {
    origin: loopbackOrigin(opts.url),
    out: opts.out,
    key: key.trim(),
    loads: wholeNumber('--loads', opts.loads, LIMITS.loads),
    timeoutMs: wholeNumber('--timeout-ms', opts.timeoutMs, LIMITS.timeoutMs),
  };
  // Default: every load (and each warm context's sign-in and first load) at its timeout, plus
  // a minute for starting the browser.
  const worst = Object.keys(PAGES).length * (MODES.length * settings.loads + 2) * settings.timeoutMs;
  settings.overallTimeoutS = opts.overallTimeoutS === null
    ? Math.min(LIMITS.overallTimeoutS[1], Math.ceil(worst / 1000) + 60)
    : wholeNumber('--overall-timeout-s', opts.overallTimeoutS, LIMITS.overallTimeoutS);
  return settings;
}

// Nearest-rank percentile of ascending `sorted`; null when empty.
function percentile(sorted, p) {
  if (sorted.length === 0) {
    return null;
  }
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

// The summary of one page and mode from its loads ({ms, error, requests}); `wanted` is how many
// loads were asked for, so those the overall timeout cut off show as missing.
function summarize(loads, wanted) {
  const shown = loads.filter((l) => l.error === null).map((l) => l.ms);
  const sorted = [...shown].sort((a, b) => a - b);
  const round = (v) => (v === null ? null : Math.round(v * 10) / 10);
  return {
    n: shown.length,
    failed: loads.length - shown.length,
    missing: wanted - loads.length,
    p50Ms: round(percentile(sorted, 50)),
    maxMs: round(sorted.length === 0 ? null : sorted[sorted.length - 1]),
    valuesMs: loads.map((l) => (l.error === null ? round(l.ms) : null)),
    failures: loads.flatMap((l, i) => (l.error === null ? [] : [{ load: i + 1, error: l.error }])),
    apiRequestsPerLoad: loads.map((l) => l.requests.length),
    loads: loads.map((l) => ({
      ms: l.error === null ? round(l.ms) : null,
      shown: l.detail || null,
      document: l.documentTiming ? {
        responseEndMs: round(l.documentTiming.responseEndMs),
        domContentLoadedMs: round(l.documentTiming.domContentLoadedMs),
      } : null,
      requests: l.requests,
    })),
  };
}

// Runs in every document of the browser (an init script): watches the page until it shows its
// data or an error, and keeps the outcome in window.__wcPageLoad. The route comes from the
// address's fragment, as the dashboard's router reads it.
function watchPageLoad() {
  const route = (location.hash.split('?')[0] || '#/overview').replace(/^#\//, '') || 'overview';
  if (location.protocol === 'about:' || (route !== 'overview' && route !== 'notifications')) {
    return;
  }
  let observer = null;
  let settled = false;
  const settle = (error, detail) => {
    settled = true;
    observer.disconnect();
    // The data is in the DOM; the next animation frame is the one that paints it.
    requestAnimationFrame(() => {
      window.__wcPageLoad = { ms: performance.now(), error, detail };
    });
  };
  const text = (selector) => {
    const el = document.querySelector(selector);
    return el === null ? null : el.textContent.trim();
  };
  const check = () => {
    if (settled) {
      return;
    }
    const signIn = document.getElementById('h-signin');
    if (signIn !== null) {
      settle(`the sign-in form was shown: ${text('#signin-status') || 'no key'}`, null);
      return;
    }
    const notice = text('#main .notice.error');
    if (notice !== null) {
      settle(`the page showed an error: ${notice}`, null);
      return;
    }
    if (route === 'overview') {
      const total = text('#total-all');
      if (total !== null && /[0-9]/.test(total) && document.querySelector('#throughput-chart svg polyline') !== null) {
        settle(null, { total });
      }
    } else if (document.querySelector('#list-results table tbody tr') !== null) {
      settle(null, { rows: document.querySelectorAll('#list-results table tbody tr').length, summary: text('#page-summary') });
    } else if (document.querySelector('#list-results p:not(.muted)') !== null) {
      settle(null, { rows: 0, summary: text('#list-results p') });
    }
  };
  observer = new MutationObserver(check);
  observer.observe(document, { subtree: true, childList: true, characterData: true });
}

// Runs in every document of a cold context: the key where the sign-in form keeps it, as in a tab
// that signed in before.
function placeKey({ origin, storageKey, key }) {
  if (location.origin === origin && sessionStorage.getItem(storageKey) === null) {
    sessionStorage.setItem(storageKey, key);
  }
}

// The status each URL was last answered with on the wire, from the DevTools protocol: 304 for a
// revalidation, which the page's fetch, resource timing and Playwright all see as the cached 200.
async function watchStatuses(page) {
  const session = await page.context().newCDPSession(page);
  const urls = new Map();
  const statuses = new Map();
  session.on('Network.requestWillBeSent', (e) => urls.set(e.requestId, e.request.url));
  session.on('Network.responseReceivedExtraInfo', (e) => {
    if (urls.has(e.requestId)) statuses.set(urls.get(e.requestId), e.statusCode);
  });
  await session.send('Network.enable');
  return { statuses, stop: () => session.detach().catch(() => {}) };
}

// The API requests the page made up to `untilMs`, from its resource timing, with their statuses
// ("cache": nothing was transferred, the browser's cache answered without asking).
async function apiRequests(page, untilMs, statuses) {
  const entries = await page.evaluate((until) => performance.getEntriesByType('resource')
    .filter((e) => new URL(e.name).pathname.startsWith('/api/') && e.startTime <= until)
    .map((e) => ({
      url: e.name, startMs: e.startTime, durationMs: e.duration, transferBytes: e.transferSize,
      bodyBytes: e.encodedBodySize, status: e.responseStatus || null,
    })), untilMs);
  return entries.map((e) => {
    const url = new URL(e.url);
    return {
      path: url.pathname + url.search,
      status: e.transferBytes === 0 ? 'cache' : statuses.get(e.url) || e.status,
      startMs: Math.round(e.startMs * 10) / 10,
      durationMs: Math.round(e.durationMs * 10) / 10,
      transferBytes: e.transferBytes,
      bodyBytes: e.bodyBytes,
    };
  });
}

// One measured load of `target` in `page`; never throws: a failure is the load's error.
async function measure(page, target, timeoutMs) {
  const started = Date.now();
  let watch = null;
  try {
    watch = await watchStatuses(page);
    const { statuses } = watch;
    await page.goto(target, { waitUntil: 'commit', timeout: timeoutMs });
    const left = Math.max(1, timeoutMs - (Date.now() - started));
    const handle = await page.waitForFunction(() => window.__wcPageLoad, null, { timeout: left, polling: 50 });
    const outcome = await handle.jsonValue();
    const requests = await apiRequests(page, outcome.ms, statuses);
    const documentTiming = await page.evaluate(() => {
      const nav = performance.getEntriesByType('navigation')[0];
      return nav === undefined ? null : { responseEndMs: nav.responseEnd, domContentLoadedMs: nav.domContentLoadedEventEnd };
    });
    return { ms: outcome.ms, error: outcome.error, detail: outcome.detail, documentTiming, requests };
  } catch (err) {
    const timedOut = err.name === 'TimeoutError';
    let requests = [];
    try {
      requests = await apiRequests(page, Number.MAX_VALUE, watch === null ? new Map() : watch.statuses);
    } catch (ignored) {
      // The page or browser is gone (the overall timeout closed it): no requests to list.
    }
    return {
      ms: null,
      error: timedOut ? `no data within ${timeoutMs} ms` : String(err.message || err).split('\n')[0],
      detail: null,
      documentTiming: null,
      requests,
    };
  } finally {
    if (watch !== null) await watch.stop();
  }
}

async function newContext(browser, settings) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(settings.timeoutMs);
  await context.addInitScript(watchPageLoad);
  return context;
}

async function coldLoads(browser, settings, target, run) {
  const loads = [];
  for (let i = 0; i < settings.loads && !run.stopped; i += 1) {
    let context = null;
    try {
      context = await newContext(browser, settings);
      await context.addInitScript(placeKey, { origin: settings.origin, storageKey: STORAGE_KEY, key: settings.key });
      loads.push(await measure(await context.newPage(), target, settings.timeoutMs));
    } catch (err) {
      loads.push({ ms: null, error: String(err.message || err).split('\n')[0], detail: null, requests: [] });
    } finally {
      if (context !== null) await context.close().catch(() => {});
    }
  }
  return loads;
}

async function warmLoads(browser, settings, target, run) {
  const loads = [];
  const context = await newContext(browser, settings);
  try {
    const page = await context.newPage();
    // Signed in as a person signs in: the form, then the Overview it lands on.
    await page.goto(settings.origin + '/');
    await page.getByLabel('API key').fill(settings.key);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
    // Through about:blank, so each load is a new document (a fragment change alone is not).
    await page.goto('about:blank');
    const first = await measure(page, target, settings.timeoutMs);
    if (first.error !== null) {
      throw new Error(`the first, unmeasured load failed: ${first.error}`);
    }
    for (let i = 0; i < settings.loads && !run.stopped; i += 1) {
      await page.goto('about:blank');
      loads.push(await measure(page, target, settings.timeoutMs));
    }
  } catch (err) {
    // Without a signed-in context no warm load can be made: each one asked for fails with this.
    const error = `warm context: ${String(err.message || err).split('\n')[0]}`;
    while (loads.length < settings.loads && !run.stopped) {
      loads.push({ ms: null, error, detail: null, requests: [] });
    }
  } finally {
    await context.close().catch(() => {});
  }
  return loads;
}

// Whether the API takes the key, asked before a browser starts so a wrong key is one clear error.
async function checkKey(settings) {
  let res;
  try {
    res = await fetch(`${settings.origin}/api/me`, {
      headers: { Authorization: `Bearer ${settings.key}` }, signal: AbortSignal.timeout(settings.timeoutMs),
    });
  } catch (err) {
    throw new Error(`the API at ${settings.origin} cannot be reached: ${err.message}`);
  }
  if (res.status !== 200) {
    throw new Error(`GET /api/me with ${KEY_ENV} answered ${res.status}`);
  }
}

function loadPlaywright(env) {
  const modules = env[MODULES_ENV] || path.join(__dirname, '..', '.wavecom', 'browser', 'node_modules');
  const entry = path.join(modules, 'playwright-core');
  if (!fs.existsSync(entry)) {
    throw new Error(`${entry} is missing: run deploy/stack.sh install, or set ${MODULES_ENV}`);
  }
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: run deploy/stack.sh install`);
  }
  return require(entry);
}

async function run(settings, env) {
  const { chromium } = loadPlaywright(env);
  await checkKey(settings);
  const host = new URL(settings.origin).hostname;
  const began = Date.now();
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    // No host name resolves (the API is addressed by its IP), so no request leaves the machine.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
      `--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE ${host}`],
    timeout: 60000,
  });
  const state = { stopped: false, reason: null };
  const timer = setTimeout(() => {
    state.stopped = true;
    state.reason = `stopped after --overall-timeout-s ${settings.overallTimeoutS}`;
    browser.close().catch(() => {});
  }, settings.overallTimeoutS * 1000);
  const result = {
    chromium: browser.version(),
    url: settings.origin,
    loadsPerPage: settings.loads,
    timeoutMs: settings.timeoutMs,
    startedAt: new Date(began).toISOString(),
    pages: {},
  };
  try {
    for (const [name, route] of Object.entries(PAGES)) {
      result.pages[name] = {};
      for (const mode of MODES) {
        const target = settings.origin + route;
        const loads = mode === 'cold'
          ? await coldLoads(browser, settings, target, state)
          : await warmLoads(browser, settings, target, state);
        result.pages[name][mode] = summarize(loads, settings.loads);
      }
    }
  } finally {
    clearTimeout(timer);
    await browser.close().catch(() => {});
  }
  result.stoppedEarly = state.reason;
  result.durationS = Math.round((Date.now() - began) / 100) / 10;
  return result;
}

function report(result) {
  const lines = [`Chromium ${result.chromium}, ${result.loadsPerPage} loads per page and mode, ${result.durationS} s`];
  for (const [name, modes] of Object.entries(result.pages)) {
    for (const [mode, s] of Object.entries(modes)) {
      const requests = s.apiRequestsPerLoad.length === 0 ? '-' : Math.max(...s.apiRequestsPerLoad);
      lines.push(`  ${name.padEnd(13)} ${mode}: n ${s.n}, failed ${s.failed}, missing ${s.missing}, `
        + `p50 ${s.p50Ms} ms, max ${s.maxMs} ms, API requests per load <= ${requests}`);
      for (const f of s.failures) lines.push(`    load ${f.load} failed: ${f.error}`);
    }
  }
  if (result.stoppedEarly) lines.push(`  ${result.stoppedEarly}`);
  return lines.join('\n');
}

async function main() {
  let settings;
  try {
    settings = parseArgs(process.argv.slice(2), process.env);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`dashboard_load: ${err.message}`);
      process.exitCode = 2;
      return;
    }
    throw err;
  }
  let result;
  try {
    result = await run(settings, process.env);
  } catch (err) {
    console.error(`dashboard_load: ${err.message}`);
    process.exitCode = 1;
    return;
  }
  fs.writeFileSync(settings.out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(report(result));
  const complete = Object.values(result.pages).every((modes) => Object.values(modes)
    .every((s) => s.failed === 0 && s.missing === 0));
  process.exitCode = complete && result.stoppedEarly === null ? 0 : 1;
}

module.exports = { parseArgs, loopbackOrigin, percentile, summarize, UsageError };

if (require.main === module) {
  main();
}
