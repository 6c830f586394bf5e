// Management API (first routes of the identity issue): keys and providers, through API keys. Route table
// roles, org isolation (another org's id answers 404 like a missing one), strict JSON bodies, the raw key
// shown once, revocation and provider rotation taking effect on the very next proxied request, no secret in
// any response or on disk.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startMock, startGateway, assertFlatError, assertSecurityHeaders, listFiles } from './lib/harness.mjs';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

describe('management API: keys and providers', () => {
  let mock, gw, a, b, viewer, member;
  const api = (key, method, path, body) =>
    gw.request({
      method,
      path: `/api/v1${path}`,
      headers: { 'x-ingate-key': key, 'content-type': 'application/json' },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
  const orgDb = (orgId) => path.join(gw.dataDir, 'orgs', `${orgId}.db`);
  const chat = (key) =>
    gw.request({
      method: 'POST',
      path: '/v1/chat/completions',
      headers: { 'x-ingate-key': key, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-api', messages: [] }),
    });

  before(async () => {
    mock = await startMock();
    gw = await startGateway({ mock });
    a = await gw.tenant('api-org-a', { role: 'admin', providers: { openai: 'sk-prov-api-a-original' } });
    b = await gw.tenant('api-org-b', { role: 'owner', providers: { openai: 'sk-prov-api-b' } });
    viewer = (await gw.createKey('api-org-a', 'viewer')).key;
    member = (await gw.createKey('api-org-a', 'member')).key;
  });
  after(async () => {
    await gw?.destroy();
    await mock?.stop();
  });

  it('lists only the caller org keys, never a key or its hash', async () => {
    const r = await api(a.key, 'GET', '/keys');
    assert.equal(r.status, 200);
    assertSecurityHeaders(r, 'GET /api/v1/keys');
    const ids = r.json.keys.map((k) => k.id);
    assert.ok(ids.includes(a.keyInfo.id));
    assert.ok(!ids.includes(b.keyInfo.id), 'another org key is listed');
    assert.ok(!r.text.includes('sk-ingate-'), 'a raw key is in the listing');
    for (const k of r.json.keys) assert.deepEqual(Object.keys(k).sort(), ['app_id', 'created_at', 'created_by', 'expires_at', 'hash_prefix', 'id', 'last_used_at', 'name', 'rate_limits', 'revoked', 'role']);
  });

  it('creates a key shown once, usable at once, with a role no higher than the creator', async () => {
    const r = await api(member, 'POST', '/keys', { name: 'ci' });
    assert.equal(r.status, 201);
    assert.match(r.json.api_key, /^sk-ingate-[0-9A-Za-z]{49}$/);
    assert.equal(r.json.key.role, 'member');
    assert.equal(r.json.key.name, 'ci');
    assert.equal((await chat(r.json.api_key)).status, 200);
    const list = await api(a.key, 'GET', '/keys');
    assert.ok(!list.text.includes(r.json.api_key));
    assertFlatError(await api(member, 'POST', '/keys', { role: 'admin' }), 403, 'forbidden');
    assertFlatError(await api(a.key, 'POST', '/keys', { role: 'owner' }), 403, 'forbidden');
    assert.equal((await api(a.key, 'POST', '/keys', { role: 'admin' })).status, 201);
  });

  it('validates bodies strictly and names the field', async () => {
    let r = await api(a.key, 'POST', '/keys', { name: 'x', colour: 'blue' });
    assertFlatError(r, 400, 'invalid_request');
    assert.equal(r.json.field, 'colour');
    r = await api(a.key, 'POST', '/keys', { role: 'superuser' });
    assert.equal(r.json.field, 'role');
    r = await api(a.key, 'POST', '/keys', { expires_at: 1000 });
    assert.equal(r.json.field, 'expires_at');
    assertFlatError(await api(a.key, 'POST', '/keys', '{"name":"a","name":"b"}'), 400, 'invalid_json');
    assertFlatError(await api(a.key, 'POST', '/keys', '{"name":"a"'), 400, 'invalid_json');
    assertFlatError(await api(a.key, 'POST', '/keys', '[]'), 400, 'invalid_json');
    assertFlatError(await api(a.key, 'POST', '/keys', JSON.stringify({ name: 'x'.repeat(70000) })), 413, 'payload_too_large');
  });

  it('enforces the route table: viewer reads, member manages keys, admin sets providers', async () => {
    assertFlatError(await api(viewer, 'GET', '/keys'), 403, 'forbidden');
    assertFlatError(await api(viewer, 'POST', '/keys', {}), 403, 'forbidden');
    assert.equal((await api(viewer, 'GET', '/providers')).status, 200);
    assertFlatError(await api(member, 'PUT', '/providers/openai', { api_key: 'sk-nope' }), 403, 'forbidden');
    const r = await api(a.key, 'PATCH', '/keys');
    assert.equal(r.status, 405);
    assert.match(r.headers.allow, /GET/);
    assertFlatError(await api(a.key, 'GET', '/nothing-here'), 404, 'not_found');
  });

  it('revokes a key (refused on the very next request); another org key id answers 404', async () => {
    const k = (await api(a.key, 'POST', '/keys', { name: 'short-lived' })).json;
    assert.equal((await chat(k.api_key)).status, 200);
    const r = await api(a.key, 'DELETE', `/keys/${k.key.id}`);
    assert.equal(r.status, 200);
    assert.equal(r.json.key.revoked, true);
    assert.equal((await chat(k.api_key)).status, 401);
    const other = await api(a.key, 'DELETE', `/keys/${b.keyInfo.id}`);
    const missing = await api(a.key, 'DELETE', '/keys/0123456789abcdef0123456789abcdef');
    assertFlatError(other, 404, 'not_found');
    assertFlatError(missing, 404, 'not_found');
    assert.equal(other.json.error, missing.json.error);
    assert.equal((await chat(b.key)).status, 200, 'the other org key still works');
    const ownerKey = await gw.createKey('api-org-a', 'owner');
    assertFlatError(await api(a.key, 'DELETE', `/keys/${ownerKey.id}`), 403, 'forbidden');
  });

  it('rotates a provider key: the next request uses the new key; listing shows a fingerprint, never the key', async () => {
    const before = (await api(a.key, 'GET', '/providers')).json.providers.find((p) => p.name === 'openai');
    assert.equal(before.configured, true);
    const r = await api(a.key, 'PUT', '/providers/openai', { api_key: 'sk-prov-api-a-rotated' });
    assert.equal(r.status, 200);
    assert.ok(!r.text.includes('sk-prov-api-a-rotated'));
    await mock.clear();
    assert.equal((await chat(a.key)).status, 200);
    const seen = (await mock.requests()).map((q) => q.headers.find(([n]) => n.toLowerCase() === 'authorization')?.[1]);
    assert.deepEqual(seen, ['Bearer sk-prov-api-a-rotated']);
    const after = (await api(a.key, 'GET', '/providers')).json.providers.find((p) => p.name === 'openai');
    assert.match(after.fingerprint, /^[0-9a-f]{16}$/);
    assert.notEqual(after.fingerprint, before.fingerprint);
    const listing = JSON.stringify((await api(a.key, 'GET', '/providers')).json);
    for (const s of ['sk-prov-api-a-rotated', 'sk-prov-api-a-original', 'rotated']) assert.ok(!listing.includes(s));
    assertFlatError(await api(a.key, 'PUT', '/providers/nosuch', { api_key: 'x' }), 404, 'unknown_provider');
    const bad = await api(a.key, 'PUT', '/providers/openai', { api_key: 'has space' });
    assert.equal(bad.json.field, 'api_key');
    // org b is untouched
    await mock.clear();
    assert.equal((await chat(b.key)).status, 200);
    const seenB = (await mock.requests()).map((q) => q.headers.find(([n]) => n.toLowerCase() === 'authorization')?.[1]);
    assert.deepEqual(seenB, ['Bearer sk-prov-api-b']);
  });

  it('audits every change (ids and actions only) in a hash chain that verify-audit checks', async () => {
    const k = (await api(a.key, 'POST', '/keys', { name: 'audited' })).json;
    await api(a.key, 'DELETE', `/keys/${k.key.id}`);
    await api(a.key, 'PUT', '/providers/openai', { api_key: 'sk-prov-api-audit-secret' });
    // the org's entries are in its own database (data-dir/orgs/<org id>.db), none in the control database
    const db = new Database(orgDb(a.org.id), { readonly: true, fileMustExist: true });
    const rows = db.prepare('SELECT * FROM audit ORDER BY seq').all();
    db.close();
    const control = new Database(path.join(gw.dataDir, 'ingate.db'), { readonly: true, fileMustExist: true });
    assert.equal(control.prepare('SELECT count(*) AS n FROM audit WHERE org_id = ?').get(a.org.id).n, 0);
    control.close();
    const mine = rows.filter((r) => r.actor === `key:${a.keyInfo.id}`);
    const actions = mine.map((r) => `${r.action} ${r.target}`);
    assert.ok(actions.includes(`key.create ${k.key.id}`), actions.join('\n'));
    assert.ok(actions.includes(`key.revoke ${k.key.id}`));
    assert.ok(actions.includes('provider.update provider:openai'));
    for (const r of mine) {
      assert.match(r.request_id, /^[0-9a-f-]{36}$/);
      // sealed under the org's data key: an AES-256-GCM envelope (33 bytes of overhead), never the address
      assert.ok(Buffer.isBuffer(r.source_ip) && r.source_ip.length === '127.0.0.1'.length + 33, 'source_ip not sealed');
      assert.ok(!r.source_ip.includes('127.0.0.1'));
      assert.ok(!JSON.stringify(r).includes('sk-'), 'a secret in an audit row');
    }
    // the read API: newest first, paged with a cursor, scoped to the caller's org, readable by a viewer
    const page1 = await api(viewer, 'GET', '/audit?limit=2');
    assert.equal(page1.status, 200);
    assert.equal(page1.json.entries.length, 2);
    assert.equal(page1.json.entries[0].action, 'provider.update');
    assert.ok(page1.json.entries[0].seq > page1.json.entries[1].seq);
    assert.match(page1.json.entries[0].hash, /^[0-9a-f]{64}$/);
    assert.equal(page1.json.entries[0].source_ip, '127.0.0.1'); // opened for the API
    assert.equal(page1.json.entries[0].seq, rows[rows.length - 1].seq); // the org's own chain
    const page2 = await api(viewer, 'GET', `/audit?limit=200&cursor=${page1.json.next_cursor}`);
    assert.ok(page2.json.entries.every((e) => e.seq < page1.json.next_cursor));
    assert.equal(page2.json.next_cursor, null);
    assert.equal(page1.json.entries.length + page2.json.entries.length, rows.length);
    const bOnly = await api(b.key, 'GET', '/audit');
    assert.ok(bOnly.json.entries.every((e) => !e.actor.includes(a.keyInfo.id)), 'another org sees our audit');
    assert.equal((await api(viewer, 'GET', '/audit?limit=0')).json.field, 'limit');
    assert.equal((await api(viewer, 'GET', '/audit?limit=201')).json.field, 'limit');
    assert.equal((await api(viewer, 'GET', '/audit?cursor=abc')).json.field, 'cursor');
    const ok = await gw.adminRaw(['verify-audit']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(JSON.parse(ok.stdout).audit_chain, 'intact');
  });

  it('leaves no raw key or provider key on disk or in the server output', async () => {
    const created = (await api(a.key, 'POST', '/keys', { name: 'grep-me' })).json.api_key;
    await api(a.key, 'PUT', '/providers/anthropic', { api_key: 'sk-prov-api-grep-secret' });
    await gw.stop();
    const secrets = [created, a.key, b.key, 'sk-prov-api-grep-secret', 'sk-prov-api-a-rotated', 'sk-prov-api-b', 'sk-prov-api-audit-secret'];
    const out = gw.stdoutText() + gw.stderrText();
    for (const file of await listFiles(gw.dataDir)) {
      const data = fs.readFileSync(file);
      for (const s of secrets) assert.equal(data.indexOf(s), -1, `${s.slice(0, 12)}… found in ${file}`);
    }
    for (const s of secrets) assert.ok(!out.includes(s), `${s.slice(0, 12)}… found in the server output`);
    // a tampered audit row of an org's database is found by verify-audit, which names the org and the entry
    const db = new Database(orgDb(a.org.id));
    const second = db.prepare('SELECT seq FROM audit ORDER BY seq LIMIT 1 OFFSET 1').get();
    db.prepare("UPDATE audit SET action = 'key.nothing' WHERE seq = ?").run(second.seq);
    db.close();
    const bad = await gw.adminRaw(['verify-audit']);
    assert.equal(bad.code, 1, bad.stderr);
    const v = JSON.parse(bad.stdout);
    assert.deepEqual([v.audit_chain, v.chain, v.org, v.first_bad_seq], ['broken', 'org', a.org.id, second.seq]);
    assert.match(bad.stderr, new RegExp(`org ${a.org.id} is broken at entry ${second.seq}`));
  });
});
