// Provider resolution: X-Ingate-Provider header, else the path (OpenAI, Anthropic and ollama paths), else the
// org's default provider, else 400; and which paths belong to the gateway itself (/api/v1, /ui, health).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startMock, startGateway, header, headerAll, assertOpenAIError, assertFlatError, uid } from './lib/harness.mjs';

const OPENAI_KEY = 'sk-prov-route-openai-1';
const ANTHROPIC_KEY = 'sk-prov-route-anthropic-1';

describe('provider resolution', () => {
  let mock, gw, t;
  before(async () => {
    mock = await startMock();
    gw = await startGateway({ mock, providers: `name=azurelike,base_url=${mock.url}/openai/deployments/d1,auth_header=api-key` });
    t = await gw.tenant('route', { providers: { openai: OPENAI_KEY, anthropic: ANTHROPIC_KEY, azurelike: 'azure-route-key' } });
  });
  after(async () => {
    await gw?.destroy();
    await mock?.stop();
  });

  async function send(path, { headers = {}, key = t.key, method = 'POST', body } = {}) {
    const id = uid('r');
    if (body === undefined && method === 'POST') body = JSON.stringify({ model: 'route-model', messages: [] });
    const res = await gw.request({
      method,
      path,
      headers: { 'x-test-id': id, 'x-ingate-key': key, 'content-type': 'application/json', ...headers },
      body,
    });
    const rec = res.status === 200 ? await mock.waitFor(id) : await mock.find(id);
    return { res, rec };
  }

  const viaOpenAI = (rec) => headerAll(rec, 'authorization').join() === `Bearer ${OPENAI_KEY}` && !header(rec, 'x-api-key');
  const viaAnthropic = (rec) => headerAll(rec, 'x-api-key').join() === ANTHROPIC_KEY && !header(rec, 'authorization');

  for (const p of ['/v1/chat/completions', '/v1/completions', '/v1/embeddings', '/v1/responses', '/v1/models/gpt-4o']) {
    it(`${p} goes to openai by path`, async () => {
      const { res, rec } = await send(p);
      assert.equal(res.status, 200, res.text);
      assert.ok(viaOpenAI(rec), JSON.stringify(rec.headers));
      assert.equal(rec.path, p);
    });
  }

  for (const p of ['/v1/messages', '/v1/messages/count_tokens']) {
    it(`${p} goes to anthropic by path`, async () => {
      const { res, rec } = await send(p);
      assert.equal(res.status, 200, res.text);
      assert.ok(viaAnthropic(rec), JSON.stringify(rec.headers));
    });
  }

  it('a look-alike path is not mapped (/v1/chat/completionsX needs a provider)', async () => {
    const { res, rec } = await send('/v1/chat/completionsX');
    assertOpenAIError(res, 400, 'provider_required');
    assert.equal(rec, undefined);
  });

  it('the X-Ingate-Provider header wins over the path', async () => {
    const { res, rec } = await send('/v1/messages', { headers: { 'x-ingate-provider': 'openai' } });
    assert.equal(res.status, 200, res.text);
    assert.ok(viaOpenAI(rec), JSON.stringify(rec.headers));
    assert.equal(rec.path, '/v1/messages');
    const r2 = await send('/v1/chat/completions', { headers: { 'x-ingate-provider': 'anthropic' } });
    assert.ok(viaAnthropic(r2.rec), JSON.stringify(r2.rec.headers));
  });

  it('an unknown provider name is 400 unknown_provider and nothing is sent upstream', async () => {
    const { res, rec } = await send('/v1/chat/completions', { headers: { 'x-ingate-provider': 'no-such-provider' } });
    assertOpenAIError(res, 400, 'unknown_provider');
    assert.equal(res.json.error.type, 'invalid_request_error');
    assert.equal(rec, undefined);
  });

  it('an unknown path without header or org default is 400 naming the X-Ingate-Provider header', async () => {
    const { res, rec } = await send('/v2/some/other/api');
    assertOpenAIError(res, 400, 'provider_required');
    assert.match(res.json.error.message, /X-Ingate-Provider/);
    assert.equal(rec, undefined);
  });

  it('a known provider without a configured key is 400 provider_key_missing', async () => {
    const slug = uid('o');
    await gw.createOrg(slug);
    await gw.setProviderKey(slug, 'openai', 'sk-only-openai');
    const k = await gw.createKey(slug);
    const { res, rec } = await send('/v1/messages', { key: k.key });
    assertOpenAIError(res, 400, 'provider_key_missing');
    assert.equal(rec, undefined);
  });

  it('the org default provider serves unknown paths right after `set-default-provider`', async () => {
    const slug = uid('o');
    const d = await gw.tenant(slug, { providers: { openai: OPENAI_KEY, anthropic: ANTHROPIC_KEY } });
    const before = await send('/custom/endpoint', { key: d.key });
    assertOpenAIError(before.res, 400, 'provider_required'); // cached org snapshot without a default
    await gw.setDefaultProvider(slug, 'anthropic');
    const { res, rec } = await send('/custom/endpoint', { key: d.key });
    assert.equal(res.status, 200, res.text);
    assert.ok(viaAnthropic(rec), JSON.stringify(rec.headers));
    assert.equal(rec.path, '/custom/endpoint');
    // the path still wins over the default
    const p = await send('/v1/chat/completions', { key: d.key });
    assert.ok(viaOpenAI(p.rec));
  });

  it('ollama /api/chat is proxied with X-Ingate-Provider: ollama (no credential injected)', async () => {
    const { res, rec } = await send('/api/chat', {
      headers: { 'x-ingate-provider': 'ollama' },
      body: JSON.stringify({ model: 'llama3', messages: [{ role: 'user', content: 'hi' }], stream: false }),
    });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json?.model, 'llama3');
    assert.equal(res.json?.done, true);
    assert.equal(rec.path, '/api/chat');
    assert.equal(header(rec, 'authorization'), undefined);
    assert.equal(header(rec, 'x-api-key'), undefined);
  });

  it('ollama /api/generate and /api/chat are proxied by path alone', async () => {
    for (const p of ['/api/generate', '/api/chat']) {
      const { res, rec } = await send(p, { body: JSON.stringify({ model: 'llama3', prompt: 'hi', stream: false }) });
      assert.equal(res.status, 200, `${p}: ${res.text}`);
      assert.equal(rec?.path, p);
    }
  });

  it('ollama streaming (NDJSON) passes through', async () => {
    const { res } = await send('/api/chat', {
      headers: { 'x-ingate-provider': 'ollama' },
      body: JSON.stringify({ model: 'llama3', messages: [], stream: true, mock_mode: 'stream' }),
    });
    assert.equal(res.status, 200, res.text);
    const lines = res.text.trim().split('\n').map((l) => JSON.parse(l));
    assert.ok(lines.length >= 2);
    assert.equal(lines.at(-1).done, true);
  });

  it('/api/v1/... stays the management API even with X-Ingate-Provider', async () => {
    const { res, rec } = await send('/api/v1/chat', { headers: { 'x-ingate-provider': 'ollama' } });
    assertFlatError(res, 404);
    assert.equal(rec, undefined);
  });

  it('a custom provider keeps its base path: /v1/chat/completions → <base>/v1/chat/completions', async () => {
    const { res, rec } = await send('/v1/chat/completions?api-version=1', { headers: { 'x-ingate-provider': 'azurelike' } });
    assert.equal(res.status, 200, res.text);
    assert.equal(rec.path, '/openai/deployments/d1/v1/chat/completions?api-version=1');
  });

  it("dot segments in the path cannot escape a provider's base path", async () => {
    const escapes = [];
    for (const p of ['/v1/../../../admin', '/..', '/v1/../../d2/chat/completions', '/./../x']) {
      const { res, rec } = await send(p, { method: 'GET', headers: { 'x-ingate-provider': 'azurelike' } });
      if (rec && !rec.path.startsWith('/openai/deployments/d1/')) escapes.push(`${p} -> upstream ${rec.path} (status ${res.status})`);
      if (!rec && res.status !== 400) escapes.push(`${p} -> refused with ${res.status}, expected 400`);
    }
    assert.deepEqual(escapes, [], `requests left the configured base path /openai/deployments/d1:\n${escapes.join('\n')}`);
  });

  it('/ui/... is never proxied', async () => {
    const { res, rec } = await send('/ui/index.html', { method: 'GET', headers: { 'x-ingate-provider': 'openai' } });
    assert.equal(res.status, 404);
    assert.equal(rec, undefined);
  });

  it('exits 0 on SIGTERM without sanitizer reports', async () => {
    await gw.stop();
  });
});
