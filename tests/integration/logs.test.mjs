// The log pipeline end to end, through the management API: one record per proxied call (model from the
// request body, status, stream flag, tokens from the provider's usage, cost from the price table, attribution
// and client address opened from their sealed form), attribution headers never forwarded and bounded at 256
// bytes; GET /logs filters (time, model, status, provider, key, end user and session by blind index), cursor
// paging, parameter validation naming the field, another org's record answered like a missing one, roles;
// the JSONL export (exact range, one object per line, constant memory for a slow reader, a client going away
// mid-export); usage summary and time series against the calls made; PII redaction (pattern, hash and drop
// modes, request bodies and streamed responses, false positives left alone), encryption at rest (no prompt,
// PII or attribution in any byte of the data dir, while the API shows them), --redact-all-orgs; capture modes
// metadata and off; durability across SIGKILL and while the org's database refuses writes (the spool), and
// the org's database files removed with the org.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import Database from 'better-sqlite3';
import {
  REPO_ROOT,
  startMock,
  startGateway,
  assertFlatError,
  assertOpenAIError,
  listFiles,
  waitFor,
  waitExit,
  sleep,
  header,
  uid,
  T,
  MiB,
  SANITIZED,
  LOOSE_AUTH_ARGS,
} from './lib/harness.mjs';

const DAY_MS = 86400000;
const HOUR_MS = 3600000;
const hex = (n = 6) => crypto.randomBytes(n).toString('hex');

// ------------------------------------------------------------------------------------------------------
// prices (data/pricing.json is the built-in table): micro-USD of a call, rounded half up like the gateway

const PRICING = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'data/pricing.json'), 'utf8'));
/** Price entry of a model (exact name, or the name without a dated suffix). */
function priceOf(provider, model) {
  const table = PRICING.providers[provider];
  if (table[model]) return table[model];
  const base = model.replace(/(-\d{8}|-\d{4}-\d{2}-\d{2}|-latest)$/, '');
  return table[base];
}
/** micro-USD (integer) of `input` and `output` tokens, as the gateway computes it. */
function costMicros(provider, model, input, output) {
  const p = priceOf(provider, model);
  assert.ok(p, `no price for ${provider}/${model} in data/pricing.json`);
  const pico = input * Math.round(p.input * 1e6) + output * Math.round(p.output * 1e6); // pico-USD
  return Math.floor((pico + 500000) / 1000000);
}
/** cost_usd of the API (a number with 6 decimals) as integer micro-USD. */
const micros = (usd) => Math.round(usd * 1e6);

// the mock's canned usage (tests/mock/mock_upstream.c): JSON 12 + 34; SSE 12 + one token per event (5)
const MOCK_JSON = { input: 12, output: 34 };
const MOCK_STREAM = { input: 12, output: 5 };

// ------------------------------------------------------------------------------------------------------
// PII: unique values per run, so that a scan of the data dir cannot find them by chance

/** A Luhn-valid 16-digit Visa number, as digits. */
function luhnCard() {
  const d = [4, ...Array.from({ length: 14 }, () => crypto.randomInt(10))];
  let sum = 0;
  // the check digit goes at position 16; from the right, every second digit of the first 15 is doubled
  for (let i = 0; i < 15; i++) {
    let x = d[14 - i];
    if (i % 2 === 0) {
      x *= 2;
      if (x > 9) x -= 9;
    }
    sum += x;
  }
  d.push((10 - (sum % 10)) % 10);
  return d.join('');
}
function luhnValid(digits) {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let x = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      x *= 2;
      if (x > 9) x -= 9;
    }
    sum += x;
  }
  return sum % 10 === 0;
}
const group4 = (digits) => digits.match(/.{1,4}/g).join(' ');

function makePii() {
  const cardDigits = luhnCard();
  assert.ok(luhnValid(cardDigits));
  const badDigits = cardDigits.slice(0, 15) + String((Number(cardDigits[15]) + 1) % 10);
  assert.ok(!luhnValid(badDigits));
  const area = 100 + crypto.randomInt(500); // 100..599: never 000, 666 or 9xx
  const grp = 10 + crypto.randomInt(90);
  const serial = 1000 + crypto.randomInt(9000);
  return {
    email: `pii.${hex(5)}@example.com`,
    card: group4(cardDigits),
    cardDigits,
    ssn: `${area}-${grp}-${serial}`,
    phone: `(${200 + crypto.randomInt(700)}) 555-${1000 + crypto.randomInt(9000)}`,
    badCard: group4(badDigits),
  };
}
// false positives that must survive redaction untouched
const NEGATIVES = 'date 2024-01-15, order ORD-2024-000123, version 1.2.3';

// ------------------------------------------------------------------------------------------------------
// a Node upstream that echoes the request's message contents back, one SSE event per message (the mock's
// answers are canned, so it cannot return PII): OpenAI-shaped, with a usage chunk

function startEchoUpstream() {
  const seen = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      seen.push({ url: req.url, headers: req.headers });
      let body = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {}
      const texts = (Array.isArray(body.messages) ? body.messages : []).map((m) => String(m?.content ?? ''));
      const model = typeof body.model === 'string' ? body.model : 'echo-model';
      const base = { id: 'chatcmpl-echo', object: 'chat.completion.chunk', created: 1700000000, model };
      if (body.stream) {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        res.flushHeaders();
        for (let i = 0; i < texts.length; i++) {
          const delta = i === 0 ? { role: 'assistant', content: texts[i] } : { content: texts[i] };
          res.write(`data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta, finish_reason: null }] })}\n\n`);
          await sleep(15);
        }
        const usage = { prompt_tokens: 7, completion_tokens: texts.length, total_tokens: 7 + texts.length };
        res.write(`data: ${JSON.stringify({ ...base, choices: [], usage })}\n\n`);
        res.end('data: [DONE]\n\n');
        return;
      }
      const out = {
        id: 'chatcmpl-echo',
        object: 'chat.completion',
        created: 1700000000,
        model,
        choices: [{ index: 0, message: { role: 'assistant', content: texts.join('\n') }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 },
      };
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(out));
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        port: server.address().port,
        seen,
        close: () => new Promise((r) => (server.closeAllConnections?.(), server.close(r))),
      })
    )
  );
}

/** The `data:` values of an SSE body, JSON-parsed where they are JSON. */
function sseData(text) {
  return text
    .split('\n')
    .filter((l) => l.startsWith('data:'))
    .map((l) => l.slice(5).trim())
    .map((v) => {
      try {
        return JSON.parse(v);
      } catch {
        return v;
      }
    });
}
/** The delta contents of an OpenAI SSE body, in order. */
const sseContents = (text) =>
  sseData(text)
    .filter((e) => e && typeof e === 'object' && Array.isArray(e.choices) && e.choices.length)
    .map((e) => e.choices[0].delta.content);

// ------------------------------------------------------------------------------------------------------
// data dir scan: every file, every byte, UTF-8 and UTF-16 (LE and BE)

function encodings(s) {
  const le = Buffer.from(s, 'utf16le');
  const be = Buffer.from(le).swap16();
  return [
    ['utf8', Buffer.from(s, 'utf8')],
    ['utf16le', le],
    ['utf16be', be],
  ];
}

async function scanDir(dir, needles) {
  const files = await listFiles(dir);
  const hits = [];
  let bytes = 0;
  for (const f of files) {
    let data;
    try {
      data = await fsp.readFile(f);
    } catch (e) {
      if (e.code === 'ENOENT') continue; // removed meanwhile (spool, deleted org)
      throw e;
    }
    bytes += data.length;
    for (const [label, s] of needles)
      for (const [enc, b] of encodings(s)) if (data.includes(b)) hits.push(`${label} (${enc}) in ${path.relative(dir, f)}`);
  }
  return { files, hits, bytes };
}

// ------------------------------------------------------------------------------------------------------
// API helpers

function apiHelpers(getGw) {
  const ok = async (cred, method, p, body, status = 200) => {
    const r = await getGw().api(cred, method, p, body);
    assert.equal(r.status, status, `${method} ${p}: ${r.status} ${r.text}`);
    return r;
  };
  /** Every record the query selects, following next_cursor (limit 200 a page). */
  const listAll = async (cred, query = '') => {
    const out = [];
    let cursor = null;
    for (let pages = 0; pages < 1000; pages++) {
      const q = [query, 'limit=200', cursor ? `cursor=${encodeURIComponent(cursor)}` : ''].filter(Boolean).join('&');
      const r = await ok(cred, 'GET', `/logs?${q}`);
      out.push(...r.json.logs);
      cursor = r.json.next_cursor;
      if (!cursor) return out;
    }
    throw new Error('paging did not end');
  };
  /** Waits until every id is listed; returns the full listing. */
  const waitLogs = (cred, ids, what = 'log records') =>
    waitFor(
      async () => {
        const all = await listAll(cred);
        const have = new Set(all.map((l) => l.id));
        const missing = ids.filter((id) => !have.has(id));
        return missing.length === 0 ? all : false;
      },
      { timeoutMs: T(10000), intervalMs: 100, what }
    );
  const getLog = async (cred, id) => (await ok(cred, 'GET', `/logs/${id}`)).json.log;
  return { ok, listAll, waitLogs, getLog };
}

/** POST a chat completion through the gateway; returns the response plus {id, sent}. */
async function chatVia(gw, key, { model = 'gpt-4o-mini', stream = false, headers = {}, messages, extra = {}, path: p = '/v1/chat/completions', raw } = {}) {
  const body = raw ?? {
    model,
    ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
    messages: messages ?? [{ role: 'user', content: 'hello' }],
    ...extra,
  };
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const r = await gw.request({
    method: 'POST',
    path: p,
    headers: { 'x-ingate-key': key, 'content-type': 'application/json', ...headers },
    body: text,
  });
  return Object.assign(r, { id: r.headers['x-ingate-request-id'], sent: text });
}

// ======================================================================================================

describe('call logs, usage and export through the API', () => {
  let mock, up, gw;
  const { ok, listAll, waitLogs, getLog } = apiHelpers(() => gw);
  const chat = (key, opts) => chatVia(gw, key, opts);

  /** A new org (signup) with stored provider keys; optionally Enterprise and with settings. */
  async function newOrg({ plan, settings, providers = ['openai', 'anthropic', 'echo'] } = {}) {
    const s = await gw.signup();
    for (const p of providers) await ok(s.token, 'PUT', `/providers/${p}`, { api_key: `sk-prov-${p}-${hex(4)}` });
    if (plan) {
      const r = await gw.adminRaw(['set-plan', '--org', s.org.slug, '--plan', plan]);
      assert.equal(r.code, 0, `set-plan: ${r.stderr}`);
    }
    if (settings) {
      const r = await ok(s.token, 'PUT', '/org', { settings });
      assert.deepEqual(r.json.org.settings, settings);
    }
    return s;
  }

  before(async () => {
    mock = await startMock();
    up = await startEchoUpstream();
    gw = await startGateway({
      mock,
      providers: `name=echo,base_url=http://127.0.0.1:${up.port},auth_header=Authorization,auth_format=Bearer {key}`,
      args: LOOSE_AUTH_ARGS,
    });
  });
  after(async () => {
    await gw?.destroy();
    await mock?.stop();
    await up?.close();
  });

  // ----------------------------------------------------------------------------------------------------
  // 1. one record per call, with the right fields

  let A, A2, B; // org A (owner session + member key), a second key of A, org B
  const U1 = `user-alice-${hex()}`;
  const U2 = `user-bob-${hex()}`;
  const S1 = `sess-one-${hex()}`;
  const S2 = `sess-two-${hex()}`;
  const CALLS = []; // org A: {id, model, status, stream, provider, keyId, user, session, input, output, cost, res, sent, tag}
  let recordsA; // org A's full listing after test 1

  it('stores one record per proxied call: model, status, stream, tokens, cost, attribution, client address', async () => {
    A = await newOrg();
    A2 = await gw.createKey(A.org.slug);
    await mock.clear();
    const tag = () => uid('logs');
    const mk = async (key, keyId, opts, expect) => {
      const t = tag();
      const headers = { 'x-test-id': t, ...(opts.headers || {}) };
      const r = await chat(key, { ...opts, headers });
      assert.equal(r.status, expect.status, `${expect.model}: ${r.status} ${r.text.slice(0, 300)}`);
      CALLS.push({ ...expect, id: r.id, keyId, res: r, sent: r.sent, tag: t, provider: expect.provider ?? 'openai' });
      return r;
    };
    const attr = (u, s) => ({ ...(u != null ? { 'x-ingate-user-id': u } : {}), ...(s != null ? { 'x-ingate-session-id': s } : {}) });
    const priced = (provider, model, u) => costMicros(provider, model, u.input, u.output);

    await mk(A.api_key, A.key.id, { model: 'gpt-4o-mini', headers: attr(U1, S1) },
      { model: 'gpt-4o-mini', status: 200, stream: false, user: U1, session: S1, ...MOCK_JSON, cost: priced('openai', 'gpt-4o-mini', MOCK_JSON) });
    const st = await mk(A.api_key, A.key.id, { model: 'gpt-4o', stream: true, headers: attr(U1, S2) },
      { model: 'gpt-4o', status: 200, stream: true, user: U1, session: S2, ...MOCK_STREAM, cost: priced('openai', 'gpt-4o', MOCK_STREAM) });
    assert.match(st.headers['content-type'], /text\/event-stream/);
    assert.match(st.text, /"usage":\{"prompt_tokens":12,"completion_tokens":5/, 'the mock streamed a usage chunk');
    await mk(A2.key, A2.id, { model: 'acme-unpriced-9', headers: attr(U2, S1) },
      { model: 'acme-unpriced-9', status: 200, stream: false, user: U2, session: S1, ...MOCK_JSON, cost: null });
    await mk(A2.key, A2.id, { model: 'gpt-4o-mini', headers: { ...attr(U2, null), 'x-mock-mode': 'error' } },
      { model: 'gpt-4o-mini', status: 500, stream: false, user: U2, session: null, input: null, output: null, cost: null });
    await mk(A.api_key, A.key.id, { model: 'claude-sonnet-4-20250514', path: '/v1/messages', extra: { max_tokens: 16 } },
      { model: 'claude-sonnet-4-20250514', provider: 'anthropic', status: 200, stream: false, user: null, session: null, ...MOCK_JSON,
        cost: priced('anthropic', 'claude-sonnet-4-20250514', MOCK_JSON) });
    await mk(A.api_key, A.key.id, { model: 'claude-3-5-haiku-20241022', path: '/v1/messages', stream: true, extra: { max_tokens: 16 }, headers: attr(U1, '') },
      { model: 'claude-3-5-haiku-20241022', provider: 'anthropic', status: 200, stream: true, user: U1, session: null, ...MOCK_STREAM,
        cost: priced('anthropic', 'claude-3-5-haiku-20241022', MOCK_STREAM) });
    const u256 = 'u'.repeat(250) + hex(3);
    await mk(A.api_key, A.key.id, { model: 'gpt-4o-mini', headers: attr(u256, 's'.repeat(256)) },
      { model: 'gpt-4o-mini', status: 200, stream: false, user: u256, session: 's'.repeat(256), ...MOCK_JSON, cost: priced('openai', 'gpt-4o-mini', MOCK_JSON) });

    // over 256 bytes: 400 before anything is forwarded or logged
    const refused = [];
    for (const h of [{ 'x-ingate-user-id': 'u'.repeat(257) }, { 'x-ingate-session-id': 's'.repeat(257) }]) {
      const t = tag();
      const r = await chat(A.api_key, { headers: { 'x-test-id': t, ...h } });
      assertOpenAIError(r, 400);
      assert.match(r.json.error.message, /256 bytes/);
      refused.push({ t, id: r.id });
    }

    recordsA = await waitLogs(A.token, CALLS.map((c) => c.id));
    assert.equal(recordsA.length, CALLS.length, 'exactly one record per proxied call, none for the refused ones');
    for (const x of refused) assert.ok(!recordsA.some((l) => l.id === x.id), 'a refused call was logged');

    for (const c of CALLS) {
      const l = await getLog(A.token, c.id);
      const what = `${c.model} (${c.status}${c.stream ? ', stream' : ''})`;
      assert.equal(l.id, c.id);
      assert.equal(l.model, c.model, `model of ${what}`);
      assert.equal(l.provider, c.provider, `provider of ${what}`);
      assert.equal(l.method, 'POST');
      assert.equal(l.path, c.provider === 'anthropic' ? '/v1/messages' : '/v1/chat/completions');
      assert.equal(l.status, c.status, `status of ${what}`);
      assert.equal(l.stream, c.stream, `stream flag of ${what}`);
      assert.equal(l.key_id, c.keyId, `key_id of ${what}`);
      assert.equal(l.input_tokens, c.input, `input_tokens of ${what}`);
      assert.equal(l.output_tokens, c.output, `output_tokens of ${what}`);
      if (c.cost === null) assert.equal(l.cost_usd, null, `cost_usd of ${what} (no price / no usage)`);
      else assert.equal(micros(l.cost_usd), c.cost, `cost_usd of ${what}: ${l.cost_usd}`);
      assert.equal(l.user_id, c.user, `user_id of ${what}`);
      assert.equal(l.session_id, c.session, `session_id of ${what}`);
      assert.equal(l.client_ip, '127.0.0.1', `client_ip of ${what}`);
      assert.equal(l.req_body, c.sent, `req_body of ${what}: the request as sent`);
      assert.equal(l.resp_body, c.res.text, `resp_body of ${what}: the response as received`);
      assert.equal(l.req_bytes, Buffer.byteLength(c.sent));
      assert.equal(l.resp_bytes, c.res.body.length);
      assert.ok(Math.abs(l.created_at - Date.now()) < 60000, `created_at ${l.created_at} is unix ms`);
      assert.ok(l.latency_ms >= 0 && l.ttfb_ms >= 0 && l.ttfb_ms <= l.latency_ms + 1e-3, `timings ${l.ttfb_ms}/${l.latency_ms}`);
      // the listing carries the same metadata and attribution, without bodies
      const listed = recordsA.find((x) => x.id === c.id);
      assert.ok(!('req_body' in listed) && !('resp_body' in listed), 'a listing carries no bodies');
      const { req_body, resp_body, ...meta } = l;
      assert.deepEqual(listed, meta, `listing and record of ${what} agree`);
    }
    assert.ok(CALLS.filter((c) => c.cost !== null).every((c) => c.cost > 0), 'priced calls cost something');

    // attribution never reaches the provider; refused calls never reach it at all
    const reqs = await mock.requests();
    for (const c of CALLS) {
      const rec = reqs.find((r) => header(r, 'x-test-id') === c.tag);
      assert.ok(rec, `the mock did not see ${c.model}`);
      for (const [name] of rec.headers) assert.ok(!/^x-ingate-/i.test(name), `${name} was forwarded to the provider`);
      assert.ok(!JSON.stringify(rec.headers).includes(U1) && !JSON.stringify(rec.headers).includes(S1));
    }
    for (const x of refused) assert.ok(!reqs.some((r) => header(r, 'x-test-id') === x.t), 'a call with an oversized attribution header was forwarded');
  });

  // ----------------------------------------------------------------------------------------------------
  // 2. filters, paging, validation, isolation, roles

  it('filters by time, model, status, provider, key, end user and session (blind index); combined with AND', async () => {
    const ids = (logs) => logs.map((l) => l.id).sort();
    const expectIds = (pred) => recordsA.filter(pred).map((l) => l.id).sort();
    const cases = [
      ['model=gpt-4o-mini', (l) => l.model === 'gpt-4o-mini'],
      ['model=acme-unpriced-9', (l) => l.model === 'acme-unpriced-9'],
      ['status=500', (l) => l.status === 500],
      ['status=200', (l) => l.status === 200],
      ['provider=anthropic', (l) => l.provider === 'anthropic'],
      ['provider=openai', (l) => l.provider === 'openai'],
      [`key_id=${A2.id}`, (l) => l.key_id === A2.id],
      [`key_id=${A.key.id}`, (l) => l.key_id === A.key.id],
      [`user_id=${U1}`, (l) => l.user_id === U1],
      [`user_id=${U2}`, (l) => l.user_id === U2],
      [`session_id=${S1}`, (l) => l.session_id === S1],
      [`session_id=${S2}`, (l) => l.session_id === S2],
      [`user_id=${U2}&session_id=${S1}`, (l) => l.user_id === U2 && l.session_id === S1],
      [`model=gpt-4o-mini&user_id=${U2}`, (l) => l.model === 'gpt-4o-mini' && l.user_id === U2],
      [`model=gpt-4o-mini&status=200&key_id=${A.key.id}`, (l) => l.model === 'gpt-4o-mini' && l.status === 200 && l.key_id === A.key.id],
      [`user_id=nobody-${hex()}`, () => false],
      ['model=no-such-model', () => false],
      ['status=404', () => false],
    ];
    for (const [q, pred] of cases) {
      const exp = expectIds(pred);
      assert.deepEqual(ids(await listAll(A.token, q)), exp, `GET /logs?${q}`);
    }
    // every case above that should select something did (the filters are not vacuous)
    assert.equal(expectIds((l) => l.user_id === U1).length, 3);
    assert.equal(expectIds((l) => l.session_id === S1).length, 2);
    assert.equal(expectIds((l) => l.status === 500).length, 1);

    // time: start inclusive, end exclusive (unix ms)
    const asc = [...recordsA].sort((a, b) => a.created_at - b.created_at);
    const start = asc[1].created_at;
    const end = asc[asc.length - 2].created_at;
    assert.ok(end > start, 'records spread over more than one millisecond');
    for (const [q, pred] of [
      [`start=${start}`, (l) => l.created_at >= start],
      [`end=${end}`, (l) => l.created_at < end],
      [`start=${start}&end=${end}`, (l) => l.created_at >= start && l.created_at < end],
      [`start=${asc[asc.length - 1].created_at + 1}`, () => false],
      [`end=${asc[0].created_at}`, () => false],
    ])
      assert.deepEqual(ids(await listAll(A.token, q)), expectIds(pred), `GET /logs?${q}`);
    // dates: UTC days, the end date included whole
    const day = (ms) => new Date(ms).toISOString().slice(0, 10);
    const d0 = day(asc[0].created_at);
    const dayStart = Date.parse(`${d0}T00:00:00Z`);
    for (const [q, pred] of [
      [`start=${d0}&end=${d0}`, (l) => day(l.created_at) === d0],
      [`start=${d0}`, (l) => l.created_at >= dayStart],
      [`end=${d0}`, (l) => l.created_at < dayStart + DAY_MS],
      [`start=${day(dayStart + DAY_MS)}`, () => false],
      [`start=${day(dayStart - 2 * DAY_MS)}&end=${day(dayStart - DAY_MS)}`, () => false],
    ])
      assert.deepEqual(ids(await listAll(A.token, q)), expectIds(pred), `GET /logs?${q}`);
    assert.ok(expectIds((l) => day(l.created_at) === d0).length > 0);
  });

  it('pages with next_cursor newest first, without duplicates or gaps, also while new calls arrive', async () => {
    // more records of org A, with equal timestamps likely (concurrent calls)
    const more = await Promise.all(
      Array.from({ length: 23 }, (_, i) => chat(A.api_key, { model: 'page-model', headers: { 'x-ingate-user-id': i % 2 ? U1 : U2 } }))
    );
    for (const r of more) assert.equal(r.status, 200);
    recordsA = await waitLogs(A.token, more.map((r) => r.id));
    const total = recordsA.length;
    assert.equal(total, CALLS.length + 23);
    for (let i = 1; i < total; i++)
      assert.ok(recordsA[i - 1].created_at >= recordsA[i].created_at, 'newest first');

    for (const [q, limit, pred] of [
      ['', 7, () => true],
      ['', 1, () => true],
      ['model=page-model', 5, (l) => l.model === 'page-model'],
      [`user_id=${U1}`, 4, (l) => l.user_id === U1],
    ]) {
      const expected = recordsA.filter(pred).map((l) => l.id);
      const got = [];
      let cursor = null;
      let pages = 0;
      let injected = [];
      do {
        const qs = [q, `limit=${limit}`, cursor ? `cursor=${encodeURIComponent(cursor)}` : ''].filter(Boolean).join('&');
        const r = await ok(A.token, 'GET', `/logs?${qs}`);
        assert.ok(r.json.logs.length <= limit, `page of ${r.json.logs.length} > limit ${limit}`);
        got.push(...r.json.logs.map((l) => l.id));
        cursor = r.json.next_cursor;
        if (cursor) {
          assert.equal(typeof cursor, 'string');
          assert.equal(r.json.logs.length, limit, 'a page before the last one is full');
        }
        if (++pages === 2 && q === '' && limit === 7) {
          // calls made while paging are newer than the cursor: they must not show up on later pages
          injected = await Promise.all([0, 1, 2].map(() => chat(A.api_key, { model: 'page-model-late' })));
          await waitLogs(A.token, injected.map((x) => x.id));
        }
      } while (cursor && pages < 500);
      assert.equal(new Set(got).size, got.length, `duplicates paging ${q || 'all'} by ${limit}`);
      assert.deepEqual(got, expected, `paging ${q || 'all'} by ${limit}: same records, same order as one listing`);
      if (injected.length) recordsA = await listAll(A.token);
    }
    // a limit of 1 gives one record and a cursor
    const one = await ok(A.token, 'GET', '/logs?limit=1');
    assert.equal(one.json.logs.length, 1);
    assert.equal(one.json.logs[0].id, recordsA[0].id);
    assert.equal(typeof one.json.next_cursor, 'string');
    const full = await ok(A.token, 'GET', '/logs?limit=200');
    assert.equal(full.json.logs.length, recordsA.length);
    assert.equal(full.json.next_cursor, null);
    const dflt = await ok(A.token, 'GET', '/logs');
    assert.equal(dflt.json.logs.length, Math.min(50, recordsA.length), 'default page size');
  });

  it('refuses bad parameters with 400 naming the field', async () => {
    const bad = [
      ['limit=0', 'limit'],
      ['limit=201', 'limit'],
      ['limit=-1', 'limit'],
      ['limit=abc', 'limit'],
      ['limit=1.5', 'limit'],
      ['limit=', 'limit'],
      ['limit=99999999999999999999', 'limit'],
      ['start=abc', 'start'],
      ['start=2024-13-01', 'start'],
      ['start=2023-02-29', 'start'],
      ['start=-5', 'start'],
      ['end=yesterday', 'end'],
      ['start=2000&end=1000', 'end'],
      ['start=2024-01-02&end=2024-01-01', 'end'],
      ['status=abc', 'status'],
      ['status=99', 'status'],
      ['status=1000', 'status'],
      ['model=', 'model'],
      [`model=${'m'.repeat(129)}`, 'model'],
      ['model=a%20b', 'model'],
      ['provider=', 'provider'],
      ['key_id=%41', 'key_id'],
      [`user_id=${'u'.repeat(257)}`, 'user_id'],
      ['session_id=', 'session_id'],
      ['cursor=zzz', 'cursor'],
      ['cursor=', 'cursor'],
      ['format=csv', 'format'],
      ['format=jsonl&start=abc', 'start'],
    ];
    for (const [q, field] of bad) {
      const r = await gw.api(A.token, 'GET', `/logs?${q}`);
      assertFlatError(r, 400, 'invalid_request');
      assert.equal(r.json.field, field, `GET /logs?${q}: ${r.text}`);
    }
    for (const [p, field] of [
      ['/usage/summary?since=abc', 'since'],
      ['/usage/summary?since=2024-02-30', 'since'],
      ['/usage/summary?since=5000&until=4000', 'until'],
      ['/usage/timeseries?granularity=week', 'granularity'],
      ['/usage/timeseries?group_by=team', 'group_by'],
      ['/usage/timeseries?until=abc', 'until'],
    ]) {
      const r = await gw.api(A.token, 'GET', p);
      assertFlatError(r, 400, 'invalid_request');
      assert.equal(r.json.field, field, `GET ${p}: ${r.text}`);
    }
    // the bounds themselves are fine
    assert.equal((await ok(A.token, 'GET', '/logs?limit=200')).json.logs.length, recordsA.length);
    assert.equal((await ok(A.token, 'GET', '/logs?limit=1')).json.logs.length, 1);
  });

  it("another org's record is answered 404 exactly like a missing id; the owner org can read it", async () => {
    B = await newOrg();
    const rb = await chat(B.api_key, { headers: { 'x-ingate-user-id': U1 } });
    assert.equal(rb.status, 200);
    await waitLogs(B.token, [rb.id]);
    assert.equal((await getLog(B.token, rb.id)).user_id, U1);
    // org B sees only its own record, even when filtering by an end user both orgs have
    assert.deepEqual((await listAll(B.token)).map((l) => l.id), [rb.id]);
    assert.deepEqual((await listAll(B.token, `user_id=${U1}`)).map((l) => l.id), [rb.id]);
    assert.ok(!(await listAll(A.token)).some((l) => l.id === rb.id), "org A lists org B's record");

    const strip = (r) => {
      const { request_id, ...rest } = r.json;
      return { status: r.status, ctype: r.headers['content-type'], body: rest, len: r.body.length };
    };
    const cross = await gw.api(A.token, 'GET', `/logs/${rb.id}`);
    const missing = await gw.api(A.token, 'GET', `/logs/${crypto.randomUUID()}`);
    const missing2 = await gw.api(A.token, 'GET', `/logs/${rb.id.slice(0, -4)}0000`);
    const tooLong = await gw.api(A.token, 'GET', `/logs/${rb.id}0`);
    assert.deepEqual(strip(tooLong), strip(missing), 'an over-long id');
    assertFlatError(cross, 404, 'not_found');
    assert.deepEqual(strip(cross), strip(missing), "another org's record vs a missing id");
    assert.deepEqual(strip(cross), strip(missing2));
    assert.ok(!cross.text.includes(B.org.id) && !cross.text.includes(U1), 'the 404 leaks nothing');
    // and with an API key of org A
    assert.deepEqual(strip(await gw.api(A.api_key, 'GET', `/logs/${rb.id}`)), strip(missing));
  });

  it('a viewer (session or key) reads logs, records, usage and exports; no or a bad credential is 401', async () => {
    const v = await gw.join(A.token, 'viewer');
    const vkey = await gw.createKey(A.org.slug, 'viewer');
    const id = CALLS[0].id;
    for (const cred of [v.token, vkey.key]) {
      const all = await listAll(cred);
      assert.deepEqual(all.map((l) => l.id), recordsA.map((l) => l.id));
      const l = await getLog(cred, id);
      assert.equal(l.req_body, CALLS[0].sent);
      assert.equal(l.user_id, U1);
      assert.equal((await ok(cred, 'GET', '/usage/summary')).json.total_requests, recordsA.length);
      assert.equal((await ok(cred, 'GET', '/usage/timeseries?group_by=model')).json.group_by, 'model');
      const ex = await ok(cred, 'GET', '/logs?format=jsonl');
      assert.equal(ex.text.trim().split('\n').length, recordsA.length);
    }
    for (const p of ['/logs', `/logs/${id}`, '/logs?format=jsonl', '/usage/summary', '/usage/timeseries']) {
      for (const cred of [null, 'not-a-token', A.token.slice(0, -3) + 'abc']) {
        const r = await gw.api(cred, 'GET', p);
        assertFlatError(r, 401);
        assert.ok(!r.text.includes(U1) && !r.text.includes('gpt-4o'), `401 on ${p} leaks data`);
      }
    }
  });

  // ----------------------------------------------------------------------------------------------------
  // 3. export

  /** GET /logs?format=jsonl&... parsed line by line. */
  async function exportLines(cred, query = '') {
    const r = await gw.api(cred, 'GET', `/logs?format=jsonl${query ? '&' + query : ''}`);
    assert.equal(r.status, 200, r.text.slice(0, 300));
    assert.equal(r.complete, true, 'export ended cleanly');
    assert.match(r.headers['content-type'], /^application\/x-ndjson/);
    const text = r.text;
    if (text.length) assert.ok(text.endsWith('\n'), 'every line ends with a newline');
    const lines = text.length ? text.slice(0, -1).split('\n') : [];
    const recs = lines.map((line, i) => {
      let o;
      assert.doesNotThrow(() => (o = JSON.parse(line)), `line ${i + 1} is not JSON: ${line.slice(0, 200)}`);
      assert.ok(o && typeof o === 'object' && !Array.isArray(o), `line ${i + 1} is not an object`);
      return o;
    });
    return { r, recs };
  }

  it('exports exactly the records of a range as JSONL (one object per line, oldest first, with bodies)', async () => {
    const asc = [...recordsA].sort((a, b) => a.created_at - b.created_at);
    const start = asc[3].created_at;
    const end = asc[asc.length - 4].created_at;
    assert.ok(end > start);
    const inRange = (l) => l.created_at >= start && l.created_at < end;
    const { r, recs } = await exportLines(A.token, `start=${start}&end=${end}`);
    assert.match(r.headers['content-disposition'] || '', /attachment/);
    assert.deepEqual(recs.map((x) => x.id).sort(), recordsA.filter(inRange).map((l) => l.id).sort(), 'exactly the records in range');
    for (let i = 1; i < recs.length; i++) assert.ok(recs[i - 1].created_at <= recs[i].created_at, 'oldest first');
    // the export's record is the API's record
    for (const x of recs.slice(0, 5)) assert.deepEqual(x, await getLog(A.token, x.id));
    // a date range (end date included), the whole export, and filters
    const day = new Date(asc[0].created_at).toISOString().slice(0, 10);
    const byDay = await exportLines(A.token, `start=${day}&end=${day}`);
    assert.deepEqual(
      byDay.recs.map((x) => x.id).sort(),
      recordsA.filter((l) => new Date(l.created_at).toISOString().slice(0, 10) === day).map((l) => l.id).sort()
    );
    const all = await exportLines(A.token);
    assert.equal(all.recs.length, recordsA.length);
    const u1 = await exportLines(A.token, `user_id=${U1}&model=page-model`);
    assert.deepEqual(u1.recs.map((x) => x.id).sort(), recordsA.filter((l) => l.user_id === U1 && l.model === 'page-model').map((l) => l.id).sort());
    assert.ok(u1.recs.length > 0);
    const none = await exportLines(A.token, `start=${asc[asc.length - 1].created_at + 1}`);
    assert.equal(none.r.text, '', 'an empty range exports nothing');
  });

  let X; // the export org
  const BIG_N = 2000;
  const BIG_BODY = 20 * 1024; // request body
  const BIG_RESP = 28 * 1024; // response body (the mock's `big` mode)

  it(`streams an export of ${BIG_N} records of ~48 KiB in bounded memory to a slow reader`, async (tc) => {
    X = await newOrg({ providers: ['openai'] });
    // 2000 calls with ~20 KiB request and ~28 KiB response bodies, over 16 keep-alive connections: the export
    // (~100 MB) is larger than the memory bound, so a gateway that buffered it for a paused reader would fail
    const agent = new https.Agent({ keepAlive: true, maxSockets: 16, ca: gw.ca, servername: 'localhost' });
    const post = (i) =>
      new Promise((resolve, reject) => {
        const content = `record ${i} ` + 'lorem ipsum dolor sit amet '.repeat(Math.ceil(BIG_BODY / 27)).slice(0, BIG_BODY);
        const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }] });
        const req = https.request(
          {
            host: '127.0.0.1',
            port: gw.port,
            method: 'POST',
            path: '/v1/chat/completions',
            agent,
            headers: {
              'x-ingate-key': X.api_key,
              'content-type': 'application/json',
              'content-length': Buffer.byteLength(body),
              'x-mock-mode': 'big',
              'x-mock-bytes': String(BIG_RESP),
            },
          },
          (res) => {
            let n = 0;
            res.on('data', (c) => (n += c.length));
            res.on('end', () => resolve({ status: res.statusCode, id: res.headers['x-ingate-request-id'], n }));
          }
        );
        req.on('error', reject);
        req.end(body);
      });
    const ids = new Set();
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < BIG_N) {
          const r = await post(next++);
          assert.equal(r.status, 200);
          assert.equal(r.n, BIG_RESP);
          ids.add(r.id);
        }
      })
    );
    agent.destroy();
    assert.equal(ids.size, BIG_N);
    await waitFor(async () => (await ok(X.token, 'GET', '/usage/summary')).json.total_requests === BIG_N, {
      timeoutMs: T(30000),
      intervalMs: 200,
      what: `${BIG_N} records stored`,
    });

    await sleep(300);
    const base = gw.rss();
    let peak = base;
    const sampler = setInterval(() => {
      try {
        peak = Math.max(peak, gw.rss());
      } catch {}
    }, 25);
    let pausedAt = 0;
    let rssPaused = 0;
    const PAUSE_AFTER = 6 * MiB;
    try {
      const res = await new Promise((resolve, reject) => {
        const req = https.request(
          { host: '127.0.0.1', port: gw.port, path: '/api/v1/logs?format=jsonl', headers: { authorization: `Bearer ${X.token}` }, ca: gw.ca, agent: false, servername: 'localhost' },
          (res) => {
            let bytes = 0;
            let rest = Buffer.alloc(0);
            const seen = [];
            let bad = 0;
            let maxBody = 0;
            let maxResp = 0;
            res.on('data', (c) => {
              bytes += c.length;
              let buf = rest.length ? Buffer.concat([rest, c]) : c;
              let nl;
              while ((nl = buf.indexOf(0x0a)) >= 0) {
                const line = buf.subarray(0, nl);
                buf = buf.subarray(nl + 1);
                try {
                  const o = JSON.parse(line.toString('utf8'));
                  seen.push(o.id);
                  maxBody = Math.max(maxBody, (o.req_body || '').length);
                  maxResp = Math.max(maxResp, (o.resp_body || '').length);
                } catch {
                  bad++;
                }
              }
              rest = Buffer.from(buf);
              if (!pausedAt && bytes >= PAUSE_AFTER) {
                pausedAt = bytes;
                res.pause();
                setTimeout(() => {
                  rssPaused = gw.rss();
                  res.resume();
                }, T(1500));
              }
            });
            res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, bytes, seen, bad, rest: rest.length, maxBody, maxResp, complete: res.complete }));
            res.on('error', reject);
          }
        );
        req.on('error', reject);
        req.setTimeout(T(120000), () => req.destroy(new Error('export timed out')));
        req.end();
      });
      assert.equal(res.status, 200);
      assert.match(res.headers['content-type'], /^application\/x-ndjson/);
      assert.equal(res.complete, true, 'the export ended cleanly');
      assert.equal(res.bad, 0, 'every line is JSON');
      assert.equal(res.rest, 0, 'the body ends with a newline');
      assert.equal(res.seen.length, BIG_N, 'one line per record');
      assert.deepEqual(new Set(res.seen), ids, 'exactly the records of the org');
      assert.ok(res.maxBody >= BIG_BODY, `bodies are exported (${res.maxBody} bytes)`);
      assert.ok(res.maxResp >= BIG_RESP, `response bodies are exported (${res.maxResp} bytes)`);
      assert.ok(res.bytes > BIG_N * (BIG_BODY + BIG_RESP), `export of ${res.bytes} bytes`);
      assert.ok(res.bytes - pausedAt > 80 * MiB, 'more than the memory bound was left to send when the reader paused');
      tc.diagnostic(`export ${(res.bytes / MiB).toFixed(1)} MiB, paused at ${(pausedAt / MiB).toFixed(1)} MiB`);
      assert.ok(pausedAt > 0 && pausedAt < res.bytes / 2, `the reader paused mid-way (${pausedAt} of ${res.bytes})`);
    } finally {
      clearInterval(sampler);
    }
    const growth = Math.max(peak, rssPaused) - base;
    tc.diagnostic(`gateway RSS: base ${(base / MiB).toFixed(1)} MiB, paused +${((rssPaused - base) / MiB).toFixed(1)} MiB, peak +${(growth / MiB).toFixed(1)} MiB`);
    // ASan's quarantine keeps freed memory resident: the bound only holds for a release build
    const bound = SANITIZED ? Infinity : 64 * MiB;
    assert.ok(rssPaused - base < bound, `RSS grew by ${(rssPaused - base) / MiB} MiB while the reader was paused`);
    assert.ok(growth < bound, `RSS grew by ${growth / MiB} MiB during the export (base ${base / MiB} MiB)`);
  });

  it('a client that disconnects mid-export leaves the gateway working (and frees its export slot)', async () => {
    const abortOne = () =>
      new Promise((resolve, reject) => {
        const req = https.request(
          { host: '127.0.0.1', port: gw.port, path: '/api/v1/logs?format=jsonl', headers: { authorization: `Bearer ${X.token}` }, ca: gw.ca, agent: false, servername: 'localhost' },
          (res) => {
            assert.equal(res.statusCode, 200);
            res.on('error', () => {});
            res.once('data', () => {
              req.destroy();
              resolve();
            });
          }
        );
        req.on('error', (e) => (e.code === 'ECONNRESET' || /aborted|socket hang up/.test(e.message) ? resolve() : reject(e)));
        req.end();
      });
    for (let i = 0; i < 6; i++) await abortOne(); // more than the concurrent-export limit
    assert.ok(gw.running, 'the gateway is still running');
    assert.equal((await ok(A.token, 'GET', '/logs?limit=5')).json.logs.length, 5);
    const last = await chat(A.api_key);
    assert.equal(last.status, 200);
    // the record is written asynchronously (the writer's batch): wait for it, so the export and the listing
    // below see the same records
    const lastId = last.headers['x-ingate-request-id'];
    await waitFor(async () => (await gw.api(A.token, 'GET', `/logs/${lastId}`)).status === 200, {
      timeoutMs: T(10000),
      what: 'the last call in the log',
    });
    // the slots of the aborted exports come back: a full export works again
    const recs = await waitFor(
      async () => {
        const r = await gw.api(A.token, 'GET', '/logs?format=jsonl');
        return r.status === 200 && r.complete ? r.text.trim().split('\n') : false;
      },
      { timeoutMs: T(10000), intervalMs: 200, what: 'an export after aborted ones' }
    );
    recordsA = await listAll(A.token);
    assert.equal(recs.length, recordsA.length);
  });

  // ----------------------------------------------------------------------------------------------------
  // 4. usage

  it('usage summary and time series match the calls made (requests, tokens, cost, error rate, groups)', async () => {
    const U = await newOrg({ providers: ['openai', 'anthropic'] });
    const K2 = await gw.createKey(U.org.slug);
    const plan = [
      // [key, opts, model, provider, usage|null, status]
      ...[0, 1, 2].map(() => [U.api_key, { model: 'gpt-4o-mini' }, 'gpt-4o-mini', 'openai', MOCK_JSON, 200]),
      ...[0, 1].map(() => [K2.key, { model: 'gpt-4o', stream: true }, 'gpt-4o', 'openai', MOCK_STREAM, 200]),
      ...[0, 1].map(() => [U.api_key, { model: 'gpt-4o-mini', headers: { 'x-mock-mode': 'error' } }, 'gpt-4o-mini', 'openai', null, 500]),
      [K2.key, { model: 'acme-unpriced-9' }, 'acme-unpriced-9', 'openai', MOCK_JSON, 200],
      [U.api_key, { model: 'claude-sonnet-4-20250514', path: '/v1/messages', extra: { max_tokens: 8 } }, 'claude-sonnet-4-20250514', 'anthropic', MOCK_JSON, 200],
    ];
    const keyOf = (k) => (k === U.api_key ? U.key.id : K2.id);
    const made = [];
    for (const [key, opts, model, provider, usage, status] of plan) {
      const r = await chat(key, opts);
      assert.equal(r.status, status, r.text.slice(0, 200));
      const cost = usage && priceOf(provider, model) ? costMicros(provider, model, usage.input, usage.output) : 0;
      made.push({ id: r.id, model, provider, key: keyOf(key), input: usage?.input ?? 0, output: usage?.output ?? 0, cost, error: status >= 400 });
    }
    const recs = await waitLogs(U.token, made.map((m) => m.id));
    assert.equal(recs.length, made.length);
    const sum = (xs, f) => xs.reduce((a, x) => a + f(x), 0);
    const recCost = sum(recs, (l) => (l.cost_usd === null ? 0 : micros(l.cost_usd)));
    assert.equal(recCost, sum(made, (m) => m.cost), 'records priced as data/pricing.json says');

    const s = (await ok(U.token, 'GET', '/usage/summary')).json;
    assert.equal(s.total_requests, made.length);
    assert.equal(s.total_input_tokens, sum(made, (m) => m.input));
    assert.equal(s.total_output_tokens, sum(made, (m) => m.output));
    assert.equal(s.total_cached_tokens, 0);
    assert.equal(micros(s.total_cost_usd), recCost, `total_cost_usd ${s.total_cost_usd} = the sum of the records' cost_usd`);
    assert.ok(Math.abs(s.error_rate - 2 / made.length) < 1e-6, `error_rate ${s.error_rate}`);
    assert.equal(s.cache_hit_rate, 0);
    assert.ok(s.avg_latency_ms > 0 && s.p99_latency_ms > 0, `latencies ${s.avg_latency_ms} / ${s.p99_latency_ms}`);
    assert.ok(s.since <= Date.now() - DAY_MS + HOUR_MS && s.until >= Date.now(), `default range ${s.since}..${s.until}`);
    assert.equal(s.since % HOUR_MS, 0);
    assert.equal(s.until % HOUR_MS, 0);
    // explicit ranges: today (dates) and tomorrow (nothing)
    const today = new Date().toISOString().slice(0, 10);
    const tomorrow = new Date(Date.now() + DAY_MS).toISOString().slice(0, 10);
    const s2 = (await ok(U.token, 'GET', `/usage/summary?since=${Date.now() - HOUR_MS * 2}&until=${Date.now() + HOUR_MS}`)).json;
    assert.equal(s2.total_requests, made.length);
    const s3 = (await ok(U.token, 'GET', `/usage/summary?since=${tomorrow}&until=${tomorrow}`)).json;
    assert.equal(s3.total_requests, 0);
    assert.equal(s3.total_input_tokens, 0);
    assert.equal(s3.error_rate, 0);
    if (recs.every((l) => new Date(l.created_at).toISOString().slice(0, 10) === today)) {
      const s4 = (await ok(U.token, 'GET', `/usage/summary?since=${today}&until=${today}`)).json;
      assert.equal(s4.total_requests, made.length, 'until as a date includes that whole day');
    }

    // time series: sum the buckets (the calls may straddle an hour)
    const series = async (q) => {
      const r = (await ok(U.token, 'GET', `/usage/timeseries?${q}`)).json;
      const groups = new Map();
      for (const p of r.points) {
        const g = groups.get(p.group ?? '') ?? { requests: 0, errors: 0, input: 0, output: 0, cost: 0 };
        g.requests += p.requests;
        g.errors += p.errors;
        g.input += p.input_tokens;
        g.output += p.output_tokens;
        g.cost += micros(p.cost_usd);
        groups.set(p.group ?? '', g);
      }
      return { r, groups };
    };
    const expectGroups = (f) => {
      const m = new Map();
      for (const x of made) {
        const g = m.get(f(x)) ?? { requests: 0, errors: 0, input: 0, output: 0, cost: 0 };
        g.requests++;
        g.errors += x.error ? 1 : 0;
        g.input += x.input;
        g.output += x.output;
        g.cost += x.cost;
        m.set(f(x), g);
      }
      return m;
    };
    const plain = await series('granularity=hour');
    assert.equal(plain.r.granularity, 'hour');
    assert.equal(plain.r.group_by, 'none');
    for (const p of plain.r.points) {
      assert.equal(p.bucket % HOUR_MS, 0, 'hour buckets start on the hour');
      assert.ok(!('group' in p), 'no group without group_by');
    }
    assert.deepEqual(plain.groups, expectGroups(() => ''));
    const daily = await series('granularity=day');
    assert.equal(daily.r.granularity, 'day');
    for (const p of daily.r.points) assert.equal(p.bucket % DAY_MS, 0, 'day buckets start at midnight UTC');
    assert.deepEqual(daily.groups, expectGroups(() => ''));
    for (const [by, f] of [
      ['model', (x) => x.model],
      ['provider', (x) => x.provider],
      ['key', (x) => x.key],
    ]) {
      const got = await series(`group_by=${by}`);
      assert.equal(got.r.group_by, by);
      assert.deepEqual(got.groups, expectGroups(f), `group_by=${by}`);
      const d = await series(`group_by=${by}&granularity=day`);
      assert.deepEqual(d.groups, expectGroups(f), `group_by=${by}&granularity=day`);
    }
    assert.equal((await ok(U.token, 'GET', `/usage/timeseries?since=${tomorrow}&until=${tomorrow}`)).json.points.length, 0);
  });

  // ----------------------------------------------------------------------------------------------------
  // 5. redaction and encryption at rest

  const PII = makePii();
  const FREE_MARK = `free-plaintext-${hex(8)} the quick brown fox jumps over the lazy dog`;
  const FREE_USER = `free-user-${hex(6)}`;
  const FREE_SESSION = `free-session-${hex(6)}`;
  const FREE_MODEL = `free-model-${hex(6)}`;
  const piiMessages = () => [
    { role: 'user', content: `Email ${PII.email}, card ${PII.card}, ssn ${PII.ssn}, phone ${PII.phone}.` },
    { role: 'user', content: `keep: card ${PII.badCard}, ${NEGATIVES}` },
  ];
  const REDACTED_0 = 'Email [REDACTED], card [REDACTED], ssn [REDACTED], phone [REDACTED].';
  const KEPT_1 = `keep: card ${PII.badCard}, ${NEGATIVES}`;
  const rawPii = () => [
    ['email', PII.email],
    ['card', PII.card],
    ['card digits', PII.cardDigits],
    ['ssn', PII.ssn],
    ['phone', PII.phone],
  ];
  const redactionOrgs = {};

  /** One streamed call through the echo upstream with PII in the prompt, attributed to the email. */
  async function piiCall(org) {
    const session = `sess-${hex()}`;
    const r = await chat(org.api_key, {
      model: 'gpt-4o-mini',
      stream: true,
      messages: piiMessages(),
      headers: { 'x-ingate-provider': 'echo', 'x-ingate-user-id': PII.email, 'x-ingate-session-id': session },
    });
    assert.equal(r.status, 200, r.text.slice(0, 300));
    // the client gets the provider's answer untouched: redaction is for what is stored
    assert.deepEqual(sseContents(r.text), piiMessages().map((m) => m.content));
    await waitLogs(org.token, [r.id]);
    return { log: await getLog(org.token, r.id), res: r, session };
  }

  it('a free org asking for redaction is refused (403 plan_required); Enterprise orgs may enable it', async () => {
    const F = await newOrg();
    const r = await gw.api(F.token, 'PUT', '/org', { settings: { redaction: { enabled: true, mode: 'pattern' } } });
    assertFlatError(r, 403, 'plan_required');
    assert.equal(r.json.field, 'settings');
    assert.deepEqual((await ok(F.token, 'GET', '/org')).json.org.settings, {}, 'nothing stored');
    redactionOrgs.free = F;
    for (const mode of ['pattern', 'hash', 'drop'])
      redactionOrgs[mode] = await newOrg({ plan: 'enterprise', settings: { capture: 'full', redaction: { enabled: true, mode } } });
  });

  it('pattern mode: [REDACTED] in place of email, card, SSN and phone in the request and the streamed response', async () => {
    const { log, session } = await piiCall(redactionOrgs.pattern);
    const req = JSON.parse(log.req_body);
    assert.equal(req.messages[0].content, REDACTED_0, 'request body');
    assert.equal(req.messages[1].content, KEPT_1, 'false positives (Luhn-invalid card, date, order id, version) are kept');
    assert.equal(req.model, 'gpt-4o-mini');
    assert.deepEqual(sseContents(log.resp_body), [REDACTED_0, KEPT_1], 'streamed response body');
    assert.ok(log.resp_body.includes('data: [DONE]'), 'the rest of the stream is kept');
    for (const [what, s] of rawPii()) {
      assert.ok(!log.req_body.includes(s), `${what} in the stored request`);
      assert.ok(!log.resp_body.includes(s), `${what} in the stored response`);
    }
    assert.equal(log.user_id, '[REDACTED]', 'an attribution id that is an email is redacted too');
    assert.equal(log.session_id, session);
    assert.equal(log.input_tokens, 7, 'usage is still read from the redacted stream');
    assert.equal(log.output_tokens, 2);
    assert.equal(log.stream, true);
  });

  it('pattern mode: PII behind JSON escapes, in other members and as a JSON number is redacted too', async () => {
    const P = redactionOrgs.pattern;
    const [local, domain] = PII.email.split('@');
    const raw =
      `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"escaped ${local}\\u0040${domain} here"}],` +
      `"metadata":{"note":"ssn ${PII.ssn}","card_number":${PII.cardDigits},"order":"ORD-2024-000123","n":20240115}}`;
    assert.equal(JSON.parse(raw).messages[0].content, `escaped ${PII.email} here`, 'the test body escapes the @');
    const r = await chat(P.api_key, { raw });
    assert.equal(r.status, 200);
    await waitLogs(P.token, [r.id]);
    const l = await getLog(P.token, r.id);
    let req;
    assert.doesNotThrow(() => (req = JSON.parse(l.req_body)), `stored request is still JSON: ${l.req_body}`);
    assert.equal(req.messages[0].content, 'escaped [REDACTED] here');
    assert.equal(req.metadata.note, 'ssn [REDACTED]');
    assert.equal(req.metadata.card_number, '[REDACTED]', 'a Luhn-valid 16-digit number is a card');
    assert.equal(req.metadata.order, 'ORD-2024-000123');
    assert.equal(req.metadata.n, 20240115);
    for (const [what, s] of rawPii()) assert.ok(!l.req_body.includes(s), `${what} in the stored request`);
    assert.ok(!l.req_body.includes(local), 'the escaped email survived');
  });

  it('hash mode: a JSON string with PII becomes "[REDACTED]" whole', async () => {
    const { log, session } = await piiCall(redactionOrgs.hash);
    const req = JSON.parse(log.req_body);
    assert.equal(req.messages[0].content, '[REDACTED]');
    assert.equal(req.messages[1].content, KEPT_1);
    assert.deepEqual(sseContents(log.resp_body), ['[REDACTED]', KEPT_1]);
    for (const [what, s] of rawPii()) assert.ok(!log.req_body.includes(s) && !log.resp_body.includes(s), what);
    assert.equal(log.user_id, '[REDACTED]');
    assert.equal(log.session_id, session);
  });

  it('drop mode: a JSON value with PII is stored as null', async () => {
    const { log, session } = await piiCall(redactionOrgs.drop);
    const req = JSON.parse(log.req_body);
    assert.equal(req.messages[0].content, null);
    assert.equal(req.messages[1].content, KEPT_1);
    assert.deepEqual(sseContents(log.resp_body), [null, KEPT_1]);
    for (const [what, s] of rawPii()) assert.ok(!log.req_body.includes(s) && !log.resp_body.includes(s), what);
    assert.equal(log.user_id, null, 'a dropped attribution id is not stored');
    assert.equal(log.session_id, session);
  });

  it('a free org with full capture: the API returns its prompt, attribution and PII as sent', async () => {
    const F = redactionOrgs.free;
    const r = await chat(F.api_key, {
      model: FREE_MODEL,
      messages: [{ role: 'user', content: FREE_MARK }, ...piiMessages()],
      headers: { 'x-ingate-user-id': FREE_USER, 'x-ingate-session-id': FREE_SESSION },
    });
    assert.equal(r.status, 200);
    await waitLogs(F.token, [r.id]);
    const l = await getLog(F.token, r.id);
    assert.equal(l.req_body, r.sent, 'not redacted: the free org did not get redaction');
    assert.ok(l.req_body.includes(FREE_MARK) && l.req_body.includes(PII.email));
    assert.equal(l.user_id, FREE_USER);
    assert.equal(l.session_id, FREE_SESSION);
    assert.equal(l.model, FREE_MODEL);
    redactionOrgs.freeCall = r.id;
  });

  // ----------------------------------------------------------------------------------------------------
  // 6. capture modes

  it('capture metadata: no bodies, attribution and client address kept, usage counted', async () => {
    const M = await newOrg({ providers: ['openai'], settings: { capture: 'metadata' } });
    const user = `meta-user-${hex()}`;
    const session = `meta-sess-${hex()}`;
    const r = await chat(M.api_key, { headers: { 'x-ingate-user-id': user, 'x-ingate-session-id': session } });
    assert.equal(r.status, 200);
    await waitLogs(M.token, [r.id]);
    const l = await getLog(M.token, r.id);
    assert.equal(l.req_body, null);
    assert.equal(l.resp_body, null);
    assert.equal(l.user_id, user);
    assert.equal(l.session_id, session);
    assert.equal(l.client_ip, '127.0.0.1');
    assert.equal(l.path, '/v1/chat/completions');
    assert.equal(l.model, 'gpt-4o-mini');
    assert.equal(l.input_tokens, MOCK_JSON.input);
    assert.equal(l.output_tokens, MOCK_JSON.output);
    assert.equal(l.req_bytes, Buffer.byteLength(r.sent), 'sizes are metadata');
    assert.deepEqual((await listAll(M.token, `user_id=${user}`)).map((x) => x.id), [r.id]);
    const s = (await ok(M.token, 'GET', '/usage/summary')).json;
    assert.equal(s.total_requests, 1);
    assert.equal(s.total_input_tokens, MOCK_JSON.input);
  });

  it('capture off: no bodies, no attribution, no client address, empty path; usage still counted', async () => {
    const O = await newOrg({ providers: ['openai'], settings: { capture: 'off' } });
    const user = `off-user-${hex()}`;
    const made = [];
    for (let i = 0; i < 3; i++) {
      const r = await chat(O.api_key, { headers: { 'x-ingate-user-id': user, 'x-ingate-session-id': `off-sess-${i}` } });
      assert.equal(r.status, 200);
      made.push(r.id);
    }
    const all = await waitLogs(O.token, made);
    assert.equal(all.length, 3);
    for (const id of made) {
      const l = await getLog(O.token, id);
      assert.equal(l.req_body, null);
      assert.equal(l.resp_body, null);
      assert.equal(l.user_id, null);
      assert.equal(l.session_id, null);
      assert.equal(l.client_ip, null);
      assert.equal(l.path, '');
      assert.equal(l.status, 200);
      assert.equal(l.input_tokens, MOCK_JSON.input, 'tokens are kept for usage and budgets');
      assert.equal(micros(l.cost_usd), costMicros('openai', 'gpt-4o-mini', MOCK_JSON.input, MOCK_JSON.output));
    }
    assert.deepEqual(await listAll(O.token, `user_id=${user}`), [], 'no attribution, so no blind index');
    const s = (await ok(O.token, 'GET', '/usage/summary')).json;
    assert.equal(s.total_requests, 3);
    assert.equal(s.total_input_tokens, 3 * MOCK_JSON.input);
    assert.equal(s.total_output_tokens, 3 * MOCK_JSON.output);
    assert.equal(micros(s.total_cost_usd), 3 * costMicros('openai', 'gpt-4o-mini', MOCK_JSON.input, MOCK_JSON.output));
  });

  // ----------------------------------------------------------------------------------------------------
  // 8. org deletion

  it("deleting an org removes its log database files (.db, -wal, -shm)", async () => {
    const D = await newOrg({ providers: ['openai'] });
    const r = await chat(D.api_key);
    assert.equal(r.status, 200);
    await waitLogs(D.token, [r.id]);
    const base = path.join(gw.dataDir, 'orgs', `${D.org.id}.db`);
    assert.ok(fs.existsSync(base), `${base} exists before the deletion`);
    const del = await ok(D.token, 'DELETE', '/org', { confirm: D.org.slug });
    assert.deepEqual(del.json, { deleted: true });
    const left = () => ['', '-wal', '-shm', '-journal'].filter((s) => fs.existsSync(base + s));
    assert.deepEqual(left(), [], 'log database files left right after DELETE /org');
    // nothing brings them back: the key is refused, other orgs keep logging
    assertOpenAIError(await chat(D.api_key), 401);
    assert.equal((await chat(A.api_key)).status, 200);
    await sleep(T(1500));
    assert.deepEqual(left(), [], 'log database files re-created after the deletion');
    assert.ok(!(await fsp.readdir(path.join(gw.dataDir, 'orgs'))).some((f) => f.startsWith(D.org.id)));
  });

  // ----------------------------------------------------------------------------------------------------
  // 5 (end). nothing readable at rest

  it('no file of the data dir holds the PII, the free org\'s prompt or attribution (UTF-8, UTF-16), before and after stop', async () => {
    const F = redactionOrgs.free;
    assert.ok(redactionOrgs.freeCall, 'the free org call ran');
    const needles = [
      ...rawPii(),
      ['free prompt', FREE_MARK],
      ['free prompt (start)', FREE_MARK.slice(0, 24)],
      ['free user id', FREE_USER],
      ['free session id', FREE_SESSION],
      ['user id U1', U1],
      ['session id S1', S1],
    ];
    const control = [['free model (stored in clear)', FREE_MODEL]];
    for (const phase of ['running', 'stopped']) {
      if (phase === 'stopped') await gw.stop();
      const { files, hits, bytes } = await scanDir(gw.dataDir, [...needles, ...control]);
      const found = hits.filter((h) => !h.startsWith('free model'));
      assert.deepEqual(found, [], `readable at rest (${phase})`);
      // the scan does read the org databases: the model name, kept in clear, is found there
      assert.ok(hits.some((h) => h.startsWith('free model') && h.includes(`${F.org.id}.db`)), `positive control (${phase}): ${hits}`);
      assert.ok(files.some((f) => f.endsWith(`${redactionOrgs.pattern.org.id}.db`)), 'the Enterprise org has a database');
      assert.ok(bytes > BIG_N * BIG_BODY, `${bytes} bytes scanned`);
    }
  });
});

// ======================================================================================================

describe('--redact-all-orgs', () => {
  let mock, gw, t;
  const { waitLogs, getLog } = apiHelpers(() => gw);
  before(async () => {
    mock = await startMock();
    gw = await startGateway({ mock, args: ['--redact-all-orgs', 'true'] });
    t = await gw.tenant('redall', { providers: { openai: 'sk-prov-redall' } });
  });
  after(async () => {
    await gw?.destroy();
    await mock?.stop();
  });

  it("redacts a free org's logs that did not ask for it", async () => {
    const P = makePii();
    const content = `write to ${P.email} or call ${P.phone}; card ${P.card}; ssn ${P.ssn}; ${NEGATIVES}`;
    const r = await chatVia(gw, t.key, {
      messages: [{ role: 'user', content }],
      headers: { 'x-ingate-user-id': P.email, 'x-ingate-session-id': 'redall-session' },
    });
    assert.equal(r.status, 200);
    await waitLogs(t.key, [r.id]);
    const l = await getLog(t.key, r.id);
    assert.equal(
      JSON.parse(l.req_body).messages[0].content,
      `write to [REDACTED] or call [REDACTED]; card [REDACTED]; ssn [REDACTED]; ${NEGATIVES}`
    );
    for (const s of [P.email, P.phone, P.card, P.ssn]) assert.ok(!l.req_body.includes(s), s);
    assert.equal(l.user_id, '[REDACTED]');
    assert.equal(l.session_id, 'redall-session');
    const org = await gw.api(t.key, 'GET', '/org');
    assert.equal(org.status, 200);
    assert.equal(org.json.org.plan, 'free');
    assert.deepEqual(org.json.org.settings, {}, 'the org did not ask for redaction');
    const { hits } = await scanDir(gw.dataDir, [
      ['email', P.email],
      ['ssn', P.ssn],
      ['card', P.card],
      ['phone', P.phone],
    ]);
    assert.deepEqual(hits, []);
    await gw.stop();
  });
});

// ======================================================================================================

describe('log durability', () => {
  let mock, gw, t;
  const { ok, listAll, waitLogs } = apiHelpers(() => gw);
  const made = [];
  before(async () => {
    mock = await startMock();
    gw = await startGateway({ mock });
    t = await gw.tenant('durable', { providers: { openai: 'sk-prov-durable' } });
  });
  after(async () => {
    await gw?.destroy();
    await mock?.stop();
  });

  it('every call made 500 ms before a SIGKILL is in the log after a restart', async () => {
    const N = 40;
    for (let i = 0; i < N; i += 8) {
      const rs = await Promise.all(Array.from({ length: Math.min(8, N - i) }, () => chatVia(gw, t.key, { model: 'gpt-4o-mini' })));
      for (const r of rs) {
        assert.equal(r.status, 200);
        made.push(r.id);
      }
    }
    await sleep(T(500)); // the writer flushes every 20 ms
    gw.proc.kill('SIGKILL');
    const ex = await waitExit(gw.proc, T(5000));
    assert.equal(ex?.signal, 'SIGKILL');
    gw = await startGateway({ reuse: gw, mock });
    const all = await listAll(t.key);
    assert.equal(all.length, N, `${all.length} of ${N} records survived the SIGKILL`);
    assert.deepEqual(new Set(all.map((l) => l.id)), new Set(made));
    assert.equal((await ok(t.key, 'GET', '/usage/summary')).json.total_requests, N);
  });

  it("while the org's database is locked the proxy answers at once, records go to the spool, then all arrive exactly once", async () => {
    const dbPath = path.join(gw.dataDir, 'orgs', `${t.org.id}.db`);
    const spoolDir = path.join(gw.dataDir, 'spool');
    assert.ok(fs.existsSync(dbPath));
    const spoolFiles = async () => (fs.existsSync(spoolDir) ? (await listFiles(spoolDir)).length : 0);
    assert.equal(await spoolFiles(), 0, 'the spool is empty before');
    const db = new Database(dbPath, { fileMustExist: true, timeout: 1000 });
    let locked = true;
    db.exec('BEGIN EXCLUSIVE');
    const during = [];
    try {
      const t0 = Date.now();
      for (let i = 0; i < 12; i++) {
        const s = Date.now();
        const r = await chatVia(gw, t.key, { model: 'gpt-4o-mini', headers: { 'x-ingate-user-id': `locked-${i}` } });
        const took = Date.now() - s;
        assert.equal(r.status, 200, r.text);
        assert.ok(took < 1000, `call ${i} took ${took} ms while the log database was locked`);
        during.push(r.id);
      }
      assert.ok(Date.now() - t0 < 4000, 'the calls did not wait for the store (5 s busy timeout)');
      // the listing still reads (WAL readers are not blocked), but the new records are not there yet
      const now = await listAll(t.key);
      assert.ok(!during.some((id) => now.some((l) => l.id === id)), 'a record was written through an exclusive lock');
      // after the busy timeout the writer gives up and spools
      await waitFor(async () => (await spoolFiles()) > 0, { timeoutMs: T(15000), intervalMs: 100, what: 'a spool file' });
      const files = await listFiles(spoolDir);
      assert.ok(files.every((f) => /spool-\d+-\d+-\d+\.log$/.test(path.basename(f))), `spool files ${files}`);
      // no plaintext attribution in the spool either
      const { hits } = await scanDir(spoolDir, [['user id', 'locked-0']]);
      assert.deepEqual(hits, []);
      await sleep(300);
    } finally {
      db.exec('ROLLBACK');
      db.close();
      locked = false;
    }
    assert.equal(locked, false);
    const all = await waitLogs(t.key, [...made, ...during], 'spooled records');
    assert.equal(all.length, made.length + during.length, 'each record exactly once');
    assert.equal(new Set(all.map((l) => l.id)).size, all.length);
    const byId = new Map(all.map((l) => [l.id, l]));
    for (let i = 0; i < during.length; i++) assert.equal(byId.get(during[i]).user_id, `locked-${i}`, 'a spooled record opens like any other');
    await waitFor(async () => (await spoolFiles()) === 0, { timeoutMs: T(10000), intervalMs: 100, what: 'an empty spool' });
    // counted once in the usage aggregates too
    assert.equal((await ok(t.key, 'GET', '/usage/summary')).json.total_requests, made.length + during.length);
    await sleep(T(1500)); // a later replay must not add anything
    assert.equal((await listAll(t.key)).length, made.length + during.length);
    made.push(...during);
  });

  it('records spooled by a gateway that is then SIGKILLed are stored by the next one, exactly once', async () => {
    const dbPath = path.join(gw.dataDir, 'orgs', `${t.org.id}.db`);
    const spoolDir = path.join(gw.dataDir, 'spool');
    const spoolFiles = async () => (fs.existsSync(spoolDir) ? (await listFiles(spoolDir)).length : 0);
    const db = new Database(dbPath, { fileMustExist: true, timeout: 1000 });
    db.exec('BEGIN EXCLUSIVE');
    const during = [];
    try {
      // at once, so that they usually make one batch (one busy timeout)
      const rs = await Promise.all(
        [0, 1, 2, 3, 4, 5].map((i) => chatVia(gw, t.key, { model: 'gpt-4o-mini', headers: { 'x-ingate-session-id': `crash-${i}` } }))
      );
      for (const r of rs) {
        assert.equal(r.status, 200);
        during.push(r.id);
      }
      // each batch waits out the busy timeout (5 s) before it is spooled: wait until every record is in a
      // spool frame ("IGS1" | length | hash | payload), as records still queued in memory die with the process
      const frames = async () => {
        let n = 0;
        for (const f of fs.existsSync(spoolDir) ? await listFiles(spoolDir) : []) {
          const b = await fsp.readFile(f).catch(() => Buffer.alloc(0));
          for (let i = b.indexOf('IGS1'); i >= 0; i = b.indexOf('IGS1', i + 4)) n++;
        }
        return n;
      };
      await waitFor(async () => (await frames()) >= during.length, { timeoutMs: T(25000), intervalMs: 100, what: 'every record spooled' });
      assert.equal(await frames(), during.length, 'one spool frame per record');
      gw.proc.kill('SIGKILL');
      assert.equal((await waitExit(gw.proc, T(5000)))?.signal, 'SIGKILL');
    } finally {
      db.exec('ROLLBACK');
      db.close();
    }
    assert.ok((await spoolFiles()) > 0, 'the spool outlived the process');
    gw = await startGateway({ reuse: gw, mock });
    const all = await waitLogs(t.key, [...made, ...during], 'records of the crashed gateway');
    assert.equal(all.length, made.length + during.length, 'each record exactly once');
    assert.equal(new Set(all.map((l) => l.id)).size, all.length);
    const byId = new Map(all.map((l) => [l.id, l]));
    for (let i = 0; i < during.length; i++) assert.equal(byId.get(during[i]).session_id, `crash-${i}`);
    await waitFor(async () => (await spoolFiles()) === 0, { timeoutMs: T(10000), intervalMs: 100, what: 'an empty spool' });
    assert.equal((await ok(t.key, 'GET', '/usage/summary')).json.total_requests, made.length + during.length);
    await gw.stop();
  });
});
