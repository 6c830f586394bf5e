// The call log: every proxied call leaves one row in its org's log database, data-dir/orgs/<org id>.db `logs`
// (written by the async capture writer, flushed on SIGTERM), with the right id, key prefix, provider, method,
// path (never the query), model, status, stream flag, sizes and error code.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import Database from 'better-sqlite3';
import { startMock, startGateway, closedPort, uid } from './lib/harness.mjs';

describe('call capture', () => {
  let mock, gw, t, key2, bigCall;
  const calls = []; // {id, expect: {...}}
  before(async () => {
    mock = await startMock();
    const dead = await closedPort();
    gw = await startGateway({
      mock,
      providers: `name=deadprov,base_url=http://127.0.0.1:${dead};name=slowprov,base_url=${mock.url},first_byte_timeout_ms=800`,
    });
    t = await gw.tenant('capture', { providers: { openai: 'sk-prov-cap-1', anthropic: 'sk-prov-cap-2' } });
  });
  after(async () => {
    await gw?.destroy();
    await mock?.stop();
  });

  async function call(opts, expect) {
    const r = await gw.request(opts);
    const id = r.headers['x-ingate-request-id'];
    assert.ok(id, 'request id');
    calls.push({ id, expect: { method: opts.method || 'GET', ...expect }, res: r, body: opts.body });
    return r;
  }

  it('makes a mix of proxied calls', async () => {
    const h = { 'x-ingate-key': t.key, 'content-type': 'application/json' };
    let r = await call(
      { method: 'POST', path: '/v1/chat/completions', headers: h, body: JSON.stringify({ model: 'cap-json', messages: [] }) },
      { provider: 'openai', path: '/v1/chat/completions', model: 'cap-json', status: 200, stream: 0, key: t.keyInfo.hash_prefix }
    );
    assert.equal(r.status, 200);
    r = await call(
      { method: 'POST', path: '/v1/chat/completions?trace=1', headers: h, body: JSON.stringify({ model: 'cap-stream', stream: true }) },
      { provider: 'openai', path: '/v1/chat/completions', model: 'cap-stream', status: 200, stream: 1, key: t.keyInfo.hash_prefix }
    );
    assert.match(r.headers['content-type'], /event-stream/);
    r = await call(
      {
        method: 'POST',
        path: '/v1/messages',
        headers: { 'x-api-key': t.key, 'anthropic-version': '2023-06-01' },
        body: JSON.stringify({ max_tokens: 5, model: 'claude-cap', messages: [] }),
      },
      { provider: 'anthropic', path: '/v1/messages', model: 'claude-cap', status: 200, stream: 0, key: t.keyInfo.hash_prefix }
    );
    assert.equal(r.status, 200);
    r = await call(
      { path: '/v1/models?limit=2&after=abc', headers: { authorization: `Bearer ${t.key}` } },
      { provider: 'openai', path: '/v1/models', model: null, status: 200, stream: 0, key: t.keyInfo.hash_prefix }
    );
    assert.equal(r.status, 200);
  });

  it('keeps logging after an operator change made while serving (new key)', async () => {
    const k = await gw.createKey('capture');
    key2 = k;
    const h = { 'x-ingate-key': k.key, 'content-type': 'application/json' };
    let r = await call(
      { method: 'POST', path: '/v1/chat/completions', headers: { ...h, 'x-mock-mode': 'error' }, body: JSON.stringify({ model: 'cap-500' }) },
      { provider: 'openai', path: '/v1/chat/completions', model: 'cap-500', status: 500, stream: 0, key: k.hash_prefix }
    );
    assert.equal(r.status, 500, r.text);
    r = await call(
      {
        method: 'POST',
        path: '/v1/chat/completions',
        headers: { ...h, 'x-mock-mode': 'error', 'x-mock-status': '429' },
        body: JSON.stringify({ model: 'cap-429' }),
      },
      { provider: 'openai', path: '/v1/chat/completions', model: 'cap-429', status: 429, stream: 0, key: k.hash_prefix }
    );
    assert.equal(r.status, 429);
    r = await call(
      { method: 'POST', path: '/v1/chat/completions', headers: { ...h, 'x-ingate-provider': 'deadprov' }, body: JSON.stringify({ model: 'cap-502' }) },
      { provider: 'deadprov', path: '/v1/chat/completions', model: 'cap-502', status: 502, stream: 0, key: k.hash_prefix, error: 'upstream_error' }
    );
    assert.equal(r.status, 502);
    r = await call(
      {
        method: 'POST',
        path: '/v1/chat/completions',
        headers: { ...h, 'x-ingate-provider': 'slowprov', 'x-mock-mode': 'hang' },
        body: JSON.stringify({ model: 'cap-504' }),
      },
      { provider: 'slowprov', path: '/v1/chat/completions', model: 'cap-504', status: 504, stream: 0, key: k.hash_prefix, error: 'upstream_timeout' }
    );
    assert.equal(r.status, 504);
    r = await call(
      { method: 'DELETE', path: '/v1/responses/resp_1', headers: { 'x-ingate-key': k.key } },
      { provider: 'openai', path: '/v1/responses/resp_1', model: null, status: 200, stream: 0, key: k.hash_prefix }
    );
    assert.equal(r.status, 200);
  });

  it('logs the full sizes of bodies larger than --capture-max-bytes, flagged as truncated', async () => {
    const prefix = '{"model":"cap-big","pad":"';
    const body = prefix + 'p'.repeat(12 * 1024 * 1024 - prefix.length - 2) + '"}';
    const r = await gw.request({
      method: 'POST',
      path: '/v1/chat/completions',
      headers: { 'x-ingate-key': t.key, 'content-type': 'application/json', 'x-mock-mode': 'big', 'x-mock-bytes': String(12 * 1024 * 1024) },
      body,
    });
    assert.equal(r.status, 200);
    assert.equal(r.body.length, 12 * 1024 * 1024);
    bigCall = { id: r.headers['x-ingate-request-id'], reqBytes: Buffer.byteLength(body) };
  });

  it('does not log requests that never reached a provider (401, unknown provider)', async () => {
    await gw.request({ method: 'POST', path: '/v1/chat/completions', body: '{"model":"cap-401"}' });
    await gw.request({
      method: 'POST',
      path: '/v1/chat/completions',
      headers: { 'x-ingate-key': t.key, 'x-ingate-provider': 'nope' },
      body: '{"model":"cap-400"}',
    });
  });

  it('after SIGTERM (exit 0) the calls table holds exactly one correct row per proxied call', async () => {
    await gw.stop();
    const db = new Database(path.join(gw.dataDir, 'orgs', `${t.org.id}.db`), { readonly: true, fileMustExist: true });
    const control = new Database(path.join(gw.dataDir, 'ingate.db'), { readonly: true, fileMustExist: true });
    try {
      const rows = db.prepare('SELECT * FROM logs').all();
      const byId = new Map(rows.map((r) => [r.id, r]));
      for (const c of calls) {
        const row = byId.get(c.id);
        assert.ok(row, `no row for call ${c.expect.model ?? c.expect.path} (status ${c.expect.status}, id ${c.id})`);
        const e = c.expect;
        assert.equal(row.key_prefix, e.key, `key_prefix of ${c.id}`);
        assert.equal(row.provider, e.provider);
        assert.equal(row.method, e.method);
        assert.equal(row.path, e.path, 'path, without the query string');
        assert.equal(row.model, e.model, `model of the call to ${e.path} (status ${e.status})`);
        assert.equal(row.status, e.status, `status of ${e.model}`);
        assert.equal(row.stream, e.stream, `stream flag of ${e.model}`);
        if (e.error) assert.equal(row.error, e.error);
        else assert.ok(row.error === null || row.error === '', `unexpected error ${row.error} for ${e.model}`);
        assert.equal(row.req_bytes, c.body ? Buffer.byteLength(c.body) : 0, `req_bytes of ${e.model}`);
        if (e.status < 500) assert.equal(row.resp_bytes, c.res.body.length, `resp_bytes of ${e.model}`);
        assert.ok(row.latency_ms >= 0 && row.latency_ms < 60000);
        assert.ok(row.ttfb_ms >= 0 && row.ttfb_ms <= row.latency_ms + 1);
        assert.ok(Math.abs(row.created_at - Date.now()) < 10 * 60 * 1000, 'created_at is ms since the epoch');
        assert.equal(row.req_truncated, 0);
        assert.equal(row.resp_truncated, 0);
      }
      assert.equal(rows.length, calls.length + 1, `expected ${calls.length + 1} rows, got ${rows.length}`);
      for (const row of rows) {
        assert.ok(!String(row.path).includes('?'), 'no query string stored');
        for (const v of Object.values(row)) assert.ok(!String(v).includes('sk-ingate-'), 'no API key stored');
      }
      // the operator's key created while the gateway was serving is still in the store
      const k = control.prepare('SELECT hash_prefix FROM api_keys WHERE id = ?').get(key2.id);
      assert.equal(k?.hash_prefix, key2.hash_prefix, 'a key created while serving was lost');
      assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
      assert.equal(control.pragma('integrity_check', { simple: true }), 'ok');
    } finally {
      db.close();
      control.close();
    }
  });

  it('the >10 MiB call has its full sizes, truncation flags and its model (taken from the request body)', () => {
    const db = new Database(path.join(gw.dataDir, 'orgs', `${t.org.id}.db`), { readonly: true, fileMustExist: true });
    try {
      const row = db.prepare('SELECT * FROM logs WHERE id = ?').get(bigCall.id);
      assert.ok(row, 'no row for the big call');
      assert.equal(row.status, 200);
      assert.equal(row.req_bytes, bigCall.reqBytes);
      assert.equal(row.resp_bytes, 12 * 1024 * 1024);
      assert.equal(row.req_truncated, 1, 'a 12 MiB request body is over the 10 MiB capture limit');
      assert.equal(row.resp_truncated, 1, 'a 12 MiB response body is over the 10 MiB capture limit');
      assert.equal(row.model, 'cap-big', 'the model of a request whose body exceeds --capture-max-bytes is lost');
    } finally {
      db.close();
    }
  });
});

describe('call capture of a client abort', () => {
  it('a stream the client abandons is still logged (status 499)', async () => {
    const mock = await startMock();
    const gw = await startGateway({ mock });
    try {
      const t = await gw.tenant(uid('ab'), { providers: { openai: 'sk-prov-cap-ab' } });
      let id;
      const r = await gw.request({
        method: 'POST',
        path: '/v1/chat/completions',
        headers: { 'x-ingate-key': t.key, 'x-mock-mode': 'stream', 'x-mock-events': '50', 'x-mock-interval-ms': '100' },
        body: JSON.stringify({ model: 'cap-abort', stream: true }),
        onResponse: (res) => (id = res.headers['x-ingate-request-id']),
        onData: (c, res, req) => req.destroy(),
      });
      assert.equal(r.complete, false);
      await new Promise((res) => setTimeout(res, 300));
      await gw.stop();
      const db = new Database(path.join(gw.dataDir, 'orgs', `${t.org.id}.db`), { readonly: true });
      try {
        const row = db.prepare('SELECT * FROM logs WHERE id = ?').get(id);
        assert.ok(row, 'the abandoned stream must be logged');
        assert.equal(row.model, 'cap-abort');
        assert.equal(row.status, 499);
        assert.equal(row.stream, 1);
      } finally {
        db.close();
      }
    } finally {
      await gw.destroy();
      await mock.stop();
    }
  });
});
