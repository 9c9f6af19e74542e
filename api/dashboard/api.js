// Calls to the WaveCom API with the signed-in key. The key lives in this
// module and in sessionStorage (gone when the tab closes); never in
// localStorage or a cookie.
const STORAGE_KEY = 'wavecom.apiKey';

let apiKey = sessionStorage.getItem(STORAGE_KEY);
let whoami = null;
let onSignedOut = () => {};

export class ApiError extends Error {
  constructor(status, body) {
    const message = body && typeof body.message === 'string' ? body.message : `HTTP ${status}`;
    super(message);
    this.status = status;
    this.errors = body && Array.isArray(body.errors) ? body.errors : [];
  }
}

export function signedIn() {
  return apiKey !== null;
}

export function principal() {
  return whoami;
}

export function mayReplay() {
  return whoami !== null && (whoami.role === 'admin' || whoami.role === 'operator');
}

// Endpoints hold signing secrets: only admin keys create, change or rotate them.
export function mayAdminister() {
  return whoami !== null && whoami.role === 'admin';
}

export function mayWrite() {
  return whoami !== null && whoami.role !== 'viewer';
}

export function whenSignedOut(callback) {
  onSignedOut = callback;
}

// Forgets the key; `reason` tells the sign-in page why.
export function signOut(reason) {
  apiKey = null;
  whoami = null;
  sessionStorage.removeItem(STORAGE_KEY);
  onSignedOut(reason);
}

// Checks `key` against the API (GET /api/me) and keeps it when it is valid.
export async function signIn(key) {
  apiKey = key;
  try {
    const res = await api('GET', '/api/me');
    whoami = res.data;
    sessionStorage.setItem(STORAGE_KEY, key);
    return whoami;
  } catch (err) {
    apiKey = null;
    throw err;
  }
}

// Restores the session of a reloaded tab.
export async function resume() {
  if (apiKey === null) {
    return null;
  }
  return signIn(apiKey);
}

// One API call: resolves to the response envelope, or throws ApiError.
// Every GET revalidates with the server (If-None-Match: an unchanged answer is
// a 304 without a body), unless `maxAge` is set: then an answer the server
// marked with Cache-Control max-age (the statistics) is reused until it
// expires, without asking at all.
export async function api(method, path, body, { maxAge = false } = {}) {
  const headers = { Accept: 'application/json' };
  if (apiKey !== null) {
    headers.Authorization = `Bearer ${apiKey}`;
  }
  const init = { method, headers, cache: maxAge ? 'default' : 'no-cache', credentials: 'omit' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (err) {
    throw new ApiError(0, { message: 'The API cannot be reached' });
  }
  let json = null;
  try {
    json = await res.json();
  } catch (err) {
    json = null;
  }
  if (res.status === 401 && whoami !== null) {
    signOut('The API no longer accepts this key (revoked, or its tenant disabled). Sign in again.');
  }
  if (!res.ok || json === null || json.success !== true) {
    throw new ApiError(res.status, json);
  }
  return json;
}

// A query string from the non-empty entries of `params`.
export function query(params) {
  const q = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') {
      q.set(name, String(value));
    }
  }
  const s = q.toString();
  return s === '' ? '' : `?${s}`;
}
