// Upstream failures: connection refused (502), first-byte and between-chunk timeouts (504 / cut stream), a reset
// mid-stream (truncated response, never a clean end), error statuses relayed as sent, and a provider that echoes
// the credential it received (the injected key is masked in body and headers).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startMock,
  startGateway,
  closedPort,
  assertOpenAIError,
  assertSecurityHeaders,
  httpJson,
  rawExchange,
  parseHead,
  waitFor,
  T,
} from './lib/harness.mjs';

const OPENAI_KEY = 'sk-prov-err-openai-5f1c2b8e9d';
const ANTHROPIC_KEY = 'sk-ant-prov-err-77aa01';
const CUSTOM_KEY = 'custom-prov-err-key-3c3c';

describe('upstream failures', () => {
  let mock, gw, t;
  before(async () => {
    mock = await startMock();
    const dead = await closedPort();
    gw = await startGateway({
      mock,
      providers:
        `name=deadprov,base_url=http://127.0.0.1:${dead};` +
        `name=slowprov,base_url=${mock.url},first_byte_timeout_ms=1000,chunk_timeout_ms=1000;` +
        `name=custom1,base_url=${mock.url}/c,auth_header=api-key`,
    });
    t = await gw.tenant('errs', { providers: { openai: OPENAI_KEY, anthropic: ANTHROPIC_KEY, custom1: CUSTOM_KEY } });
  });
  after(async () => {
    await gw?.destroy();
    await mock?.stop();
  });

  const chat = (headers = {}, path = '/v1/chat/completions', body = '{"model":"gpt-err","messages":[]}') => ({
    method: 'POST',
    path,
    headers: { 'x-ingate-key': t.key, 'content-type': 'application/json', ...headers },
    body,
  });

  it('connection refused → 502 upstream_error, OpenAI-shaped', async () => {
    const r = await gw.request(chat({ 'x-ingate-provider': 'deadprov' }));
    assertOpenAIError(r, 502, 'upstream_error');
    assert.equal(r.json.error.type, 'api_error');
    assertSecurityHeaders(r, '502');
    assert.ok(!r.text.includes('127.0.0.1'), 'the upstream address must not leak to the client');
  });

  it('no first byte within first_byte_timeout_ms → 504 upstream_timeout', async () => {
    const started = Date.now();
    const r = await gw.request(chat({ 'x-ingate-provider': 'slowprov', 'x-mock-mode': 'hang' }));
    assertOpenAIError(r, 504, 'upstream_timeout');
    const took = Date.now() - started;
    assert.ok(took >= 900, `timed out after ${took} ms, before first_byte_timeout_ms`);
  });

  it('the timed-out upstream request is abandoned (mock sees it go away)', async () => {
    await new Promise((r) => setTimeout(r, 200));
    const s = await mock.stats();
    assert.equal(s.open_streams, 0, 'the hanging upstream request must be closed after the 504');
  });

  it('a slow first byte within the timeout is fine', async () => {
    const r = await gw.request(chat({ 'x-ingate-provider': 'slowprov', 'x-mock-delay-ms': '300' }));
    assert.equal(r.status, 200, r.text);
  });

  it('a stall between chunks beyond chunk_timeout_ms cuts the stream (no clean end)', async () => {
    const r = await gw.request(
      chat({ 'x-ingate-provider': 'slowprov', 'x-mock-mode': 'stream', 'x-mock-events': '3', 'x-mock-interval-ms': '3000' })
    );
    assert.equal(r.status, 200);
    assert.match(r.text, /^data: /, 'the first event must have been relayed');
    assert.equal(r.complete, false, 'a timed-out stream must not end with the chunked terminator');
    assert.ok(!r.text.includes('[DONE]'));
  });

  it('reset mid-stream → the client sees a truncated response, never a clean end', async () => {
    const r = await gw.request(chat({ 'x-mock-mode': 'reset' }));
    assert.equal(r.status, 200);
    assert.match(r.headers['content-type'], /text\/event-stream/);
    assert.equal(r.complete, false, 'the response must be cut, not terminated with 0\\r\\n\\r\\n');
    assert.ok(!r.text.includes('[DONE]'));
  });

  it('reset mid-stream, seen raw: no chunked terminator before the connection closes', async () => {
    const body = '{"model":"gpt-err"}';
    const r = await rawExchange(
      gw,
      `POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nX-Ingate-Key: ${t.key}\r\nX-Mock-Mode: reset\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
      T(15000)
    );
    assert.ok(r.closed, 'the gateway must close the connection');
    const head = parseHead(r.data);
    assert.equal(head.status, 200);
    assert.equal(head.headers['transfer-encoding'], 'chunked');
    assert.ok(!r.data.subarray(head.bodyStart).toString().endsWith('0\r\n\r\n'), 'clean chunked end after an upstream reset');
  });

  it('upstream 500 is relayed with its status and body', async () => {
    const r = await gw.request(chat({ 'x-mock-mode': 'error' }));
    assert.equal(r.status, 500);
    const direct = await httpJson(mock.port, 'POST', '/v1/chat/completions', { headers: { 'x-mock-mode': 'error' }, body: '{}' });
    assert.equal(r.text, direct.text);
    assert.match(r.headers['content-type'], /application\/json/);
    assertSecurityHeaders(r, 'relayed 500');
  });

  it('upstream 429 is relayed with its status and body', async () => {
    const r = await gw.request(chat({ 'x-mock-mode': 'error', 'x-mock-status': '429' }));
    assert.equal(r.status, 429);
    assert.deepEqual(r.json, { error: { message: 'mock error', type: 'server_error', code: 'mock' } });
  });

  it('other upstream statuses (400, 404, 503, 529) are relayed', async () => {
    for (const st of [400, 404, 503, 529]) {
      const r = await gw.request(chat({ 'x-mock-mode': 'status', 'x-mock-status': String(st) }));
      assert.equal(r.status, st);
      assert.deepEqual(r.json, { ok: true });
    }
  });

  it('a connection can be reused after a relayed error (keep-alive)', async () => {
    const s = await gw.connect();
    try {
      const req = (mode) =>
        `GET /v1/models HTTP/1.1\r\nHost: localhost\r\nX-Ingate-Key: ${t.key}\r\nX-Mock-Mode: ${mode}\r\n\r\n`;
      const chunks = [];
      s.on('data', (c) => chunks.push(c));
      const statuses = () => [...Buffer.concat(chunks).toString().matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
      s.write(req('error'));
      await waitFor(() => statuses().length === 1, { what: 'the first response' });
      s.write(req('json'));
      await waitFor(() => statuses().length === 2, { what: 'the second response on the same connection' });
      assert.deepEqual(statuses(), [500, 200]);
    } finally {
      s.destroy();
    }
  });

  it('echo-key (openai): 401 relayed with the provider key masked in body and X-Echo-Auth', async () => {
    const r = await gw.request(chat({ 'x-mock-mode': 'echo-key' }));
    assert.equal(r.status, 401);
    assert.ok(!r.text.includes(OPENAI_KEY), `body leaks the provider key: ${r.text}`);
    assert.ok(!r.text.includes(OPENAI_KEY.slice(0, 16)), 'body leaks part of the provider key');
    const echo = r.headers['x-echo-auth'];
    assert.ok(echo !== undefined, 'X-Echo-Auth header must be relayed (masked)');
    assert.ok(!echo.includes(OPENAI_KEY) && !echo.includes(OPENAI_KEY.slice(0, 16)), `X-Echo-Auth leaks: ${echo}`);
    assert.match(r.text, /Incorrect API key provided: \*+/);
    assert.equal(r.json.error.code, 'invalid_api_key');
    for (let i = 0; i < r.rawHeaders.length; i++) assert.ok(!r.rawHeaders[i].includes(OPENAI_KEY));
  });

  it('echo-key (anthropic x-api-key): masked', async () => {
    const r = await gw.request(chat({ 'x-mock-mode': 'echo-key', 'anthropic-version': '2023-06-01' }, '/v1/messages'));
    assert.equal(r.status, 401);
    assert.ok(!r.text.includes(ANTHROPIC_KEY), r.text);
    assert.ok(!(r.headers['x-echo-auth'] || '').includes(ANTHROPIC_KEY));
  });

  it('echo-key (custom api-key header): masked', async () => {
    const r = await gw.request(chat({ 'x-mock-mode': 'echo-key', 'x-ingate-provider': 'custom1' }));
    assert.equal(r.status, 401);
    assert.ok(!r.text.includes(CUSTOM_KEY), r.text);
    assert.ok(!(r.headers['x-echo-auth'] || '').includes(CUSTOM_KEY));
  });

  it('echo-key with a slow first byte still masks (delayed reply)', async () => {
    const r = await gw.request(chat({ 'x-mock-mode': 'echo-key', 'x-mock-delay-ms': '200' }));
    assert.equal(r.status, 401);
    assert.ok(!r.text.includes(OPENAI_KEY));
  });

  it('exits 0 on SIGTERM without sanitizer reports', async () => {
    await gw.stop();
  });
});

describe('per-provider timeout override of a built-in provider', () => {
  it("--providers 'name=openai,first_byte_timeout_ms=1000' makes a hanging OpenAI upstream a 504", async () => {
    const mock = await startMock();
    const gw = await startGateway({ mock, providers: 'name=openai,first_byte_timeout_ms=1000' });
    try {
      const t = await gw.tenant('ovr', { providers: { openai: 'sk-prov-ovr-1' } });
      const started = Date.now();
      const r = await gw.request({
        method: 'POST',
        path: '/v1/chat/completions',
        headers: { 'x-ingate-key': t.key, 'x-mock-mode': 'hang' },
        body: '{}',
      });
      assertOpenAIError(r, 504, 'upstream_timeout');
      assert.ok(Date.now() - started < T(10000));
      // the override changes only the timeout: requests still go to the configured openai base URL
      const ok = await gw.request({ method: 'POST', path: '/v1/chat/completions', headers: { 'x-ingate-key': t.key }, body: '{"model":"ovr"}' });
      assert.equal(ok.status, 200);
      assert.equal(ok.json.model, 'ovr');
      await gw.stop();
    } finally {
      await gw.destroy();
      await mock.stop();
    }
  });
});
