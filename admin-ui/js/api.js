// api.js: the REST client (EMQX 5 shapes under api/v5) and the login
// session, kept in sessionStorage so that it ends with the browser tab.

const KEY = 'flockmq.session';

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code);
    this.status = status;
    this.code = code;
  }
}

export const session = {
  get() {
    try {
      return JSON.parse(sessionStorage.getItem(KEY) || 'null');
    } catch {
      return null;
    }
  },
  set(s) { sessionStorage.setItem(KEY, JSON.stringify(s)); },
  update(fields) { this.set({ ...this.get(), ...fields }); },
  clear() { sessionStorage.removeItem(KEY); },
};

// Called when an authenticated request gets 401: the token expired or was
// revoked.  app.js sets it.
let unauthorized = () => {};
export function onUnauthorized(fn) { unauthorized = fn; }

// api(method, path, body?, options?): the parsed JSON (null for 204), or
// throws ApiError {status, code, message}.  path is under api/v5, with its
// query string; objects in options.query are added to it.
export async function api(method, path, body, { auth = true, query } = {}) {
  const url = new URL('api/v5' + path, document.baseURI);
  if (query) {
    for (const [k, v] of Object.entries(query)) {
      if (v !== undefined && v !== null && v !== '') url.searchParams.set(k, v);
    }
  }
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const s = session.get();
  if (auth && s && s.token) headers.Authorization = 'Bearer ' + s.token;
  let res;
  try {
    res = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
    });
  } catch (e) {
    throw new ApiError(0, 'NETWORK_ERROR', 'Cannot reach the broker (' + e.message + ')');
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  if (!res.ok) {
    const code = (data && data.code) || 'HTTP_' + res.status;
    const message = (data && data.message) || res.statusText || 'request failed';
    const err = new ApiError(res.status, code, message);
    if (res.status === 401 && auth) unauthorized(err);
    throw err;
  }
  return data;
}

export const get = (path, query) => api('GET', path, undefined, { query });
export const post = (path, body) => api('POST', path, body === undefined ? {} : body);
export const del = (path) => api('DELETE', path);

// A path segment: client ids and topics may hold any character.
export const seg = (s) => encodeURIComponent(s);
