// Every response — success, gateway error, relayed upstream error, stream — carries the security headers and a
// UUID X-Ingate-Request-Id, each exactly once.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startMock,
  startGateway,
  closedPort,
  assertSecurityHeaders,
  SECURITY_HEADERS,
  rawExchange,
  parseHead,
  T,
  MiB,
} from './lib/harness.mjs';

function assertOnce(res, what) {
  assertSecurityHeaders(res, what);
  const names = res.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
  for (const n of [...Object.keys(SECURITY_HEADERS), 'x-ingate-request-id'])
    assert.equal(names.filter((x) => x === n).length, 1, `${what}: ${n} must appear exactly once`);
}

describe('security headers on every response', () => {
  let mock, gw, key, viewerKey;
  before(async () => {
    mock = await startMock();
    const dead = await closedPort();
    gw = await startGateway({
      mock,
      providers:
        `name=deadprov,base_url=http://127.0.0.1:${dead};` +
        `name=slowprov,base_url=${mock.url},first_byte_timeout_ms=1000`,
      args: ['--max-body-bytes', '1m'],
    });
    const t = await gw.tenant('sec', { providers: { openai: 'sk-prov-sec-openai-0001' } });
    key = t.key;
    viewerKey = (await gw.createKey('sec', 'viewer')).key;
  });
  after(async () => {
    await gw?.destroy();
    await mock?.stop();
  });

  const chat = (extra = {}) => ({
    method: 'POST',
    path: '/v1/chat/completions',
    headers: { 'content-type': 'application/json', 'x-ingate-key': key, ...(extra.headers || {}) },
    body: extra.body ?? JSON.stringify({ model: 'gpt-sec', messages: [{ role: 'user', content: 'hi' }] }),
  });

  it('200 proxied', async () => {
    const r = await gw.request(chat());
    assert.equal(r.status, 200);
    assertOnce(r, '200 proxied');
  });

  it('200 /healthz', async () => {
    const r = await gw.request({ path: '/healthz' });
    assert.equal(r.status, 200);
    assertOnce(r, '200 healthz');
  });

  it('401 (no key)', async () => {
    const r = await gw.request({ method: 'POST', path: '/v1/chat/completions', body: '{}' });
    assert.equal(r.status, 401);
    assertOnce(r, '401');
  });

  it('403 (viewer key on the proxy)', async () => {
    const r = await gw.request({ ...chat(), headers: { 'x-ingate-key': viewerKey } });
    assert.equal(r.status, 403);
    assertOnce(r, '403');
  });

  it('404 on /api/... with a valid key', async () => {
    const r = await gw.request({ path: '/api/v1/does-not-exist', headers: { 'x-ingate-key': key } });
    assert.equal(r.status, 404);
    assertOnce(r, '404 api');
  });

  it('management answers are never cached: Cache-Control: no-store on successes and errors alike', async () => {
    const ok = await gw.request({ path: '/api/v1/keys', headers: { 'x-ingate-key': key } });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.headers['cache-control'], 'no-store');
    assertOnce(ok, '200 api');
    const denied = await gw.request({ path: '/api/v1/keys' });
    assert.equal(denied.status, 401);
    assert.equal(denied.headers['cache-control'], 'no-store');
    const missing = await gw.request({ path: '/api/v1/does-not-exist', headers: { 'x-ingate-key': key } });
    assert.equal(missing.headers['cache-control'], 'no-store');
  });

  it('404 on a missing dashboard file', async () => {
    const r = await gw.request({ path: '/ui/assets/missing-0000.js' });
    assert.equal(r.status, 404);
    assertOnce(r, '404 ui');
  });

  it('405 (POST /healthz)', async () => {
    const r = await gw.request({ method: 'POST', path: '/healthz', body: '' });
    assert.equal(r.status, 405);
    assertOnce(r, '405');
  });

  it('413 (Content-Length over --max-body-bytes)', async () => {
    const r = await gw.request({
      method: 'POST',
      path: '/v1/chat/completions',
      headers: { 'x-ingate-key': key, 'content-length': String(2 * MiB), 'content-type': 'application/json' },
      body: (req) => req.flushHeaders(),
    });
    assert.equal(r.status, 413);
    assertOnce(r, '413');
  });

  it('431 (header block over 16 KiB)', async () => {
    const r = await gw.request({ path: '/v1/models', headers: { 'x-ingate-key': key, 'x-big': 'a'.repeat(17000) } });
    assert.equal(r.status, 431);
    assertOnce(r, '431');
  });

  it('400 (unknown provider)', async () => {
    const r = await gw.request(chat({ headers: { 'x-ingate-provider': 'nope' } }));
    assert.equal(r.status, 400);
    assertOnce(r, '400');
  });

  it('502 (upstream refuses connections)', async () => {
    const r = await gw.request(chat({ headers: { 'x-ingate-provider': 'deadprov' } }));
    assert.equal(r.status, 502);
    assertOnce(r, '502');
  });

  it('504 (upstream first-byte timeout)', async () => {
    const r = await gw.request(chat({ headers: { 'x-ingate-provider': 'slowprov', 'x-mock-mode': 'hang' } }));
    assert.equal(r.status, 504);
    assertOnce(r, '504');
  });

  it('200 streamed (text/event-stream)', async () => {
    const r = await gw.request(chat({ headers: { 'x-mock-mode': 'stream' } }));
    assert.equal(r.status, 200);
    assert.match(r.headers['content-type'], /text\/event-stream/);
    assertOnce(r, 'stream');
  });

  it('500 relayed from the upstream', async () => {
    const r = await gw.request(chat({ headers: { 'x-mock-mode': 'error' } }));
    assert.equal(r.status, 500);
    assertOnce(r, 'upstream 500');
  });

  it('429 relayed from the upstream', async () => {
    const r = await gw.request(chat({ headers: { 'x-mock-mode': 'error', 'x-mock-status': '429' } }));
    assert.equal(r.status, 429);
    assertOnce(r, 'upstream 429');
  });

  it('408 (header timeout) carries them too', async () => {
    // headers never completed: the default header timeout is 10 s, so use a dedicated short-timeout gateway
    const g2 = await startGateway({ args: ['--header-timeout-ms', '500'] });
    try {
      const r = await rawExchange(g2, 'GET /healthz HTTP/1.1\r\nHost: x\r\n', T(10000));
      const head = parseHead(r.data);
      assert.ok(head, `expected a 408 response, got ${JSON.stringify(r.data.toString())}`);
      assert.equal(head.status, 408);
      assertSecurityHeaders({ status: head.status, headers: head.headers }, '408');
      await g2.stop();
    } finally {
      await g2.destroy();
    }
  });

  it('request ids are unique per request', async () => {
    const ids = new Set();
    for (let i = 0; i < 5; i++) ids.add((await gw.request({ path: '/healthz' })).headers['x-ingate-request-id']);
    assert.equal(ids.size, 5);
  });

  it('exits 0 on SIGTERM without sanitizer reports', async () => {
    await gw.stop();
  });
});
