// Spend budgets (issue 5; docs/budgets.md): the CRUD API (Enterprise plan gate, validation, admin to write and
// viewer to read, another org's ids answered like missing ones, scope ids checked to be the org's) and the
// proxy path: a call over the hard limit answers 429 with the exact body and never reaches the mock upstream;
// budget.warning and budget.exceeded are delivered once per period; many concurrent streams never take spend
// past the hard limit (the worst case of each is reserved before it goes upstream and replaced by its actual
// cost when it ends), and client aborts settle too. Upstream failures release their reservation; a stream
// that reports no usage is settled with an estimate from its bytes; an answer longer than its reservation
// overshoots by at most what the calls in flight cost beyond their reservations (the bound docs/budgets.md
// states, with and without max_tokens). The alerts survive a restart exactly once: an alert left pending by
// a stopped process is delivered by the next one, and one already queued is not delivered again.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import Database from 'better-sqlite3';
import {
  startMock,
  startGateway,
  closedPort,
  assertFlatError,
  LOOSE_AUTH_ARGS,
  randomId,
  uid,
  sleep,
  waitFor,
  T,
} from './lib/harness.mjs';

const ID_RE = /^[0-9a-f]{32}$/;
// gpt-4o in data/pricing.json: 2.5 USD per 1M input tokens, 10 per 1M output tokens, in micro-USD per token
const IN = 2.5;
const OUT = 10;
// the mock's answers: 12 prompt tokens; 34 completion tokens (JSON), or one per event (stream)
const JSON_COST = Math.round(12 * IN + 34 * OUT); // 370 micro-USD

/** The worst case the gateway reserves for a body (docs/budgets.md): ceil(bytes/4) input + max_tokens output. */
function estimate(body, maxTokens) {
  const bytes = Buffer.byteLength(body);
  return Math.ceil(Math.ceil(bytes / 4) * IN) + Math.ceil(maxTokens * OUT);
}

const micros = (usd) => Math.round(usd * 1e6);

async function startReceiver() {
  const requests = [];
  const srv = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      requests.push({ path: req.url, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
    });
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  return {
    port: srv.address().port,
    url: (p) => `http://127.0.0.1:${srv.address().port}${p}`,
    at: (p) => requests.filter((r) => r.path === p),
    close: () =>
      new Promise((r) => {
        srv.close(r);
        srv.closeAllConnections();
      }),
  };
}

describe('budgets', () => {
  let mock, rx, gw;
  let A, B; // enterprise orgs (signup owners)
  let admin, member, viewer; // users of A

  before(async () => {
    mock = await startMock();
    rx = await startReceiver();
    const dead = await closedPort();
    gw = await startGateway({
      mock,
      providers: `name=deadprov,base_url=http://127.0.0.1:${dead}`,
      args: [...LOOSE_AUTH_ARGS, '--outbound-allowlist', `127.0.0.1:${rx.port}`, '--webhook-retry-base-ms', '100'],
    });
    A = await gw.signup();
    B = await gw.signup();
    admin = await gw.join(A.token, 'admin');
    member = await gw.join(A.token, 'member');
    viewer = await gw.join(A.token, 'viewer');
  });
  after(async () => {
    await gw?.destroy();
    await mock?.stop();
    await rx?.close();
  });

  /** A fresh enterprise org with an OpenAI key (mock). */
  async function org() {
    const o = await gw.signup();
    assert.equal((await gw.api(o.token, 'PUT', '/org/billing', { plan: 'enterprise' })).status, 200);
    const p = await gw.api(o.token, 'PUT', '/providers/openai', { api_key: `sk-prov-${uid('bud')}` });
    assert.equal(p.status, 200, p.text);
    return o;
  }

  async function create(token, body, status = 201) {
    const r = await gw.api(token, 'POST', '/budgets', body);
    assert.equal(r.status, status, `create: ${r.status} ${r.text}`);
    return r.json.budget;
  }

  async function status(token, id) {
    const r = await gw.api(token, 'GET', `/budgets/${id}/status`);
    assert.equal(r.status, 200, r.text);
    return r.json;
  }

  /** Waits until nothing is reserved on the budget (every call settled) and returns its status. */
  async function settled(token, id, spentMicros) {
    let s;
    await waitFor(
      async () => {
        s = await status(token, id);
        return s.reserved === 0 && (spentMicros === undefined || micros(s.current_spend) === spentMicros);
      },
      { what: `budget ${id} settled${spentMicros === undefined ? '' : ` at ${spentMicros}`}`, timeoutMs: T(10000) }
    );
    return s;
  }

  const chatBody = ({ maxTokens = 100, stream = false } = {}) =>
    JSON.stringify(
      maxTokens === null
        ? { model: 'gpt-4o', stream, messages: [{ role: 'user', content: 'hi' }] }
        : { model: 'gpt-4o', max_tokens: maxTokens, stream, messages: [{ role: 'user', content: 'hi' }] }
    );

  function chat(key, testId, { maxTokens = 100, stream = false, headers = {}, onData } = {}) {
    const body = chatBody({ maxTokens, stream });
    return {
      body,
      res: gw.request({
        method: 'POST',
        path: '/v1/chat/completions',
        headers: { 'x-ingate-key': key, 'content-type': 'application/json', 'x-test-id': testId, ...headers },
        body,
        onData,
      }),
    };
  }

  async function reached(testId) {
    return (await mock.requests()).filter((r) => r.headers.some(([n, v]) => n === 'x-test-id' && v === testId)).length;
  }

  it('calls that generate nothing reserve nothing: a model listing passes a budget smaller than the unpriced default', async () => {
    const o = await org();
    const b = await create(o.token, { scope: 'org', hard_limit_usd: 0.5 });
    const id = uid('list');
    for (let i = 0; i < 3; i++) {
      const r = await gw.request({ path: '/v1/models', headers: { 'x-ingate-key': o.api_key, 'x-test-id': id } });
      assert.equal(r.status, 200, r.text);
    }
    const s = await settled(o.token, b.id, 0);
    assert.equal(s.current_spend, 0);
    assert.equal(await reached(id), 3);
  });

  it('a request asking for n answers reserves n times the output', async () => {
    const o = await org();
    const one = JSON.stringify({ model: 'gpt-4o', max_tokens: 100, n: 1, messages: [{ role: 'user', content: 'hi' }] });
    const five = JSON.stringify({ model: 'gpt-4o', max_tokens: 100, n: 5, messages: [{ role: 'user', content: 'hi' }] });
    // room for three single answers: one call with n = 5 does not fit, one with n = 1 does
    const b = await create(o.token, { scope: 'org', hard_limit_usd: (3 * estimate(one, 100)) / 1e6 });
    const post = (body) =>
      gw.request({
        method: 'POST',
        path: '/v1/chat/completions',
        headers: { 'x-ingate-key': o.api_key, 'content-type': 'application/json' },
        body,
      });
    const r5 = await post(five);
    assert.equal(r5.status, 429, r5.text);
    assert.equal(r5.json.error_code, 'budget_exceeded');
    const r1 = await post(one);
    assert.equal(r1.status, 200, r1.text);
    await settled(o.token, b.id);
  });

  it('is an Enterprise feature: a free org gets 403 plan_required, and can still read', async () => {
    assertFlatError(await gw.api(A.token, 'POST', '/budgets', { scope: 'org', hard_limit_usd: 1 }), 403, 'plan_required');
    const l = await gw.api(A.token, 'GET', '/budgets');
    assert.equal(l.status, 200, l.text);
    assert.deepEqual(l.json, { budgets: [] });
    for (const o of [A, B]) assert.equal((await gw.api(o.token, 'PUT', '/org/billing', { plan: 'enterprise' })).status, 200);
  });

  it('creates, lists, reads, updates, reports and deletes; validation names the field', async () => {
    const b = await create(admin.token, { scope: 'org', name: 'Org cap', hard_limit_usd: 100, soft_limit_usd: 80.5 });
    assert.match(b.id, ID_RE);
    assert.deepEqual(
      { ...b, created_at: 0, updated_at: 0 },
      { id: b.id, name: 'Org cap', scope: 'org', scope_id: null, period_type: 'monthly', soft_limit_usd: 80.5, hard_limit_usd: 100, created_at: 0, updated_at: 0 }
    );
    assert.ok(b.created_at > 0 && b.updated_at === b.created_at);

    const list = await gw.api(viewer.token, 'GET', '/budgets');
    assert.equal(list.status, 200);
    assert.deepEqual(list.json.budgets, [b]);
    const one = await gw.api(viewer.token, 'GET', `/budgets/${b.id}`);
    assert.deepEqual(one.json, { budget: b });

    const s = await status(viewer.token, b.id);
    assert.deepEqual(s.budget, b);
    assert.equal(s.current_spend, 0);
    assert.equal(s.remaining, 100);
    assert.equal(s.utilization, 0);
    assert.equal(s.reserved, 0);
    const now = new Date();
    assert.equal(s.period_start, Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
    assert.equal(s.period_end, Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
    assert.equal(s.warning_sent, false);
    assert.equal(s.exceeded_sent, false);

    const up = await gw.api(admin.token, 'PUT', `/budgets/${b.id}`, { period_type: 'daily', soft_limit_usd: null, name: null });
    assert.equal(up.status, 200, up.text);
    assert.equal(up.json.budget.period_type, 'daily');
    assert.equal(up.json.budget.soft_limit_usd, null);
    assert.equal(up.json.budget.name, null);
    assert.equal(up.json.budget.hard_limit_usd, 100);
    const day = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
    assert.equal((await status(viewer.token, b.id)).period_start, day);
    const wk = await gw.api(admin.token, 'PUT', `/budgets/${b.id}`, { period_type: 'weekly', hard_limit_usd: 0.000001 });
    assert.equal(wk.json.budget.hard_limit_usd, 0.000001);
    const monday = day - ((now.getUTCDay() + 6) % 7) * 86400000;
    assert.equal((await status(viewer.token, b.id)).period_start, monday);

    // app and key scopes, one budget per scope target
    const app = await gw.api(A.token, 'POST', '/apps', { name: uid('app') });
    assert.equal(app.status, 201, app.text);
    const appId = app.json.app.id;
    const ba = await create(admin.token, { scope: 'app', scope_id: appId, hard_limit_usd: 5, period_type: 'weekly' });
    assert.equal(ba.scope_id, appId);
    const keyId = A.key.id;
    const bk = await create(admin.token, { scope: 'key', scope_id: keyId, hard_limit_usd: 1 });
    assert.equal(bk.scope, 'key');
    assertFlatError(await gw.api(admin.token, 'POST', '/budgets', { scope: 'org', hard_limit_usd: 1 }), 409, 'budget_exists');
    assertFlatError(await gw.api(admin.token, 'POST', '/budgets', { scope: 'key', scope_id: keyId, hard_limit_usd: 1 }), 409, 'budget_exists');

    // validation
    const bad = [
      [{}, 'scope'],
      [{ scope: 'team', hard_limit_usd: 1 }, 'scope'],
      [{ scope: 'app', hard_limit_usd: 1 }, 'scope_id'],
      [{ scope: 'org', scope_id: appId, hard_limit_usd: 1 }, 'scope_id'],
      [{ scope: 'app', scope_id: randomId(), hard_limit_usd: 1 }, 'scope_id', 'unknown_scope_id'],
      [{ scope: 'key', scope_id: appId, hard_limit_usd: 1 }, 'scope_id', 'unknown_scope_id'],
      [{ scope: 'org' }, 'hard_limit_usd'],
      [{ scope: 'org', hard_limit_usd: 0 }, 'hard_limit_usd'],
      [{ scope: 'org', hard_limit_usd: -1 }, 'hard_limit_usd'],
      [{ scope: 'org', hard_limit_usd: '5' }, 'hard_limit_usd'],
      [{ scope: 'org', hard_limit_usd: 0.0000001 }, 'hard_limit_usd'],
      [{ scope: 'org', hard_limit_usd: 1e10 }, 'hard_limit_usd'],
      [{ scope: 'org', hard_limit_usd: null }, 'hard_limit_usd'],
      [{ scope: 'org', hard_limit_usd: 1, soft_limit_usd: 2 }, 'soft_limit_usd'],
      [{ scope: 'org', hard_limit_usd: 1, period_type: 'yearly' }, 'period_type'],
      [{ scope: 'org', hard_limit_usd: 1, name: 'x'.repeat(129) }, 'name'],
      [{ scope: 'org', hard_limit_usd: 1, bogus: 1 }, 'bogus'],
    ];
    for (const [body, field, code = 'invalid_request'] of bad) {
      const r = await gw.api(admin.token, 'POST', '/budgets', body);
      assertFlatError(r, 400, code);
      assert.equal(r.json.field, field, `${JSON.stringify(body)}: ${r.text}`);
    }
    for (const [body, field] of [
      [{}, 'hard_limit_usd'],
      [{ scope: 'key' }, 'scope'],
      [{ scope_id: keyId }, 'scope_id'],
      [{ soft_limit_usd: 2 }, 'soft_limit_usd'], // above the stored hard limit (1)
      [{ hard_limit_usd: 0.5, soft_limit_usd: 0.6 }, 'soft_limit_usd'],
    ]) {
      const r = await gw.api(admin.token, 'PUT', `/budgets/${bk.id}`, body);
      assertFlatError(r, 400);
      assert.equal(r.json.field, field, `${JSON.stringify(body)}: ${r.text}`);
    }

    for (const x of [b, ba, bk]) {
      const d = await gw.api(admin.token, 'DELETE', `/budgets/${x.id}`);
      assert.equal(d.status, 200, d.text);
      assert.deepEqual(d.json, { deleted: x.id });
      assertFlatError(await gw.api(admin.token, 'GET', `/budgets/${x.id}`), 404, 'not_found');
      assertFlatError(await gw.api(admin.token, 'GET', `/budgets/${x.id}/status`), 404, 'not_found');
    }
    const audit = await gw.api(A.token, 'GET', '/audit?limit=100');
    const actions = audit.json.entries.map((e) => e.action);
    for (const a of ['budget.create', 'budget.update', 'budget.delete']) assert.ok(actions.includes(a), `${a} audited`);
  });

  it('admins write, viewers read; keys follow their role', async () => {
    const b = await create(A.token, { scope: 'org', hard_limit_usd: 10 });
    const memberKey = (await gw.api(A.token, 'POST', '/keys', { name: 'm', role: 'member' })).json.api_key;
    const viewerKey = (await gw.api(A.token, 'POST', '/keys', { name: 'v', role: 'viewer' })).json.api_key;
    const adminKey = (await gw.api(A.token, 'POST', '/keys', { name: 'a', role: 'admin' })).json.api_key;
    for (const cred of [viewer.token, member.token, viewerKey, memberKey]) {
      for (const p of ['/budgets', `/budgets/${b.id}`, `/budgets/${b.id}/status`]) assert.equal((await gw.api(cred, 'GET', p)).status, 200);
      assertFlatError(await gw.api(cred, 'POST', '/budgets', { scope: 'org', hard_limit_usd: 1 }), 403, 'forbidden');
      assertFlatError(await gw.api(cred, 'PUT', `/budgets/${b.id}`, { hard_limit_usd: 1 }), 403, 'forbidden');
      assertFlatError(await gw.api(cred, 'DELETE', `/budgets/${b.id}`), 403, 'forbidden');
    }
    const up = await gw.api(adminKey, 'PUT', `/budgets/${b.id}`, { hard_limit_usd: 20 });
    assert.equal(up.status, 200, up.text);
    assert.equal((await gw.api(adminKey, 'DELETE', `/budgets/${b.id}`)).status, 200);
  });

  it("another org's budget ids answer exactly like missing ones; its apps and keys are unknown scope ids", async () => {
    const b = await create(A.token, { scope: 'org', hard_limit_usd: 10 });
    for (const [m, p, body] of [
      ['GET', (id) => `/budgets/${id}`],
      ['GET', (id) => `/budgets/${id}/status`],
      ['PUT', (id) => `/budgets/${id}`, { hard_limit_usd: 1 }],
      ['DELETE', (id) => `/budgets/${id}`],
    ]) {
      const real = await gw.api(B.token, m, p(b.id), body);
      const missing = await gw.api(B.token, m, p(randomId()), body);
      assertFlatError(real, 404, 'not_found');
      assert.deepEqual({ ...real.json, request_id: 0 }, { ...missing.json, request_id: 0 });
    }
    assert.equal((await gw.api(B.token, 'GET', '/budgets')).text.includes(b.id), false);
    const aKey = A.key.id;
    const r = await gw.api(B.token, 'POST', '/budgets', { scope: 'key', scope_id: aKey, hard_limit_usd: 1 });
    assertFlatError(r, 400, 'unknown_scope_id');
    const still = await gw.api(A.token, 'GET', `/budgets/${b.id}`);
    assert.equal(still.json.budget.hard_limit_usd, 10);
    assert.equal((await gw.api(A.token, 'DELETE', `/budgets/${b.id}`)).status, 200);
  });

  it('refuses a call over the hard limit with the exact body, without reaching the upstream', async () => {
    const o = await org();
    const other = (await gw.api(o.token, 'POST', '/keys', { name: 'other', role: 'member' })).json.api_key;
    const keyId = o.key.id;
    const b = await create(o.token, { scope: 'key', scope_id: keyId, hard_limit_usd: 0.002 }); // 2000 micro-USD
    const id = uid('hard');
    const est = estimate(chatBody(), 100);
    let spent = 0;
    // admitted while spent + the call's worst case fits under the hard limit; each call costs 370
    while (spent + est <= 2000) {
      const { res } = chat(o.api_key, id);
      const r = await res;
      assert.equal(r.status, 200, r.text);
      spent += JSON_COST;
      await settled(o.token, b.id, spent);
    }
    const before = await reached(id);
    for (let i = 0; i < 3; i++) {
      const r = await chat(o.api_key, id).res;
      assert.equal(r.status, 429);
      assert.equal(r.headers['content-type'], 'application/json');
      assert.equal(r.text, `{"error": "budget exceeded", "error_code": "budget_exceeded", "budget_id": "${b.id}", "current_spend": ${spent / 1e6}, "hard_limit_usd": 0.002}`);
    }
    assert.equal(await reached(id), before, 'a refused call never reaches the upstream');
    const m = await gw.request({ path: '/metrics' });
    assert.match(m.text, /^ingate_budget_refused_total [3-9]\d*$/m, 'the refusals are counted');
    // the budget is the key's: another key of the org is not limited by it
    const r = await chat(other, uid('other')).res;
    assert.equal(r.status, 200, r.text);
    const s = await settled(o.token, b.id, spent);
    assert.equal(s.remaining, (2000 - spent) / 1e6);
    assert.equal(s.utilization, spent / 2000);
    assert.equal(s.exceeded_sent, true);
    // a raised limit admits on the next request
    assert.equal((await gw.api(o.token, 'PUT', `/budgets/${b.id}`, { hard_limit_usd: 1 })).status, 200);
    assert.equal((await chat(o.api_key, id).res).status, 200);
  });

  it('emits budget.warning and budget.exceeded once per period', async () => {
    const o = await org();
    const w = await gw.api(o.token, 'POST', '/webhooks', { url: rx.url(`/b-${o.org.id}`), events: ['budget.warning', 'budget.exceeded'] });
    assert.equal(w.status, 201, w.text);
    // soft 700, hard 1500 micro-USD: the 2nd call (740 spent) crosses the soft limit, the 3rd no longer fits
    const b = await create(o.token, { scope: 'org', soft_limit_usd: 0.0007, hard_limit_usd: 0.0015, name: 'small' });
    const id = uid('wh');
    for (let i = 1; i <= 2; i++) {
      assert.equal((await chat(o.api_key, id).res).status, 200);
      await settled(o.token, b.id, i * JSON_COST);
    }
    for (let i = 0; i < 4; i++) assert.equal((await chat(o.api_key, id).res).status, 429);
    await waitFor(() => rx.at(`/b-${o.org.id}`).length >= 2, { what: 'two deliveries', timeoutMs: T(10000) });
    await new Promise((r) => setTimeout(r, T(1500))); // and no more come
    const got = rx.at(`/b-${o.org.id}`).map((r) => JSON.parse(r.body));
    assert.deepEqual(got.map((p) => p.type).sort(), ['budget.exceeded', 'budget.warning']);
    const now = new Date();
    const start = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1);
    for (const p of got) {
      assert.equal(p.org_id, o.org.id);
      assert.deepEqual(p.data, {
        budget_id: b.id,
        scope: 'org',
        scope_id: null,
        period_type: 'monthly',
        period_start: start,
        current_spend: (2 * JSON_COST) / 1e6,
        soft_limit_usd: 0.0007,
        hard_limit_usd: 0.0015,
      });
    }
    const s = await status(o.token, b.id);
    assert.equal(s.warning_sent, true);
    assert.equal(s.exceeded_sent, true);
    // a raised limit does not re-send the alerts of this period
    assert.equal((await gw.api(o.token, 'PUT', `/budgets/${b.id}`, { hard_limit_usd: 0.002 })).status, 200);
    assert.equal((await chat(o.api_key, id).res).status, 200);
    await settled(o.token, b.id, 3 * JSON_COST);
    for (let i = 0; i < 2; i++) assert.equal((await chat(o.api_key, id).res).status, 429);
    await new Promise((r) => setTimeout(r, T(1500)));
    assert.equal(rx.at(`/b-${o.org.id}`).length, 2);
  });

  it('many concurrent streams never take spend past the hard limit', async () => {
    const o = await org();
    const HARD = 10000; // micro-USD
    const b = await create(o.token, { scope: 'org', hard_limit_usd: HARD / 1e6 });
    const EVENTS = 20;
    const cost = Math.round(12 * IN + EVENTS * OUT); // 230: within the 100-token reservation
    const headers = { 'x-mock-events': String(EVENTS), 'x-mock-interval-ms': '50' };
    const est = estimate(chatBody({ stream: true }), 100);
    let spent = 0;
    let waves = 0;
    for (;;) {
      const id = uid('wave');
      const calls = Array.from({ length: 12 }, () => chat(o.api_key, id, { stream: true, headers }).res);
      const rs = await Promise.all(calls);
      const ok = rs.filter((r) => r.status === 200);
      for (const r of rs) if (r.status !== 200) assert.equal(r.json?.error_code, 'budget_exceeded', r.text);
      for (const r of ok) {
        assert.ok(r.complete && !r.error, 'a complete stream');
        assert.ok(r.text.includes('data: [DONE]'));
      }
      // every call of a wave arrives while the others stream: exactly as many as fit are admitted
      assert.equal(ok.length, Math.min(12, Math.floor((HARD - spent) / est)), `wave ${waves}: spent ${spent}`);
      assert.equal(await reached(id), ok.length, 'refused streams never reach the upstream');
      spent += ok.length * cost;
      const s = await settled(o.token, b.id, spent);
      assert.ok(micros(s.current_spend) <= HARD);
      waves++;
      if (ok.length === 0) break;
    }
    assert.ok(waves >= 3, `${waves} waves`);
    assert.ok(spent <= HARD && spent + est > HARD, `spent ${spent} of ${HARD} (a call reserves ${est})`);
  });

  it('a call whose upstream fails releases its reservation: spend is what was priced, nothing for the failures', async () => {
    const o = await org();
    // deadprov has no price for gpt-4o: its calls reserve the unpriced default (1 USD) and must fit
    const b = await create(o.token, { scope: 'org', hard_limit_usd: 1.5 });
    const id = uid('fail');
    const est = estimate(chatBody(), 100);
    for (const [headers, status] of [
      [{ 'x-ingate-provider': 'deadprov' }, 502], // nothing listens: no answer at all
      [{ 'x-mock-mode': 'error', 'x-mock-status': '502' }, 502], // the provider's own error, without usage
      [{ 'x-mock-mode': 'error', 'x-mock-status': '500' }, 500],
    ]) {
      const r = await chat(o.api_key, id, { headers }).res;
      assert.equal(r.status, status, r.text);
      const s = await settled(o.token, b.id, 0);
      assert.equal(s.reserved, 0);
    }
    // the reservations were given back: a second 1 USD reservation fits again (1 + 1 > 1.5 otherwise) ...
    assert.equal((await status(o.token, b.id)).remaining, 1.5);
    const again = await chat(o.api_key, id, { headers: { 'x-ingate-provider': 'deadprov' } }).res;
    assert.equal(again.status, 502, again.text);
    await settled(o.token, b.id, 0);
    // ... and the calls that succeed are charged what the pricing says, nothing more
    const r = await chat(o.api_key, id).res;
    assert.equal(r.status, 200, r.text);
    await settled(o.token, b.id, JSON_COST);
    assert.ok(est > JSON_COST);
  });

  it('a stream that reports no usage is settled with an estimate from its bytes, not its reservation', async () => {
    const o = await org();
    const b = await create(o.token, { scope: 'org', hard_limit_usd: 1 });
    const body = chatBody({ maxTokens: 4000, stream: true });
    const r = await gw.request({
      method: 'POST',
      path: '/v1/chat/completions',
      headers: { 'x-ingate-key': o.api_key, 'content-type': 'application/json', 'x-mock-usage': 'none', 'x-mock-events': '3' },
      body,
    });
    assert.equal(r.status, 200, r.text);
    assert.ok(r.text.includes('data: [DONE]') && !r.text.includes('"usage"'), 'a complete stream without usage');
    // input ceil(request bytes / 4), output ceil(response bytes / 4), priced as gpt-4o
    const est = Math.round(Math.ceil(Buffer.byteLength(body) / 4) * IN + Math.ceil(Buffer.byteLength(r.text) / 4) * OUT);
    assert.ok(est < estimate(body, 4000) / 10, `estimate ${est} far below the reservation`);
    await settled(o.token, b.id, est);
  });

  it('an answer longer than its reservation overshoots by at most what the calls in flight cost beyond it', async () => {
    // max_tokens 1, but the mock answers 34 completion tokens (370 micro-USD): three calls in flight together
    const o = await org();
    const est1 = estimate(chatBody({ maxTokens: 1 }), 1);
    const HARD = 3 * est1; // exactly three reservations fit
    const b = await create(o.token, { scope: 'org', hard_limit_usd: HARD / 1e6 });
    const id = uid('over');
    const rs = await Promise.all(
      Array.from({ length: 3 }, () => chat(o.api_key, id, { maxTokens: 1, headers: { 'x-mock-delay-ms': '800' } }).res)
    );
    for (const r of rs) assert.equal(r.status, 200, r.text);
    const s = await settled(o.token, b.id, 3 * JSON_COST);
    const spent = micros(s.current_spend);
    assert.ok(spent > HARD, 'max_tokens bounds the reservation, not what the provider answers');
    assert.ok(spent - HARD <= 3 * (JSON_COST - est1), `overshoot ${spent - HARD} ≤ Σ (actual − reserved)`);
    const r = await chat(o.api_key, id, { maxTokens: 1 }).res;
    assert.equal(r.status, 429, 'and the next call finds no room');
    assert.equal(r.json.error_code, 'budget_exceeded');
    assert.equal(await reached(id), 3);
  });

  it('without max_tokens the default reservation (4096 tokens) is not a strict bound either: the same bound holds', async () => {
    // two streams of 5000 completion tokens each, without max_tokens: each reserves 4096 output tokens
    const o = await org();
    const body = chatBody({ maxTokens: null, stream: true });
    const est = estimate(body, 4096);
    const HARD = 2 * est;
    const b = await create(o.token, { scope: 'org', hard_limit_usd: HARD / 1e6 });
    const id = uid('nomax');
    const EVENTS = 5000;
    const cost = Math.round(12 * IN + EVENTS * OUT); // 50030 micro-USD, above the 4096-token reservation
    const headers = { 'x-mock-events': String(EVENTS), 'x-mock-delay-ms': '800' };
    const rs = await Promise.all(Array.from({ length: 2 }, () => chat(o.api_key, id, { maxTokens: null, stream: true, headers }).res));
    for (const r of rs) {
      assert.equal(r.status, 200, r.text.slice(0, 200));
      assert.ok(r.text.includes('data: [DONE]'));
    }
    const s = await settled(o.token, b.id, 2 * cost);
    const spent = micros(s.current_spend);
    assert.ok(spent > HARD, `spent ${spent} > hard ${HARD}: the default is not a bound`);
    assert.ok(spent - HARD <= 2 * (cost - est), `overshoot ${spent - HARD} ≤ Σ (actual − reserved) = ${2 * (cost - est)}`);
    assert.equal((await chat(o.api_key, id, { maxTokens: null }).res).status, 429);
  });

  it('client aborts settle: the reservation is replaced (charged in full when no usage was seen)', async () => {
    const o = await org();
    const b = await create(o.token, { scope: 'org', hard_limit_usd: 0.01 });
    const headers = { 'x-mock-events': '100', 'x-mock-interval-ms': '100' };
    const id = uid('abort');
    const est = estimate(chatBody({ stream: true }), 100);
    const calls = Array.from({ length: 4 }, () => chat(o.api_key, id, { stream: true, headers, onData: (c, res, req) => req.destroy() }).res);
    const rs = await Promise.all(calls);
    for (const r of rs) assert.equal(r.status, 200);
    // each aborted stream had no usage yet: charged its reservation, and nothing stays reserved
    const s = await settled(o.token, b.id, 4 * est);
    assert.equal(micros(s.remaining), 10000 - 4 * est);
    await waitFor(async () => (await mock.stats()).open_streams === 0, { what: 'the upstream streams ended' });
    // what remains is still admitted, call by call, until the next worst case no longer fits
    let spent = 4 * est;
    while (spent + est <= 10000) {
      assert.equal((await chat(o.api_key, id).res).status, 200);
      spent += JSON_COST;
      await settled(o.token, b.id, spent);
    }
    assert.equal((await chat(o.api_key, id).res).status, 429);
  });
});

describe('budget alerts across a restart', () => {
  let mock, rx, first, second;
  const args = () => [...LOOSE_AUTH_ARGS, '--outbound-allowlist', `127.0.0.1:${rx.port}`, '--webhook-retry-base-ms', '100'];

  before(async () => {
    mock = await startMock();
    rx = await startReceiver();
    first = await startGateway({ mock, args: args() });
  });
  after(async () => {
    await second?.destroy();
    await first?.destroy();
    await mock?.stop();
    await rx?.close();
  });

  it('an alert left pending by a stopped process is delivered once by the next; one already queued is not sent again', async () => {
    const o = await first.signup();
    assert.equal((await first.api(o.token, 'PUT', '/org/billing', { plan: 'enterprise' })).status, 200);
    assert.equal((await first.api(o.token, 'PUT', '/providers/openai', { api_key: `sk-prov-${uid('rs')}` })).status, 200);
    const hook = `/restart-${o.org.id}`;
    const w = await first.api(o.token, 'POST', '/webhooks', { url: rx.url(hook), events: ['budget.warning', 'budget.exceeded'] });
    assert.equal(w.status, 201, w.text);
    const mk = async (body) => {
      const r = await first.api(o.token, 'POST', '/budgets', body);
      assert.equal(r.status, 201, r.text);
      return r.json.budget;
    };
    const a = await mk({ scope: 'org', soft_limit_usd: 0.0007, hard_limit_usd: 0.0015 });
    const k = await mk({ scope: 'key', scope_id: o.key.id, soft_limit_usd: 0.5, hard_limit_usd: 1 });
    const chat = (gw) =>
      gw.request({
        method: 'POST',
        path: '/v1/chat/completions',
        headers: { 'x-ingate-key': o.api_key, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] }),
      });
    const of = (id, type) => rx.at(hook).map((r) => JSON.parse(r.body)).filter((p) => p.data.budget_id === id && (!type || p.type === type));
    // budget a: the 2nd call crosses the soft limit, the 3rd is refused (hard): both alerts delivered
    for (let i = 0; i < 2; i++) {
      assert.equal((await chat(first)).status, 200);
      await waitFor(async () => (await first.api(o.token, 'GET', `/budgets/${a.id}/status`)).json.reserved === 0, { what: 'settled' });
    }
    assert.equal((await chat(first)).status, 429);
    await waitFor(() => of(a.id).length === 2, { what: 'the two alerts of budget a', timeoutMs: T(10000) });
    const delivered = of(a.id).map((p) => p.id).sort();
    await first.stop();

    // as if the process had stopped between queuing a's alerts and recording that, and between claiming
    // k's budget.warning and queuing it
    const now = new Date();
    const month = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1);
    const db = new Database(path.join(first.dataDir, 'ingate.db'));
    try {
      assert.equal(db.prepare('SELECT pending FROM budget_spend WHERE budget_id = ?').get(a.id).pending, 0);
      db.prepare('UPDATE budget_spend SET pending = alerted WHERE budget_id = ?').run(a.id);
      db.prepare(
        'INSERT INTO budget_spend (budget_id, org_id, period_start, spent_micros, alerted, pending, updated_at) VALUES (?, ?, ?, 600000, 1, 1, ?)' +
          ' ON CONFLICT (budget_id, period_start) DO UPDATE SET spent_micros = 600000, alerted = 1, pending = 1'
      ).run(k.id, o.org.id, month, Date.now());
    } finally {
      db.close();
    }

    second = await startGateway({ mock, reuse: first, args: args() });
    await waitFor(() => of(k.id).length >= 1, { what: "k's pending budget.warning", timeoutMs: T(10000) });
    await sleep(T(1500)); // and nothing more comes
    const got = of(k.id);
    assert.equal(got.length, 1);
    assert.equal(got[0].type, 'budget.warning');
    assert.deepEqual(got[0].data, {
      budget_id: k.id,
      scope: 'key',
      scope_id: o.key.id,
      period_type: 'monthly',
      period_start: month,
      current_spend: 0.6,
      soft_limit_usd: 0.5,
      hard_limit_usd: 1,
    });
    assert.deepEqual(of(a.id).map((p) => p.id).sort(), delivered, "a's alerts were not sent again");
    // the restarted gateway loaded the claims: more refusals of a send nothing
    for (let i = 0; i < 2; i++) assert.equal((await chat(second)).status, 429);
    await sleep(T(1000));
    assert.equal(of(a.id).length, 2);
    const s = await second.api(o.token, 'GET', `/budgets/${k.id}/status`);
    assert.equal(s.json.warning_sent, true);
    await second.stop();
    const db2 = new Database(path.join(first.dataDir, 'ingate.db'), { readonly: true });
    try {
      assert.equal(db2.prepare('SELECT COUNT(*) AS n FROM budget_spend WHERE pending <> 0').get().n, 0, 'nothing left pending');
    } finally {
      db2.close();
    }
  });
});
