// State across restarts: orgs, keys, provider keys (sealed with the master key) and the certificate survive a
// restart on the same data dir; a different master key cannot open the stored provider keys, and says so
// without leaking anything.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { startMock, startGateway, assertOpenAIError, header } from './lib/harness.mjs';

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

  it('with a different master key the stored provider key does not open: 500, nothing leaked', async () => {
    const mock = await startMock();
    const first = await startGateway({ mock });
    let second;
    try {
      const t = await first.tenant('mk', { providers: { openai: 'sk-prov-mk-SECRET-1' } });
      await first.stop();
      second = await startGateway({ mock, reuse: first, env: { INGATE_MASTER_KEY: crypto.randomBytes(32).toString('hex') } });
      await mock.clear();
      const r = await second.request({ path: '/v1/models', headers: { 'x-ingate-key': t.key } });
      assertOpenAIError(r, 500, 'internal_error');
      assert.equal((await mock.requests()).length, 0, 'nothing may be sent upstream without the provider key');
      assert.ok(!r.text.includes('sk-prov-mk-SECRET-1'));
      await second.stop();
      assert.ok(!second.stderrText().includes('sk-prov-mk-SECRET-1'));
    } finally {
      await second?.destroy();
      await first.destroy();
      await mock.stop();
    }
  });
});
