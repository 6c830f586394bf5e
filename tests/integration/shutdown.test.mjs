// Graceful shutdown: on SIGTERM the gateway stops accepting, closes idle keep-alive connections, lets in-flight
// streams finish completely, flushes the call log and exits 0.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import Database from 'better-sqlite3';
import { startMock, startGateway, collect, parseHead, waitExit, sleep, T } from './lib/harness.mjs';

function tcpConnectResult(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve('connected');
    });
    s.once('error', (e) => resolve(e.code || 'error'));
  });
}

describe('graceful shutdown', () => {
  it('SIGTERM mid-stream: the stream completes, new connections are refused, idle ones closed, exit 0', async () => {
    const mock = await startMock();
    const gw = await startGateway({ mock, args: ['--drain-timeout-ms', String(T(20000))] });
    try {
      const t = await gw.tenant('drain', { providers: { openai: 'sk-prov-drain-1' } });
      // an idle keep-alive connection
      const idle = await gw.connect();
      const idleDone = collect(idle, T(15000));
      idle.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n');
      await sleep(200);

      let firstEventAt;
      let terminatedAt;
      const streamP = gw.request({
        method: 'POST',
        path: '/v1/chat/completions',
        headers: { 'x-ingate-key': t.key, 'x-mock-mode': 'stream', 'x-mock-events': '5', 'x-mock-interval-ms': '400' },
        body: JSON.stringify({ model: 'gpt-drain', stream: true }),
        onData: () => {
          if (firstEventAt) return;
          firstEventAt = Date.now();
          terminatedAt = Date.now();
          gw.proc.kill('SIGTERM');
        },
      });

      // while the stream is still running, the listener must go away
      let refusedWhileDraining = false;
      const deadline = Date.now() + T(3000);
      while (Date.now() < deadline && gw.running) {
        if (terminatedAt) {
          const res = await tcpConnectResult(gw.port);
          if (res === 'ECONNREFUSED') {
            refusedWhileDraining = gw.running;
            break;
          }
        }
        await sleep(50);
      }

      const r = await streamP;
      assert.ok(terminatedAt, 'SIGTERM was sent after the first event');
      assert.equal(r.status, 200);
      assert.equal(r.complete, true, 'the in-flight stream must end cleanly');
      assert.equal((r.text.match(/"content":/g) || []).length, 5, 'all five deltas arrived');
      assert.ok(r.text.endsWith('data: [DONE]\n\n'), 'the stream must finish with [DONE]');
      assert.ok(r.endAt - terminatedAt > 1000, 'the stream went on after SIGTERM');
      assert.ok(refusedWhileDraining, 'new connections must be refused while the gateway drains');

      const idleRes = await idleDone;
      assert.ok(idleRes.closed, 'an idle keep-alive connection must be closed on SIGTERM');
      assert.equal(parseHead(idleRes.data)?.status, 200);
      assert.ok(idleRes.closedAt - terminatedAt < T(3000), 'the idle connection was closed promptly');

      const exit = await waitExit(gw.proc, T(20000));
      assert.ok(exit, 'the gateway must exit once drained');
      await gw.stop(); // asserts code 0 and no sanitizer report
      assert.match(gw.stderrText(), /received SIGTERM/);
      assert.equal(await tcpConnectResult(gw.port), 'ECONNREFUSED');

      const db = new Database(path.join(gw.dataDir, 'orgs', `${t.org.id}.db`), { readonly: true });
      try {
        const row = db.prepare("SELECT status, stream FROM logs WHERE model = 'gpt-drain'").get();
        assert.deepEqual(row, { status: 200, stream: 1 }, 'the drained stream is in the call log');
      } finally {
        db.close();
      }
    } finally {
      await gw.destroy();
      await mock.stop();
    }
  });

  it('a request that outlives --drain-timeout-ms is cut and the gateway still exits 0', async () => {
    const mock = await startMock();
    const gw = await startGateway({ mock, args: ['--drain-timeout-ms', '1000'] });
    try {
      const t = await gw.tenant('drain2', { providers: { openai: 'sk-prov-drain-2' } });
      const p = gw.request({
        method: 'POST',
        path: '/v1/chat/completions',
        headers: { 'x-ingate-key': t.key, 'x-mock-mode': 'hang' },
        body: '{}',
      });
      await sleep(300);
      const t0 = Date.now();
      const stopped = gw.stop(T(15000));
      const r = await p.then(
        (x) => x,
        (e) => ({ error: e })
      );
      await stopped;
      assert.ok(Date.now() - t0 < T(10000), 'exit within the drain timeout (plus slack)');
      assert.ok(r.error || r.status >= 500, 'the hanging request cannot have succeeded');
    } finally {
      await gw.destroy();
      await mock.stop();
    }
  });

  it('SIGINT also drains and exits 0', async () => {
    const gw = await startGateway({});
    try {
      assert.equal((await gw.request({ path: '/healthz' })).status, 200);
      gw.proc.kill('SIGINT');
      const r = await waitExit(gw.proc, T(15000));
      assert.deepEqual(r, { code: 0, signal: null });
      gw.assertNoSanitizerReport();
    } finally {
      await gw.destroy();
    }
  });
});
