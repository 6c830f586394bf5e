// Where audit entries live and what protects them: each org's entries are a hash chain in the org's own
// database (data-dir/orgs/<org id>.db) with the client address sealed under the org's data key; entries
// without an org and the record of an org's deletion are in the control database's chain, the address sealed
// under the identity key. The API opens the addresses for the org's own callers only (another org's entry id
// is 404); no address is in clear in any file of the data directory (a distinctive X-Forwarded-For from a
// trusted proxy is grepped for); verify-audit names the org and entry of a row edited in an org's database
// or the control one; and a data directory from before (one chain for all orgs, addresses in clear) is
// upgraded at start-up: each entry moved to its place with its id, time and address, nothing left in clear.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { startMock, startGateway, assertFlatError, listFiles, waitFor, T, newEmail, newPassword, randomId, LOOSE_AUTH_ARGS } from './lib/harness.mjs';

const IP = '198.18.47.219'; // RFC 2544 benchmarking range: found nowhere else
const XFF = { 'x-forwarded-for': IP };
const ARGS = [...LOOSE_AUTH_ARGS, '--trusted-proxies', '127.0.0.1'];
const SEAL_OVERHEAD = 33; // envelope: version, key id, nonce, GCM tag

const orgDb = (gw, orgId) => path.join(gw.dataDir, 'orgs', `${orgId}.db`);
const controlDb = (gw) => path.join(gw.dataDir, 'ingate.db');

/** Paths of the files (data directory, server output) holding s, as UTF-8 or UTF-16. */
async function filesWith(gw, s) {
  const hits = [];
  for (const f of [...(await listFiles(gw.dataDir)), gw.stdoutPath, gw.stderrPath]) {
    const buf = fs.readFileSync(f);
    for (const enc of ['utf8', 'utf16le']) if (buf.includes(Buffer.from(s, enc))) hits.push(`${f} (${enc})`);
  }
  return hits;
}

describe('audit log storage', () => {
  let mock, gw, A, B, D;
  before(async () => {
    mock = await startMock();
    gw = await startGateway({ mock, args: ARGS });
  });
  after(async () => {
    await gw?.destroy();
    await mock?.stop();
  });

  it("each org's entries are in its own database, the address sealed; the API opens it for that org only", async () => {
    A = await gw.signup({ headers: XFF });
    B = await gw.signup({ headers: XFF });
    D = await gw.signup({ headers: XFF });
    const call = async (cred, method, p, body, status) => {
      const r = await gw.api(cred, method, p, body, XFF);
      assert.equal(r.status, status, `${method} ${p}: ${r.status} ${r.text}`);
      return r;
    };
    await call(null, 'POST', '/login', { email: newEmail('nobody'), password: newPassword() }, 401); // no org
    await call(null, 'POST', '/login', { email: A.email, password: 'not-the-password-0' }, 401);
    await call(null, 'POST', '/login', { email: A.email, password: A.password }, 200);
    const k = (await call(A.token, 'POST', '/keys', { name: 'audited' }, 201)).json.key;
    await call(A.token, 'PUT', '/providers/openai', { api_key: 'sk-prov-audit-a' }, 200);
    await call(D.token, 'DELETE', '/org', { confirm: D.org.slug }, 200);
    // a proxied call from the same client: its log record's address is sealed too
    const chat = await gw.request({
      method: 'POST',
      path: '/v1/chat/completions',
      headers: { 'x-ingate-key': A.api_key, 'content-type': 'application/json', ...XFF },
      body: JSON.stringify({ model: 'gpt-audit', messages: [] }),
    });
    assert.equal(chat.status, 200, chat.text);

    // the API: the org's own chain, newest first, every address in clear
    const all = (await call(A.token, 'GET', '/audit?limit=200', undefined, 200)).json.entries;
    const actions = all.map((e) => e.action);
    for (const a of ['org.create', 'key.create', 'login.failure', 'login.success', 'provider.update'])
      assert.ok(actions.includes(a), `${a} missing: ${actions}`);
    assert.deepEqual(all.map((e) => e.seq), all.map((_, i) => all.length - i), 'not one chain numbered 1..n');
    assert.ok(all.every((e) => e.source_ip === IP), JSON.stringify(all.map((e) => e.source_ip)));
    assert.ok(all.some((e) => e.action === 'key.create' && e.target === k.id));
    // org isolation: another org's entry id is 404, like a missing one, and never listed
    assertFlatError(await gw.api(B.token, 'GET', `/audit/${all[0].id}`), 404, 'not_found');
    assertFlatError(await gw.api(B.token, 'GET', `/audit/${randomId()}`), 404, 'not_found');
    const bIds = (await call(B.token, 'GET', '/audit?limit=200', undefined, 200)).json.entries.map((e) => e.id);
    assert.ok(bIds.length >= 2 && bIds.every((id) => !all.some((e) => e.id === id)));
    assert.equal((await call(A.token, 'GET', `/audit/${all[0].id}`, undefined, 200)).json.entry.source_ip, IP);

    // on disk: A's entries in A's database, each address an envelope
    const db = new Database(orgDb(gw, A.org.id), { readonly: true, fileMustExist: true });
    const rows = db.prepare('SELECT id, source_ip FROM audit ORDER BY seq DESC').all();
    db.close();
    assert.deepEqual(rows.map((r) => r.id), all.map((e) => e.id));
    for (const r of rows) assert.ok(Buffer.isBuffer(r.source_ip) && r.source_ip.length === IP.length + SEAL_OVERHEAD);
    // the control chain: nothing of A; the unknown-email failure and D's deletion, sealed under the identity key
    const c = new Database(controlDb(gw), { readonly: true, fileMustExist: true });
    const ctl = c.prepare('SELECT org_id, action, source_ip, source_ip_enc FROM audit ORDER BY seq').all();
    c.close();
    assert.ok(!ctl.some((r) => r.org_id === A.org.id || r.org_id === B.org.id));
    const fail = ctl.find((r) => r.action === 'login.failure');
    const del = ctl.find((r) => r.action === 'org.delete');
    assert.ok(fail && fail.org_id === null && fail.source_ip === null && fail.source_ip_enc.length === IP.length + SEAL_OVERHEAD);
    assert.ok(del && del.org_id === D.org.id && del.source_ip === null && Buffer.isBuffer(del.source_ip_enc));
    assert.equal(fs.existsSync(orgDb(gw, D.org.id)), false, "the deleted org's database (and its chain) is gone");

    const v = await gw.adminRaw(['verify-audit']);
    assert.equal(v.code, 0, v.stderr);
    const out = JSON.parse(v.stdout);
    assert.equal(out.audit_chain, 'intact');
    assert.ok(out.orgs >= 2 && out.org_entries >= rows.length, v.stdout);
    // the call's record is written asynchronously: wait for it before the files are searched
    const logs = await waitFor(
      async () => {
        const r = (await gw.api(A.token, 'GET', '/logs')).json.logs;
        return r?.length >= 1 ? r : false;
      },
      { timeoutMs: T(10000), what: 'the log record of the call' }
    );
    assert.equal(logs[0].client_ip, IP);
  });

  it("GET /audit/verify checks the caller's org chain only and names the first edited entry", async () => {
    const verify = async (who) => {
      const r = await gw.api(who.token, 'GET', '/audit/verify');
      assert.equal(r.status, 200, r.text);
      return r.json;
    };
    const a = await verify(A);
    assert.equal(a.ok, true, JSON.stringify(a));
    assert.equal(a.broken, null);
    assert.ok(a.entries >= 5, JSON.stringify(a));
    const db = new Database(orgDb(gw, A.org.id));
    const row = db.prepare('SELECT action FROM audit WHERE seq = 3').get();
    db.prepare("UPDATE audit SET action = 'key.nothing' WHERE seq = 3").run();
    try {
      const bad = await verify(A);
      assert.deepEqual([bad.ok, bad.broken], [false, { chain: 'org', seq: 3 }]);
      assert.equal((await verify(B)).ok, true, "another org's broken chain is not B's");
    } finally {
      db.prepare('UPDATE audit SET action = ? WHERE seq = 3').run(row.action);
      db.close();
    }
    assert.equal((await verify(A)).ok, true);
  });

  it('no client address in clear in any file of the data directory, nor in the output', async () => {
    await gw.stop();
    assert.deepEqual(await filesWith(gw, IP), []);
    assert.ok((await filesWith(gw, 'login.failure')).length > 0, 'the search finds what is in clear');
  });

  it('verify-audit names the org and entry of an edited row, a swapped envelope, and a control-chain edit', async () => {
    const verify = async () => {
      const r = await gw.adminRaw(['verify-audit']);
      return { code: r.code, out: r.stdout ? JSON.parse(r.stdout) : {}, stderr: r.stderr };
    };
    const db = new Database(orgDb(gw, A.org.id));
    const rows = db.prepare('SELECT seq, action, source_ip FROM audit ORDER BY seq').all();
    assert.ok(rows.length >= 5);
    // an edited action (what `sqlite3 orgs/<id>.db "UPDATE audit ..."` does)
    db.prepare("UPDATE audit SET action = 'key.nothing' WHERE seq = 3").run();
    let v = await verify();
    assert.equal(v.code, 1, v.stderr);
    assert.deepEqual([v.out.audit_chain, v.out.chain, v.out.org, v.out.first_bad_seq], ['broken', 'org', A.org.id, 3]);
    assert.match(v.stderr, new RegExp(`audit chain of org ${A.org.id} is broken at entry 3`));
    db.prepare('UPDATE audit SET action = ? WHERE seq = 3').run(rows[2].action);
    assert.equal((await verify()).code, 0);
    // two entries' sealed addresses swapped: the hash covers the envelope
    db.prepare('UPDATE audit SET source_ip = ? WHERE seq = 2').run(rows[3].source_ip);
    db.prepare('UPDATE audit SET source_ip = ? WHERE seq = 4').run(rows[1].source_ip);
    v = await verify();
    assert.deepEqual([v.code, v.out.org, v.out.first_bad_seq], [1, A.org.id, 2]);
    db.prepare('UPDATE audit SET source_ip = ? WHERE seq = 2').run(rows[1].source_ip);
    db.prepare('UPDATE audit SET source_ip = ? WHERE seq = 4').run(rows[3].source_ip);
    db.close();
    assert.equal((await verify()).code, 0);
    // the control chain: the deletion record edited
    const c = new Database(controlDb(gw));
    const del = c.prepare("SELECT seq FROM audit WHERE action = 'org.delete'").get();
    c.prepare("UPDATE audit SET actor = 'user:someone-else' WHERE seq = ?").run(del.seq);
    c.close();
    v = await verify();
    assert.deepEqual([v.code, v.out.chain, v.out.org, v.out.first_bad_seq], [1, 'control', null, del.seq]);
    assert.match(v.stderr, /control database's audit chain is broken/);
  });
});

/** The hash of the single chain of schemas 2-3 (store.c ig_store_audit_hash), over the address in clear. */
function v1Hash(e) {
  const u64 = (v) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(BigInt(v));
    return b;
  };
  const parts = [e.prev_hash, Buffer.from('ingate-audit-v1\0'), u64(e.seq), u64(e.created_at)];
  for (const f of [e.id, e.org_id, e.actor, e.action, e.target, e.source_ip, e.request_id]) {
    const b = Buffer.from(f ?? '');
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    parts.push(len, b);
  }
  return crypto.createHash('sha256').update(Buffer.concat(parts)).digest();
}

describe('upgrade of the audit chain of schemas 2-3', () => {
  it("moves each org's entries into its own chain and the rest into the control chain, addresses sealed", async () => {
    const OLD_IP = '198.18.47.220';
    const first = await startGateway({ args: ARGS });
    let second;
    try {
      const A = await first.signup();
      await first.stop();
      // entries as a gateway of schema 2-3 wrote them, in the table schema 4 renamed to audit_v1
      const gone = randomId(); // an org deleted before the upgrade
      const spec = [
        [A.org.id, 'user:old', 'key.create', 'k-old', OLD_IP],
        [null, 'anonymous', 'login.failure', null, OLD_IP],
        [gone, 'user:old', 'key.create', 'k-gone', OLD_IP],
        [gone, 'user:old', 'org.delete', gone, OLD_IP],
        [A.org.id, 'operator', 'org.billing_update', 'enterprise', null],
      ];
      const legacy = [];
      let prev = Buffer.alloc(32);
      for (const [i, [org_id, actor, action, target, source_ip]] of spec.entries()) {
        const e = { seq: i + 1, id: randomId(), org_id, actor, action, target, source_ip, request_id: crypto.randomUUID(), created_at: 1700000000000 + i, prev_hash: prev };
        e.hash = v1Hash(e);
        prev = e.hash;
        legacy.push(e);
      }
      const db = new Database(controlDb(first));
      const ins = db.prepare(
        'INSERT INTO audit_v1 (seq, id, org_id, actor, action, target, source_ip, request_id, created_at, prev_hash, hash)' +
          ' VALUES (@seq, @id, @org_id, @actor, @action, @target, @source_ip, @request_id, @created_at, @prev_hash, @hash)'
      );
      for (const e of legacy) ins.run(e);
      db.close();
      const pre = await first.adminRaw(['verify-audit']); // the legacy chain is checked as it is
      assert.equal(pre.code, 0, pre.stderr);

      second = await startGateway({ args: ARGS, reuse: first });
      // A's chain: its signup entries, then its two legacy entries with their ids, times and addresses
      const all = (await second.api(A.token, 'GET', '/audit?limit=200')).json.entries;
      const byId = Object.fromEntries(all.map((e) => [e.id, e]));
      for (const l of [legacy[0], legacy[4]]) {
        const e = byId[l.id];
        assert.ok(e, `legacy entry ${l.action} not in the org's chain: ${JSON.stringify(all)}`);
        assert.deepEqual([e.actor, e.action, e.target, e.source_ip, e.request_id, e.created_at], [l.actor, l.action, l.target, l.source_ip ?? '', l.request_id, l.created_at]);
      }
      assert.equal(all.length, 4);
      assert.deepEqual(all.map((e) => e.seq), [4, 3, 2, 1]);
      // the control chain: the entry without an org and the deleted org's two, sealed; then the upgrade's own
      const c = new Database(controlDb(second), { readonly: true, fileMustExist: true });
      assert.equal(c.prepare('SELECT count(*) AS n FROM audit_v1').get().n, 0);
      const ctl = c.prepare('SELECT id, org_id, action, target, source_ip, source_ip_enc, created_at FROM audit ORDER BY seq').all();
      c.close();
      assert.deepEqual(ctl.map((r) => r.id).slice(0, 3), [legacy[1].id, legacy[2].id, legacy[3].id]);
      for (const r of ctl.slice(0, 3)) assert.ok(r.source_ip === null && r.source_ip_enc.length === OLD_IP.length + SEAL_OVERHEAD);
      assert.equal(ctl[3].action, 'audit.upgrade');
      assert.equal(ctl[3].target, legacy[4].hash.toString('hex'), "the old chain's head is on record");
      assert.equal(ctl.length, 4);
      const v = await second.adminRaw(['verify-audit']);
      assert.equal(v.code, 0, v.stderr);
      await second.stop();
      assert.deepEqual(await filesWith(second, OLD_IP), []);
    } finally {
      await (second ?? first).destroy();
    }
  });
});
