// Per-key rate limits through the key API (issue 5, the key override; enforcement on the proxy path and the
// org defaults are tested with them): a key's rate_limits at creation (admin only), PUT /keys/{id} changing
// and clearing them, strict validation that names the field and changes nothing, org scope (another org's
// key answers 404 like a missing one), rotation carrying them over, the audit entry key.update, the operator
// CLI's --rpm/--tpm, and the stored columns (schema v6).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import Database from 'better-sqlite3';
import { startMock, startGateway, assertFlatError, randomId, LOOSE_AUTH_ARGS } from './lib/harness.mjs';

const NONE = { requests_per_minute: null, tokens_per_minute: null };
const MAX = 60000000000; // the largest per-minute limit (one unit per nanosecond of the minute)

describe('per-key rate limits: the key API', () => {
  let mock, gw, O, admin, member, B;

  const keysOf = async (cred) => {
    const r = await gw.api(cred, 'GET', '/keys');
    assert.equal(r.status, 200, r.text);
    return r.json.keys;
  };
  const keyOf = async (cred, id) => (await keysOf(cred)).find((k) => k.id === id);
  // a key without last_used_at, which the log writer raises a moment after each proxied request
  const settled = ({ last_used_at, ...k }) => k;
  const create = async (cred, body, status = 201) => {
    const r = await gw.api(cred, 'POST', '/keys', body);
    assert.equal(r.status, status, `POST /keys ${JSON.stringify(body)}: ${r.status} ${r.text}`);
    return r;
  };
  const put = (cred, id, body) => gw.api(cred, 'PUT', `/keys/${id}`, body);
  const chat = (key) =>
    gw.request({
      method: 'POST',
      path: '/v1/chat/completions',
      headers: { 'x-ingate-key': key, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-limits', messages: [] }),
    });
  const stored = (id) => {
    const db = new Database(path.join(gw.dataDir, 'ingate.db'), { readonly: true, fileMustExist: true });
    try {
      return db.prepare('SELECT rate_limit_rpm AS rpm, rate_limit_tpm AS tpm FROM api_keys WHERE id = ?').get(id);
    } finally {
      db.close();
    }
  };

  before(async () => {
    mock = await startMock();
    gw = await startGateway({ mock, args: LOOSE_AUTH_ARGS });
    O = await gw.signup();
    await gw.setProviderKey(O.org.slug, 'openai', 'sk-prov-limits-o');
    admin = await gw.join(O.token, 'admin');
    member = await gw.join(O.token, 'member');
    O.adminKey = await gw.createKey(O.org.slug, 'admin');
    O.memberKey = await gw.createKey(O.org.slug, 'member');
    B = await gw.signup();
    B.ownerKey = await gw.createKey(B.org.slug, 'owner');
  });
  after(async () => {
    await gw?.destroy();
    await mock?.stop();
  });

  it('every key shows rate_limits; null = the org default', async () => {
    const keys = await keysOf(O.token);
    assert.ok(keys.length >= 3);
    for (const k of keys) assert.deepEqual(k.rate_limits, NONE, `key ${k.id}`);
    const plain = await create(member.token, { name: 'plain' });
    assert.deepEqual(plain.json.key.rate_limits, NONE);
    assert.deepEqual(stored(plain.json.key.id), { rpm: 0, tpm: 0 });
  });

  it('an admin creates a key with limits; list, create answer and the store agree', async () => {
    for (const cred of [admin.token, O.adminKey.key, O.token]) {
      const r = await create(cred, { name: 'limited', rate_limits: { requests_per_minute: 60, tokens_per_minute: 40000 } });
      const want = { requests_per_minute: 60, tokens_per_minute: 40000 };
      assert.deepEqual(r.json.key.rate_limits, want);
      assert.deepEqual((await keyOf(O.token, r.json.key.id)).rate_limits, want);
      assert.deepEqual(stored(r.json.key.id), { rpm: 60, tpm: 40000 });
      assert.equal((await chat(r.json.api_key)).status, 200, 'the new key works');
    }
    // one limit alone, the other following the org; the largest limit; explicit nulls
    let r = await create(admin.token, { rate_limits: { tokens_per_minute: 1000 } });
    assert.deepEqual(r.json.key.rate_limits, { requests_per_minute: null, tokens_per_minute: 1000 });
    r = await create(admin.token, { rate_limits: { requests_per_minute: MAX, tokens_per_minute: MAX } });
    assert.deepEqual(r.json.key.rate_limits, { requests_per_minute: MAX, tokens_per_minute: MAX });
    assert.deepEqual(stored(r.json.key.id), { rpm: MAX, tpm: MAX });
    r = await create(admin.token, { rate_limits: NONE });
    assert.deepEqual(r.json.key.rate_limits, NONE);
  });

  it('a member cannot set limits (403 naming rate_limits, nothing created) but still creates keys', async () => {
    const before = (await keysOf(O.token)).length;
    for (const cred of [member.token, O.memberKey.key]) {
      for (const rl of [{ requests_per_minute: 5 }, { tokens_per_minute: 5 }, { requests_per_minute: 5, tokens_per_minute: null }]) {
        const r = await gw.api(cred, 'POST', '/keys', { name: 'sneaky', rate_limits: rl });
        assertFlatError(r, 403, 'forbidden');
        assert.equal(r.json.field, 'rate_limits');
        assert.match(r.json.error, /admin/);
      }
    }
    assert.equal((await keysOf(O.token)).length, before, 'a refused create stored a key');
    // without limits (or asking for the org default) a member creates keys as before
    for (const body of [{ name: 'ok' }, { name: 'ok', rate_limits: null }, { name: 'ok', rate_limits: NONE }, { rate_limits: {} }]) {
      const r = await create(member.token, body);
      assert.deepEqual(r.json.key.rate_limits, NONE);
      assert.equal(r.json.key.role, 'member');
    }
  });

  it('PUT /keys/{id} changes and clears the limits, answers the key as the list shows it, keeps the key working', async () => {
    const k = (await create(member.token, { name: 'to-change' })).json;
    const steps = [
      [{ requests_per_minute: 10, tokens_per_minute: 2000 }, { requests_per_minute: 10, tokens_per_minute: 2000 }],
      [{ requests_per_minute: 20, tokens_per_minute: null }, { requests_per_minute: 20, tokens_per_minute: null }], // null clears
      [{ tokens_per_minute: 30 }, { requests_per_minute: null, tokens_per_minute: 30 }], // absent = the org default too
      [{ requests_per_minute: 1, tokens_per_minute: 1 }, { requests_per_minute: 1, tokens_per_minute: 1 }],
      [null, NONE],
      [{ requests_per_minute: MAX, tokens_per_minute: 7 }, { requests_per_minute: MAX, tokens_per_minute: 7 }],
      [{}, NONE],
    ];
    const creds = [admin.token, O.adminKey.key, O.token]; // an admin session, an admin key, the owner
    for (const [i, [rl, want]] of steps.entries()) {
      const r = await put(creds[i % creds.length], k.key.id, { rate_limits: rl });
      assert.equal(r.status, 200, `PUT ${JSON.stringify(rl)}: ${r.text}`);
      assert.deepEqual(Object.keys(r.json), ['key']);
      assert.deepEqual(r.json.key.rate_limits, want);
      assert.deepEqual(settled(r.json.key), settled(await keyOf(O.token, k.key.id)), 'PUT answers the key as the list shows it');
      assert.deepEqual(stored(k.key.id), { rpm: want.requests_per_minute ?? 0, tpm: want.tokens_per_minute ?? 0 });
      // the key was dropped from the auth cache and is read again: it keeps authenticating (the small limits of
      // some steps may refuse the call with 429: the calls and tokens of earlier steps count; ratelimit.test.mjs
      // tests the enforcement itself)
      const c = await chat(k.api_key);
      assert.ok(c.status === 200 || c.status === 429, `${c.status} ${c.text}`);
    }
    const after = await keyOf(O.token, k.key.id);
    assert.equal(after.name, 'to-change');
    assert.equal(after.role, 'member');
    assert.equal(after.revoked, false);
  });

  it('validation errors name rate_limits (or the unknown member) and change nothing', async () => {
    const k = (await create(admin.token, { name: 'strict', rate_limits: { requests_per_minute: 3, tokens_per_minute: 4 } })).json.key;
    const bad = [
      [{ rate_limits: { requests_per_minute: 0 } }, 'rate_limits'],
      [{ rate_limits: { tokens_per_minute: 0 } }, 'rate_limits'],
      [{ rate_limits: { requests_per_minute: -1 } }, 'rate_limits'],
      [{ rate_limits: { requests_per_minute: 1.5 } }, 'rate_limits'],
      [{ rate_limits: { requests_per_minute: '10' } }, 'rate_limits'],
      [{ rate_limits: { requests_per_minute: true } }, 'rate_limits'],
      [{ rate_limits: { requests_per_minute: [10] } }, 'rate_limits'],
      [{ rate_limits: { requests_per_minute: { n: 10 } } }, 'rate_limits'],
      [{ rate_limits: { tokens_per_minute: MAX + 1 } }, 'rate_limits'],
      [{ rate_limits: { tokens_per_minute: 2 ** 53 } }, 'rate_limits'],
      [{ rate_limits: { tokens_per_minute: 1e300 } }, 'rate_limits'],
      [{ rate_limits: { requests_per_minute: 5, burst: 10 } }, 'rate_limits'],
      [{ rate_limits: { rpm: 5 } }, 'rate_limits'],
      [{ rate_limits: 60 }, 'rate_limits'],
      [{ rate_limits: 'fast' }, 'rate_limits'],
      [{ rate_limits: [60, 1000] }, 'rate_limits'],
      [{ rate_limits: false }, 'rate_limits'],
    ];
    const before = (await keysOf(O.token)).map(settled);
    const problems = [];
    for (const [body, field] of bad) {
      for (const [what, r] of [
        ['POST', await gw.api(admin.token, 'POST', '/keys', { name: 'bad', ...body })],
        ['PUT', await put(admin.token, k.id, body)],
      ]) {
        if (r.status !== 400 || r.json?.error_code !== 'invalid_request' || r.json?.field !== field || typeof r.json?.error !== 'string')
          problems.push(`${what} ${JSON.stringify(body)}: ${r.status} ${r.text}`);
      }
    }
    // the message says which member and what is allowed
    const msg = (await put(admin.token, k.id, { rate_limits: { tokens_per_minute: 0 } })).json.error;
    assert.match(msg, /tokens_per_minute/);
    assert.match(msg, /positive integer/);
    // PUT needs rate_limits and nothing else
    let r = await put(admin.token, k.id, {});
    if (r.status !== 400 || r.json?.field !== 'rate_limits') problems.push(`PUT {}: ${r.status} ${r.text}`);
    r = await put(admin.token, k.id, { rate_limits: NONE, name: 'renamed' });
    if (r.status !== 400 || r.json?.field !== 'name') problems.push(`PUT with name: ${r.status} ${r.text}`);
    r = await put(admin.token, k.id, '{"rate_limits":{"requests_per_minute":1},"rate_limits":null}');
    if (r.status !== 400 || r.json?.error_code !== 'invalid_json') problems.push(`PUT duplicate member: ${r.status} ${r.text}`);
    r = await put(admin.token, k.id, '[]');
    if (r.status !== 400) problems.push(`PUT []: ${r.status} ${r.text}`);
    assert.deepEqual(problems, [], `\n${problems.join('\n')}`);
    assert.deepEqual((await keysOf(O.token)).map(settled), before, 'a refused request changed the keys');
    assert.deepEqual(stored(k.id), { rpm: 3, tpm: 4 });
  });

  it('PUT: admin only, not above the caller, only active keys of the caller org (404 like a missing id)', async () => {
    const k = (await create(admin.token, { name: 'guarded', rate_limits: { requests_per_minute: 9, tokens_per_minute: 99 } })).json.key;
    const body = { rate_limits: { requests_per_minute: 1, tokens_per_minute: 1 } };
    // members and viewers: the route needs admin
    for (const cred of [member.token, O.memberKey.key]) assertFlatError(await put(cred, k.id, body), 403, 'forbidden');
    // an admin cannot change an owner's key
    const ownerKey = await gw.createKey(O.org.slug, 'owner');
    for (const cred of [admin.token, O.adminKey.key]) {
      const r = await put(cred, ownerKey.id, body);
      assertFlatError(r, 403, 'forbidden');
      assert.match(r.json.error, /role above your own/);
    }
    assert.equal((await put(O.token, ownerKey.id, body)).status, 200, 'the owner can');
    // another org: its key ids answer exactly like missing ones, in both directions
    const failures = [];
    for (const [cred, id] of [
      [B.token, k.id],
      [B.ownerKey.key, k.id],
      [O.token, B.ownerKey.id],
    ]) {
      const real = await put(cred, id, body);
      const missing = await put(cred, randomId(), body);
      if (real.status !== 404 || real.json?.error_code !== 'not_found') failures.push(`${id}: ${real.status} ${real.text}`);
      if (real.json?.error !== missing.json?.error || real.status !== missing.status) failures.push(`${id}: ${real.text} vs ${missing.text}`);
    }
    assertFlatError(await put(O.token, 'x'.repeat(33), body), 404, 'not_found');
    assert.deepEqual(failures, [], `\n${failures.join('\n')}`);
    assert.deepEqual((await keyOf(O.token, k.id)).rate_limits, { requests_per_minute: 9, tokens_per_minute: 99 });
    assert.deepEqual((await keyOf(B.token, B.ownerKey.id)).rate_limits, NONE);
    // a revoked key cannot be changed any more
    assert.equal((await gw.api(admin.token, 'DELETE', `/keys/${k.id}`)).status, 200);
    assertFlatError(await put(admin.token, k.id, body), 404, 'not_found');
    assert.deepEqual((await keyOf(O.token, k.id)).rate_limits, { requests_per_minute: 9, tokens_per_minute: 99 });
    // the method list of /keys/{id} now has PUT
    const r = await gw.api(O.token, 'PATCH', `/keys/${k.id}`, body);
    assert.equal(r.status, 405);
    assert.match(r.headers.allow, /PUT/);
    assert.match(r.headers.allow, /DELETE/);
  });

  it('a rotation carries the limits over to the new key', async () => {
    const k = (await create(admin.token, { name: 'rotating', rate_limits: { requests_per_minute: 12, tokens_per_minute: 3400 } })).json;
    const want = { requests_per_minute: 12, tokens_per_minute: 3400 };
    // a member may rotate a key that has limits (the limits are copied, not set)
    const r = await gw.api(member.token, 'POST', `/keys/${k.key.id}/rotate`, { overlap_seconds: 60 });
    assert.equal(r.status, 201, r.text);
    assert.deepEqual(r.json.key.rate_limits, want);
    assert.deepEqual(r.json.previous.rate_limits, want);
    assert.deepEqual((await keyOf(O.token, r.json.key.id)).rate_limits, want);
    assert.deepEqual(stored(r.json.key.id), { rpm: 12, tpm: 3400 });
    assert.equal((await chat(r.json.api_key)).status, 200);
    // from then on the two keys are separate: changing the new one leaves the old one
    const p = await put(admin.token, r.json.key.id, { rate_limits: { requests_per_minute: null, tokens_per_minute: 5 } });
    assert.equal(p.status, 200, p.text);
    assert.deepEqual((await keyOf(O.token, k.key.id)).rate_limits, want);
    const r2 = await gw.api(admin.token, 'POST', `/keys/${r.json.key.id}/rotate`);
    assert.deepEqual(r2.json.key.rate_limits, { requests_per_minute: null, tokens_per_minute: 5 });
  });

  it('audits each change as key.update (actor, target = the key id, request id)', async () => {
    const k = (await create(admin.token, { name: 'audited' })).json.key;
    const r = await put(O.adminKey.key, k.id, { rate_limits: { requests_per_minute: 77 } });
    assert.equal(r.status, 200, r.text);
    const rid = r.headers['x-ingate-request-id'];
    const list = await gw.api(O.token, 'GET', '/audit?action=key.update&limit=200');
    assert.equal(list.status, 200, list.text);
    const found = list.json.entries.filter((e) => e.request_id === rid);
    assert.equal(found.length, 1, list.text);
    assert.equal(found[0].actor, `key:${O.adminKey.id}`);
    assert.equal(found[0].target, k.id);
    // a refused change writes nothing
    const n = list.json.entries.length;
    await put(O.adminKey.key, k.id, { rate_limits: { requests_per_minute: 0 } });
    await put(O.adminKey.key, randomId(), { rate_limits: { requests_per_minute: 1 } });
    assert.equal((await gw.api(O.token, 'GET', '/audit?action=key.update&limit=200')).json.entries.length, n);
  });

  it('the operator CLI creates keys with --rpm/--tpm and lists their limits', async () => {
    const k = await gw.admin(['create-key', '--org', O.org.slug, '--rpm', '100', '--tpm', '200000']);
    assert.deepEqual(k.rate_limits, { requests_per_minute: 100, tokens_per_minute: 200000 });
    assert.deepEqual((await keyOf(O.token, k.id)).rate_limits, { requests_per_minute: 100, tokens_per_minute: 200000 });
    const only = await gw.admin(['create-key', '--org', O.org.slug, '--tpm=50']);
    assert.deepEqual(only.rate_limits, { requests_per_minute: null, tokens_per_minute: 50 });
    const list = await gw.admin(['list-keys', '--org', O.org.slug]);
    assert.deepEqual(list.find((x) => x.id === k.id).rate_limits, { requests_per_minute: 100, tokens_per_minute: 200000 });
    for (const v of ['0', '-5', '1.5', 'ten', '', String(MAX + 1), '99999999999999999999']) {
      const before = (await keysOf(O.token)).length;
      const r = await gw.adminRaw(['create-key', '--org', O.org.slug, '--rpm', v]);
      assert.equal(r.code, 2, `--rpm ${v}: ${r.code} ${r.stdout} ${r.stderr}`);
      assert.match(r.stderr, /--rpm must be 1\.\./);
      assert.equal((await keysOf(O.token)).length, before);
    }
  });
});
