// Role-based access to the management API: the complete route table × role × credential kind (API key or
// session token), checked against src/api/api.c's ROUTES so a new route without a row here fails; 401 before
// routing for every non-public path; escalation rules (nobody grants above their own role, only owners touch
// owners, the last owner stays, keys above the caller's role cannot be revoked or rotated, transfer); and
// tenant isolation: another org's real ids answer exactly like missing ones and change nothing.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startMock, startGateway, assertFlatError, assertSecurityHeaders, REPO_ROOT, uid, newEmail, randomId, LOOSE_AUTH_ARGS } from './lib/harness.mjs';

const ROLES = ['viewer', 'member', 'admin', 'owner'];
const RANK = { viewer: 0, member: 1, admin: 2, owner: 3 };

// The route table as the tests understand it: [method, pattern, min role ('public' = no credential), session
// only]. Must match ROUTES in src/api/api.c exactly (checked below).
const TABLE = [
  ['POST', '/api/v1/signup', 'public', false],
  ['POST', '/api/v1/login', 'public', false],
  ['POST', '/api/v1/invitations/accept', 'public', false],
  ['POST', '/api/v1/token/refresh', 'viewer', true],
  ['POST', '/api/v1/logout', 'viewer', true],
  ['GET', '/api/v1/me', 'viewer', true],
  ['PUT', '/api/v1/me/password', 'viewer', true],
  ['GET', '/api/v1/org', 'viewer', false],
  ['PUT', '/api/v1/org', 'admin', false],
  ['DELETE', '/api/v1/org', 'owner', false],
  ['POST', '/api/v1/org/transfer', 'owner', true],
  ['GET', '/api/v1/org/billing', 'owner', false],
  ['PUT', '/api/v1/org/billing', 'owner', false],
  ['GET', '/api/v1/members', 'admin', false],
  ['POST', '/api/v1/members', 'admin', false],
  ['PATCH', '/api/v1/members/:', 'admin', false],
  ['DELETE', '/api/v1/members/:', 'admin', false],
  ['GET', '/api/v1/invitations', 'admin', false],
  ['DELETE', '/api/v1/invitations/:', 'admin', false],
  ['GET', '/api/v1/teams', 'viewer', false],
  ['POST', '/api/v1/teams', 'admin', false],
  ['DELETE', '/api/v1/teams/:', 'admin', false],
  ['GET', '/api/v1/apps', 'viewer', false],
  ['POST', '/api/v1/apps', 'admin', false],
  ['DELETE', '/api/v1/apps/:', 'admin', false],
  ['GET', '/api/v1/keys', 'member', false],
  ['POST', '/api/v1/keys', 'member', false],
  ['PUT', '/api/v1/keys/:', 'admin', false],
  ['DELETE', '/api/v1/keys/:', 'member', false],
  ['POST', '/api/v1/keys/:/rotate', 'member', false],
  ['GET', '/api/v1/providers', 'viewer', false],
  ['PUT', '/api/v1/providers/:', 'admin', false],
  ['DELETE', '/api/v1/providers/:', 'admin', false],
  ['GET', '/api/v1/logs', 'viewer', false],
  ['GET', '/api/v1/logs/:', 'viewer', false],
  ['GET', '/api/v1/usage/summary', 'viewer', false],
  ['GET', '/api/v1/usage/timeseries', 'viewer', false],
  ['GET', '/api/v1/webhooks', 'admin', false],
  ['POST', '/api/v1/webhooks', 'admin', false],
  ['GET', '/api/v1/webhooks/:', 'admin', false],
  ['PUT', '/api/v1/webhooks/:', 'admin', false],
  ['DELETE', '/api/v1/webhooks/:', 'admin', false],
  ['GET', '/api/v1/webhooks/:/deliveries', 'admin', false],
  ['POST', '/api/v1/webhooks/:/test', 'admin', false],
  ['GET', '/api/v1/budgets', 'viewer', false],
  ['POST', '/api/v1/budgets', 'admin', false],
  ['GET', '/api/v1/budgets/:', 'viewer', false],
  ['PUT', '/api/v1/budgets/:', 'admin', false],
  ['DELETE', '/api/v1/budgets/:', 'admin', false],
  ['GET', '/api/v1/budgets/:/status', 'viewer', false],
  ['GET', '/api/v1/audit', 'viewer', false],
  ['GET', '/api/v1/audit/verify', 'viewer', false],
  ['GET', '/api/v1/audit/:', 'viewer', false],
];

// For each route: a concrete call whose outcome, once allowed, is known and harmless (the fixtures survive):
// [path, body, expected status when allowed]. fresh: needs a session of its own (it ends the session).
const MISSING = randomId();
const CALLS = {
  'POST /api/v1/signup': ['/signup', {}, 400],
  'POST /api/v1/login': ['/login', {}, 400],
  'POST /api/v1/invitations/accept': ['/invitations/accept', {}, 400],
  'POST /api/v1/token/refresh': ['/token/refresh', { bogus: 1 }, 400],
  'POST /api/v1/logout': ['/logout', undefined, 200, { fresh: true }],
  'GET /api/v1/me': ['/me', undefined, 200],
  'PUT /api/v1/me/password': ['/me/password', { bogus: 1 }, 400],
  'GET /api/v1/org': ['/org', undefined, 200],
  'PUT /api/v1/org': ['/org', {}, 400],
  'DELETE /api/v1/org': ['/org', { confirm: 'not-the-slug' }, 400],
  'POST /api/v1/org/transfer': ['/org/transfer', { user_id: MISSING }, 404],
  'GET /api/v1/org/billing': ['/org/billing', undefined, 200],
  'PUT /api/v1/org/billing': ['/org/billing', {}, 400],
  'GET /api/v1/members': ['/members', undefined, 200],
  'POST /api/v1/members': ['/members', {}, 400],
  'PATCH /api/v1/members/:': [`/members/${MISSING}`, { role: 'viewer' }, 404],
  'DELETE /api/v1/members/:': [`/members/${MISSING}`, undefined, 404],
  'GET /api/v1/invitations': ['/invitations', undefined, 200],
  'DELETE /api/v1/invitations/:': [`/invitations/${MISSING}`, undefined, 404],
  'GET /api/v1/teams': ['/teams', undefined, 200],
  'POST /api/v1/teams': ['/teams', {}, 400],
  'DELETE /api/v1/teams/:': [`/teams/${MISSING}`, undefined, 404],
  'GET /api/v1/apps': ['/apps', undefined, 200],
  'POST /api/v1/apps': ['/apps', {}, 400],
  'DELETE /api/v1/apps/:': [`/apps/${MISSING}`, undefined, 404],
  'GET /api/v1/keys': ['/keys', undefined, 200],
  'POST /api/v1/keys': ['/keys', { bogus: 1 }, 400],
  'PUT /api/v1/keys/:': [`/keys/${MISSING}`, { rate_limits: { requests_per_minute: 5, tokens_per_minute: null } }, 404],
  'DELETE /api/v1/keys/:': [`/keys/${MISSING}`, undefined, 404],
  'POST /api/v1/keys/:/rotate': [`/keys/${MISSING}/rotate`, undefined, 404],
  'GET /api/v1/providers': ['/providers', undefined, 200],
  'PUT /api/v1/providers/:': ['/providers/openai', { bogus: 1 }, 400],
  'DELETE /api/v1/providers/:': ['/providers/anthropic', undefined, 404], // never configured in org A
  'GET /api/v1/logs': ['/logs', undefined, 200],
  'GET /api/v1/logs/:': [`/logs/${MISSING}`, undefined, 404],
  'GET /api/v1/usage/summary': ['/usage/summary', undefined, 200],
  'GET /api/v1/usage/timeseries': ['/usage/timeseries', undefined, 200],
  'GET /api/v1/webhooks': ['/webhooks', undefined, 200],
  'POST /api/v1/webhooks': ['/webhooks', {}, 400],
  'GET /api/v1/webhooks/:': [`/webhooks/${MISSING}`, undefined, 404],
  'PUT /api/v1/webhooks/:': [`/webhooks/${MISSING}`, { enabled: false }, 404],
  'DELETE /api/v1/webhooks/:': [`/webhooks/${MISSING}`, undefined, 404],
  'GET /api/v1/webhooks/:/deliveries': [`/webhooks/${MISSING}/deliveries`, undefined, 404],
  'POST /api/v1/webhooks/:/test': [`/webhooks/${MISSING}/test`, undefined, 404],
  'GET /api/v1/budgets': ['/budgets', undefined, 200],
  'POST /api/v1/budgets': ['/budgets', {}, 400],
  'GET /api/v1/budgets/:': [`/budgets/${MISSING}`, undefined, 404],
  'PUT /api/v1/budgets/:': [`/budgets/${MISSING}`, { hard_limit_usd: 1 }, 404],
  'DELETE /api/v1/budgets/:': [`/budgets/${MISSING}`, undefined, 404],
  'GET /api/v1/budgets/:/status': [`/budgets/${MISSING}/status`, undefined, 404],
  'GET /api/v1/audit': ['/audit', undefined, 200],
  'GET /api/v1/audit/verify': ['/audit/verify', undefined, 200],
  'GET /api/v1/audit/:': [`/audit/${MISSING}`, undefined, 404],
};

/** ROUTES of src/api/api.c as [method, pattern, min role, session only]. */
function routesFromC() {
  const src = fs.readFileSync(path.join(REPO_ROOT, 'src/api/api.c'), 'utf8');
  const start = src.indexOf('ROUTES[] = {');
  assert.ok(start > 0, 'ROUTES[] not found in src/api/api.c');
  const block = src.slice(start, src.indexOf('};', start));
  const re = /\{\s*"([A-Z]+)"\s*,\s*"([^"]+)"\s*,\s*(R_PUBLIC|IG_STORE_ROLE_([A-Z]+))\s*,\s*([^,]+?)\s*,\s*\w+\s*\}/g;
  const out = [];
  for (const m of block.matchAll(re)) out.push([m[1], m[2], m[3] === 'R_PUBLIC' ? 'public' : m[4].toLowerCase(), /F_SESSION/.test(m[5])]);
  const entries = (block.match(/\{\s*"[A-Z]+"/g) || []).length;
  assert.equal(out.length, entries, 'a ROUTES entry the parser did not understand');
  return out;
}

describe('role-based access control', () => {
  let mock, gw;
  // org A: keys of every role, sessions of users of every role
  const A = { keys: {}, users: {} };
  let B; // another org (signup owner)

  before(async () => {
    mock = await startMock();
    gw = await startGateway({ mock, args: LOOSE_AUTH_ARGS });
    const owner = await gw.signup();
    A.org = owner.org;
    A.owner = owner;
    A.users.owner = { email: owner.email, password: owner.password, userId: owner.user.id, token: owner.token };
    for (const role of ['viewer', 'member', 'admin']) A.users[role] = await gw.join(owner.token, role);
    for (const role of ROLES) A.keys[role] = await gw.createKey(A.org.slug, role);
    await gw.setProviderKey(A.org.slug, 'openai', 'sk-prov-rbac-a');
    B = await gw.signup();
    await gw.setProviderKey(B.org.slug, 'openai', 'sk-prov-rbac-b');
    B.ownerKey = await gw.createKey(B.org.slug, 'owner');
  });
  after(async () => {
    await gw?.destroy();
    await mock?.stop();
  });

  it('the matrix covers exactly the routes of src/api/api.c', () => {
    const c = routesFromC();
    assert.equal(TABLE.length, c.length, `the test table has ${TABLE.length} routes, ROUTES has ${c.length}`);
    const key = (r) => r.join(' ');
    assert.deepEqual(TABLE.map(key).sort(), c.map(key).sort());
    for (const [m, p] of TABLE) assert.ok(CALLS[`${m} ${p}`], `no call defined for ${m} ${p}`);
  });

  it('every route × role × credential: allowed exactly when the table says', async () => {
    const failures = [];
    for (const [method, pattern, min, sessionOnly] of TABLE) {
      const [p, body, okStatus, opt = {}] = CALLS[`${method} ${pattern}`];
      for (const role of ROLES) {
        for (const kind of ['key', 'session']) {
          let cred;
          if (kind === 'key') cred = A.keys[role].key;
          else if (opt.fresh) cred = await gw.loginToken(A.users[role].email, A.users[role].password);
          else cred = A.users[role].token;
          const r = await gw.api(cred, method, p, body);
          const what = `${method} ${p} as ${role} ${kind}`;
          let want, code;
          if (min === 'public') want = okStatus;
          else if (RANK[role] < RANK[min]) (want = 403), (code = 'forbidden');
          else if (sessionOnly && kind === 'key') (want = 403), (code = 'session_required');
          else want = okStatus;
          if (r.status !== want || (code && r.json?.error_code !== code))
            failures.push(`${what}: want ${want}${code ? ' ' + code : ''}, got ${r.status} ${r.text.slice(0, 160)}`);
          if (r.status >= 400 && typeof r.json?.error !== 'string') failures.push(`${what}: not a flat error: ${r.text.slice(0, 100)}`);
        }
      }
    }
    assert.deepEqual(failures, [], `\n${failures.join('\n')}`);
    // the fixtures survived the matrix
    for (const role of ROLES) assert.equal((await gw.api(A.users[role].token, 'GET', '/me')).json.org.role, role);
  });

  it('public routes ignore credentials, even broken ones', async () => {
    for (const cred of [null, 'garbage-token', A.keys.viewer.key, A.users.viewer.token])
      for (const p of ['/signup', '/login', '/invitations/accept']) assertFlatError(await gw.api(cred, 'POST', p, {}), 400);
  });

  it('401 for every non-public route without a credential, or with a bad one, before routing', async () => {
    const bad = [null, 'not-a-jwt', 'sk-ingate-' + 'A'.repeat(49)];
    const failures = [];
    for (const [method, pattern, min] of TABLE) {
      if (min === 'public') continue;
      const [p, body] = CALLS[`${method} ${pattern}`];
      for (const cred of bad) {
        const r = await gw.api(cred, method, p, body);
        if (r.status !== 401 || typeof r.json?.error !== 'string') failures.push(`${method} ${p} with ${cred}: ${r.status} ${r.text}`);
      }
    }
    // unknown paths and wrong methods too: nothing about the route table is revealed without a credential
    for (const [method, p] of [
      ['GET', '/api/v1/nope'],
      ['GET', '/api/v1'],
      ['GET', '/api/v1/'],
      ['GET', '/api'],
      ['DELETE', '/api/v1/me'],
      ['GET', '/api/v1/signup/../keys'],
      ['PATCH', '/api/v1/keys'],
    ]) {
      const r = await gw.request({ method, path: p });
      if (r.status === 404 || r.status === 405 || r.status === 200) failures.push(`${method} ${p} without a credential: ${r.status} ${r.text}`);
    }
    assert.deepEqual(failures, [], `\n${failures.join('\n')}`);
    const r = await gw.api(null, 'GET', '/nope');
    assertFlatError(r, 401, 'missing_api_key');
    assertSecurityHeaders(r, 'GET /api/v1/nope');
    // with a credential the unknown path is a 404
    assertFlatError(await gw.api(A.keys.viewer.key, 'GET', '/nope'), 404, 'not_found');
    assertFlatError(await gw.api(A.users.viewer.token, 'GET', '/nope'), 404, 'not_found');
  });

  describe('escalation', () => {
    let E; // a fresh org with an owner, an admin, a member, a viewer
    before(async () => {
      const o = await gw.signup();
      E = { org: o.org, owner: { ...o, userId: o.user.id } };
      E.admin = await gw.join(o.token, 'admin');
      E.member = await gw.join(o.token, 'member');
      E.viewer = await gw.join(o.token, 'viewer');
      E.keys = {};
      for (const role of ROLES) E.keys[role] = await gw.createKey(E.org.slug, role);
    });
    const roleOf = async (userId) =>
      (await gw.api(E.owner.token, 'GET', '/members')).json.members.find((m) => m.user_id === userId)?.role;

    it('an admin cannot grant owner, by invitation or by role change', async () => {
      for (const cred of [E.admin.token, E.keys.admin.key]) {
        const inv = await gw.api(cred, 'POST', '/members', { email: newEmail('esc'), role: 'owner' });
        assertFlatError(inv, 403, 'forbidden');
        assert.equal(inv.json.field, 'role');
        const existing = await gw.api(cred, 'POST', '/members', { email: (await gw.signup()).email, role: 'owner' });
        assertFlatError(existing, 403, 'forbidden');
        assertFlatError(await gw.api(cred, 'PATCH', `/members/${E.member.userId}`, { role: 'owner' }), 403, 'forbidden');
      }
      assert.equal(await roleOf(E.member.userId), 'member');
      assert.equal((await gw.api(E.owner.token, 'GET', '/invitations')).json.invitations.filter((i) => i.role === 'owner').length, 0);
      // up to their own role is fine
      const ok = await gw.api(E.admin.token, 'POST', '/members', { email: newEmail('esc'), role: 'admin' });
      assert.equal(ok.status, 201, ok.text);
      assert.equal(ok.json.invitation.role, 'admin');
      assert.equal(ok.json.invitation.invited_by, E.admin.userId);
    });

    it('an admin cannot demote or remove an owner', async () => {
      for (const cred of [E.admin.token, E.keys.admin.key]) {
        assertFlatError(await gw.api(cred, 'PATCH', `/members/${E.owner.userId}`, { role: 'admin' }), 403, 'forbidden');
        assertFlatError(await gw.api(cred, 'PATCH', `/members/${E.owner.userId}`, { role: 'viewer' }), 403, 'forbidden');
        assertFlatError(await gw.api(cred, 'DELETE', `/members/${E.owner.userId}`), 403, 'forbidden');
      }
      assert.equal(await roleOf(E.owner.userId), 'owner');
      assert.equal((await gw.api(E.owner.token, 'GET', '/org/billing')).status, 200);
    });

    it('nobody acts on a role above their own or grants one', async () => {
      // an admin cannot promote themselves
      assertFlatError(await gw.api(E.admin.token, 'PATCH', `/members/${E.admin.userId}`, { role: 'owner' }), 403, 'forbidden');
      // member and viewer cannot manage members at all
      for (const who of [E.member.token, E.viewer.token, E.keys.member.key, E.keys.viewer.key]) {
        assertFlatError(await gw.api(who, 'PATCH', `/members/${E.viewer.userId}`, { role: 'member' }), 403, 'forbidden');
        assertFlatError(await gw.api(who, 'POST', '/members', { email: newEmail(), role: 'viewer' }), 403, 'forbidden');
      }
      // key creation: no key above the creator
      for (const [cred, role] of [
        [E.member.token, 'admin'],
        [E.keys.member.key, 'admin'],
        [E.member.token, 'owner'],
        [E.admin.token, 'owner'],
        [E.keys.admin.key, 'owner'],
      ]) {
        const r = await gw.api(cred, 'POST', '/keys', { name: 'esc', role });
        assertFlatError(r, 403, 'forbidden');
        assert.equal(r.json.field, 'role');
      }
      const own = await gw.api(E.member.token, 'POST', '/keys', { name: 'own', role: 'member' });
      assert.equal(own.status, 201);
      assert.equal(own.json.key.role, 'member');
      const lower = await gw.api(E.admin.token, 'POST', '/keys', { name: 'low', role: 'viewer' });
      assert.equal(lower.json.key.role, 'viewer');
      // a viewer key cannot create keys at all
      assertFlatError(await gw.api(E.keys.viewer.key, 'POST', '/keys', {}), 403, 'forbidden');
      assert.equal(await roleOf(E.admin.userId), 'admin');
      assert.equal(await roleOf(E.viewer.userId), 'viewer');
    });

    it('a key cannot revoke or rotate a key whose role is above its own', async () => {
      const cases = [
        [E.keys.admin.key, E.keys.owner.id],
        [E.admin.token, E.keys.owner.id],
        [E.keys.member.key, E.keys.admin.id],
        [E.member.token, E.keys.admin.id],
        [E.member.token, E.keys.owner.id],
      ];
      for (const [cred, target] of cases) {
        assertFlatError(await gw.api(cred, 'DELETE', `/keys/${target}`), 403, 'forbidden');
        assertFlatError(await gw.api(cred, 'POST', `/keys/${target}/rotate`), 403, 'forbidden');
      }
      const keys = (await gw.api(E.keys.owner.key, 'GET', '/keys')).json.keys;
      for (const id of [E.keys.owner.id, E.keys.admin.id]) assert.equal(keys.find((k) => k.id === id).revoked, false);
      // all the targets still authenticate
      assert.equal((await gw.api(E.keys.owner.key, 'GET', '/org/billing')).status, 200);
      assert.equal((await gw.api(E.keys.admin.key, 'GET', '/members')).status, 200);
      // at or below the caller's role is allowed
      const victim = await gw.createKey(E.org.slug, 'member');
      const rv = await gw.api(E.keys.member.key, 'DELETE', `/keys/${victim.id}`);
      assert.equal(rv.status, 200, rv.text);
      assert.equal(rv.json.key.revoked, true);
    });

    it('the last owner can be neither demoted nor removed (409 last_owner)', async () => {
      for (const cred of [E.owner.token, E.keys.owner.key]) {
        assertFlatError(await gw.api(cred, 'PATCH', `/members/${E.owner.userId}`, { role: 'admin' }), 409, 'last_owner');
        assertFlatError(await gw.api(cred, 'DELETE', `/members/${E.owner.userId}`), 409, 'last_owner');
      }
      assert.equal(await roleOf(E.owner.userId), 'owner');
    });

    it('after a transfer the old owner is admin and the new one owner, on their next requests', async () => {
      assertFlatError(await gw.api(E.admin.token, 'POST', '/org/transfer', { user_id: E.member.userId }), 403, 'forbidden');
      assertFlatError(await gw.api(E.keys.owner.key, 'POST', '/org/transfer', { user_id: E.admin.userId }), 403, 'session_required');
      assertFlatError(await gw.api(E.owner.token, 'POST', '/org/transfer', { user_id: randomId() }), 404);
      const self = await gw.api(E.owner.token, 'POST', '/org/transfer', { user_id: E.owner.userId });
      assertFlatError(self, 400, 'invalid_request');
      assert.equal(self.json.field, 'user_id');
      const r = await gw.api(E.owner.token, 'POST', '/org/transfer', { user_id: E.admin.userId });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json, { owner: E.admin.userId, previous_owner_role: 'admin' });
      // same tokens, new roles
      assertFlatError(await gw.api(E.owner.token, 'GET', '/org/billing'), 403, 'forbidden');
      assert.equal((await gw.api(E.owner.token, 'GET', '/me')).json.org.role, 'admin');
      assert.equal((await gw.api(E.owner.token, 'GET', '/members')).status, 200, 'the old owner is an admin');
      assert.equal((await gw.api(E.admin.token, 'GET', '/org/billing')).status, 200);
      assert.equal((await gw.api(E.admin.token, 'GET', '/me')).json.org.role, 'owner');
      assert.equal(await roleOf(E.owner.userId), 'admin');
      assert.equal(await roleOf(E.admin.userId), 'owner');
      // the new owner is now the last owner; the old one can no longer touch them
      assertFlatError(await gw.api(E.owner.token, 'DELETE', `/members/${E.admin.userId}`), 403, 'forbidden');
      assertFlatError(await gw.api(E.admin.token, 'PATCH', `/members/${E.admin.userId}`, { role: 'admin' }), 409, 'last_owner');
      // and the new owner can demote the old one further
      const d = await gw.api(E.admin.token, 'PATCH', `/members/${E.owner.userId}`, { role: 'viewer' });
      assert.equal(d.status, 200, d.text);
      assert.equal(d.json.member.previous_role, 'admin');
    });
  });

  describe('cross-org isolation', () => {
    let ids;
    before(async () => {
      const ownerA = A.owner.token;
      const team = await gw.api(ownerA, 'POST', '/teams', { name: 'iso-team' });
      assert.equal(team.status, 201, team.text);
      const app = await gw.api(ownerA, 'POST', '/apps', { name: 'iso-app', team_id: team.json.team.id });
      assert.equal(app.status, 201, app.text);
      const inv = await gw.api(ownerA, 'POST', '/members', { email: newEmail('iso'), role: 'viewer' });
      assert.equal(inv.status, 201, inv.text);
      const audit = await gw.api(ownerA, 'GET', '/audit?limit=1');
      assert.equal(audit.json.entries.length, 1);
      ids = {
        key: A.keys.admin.id,
        user: A.users.viewer.userId,
        invitation: inv.json.invitation.id,
        team: team.json.team.id,
        app: app.json.app.id,
        audit: audit.json.entries[0].id,
      };
    });

    const snapshotA = async () => {
      const t = A.owner.token;
      const get = async (p) => {
        const r = await gw.api(t, 'GET', p);
        assert.equal(r.status, 200, `${p}: ${r.text}`);
        return r.json;
      };
      return {
        keys: (await get('/keys')).keys.map((k) => [k.id, k.role, k.revoked, k.expires_at, k.rate_limits]),
        members: (await get('/members')).members.map((m) => [m.user_id, m.role]),
        invitations: (await get('/invitations')).invitations.map((i) => i.id),
        teams: (await get('/teams')).teams.map((x) => x.id),
        apps: (await get('/apps')).apps.map((x) => [x.id, x.team_id]),
        providers: (await get('/providers')).providers.map((p) => [p.name, p.configured, p.fingerprint]),
        audit: (await get(`/audit/${ids.audit}`)).entry.hash,
        org: (await get('/org')).org,
      };
    };

    it("another org's real ids answer exactly like missing ones, and change nothing", async () => {
      const before = await snapshotA();
      const calls = [
        ['DELETE', (id) => `/keys/${id}`, undefined, ids.key],
        ['PUT', (id) => `/keys/${id}`, { rate_limits: { requests_per_minute: 1, tokens_per_minute: 1 } }, ids.key],
        ['POST', (id) => `/keys/${id}/rotate`, undefined, ids.key],
        ['POST', (id) => `/keys/${id}/rotate`, { overlap_seconds: 0 }, ids.key],
        ['PATCH', (id) => `/members/${id}`, { role: 'admin' }, ids.user],
        ['DELETE', (id) => `/members/${id}`, undefined, ids.user],
        ['DELETE', (id) => `/invitations/${id}`, undefined, ids.invitation],
        ['DELETE', (id) => `/teams/${id}`, undefined, ids.team],
        ['DELETE', (id) => `/apps/${id}`, undefined, ids.app],
        ['GET', (id) => `/audit/${id}`, undefined, ids.audit],
        ['POST', () => '/org/transfer', (id) => ({ user_id: id }), ids.user],
        ['POST', () => '/keys', (id) => ({ name: 'x', app_id: id }), ids.app],
        ['POST', () => '/apps', (id) => ({ name: uid('x'), team_id: id }), ids.team],
      ];
      const failures = [];
      for (const cred of [B.token, B.ownerKey.key]) {
        for (const [method, p, body, realId] of calls) {
          if (method === 'POST' && p(realId) === '/org/transfer' && cred === B.ownerKey.key) continue; // session only
          const mk = (id) => gw.api(cred, method, p(id), typeof body === 'function' ? body(id) : body);
          const real = await mk(realId);
          const missing = await mk(randomId());
          const what = `${method} ${p('<id>')} (${cred === B.token ? 'session' : 'key'})`;
          // a reference in a body may be a 400 (unknown_app / unknown_team); an id in the path is a 404
          const want = typeof body === 'function' && p(realId) !== '/org/transfer' ? [400, 404] : [404];
          if (!want.includes(real.status)) failures.push(`${what} with org A's id: ${real.status} ${real.text}`);
          if (real.status !== missing.status || real.json?.error_code !== missing.json?.error_code || real.json?.error !== missing.json?.error || real.json?.field !== missing.json?.field)
            failures.push(`${what}: A's id → ${real.status} ${real.text}; a missing id → ${missing.status} ${missing.text}`);
        }
      }
      // a provider name is an id too: B deleting "openai" touches only B's credential
      const delB = await gw.api(B.token, 'DELETE', '/providers/openai');
      assert.equal(delB.status, 200, delB.text);
      const again = await gw.api(B.token, 'DELETE', '/providers/openai');
      assertFlatError(again, 404);
      assert.deepEqual(failures, [], `\n${failures.join('\n')}`);
      assert.deepEqual(await snapshotA(), before, "org A changed after org B's calls");
      // A's credentials still work end to end
      const chat = await gw.request({
        method: 'POST',
        path: '/v1/chat/completions',
        headers: { 'x-ingate-key': A.keys.admin.key, 'content-type': 'application/json' },
        body: '{"model":"gpt-rbac","messages":[]}',
      });
      assert.equal(chat.status, 200, chat.text);
      assert.equal((await gw.api(A.users.viewer.token, 'GET', '/me')).status, 200);
    });

    it("listings never show another org's rows", async () => {
      const asB = async (p) => (await gw.api(B.token, 'GET', p)).text;
      for (const p of ['/keys', '/members', '/invitations', '/teams', '/apps', '/audit?limit=200', '/org', '/providers', '/me'])
        for (const id of [ids.key, ids.user, ids.invitation, ids.team, ids.app, ids.audit, A.org.id, A.owner.user.id])
          assert.ok(!(await asB(p)).includes(id), `GET ${p} as org B shows ${id}`);
    });

    it("a session names one org: org A's session cannot act in org B", async () => {
      // the same user in two orgs: the token of org A acts in A only
      const u = A.users.member;
      const add = await gw.api(B.token, 'POST', '/members', { email: u.email, role: 'admin' });
      assert.equal(add.status, 201, add.text);
      assertFlatError(await gw.api(u.token, 'GET', '/members'), 403, 'forbidden'); // member in A
      const tokB = await gw.loginToken(u.email, u.password, B.org.slug);
      const m = await gw.api(tokB, 'GET', '/members');
      assert.equal(m.status, 200);
      assert.ok(m.json.members.some((x) => x.user_id === B.user.id));
      assert.ok(!m.json.members.some((x) => x.user_id === A.owner.user.id));
      // removal from B kills the B session only
      assert.equal((await gw.api(B.token, 'DELETE', `/members/${u.userId}`)).status, 200);
      assertFlatError(await gw.api(tokB, 'GET', '/me'), 401, 'invalid_session');
      assert.equal((await gw.api(u.token, 'GET', '/me')).status, 200);
    });
  });
});
