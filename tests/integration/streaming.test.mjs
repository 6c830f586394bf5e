// Streaming: SSE events are relayed as they come (not buffered to the end), chunked to the client, byte-exact;
// a slow reader is served with bounded gateway memory (backpressure to the upstream); a client that goes away
// cancels the upstream request.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startMock,
  startGateway,
  httpJson,
  parseHead,
  ChunkedCounter,
  waitFor,
  sleep,
  within,
  procWchar,
  SANITIZED,
  T,
  MiB,
} from './lib/harness.mjs';

describe('streaming', () => {
  let mock, gw, t;
  before(async () => {
    mock = await startMock();
    gw = await startGateway({ mock });
    t = await gw.tenant('stream', { providers: { openai: 'sk-prov-stream-1', anthropic: 'sk-prov-stream-2' } });
  });
  after(async () => {
    await gw?.destroy();
    await mock?.stop();
  });

  const body = JSON.stringify({ model: 'gpt-stream', stream: true, messages: [{ role: 'user', content: 'hi' }] });

  it('relays SSE events as they arrive, chunked, byte-identical to what the upstream sent', async () => {
    const mockHeaders = { 'content-type': 'application/json', 'x-mock-mode': 'stream', 'x-mock-events': '5', 'x-mock-interval-ms': '300' };
    const arrivals = [];
    const r = await gw.request({
      method: 'POST',
      path: '/v1/chat/completions',
      headers: { 'x-ingate-key': t.key, ...mockHeaders },
      body,
      onData: (c) => arrivals.push({ at: Date.now(), n: (c.toString().match(/^data: /gm) || []).length }),
    });
    assert.equal(r.status, 200);
    assert.match(r.headers['content-type'], /^text\/event-stream/);
    assert.equal(r.headers['transfer-encoding'], 'chunked');
    assert.equal(r.headers['content-length'], undefined);
    assert.equal(r.complete, true, 'the stream must end with the chunked terminator');
    // the mock sends event 1 at once and the 5th 1200 ms later, then usage + [DONE]
    const firstEventAt = arrivals.find((a) => a.n > 0).at;
    assert.ok(r.endAt - firstEventAt > 800, `the first event arrived only ${r.endAt - firstEventAt} ms before the end: buffered?`);
    assert.ok(arrivals.length >= 3, `expected several separate reads, got ${arrivals.length}`);
    // byte-exact: ask the mock directly for the same stream
    const direct = await httpJson(mock.port, 'POST', '/v1/chat/completions', { headers: mockHeaders, body });
    assert.equal(direct.status, 200);
    assert.equal(r.text, direct.text);
    assert.ok(r.text.endsWith('data: [DONE]\n\n'));
    const events = r.text.split('\n\n').filter(Boolean);
    assert.equal(events.length, 5 + 2, 'five deltas, the usage chunk and [DONE]');
  });

  it('an Anthropic event stream passes through unchanged', async () => {
    const mockHeaders = { 'content-type': 'application/json', 'x-mock-mode': 'stream', 'x-mock-events': '3' };
    const abody = JSON.stringify({ model: 'claude-stream', stream: true, max_tokens: 10, messages: [] });
    const r = await gw.request({ method: 'POST', path: '/v1/messages', headers: { 'x-api-key': t.key, 'anthropic-version': '2023-06-01', ...mockHeaders }, body: abody });
    assert.equal(r.status, 200);
    const direct = await httpJson(mock.port, 'POST', '/v1/messages', { headers: mockHeaders, body: abody });
    assert.equal(r.text, direct.text);
    assert.match(r.text, /event: message_stop/);
  });

  it('serves 16 concurrent streams completely', async () => {
    const all = await Promise.all(
      Array.from({ length: 16 }, (_, i) =>
        gw.request({
          method: 'POST',
          path: '/v1/chat/completions',
          headers: { 'x-ingate-key': t.key, 'x-mock-mode': 'stream', 'x-mock-events': '4', 'x-mock-interval-ms': '50' },
          body: JSON.stringify({ model: `gpt-par-${i}`, stream: true }),
        })
      )
    );
    for (const [i, r] of all.entries()) {
      assert.equal(r.status, 200);
      assert.equal(r.complete, true);
      assert.ok(r.text.includes(`"model":"gpt-par-${i}"`));
      assert.ok(r.text.endsWith('data: [DONE]\n\n'));
    }
  });

  it('a slow reader of a 200 MiB response keeps the gateway bounded (backpressure), then gets every byte', async () => {
    const TOTAL = 200 * MiB;
    // warm up, then take the baselines
    for (let i = 0; i < 3; i++)
      await gw.request({ method: 'POST', path: '/v1/chat/completions', headers: { 'x-ingate-key': t.key, 'x-mock-mode': 'big', 'x-mock-bytes': String(4 * MiB) }, body: '{}' });
    const baseline = gw.rss();
    const mockWritten0 = procWchar(mock.proc.pid);
    // ASan keeps freed memory in quarantine (up to 256 MiB): RSS says nothing there; the upstream's progress does
    const rssBound = SANITIZED ? Infinity : 64 * MiB;
    const s = await gw.connect();
    try {
      s.pause();
      const reqBody = '{"model":"big"}';
      s.write(
        'POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\n' +
          `X-Ingate-Key: ${t.key}\r\nX-Mock-Mode: big\r\nX-Mock-Bytes: ${TOTAL}\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${reqBody.length}\r\nConnection: close\r\n\r\n${reqBody}`
      );
      // read nothing for a while; the gateway must stop pulling from the upstream instead of buffering
      let peak = 0;
      for (let i = 0; i < 12; i++) {
        await sleep(250);
        peak = Math.max(peak, gw.rss());
      }
      const pulled = procWchar(mock.proc.pid) - mockWritten0;
      assert.ok(pulled > 0, 'the upstream response must have started');
      assert.ok(pulled < 64 * MiB, `the upstream sent ${(pulled / MiB).toFixed(1)} MiB while the client read nothing: no backpressure`);
      assert.ok(peak - baseline < rssBound, `gateway RSS grew by ${((peak - baseline) / MiB).toFixed(1)} MiB while the client was not reading`);
      const got = { head: null, raw: [], counter: new ChunkedCounter(), bytes: 0 };
      const ended = new Promise((resolve) => {
        s.on('data', (c) => {
          got.bytes += c.length;
          if (!got.head) {
            got.raw.push(c);
            const buf = Buffer.concat(got.raw);
            const h = parseHead(buf);
            if (!h) return;
            got.head = h;
            got.raw = null;
            got.counter.feed(buf.subarray(h.bodyStart));
          } else {
            got.counter.feed(c);
          }
          if (got.counter.done) resolve();
        });
        s.on('close', resolve);
        s.on('end', resolve);
      });
      // then read slowly for a second (short bursts), sampling memory again
      for (let i = 0; i < 8; i++) {
        s.resume();
        await sleep(20);
        s.pause();
        await sleep(100);
        peak = Math.max(peak, gw.rss());
      }
      assert.ok(peak - baseline < rssBound, `gateway RSS grew by ${((peak - baseline) / MiB).toFixed(1)} MiB with a slow reader`);
      const pulledSlow = procWchar(mock.proc.pid) - mockWritten0;
      assert.ok(pulledSlow - got.bytes < 64 * MiB, `the upstream ran ${((pulledSlow - got.bytes) / MiB).toFixed(1)} MiB ahead of a slow reader`);
      s.resume();
      await within(ended, T(60000));
      assert.ok(got.head, 'no response head');
      assert.equal(got.head.status, 200);
      assert.equal(got.counter.done, true, `stream not complete: ${got.counter.bytes} of ${TOTAL} bytes`);
      assert.equal(got.counter.bytes, TOTAL);
    } finally {
      s.destroy();
    }
  });

  it('a client that disconnects while waiting cancels the upstream request (hang mode)', async () => {
    const before = await mock.stats();
    await assert.rejects(
      gw.request({
        method: 'POST',
        path: '/v1/chat/completions',
        headers: { 'x-ingate-key': t.key, 'x-mock-mode': 'hang' },
        body: '{}',
        timeoutMs: 500,
      })
    );
    await waitFor(async () => (await mock.stats()).aborted > before.aborted, {
      timeoutMs: T(5000),
      what: 'the mock to see the upstream request aborted',
    });
    await waitFor(async () => (await mock.stats()).open_streams <= before.open_streams, { timeoutMs: T(5000), what: 'no held request left' });
  });

  it('a client that disconnects mid-stream cancels the upstream stream', async () => {
    const before = await mock.stats();
    const r = await gw.request({
      method: 'POST',
      path: '/v1/chat/completions',
      headers: { 'x-ingate-key': t.key, 'x-mock-mode': 'stream', 'x-mock-events': '100', 'x-mock-interval-ms': '100' },
      body,
      onData: (c, res, req) => req.destroy(),
    });
    assert.equal(r.status, 200);
    assert.equal(r.complete, false);
    await waitFor(async () => (await mock.stats()).aborted > before.aborted, {
      timeoutMs: T(5000),
      what: 'the mock to see the stream aborted',
    });
    await waitFor(async () => (await mock.stats()).open_streams <= before.open_streams, { timeoutMs: T(5000), what: 'no stream left open' });
  });

  it('a client that disconnects from a slow-read big response cancels the upstream too', async () => {
    const before = await mock.stats();
    const s = await gw.connect();
    s.write(
      'POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\n' +
        `X-Ingate-Key: ${t.key}\r\nX-Mock-Mode: big\r\nX-Mock-Bytes: ${500 * MiB}\r\nContent-Length: 2\r\n\r\n{}`
    );
    await new Promise((r) => s.once('data', r));
    s.pause();
    await sleep(300);
    s.destroy();
    await waitFor(async () => (await mock.stats()).open_streams <= before.open_streams, { timeoutMs: T(5000), what: 'the big response to be cancelled' });
  });

  it('the gateway still serves normally afterwards', async () => {
    const r = await gw.request({ method: 'POST', path: '/v1/chat/completions', headers: { 'x-ingate-key': t.key }, body: '{"model":"after"}' });
    assert.equal(r.status, 200);
    assert.equal(r.json.model, 'after');
  });

  it('exits 0 on SIGTERM without sanitizer reports', async () => {
    await gw.stop();
  });
});
