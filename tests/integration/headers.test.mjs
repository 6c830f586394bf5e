// What reaches the provider: X-Ingate-* and hop-by-hop headers stripped, the caller's credentials never
// forwarded in stored mode, the provider key injected in the provider's own header, passthrough mode, custom
// providers (auth header, format, base path), and method/path/query/body forwarded as sent.
// Checked through the mock upstream's record of the requests it received.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startMock,
  startGateway,
  header,
  headerAll,
  assertOpenAIError,
  uid,
  UUID_RE,
} from './lib/harness.mjs';

const OPENAI_KEY = 'sk-prov-hdr-openai-7f3a9c';
const ANTHROPIC_KEY = 'sk-ant-prov-hdr-41d2e8';
const CUSTOM_KEY = 'azure-prov-hdr-93b1';
const TOKEN_KEY = 'tok-prov-hdr-55aa';

describe('header hygiene', () => {
  let mock, gw, t, pt;
  before(async () => {
    mock = await startMock();
    gw = await startGateway({
      mock,
      providers:
        `name=custom1,base_url=${mock.url}/custom,auth_header=api-key,auth_format={key};` +
        `name=custom2,base_url=${mock.url}/tok/,auth_header=Authorization,auth_format=Token {key}`,
    });
    t = await gw.tenant('hdr', {
      providers: { openai: OPENAI_KEY, anthropic: ANTHROPIC_KEY, custom1: CUSTOM_KEY, custom2: TOKEN_KEY },
    });
    pt = await gw.tenant('hdrpass', { providers: { openai: { mode: 'passthrough' }, anthropic: { mode: 'passthrough' } } });
  });
  after(async () => {
    await gw?.destroy();
    await mock?.stop();
  });

  /** Sends a request tagged with a fresh X-Test-Id; returns {res, rec} with the mock's record of it. */
  async function send({ method = 'POST', path = '/v1/chat/completions', headers = {}, body, expect = 200 } = {}) {
    const id = uid('h');
    if (body === undefined && method !== 'GET' && method !== 'HEAD' && method !== 'DELETE')
      body = JSON.stringify({ model: 'gpt-hdr', messages: [{ role: 'user', content: 'hi' }] });
    const res = await gw.request({ method, path, headers: { 'x-test-id': id, ...headers }, body });
    assert.equal(res.status, expect, res.text);
    const rec = expect === 200 ? await mock.waitFor(id) : await mock.find(id);
    return { res, rec, id };
  }

  function assertNoValueContains(rec, secret, what) {
    for (const [k, v] of rec.headers) assert.ok(!v.includes(secret), `${what}: header ${k} carries ${secret.slice(0, 14)}...`);
  }

  it('strips every X-Ingate-* header and passes ordinary ones', async () => {
    const { rec } = await send({
      headers: {
        'x-ingate-key': t.key,
        'x-ingate-provider': 'openai',
        'x-ingate-custom': 'secret-routing-hint',
        'X-Ingate-User-Id': 'user-42',
        'x-custom-pass': 'yes',
        'user-agent': 'ingate-it/1.0',
        'content-type': 'application/json',
        accept: 'application/json',
      },
    });
    for (const [k] of rec.headers) assert.ok(!/^x-ingate-/i.test(k), `forwarded ${k}`);
    assert.equal(header(rec, 'x-custom-pass'), 'yes');
    assert.equal(header(rec, 'user-agent'), 'ingate-it/1.0');
    assert.equal(header(rec, 'content-type'), 'application/json');
    assert.equal(header(rec, 'accept'), 'application/json');
    assertNoValueContains(rec, t.key, 'x-ingate-key');
  });

  it('strips hop-by-hop headers and any header nominated in Connection; Host is the upstream\'s', async () => {
    const { rec } = await send({
      headers: {
        'x-ingate-key': t.key,
        connection: 'keep-alive, X-Hop-Nominated',
        'keep-alive': 'timeout=5, max=100',
        te: 'trailers',
        upgrade: 'websocket',
        'proxy-authorization': 'Basic dXNlcjpwYXNz',
        'x-hop-nominated': 'must-not-pass',
        host: 'client.example',
        'content-type': 'application/json',
      },
    });
    for (const h of ['keep-alive', 'te', 'upgrade', 'proxy-authorization', 'x-hop-nominated', 'transfer-encoding'])
      assert.equal(header(rec, h), undefined, `${h} must not be forwarded`);
    for (const v of headerAll(rec, 'connection')) assert.ok(!/x-hop-nominated/i.test(v), 'Connection nomination forwarded');
    assertNoValueContains(rec, 'must-not-pass', 'nominated');
    assert.equal(header(rec, 'host'), `127.0.0.1:${mock.port}`);
  });

  it('openai: injects Authorization: Bearer <provider key>, exactly once', async () => {
    const { rec } = await send({ headers: { 'x-ingate-key': t.key } });
    assert.deepEqual(headerAll(rec, 'authorization'), [`Bearer ${OPENAI_KEY}`]);
    assert.equal(header(rec, 'x-api-key'), undefined);
  });

  it("stored mode: the client's own Authorization never reaches the provider", async () => {
    const { rec } = await send({
      headers: { 'x-ingate-key': t.key, authorization: 'Bearer sk-client-own-openai-key' },
    });
    assert.deepEqual(headerAll(rec, 'authorization'), [`Bearer ${OPENAI_KEY}`]);
    assertNoValueContains(rec, 'sk-client-own-openai-key', 'client authorization');
  });

  it('stored mode: client x-api-key / api-key are dropped too', async () => {
    const { rec } = await send({
      headers: { 'x-ingate-key': t.key, 'x-api-key': 'client-xak', 'api-key': 'client-ak' },
    });
    assert.equal(header(rec, 'x-api-key'), undefined);
    assert.equal(header(rec, 'api-key'), undefined);
  });

  it('the ingate key given as Authorization: Bearer is replaced, not forwarded', async () => {
    const { rec } = await send({ headers: { authorization: `Bearer ${t.key}` } });
    assert.deepEqual(headerAll(rec, 'authorization'), [`Bearer ${OPENAI_KEY}`]);
    assertNoValueContains(rec, t.key, 'ingate key');
  });

  it('anthropic: injects x-api-key, passes anthropic-version / anthropic-beta, drops the caller\'s x-api-key', async () => {
    const { rec } = await send({
      path: '/v1/messages',
      headers: { 'x-api-key': t.key, 'anthropic-version': '2023-06-01', 'anthropic-beta': 'tools-2024-04-04' },
      body: JSON.stringify({ model: 'claude-hdr', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }),
    });
    assert.deepEqual(headerAll(rec, 'x-api-key'), [ANTHROPIC_KEY]);
    assert.equal(header(rec, 'authorization'), undefined);
    assert.equal(header(rec, 'anthropic-version'), '2023-06-01');
    assert.equal(header(rec, 'anthropic-beta'), 'tools-2024-04-04');
    assertNoValueContains(rec, t.key, 'ingate key');
    assert.equal(rec.path, '/v1/messages');
  });

  it("anthropic stored mode: a client's own x-api-key and Authorization are dropped", async () => {
    const { rec } = await send({
      path: '/v1/messages',
      headers: { 'x-ingate-key': t.key, 'x-api-key': 'sk-ant-client-own', authorization: 'Bearer client-bearer' },
    });
    assert.deepEqual(headerAll(rec, 'x-api-key'), [ANTHROPIC_KEY]);
    assert.equal(header(rec, 'authorization'), undefined);
  });

  it("passthrough: the client's Authorization reaches the upstream untouched", async () => {
    const { rec } = await send({
      headers: { 'x-ingate-key': pt.key, authorization: 'Bearer sk-user-own-passthrough-1' },
    });
    assert.deepEqual(headerAll(rec, 'authorization'), ['Bearer sk-user-own-passthrough-1']);
    assertNoValueContains(rec, pt.key, 'ingate key');
  });

  it("passthrough (anthropic): the client's x-api-key reaches the upstream untouched", async () => {
    const { rec } = await send({
      path: '/v1/messages',
      headers: { 'x-ingate-key': pt.key, 'x-api-key': 'sk-ant-user-own-2', 'anthropic-version': '2023-06-01' },
    });
    assert.deepEqual(headerAll(rec, 'x-api-key'), ['sk-ant-user-own-2']);
  });

  it('passthrough: X-Ingate-Key is still required', async () => {
    const id = uid('h');
    const res = await gw.request({
      method: 'POST',
      path: '/v1/chat/completions',
      headers: { 'x-test-id': id, authorization: 'Bearer sk-user-own-passthrough-1' },
      body: '{}',
    });
    assertOpenAIError(res, 401, 'missing_api_key');
    assert.equal(await mock.find(id), undefined, 'nothing may reach the upstream');
  });

  it('passthrough: an ingate key sent as the bearer token is never forwarded', async () => {
    const { rec } = await send({ headers: { authorization: `Bearer ${pt.key}` } });
    assert.equal(header(rec, 'authorization'), undefined);
    assertNoValueContains(rec, pt.key, 'ingate key');
  });

  it('custom provider: auth header api-key, base path prefix, query kept', async () => {
    const { rec } = await send({
      path: '/v1/chat/completions?api-version=2024-06-01',
      headers: { 'x-ingate-key': t.key, 'x-ingate-provider': 'custom1', 'api-key': 'client-api-key', authorization: 'Bearer x' },
    });
    assert.equal(rec.path, '/custom/v1/chat/completions?api-version=2024-06-01');
    assert.deepEqual(headerAll(rec, 'api-key'), [CUSTOM_KEY]);
    assert.equal(header(rec, 'authorization'), undefined);
  });

  it('custom provider: auth_format with a scheme, trailing "/" of base_url removed', async () => {
    const { rec } = await send({ path: '/v1/embeddings', headers: { 'x-ingate-key': t.key, 'x-ingate-provider': 'custom2' } });
    assert.equal(rec.path, '/tok/v1/embeddings');
    assert.deepEqual(headerAll(rec, 'authorization'), [`Token ${TOKEN_KEY}`]);
  });

  it('adds no headers of its own: no Content-Type, Accept or Expect the client did not send', async () => {
    const { rec } = await send({ headers: { 'x-ingate-key': t.key }, body: '{"model":"bare"}' });
    assert.equal(header(rec, 'content-type'), undefined);
    assert.equal(header(rec, 'accept'), undefined);
    assert.equal(header(rec, 'expect'), undefined);
    assert.equal(header(rec, 'content-length'), '16');
  });

  it('an empty header value is forwarded as an empty header', async () => {
    const { rec } = await send({ headers: { 'x-ingate-key': t.key, 'x-empty': '' } });
    assert.deepEqual(headerAll(rec, 'x-empty'), ['']);
  });

  it('GET with a query string is forwarded as sent (GET /v1/models?limit=2)', async () => {
    const { rec } = await send({ method: 'GET', path: '/v1/models?limit=2&order=desc', headers: { 'x-ingate-key': t.key } });
    assert.equal(rec.method, 'GET');
    assert.equal(rec.path, '/v1/models?limit=2&order=desc');
    assert.equal(rec.body_len, 0);
  });

  it('DELETE, PATCH and percent-encoded paths are forwarded as sent', async () => {
    let { rec } = await send({ method: 'DELETE', path: '/v1/responses/resp_123?x=%20y', headers: { 'x-ingate-key': t.key } });
    assert.equal(rec.method, 'DELETE');
    assert.equal(rec.path, '/v1/responses/resp_123?x=%20y');
    ({ rec } = await send({
      method: 'PATCH',
      path: '/v1/models/ft%3Agpt-4o%2Fx',
      headers: { 'x-ingate-key': t.key, 'content-type': 'application/json' },
      body: '{"a":1}',
    }));
    assert.equal(rec.method, 'PATCH');
    assert.equal(rec.path, '/v1/models/ft%3Agpt-4o%2Fx');
    assert.equal(rec.body, '{"a":1}');
  });

  it('the body is forwarded byte for byte (UTF-8, no rewriting)', async () => {
    const body = JSON.stringify({ model: 'gpt-hdr', messages: [{ role: 'user', content: 'héllo ✓ 日本 \u0001' }], n: 1 }) + '  ';
    const { rec } = await send({ headers: { 'x-ingate-key': t.key, 'content-type': 'application/json' }, body });
    assert.equal(rec.body_len, Buffer.byteLength(body));
    assert.equal(rec.body, body);
    assert.equal(header(rec, 'content-length'), String(Buffer.byteLength(body)));
  });

  it('Expect: 100-continue is answered by the gateway and not forwarded', async () => {
    const id = uid('h');
    const body = JSON.stringify({ model: 'gpt-continue' });
    const res = await gw.request({
      method: 'POST',
      path: '/v1/chat/completions',
      headers: { 'x-test-id': id, 'x-ingate-key': t.key, expect: '100-continue', 'content-length': String(body.length) },
      body: (req) => {
        req.flushHeaders();
        req.on('continue', () => req.end(body));
      },
    });
    assert.equal(res.status, 200, res.text);
    const rec = await mock.waitFor(id);
    assert.equal(header(rec, 'expect'), undefined);
    assert.equal(rec.body, body);
  });

  it('X-Ingate-Request-Id is a UUID and differs per request; it is not sent upstream', async () => {
    const a = await send({ headers: { 'x-ingate-key': t.key } });
    const b = await send({ headers: { 'x-ingate-key': t.key } });
    assert.match(a.res.headers['x-ingate-request-id'], UUID_RE);
    assert.match(b.res.headers['x-ingate-request-id'], UUID_RE);
    assert.notEqual(a.res.headers['x-ingate-request-id'], b.res.headers['x-ingate-request-id']);
  });

  it('no recorded upstream request ever carried an ingate key', async () => {
    for (const rec of await mock.requests()) {
      assertNoValueContains(rec, t.key, `request ${rec.path}`);
      assertNoValueContains(rec, pt.key, `request ${rec.path}`);
      assert.ok(!rec.path.includes('sk-ingate-'));
    }
  });

  it('exits 0 on SIGTERM without sanitizer reports', async () => {
    await gw.stop();
  });
});
