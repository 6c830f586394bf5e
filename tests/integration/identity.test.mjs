// Identity: signup, login, session tokens (JWT HS256 backed by a store row), logout, refresh, password
// change, live roles (demotion, removal), bcrypt kept off the event loop, and the per-address brute-force
// limiter of signup / login / invitation accept (exact 429 body, Retry-After, separate buckets,
// X-Forwarded-For only through trusted proxies, sliding-window recovery). Finally no password, token,
// invitation token or raw key used here is found on disk or in the gateway's output.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import {
  startMock,
  startGateway,
  assertFlatError,
  assertOpenAIError,
  assertSecurityHeaders,
  listFiles,
  sleep,
  T,
  uid,
  newEmail,
  newPassword,
  decodeJwt,
  b64url,
  randomId,
  LOOSE_AUTH_ARGS,
} from './lib/harness.mjs';

const JWT_RE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/;
const KEY_RE = /^sk-ingate-[0-9A-Za-z]{49}$/;
const HEX32 = /^[0-9a-f]{32}$/;
const RATE_BODY_RE = /^\{"error": "rate limit exceeded", "error_code": "rate_limited", "retry_after_seconds": (\d+)\}$/;
const DEFAULT_SESSION_TTL_S = 900;

// every secret this file handles, grepped for at the end
const SECRETS = new Set();
const keep = (...xs) => {
  for (const x of xs) if (x) SECRETS.add(x);
};
const gateways = [];

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

describe('identity', () => {
  let mock, gw;
  const chat = (g, key, headers = {}) =>
    g.request({
      method: 'POST',
      path: '/v1/chat/completions',
      headers: { 'x-ingate-key': key, 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ model: 'gpt-identity', messages: [] }),
    });
  const signup = async (g, opts) => {
    const s = await g.signup(opts);
    keep(s.password, s.token, s.api_key);
    return s;
  };

  before(async () => {
    mock = await startMock();
    gw = await startGateway({ mock, args: LOOSE_AUTH_ARGS });
    gateways.push(gw);
  });
  after(async () => {
    for (const g of gateways) await g.destroy();
    await mock?.stop();
  });

  describe('signup', () => {
    it('creates an org (plan free), its owner, a working API key and a working session', async () => {
      const slug = uid('acme');
      const t0 = Math.floor(Date.now() / 1000);
      const r = await gw.api(null, 'POST', '/signup', {
        email: 'Founder.' + slug + '@Example.TEST',
        password: 'founder-password-' + slug,
        org_slug: slug,
        org_name: 'Acme Ltd',
        display_name: 'Ada',
      });
      keep('founder-password-' + slug);
      assert.equal(r.status, 201, r.text);
      assertSecurityHeaders(r, 'POST /api/v1/signup');
      const s = r.json;
      keep(s.token, s.api_key);
      assert.deepEqual(Object.keys(s).sort(), ['api_key', 'expires_at', 'key', 'org', 'token', 'user']);
      assert.deepEqual(Object.keys(s.org).sort(), ['id', 'name', 'plan', 'slug']);
      assert.match(s.org.id, HEX32);
      assert.equal(s.org.slug, slug);
      assert.equal(s.org.name, 'Acme Ltd');
      assert.equal(s.org.plan, 'free');
      assert.match(s.user.id, HEX32);
      assert.equal(s.user.email, `founder.${slug}@example.test`, 'the email is stored lower-cased');
      assert.equal(s.user.display_name, 'Ada');
      assert.match(s.api_key, KEY_RE);
      assert.deepEqual(s.key.role, 'member');
      assert.match(s.key.id, HEX32);
      assert.match(s.token, JWT_RE);
      assert.ok(Math.abs(s.expires_at - (t0 + DEFAULT_SESSION_TTL_S)) <= 5, `expires_at ${s.expires_at}`);
      assert.ok(!r.text.includes('founder-password'), 'the password is echoed');
      assert.ok(!r.text.includes('$2b$'), 'a password hash is in the response');

      // the API key works on the proxy (once a provider key is set) and on the management API
      await gw.setProviderKey(slug, 'openai', 'sk-prov-identity-signup');
      await mock.clear();
      const c = await chat(gw, s.api_key, { 'x-test-id': 'signup-key' });
      assert.equal(c.status, 200, c.text);
      const rec = await mock.waitFor('signup-key');
      assert.equal(rec.headers.find(([n]) => n.toLowerCase() === 'authorization')?.[1], 'Bearer sk-prov-identity-signup');
      const keys = await gw.api(s.api_key, 'GET', '/keys');
      assert.equal(keys.status, 200, keys.text);
      const mine = keys.json.keys.find((k) => k.id === s.key.id);
      assert.ok(mine, 'the signup key is listed');
      assert.equal(mine.created_by, s.user.id);
      assert.equal(mine.role, 'member');

      // the session token works: the owner of the new org
      const me = await gw.api(s.token, 'GET', '/me');
      assert.equal(me.status, 200, me.text);
      assert.equal(me.json.user.id, s.user.id);
      assert.equal(me.json.org.id, s.org.id);
      assert.equal(me.json.org.role, 'owner');
      const billing = await gw.api(s.token, 'GET', '/org/billing');
      assert.equal(billing.status, 200, 'the owner session reaches an owner-only route');
      assert.equal(billing.json.plan, 'free');
      const { header, payload } = decodeJwt(s.token);
      assert.deepEqual(header, { alg: 'HS256', typ: 'JWT' });
      assert.deepEqual(Object.keys(payload).sort(), ['exp', 'iat', 'jti', 'org', 'sub']);
      assert.equal(payload.sub, s.user.id);
      assert.equal(payload.org, s.org.id);
      assert.match(payload.jti, HEX32);
      assert.equal(payload.exp, s.expires_at);
    });

    it('refuses invalid input with 400 naming the field, and creates nothing', async () => {
      const db = new Database(path.join(gw.dataDir, 'ingate.db'), { readonly: true, fileMustExist: true });
      const count = () => ({
        users: db.prepare('SELECT count(*) AS n FROM users').get().n,
        orgs: db.prepare('SELECT count(*) AS n FROM orgs').get().n,
        keys: db.prepare('SELECT count(*) AS n FROM api_keys').get().n,
      });
      const before = count();
      const email = newEmail('val');
      const slug = uid('val');
      const password = newPassword();
      keep(password);
      const good = { email, password, org_slug: slug, org_name: 'Validated' };
      const cases = [
        [{ ...good, email: 'not-an-email' }, 'invalid_request', 'email'],
        [{ ...good, email: 'a@b' }, 'invalid_request', 'email'],
        [{ ...good, email: 'two@@example.test' }, 'invalid_request', 'email'],
        [{ ...good, email: 123 }, 'invalid_request', 'email'],
        [{ ...good, email: undefined }, 'invalid_request', 'email'],
        [{ ...good, password: 'elevenchars' }, 'invalid_password', 'password'],
        [{ ...good, password: 'x'.repeat(73) }, 'invalid_password', 'password'], // bcrypt reads 72 bytes
        [{ ...good, password: 'é'.repeat(37) }, 'invalid_password', 'password'], // 37 chars, 74 bytes
        [{ ...good, password: 12345678901234 }, 'invalid_request', 'password'],
        [{ ...good, password: '' }, 'invalid_request', 'password'],
        [{ ...good, org_slug: 'Bad_Slug' }, 'invalid_request', 'org_slug'],
        [{ ...good, org_slug: 'a' }, 'invalid_request', 'org_slug'],
        [{ ...good, org_slug: 'x'.repeat(65) }, 'invalid_request', 'org_slug'],
        [{ ...good, org_slug: 'has space' }, 'invalid_request', 'org_slug'],
        [{ ...good, org_name: undefined }, 'invalid_request', 'org_name'],
        [{ ...good, org_name: 'x'.repeat(129) }, 'invalid_request', 'org_name'],
        [{ ...good, display_name: 'x'.repeat(129) }, 'invalid_request', 'display_name'],
        [{ ...good, role: 'owner' }, 'invalid_request', 'role'],
      ];
      for (const [body, code, field] of cases) {
        const r = await gw.api(null, 'POST', '/signup', body);
        assertFlatError(r, 400, code);
        assert.equal(r.json.field, field, `${JSON.stringify(body).slice(0, 120)} → ${r.text}`);
        assert.match(r.json.request_id, /^[0-9a-f-]{36}$/);
        assert.ok(!r.text.includes(password), 'the password is echoed in an error');
      }
      // bodies that are not one valid JSON object: 400 invalid_json
      const raw = [
        `{"email":"${email}","email":"${email}","password":"${password}","org_slug":"${slug}","org_name":"x"}`,
        Buffer.concat([
          Buffer.from(`{"email":"${email}","password":"${password}`),
          Buffer.from([0xc3, 0x28]), // invalid UTF-8
          Buffer.from(`","org_slug":"${slug}","org_name":"x"}`),
        ]),
        `{"email":"${email}","password":"${password}\\ud800xxxx","org_slug":"${slug}","org_name":"x"}`,
        '[]',
        '',
        '{"email":',
      ];
      for (const body of raw) assertFlatError(await gw.api(null, 'POST', '/signup', body), 400, 'invalid_json');
      assert.deepEqual(count(), before, 'a refused signup wrote rows');
      db.close();
      // the exact values are still free: the same email and slug now sign up
      const ok = await signup(gw, { email, password, slug });
      assert.equal(ok.org.slug, slug);
      // 72 bytes is the limit, not 71
      await signup(gw, { password: 'y'.repeat(72) });
    });

    it('409 for a taken email or slug reveals nothing else, and writes nothing', async () => {
      const a = await signup(gw);
      const freshSlug = uid('free');
      const freshEmail = newEmail('free');
      const pw = newPassword();
      keep(pw);
      const check = (r, code, field) => {
        assertFlatError(r, 409, code);
        assert.equal(r.json.field, field);
        assert.deepEqual(Object.keys(r.json).sort(), ['error', 'error_code', 'field', 'request_id']);
        for (const s of [a.user.id, a.org.id, a.org.slug, a.email, a.key.id])
          assert.ok(!r.text.includes(s), `the 409 body names ${s}: ${r.text}`);
      };
      check(await gw.api(null, 'POST', '/signup', { email: a.email, password: pw, org_slug: freshSlug, org_name: 'x' }), 'email_taken', 'email');
      check(
        await gw.api(null, 'POST', '/signup', { email: a.email.toUpperCase(), password: pw, org_slug: freshSlug, org_name: 'x' }),
        'email_taken',
        'email'
      );
      check(await gw.api(null, 'POST', '/signup', { email: freshEmail, password: pw, org_slug: a.org.slug, org_name: 'x' }), 'org_slug_taken', 'org_slug');
      // nothing was created by the refused attempts
      assertFlatError(await gw.login(freshEmail, pw), 401, 'invalid_credentials');
      const again = await signup(gw, { email: freshEmail, password: pw, slug: freshSlug });
      assert.equal(again.org.slug, freshSlug);
      // the first account is untouched: its password still logs in, into its own org
      const l = await gw.login(a.email, a.password);
      assert.equal(l.status, 200);
      assert.equal(l.json.org.id, a.org.id);
      keep(l.json.token);
    });
  });

  describe('login and sessions', () => {
    let owner;
    before(async () => {
      owner = await signup(gw, { displayName: 'Owner' });
    });

    it('returns a token, its expiry, the user and the orgs', async () => {
      const t0 = Math.floor(Date.now() / 1000);
      const r = await gw.login(owner.email.toUpperCase(), owner.password); // emails match case-insensitively
      assert.equal(r.status, 200, r.text);
      assertSecurityHeaders(r, 'POST /api/v1/login');
      keep(r.json.token);
      assert.deepEqual(Object.keys(r.json).sort(), ['expires_at', 'org', 'orgs', 'token', 'user']);
      assert.match(r.json.token, JWT_RE);
      assert.ok(Math.abs(r.json.expires_at - (t0 + DEFAULT_SESSION_TTL_S)) <= 5);
      assert.deepEqual(r.json.user, { id: owner.user.id, email: owner.email, display_name: 'Owner' });
      assert.deepEqual(r.json.orgs, [{ id: owner.org.id, slug: owner.org.slug, name: owner.org.name, role: 'owner', plan: 'free' }]);
      assert.deepEqual(r.json.org, { id: owner.org.id, slug: owner.org.slug, role: 'owner' });
      assert.notEqual(r.json.token, owner.token, 'a fresh token per login');
      assert.notEqual(decodeJwt(r.json.token).payload.jti, decodeJwt(owner.token).payload.jti);
      assert.ok(!r.text.includes(owner.password));
      // both sessions are valid at once
      assert.equal((await gw.api(r.json.token, 'GET', '/me')).status, 200);
      assert.equal((await gw.api(owner.token, 'GET', '/me')).status, 200);
      // bodies are validated like signup's
      assert.equal((await gw.api(null, 'POST', '/login', { email: owner.email })).json.field, 'password');
      assert.equal((await gw.api(null, 'POST', '/login', { password: owner.password })).json.field, 'email');
      const extra = await gw.api(null, 'POST', '/login', { email: owner.email, password: owner.password, remember: true });
      assertFlatError(extra, 400, 'invalid_request');
      assert.equal(extra.json.field, 'remember');
      assertFlatError(await gw.api(null, 'POST', '/login', `{"email":"${owner.email}","email":"x@y.z","password":"p"}`), 400, 'invalid_json');
    });

    it('an unknown email and a wrong password answer alike, at a similar cost', async () => {
      const unknown = () => gw.login(newEmail('ghost'), 'wrong-password-123');
      const wrong = () => gw.login(owner.email, 'wrong-password-123');
      const a = await unknown();
      const b = await wrong();
      for (const r of [a, b]) assertFlatError(r, 401, 'invalid_credentials');
      assert.equal(a.json.error, b.json.error);
      assert.deepEqual(Object.keys(a.json).sort(), Object.keys(b.json).sort());
      assert.deepEqual(Object.keys(a.json).sort(), ['error', 'error_code', 'request_id']);
      assert.equal(a.headers['content-type'], b.headers['content-type']);
      // timing: both paths run one bcrypt verification at the same cost. Interleaved samples, medians.
      const ta = [],
        tb = [];
      for (let i = 0; i < 7; i++) {
        const x = await unknown();
        ta.push(x.endAt - x.started);
        const y = await wrong();
        tb.push(y.endAt - y.started);
        assert.equal(x.status, 401);
        assert.equal(y.status, 401);
      }
      const ma = median(ta),
        mb = median(tb);
      // --bcrypt-cost 10 is ~65 ms per hash on the reference machine; neither path may skip the hash
      assert.ok(ma >= 15 && mb >= 15, `a path without bcrypt work: unknown ${ma} ms, wrong password ${mb} ms`);
      // each unknown/wrong pair ran back to back, so a pair sees the same machine load: compare the median of
      // the pairs' ratios (medians of the two series mislead when the load changes halfway through a run)
      const r = median(ta.map((x, i) => x / tb[i]));
      const ratio = Math.max(r, 1 / r);
      assert.ok(
        ratio < 2,
        `unknown email (${JSON.stringify(ta)} ms) and wrong password (${JSON.stringify(tb)} ms) ` +
          `differ by ${ratio.toFixed(2)}x pair by pair: the account's existence is observable`
      );
    });

    it('a user of several orgs picks one with "org" at login and at refresh', async () => {
      const u = await signup(gw);
      const other = await signup(gw);
      const add = await gw.api(other.token, 'POST', '/members', { email: u.email, role: 'viewer' });
      assert.equal(add.status, 201, add.text);
      assert.equal(add.json.member.user_id, u.user.id);
      assert.equal(add.json.member.role, 'viewer');
      assert.ok(!('invite_token' in add.json), 'an existing user is added, not invited');

      const def = await gw.login(u.email, u.password);
      assert.equal(def.status, 200);
      keep(def.json.token);
      assert.equal(def.json.org.id, u.org.id, 'without a choice: the oldest membership');
      assert.deepEqual(
        def.json.orgs.map((o) => [o.slug, o.role]).sort(),
        [
          [u.org.slug, 'owner'],
          [other.org.slug, 'viewer'],
        ].sort()
      );
      for (const choice of [other.org.slug, other.org.id]) {
        const r = await gw.login(u.email, u.password, choice);
        assert.equal(r.status, 200, r.text);
        keep(r.json.token);
        assert.deepEqual(r.json.org, { id: other.org.id, slug: other.org.slug, role: 'viewer' });
        assert.equal(decodeJwt(r.json.token).payload.org, other.org.id);
        const me = await gw.api(r.json.token, 'GET', '/me');
        assert.equal(me.json.org.id, other.org.id);
        assert.equal(me.json.org.role, 'viewer');
        // the token acts in org B only, with B's role
        assertFlatError(await gw.api(r.json.token, 'GET', '/keys'), 403, 'forbidden');
        const orgGet = await gw.api(r.json.token, 'GET', '/org');
        assert.equal(orgGet.json.org.id, other.org.id);
      }
      const notMember = await gw.login(u.email, u.password, uid('nosuch'));
      assertFlatError(notMember, 403, 'not_a_member');
      assert.equal(notMember.json.field, 'org');
      assert.ok(!('token' in notMember.json));

      // refresh into org A from a token of org B: new token for A, the old one is dead
      const bTok = await gw.loginToken(u.email, u.password, other.org.slug);
      keep(bTok);
      const ref = await gw.api(bTok, 'POST', '/token/refresh', { org: u.org.slug });
      assert.equal(ref.status, 200, ref.text);
      keep(ref.json.token);
      assert.deepEqual(ref.json.org, { id: u.org.id, slug: u.org.slug, role: 'owner' });
      assert.equal((await gw.api(ref.json.token, 'GET', '/me')).json.org.id, u.org.id);
      assertFlatError(await gw.api(bTok, 'GET', '/me'), 401, 'invalid_session');
      // refresh to an org the user is not in
      const bad = await gw.api(ref.json.token, 'POST', '/token/refresh', { org: uid('nosuch') });
      assertFlatError(bad, 403, 'not_a_member');
      assert.equal((await gw.api(ref.json.token, 'GET', '/me')).status, 200, 'a refused refresh keeps the token');
    });

    it('refresh without a body renews the same org and revokes the presented token', async () => {
      const t1 = await gw.loginToken(owner.email, owner.password);
      keep(t1);
      const r = await gw.api(t1, 'POST', '/token/refresh');
      assert.equal(r.status, 200, r.text);
      keep(r.json.token);
      assert.match(r.json.token, JWT_RE);
      assert.equal(r.json.org.id, owner.org.id);
      assert.notEqual(decodeJwt(r.json.token).payload.jti, decodeJwt(t1).payload.jti);
      assertFlatError(await gw.api(t1, 'GET', '/me'), 401, 'invalid_session');
      assertFlatError(await gw.api(t1, 'POST', '/token/refresh'), 401, 'invalid_session');
      assert.equal((await gw.api(r.json.token, 'GET', '/me')).status, 200);
      assertFlatError(await gw.api(r.json.token, 'POST', '/token/refresh', { colour: 'red' }), 400, 'invalid_request');
    });

    it('refuses tampered, forged and misplaced tokens with 401 invalid_session', async () => {
      const tok = await gw.loginToken(owner.email, owner.password);
      const other = await signup(gw);
      keep(tok);
      const [h, p, s] = tok.split('.');
      const payload = decodeJwt(tok).payload;
      const flip = (str, i) => str.slice(0, i) + (str[i] === 'A' ? 'B' : 'A') + str.slice(i + 1);
      const forged = {
        'alg none, no signature': `${b64url('{"alg":"none","typ":"JWT"}')}.${p}.`,
        'alg none, original signature': `${b64url('{"alg":"none","typ":"JWT"}')}.${p}.${s}`,
        'alg HS512 header': `${b64url('{"alg":"HS512","typ":"JWT"}')}.${p}.${s}`,
        'alg hs256 lower-case': `${b64url('{"alg":"hs256","typ":"JWT"}')}.${p}.${s}`,
        'extra header member': `${b64url('{"alg":"HS256","typ":"JWT","kid":"1"}')}.${p}.${s}`,
        'payload sub replaced': `${h}.${b64url(JSON.stringify({ ...payload, sub: other.user.id }))}.${s}`,
        'payload org replaced': `${h}.${b64url(JSON.stringify({ ...payload, org: other.org.id }))}.${s}`,
        'payload exp extended': `${h}.${b64url(JSON.stringify({ ...payload, exp: payload.exp + 86400 }))}.${s}`,
        'signature changed': `${h}.${p}.${flip(s, 10)}`,
        'signature of another token': `${h}.${p}.${other.token.split('.')[2]}`,
        'signature truncated': `${h}.${p}.${s.slice(0, 42)}`,
        'signature padded': `${h}.${p}.${s}=`,
        'two segments': `${h}.${p}`,
        'four segments': `${tok}.${s}`,
        'another user header+payload, own signature': `${other.token.split('.')[0]}.${other.token.split('.')[1]}.${s}`,
        garbage: 'not-a-token',
        'random id': randomId(),
      };
      for (const [what, t] of Object.entries(forged)) {
        const r = await gw.api(t, 'GET', '/me');
        assertFlatError(r, 401, 'invalid_session');
        assert.equal(r.json.error_code, 'invalid_session', what);
        assertSecurityHeaders(r, what);
      }
      // the untampered token still works (the cases above are refused for their change, not by accident)
      assert.equal((await gw.api(tok, 'GET', '/me')).status, 200);
      // a session token is not a proxy credential
      const p1 = await gw.request({
        method: 'POST',
        path: '/v1/chat/completions',
        headers: { authorization: `Bearer ${tok}`, 'content-type': 'application/json' },
        body: '{"model":"gpt-x","messages":[]}',
      });
      assertOpenAIError(p1, 401);
      // no credential at all, and an unknown key, on a session route
      assertFlatError(await gw.api(null, 'GET', '/me'), 401);
      const mk = await gw.api(null, 'GET', '/me', undefined, { 'x-ingate-key': 'sk-ingate-' + 'A'.repeat(49) });
      assertFlatError(mk, 401, 'invalid_api_key');
    });

    it('logout revokes exactly the presented token', async () => {
      const t1 = await gw.loginToken(owner.email, owner.password);
      const t2 = await gw.loginToken(owner.email, owner.password);
      keep(t1, t2);
      const r = await gw.api(t1, 'POST', '/logout');
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json, { logged_out: true });
      assertFlatError(await gw.api(t1, 'GET', '/me'), 401, 'invalid_session');
      assertFlatError(await gw.api(t1, 'POST', '/logout'), 401, 'invalid_session');
      assertFlatError(await gw.api(t1, 'POST', '/token/refresh'), 401, 'invalid_session');
      assert.equal((await gw.api(t2, 'GET', '/me')).status, 200, 'another session of the same user was revoked');
      // logout is for sessions: an API key gets 403 session_required
      assertFlatError(await gw.api(owner.api_key, 'POST', '/logout'), 403, 'session_required');
    });

    it('a password change revokes every session of the user; the old password stops working', async () => {
      const u = await signup(gw);
      const t1 = await gw.loginToken(u.email, u.password);
      const t2 = await gw.loginToken(u.email, u.password);
      keep(t1, t2);
      const newPw = newPassword('newpw');
      keep(newPw);
      const wrong = await gw.api(t1, 'PUT', '/me/password', { current_password: 'not-the-password-1', new_password: newPw });
      assertFlatError(wrong, 403, 'invalid_credentials');
      assert.equal(wrong.json.field, 'current_password');
      const weak = await gw.api(t1, 'PUT', '/me/password', { current_password: u.password, new_password: 'short' });
      assertFlatError(weak, 400, 'invalid_password');
      assert.equal(weak.json.field, 'new_password');
      const long = await gw.api(t1, 'PUT', '/me/password', { current_password: u.password, new_password: 'z'.repeat(73) });
      assertFlatError(long, 400, 'invalid_password');
      assertFlatError(await gw.api(u.api_key, 'PUT', '/me/password', { current_password: u.password, new_password: newPw }), 403, 'session_required');
      // the refused attempts changed nothing
      assert.equal((await gw.api(t2, 'GET', '/me')).status, 200);

      const ok = await gw.api(t1, 'PUT', '/me/password', { current_password: u.password, new_password: newPw });
      assert.equal(ok.status, 200, ok.text);
      assert.match(ok.json.token, JWT_RE);
      keep(ok.json.token);
      assert.ok(!ok.text.includes(newPw) && !ok.text.includes(u.password));
      for (const t of [t1, t2, u.token]) assertFlatError(await gw.api(t, 'GET', '/me'), 401, 'invalid_session');
      const me = await gw.api(ok.json.token, 'GET', '/me');
      assert.equal(me.status, 200, 'the token returned by the change works');
      assert.equal(me.json.user.id, u.user.id);
      assertFlatError(await gw.login(u.email, u.password), 401, 'invalid_credentials');
      const l = await gw.login(u.email, newPw);
      assert.equal(l.status, 200);
      keep(l.json.token);
      // the org's API keys are not sessions: they keep working
      assert.equal((await gw.api(u.api_key, 'GET', '/keys')).status, 200);
    });

    it('a demotion counts on the very next request with the same token (and lowers the keys)', async () => {
      const o = await signup(gw);
      const adm = await gw.join(o.token, 'admin');
      keep(adm.password, adm.token, adm.inviteToken);
      assert.equal((await gw.api(adm.token, 'GET', '/members')).status, 200);
      const k = await gw.api(adm.token, 'POST', '/keys', { name: 'admin-made', role: 'admin' });
      assert.equal(k.status, 201, k.text);
      keep(k.json.api_key);
      assert.equal(k.json.key.created_by, adm.userId);
      assert.equal((await gw.api(k.json.api_key, 'GET', '/members')).status, 200);

      const d = await gw.api(o.token, 'PATCH', `/members/${adm.userId}`, { role: 'member' });
      assert.equal(d.status, 200, d.text);
      assert.deepEqual(d.json.member, { user_id: adm.userId, role: 'member', previous_role: 'admin' });
      assertFlatError(await gw.api(adm.token, 'GET', '/members'), 403, 'forbidden');
      assertFlatError(await gw.api(adm.token, 'POST', '/teams', { name: 'x' }), 403, 'forbidden');
      assert.equal((await gw.api(adm.token, 'GET', '/keys')).status, 200, 'a member still reads keys');
      assert.equal((await gw.api(adm.token, 'GET', '/me')).json.org.role, 'member');
      // the admin key the user made is lowered with them
      assertFlatError(await gw.api(k.json.api_key, 'GET', '/members'), 403, 'forbidden');
      const listed = (await gw.api(o.token, 'GET', '/keys')).json.keys.find((x) => x.id === k.json.key.id);
      assert.equal(listed.role, 'member');
      // promotion back also counts at once
      assert.equal((await gw.api(o.token, 'PATCH', `/members/${adm.userId}`, { role: 'admin' })).status, 200);
      assert.equal((await gw.api(adm.token, 'GET', '/members')).status, 200);
    });

    it("a removal kills the member's sessions and revokes the keys they created", async () => {
      const o = await signup(gw);
      await gw.setProviderKey(o.org.slug, 'openai', 'sk-prov-identity-removal');
      const m = await gw.join(o.token, 'member');
      keep(m.password, m.token, m.inviteToken);
      const k = await gw.api(m.token, 'POST', '/keys', { name: 'members-key' });
      assert.equal(k.status, 201, k.text);
      keep(k.json.api_key);
      assert.equal((await chat(gw, k.json.api_key)).status, 200);
      const t2 = await gw.loginToken(m.email, m.password);
      keep(t2);

      const r = await gw.api(o.token, 'DELETE', `/members/${m.userId}`);
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json, { removed: m.userId });
      for (const t of [m.token, t2]) assertFlatError(await gw.api(t, 'GET', '/me'), 401, 'invalid_session');
      assert.equal((await chat(gw, k.json.api_key)).status, 401, 'the removed member’s key still proxies');
      assertFlatError(await gw.api(k.json.api_key, 'GET', '/keys'), 401);
      const listed = (await gw.api(o.token, 'GET', '/keys')).json.keys.find((x) => x.id === k.json.key.id);
      assert.equal(listed.revoked, true);
      // the owner's own key is untouched
      assert.equal((await chat(gw, o.api_key)).status, 200);
      // the user still exists but belongs to no org
      const l = await gw.login(m.email, m.password);
      assertFlatError(l, 403, 'no_org');
      assert.ok(!('token' in l.json));
      const members = (await gw.api(o.token, 'GET', '/members')).json.members.map((x) => x.user_id);
      assert.deepEqual(members, [o.user.id]);
    });
  });

  describe('bcrypt runs off the event loop', () => {
    let g;
    before(async () => {
      // one loop thread: if hashing ran on it, every /healthz would queue behind the logins
      g = await startGateway({ args: ['--bcrypt-cost', '13', '--workers', '2'], threads: 1 });
      gateways.push(g);
    });

    it('30 /healthz answer while 6 logins at cost 13 are being verified', async () => {
      const u = await g.signup();
      keep(u.password, u.token, u.api_key);
      const logins = [];
      for (let i = 0; i < 6; i++) logins.push(g.login(u.email, u.password));
      await sleep(20); // let the login requests reach the gateway first
      const health = [];
      for (let i = 0; i < 30; i++) {
        const r = await g.request({ path: '/healthz' });
        assert.equal(r.status, 200);
        health.push(r.endAt);
      }
      const done = await Promise.all(logins);
      for (const r of done) {
        assert.equal(r.status, 200, r.text);
        keep(r.json.token);
      }
      const lastLogin = Math.max(...done.map((r) => r.endAt));
      const lastHealth = Math.max(...health);
      assert.ok(
        lastHealth < lastLogin,
        `the last /healthz ended ${lastHealth - lastLogin} ms after the last login: the loop waited for bcrypt`
      );
    });
  });

  describe('auth rate limiter (default: 10 attempts per 15 min per address)', () => {
    let g, user;
    const assert429 = (r, what) => {
      assert.equal(r.status, 429, `${what}: ${r.status} ${r.text}`);
      const m = RATE_BODY_RE.exec(r.text);
      assert.ok(m, `${what}: body is not exactly the documented one: ${JSON.stringify(r.text)}`);
      const n = Number(m[1]);
      assert.ok(n > 0 && n <= 900, `${what}: retry_after_seconds ${n}`);
      assert.equal(r.headers['retry-after'], String(n), `${what}: Retry-After`);
      assert.match(r.headers['content-type'] || '', /application\/json/);
      assertSecurityHeaders(r, what);
      return n;
    };
    before(async () => {
      g = await startGateway({});
      gateways.push(g);
      user = await g.signup(); // signup bucket: 1 of 10
      keep(user.password, user.token, user.api_key);
    });

    it('allows exactly 10 login POSTs whatever they answer; the 11th is 429 with the exact body', async () => {
      const statuses = [];
      const first = await g.login(user.email, user.password);
      statuses.push(first.status);
      keep(first.json?.token);
      for (let i = 0; i < 4; i++) statuses.push((await g.login(user.email, 'wrong-password-' + i)).status);
      for (let i = 0; i < 3; i++) statuses.push((await g.api(null, 'POST', '/login', '{"email":')).status);
      for (let i = 0; i < 2; i++) statuses.push((await g.api(null, 'POST', '/login', { email: user.email })).status);
      assert.deepEqual(statuses, [200, 401, 401, 401, 401, 400, 400, 400, 400, 400]);
      // not POST: not an attempt, not limited
      const get = await g.api(null, 'GET', '/login');
      assert.equal(get.status, 405);
      const n = assert429(await g.login(user.email, user.password), 'the 11th login (right password)');
      assert.ok(n > 800, `retry_after_seconds ${n}: the window is 900 s and the oldest attempt is seconds old`);
      assert429(await g.api(null, 'POST', '/login', '{}'), 'the 12th login');
      // the limit is on the unauthenticated routes only
      assert.equal((await g.api(first.json.token, 'GET', '/me')).status, 200);
      assert.equal((await g.api(user.api_key, 'GET', '/keys')).status, 200);
      assert.equal((await g.request({ path: '/healthz' })).status, 200);
    });

    it('X-Forwarded-For from an untrusted peer changes nothing', async () => {
      for (const xff of ['203.0.113.7', '198.51.100.1, 203.0.113.8', '2001:db8::1'])
        assert429(await g.api(null, 'POST', '/login', { email: user.email, password: user.password }, { 'x-forwarded-for': xff }), `XFF ${xff}`);
    });

    it('signup has its own bucket', async () => {
      const statuses = [];
      for (let i = 0; i < 9; i++) statuses.push((await g.api(null, 'POST', '/signup', {})).status);
      assert.deepEqual(statuses, Array(9).fill(400), 'signup is not limited by the login attempts');
      assert429(await g.api(null, 'POST', '/signup', { email: newEmail(), password: newPassword(), org_slug: uid('lim'), org_name: 'x' }), 'the 11th signup');
    });

    it('invitation accept has its own bucket', async () => {
      const statuses = [];
      for (let i = 0; i < 10; i++)
        statuses.push((await g.api(null, 'POST', '/invitations/accept', { token: 'ig_inv_' + 'A'.repeat(43), password: 'whatever-password' })).status);
      assert.deepEqual(statuses, Array(10).fill(404));
      assert429(await g.api(null, 'POST', '/invitations/accept', { token: 'ig_inv_x', password: 'whatever-password' }), 'the 11th accept');
    });

    it('a password change is limited per user too (a stolen session is no password oracle)', async () => {
      const tok = user.token; // still valid: issued at signup
      const statuses = [];
      for (let i = 0; i < 11; i++)
        statuses.push((await g.api(tok, 'PUT', '/me/password', { current_password: 'wrong-password-' + i, new_password: newPassword() })).status);
      assert.deepEqual(statuses.slice(0, 10), Array(10).fill(403));
      assert.equal(statuses[10], 429);
    });
  });

  describe('auth rate limiter behind a trusted proxy', () => {
    let g;
    before(async () => {
      g = await startGateway({ args: ['--trusted-proxies', '127.0.0.1'] });
      gateways.push(g);
    });
    const attempt = (xff) => g.api(null, 'POST', '/login', '{"email":', xff ? { 'x-forwarded-for': xff } : {});

    it('each forwarded client address has its own budget; a forged left part does not help', async () => {
      const s = [];
      for (let i = 0; i < 10; i++) s.push((await attempt('198.51.100.1')).status);
      assert.deepEqual(s, Array(10).fill(400));
      assert.equal((await attempt('198.51.100.1')).status, 429);
      assert.equal((await attempt('198.51.100.2')).status, 400, 'another client address shares the budget');
      assert.equal((await attempt('203.0.113.50, 198.51.100.1')).status, 429, 'a client-written hop was believed');
      assert.equal((await attempt('198.51.100.1, 127.0.0.1')).status, 429, 'trusted hops are skipped');
      assert.equal((await attempt(null)).status, 400, 'the proxy itself (no XFF) has its own budget');
      assert.equal((await attempt('not-an-address')).status, 400, 'a malformed hop falls back to the peer');
    });

    it('IPv6 clients share a budget per /64', async () => {
      for (let i = 0; i < 10; i++) assert.equal((await attempt(`2001:db8:1:2::${i + 1}`)).status, 400);
      assert.equal((await attempt('2001:db8:1:2:ffff:ffff:ffff:ffff')).status, 429);
      assert.equal((await attempt('2001:db8:1:3::1')).status, 400);
    });
  });

  describe('auth rate limiter window', () => {
    let g;
    before(async () => {
      g = await startGateway({ args: ['--auth-rate-limit', '3', '--auth-rate-window-ms', '2000'] });
      gateways.push(g);
    });

    it('lets a client in again when its oldest attempt leaves the sliding window, however hard it retries', async () => {
      const first = await g.api(null, 'POST', '/login', '{}');
      assert.equal(first.status, 400);
      assert.equal((await g.api(null, 'POST', '/login', '{}')).status, 400);
      assert.equal((await g.api(null, 'POST', '/login', '{}')).status, 400);
      const refused = await g.api(null, 'POST', '/login', '{}');
      assert.equal(refused.status, 429);
      const n = Number(refused.headers['retry-after']);
      assert.ok(n >= 1 && n <= 2, `Retry-After ${n} for a 2 s window`);
      assert.equal(refused.json.retry_after_seconds, n);
      // hammer: refused attempts are not counted, so they do not push the lockout out
      let allowed;
      const deadline = Date.now() + T(6000);
      while (Date.now() < deadline) {
        const r = await g.api(null, 'POST', '/login', '{}');
        if (r.status !== 429) {
          allowed = r;
          break;
        }
        await sleep(50);
      }
      assert.ok(allowed, 'still refused long after the window');
      assert.equal(allowed.status, 400);
      assert.ok(allowed.endAt - first.started >= 2000, `let in ${allowed.endAt - first.started} ms after the first attempt`);
    });
  });

  describe('--auth-rate-limit accepts its documented range', () => {
    it('starts with --auth-rate-limit 10000 (the documented maximum) and does not limit 11 attempts', async () => {
      const g = await startGateway({ args: ['--auth-rate-limit', '10000', '--bcrypt-cost', '10'] });
      gateways.push(g);
      for (let i = 0; i < 11; i++) assert.equal((await g.api(null, 'POST', '/login', '{}')).status, 400);
    });
  });

  it('no password, session token, invitation token or API key is on disk or in the output', async () => {
    for (const g of gateways) if (g.running) await g.stop();
    const list = [...SECRETS].filter((s) => typeof s === 'string' && s.length >= 12);
    assert.ok(list.length > 40, `only ${list.length} secrets collected`);
    // the signature is the secret part of a token; header and payload are only ids
    const needles = list.flatMap((s) => (JWT_RE.test(s) ? [s, s.split('.')[2]] : s.startsWith('sk-ingate-') ? [s, s.slice(10)] : [s]));
    const hits = [];
    for (const g of gateways) {
      const files = [...(await listFiles(g.dataDir)), g.stdoutPath, g.stderrPath];
      assert.ok(files.some((f) => f.endsWith('ingate.db')));
      for (const f of files) {
        const buf = fs.readFileSync(f);
        for (const s of needles)
          for (const enc of ['utf8', 'utf16le']) if (buf.includes(Buffer.from(s, enc))) hits.push(`${f}: ${s.slice(0, 14)}… (${enc})`);
      }
    }
    assert.deepEqual(hits, [], `secrets found:\n${hits.join('\n')}`);
  });
});
