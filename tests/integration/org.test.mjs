// The caller's organisation through the management API: settings (name, default provider, settings
// validation), billing plan (and `ingate admin set-plan`), members and invitations (one-time token, accept
// by a new or an existing user, revoke), teams and apps, key rotation with overlap, last_used_at and
// created_by, provider delete and rotation under concurrent load, ownership transfer, the audit log (each
// action's entry with actor, source address and request id; GET by id; filters; cursor), deleting the org
// (its keys fail on the very next request, its rows are gone), and finally no secret on disk or in the
// output, and verify-audit finding a tampered row.
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
  listFiles,
  waitFor,
  sleep,
  T,
  uid,
  newEmail,
  newPassword,
  randomId,
  header,
  LOOSE_AUTH_ARGS,
} from './lib/harness.mjs';

const INVITE_RE = /^ig_inv_[A-Za-z0-9_-]{43}$/;
const DAY_MS = 86400000;

const SECRETS = new Set();
const keep = (...xs) => {
  for (const x of xs) if (x) SECRETS.add(x);
};

describe('organisation management', () => {
  let mock, gw, O; // O: the owner (signup) of the org most tests act on
  // audit expectations: every audited call made here, checked in the audit test
  const AUDIT = [];
  const rid = (r) => r.headers['x-ingate-request-id'];
  const expectAudit = (r, action, actor, target) => AUDIT.push({ rid: rid(r), action, actor, target });
  const ok = async (cred, method, p, body, status = 200) => {
    const r = await gw.api(cred, method, p, body);
    assert.equal(r.status, status, `${method} ${p}: ${r.status} ${r.text}`);
    return r;
  };
  const chat = (key, headers = {}, p = '/v1/chat/completions') =>
    gw.request({
      method: 'POST',
      path: p,
      headers: { 'x-ingate-key': key, 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ model: 'gpt-org', max_tokens: 5, messages: [] }),
    });
  const signup = async () => {
    const s = await gw.signup();
    keep(s.password, s.token, s.api_key);
    return s;
  };
  const me = (s) => `user:${s.user?.id ?? s.userId}`;

  before(async () => {
    mock = await startMock();
    gw = await startGateway({ mock, args: LOOSE_AUTH_ARGS });
    O = await signup();
  });
  after(async () => {
    await gw?.destroy();
    await mock?.stop();
  });

  it('GET /org shows the org; PUT /org changes name, default provider and settings, validated', async () => {
    const g = await ok(O.token, 'GET', '/org');
    assert.deepEqual(Object.keys(g.json.org).sort(), ['created_at', 'default_provider', 'id', 'name', 'plan', 'settings', 'slug']);
    assert.equal(g.json.org.id, O.org.id);
    assert.equal(g.json.org.slug, O.org.slug);
    assert.equal(g.json.org.plan, 'free');
    assert.equal(g.json.org.default_provider, null);
    assert.deepEqual(g.json.org.settings, {});
    assert.ok(Math.abs(g.json.org.created_at - Date.now()) < 60000, `created_at ${g.json.org.created_at} (unix ms)`);

    let r = await ok(O.token, 'PUT', '/org', { name: 'Renamed Org ✓' });
    expectAudit(r, 'org.settings_update', me(O), O.org.id);
    assert.equal(r.json.org.name, 'Renamed Org ✓');
    assert.equal(r.json.org.slug, O.org.slug, 'the slug does not change');

    // provider keys (audited) and the default provider, seen by the proxy on the next request
    r = await ok(O.token, 'PUT', '/providers/openai', { api_key: 'sk-prov-org-openai' });
    expectAudit(r, 'provider.update', me(O), 'provider:openai');
    r = await ok(O.token, 'PUT', '/providers/anthropic', { api_key: 'sk-prov-org-anthropic' });
    expectAudit(r, 'provider.update', me(O), 'provider:anthropic');
    assertOpenAIError(await chat(O.api_key, {}, '/custom/endpoint'), 400, 'provider_required');
    for (const [body, code] of [
      [{ default_provider: 'nosuch' }, 'unknown_provider'],
      [{ default_provider: 5 }, 'unknown_provider'],
      [{ default_provider: '' }, 'unknown_provider'],
    ]) {
      const bad = await gw.api(O.token, 'PUT', '/org', body);
      assertFlatError(bad, 400, code);
      assert.equal(bad.json.field, 'default_provider');
    }
    r = await ok(O.token, 'PUT', '/org', { default_provider: 'anthropic' });
    assert.equal(r.json.org.default_provider, 'anthropic');
    await mock.clear();
    const viaDefault = await chat(O.api_key, { 'x-test-id': 'org-default' }, '/custom/endpoint');
    assert.equal(viaDefault.status, 200, viaDefault.text);
    const rec = await mock.waitFor('org-default');
    assert.equal(header(rec, 'x-api-key'), 'sk-prov-org-anthropic', 'the default provider was not used at once');
    r = await ok(O.token, 'PUT', '/org', { default_provider: null });
    assert.equal(r.json.org.default_provider, null);
    assertOpenAIError(await chat(O.api_key, {}, '/custom/endpoint'), 400, 'provider_required');

    r = await ok(O.token, 'PUT', '/org', { settings: { retention_days: 7, capture: 'metadata' } });
    assert.deepEqual(r.json.org.settings, { retention_days: 7, capture: 'metadata' });
    const badSettings = [
      { retention_days: 3651 },
      { retention_days: 14 },
      { retention_days: 1.5 },
      { retention_days: '30' },
      { capture: 'all' },
      { capture: true },
      { colour: 'blue' },
      { redaction: 'on' },
      { redaction: { enabled: 'yes' } },
      { redaction: { mode: 'blur' } },
      { redaction: { detectors: ['email', 'dna'] } },
      { redaction: { custom: ['(unclosed'] } },
      { redaction: { custom: 'x' } },
      [],
      'x',
      null,
      7,
    ];
    for (const settings of badSettings) {
      const bad = await gw.api(O.token, 'PUT', '/org', { settings });
      assertFlatError(bad, 400, 'invalid_request');
      assert.equal(bad.json.field, 'settings', JSON.stringify(settings));
    }
    // what the free plan does not include is refused, not stored and ignored
    for (const settings of [{ retention_days: 30 }, { retention_days: 0 }, { redaction: { enabled: true } }]) {
      const bad = await gw.api(O.token, 'PUT', '/org', { settings });
      assertFlatError(bad, 403, 'plan_required');
      assert.equal(bad.json.field, 'settings', JSON.stringify(settings));
    }
    for (const [body, field] of [
      [{}, 'name'],
      [{ name: '' }, 'name'],
      [{ name: 'x'.repeat(129) }, 'name'],
      [{ name: 'a\u0001b' }, 'name'],
      [{ slug: 'new-slug' }, 'slug'],
      [{ plan: 'enterprise' }, 'plan'],
    ]) {
      const bad = await gw.api(O.token, 'PUT', '/org', body);
      assertFlatError(bad, 400);
      assert.equal(bad.json.field, field, JSON.stringify(body));
    }
    const after = (await ok(O.token, 'GET', '/org')).json.org;
    assert.equal(after.name, 'Renamed Org ✓');
    assert.deepEqual(after.settings, { retention_days: 7, capture: 'metadata' }, 'a refused PUT changed the settings');
    assert.equal(after.plan, 'free', 'PUT /org changed the plan');
    // an admin key may change settings; audited with the key as actor
    const adminKey = await gw.createKey(O.org.slug, 'admin');
    keep(adminKey.key);
    r = await ok(adminKey.key, 'PUT', '/org', { settings: { retention_days: 7 } });
    expectAudit(r, 'org.settings_update', `key:${adminKey.id}`, O.org.id);
    assert.deepEqual(r.json.org.settings, { retention_days: 7 });
  });

  it('billing: owner only; the plan shows in /org, login and /me', async () => {
    assert.deepEqual((await ok(O.token, 'GET', '/org/billing')).json, { plan: 'free' });
    for (const body of [{ plan: 'gold' }, { plan: 'Enterprise' }, {}, { plan: 1 }]) {
      const bad = await gw.api(O.token, 'PUT', '/org/billing', body);
      assertFlatError(bad, 400, 'invalid_request');
      assert.equal(bad.json.field, 'plan');
    }
    const adm = await gw.createKey(O.org.slug, 'admin');
    assertFlatError(await gw.api(adm.key, 'PUT', '/org/billing', { plan: 'enterprise' }), 403, 'forbidden');
    const r = await ok(O.token, 'PUT', '/org/billing', { plan: 'enterprise' });
    assert.deepEqual(r.json, { plan: 'enterprise' });
    expectAudit(r, 'org.billing_update', me(O), 'enterprise');
    assert.equal((await ok(O.token, 'GET', '/org/billing')).json.plan, 'enterprise');
    assert.equal((await ok(O.token, 'GET', '/org')).json.org.plan, 'enterprise');
    const l = await gw.login(O.email, O.password);
    keep(l.json.token);
    assert.equal(l.json.orgs.find((o) => o.id === O.org.id).plan, 'enterprise');
    expectAudit(l, 'login.success', me(O), O.user.id);
    assert.equal((await ok(O.token, 'GET', '/me')).json.orgs.find((o) => o.id === O.org.id).plan, 'enterprise');
    // another org is untouched
    const other = await signup();
    assert.equal((await ok(other.token, 'GET', '/org/billing')).json.plan, 'free');
  });

  it('ingate admin set-plan changes the plan the API shows', async (t) => {
    const help = await gw.adminRaw(['--help']);
    if (!/set-plan/.test(help.stdout + help.stderr)) {
      t.skip('`ingate admin set-plan` is not implemented in this binary');
      return;
    }
    const probe = await gw.adminRaw(['set-plan', '--org', O.org.slug, '--plan', 'free']);
    assert.equal(probe.code, 0, probe.stderr);
    assert.equal((await ok(O.token, 'GET', '/org')).json.org.plan, 'free');
    assert.equal((await ok(O.token, 'GET', '/org/billing')).json.plan, 'free');
    const e = await gw.adminRaw(['set-plan', '--org', O.org.id, '--plan', 'enterprise']);
    assert.equal(e.code, 0, e.stderr);
    assert.equal((await ok(O.token, 'GET', '/org/billing')).json.plan, 'enterprise');
    const bad = await gw.adminRaw(['set-plan', '--org', O.org.slug, '--plan', 'gold']);
    assert.notEqual(bad.code, 0);
    const nosuch = await gw.adminRaw(['set-plan', '--org', uid('nosuch'), '--plan', 'free']);
    assert.notEqual(nosuch.code, 0);
    assert.equal((await ok(O.token, 'GET', '/org/billing')).json.plan, 'enterprise', 'a refused set-plan changed the plan');
  });

  describe('members and invitations', () => {
    it('adds an existing user directly; a second add is 409', async () => {
      const u = await signup();
      const r = await ok(O.token, 'POST', '/members', { email: u.email.toUpperCase(), role: 'member' }, 201);
      expectAudit(r, 'user.add', me(O), u.user.id);
      assert.deepEqual(Object.keys(r.json), ['member']);
      assert.equal(r.json.member.user_id, u.user.id);
      assert.equal(r.json.member.email, u.email);
      assert.equal(r.json.member.role, 'member');
      assertFlatError(await gw.api(O.token, 'POST', '/members', { email: u.email, role: 'viewer' }), 409, 'already_member');
      const tok = await gw.loginToken(u.email, u.password, O.org.slug);
      keep(tok);
      assert.equal((await ok(tok, 'GET', '/me')).json.org.role, 'member');
      // role change and removal are audited
      const p = await ok(O.token, 'PATCH', `/members/${u.user.id}`, { role: 'viewer' });
      expectAudit(p, 'user.role_change', me(O), u.user.id);
      const d = await ok(O.token, 'DELETE', `/members/${u.user.id}`);
      expectAudit(d, 'user.remove', me(O), u.user.id);
      assertFlatError(await gw.api(O.token, 'DELETE', `/members/${u.user.id}`), 404, 'not_found');
      for (const [body, field] of [
        [{ email: 'nope', role: 'viewer' }, 'email'],
        [{ email: newEmail(), role: 'boss' }, 'role'],
        [{ email: newEmail(), role: 'viewer', team: 'x' }, 'team'],
      ])
        assert.equal((await gw.api(O.token, 'POST', '/members', body)).json.field, field);
      assert.equal((await gw.api(O.token, 'PATCH', `/members/${O.user.id}`, {})).json.field, 'role');
    });

    it('invites a new email: the token is shown once, accepted once, and creates the user with a session', async () => {
      const email = newEmail('invitee');
      const t0 = Date.now();
      const r = await ok(O.token, 'POST', '/members', { email, role: 'viewer' }, 201);
      keep(r.json.invite_token);
      assert.deepEqual(Object.keys(r.json).sort(), ['invitation', 'invite_token']);
      assert.match(r.json.invite_token, INVITE_RE);
      const inv = r.json.invitation;
      expectAudit(r, 'user.invite', me(O), inv.id);
      assert.deepEqual(Object.keys(inv).sort(), ['created_at', 'email', 'expires_at', 'id', 'invited_by', 'role']);
      assert.equal(inv.email, email);
      assert.equal(inv.role, 'viewer');
      assert.equal(inv.invited_by, O.user.id);
      assert.ok(Math.abs(inv.expires_at - (t0 + 7 * DAY_MS)) < 60000, `expires_at ${inv.expires_at}: default 7 days`);
      const list = await ok(O.token, 'GET', '/invitations');
      assert.ok(list.json.invitations.some((i) => i.id === inv.id));
      assert.ok(!list.text.includes(r.json.invite_token) && !list.text.includes('ig_inv_'), 'the token is listed');
      assertFlatError(await gw.api(O.token, 'POST', '/members', { email, role: 'admin' }), 409, 'already_invited');

      // a password the policy refuses: nothing happens, the invitation stays usable
      const weak = await gw.api(null, 'POST', '/invitations/accept', { token: r.json.invite_token, password: 'short' });
      assertFlatError(weak, 400, 'invalid_password');
      assert.equal(weak.json.field, 'password');
      const pw = newPassword();
      keep(pw);
      const acc = await gw.api(null, 'POST', '/invitations/accept', { token: r.json.invite_token, password: pw, display_name: 'New Person' });
      assert.equal(acc.status, 201, acc.text);
      keep(acc.json.token);
      assert.deepEqual(Object.keys(acc.json).sort(), ['expires_at', 'org', 'token', 'user']);
      assert.equal(acc.json.user.email, email);
      assert.equal(acc.json.user.display_name, 'New Person');
      assert.deepEqual(acc.json.org, { id: O.org.id, slug: O.org.slug, role: 'viewer' });
      expectAudit(acc, 'user.join', `user:${acc.json.user.id}`, inv.id);
      const meR = await ok(acc.json.token, 'GET', '/me');
      assert.equal(meR.json.user.id, acc.json.user.id);
      assert.equal(meR.json.org.role, 'viewer');
      // the new user logs in with the chosen password
      keep(await gw.loginToken(email, pw));

      const twice = await gw.api(null, 'POST', '/invitations/accept', { token: r.json.invite_token, password: pw });
      assertFlatError(twice, 404, 'invalid_invitation');
      assert.ok(!(await ok(O.token, 'GET', '/invitations')).json.invitations.some((i) => i.id === inv.id), 'an accepted invitation is pending');
      const members = (await ok(O.token, 'GET', '/members')).json.members;
      assert.equal(members.find((m) => m.user_id === acc.json.user.id)?.role, 'viewer');
      assertFlatError(await gw.api(null, 'POST', '/invitations/accept', { token: 'ig_inv_' + 'A'.repeat(43), password: pw }), 404, 'invalid_invitation');
      assertFlatError(await gw.api(null, 'POST', '/invitations/accept', { token: r.json.invite_token.slice(0, -1) + 'x', password: pw }), 404, 'invalid_invitation');
    });

    it('a revoked invitation cannot be accepted', async () => {
      const r = await ok(O.token, 'POST', '/members', { email: newEmail('revoked'), role: 'member' }, 201);
      keep(r.json.invite_token);
      const d = await ok(O.token, 'DELETE', `/invitations/${r.json.invitation.id}`);
      assert.deepEqual(d.json, { revoked: r.json.invitation.id });
      expectAudit(d, 'user.invite_revoke', me(O), r.json.invitation.id);
      assertFlatError(await gw.api(null, 'POST', '/invitations/accept', { token: r.json.invite_token, password: newPassword() }), 404, 'invalid_invitation');
      assertFlatError(await gw.api(O.token, 'DELETE', `/invitations/${r.json.invitation.id}`), 404, 'not_found');
      assert.ok(!(await ok(O.token, 'GET', '/invitations')).json.invitations.some((i) => i.id === r.json.invitation.id));
    });

    it('an invitation accepted by an existing account needs that account’s password', async () => {
      const email = newEmail('existing');
      const r = await ok(O.token, 'POST', '/members', { email, role: 'member' }, 201);
      keep(r.json.invite_token);
      // meanwhile the invitee signs up elsewhere
      const u = await gw.signup({ email });
      keep(u.password, u.token, u.api_key);
      const wrong = await gw.api(null, 'POST', '/invitations/accept', { token: r.json.invite_token, password: newPassword() });
      assertFlatError(wrong, 401, 'invalid_credentials');
      const acc = await gw.api(null, 'POST', '/invitations/accept', { token: r.json.invite_token, password: u.password });
      assert.equal(acc.status, 201, acc.text);
      keep(acc.json.token);
      assert.equal(acc.json.user.id, u.user.id, 'a second account was created');
      assert.deepEqual(acc.json.org, { id: O.org.id, slug: O.org.slug, role: 'member' });
      const l = await gw.login(u.email, u.password);
      keep(l.json.token);
      assert.deepEqual(l.json.orgs.map((o) => o.id).sort(), [u.org.id, O.org.id].sort());
      // the password did not change
      assertFlatError(await gw.login(u.email, 'some-other-password'), 401, 'invalid_credentials');
    });
  });

  describe('teams and apps', () => {
    let other;
    before(async () => {
      other = await signup();
    });

    it('creates, lists, refuses duplicates and foreign references, deletes', async () => {
      const t = await ok(O.token, 'POST', '/teams', { name: 'Platform' }, 201);
      expectAudit(t, 'team.create', me(O), t.json.team.id);
      assert.deepEqual(Object.keys(t.json.team).sort(), ['created_at', 'id', 'name']);
      const dupT = await gw.api(O.token, 'POST', '/teams', { name: 'Platform' });
      assertFlatError(dupT, 409, 'name_taken');
      assert.equal(dupT.json.field, 'name');
      assert.equal((await gw.api(other.token, 'POST', '/teams', { name: 'Platform' })).status, 201, 'names are per org');
      const otherTeam = (await ok(other.token, 'GET', '/teams')).json.teams[0];
      const otherApp = (await ok(other.token, 'POST', '/apps', { name: 'theirs', team_id: otherTeam.id }, 201)).json.app;
      for (const body of [{}, { name: '' }, { name: 'x'.repeat(129) }, { name: 'a\nb' }, { name: 'ok', extra: 1 }])
        assertFlatError(await gw.api(O.token, 'POST', '/teams', body), 400, 'invalid_request');

      const a = await ok(O.token, 'POST', '/apps', { name: 'web', team_id: t.json.team.id }, 201);
      expectAudit(a, 'app.create', me(O), a.json.app.id);
      assert.equal(a.json.app.team_id, t.json.team.id);
      const noTeam = await ok(O.token, 'POST', '/apps', { name: 'batch' }, 201);
      assert.equal(noTeam.json.app.team_id, null);
      assertFlatError(await gw.api(O.token, 'POST', '/apps', { name: 'web' }), 409, 'name_taken');
      // another org's team answers exactly like a team that does not exist (400 or 404, unknown_team)
      const foreignTeam = await gw.api(O.token, 'POST', '/apps', { name: uid('app'), team_id: otherTeam.id });
      const missingTeam = await gw.api(O.token, 'POST', '/apps', { name: uid('app'), team_id: randomId() });
      for (const bad of [foreignTeam, missingTeam]) {
        assert.ok([400, 404].includes(bad.status), bad.text);
        assertFlatError(bad, bad.status, 'unknown_team');
        assert.equal(bad.json.field, 'team_id');
      }
      assert.equal(foreignTeam.status, missingTeam.status);
      assert.equal(foreignTeam.json.error, missingTeam.json.error);
      assert.deepEqual(
        (await ok(O.token, 'GET', '/teams')).json.teams.map((x) => x.name),
        ['Platform']
      );
      assert.deepEqual(
        (await ok(O.token, 'GET', '/apps')).json.apps.map((x) => x.name).sort(),
        ['batch', 'web']
      );

      // a key bound to an app; another org's app is refused
      const k = await ok(O.token, 'POST', '/keys', { name: 'web-key', app_id: a.json.app.id }, 201);
      keep(k.json.api_key);
      assert.equal(k.json.key.app_id, a.json.app.id);
      const foreignApp = await gw.api(O.token, 'POST', '/keys', { name: 'x', app_id: otherApp.id });
      const missingApp = await gw.api(O.token, 'POST', '/keys', { name: 'x', app_id: randomId() });
      for (const bad of [foreignApp, missingApp]) {
        assert.ok([400, 404].includes(bad.status), bad.text);
        assertFlatError(bad, bad.status, 'unknown_app');
        assert.equal(bad.json.field, 'app_id');
      }
      assert.equal(foreignApp.status, missingApp.status);
      assert.equal(foreignApp.json.error, missingApp.json.error);
      assert.equal((await chat(k.json.api_key)).status, 200);

      // deleting the team keeps its apps (without a team); deleting the app keeps its keys working
      const dt = await ok(O.token, 'DELETE', `/teams/${t.json.team.id}`);
      expectAudit(dt, 'team.delete', me(O), t.json.team.id);
      assert.equal((await ok(O.token, 'GET', '/apps')).json.apps.find((x) => x.id === a.json.app.id).team_id, null);
      const da = await ok(O.token, 'DELETE', `/apps/${a.json.app.id}`);
      expectAudit(da, 'app.delete', me(O), a.json.app.id);
      assertFlatError(await gw.api(O.token, 'DELETE', `/apps/${a.json.app.id}`), 404, 'not_found');
      assertFlatError(await gw.api(O.token, 'DELETE', `/teams/${t.json.team.id}`), 404, 'not_found');
      assert.equal((await chat(k.json.api_key)).status, 200, 'a key of a deleted app stopped working');
      const listed = (await ok(O.token, 'GET', '/keys')).json.keys.find((x) => x.id === k.json.key.id);
      assert.equal(listed.app_id, null);
      // the other org's team and app are untouched
      assert.equal((await ok(other.token, 'GET', '/apps')).json.apps[0].team_id, otherTeam.id);
    });
  });

  describe('API keys', () => {
    it('rotation: both keys work within the overlap; with overlap 0 the old one is refused on the next request', async () => {
      const c = await ok(O.token, 'POST', '/keys', { name: 'rotating' }, 201);
      const k0 = c.json.api_key;
      keep(k0);
      expectAudit(c, 'key.create', me(O), c.json.key.id);
      assert.equal(c.json.key.created_by, O.user.id);
      assert.equal((await chat(k0)).status, 200);

      const t0 = Date.now();
      const r1 = await ok(O.token, 'POST', `/keys/${c.json.key.id}/rotate`, undefined, 201);
      const k1 = r1.json.api_key;
      keep(k1);
      expectAudit(r1, 'key.rotate', me(O), c.json.key.id);
      assert.deepEqual(Object.keys(r1.json).sort(), ['api_key', 'key', 'previous']);
      assert.match(k1, /^sk-ingate-[0-9A-Za-z]{49}$/);
      assert.notEqual(k1, k0);
      assert.notEqual(r1.json.key.id, c.json.key.id);
      assert.equal(r1.json.key.name, 'rotating');
      assert.equal(r1.json.key.role, c.json.key.role);
      assert.equal(r1.json.key.created_by, O.user.id);
      assert.equal(r1.json.previous.id, c.json.key.id);
      assert.equal(r1.json.previous.revoked, false);
      assert.ok(Math.abs(r1.json.previous.expires_at - (t0 + DAY_MS)) < 60000, `previous.expires_at ${r1.json.previous.expires_at}: now + 24 h`);
      assert.equal((await chat(k0)).status, 200, 'the old key within its overlap');
      assert.equal((await chat(k1)).status, 200, 'the new key');

      for (const body of [{ overlap_seconds: -1 }, { overlap_seconds: 604801 }, { overlap_seconds: 1.5 }, { overlap_seconds: '0' }]) {
        const bad = await gw.api(O.token, 'POST', `/keys/${r1.json.key.id}/rotate`, body);
        assertFlatError(bad, 400, 'invalid_request');
        assert.equal(bad.json.field, 'overlap_seconds');
      }
      assert.equal((await gw.api(O.token, 'POST', `/keys/${r1.json.key.id}/rotate`, { overlap: 0 })).json.field, 'overlap');
      const r2 = await ok(O.token, 'POST', `/keys/${r1.json.key.id}/rotate`, { overlap_seconds: 0 }, 201);
      const k2 = r2.json.api_key;
      keep(k2);
      assert.equal((await chat(k1)).status, 401, 'the old key after a rotation without overlap');
      assert.equal((await chat(k2)).status, 200);
      assert.equal((await chat(k0)).status, 200, 'the first key keeps its own overlap');
      assertFlatError(await gw.api(O.token, 'POST', `/keys/${r1.json.key.id}/rotate`), 404, 'not_found');
      // a revoked key cannot be rotated
      const rv = await ok(O.token, 'DELETE', `/keys/${r2.json.key.id}`);
      expectAudit(rv, 'key.revoke', me(O), r2.json.key.id);
      assertFlatError(await gw.api(O.token, 'POST', `/keys/${r2.json.key.id}/rotate`), 404, 'not_found');
      assert.equal((await chat(k2)).status, 401);
    });

    it('GET /keys shows last_used_at after a proxied call, and created_by', async () => {
      const c = await ok(O.token, 'POST', '/keys', { name: 'usage' }, 201);
      keep(c.json.api_key);
      const unused = await ok(O.token, 'POST', '/keys', { name: 'unused' }, 201);
      keep(unused.json.api_key);
      const cliKey = await gw.createKey(O.org.slug, 'member');
      keep(cliKey.key);
      const find = async (id) => (await ok(O.token, 'GET', '/keys')).json.keys.find((k) => k.id === id);
      assert.equal((await find(c.json.key.id)).last_used_at, null);
      const t0 = Date.now();
      assert.equal((await chat(c.json.api_key)).status, 200);
      const used = await waitFor(async () => {
        const k = await find(c.json.key.id);
        return k.last_used_at ? k : null;
      }, { timeoutMs: T(10000), what: 'last_used_at' });
      assert.ok(used.last_used_at >= t0 - 1000 && used.last_used_at <= Date.now() + 1000, `last_used_at ${used.last_used_at} (unix ms)`);
      assert.equal(used.created_by, O.user.id);
      assert.equal((await find(unused.json.key.id)).last_used_at, null, 'a key never used has a last_used_at');
      assert.equal((await find(cliKey.id)).created_by, null, 'a key made with the operator CLI has a creator');
      // management calls are not "use" of the proxy... but a key used there stays listed correctly
      const listed = await ok(O.token, 'GET', '/keys');
      assert.ok(!listed.text.includes('sk-ingate-'), 'a raw key is listed');
    });
  });

  describe('provider keys', () => {
    it('DELETE removes the key: the proxy answers provider_key_missing on the next request', async () => {
      const before = await chat(O.api_key, { 'anthropic-version': '2023-06-01' }, '/v1/messages');
      assert.equal(before.status, 200, before.text);
      const d = await ok(O.token, 'DELETE', '/providers/anthropic');
      assert.deepEqual(d.json, { provider: { name: 'anthropic', configured: false } });
      expectAudit(d, 'provider.delete', me(O), 'provider:anthropic');
      assertOpenAIError(await chat(O.api_key, { 'anthropic-version': '2023-06-01' }, '/v1/messages'), 400, 'provider_key_missing');
      const p = (await ok(O.token, 'GET', '/providers')).json.providers.find((x) => x.name === 'anthropic');
      assert.deepEqual(p, { name: 'anthropic', builtin: true, configured: false, auth_mode: null, fingerprint: null });
      assertFlatError(await gw.api(O.token, 'DELETE', '/providers/anthropic'), 404, 'not_found');
      assertFlatError(await gw.api(O.token, 'DELETE', '/providers/nosuch'), 404, 'unknown_provider');
      assert.equal((await chat(O.api_key)).status, 200, 'openai is untouched');
    });

    it('rotating the provider key under concurrent load: no failed request, the new key right after each PUT', async () => {
      const L = await signup();
      const KEYS = ['sk-prov-load-0', 'sk-prov-load-1', 'sk-prov-load-2'];
      await ok(L.token, 'PUT', '/providers/openai', { api_key: KEYS[0] });
      await mock.clear();
      const seen = new Map();
      let collecting = true;
      const collector = (async () => {
        while (collecting) {
          for (const q of await mock.requests()) seen.set(q.seq, q);
          await sleep(40);
        }
      })();
      const results = [];
      const stopAt = Date.now() + T(2000);
      let n = 0;
      const worker = async (w) => {
        while (Date.now() < stopAt) {
          const id = `load-${w}-${n++}`;
          const started = Date.now();
          try {
            const r = await chat(L.api_key, { 'x-test-id': id, 'x-mock-delay-ms': '25' });
            results.push({ id, started, status: r.status, text: r.text });
          } catch (e) {
            results.push({ id, started, status: 0, text: String(e) });
          }
        }
      };
      const workers = Array.from({ length: 8 }, (_, w) => worker(w));
      const putDone = [];
      await sleep(T(600));
      await ok(L.token, 'PUT', '/providers/openai', { api_key: KEYS[1] });
      putDone.push(Date.now());
      await sleep(T(600));
      await ok(L.token, 'PUT', '/providers/openai', { api_key: KEYS[2] });
      putDone.push(Date.now());
      await Promise.all(workers);
      collecting = false;
      await collector;
      for (const q of await mock.requests()) seen.set(q.seq, q);

      const failed = results.filter((r) => r.status !== 200);
      assert.deepEqual(failed.map((r) => `${r.id}: ${r.status} ${r.text.slice(0, 100)}`), [], 'failed requests during the rotation');
      const byId = new Map([...seen.values()].map((q) => [header(q, 'x-test-id'), q]));
      const wrong = [];
      const used = [0, 0, 0];
      for (const r of results) {
        const q = byId.get(r.id);
        assert.ok(q, `request ${r.id} not recorded by the mock (collector too slow?)`);
        const auth = header(q, 'authorization');
        const k = KEYS.findIndex((x) => `Bearer ${x}` === auth);
        assert.ok(k >= 0, `${r.id}: unexpected credential ${auth}`);
        used[k]++;
        const minKey = r.started >= putDone[1] ? 2 : r.started >= putDone[0] ? 1 : 0;
        if (k < minKey) wrong.push(`${r.id} started ${r.started - putDone[minKey - 1]} ms after PUT #${minKey} returned, used ${KEYS[k]}`);
      }
      assert.deepEqual(wrong, [], 'requests sent after a PUT returned used an older key');
      assert.ok(results.length >= 40, `only ${results.length} requests in the load window`);
      assert.ok(used[0] > 0 && used[2] > 0, `key use ${JSON.stringify(used)}: the load did not span the rotations`);
    });
  });

  it('transfer: the new owner is owner, the old one admin; audited', async () => {
    const T1 = await signup();
    const adm = await gw.join(T1.token, 'admin');
    keep(adm.password, adm.token, adm.inviteToken);
    const r = await ok(T1.token, 'POST', '/org/transfer', { user_id: adm.userId });
    assert.deepEqual(r.json, { owner: adm.userId, previous_owner_role: 'admin' });
    const entries = (await ok(adm.token, 'GET', '/audit?action=org.transfer')).json.entries;
    assert.equal(entries.length, 1);
    assert.equal(entries[0].actor, `user:${T1.user.id}`);
    assert.equal(entries[0].target, adm.userId);
    assert.equal(entries[0].request_id, rid(r));
    const members = (await ok(adm.token, 'GET', '/members')).json.members;
    assert.equal(members.find((m) => m.user_id === T1.user.id).role, 'admin');
    assert.equal(members.find((m) => m.user_id === adm.userId).role, 'owner');
    assertFlatError(await gw.api(T1.token, 'PUT', '/org/billing', { plan: 'enterprise' }), 403, 'forbidden');
    assert.equal((await gw.api(adm.token, 'PUT', '/org/billing', { plan: 'enterprise' })).status, 200);
  });

  describe('audit log', () => {
    it('sessions write login.success, login.failure, logout, session.refresh, user.password_change', async () => {
      const u = await gw.join(O.token, 'member');
      keep(u.password, u.token, u.inviteToken);
      const fail = await gw.login(u.email, 'not-the-password-0');
      assert.equal(fail.status, 401);
      expectAudit(fail, 'login.failure', `user:${u.userId}`, u.userId);
      const l = await gw.login(u.email, u.password);
      keep(l.json.token);
      expectAudit(l, 'login.success', `user:${u.userId}`, u.userId);
      const ref = await ok(l.json.token, 'POST', '/token/refresh');
      keep(ref.json.token);
      expectAudit(ref, 'session.refresh', `user:${u.userId}`, u.userId);
      const out = await ok(ref.json.token, 'POST', '/logout');
      expectAudit(out, 'logout', `user:${u.userId}`, u.userId);
      const pw = newPassword();
      keep(pw);
      const ch = await ok(u.token, 'PUT', '/me/password', { current_password: u.password, new_password: pw });
      keep(ch.json.token);
      expectAudit(ch, 'user.password_change', `user:${u.userId}`, u.userId);
      const k = await ok(ch.json.token, 'POST', '/keys', { name: 'by-session' }, 201);
      keep(k.json.api_key);
      expectAudit(k, 'key.create', `user:${u.userId}`, k.json.key.id);
      // a key-authenticated action names the key
      const adminKey = await gw.createKey(O.org.slug, 'admin');
      keep(adminKey.key);
      const team = await ok(adminKey.key, 'POST', '/teams', { name: 'by-key' }, 201);
      expectAudit(team, 'team.create', `key:${adminKey.id}`, team.json.team.id);
    });

    it('every action above has its entry: actor, target, source address and the request id of its call', async () => {
      assert.ok(AUDIT.length >= 25, `only ${AUDIT.length} audited calls collected`);
      const problems = [];
      for (const e of AUDIT) {
        assert.match(e.rid || '', /^[0-9a-f-]{36}$/, `${e.action}: no request id on the response`);
        const list = await ok(O.token, 'GET', `/audit?action=${e.action}&limit=200`);
        const found = list.json.entries.filter((x) => x.request_id === e.rid);
        if (found.length !== 1) {
          problems.push(`${e.action} (request ${e.rid}): ${found.length} entries; ${list.json.entries.length} ${e.action} entries in all`);
          continue;
        }
        const x = found[0];
        if (x.actor !== e.actor) problems.push(`${e.action}: actor ${x.actor}, want ${e.actor}`);
        if (x.target !== e.target) problems.push(`${e.action}: target ${x.target}, want ${e.target}`);
        if (x.source_ip !== '127.0.0.1') problems.push(`${e.action}: source_ip ${x.source_ip}`);
        const one = await gw.api(O.token, 'GET', `/audit/${x.id}`);
        if (one.status !== 200 || JSON.stringify(one.json.entry) !== JSON.stringify(x)) problems.push(`${e.action}: GET /audit/${x.id} → ${one.status} ${one.text.slice(0, 200)}`);
      }
      assert.deepEqual(problems, [], `\n${problems.join('\n')}`);
      const all = await ok(O.token, 'GET', '/audit?limit=200');
      for (const x of all.json.entries) {
        assert.deepEqual(Object.keys(x).sort(), ['action', 'actor', 'created_at', 'hash', 'id', 'prev_hash', 'request_id', 'seq', 'source_ip', 'target']);
        assert.ok(!JSON.stringify(x).includes('sk-') && !JSON.stringify(x).includes('ig_inv_') && !JSON.stringify(x).includes('@'), `a secret or email in ${JSON.stringify(x)}`);
      }
      assertFlatError(await gw.api(O.token, 'GET', `/audit/${randomId()}`), 404, 'not_found');
    });

    it('filters by action, actor, target, time, and pages with a cursor', async () => {
      const page = (await ok(O.token, 'GET', '/audit?limit=200')).json;
      const all = page.entries;
      assert.ok(all.length >= 30 && page.next_cursor === null, `${all.length} entries: the comparisons below need them all`);
      const actor = `user:${O.user.id}`;
      const byActor = (await ok(O.token, 'GET', `/audit?actor=${actor}&limit=200`)).json.entries;
      assert.deepEqual(byActor.map((x) => x.id), all.filter((x) => x.actor === actor).map((x) => x.id));
      assert.ok(byActor.length >= 10);
      const target = 'provider:openai';
      const byTarget = (await ok(O.token, 'GET', `/audit?target=${target}&limit=200`)).json.entries;
      assert.deepEqual(byTarget.map((x) => x.id), all.filter((x) => x.target === target).map((x) => x.id));
      assert.ok(byTarget.length >= 1);
      const combo = (await ok(O.token, 'GET', `/audit?action=key.create&actor=${actor}&limit=200`)).json.entries;
      assert.deepEqual(combo.map((x) => x.id), all.filter((x) => x.action === 'key.create' && x.actor === actor).map((x) => x.id));
      assert.equal((await ok(O.token, 'GET', '/audit?action=no.such.action')).json.entries.length, 0);
      // time: since and until are inclusive unix ms
      const mid = all[Math.floor(all.length / 2)];
      const since = (await ok(O.token, 'GET', `/audit?since=${mid.created_at}&limit=200`)).json.entries;
      assert.deepEqual(since.map((x) => x.id), all.filter((x) => x.created_at >= mid.created_at).map((x) => x.id));
      const until = (await ok(O.token, 'GET', `/audit?until=${mid.created_at}&limit=200`)).json.entries;
      assert.deepEqual(until.map((x) => x.id), all.filter((x) => x.created_at <= mid.created_at).map((x) => x.id));
      // cursor paging inside a filter
      const p1 = (await ok(O.token, 'GET', `/audit?actor=${actor}&limit=3`)).json;
      assert.equal(p1.entries.length, 3);
      assert.equal(p1.next_cursor, p1.entries[2].seq);
      const p2 = (await ok(O.token, 'GET', `/audit?actor=${actor}&limit=200&cursor=${p1.next_cursor}`)).json;
      assert.deepEqual([...p1.entries, ...p2.entries].map((x) => x.id), byActor.map((x) => x.id));
      assert.equal(p2.next_cursor, null);
      for (const [q, field] of [
        ['action=a%20b', 'action'],
        ['action=', 'action'],
        ['actor=' + 'x'.repeat(65), 'actor'],
        ['since=yesterday', 'since'],
        ['until=-5', 'until'],
        ['cursor=0', 'cursor'],
        ['limit=abc', 'limit'],
      ]) {
        const bad = await gw.api(O.token, 'GET', `/audit?${q}`);
        assertFlatError(bad, 400, 'invalid_request');
        assert.equal(bad.json.field, field, q);
      }
    });
  });

  describe('deleting the org', () => {
    // an org's call log is its own database file: data-dir/orgs/<org id>.db
    const logDb = (orgId) => path.join(gw.dataDir, 'orgs', `${orgId}.db`);
    const callRows = (orgId) => {
      if (!fs.existsSync(logDb(orgId))) return 0;
      const db = new Database(logDb(orgId), { readonly: true, fileMustExist: true });
      const n = db.prepare('SELECT count(*) AS n FROM logs').get().n;
      db.close();
      return n;
    };

    it('needs confirm = slug; then its keys fail on the very next request and its rows are gone', async () => {
      const D = await signup();
      await ok(D.token, 'PUT', '/providers/openai', { api_key: 'sk-prov-org-doomed' });
      const extraKey = (await ok(D.token, 'POST', '/keys', { name: 'doomed' }, 201)).json.api_key;
      keep(extraKey);
      await ok(D.token, 'POST', '/teams', { name: 'doomed-team' }, 201);
      await ok(D.token, 'POST', '/apps', { name: 'doomed-app' }, 201);
      const inv = await ok(D.token, 'POST', '/members', { email: newEmail('doomed'), role: 'viewer' }, 201);
      keep(inv.json.invite_token);
      const mem = await gw.join(D.token, 'admin');
      keep(mem.password, mem.token, mem.inviteToken);
      assert.equal((await chat(D.api_key)).status, 200);
      assert.equal((await chat(extraKey)).status, 200);
      await waitFor(() => callRows(D.org.id) >= 2, { timeoutMs: T(10000), what: 'the call records of the doomed org' });

      for (const [body, status, field] of [
        [{}, 400, 'confirm'],
        [{ confirm: 'wrong-slug' }, 400, 'confirm'],
        [{ confirm: D.org.slug.toUpperCase() }, 400, 'confirm'],
        [{ confirm: D.org.id }, 400, 'confirm'],
        [{ confirm: D.org.slug, force: true }, 400, 'force'],
      ]) {
        const r = await gw.api(D.token, 'DELETE', '/org', body);
        assertFlatError(r, status);
        assert.equal(r.json.field, field, JSON.stringify(body));
      }
      assertFlatError(await gw.api(D.token, 'DELETE', '/org'), 400, 'invalid_json');
      assertFlatError(await gw.api(mem.token, 'DELETE', '/org', { confirm: D.org.slug }), 403, 'forbidden');
      assert.equal((await chat(D.api_key)).status, 200, 'a refused delete broke the org');
      await waitFor(() => callRows(D.org.id) >= 3, { timeoutMs: T(10000), what: 'the third call record' });

      const del = await ok(D.token, 'DELETE', '/org', { confirm: D.org.slug });
      assert.deepEqual(del.json, { deleted: true });
      // the very next requests
      assert.equal((await chat(D.api_key)).status, 401, 'the deleted org’s key still proxies');
      assert.equal((await chat(extraKey)).status, 401);
      assertFlatError(await gw.api(D.api_key, 'GET', '/org'), 401);
      assertFlatError(await gw.api(D.token, 'GET', '/org'), 401, 'invalid_session');
      assertFlatError(await gw.api(mem.token, 'GET', '/me'), 401, 'invalid_session');
      assertFlatError(await gw.api(null, 'POST', '/invitations/accept', { token: inv.json.invite_token, password: newPassword() }), 404, 'invalid_invitation');
      // the users remain, without an org; the slug is free again
      assertFlatError(await gw.login(D.email, D.password), 403, 'no_org');
      assert.equal((await chat(O.api_key)).status, 200, 'another org was affected');

      const db = new Database(path.join(gw.dataDir, 'ingate.db'), { readonly: true, fileMustExist: true });
      const left = {};
      for (const table of ['api_keys', 'provider_credentials', 'memberships', 'invitations', 'sessions', 'teams', 'apps'])
        left[table] = db.prepare(`SELECT count(*) AS n FROM ${table} WHERE org_id = ?`).get(D.org.id).n;
      left.orgs = db.prepare('SELECT count(*) AS n FROM orgs WHERE id = ?').get(D.org.id).n;
      const audit = db.prepare("SELECT * FROM audit WHERE org_id = ? AND action = 'org.delete'").all(D.org.id);
      const users = db.prepare('SELECT count(*) AS n FROM users WHERE id IN (?, ?)').get(D.user.id, mem.userId).n;
      db.close();
      assert.deepEqual(left, { api_keys: 0, provider_credentials: 0, memberships: 0, invitations: 0, sessions: 0, teams: 0, apps: 0, orgs: 0 });
      // its log database is gone, and with its data key (in the orgs row) nothing it held can be decrypted
      for (const suffix of ['', '-wal', '-shm']) assert.equal(fs.existsSync(logDb(D.org.id) + suffix), false, `${logDb(D.org.id)}${suffix} left behind`);
      assert.equal(users, 2);
      assert.equal(audit.length, 1, 'no org.delete audit entry');
      assert.equal(audit[0].actor, `user:${D.user.id}`);
      assert.equal(audit[0].request_id, rid(del));
      // the record of the deletion outlives the org, in the control chain, its address sealed (identity key)
      assert.equal(audit[0].source_ip, null);
      assert.ok(Buffer.isBuffer(audit[0].source_ip_enc) && !audit[0].source_ip_enc.includes('127.0.0.1'));
      const again = await gw.signup({ slug: D.org.slug });
      keep(again.password, again.token, again.api_key);
      const v = await gw.adminRaw(['verify-audit']);
      assert.equal(v.code, 0, v.stderr);
    });

    it('a call in flight when the org is deleted leaves no call record of the org behind', async () => {
      const D = await signup();
      await ok(D.token, 'PUT', '/providers/openai', { api_key: 'sk-prov-org-doomed' });
      const inflight = chat(D.api_key, { 'x-mock-delay-ms': '800' });
      await sleep(T(200)); // the request is authenticated and waiting for the upstream
      const del = await ok(D.token, 'DELETE', '/org', { confirm: D.org.slug });
      assert.deepEqual(del.json, { deleted: true });
      const r = await inflight;
      assert.equal(r.status, 200, 'the request admitted before the deletion completes');
      assert.equal((await chat(D.api_key)).status, 401);
      // the capture writer works in order: once a later call of another org is recorded, the in-flight
      // call's record (if any) has been written too
      const before = callRows(O.org.id);
      assert.equal((await chat(O.api_key)).status, 200);
      await waitFor(() => callRows(O.org.id) > before, { timeoutMs: T(10000), what: 'a later call record' });
      assert.equal(callRows(D.org.id), 0, 'a call record of the deleted org was written after the deletion');
    });
  });

  it('no secret is on disk or in the output; verify-audit finds a tampered row', async () => {
    await gw.stop();
    for (const k of ['sk-prov-org-openai', 'sk-prov-org-anthropic', 'sk-prov-org-doomed', 'sk-prov-load-0', 'sk-prov-load-1', 'sk-prov-load-2']) keep(k);
    const needles = [...SECRETS].flatMap((s) => (s.startsWith('sk-ingate-') ? [s, s.slice(10)] : s.split('.').length === 3 ? [s, s.split('.')[2]] : [s]));
    assert.ok(needles.length > 40, `only ${needles.length} secrets collected`);
    const hits = [];
    const files = [...(await listFiles(gw.dataDir)), gw.stdoutPath, gw.stderrPath];
    for (const f of files) {
      const buf = fs.readFileSync(f);
      for (const s of needles) for (const enc of ['utf8', 'utf16le']) if (buf.includes(Buffer.from(s, enc))) hits.push(`${f}: ${s.slice(0, 14)}… (${enc})`);
    }
    assert.deepEqual(hits, [], `secrets found:\n${hits.join('\n')}`);

    const ok0 = await gw.adminRaw(['verify-audit']);
    assert.equal(ok0.code, 0, ok0.stderr);
    // the org's entries are in its own database
    const db = new Database(path.join(gw.dataDir, 'orgs', `${O.org.id}.db`));
    const row = db.prepare("SELECT seq FROM audit WHERE action = 'org.billing_update' ORDER BY seq LIMIT 1").get();
    db.prepare("UPDATE audit SET target = 'free' WHERE seq = ?").run(row.seq);
    db.close();
    const bad = await gw.adminRaw(['verify-audit']);
    assert.notEqual(bad.code, 0, 'verify-audit accepted a tampered row');
    assert.equal(JSON.parse(bad.stdout).first_bad_seq, row.seq);
    assert.equal(JSON.parse(bad.stdout).org, O.org.id);
  });
});
