// api.js — the one way the dashboard talks to the gateway's management API (/api/v1, same origin).
//
// Invariants:
// - The session lives in an HttpOnly cookie the page never sees; fetch sends it (same origin).
// - The CSRF token is kept in this module's memory only (never localStorage): it comes from login, signup,
//   GET /me (after a reload) and token refresh, and goes on every state-changing request as X-CSRF-Token.
// - Every call that starts or renews a session (signup, login, invitation accept, token refresh, password
//   change) asks for it as a cookie with `X-Ingate-Session: cookie`, so no token ever reaches the page.
// - A 401 on any route but the public ones means the session is gone: the handler set by the app shows the
//   sign-in page with a message.
// - Every call resolves (never throws): {ok: true, status, data} or {ok: false, status, error, code, field},
//   where `error` is a sentence to show next to the control named by `field`.

let csrfToken = null;
let onUnauthorized = null;

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const PUBLIC = new Set(['/signup', '/login', '/invitations/accept']);
const COOKIE_SESSION = new Set(['/signup', '/login', '/invitations/accept', '/token/refresh', '/me/password']);

export function setCsrf(token) {
  csrfToken = token || null;
}

export function hasCsrf() {
  return csrfToken !== null;
}

/** fn(err) is called when a signed-in call answers 401 (session expired or revoked). */
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

/** A query string from an object, leaving out empty values: qs({a: 1, b: ''}) === '?a=1'. */
export function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') u.set(k, String(v));
  const s = u.toString();
  return s ? `?${s}` : '';
}

function sentence(s) {
  if (!s) return s;
  const t = s[0].toUpperCase() + s.slice(1);
  return /[.!?]$/.test(t) ? t : `${t}.`;
}

/** The words shown for a failed call. */
function describe(status, data) {
  const code = data && data.error_code;
  if (status === 429) {
    const s = data && data.retry_after_seconds;
    return s ? `Too many attempts: try again in ${s} s.` : 'Too many attempts: wait a moment and try again.';
  }
  if (code === 'csrf_failed') return 'The request was refused as a possible cross-site request. Reload the page and try again.';
  if (code === 'plan_required') return sentence((data && data.error) || 'This needs the Enterprise plan');
  if (status === 403 && code === 'forbidden' && !(data && data.field))
    return 'Your role does not allow this.';
  if (data && typeof data.error === 'string') return sentence(data.error);
  if (status >= 500) return `The gateway could not do this (HTTP ${status}). Try again in a moment.`;
  return `The request failed (HTTP ${status}).`;
}

/**
 * One API call. path is relative to /api/v1 ("/keys"); body is an object sent as JSON, or undefined.
 * opts.noRedirect: a 401 is returned to the caller without signing the user out (used by the first /me).
 * opts.headers: extra request headers.
 */
export async function api(method, path, body, opts = {}) {
  const headers = { Accept: 'application/json', ...(opts.headers || {}) };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (UNSAFE.has(method) && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  if (COOKIE_SESSION.has(path)) headers['X-Ingate-Session'] = 'cookie';
  let res;
  try {
    res = await fetch(`/api/v1${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch {
    return { ok: false, status: 0, error: 'Could not reach the gateway. Check the connection and try again.' };
  }
  let data = null;
  const text = await res.text().catch(() => '');
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (res.ok) return { ok: true, status: res.status, data };
  const err = {
    ok: false,
    status: res.status,
    data,
    error: describe(res.status, data),
    code: data && data.error_code,
    field: data && data.field,
    requestId: data && data.request_id,
  };
  if (res.status === 401 && !PUBLIC.has(path) && !opts.noRedirect && onUnauthorized) onUnauthorized(err);
  return err;
}
