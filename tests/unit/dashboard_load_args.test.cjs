// loadtest/dashboard_load.cjs without a browser: which arguments it takes and refuses, and how it
// summarises loads (failed ones counted, never dropped). Run by node --test (unit.dashboard_load_args).
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { parseArgs, percentile, summarize, UsageError } = require('../../loadtest/dashboard_load.cjs');

const KEY = { WAVECOM_DASHBOARD_KEY: 'wc_test_key' };
const BASE = ['--url', 'http://127.0.0.1:5180', '--out', '/tmp/out.json'];

test('the defaults: 10 loads, 15 s per load, an overall bound that covers every load', () => {
  const s = parseArgs(BASE, KEY);
  assert.equal(s.origin, 'http://127.0.0.1:5180');
  assert.equal(s.key, 'wc_test_key');
  assert.equal(s.loads, 10);
  assert.equal(s.timeoutMs, 15000);
  // 2 pages x (2 modes x 10 loads + 2 unmeasured) x 15 s, plus a minute.
  assert.equal(s.overallTimeoutS, 2 * 22 * 15 + 60);
});

test('every address in 127.0.0.0/8 is taken, with a trailing slash or without', () => {
  assert.equal(parseArgs(['--url', 'http://127.8.9.10:80/', '--out', 'x'], KEY).origin, 'http://127.8.9.10');
});

test('an address outside loopback is refused, host names too', () => {
  for (const url of ['http://10.0.0.1:5180', 'http://localhost:5180', 'http://128.0.0.1', 'http://[::1]:5180',
    'http://127.0.0.1.example.com', 'file:///etc/passwd', 'not a url']) {
    assert.throws(() => parseArgs(['--url', url, '--out', 'x'], KEY), UsageError, url);
  }
});

test('a path, query or credentials in --url are refused', () => {
  for (const url of ['http://127.0.0.1:5180/#/overview', 'http://127.0.0.1:5180/api', 'http://u:p@127.0.0.1']) {
    assert.throws(() => parseArgs(['--url', url, '--out', 'x'], KEY), /origin only/, url);
  }
});

test('the key comes from the environment only', () => {
  assert.throws(() => parseArgs(BASE, {}), /WAVECOM_DASHBOARD_KEY/);
  assert.throws(() => parseArgs(BASE, { WAVECOM_DASHBOARD_KEY: '  ' }), /WAVECOM_DASHBOARD_KEY/);
  assert.throws(() => parseArgs([...BASE, '--key', 'wc_x'], KEY), /never from the command line/);
  assert.throws(() => parseArgs([...BASE, '--key=wc_x'], KEY), /never from the command line/);
});

test('numbers are whole and bounded; unknown and missing arguments are refused', () => {
  assert.equal(parseArgs([...BASE, '--loads', '3', '--timeout-ms', '2000', '--overall-timeout-s', '30'], KEY)
    .overallTimeoutS, 30);
  for (const extra of [['--loads', '0'], ['--loads', '101'], ['--loads', '2.5'], ['--timeout-ms', '-1'],
    ['--timeout-ms', '999'], ['--overall-timeout-s', '7201'], ['--verbose'], ['--loads']]) {
    assert.throws(() => parseArgs([...BASE, ...extra], KEY), UsageError, extra.join(' '));
  }
  assert.throws(() => parseArgs(['--out', 'x'], KEY), /--url is required/);
  assert.throws(() => parseArgs(['--url', 'http://127.0.0.1'], KEY), /--out is required/);
});

test('the script exits 2 on bad usage, before starting a browser', () => {
  const script = path.join(__dirname, '..', '..', 'loadtest', 'dashboard_load.cjs');
  const res = spawnSync(process.execPath, [script, '--url', 'http://192.168.1.1', '--out', '/dev/null'],
    { env: { ...KEY, PATH: process.env.PATH }, encoding: 'utf8', timeout: 20000 });
  assert.equal(res.status, 2, res.stderr);
  assert.match(res.stderr, /127\.0\.0\.0\/8/);
});

test('percentile is nearest-rank', () => {
  assert.equal(percentile([], 50), null);
  assert.equal(percentile([7], 50), 7);
  assert.equal(percentile([1, 2, 3, 4], 50), 2);
  assert.equal(percentile([1, 2, 3, 4, 5], 50), 3);
  assert.equal(percentile([1, 2, 3, 4, 5], 100), 5);
});

test('a summary counts failed and missing loads and keeps every value in order', () => {
  const req = { path: '/api/me', status: 200, startMs: 1, durationMs: 2, transferBytes: 300 };
  const s = summarize([
    { ms: 300.04, error: null, requests: [req, req] },
    { ms: null, error: 'no data within 15000 ms', requests: [req] },
    { ms: 100, error: null, requests: [] },
    { ms: 200, error: null, requests: [req] },
  ], 5);
  assert.equal(s.n, 3);
  assert.equal(s.failed, 1);
  assert.equal(s.missing, 1);
  assert.equal(s.p50Ms, 200);
  assert.equal(s.maxMs, 300);
  assert.deepEqual(s.valuesMs, [300, null, 100, 200]);
  assert.deepEqual(s.failures, [{ load: 2, error: 'no data within 15000 ms' }]);
  assert.deepEqual(s.apiRequestsPerLoad, [2, 1, 0, 1]);
  assert.equal(s.loads[1].ms, null);
});

test('a summary of only failed loads has no p50 or max', () => {
  const s = summarize([{ ms: null, error: 'x', requests: [] }], 1);
  assert.equal(s.n, 0);
  assert.equal(s.p50Ms, null);
  assert.equal(s.maxMs, null);
});
