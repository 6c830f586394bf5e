// Upstream behaviour the mock cannot produce, served by a small Node upstream started by this file: a provider
// key echoed split across chunks (masking must hold a partial match back, in plain and SSE bodies, with and
// without Content-Length), upstream headers that collide with the gateway's own (security headers, request id,
// Set-Cookie) or are hop-by-hop, interim 1xx responses, EOF-delimited bodies and redirects.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { startGateway, SECURITY_HEADERS, UUID_RE, assertSecurityHeaders, sleep, uid } from './lib/harness.mjs';

const PROVIDER_KEY = 'sk-fake-prov-' + uid('k') + '-tail';

function startFakeUpstream() {
  const seen = [];
  const server = http.createServer(async (req, res) => {
    const auth = req.headers.authorization || '';
    const key = auth.replace(/^Bearer /, '');
    seen.push({ method: req.method, url: req.url, headers: req.headers });
    req.resume();
    await new Promise((r) => req.on('end', r));
    const gap = () => sleep(40);
    switch (req.url) {
      case '/v1/split-json': {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.flushHeaders();
        await gap();
        res.write(`{"error":{"message":"bad key ${key.slice(0, 9)}`);
        await gap();
        res.write(key.slice(9, 20));
        await gap();
        res.end(`${key.slice(20)} (again: ${key})"}}`);
        return;
      }
      case '/v1/split-cl': {
        const body = `{"echo":"${key}","more":"${key}"}`;
        res.writeHead(400, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.flushHeaders();
        await gap();
        res.write(body.slice(0, 15));
        await gap();
        res.end(body.slice(15));
        return;
      }
      case '/v1/split-sse': {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        res.flushHeaders();
        res.write('data: {"n":1}\n\n');
        await sleep(400);
        res.write(`data: {"k":"${key.slice(0, 4)}`);
        await gap();
        res.write(`${key.slice(4)}"}\n\n`);
        await gap();
        res.write(`data: {"tail":"${key}`);
        await gap();
        res.end(`"}\n\ndata: [DONE]\n\n`);
        return;
      }
      case '/v1/tail-key': {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.flushHeaders();
        await gap();
        res.write('ends with ');
        await gap();
        res.end(key);
        return;
      }
      case '/v1/tail-prefix': {
        // ends with the key's first characters only: not the key, must arrive unchanged
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.flushHeaders();
        await gap();
        res.end(`prefix ${key.slice(0, 8)}`);
        return;
      }
      case '/v1/headers':
        res.writeHead(200, {
          'content-type': 'application/json',
          'x-frame-options': 'SAMEORIGIN',
          'strict-transport-security': 'max-age=0',
          'content-security-policy': "default-src *",
          'x-content-type-options': 'none',
          'x-ingate-request-id': 'fake-request-id',
          'set-cookie': 'session=upstream; Path=/',
          connection: 'close, x-upstream-hop',
          'x-upstream-hop': 'hop-value',
          'keep-alive': 'timeout=5',
          'x-upstream-ok': 'yes',
          'x-ratelimit-remaining-requests': '42',
        });
        res.end('{"ok":true}');
        return;
      case '/v1/early-hints':
        res.writeEarlyHints({ link: '</style.css>; rel=preload; as=style' });
        await gap();
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"after":"103"}');
        return;
      case '/v1/redirect':
        res.writeHead(307, { location: 'https://elsewhere.example/v1/x', 'content-type': 'application/json' });
        res.end('{"moved":true}');
        return;
      default:
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end('{"error":"nope"}');
    }
  });
  // a raw upstream: /eof answers HTTP/1.0-style (no length, body delimited by closing the connection),
  // /short promises 100 bytes and closes after 40, /hugeheaders sends a 70 KiB header block
  const eofServer = net.createServer((sock) => {
    let buf = '';
    sock.on('data', async (d) => {
      buf += d.toString('latin1');
      if (!buf.includes('\r\n\r\n') || sock.answered) return;
      sock.answered = true;
      const path = buf.split(' ')[1];
      if (path === '/v1/short') {
        sock.write('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n');
        await sleep(50);
        sock.end('{"partial":"' + 'x'.repeat(27));
      } else if (path === '/v1/hugeheaders') {
        let h = 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n';
        for (let i = 0; i < 70; i++) h += `X-Big-${i}: ${'b'.repeat(1000)}\r\n`;
        sock.end(h + 'Content-Length: 2\r\n\r\n{}');
      } else {
        sock.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n');
        sock.write('part one; ');
        await sleep(50);
        sock.end('part two');
      }
    });
    sock.on('error', () => {});
  });
  return Promise.all([
    new Promise((r) => server.listen(0, '127.0.0.1', r)),
    new Promise((r) => eofServer.listen(0, '127.0.0.1', r)),
  ]).then(() => ({
    port: server.address().port,
    eofPort: eofServer.address().port,
    seen,
    close: () => {
      server.closeAllConnections?.();
      return Promise.all([new Promise((r) => server.close(r)), new Promise((r) => eofServer.close(r))]);
    },
  }));
}

describe('upstream edge cases (Node upstream)', () => {
  let up, gw, t;
  before(async () => {
    up = await startFakeUpstream();
    gw = await startGateway({
      providers:
        `name=fake,base_url=http://127.0.0.1:${up.port},auth_header=Authorization,auth_format=Bearer {key};` +
        `name=eof,base_url=http://127.0.0.1:${up.eofPort}`,
    });
    t = await gw.tenant('edge', { providers: { fake: PROVIDER_KEY } });
  });
  after(async () => {
    await gw?.destroy();
    await up?.close();
  });

  const get = (path, provider = 'fake', extra = {}) =>
    gw.request({ method: 'POST', path, headers: { 'x-ingate-key': t.key, 'x-ingate-provider': provider, ...extra }, body: '{}' });

  it('the fake upstream received the injected key (sanity)', async () => {
    await get('/v1/headers');
    assert.equal(up.seen.at(-1).headers.authorization, `Bearer ${PROVIDER_KEY}`);
  });

  it('a key echoed across several chunks is masked (chunked JSON error)', async () => {
    const r = await get('/v1/split-json');
    assert.equal(r.status, 401);
    assert.ok(!r.text.includes(PROVIDER_KEY), `leaked: ${r.text}`);
    const stars = '*'.repeat(PROVIDER_KEY.length);
    assert.equal(r.text, `{"error":{"message":"bad key ${stars} (again: ${stars})"}}`);
  });

  it('a key echoed across chunks of a Content-Length body is masked and the length kept', async () => {
    const r = await get('/v1/split-cl');
    assert.equal(r.status, 400);
    assert.ok(!r.text.includes(PROVIDER_KEY), `leaked: ${r.text}`);
    assert.equal(Number(r.headers['content-length']), r.body.length);
    assert.equal(r.json.echo, '*'.repeat(PROVIDER_KEY.length));
  });

  it('a key split inside an SSE stream is masked; events before it are not held back', async () => {
    let firstAt;
    const r = await gw.request({
      method: 'POST',
      path: '/v1/split-sse',
      headers: { 'x-ingate-key': t.key, 'x-ingate-provider': 'fake' },
      body: '{}',
      onData: (c) => {
        if (!firstAt && c.toString().includes('"n":1')) firstAt = Date.now();
      },
    });
    assert.equal(r.status, 200);
    assert.ok(!r.text.includes(PROVIDER_KEY), `leaked: ${r.text}`);
    assert.ok(firstAt && r.endAt - firstAt >= 300, 'the first event must be relayed before the upstream pauses');
    const stars = '*'.repeat(PROVIDER_KEY.length);
    assert.equal(r.text, `data: {"n":1}\n\ndata: {"k":"${stars}"}\n\ndata: {"tail":"${stars}"}\n\ndata: [DONE]\n\n`);
  });

  it('a key at the very end of the body is masked; a mere prefix of it is delivered unchanged', async () => {
    const a = await get('/v1/tail-key');
    assert.equal(a.text, 'ends with ' + '*'.repeat(PROVIDER_KEY.length));
    const b = await get('/v1/tail-prefix');
    assert.equal(b.text, `prefix ${PROVIDER_KEY.slice(0, 8)}`, 'held-back bytes must be flushed at the end');
  });

  it("upstream copies of the gateway's own headers are replaced, hop-by-hop headers dropped", async () => {
    const r = await get('/v1/headers');
    assert.equal(r.status, 200);
    assertSecurityHeaders(r, 'upstream headers');
    const names = r.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
    for (const n of [...Object.keys(SECURITY_HEADERS), 'x-ingate-request-id'])
      assert.equal(names.filter((x) => x === n).length, 1, `${n} must appear once`);
    assert.match(r.headers['x-ingate-request-id'], UUID_RE);
    assert.equal(r.headers['set-cookie'], undefined, 'upstream cookies are dropped');
    assert.equal(r.headers['x-upstream-hop'], undefined, 'a header the upstream nominated in Connection is dropped');
    assert.equal(r.headers['keep-alive'], undefined);
    assert.equal(r.headers['x-upstream-ok'], 'yes');
    assert.equal(r.headers['x-ratelimit-remaining-requests'], '42');
    assert.deepEqual(r.json, { ok: true });
  });

  it('an interim 103 response is skipped and the final response relayed', async () => {
    const r = await get('/v1/early-hints');
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { after: '103' });
  });

  it('redirects are relayed, not followed', async () => {
    const r = await get('/v1/redirect');
    assert.equal(r.status, 307);
    assert.equal(r.headers.location, 'https://elsewhere.example/v1/x');
  });

  it('an EOF-delimited upstream body is relayed completely and cleanly chunked', async () => {
    const r = await get('/v1/anything', 'eof');
    assert.equal(r.status, 200);
    assert.equal(r.text, 'part one; part two');
    assert.equal(r.complete, true);
  });

  it('an upstream body shorter than its Content-Length reaches the client as a cut response', async () => {
    const r = await get('/v1/short', 'eof');
    assert.equal(r.status, 200);
    assert.equal(r.complete, false, 'the client must see an incomplete response, not a clean end');
    assert.ok(r.body.length < 100);
  });

  it('an upstream header block over 64 KiB is a 502', async () => {
    const r = await get('/v1/hugeheaders', 'eof');
    assert.equal(r.status, 502, `got ${r.status}`);
    assert.equal(r.json?.error?.code, 'upstream_error');
  });

  it('exits 0 on SIGTERM without sanitizer reports', async () => {
    await gw.stop();
  });
});
