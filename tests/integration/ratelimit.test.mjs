// Per-key rate limits on the proxy path (issue 5; docs/limits.md): the org's default limits apply to each of
// its keys; exact boundaries with the X-RateLimit-* and IETF RateLimit headers at each step; a refused call
// answers 429 with Retry-After and the exact JSON body, and never reaches the mock upstream; parallel calls
// never get more than the limit through; tokens per minute are charged max_tokens up front and settled with
// the answer's usage; a changed limit counts on the next request.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startMock, startGateway, LOOSE_AUTH_ARGS, uid, waitFor, T } from './lib/harness.mjs';

describe('per-key rate limits', () => {
  let mock, gw;
  before(async () => {
    mock = await startMock();
    gw = await startGateway({ mock, args: LOOSE_AUTH_ARGS });
  });
  after(async () => {
    await gw?.destroy();
    await mock?.stop();
  });

  /** A fresh org (owner session + its first key) with an OpenAI key and `settings`. */
  async function org(settings) {
    const o = await gw.signup();
    const p = await gw.api(o.token, 'PUT', '/providers/openai', { api_key: `sk-prov-${uid('rl')}` });
    assert.equal(p.status, 200, p.text);
    if (settings) {
      const r = await gw.api(o.token, 'PUT', '/org', { settings });
      assert.equal(r.status, 200, r.text);
    }
    return o;
  }

  function chat(key, testId, body = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }) {
    return gw.request({
      method: 'POST',
      path: '/v1/chat/completions',
      headers: { 'x-ingate-key': key, 'content-type': 'application/json', 'x-test-id': testId },
      body: JSON.stringify(body),
    });
  }

  async function reached(testId) {
    return (await mock.requests()).filter((r) => r.headers.some(([n, v]) => n === 'x-test-id' && v === testId)).length;
  }

  it('admits exactly the limit, with the headers right at every step, then 429s without going upstream', async () => {
    const o = await org({ rate_limits: { requests_per_minute: 3 } });
    const id = uid('rpm');
    for (let i = 1; i <= 3; i++) {
      const r = await chat(o.api_key, id);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.headers['x-ratelimit-limit'], '3');
      assert.equal(r.headers['x-ratelimit-remaining'], String(3 - i));
      assert.equal(r.headers['x-ratelimit-reset'], String(20 * i)); // one request comes back every 20 s
      assert.equal(r.headers['ratelimit-policy'], '"requests";q=3;w=60');
      assert.equal(r.headers['ratelimit'], `"requests";r=${3 - i};t=${20 * i}`);
    }
    const r = await chat(o.api_key, id);
    assert.equal(r.status, 429);
    assert.equal(r.text, '{"error": "rate limit exceeded", "error_code": "rate_limited", "retry_after_seconds": 20}');
    assert.match(r.headers['content-type'], /^application\/json/);
    assert.equal(r.headers['retry-after'], '20');
    assert.equal(r.headers['x-ratelimit-limit'], '3');
    assert.equal(r.headers['x-ratelimit-remaining'], '0');
    assert.equal(r.headers['x-ratelimit-reset'], '60');
    assert.equal(r.headers['ratelimit'], '"requests";r=0;t=20');
    assert.ok(r.headers['x-ingate-request-id'], 'a refused call still has its request id');
    assert.equal(await reached(id), 3, 'the refused call never reached the upstream');
    // another key of the same org has its own budget under the same default
    const k2 = await gw.api(o.token, 'POST', '/keys', { name: 'second' });
    assert.equal(k2.status, 201, k2.text);
    assert.equal((await chat(k2.json.api_key, id)).status, 200);
    // the metric counts the refusal
    const m = await gw.request({ path: '/metrics' });
    assert.equal(m.status, 200);
    assert.match(m.text, /^ingate_rate_limited_total\{limit="key_requests"\} [1-9]\d*$/m);
  });

  it("a key's own limit overrides the org's default, on the very next request", async () => {
    const o = await org({ rate_limits: { requests_per_minute: 2 } });
    const id = uid('own');
    assert.equal((await chat(o.api_key, id)).status, 200);
    assert.equal((await chat(o.api_key, id)).status, 200);
    assert.equal((await chat(o.api_key, id)).status, 429);
    const put = await gw.api(o.token, 'PUT', `/keys/${o.key.id}`, { rate_limits: { requests_per_minute: 4 } });
    assert.equal(put.status, 200, put.text);
    let r = await chat(o.api_key, id);
    assert.equal(r.status, 200, 'the raised limit of the key counts at once');
    assert.equal(r.headers['x-ratelimit-limit'], '4');
    assert.equal(r.headers['x-ratelimit-remaining'], '1'); // 2 used under the old limit count
    // back to the org's default
    assert.equal((await gw.api(o.token, 'PUT', `/keys/${o.key.id}`, { rate_limits: null })).status, 200);
    r = await chat(o.api_key, id);
    assert.equal(r.status, 429);
    assert.equal(r.headers['x-ratelimit-limit'], '2');
  });

  it('a rotated key keeps counting where the key it replaces stopped (one lineage, one budget)', async () => {
    const o = await org({ rate_limits: { requests_per_minute: 2 } });
    const id = uid('rot');
    assert.equal((await chat(o.api_key, id)).status, 200);
    assert.equal((await chat(o.api_key, id)).status, 200);
    const rot = await gw.api(o.token, 'POST', `/keys/${o.key.id}/rotate`, {});
    assert.equal(rot.status, 201, rot.text);
    const r = await chat(rot.json.api_key, id);
    assert.equal(r.status, 429, 'rotating does not reset the limit');
    assert.equal(r.headers['x-ratelimit-limit'], '2');
    assert.equal((await chat(o.api_key, id)).status, 429, 'the old key, still in its overlap, shares the count');
    assert.equal(await reached(id), 2);
  });

  it('a changed limit counts on the next request; removing it removes the headers', async () => {
    const o = await org({ rate_limits: { requests_per_minute: 1 } });
    const id = uid('chg');
    assert.equal((await chat(o.api_key, id)).status, 200);
    assert.equal((await chat(o.api_key, id)).status, 429);
    let r = await gw.api(o.token, 'PUT', '/org', { settings: { rate_limits: { requests_per_minute: 600 } } });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.org.settings.rate_limits, { requests_per_minute: 600 });
    r = await chat(o.api_key, id);
    assert.equal(r.status, 200, 'a higher limit admits at once');
    assert.equal(r.headers['x-ratelimit-limit'], '600');
    r = await gw.api(o.token, 'PUT', '/org', { settings: {} });
    assert.equal(r.status, 200);
    r = await chat(o.api_key, id);
    assert.equal(r.status, 200);
    for (const h of ['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset', 'ratelimit', 'ratelimit-policy'])
      assert.equal(r.headers[h], undefined, `no ${h} without a limit`);
  });

  it('parallel calls on several threads never get more than the limit through', async () => {
    const o = await org({ rate_limits: { requests_per_minute: 10 } });
    const id = uid('par');
    const rs = await Promise.all(Array.from({ length: 30 }, () => chat(o.api_key, id)));
    const ok = rs.filter((r) => r.status === 200).length;
    const refused = rs.filter((r) => r.status === 429).length;
    assert.equal(ok, 10);
    assert.equal(refused, 20);
    assert.equal(await reached(id), 10);
    const remaining = rs.filter((r) => r.status === 200).map((r) => Number(r.headers['x-ratelimit-remaining']));
    assert.deepEqual(remaining.sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'each admission saw its own count');
  });

  it('tokens per minute: max_tokens is charged up front, then replaced by the usage the answer reports', async () => {
    const o = await org({ rate_limits: { tokens_per_minute: 100 } });
    const id = uid('tpm');
    const body = (max) => ({ model: 'gpt-4o-mini', max_tokens: max, messages: [{ role: 'user', content: 'hi' }] });
    let r = await chat(o.api_key, id, body(60));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers['x-ratelimit-limit'], '100');
    assert.equal(r.headers['x-ratelimit-remaining'], '40');
    assert.equal(r.headers['ratelimit-policy'], '"tokens";q=100;w=60');
    // the mock's answer reports 12 + 34 = 46 tokens: 14 come back once the log writer has settled the call
    await waitFor(
      async () => {
        const x = await chat(o.api_key, id, body(54));
        if (x.status === 200) return true;
        assert.equal(x.status, 429);
        return false;
      },
      { timeoutMs: T(5000), what: 'the settlement of the first call' }
    );
    // 46 + 46 used now: 8 left, a request asking 9 does not fit and reaches nobody
    const before = await reached(id);
    r = await chat(o.api_key, id, body(9));
    assert.equal(r.status, 429, r.text);
    assert.equal(r.headers['ratelimit'].startsWith('"tokens";r=0;t='), true, r.headers['ratelimit']);
    assert.equal(await reached(id), before);
    // a request asking more than the whole minute is charged the whole minute, not refused forever
    const o2 = await org({ rate_limits: { tokens_per_minute: 100 } });
    r = await chat(o2.api_key, id, body(100000));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers['x-ratelimit-remaining'], '0');
  });

  it('only calls that can generate are charged tokens; a call refused before going upstream gets them back', async () => {
    const o = await org({ rate_limits: { tokens_per_minute: 100 } });
    const id = uid('free');
    // a model listing generates nothing: it passes the limit (and shows it) without being charged
    for (let i = 0; i < 3; i++) {
      const r = await gw.request({ path: '/v1/models', headers: { 'x-ingate-key': o.api_key, 'x-test-id': id } });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.headers['ratelimit'], '"tokens";r=100;t=0');
    }
    // refused before going upstream (unknown provider): the 80 tokens charged up front come back
    const body = JSON.stringify({ model: 'gpt-4o-mini', max_tokens: 80, messages: [] });
    let r = await gw.request({
      method: 'POST',
      path: '/v1/chat/completions',
      headers: { 'x-ingate-key': o.api_key, 'content-type': 'application/json', 'x-ingate-provider': 'nosuch' },
      body,
    });
    assert.equal(r.status, 400, r.text);
    r = await chat(o.api_key, id, { model: 'gpt-4o-mini', max_tokens: 80, messages: [] });
    assert.equal(r.status, 200, `the refused call's tokens were given back: ${r.text}`);
    assert.equal(r.headers['x-ratelimit-remaining'], '20');
  });

  it('both limits: the headers list both, X-RateLimit-* describe requests', async () => {
    const o = await org({ rate_limits: { requests_per_minute: 5, tokens_per_minute: 5000 } });
    const r = await chat(o.api_key, uid('both'), { model: 'm', max_tokens: 100, messages: [] });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers['x-ratelimit-limit'], '5');
    assert.equal(r.headers['x-ratelimit-remaining'], '4');
    assert.equal(r.headers['ratelimit-policy'], '"requests";q=5;w=60, "tokens";q=5000;w=60');
    assert.equal(r.headers['ratelimit'], '"requests";r=4;t=12, "tokens";r=4900;t=2');
  });

  it('refuses invalid limits naming the field, and changes nothing', async () => {
    const o = await org({ rate_limits: { requests_per_minute: 7 } });
    for (const bad of [
      { requests_per_minute: 0 },
      { requests_per_minute: -1 },
      { requests_per_minute: 1.5 },
      { requests_per_minute: '10' },
      { tokens_per_minute: 0 },
      { per_hour: 10 },
      [],
      'fast',
    ]) {
      const r = await gw.api(o.token, 'PUT', '/org', { settings: { rate_limits: bad } });
      assert.equal(r.status, 400, `${JSON.stringify(bad)}: ${r.text}`);
      assert.equal(r.json.field, 'settings');
      assert.match(r.json.error, /rate_limits/);
    }
    const g = await gw.api(o.token, 'GET', '/org');
    assert.deepEqual(g.json.org.settings.rate_limits, { requests_per_minute: 7 });
    // a member cannot change the org's limits
    const m = await gw.join(o.token, 'member');
    const r = await gw.api(m.token, 'PUT', '/org', { settings: { rate_limits: { requests_per_minute: 1000 } } });
    assert.equal(r.status, 403);
  });
});
