// Authentication and authorization of proxy and management requests: where a key may come from, every
// 401 path, revocation taking effect on the very next request, keys in the query string, roles.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startMock,
  startGateway,
  assertOpenAIError,
  assertFlatError,
  assertSecurityHeaders,
  fakeKey,
  corruptKey,
  keyChecksum,
  uid,
} from './lib/harness.mjs';

describe('authentication', () => {
  let mock, gw, t;
  before(async () => {
    mock = await startMock();
    gw = await startGateway({ mock });
    t = await gw.tenant('authorg', { providers: { openai: 'sk-prov-auth-openai-1', anthropic: 'sk-prov-auth-anth-1' } });
  });
  after(async () => {
    await gw?.destroy();
    await mock?.stop();
  });

  const chat = (headers, path = '/v1/chat/completions') => ({
    method: 'POST',
    path,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model: 'gpt-auth', messages: [{ role: 'user', content: 'hi' }] }),
  });

  it('issued keys have the documented format and checksum', () => {
    assert.match(t.key, /^sk-ingate-[0-9A-Za-z]{49}$/);
    assert.equal(keyChecksum(t.key.slice(0, 53)), t.key.slice(53));
    assert.match(t.keyInfo.hash_prefix, /^[0-9a-f]{12}$/);
  });

  it('accepts the key in X-Ingate-Key', async () => {
    const r = await gw.request(chat({ 'x-ingate-key': t.key }));
    assert.equal(r.status, 200, r.text);
  });

  it('accepts the key as Authorization: Bearer (OpenAI SDK drop-in)', async () => {
    const r = await gw.request(chat({ authorization: `Bearer ${t.key}` }));
    assert.equal(r.status, 200, r.text);
  });

  it('accepts the key as x-api-key (Anthropic SDK drop-in)', async () => {
    const r = await gw.request(chat({ 'x-api-key': t.key, 'anthropic-version': '2023-06-01' }, '/v1/messages'));
    assert.equal(r.status, 200, r.text);
  });

  it('401 missing_api_key without any key', async () => {
    const r = await gw.request(chat({}));
    assertOpenAIError(r, 401, 'missing_api_key');
    assert.equal(r.json.error.type, 'authentication_error');
  });

  it('401 missing_api_key when Authorization carries a non-ingate bearer token', async () => {
    const r = await gw.request(chat({ authorization: 'Bearer sk-proj-somebody-elses-openai-key' }));
    assertOpenAIError(r, 401, 'missing_api_key');
  });

  it('401 invalid_api_key for a key with a bad checksum (one character changed)', async () => {
    const bad = corruptKey(t.key);
    assert.notEqual(bad, t.key);
    const r = await gw.request(chat({ 'x-ingate-key': bad }));
    assertOpenAIError(r, 401, 'invalid_api_key');
    assert.ok(!r.text.includes(bad) && !r.text.includes(t.key));
  });

  it('401 invalid_api_key for a truncated key', async () => {
    const r = await gw.request(chat({ 'x-ingate-key': t.key.slice(0, 40) }));
    assertOpenAIError(r, 401, 'invalid_api_key');
  });

  it('401 for a well-formed key the gateway never issued', async () => {
    const k = fakeKey();
    const r = await gw.request(chat({ 'x-ingate-key': k }));
    assertOpenAIError(r, 401, 'invalid_api_key');
    // asked again (negative cache): still 401
    const r2 = await gw.request(chat({ 'x-ingate-key': k }));
    assertOpenAIError(r2, 401, 'invalid_api_key');
  });

  it('a freshly created key works at once (no restart, no wait)', async () => {
    const k = await gw.createKey('authorg');
    const r = await gw.request(chat({ 'x-ingate-key': k.key }));
    assert.equal(r.status, 200, r.text);
  });

  it('a revoked key is refused on the very next request after `admin revoke-key`', async () => {
    const k = await gw.createKey('authorg');
    const ok = await gw.request(chat({ 'x-ingate-key': k.key }));
    assert.equal(ok.status, 200, ok.text); // now cached as valid
    await gw.revokeKey(k.id);
    const r = await gw.request(chat({ 'x-ingate-key': k.key }));
    assertOpenAIError(r, 401);
    assertSecurityHeaders(r, 'revoked');
    const list = await gw.admin(['list-keys', '--org', 'authorg']);
    assert.equal(list.find((x) => x.id === k.id)?.revoked, true);
  });

  it('revoking by hash prefix works the same way', async () => {
    const k = await gw.createKey('authorg');
    assert.equal((await gw.request(chat({ authorization: `Bearer ${k.key}` }))).status, 200);
    await gw.revokeKey(k.hash_prefix);
    const r = await gw.request(chat({ authorization: `Bearer ${k.key}` }));
    assertOpenAIError(r, 401);
  });

  it('revocations and new keys are seen after the gateway has already read the store from several workers', async () => {
    // An org without provider keys: its requests end in 400 provider_key_missing before any upstream call,
    // so a 400 means "key accepted" and a 401 "key refused".
    const slug = uid('rv');
    await gw.createOrg(slug);
    const keys = [];
    for (let i = 0; i < 4; i++) keys.push(await gw.createKey(slug));
    const send = (k) => gw.request({ method: 'POST', path: '/v1/chat/completions', headers: { 'x-ingate-key': k }, body: '{}' });
    for (const k of keys) {
      const r = await send(k.key);
      assert.equal(r.status, 400, `fresh key ${k.hash_prefix} must be accepted: ${r.text}`);
    }
    for (const k of keys) {
      await gw.revokeKey(k.id);
      const r = await send(k.key);
      assert.equal(r.status, 401, `key ${k.hash_prefix} was revoked but is still accepted: ${r.text}`);
    }
    for (let i = 0; i < 3; i++) {
      const k = await gw.createKey(slug);
      const r = await send(k.key);
      assert.equal(r.status, 400, `new key ${k.hash_prefix} must be accepted: ${r.text}`);
    }
  });

  for (const param of ['key', 'api_key', 'x-ingate-key', 'token']) {
    it(`401 for a key in the query string (?${param}=...), never echoed`, async () => {
      const r = await gw.request({
        ...chat({}),
        path: `/v1/chat/completions?${param}=${t.key}`,
      });
      assertOpenAIError(r, 401, 'api_key_in_query');
      assert.ok(!r.text.includes(t.key), 'the body must not echo the key');
      assert.ok(!r.text.includes(t.key.slice(10, 30)), 'the body must not echo part of the key');
      for (let i = 0; i < r.rawHeaders.length; i++) assert.ok(!r.rawHeaders[i].includes(t.key), 'no header may echo the key');
    });
  }

  it('401 for a key in the query string even when a valid header key is also sent', async () => {
    const r = await gw.request({ ...chat({ 'x-ingate-key': t.key }), path: `/v1/models?api_key=${t.key}` });
    assertOpenAIError(r, 401, 'api_key_in_query');
    assert.ok(!r.text.includes(t.key));
  });

  it('401 for a URL-encoded key in the query string', async () => {
    const enc = encodeURIComponent(t.key).replace(/-/g, '%2D');
    const r = await gw.request({ ...chat({ 'x-ingate-key': t.key }), path: `/v1/models?q=${enc}` });
    assertOpenAIError(r, 401, 'api_key_in_query');
    assert.ok(!r.text.includes(t.key));
  });

  it('an ordinary query string is fine', async () => {
    const r = await gw.request({ path: '/v1/models?limit=2&monkey=banana', headers: { 'x-ingate-key': t.key } });
    assert.equal(r.status, 200, r.text);
  });

  it('403 for a viewer-role key on the proxy', async () => {
    const v = await gw.createKey('authorg', 'viewer');
    const r = await gw.request(chat({ 'x-ingate-key': v.key }));
    assertOpenAIError(r, 403, 'forbidden');
    assert.equal(r.json.error.type, 'permission_error');
  });

  it('member, admin and owner keys may use the proxy', async () => {
    for (const role of ['member', 'admin', 'owner']) {
      const k = await gw.createKey('authorg', role);
      const r = await gw.request(chat({ 'x-ingate-key': k.key }));
      assert.equal(r.status, 200, `${role}: ${r.text}`);
    }
  });

  it('keys are scoped to their org: another org without a provider key gets 400 provider_key_missing', async () => {
    const slug = uid('o');
    await gw.createOrg(slug);
    const k = await gw.createKey(slug);
    const r = await gw.request(chat({ 'x-ingate-key': k.key }));
    assertOpenAIError(r, 400, 'provider_key_missing');
  });

  it('401 (flat shape) for unauthenticated /api/v1/... management requests', async () => {
    const r = await gw.request({ path: '/api/v1/anything' });
    assertFlatError(r, 401, 'missing_api_key');
    assertSecurityHeaders(r, 'api 401');
    const r2 = await gw.request({ method: 'POST', path: '/api/v1/orgs', body: '{}', headers: { 'content-type': 'application/json' } });
    assertFlatError(r2, 401);
  });

  it('401 (flat shape) for a bad key on /api/v1/...', async () => {
    const r = await gw.request({ path: '/api/v1/anything', headers: { 'x-ingate-key': corruptKey(t.key) } });
    assertFlatError(r, 401, 'invalid_api_key');
  });

  it('404 (flat shape) for an authenticated unknown /api/v1/... path', async () => {
    const r = await gw.request({ path: '/api/v1/anything', headers: { 'x-ingate-key': t.key } });
    assertFlatError(r, 404, 'not_found');
  });

  it('/healthz ignores credentials and query strings', async () => {
    const r = await gw.request({ path: '/healthz', headers: { 'x-ingate-key': 'garbage' } });
    assert.equal(r.status, 200);
  });

  it('exits 0 on SIGTERM without sanitizer reports', async () => {
    await gw.stop();
  });
});
