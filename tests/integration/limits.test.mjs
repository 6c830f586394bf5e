// Size and time limits: large bodies both ways, --max-body-bytes (413), nothing read from unauthenticated
// bodies, header block / count / URL limits (431), header timeout against slowloris (408 + close), idle
// keep-alive timeout.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import {
  startMock,
  startGateway,
  assertOpenAIError,
  assertSecurityHeaders,
  collect,
  parseHead,
  fakeKey,
  sleep,
  uid,
  T,
  MiB,
} from './lib/harness.mjs';

describe('limits', () => {
  let mock, gw, t;
  before(async () => {
    mock = await startMock();
    gw = await startGateway({
      mock,
      args: ['--max-body-bytes', '16m', '--header-timeout-ms', '1500', '--idle-timeout-ms', '1500'],
    });
    t = await gw.tenant('limits', { providers: { openai: 'sk-prov-limits-1' } });
  });
  after(async () => {
    await gw?.destroy();
    await mock?.stop();
  });

  it('a 12 MiB upstream response reaches the client entirely', async () => {
    const r = await gw.request({
      method: 'POST',
      path: '/v1/chat/completions',
      headers: { 'x-ingate-key': t.key, 'x-mock-mode': 'big', 'x-mock-bytes': String(12 * MiB) },
      body: '{}',
    });
    assert.equal(r.status, 200);
    assert.equal(r.complete, true);
    assert.equal(r.body.length, 12 * MiB);
    assert.ok(r.text.startsWith('data: {"i":0,'));
  });

  it('a 12 MiB request body reaches the upstream entirely', async () => {
    const id = uid('big');
    const prefix = '{"model":"big-request","pad":"';
    const suffix = '"}';
    const body = prefix + 'x'.repeat(12 * MiB - prefix.length - suffix.length) + suffix;
    assert.equal(body.length, 12 * MiB);
    const r = await gw.request({
      method: 'POST',
      path: '/v1/chat/completions',
      headers: { 'x-ingate-key': t.key, 'content-type': 'application/json', 'x-test-id': id },
      body,
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.model, 'big-request');
    const rec = await mock.waitFor(id);
    assert.equal(rec.body_len, 12 * MiB);
  });

  it('a 12 MiB chunked request body reaches the upstream entirely', async () => {
    const id = uid('bigc');
    const part = Buffer.alloc(MiB, 'y');
    const r = await gw.request({
      method: 'POST',
      path: '/v1/embeddings',
      headers: { 'x-ingate-key': t.key, 'x-test-id': id, 'transfer-encoding': 'chunked' },
      body: (req) => {
        for (let i = 0; i < 12; i++) req.write(part);
        req.end();
      },
    });
    assert.equal(r.status, 200, r.text);
    assert.equal((await mock.waitFor(id)).body_len, 12 * MiB);
  });

  it('a Content-Length over --max-body-bytes is 413 before any body byte is read', async () => {
    const id = uid('413');
    const r = await gw.request({
      method: 'POST',
      path: '/v1/chat/completions',
      headers: { 'x-ingate-key': t.key, 'x-test-id': id, 'content-length': String(17 * MiB) },
      body: (req) => req.flushHeaders(),
    });
    assertOpenAIError(r, 413, 'payload_too_large');
    assertSecurityHeaders(r, '413');
    assert.equal(await mock.find(id), undefined);
  });

  it('a chunked body growing over --max-body-bytes is 413 and never reaches the upstream', async () => {
    const id = uid('413c');
    const part = Buffer.alloc(MiB, 'z');
    const r = await gw.request({
      method: 'POST',
      path: '/v1/chat/completions',
      headers: { 'x-ingate-key': t.key, 'x-test-id': id, 'transfer-encoding': 'chunked' },
      body: (req) => {
        req.on('error', () => {});
        let i = 0;
        const pump = () => {
          while (i < 20) {
            i++;
            if (!req.write(part)) return req.once('drain', pump);
          }
          req.end();
        };
        pump();
      },
    });
    assertOpenAIError(r, 413, 'payload_too_large');
    await sleep(200);
    assert.equal(await mock.find(id), undefined);
  });

  for (const [what, keyHeader] of [
    ['without a key', ''],
    ['with an unknown well-formed key', `X-Ingate-Key: ${fakeKey()}\r\n`],
  ]) {
    it(`a 20 MiB body sent ${what} is refused with 401 and the connection closed early`, async () => {
      const s = await gw.connect();
      const chunks = [];
      let closed = false;
      s.on('data', (c) => chunks.push(c));
      s.on('error', () => {});
      s.on('close', () => (closed = true));
      s.write(
        `POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\n${keyHeader}` +
          `Content-Type: application/json\r\nContent-Length: ${20 * MiB}\r\n\r\n`
      );
      const part = Buffer.alloc(512 * 1024, 'a');
      let written = 0;
      let answeredAfter;
      const t0 = Date.now();
      while (!closed && written < 20 * MiB && Date.now() - t0 < T(20000)) {
        if (answeredAfter === undefined && Buffer.concat(chunks).includes('HTTP/1.1 ')) answeredAfter = written;
        s.write(part);
        written += part.length;
        await sleep(250);
      }
      const elapsed = Date.now() - t0;
      s.destroy();
      const head = parseHead(Buffer.concat(chunks));
      assert.ok(head, 'a 401 response was expected');
      assert.equal(head.status, 401);
      assert.ok(answeredAfter !== undefined && answeredAfter <= 2 * MiB, `401 came only after ${answeredAfter} body bytes`);
      assert.ok(closed, `connection still open after ${elapsed} ms and ${written} bytes`);
      assert.ok(written < 20 * MiB, 'the whole 20 MiB body was accepted before the connection closed');
    });
  }

  it('a header block over 16 KiB is 431', async () => {
    const r = await gw.request({ path: '/v1/models', headers: { 'x-ingate-key': t.key, 'x-filler': 'f'.repeat(17 * 1024) } });
    assertOpenAIError(r, 431, 'headers_too_large');
    assert.equal(r.headers.connection, 'close');
  });

  it('a header block just under 16 KiB is accepted', async () => {
    const r = await gw.request({ path: '/v1/models', headers: { 'x-ingate-key': t.key, 'x-filler': 'f'.repeat(14 * 1024) } });
    assert.equal(r.status, 200, r.text);
  });

  it('more than 100 header lines is 431', async () => {
    const headers = { 'x-ingate-key': t.key };
    for (let i = 0; i < 120; i++) headers[`x-h-${i}`] = 'v';
    const r = await gw.request({ path: '/v1/models', headers });
    assert.equal(r.status, 431);
  });

  it('a URL over 8 KiB is refused (limits.h: IG_MAX_URL_BYTES) and not proxied', async () => {
    const id = uid('url');
    const r = await gw.request({ path: `/v1/models?q=${'u'.repeat(9 * 1024)}`, headers: { 'x-ingate-key': t.key, 'x-test-id': id } });
    assert.ok(r.status === 414 || r.status === 431, `expected 414/431, got ${r.status}`);
    assert.equal(await mock.find(id), undefined);
  });

  it('slowloris: headers trickled 1 byte/s get 408 and a close after --header-timeout-ms', async () => {
    const s = await gw.connect();
    const done = collect(s, T(15000));
    const t0 = Date.now();
    s.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n');
    const trickle = 'X-Slow: ' + 'a'.repeat(100);
    let closed = false;
    s.on('close', () => (closed = true));
    for (let i = 0; i < trickle.length && !closed; i++) {
      await sleep(1000);
      if (!closed) s.write(trickle[i]);
    }
    const r = await done;
    const took = r.closedAt - t0;
    assert.ok(r.closed, 'the connection must be closed');
    assert.ok(took < T(6000), `closed only after ${took} ms (header timeout 1500 ms)`);
    assert.ok(took >= 1000, `closed after ${took} ms, before the header timeout`);
    if (r.data.length) {
      const head = parseHead(r.data);
      assert.equal(head?.status, 408);
    }
  });

  it('a TCP connection that never starts the TLS handshake is closed', async () => {
    const s = net.connect({ host: '127.0.0.1', port: gw.port });
    await new Promise((r, j) => s.once('connect', r).once('error', j));
    const t0 = Date.now();
    const r = await collect(s, T(10000));
    assert.ok(r.closed, 'an idle TCP connection must be closed');
    assert.ok(r.closedAt - t0 < T(6000));
  });

  it('an idle keep-alive connection is closed after --idle-timeout-ms', async () => {
    const s = await gw.connect();
    const done = collect(s, T(15000));
    s.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n');
    const t0 = Date.now();
    const r = await done;
    assert.ok(r.closed);
    const head = parseHead(r.data);
    assert.equal(head.status, 200);
    assert.notEqual(head.headers.connection, 'close');
    const took = r.closedAt - t0;
    assert.ok(took >= 1000 && took < T(7000), `idle connection closed after ${took} ms (idle timeout 1500 ms)`);
  });

  it('exits 0 on SIGTERM without sanitizer reports', async () => {
    await gw.stop();
  });
});

describe('connection limit', () => {
  it('--max-connections refuses connections beyond the limit and accepts again once one closes', async () => {
    const gw = await startGateway({ threads: 1, args: ['--max-connections', '3'] });
    const open = [];
    try {
      for (let i = 0; i < 3; i++) open.push(await gw.connect());
      // the 4th is accepted by the kernel, then closed by the gateway before or during the handshake
      const fourth = await gw.connect().then(
        (s) => collect(s, T(5000)).then((r) => ({ closed: r.closed })),
        (e) => ({ error: e })
      );
      assert.ok(fourth.error || fourth.closed, 'a connection over the limit must be refused');
      open.pop().destroy();
      await sleep(300);
      const r = await gw.request({ path: '/healthz' });
      assert.equal(r.status, 200, 'after one closed, a new connection must be served');
      for (const s of open) s.destroy();
      await sleep(100);
      await gw.stop();
    } finally {
      for (const s of open) s.destroy();
      await gw.destroy();
    }
  });
});
