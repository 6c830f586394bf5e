// The dashboard's cookie session (docs/dashboard.md): a sign-in that asks for it with
// `X-Ingate-Session: cookie` gets the session token only in an HttpOnly, Secure, SameSite=Strict __Host-
// cookie and a CSRF token in the body; with the cookie, reads work, every state-changing call needs the CSRF
// token from this origin (a refusal changes nothing), a browser's cross-site request is refused, refresh and
// logout replace or clear the cookie, and a dead session clears it. Scripts keep their Bearer tokens and API
// keys; the cookie is never a credential for the proxy.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startMock, startGateway, assertFlatError, uid } from './lib/harness.mjs';

const COOKIE = '__Host-ingate_session';
const CSRF_RE = /^[A-Za-z0-9_-]{43}$/;

/** The session cookie a response sets: {value, attrs (lowercased names → value or true)}; undefined if none. */
function setCookie(res) {
  const all = [].concat(res.headers['set-cookie'] || []);
  const mine = all.filter((c) => c.startsWith(`${COOKIE}=`));
  assert.ok(mine.length <= 1, `one Set-Cookie for the session at most: ${all}`);
  if (!mine.length) return undefined;
  const [pair, ...attrs] = mine[0].split(';').map((s) => s.trim());
  const out = { value: pair.slice(COOKIE.length + 1), attrs: {} };
  for (const a of attrs) {
    const i = a.indexOf('=');
    out.attrs[(i < 0 ? a : a.slice(0, i)).toLowerCase()] = i < 0 ? true : a.slice(i + 1);
  }
  return out;
}

function assertSessionCookie(c, ttl = 900) {
  assert.ok(c, 'a session cookie is set');
  assert.ok(c.value.length > 100, 'the cookie carries a token');
  assert.equal(c.attrs.path, '/');
  assert.equal(c.attrs['max-age'], String(ttl));
  assert.equal(c.attrs.secure, true);
  assert.equal(c.attrs.httponly, true);
  assert.equal(c.attrs.samesite, 'Strict');
  assert.equal(c.attrs.domain, undefined, '__Host- cookies have no Domain');
}

function assertCleared(res) {
  const c = setCookie(res);
  assert.ok(c, `the cookie is cleared: ${JSON.stringify(res.headers)}`);
  assert.equal(c.value, '');
  assert.equal(c.attrs['max-age'], '0');
}

describe('dashboard cookie session', () => {
  let mock, gw;
  before(async () => {
    mock = await startMock();
    gw = await startGateway({ mock });
  });
  after(async () => {
    await gw?.destroy();
    await mock?.stop();
  });

  // a browser-like call: the cookie, and the CSRF token on unsafe methods when given
  const call = (cookie, method, path, { csrf, body, headers = {} } = {}) =>
    gw.api(null, method, path, body, {
      cookie: `theme=dark; ${COOKIE}=${cookie}; other=1`,
      ...(csrf ? { 'x-csrf-token': csrf } : {}),
      ...headers,
    });
  const keyCount = async (token) => {
    const r = await gw.api(token, 'GET', '/keys');
    assert.equal(r.status, 200, r.text);
    return r.json.keys.length;
  };

  let s, cookie, csrf, bearer;
  it('signup asking for a cookie session gets the cookie and a CSRF token, never the token in the body', async () => {
    s = await gw.signup({ headers: { 'x-ingate-session': 'cookie' } });
    assert.equal(s.token, undefined, 'no session token in the body');
    assert.match(s.csrf_token, CSRF_RE);
    assert.ok(s.api_key.startsWith('sk-ingate-'), 'the first key is still shown once');
    // the same signup without the header is the script's: a token, no cookie
    const plain = await gw.api(null, 'POST', '/signup', {
      email: `${uid('u')}@example.com`,
      password: 'a long passphrase here',
      org_slug: uid('org'),
      org_name: 'Plain',
    });
    assert.equal(plain.status, 201);
    assert.ok(plain.json.token);
    assert.equal(plain.json.csrf_token, undefined);
    assert.equal(setCookie(plain), undefined);
    bearer = plain.json.token;
  });

  it('login with the header sets a cookie with every flag; /me with it returns the same CSRF token', async () => {
    const r = await gw.api(null, 'POST', '/login', { email: s.email, password: s.password }, {
      'x-ingate-session': 'cookie',
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.token, undefined);
    assert.match(r.json.csrf_token, CSRF_RE);
    assert.notEqual(r.json.csrf_token, s.csrf_token, 'each session has its own CSRF token');
    const c = setCookie(r);
    assertSessionCookie(c);
    cookie = c.value;
    csrf = r.json.csrf_token;
    const me = await call(cookie, 'GET', '/me');
    assert.equal(me.status, 200, me.text);
    assert.equal(me.json.user.email, s.email);
    assert.equal(me.json.org.role, 'owner');
    assert.equal(me.json.csrf_token, csrf);
    // a Bearer session's /me has no CSRF token: it needs none
    const bm = await gw.api(bearer, 'GET', '/me');
    assert.equal(bm.status, 200);
    assert.equal(bm.json.csrf_token, undefined);
  });

  it('a state-changing call without the right CSRF token or from another origin is refused and changes nothing', async () => {
    const before = await keyCount(s.api_key);
    const body = { name: 'from-browser' };
    assertFlatError(await call(cookie, 'POST', '/keys', { body }), 403, 'csrf_failed');
    assertFlatError(await call(cookie, 'POST', '/keys', { body, csrf: 'x'.repeat(43) }), 403, 'csrf_failed');
    assertFlatError(await call(cookie, 'POST', '/keys', { body, csrf: s.csrf_token }), 403, 'csrf_failed');
    assertFlatError(await call(cookie, 'POST', '/keys', { body, csrf: csrf.slice(0, 42) }), 403, 'csrf_failed');
    assertFlatError(
      await call(cookie, 'POST', '/keys', { body, csrf, headers: { origin: 'https://evil.example' } }),
      403,
      'csrf_failed'
    );
    assertFlatError(
      await call(cookie, 'POST', '/keys', { body, csrf, headers: { origin: `http://127.0.0.1:${gw.port}` } }),
      403,
      'csrf_failed'
    );
    assertFlatError(
      await call(cookie, 'POST', '/keys', { body, csrf, headers: { 'sec-fetch-site': 'cross-site' } }),
      403,
      'csrf_failed'
    );
    assertFlatError(await call(cookie, 'DELETE', '/keys/0123456789abcdef0123456789abcdef'), 403, 'csrf_failed');
    // even a read is refused when the browser says another site asked for it
    assertFlatError(await call(cookie, 'GET', '/me', { headers: { 'sec-fetch-site': 'cross-site' } }), 403, 'csrf_failed');
    assert.equal(await keyCount(s.api_key), before, 'no key was created');
    // this origin, the right token: created
    const ok = await call(cookie, 'POST', '/keys', {
      body,
      csrf,
      headers: { origin: `https://127.0.0.1:${gw.port}`, 'sec-fetch-site': 'same-origin' },
    });
    assert.equal(ok.status, 201, ok.text);
    assert.equal(await keyCount(s.api_key), before + 1);
  });

  it('an explicit credential wins over the cookie; the cookie is no credential for the proxy', async () => {
    const r = await gw.api('not-a-token', 'GET', '/me', undefined, { cookie: `${COOKIE}=${cookie}` });
    assertFlatError(r, 401);
    const p = await gw.request({
      method: 'POST',
      path: '/v1/chat/completions',
      headers: { cookie: `${COOKIE}=${cookie}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [] }),
    });
    assert.equal(p.status, 401, p.text);
    assert.equal((await mock.requests()).length, 0, 'nothing reached the upstream');
  });

  it('refresh replaces the cookie and the CSRF token; the old cookie then gets 401 and is cleared', async () => {
    const r = await call(cookie, 'POST', '/token/refresh', { csrf });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.token, undefined);
    assert.match(r.json.csrf_token, CSRF_RE);
    assert.notEqual(r.json.csrf_token, csrf);
    const c = setCookie(r);
    assertSessionCookie(c);
    assert.notEqual(c.value, cookie);
    const old = await call(cookie, 'GET', '/me');
    assertFlatError(old, 401, 'invalid_session');
    assertCleared(old);
    cookie = c.value;
    csrf = r.json.csrf_token;
    assert.equal((await call(cookie, 'GET', '/me')).status, 200);
  });

  it('a garbage or expired cookie gets 401 and is cleared', async () => {
    const r = await call('eyJhbGciOiJIUzI1NiJ9.e30.' + 'A'.repeat(43), 'GET', '/org');
    assertFlatError(r, 401, 'invalid_session');
    assertCleared(r);
  });

  it('logout needs the CSRF token, clears the cookie and ends the session', async () => {
    assertFlatError(await call(cookie, 'POST', '/logout'), 403, 'csrf_failed');
    assert.equal((await call(cookie, 'GET', '/me')).status, 200, 'a refused logout logs nobody out');
    const r = await call(cookie, 'POST', '/logout', { csrf });
    assert.equal(r.status, 200, r.text);
    assertCleared(r);
    const after = await call(cookie, 'GET', '/me');
    assertFlatError(after, 401, 'invalid_session');
  });
});
