// The official SDKs as drop-in clients: `openai` with baseURL https://127.0.0.1:PORT/v1 and the ingate key as
// apiKey, `@anthropic-ai/sdk` with baseURL https://127.0.0.1:PORT and the ingate key as apiKey (x-api-key).
// The SDKs get a fetch() that trusts data-dir/tls-cert.pem (lib/harness.mjs makeFetch); everything else is
// the SDKs' own request building and response/stream parsing.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { startMock, startGateway, makeFetch, header, headerAll } from './lib/harness.mjs';

const OPENAI_KEY = 'sk-prov-sdk-openai-0a1b2c';
const ANTHROPIC_KEY = 'sk-ant-prov-sdk-9z8y7x';

describe('official SDKs through the gateway', () => {
  let mock, gw, t, openai, anthropic;
  before(async () => {
    mock = await startMock();
    gw = await startGateway({ mock });
    t = await gw.tenant('sdk', { providers: { openai: OPENAI_KEY, anthropic: ANTHROPIC_KEY } });
    const fetch = makeFetch(gw.ca);
    openai = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: t.key, fetch, maxRetries: 0, timeout: 30000 });
    anthropic = new Anthropic({ baseURL: gw.url, apiKey: t.key, fetch, maxRetries: 0, timeout: 30000 });
  });
  after(async () => {
    await gw?.destroy();
    await mock?.stop();
  });

  async function lastUpstream(path) {
    const reqs = await mock.requests();
    const rec = reqs.filter((r) => r.path === path).at(-1);
    assert.ok(rec, `the mock saw no request to ${path}`);
    return rec;
  }

  function assertNoIngateKey(rec) {
    for (const [k, v] of rec.headers) assert.ok(!v.includes(t.key), `header ${k} forwarded the ingate key`);
  }

  it('openai: chat.completions.create (non-stream)', async () => {
    await mock.clear();
    const c = await openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Say hi' }],
    });
    assert.equal(c.object, 'chat.completion');
    assert.equal(c.model, 'gpt-4o-mini');
    assert.match(c.choices[0].message.content, /Hello from the ingate mock upstream/);
    assert.equal(c.usage.total_tokens, 46);
    const rec = await lastUpstream('/v1/chat/completions');
    assert.deepEqual(headerAll(rec, 'authorization'), [`Bearer ${OPENAI_KEY}`]);
    assertNoIngateKey(rec);
    assert.equal(JSON.parse(rec.body).messages[0].content, 'Say hi');
  });

  it('openai: withResponse exposes the gateway request id and security headers', async () => {
    const { response } = await openai.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] })
      .withResponse();
    assert.match(response.headers.get('x-ingate-request-id'), /^[0-9a-f-]{36}$/);
    assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
  });

  it('openai: streaming with stream_options.include_usage delivers deltas and the final usage chunk', async () => {
    await mock.clear();
    const stream = await openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Stream please' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    const text = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
    assert.equal(text, 'Hello from the mock upstream');
    assert.ok(chunks.length >= 6);
    const last = chunks.at(-1);
    assert.deepEqual(last.choices, []);
    assert.equal(last.usage.prompt_tokens, 12);
    assert.equal(last.usage.completion_tokens, 5);
    const finish = chunks.find((c) => c.choices[0]?.finish_reason);
    assert.equal(finish.choices[0].finish_reason, 'stop');
    const rec = await lastUpstream('/v1/chat/completions');
    assert.equal(JSON.parse(rec.body).stream, true);
    assert.deepEqual(headerAll(rec, 'authorization'), [`Bearer ${OPENAI_KEY}`]);
  });

  it('openai: models.list (GET) works', async () => {
    const page = await openai.models.list();
    assert.ok(page);
    const rec = await lastUpstream('/v1/models');
    assert.equal(rec.method, 'GET');
  });

  it('openai: an upstream error surfaces as the SDK error class with the status', async () => {
    await assert.rejects(
      openai.chat.completions.create(
        { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] },
        { headers: { 'X-Mock-Mode': 'error', 'X-Mock-Status': '429' } }
      ),
      (e) => {
        assert.ok(e instanceof OpenAI.RateLimitError, `got ${e?.constructor?.name}: ${e?.message}`);
        assert.equal(e.status, 429);
        return true;
      }
    );
  });

  it('openai: a wrong ingate key is an AuthenticationError', async () => {
    const bad = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-ingate-nope', fetch: makeFetch(gw.ca), maxRetries: 0 });
    await assert.rejects(bad.chat.completions.create({ model: 'm', messages: [] }), (e) => {
      assert.ok(e instanceof OpenAI.AuthenticationError, `got ${e?.constructor?.name}`);
      assert.equal(e.status, 401);
      return true;
    });
  });

  it('anthropic: messages.create (non-stream); x-api-key replaced by the stored anthropic key', async () => {
    await mock.clear();
    const m = await anthropic.messages.create({
      model: 'claude-it-model',
      max_tokens: 64,
      messages: [{ role: 'user', content: 'Hello Claude' }],
    });
    assert.equal(m.type, 'message');
    assert.equal(m.model, 'claude-it-model');
    assert.match(m.content[0].text, /Hello from the ingate mock upstream/);
    assert.equal(m.stop_reason, 'end_turn');
    const rec = await lastUpstream('/v1/messages');
    assert.deepEqual(headerAll(rec, 'x-api-key'), [ANTHROPIC_KEY], 'the mock must see the stored provider key');
    assert.ok(header(rec, 'anthropic-version'), 'anthropic-version passes through');
    assert.equal(header(rec, 'authorization'), undefined);
    assertNoIngateKey(rec);
  });

  it('anthropic: messages.stream delivers text deltas and the final message', async () => {
    await mock.clear();
    const stream = anthropic.messages.stream({
      model: 'claude-it-model',
      max_tokens: 64,
      messages: [{ role: 'user', content: 'Stream please' }],
    });
    let text = '';
    stream.on('text', (d) => (text += d));
    const final = await stream.finalMessage();
    assert.equal(text, 'Hello from the mock upstream');
    assert.equal(final.content[0].text, 'Hello from the mock upstream');
    assert.equal(final.stop_reason, 'end_turn');
    assert.equal(final.usage.output_tokens, 5);
    const rec = await lastUpstream('/v1/messages');
    assert.equal(JSON.parse(rec.body).stream, true);
    assert.deepEqual(headerAll(rec, 'x-api-key'), [ANTHROPIC_KEY]);
    assertNoIngateKey(rec);
  });

  it('anthropic: create({stream: true}) raw events', async () => {
    const events = [];
    const s = await anthropic.messages.create({ model: 'claude-haiku', max_tokens: 8, messages: [{ role: 'user', content: 'x' }], stream: true });
    for await (const ev of s) events.push(ev.type);
    assert.equal(events[0], 'message_start');
    assert.equal(events.at(-1), 'message_stop');
    assert.ok(events.includes('content_block_delta'));
  });

  it('anthropic: messages.countTokens', async () => {
    const r = await anthropic.messages.countTokens({ model: 'claude-haiku', messages: [{ role: 'user', content: 'x' }] });
    assert.equal(r.input_tokens, 12);
  });

  it('exits 0 on SIGTERM without sanitizer reports', async () => {
    await gw.stop();
  });
});
