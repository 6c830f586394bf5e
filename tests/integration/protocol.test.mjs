// HTTP/1.1 on the wire (raw TLS sockets): keep-alive and pipelining, HEAD, HTTP/1.0 clients, ambiguous
// framing (request smuggling attempts), Expect: 100-continue without credentials.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startMock, startGateway, rawExchange, parseHead, collect, waitFor, uid, T } from './lib/harness.mjs';

/** Splits a byte stream of several Content-Length-framed HTTP responses into their heads. */
function statuses(buf) {
  return [...buf.toString('latin1').matchAll(/HTTP\/1\.[01] (\d{3}) /g)].map((m) => Number(m[1]));
}

describe('HTTP/1.1 protocol handling', () => {
  let mock, gw, t;
  before(async () => {
    mock = await startMock();
    gw = await startGateway({ mock });
    t = await gw.tenant('proto', { providers: { openai: 'sk-prov-proto-1' } });
  });
  after(async () => {
    await gw?.destroy();
    await mock?.stop();
  });

  const head = (method, path, extra = '') =>
    `${method} ${path} HTTP/1.1\r\nHost: localhost\r\nX-Ingate-Key: ${t.key}\r\n${extra}`;

  it('serves several proxied requests on one keep-alive connection', async () => {
    const s = await gw.connect();
    try {
      const chunks = [];
      s.on('data', (c) => chunks.push(c));
      for (let i = 1; i <= 3; i++) {
        s.write(head('GET', '/v1/models') + '\r\n');
        await waitFor(() => statuses(Buffer.concat(chunks)).length === i, { what: `response ${i}` });
      }
      assert.deepEqual(statuses(Buffer.concat(chunks)), [200, 200, 200]);
    } finally {
      s.destroy();
    }
  });

  it('answers pipelined requests in order', async () => {
    const id = uid('pipe');
    const b1 = '{"model":"pipe-1"}';
    const b2 = '{"model":"pipe-2"}';
    const s = await gw.connect();
    try {
      const chunks = [];
      s.on('data', (c) => chunks.push(c));
      s.write(
        head('POST', '/v1/chat/completions', `X-Test-Id: ${id}\r\nContent-Length: ${b1.length}\r\n\r\n${b1}`) +
          head('POST', '/v1/chat/completions', `Content-Length: ${b2.length}\r\n\r\n${b2}`) +
          head('GET', '/healthz', 'Connection: close\r\n\r\n')
      );
      await waitFor(() => statuses(Buffer.concat(chunks)).length === 3, { what: 'three responses' });
      const text = Buffer.concat(chunks).toString();
      assert.deepEqual(statuses(Buffer.concat(chunks)), [200, 200, 200]);
      assert.ok(text.indexOf('"model":"pipe-1"') < text.indexOf('"model":"pipe-2"'), 'responses out of order');
      assert.ok(text.indexOf('"model":"pipe-2"') < text.indexOf('{"status":"ok"}'));
    } finally {
      s.destroy();
    }
  });

  it('HEAD on a proxied path returns the head only and keeps the connection usable', async () => {
    const s = await gw.connect();
    try {
      const chunks = [];
      s.on('data', (c) => chunks.push(c));
      s.write(head('HEAD', '/v1/models') + '\r\n');
      await waitFor(() => statuses(Buffer.concat(chunks)).length === 1, { what: 'HEAD response' });
      s.write(head('GET', '/healthz') + '\r\n');
      await waitFor(() => statuses(Buffer.concat(chunks)).length === 2, { what: 'the next response' });
      const text = Buffer.concat(chunks).toString();
      const second = text.indexOf('HTTP/1.1', 5);
      const firstBody = text.slice(text.indexOf('\r\n\r\n') + 4, second);
      assert.equal(firstBody, '', 'a HEAD response must not carry a body');
      assert.deepEqual(statuses(Buffer.concat(chunks)), [200, 200]);
    } finally {
      s.destroy();
    }
  });

  it('an HTTP/1.0 client gets a streamed response delimited by the connection close', async () => {
    const body = '{"model":"gpt-10","stream":true}';
    const r = await rawExchange(
      gw,
      `POST /v1/chat/completions HTTP/1.0\r\nHost: localhost\r\nX-Ingate-Key: ${t.key}\r\nX-Mock-Mode: stream\r\n` +
        `Content-Length: ${body.length}\r\n\r\n${body}`,
      T(10000)
    );
    assert.ok(r.closed);
    const h = parseHead(r.data);
    assert.equal(h.status, 200);
    assert.equal(h.headers['transfer-encoding'], undefined, 'no chunked encoding for HTTP/1.0');
    assert.ok(r.data.subarray(h.bodyStart).toString().endsWith('data: [DONE]\n\n'));
  });

  it('Content-Length together with Transfer-Encoding (smuggling) is refused with 400', async () => {
    const id = uid('smug');
    const r = await rawExchange(
      gw,
      head('POST', '/v1/chat/completions', `X-Test-Id: ${id}\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n`) +
        '0\r\n\r\nGET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n',
      T(10000)
    );
    const h = parseHead(r.data);
    assert.ok(h, 'a response is expected');
    assert.equal(h.status, 400);
    assert.equal(statuses(r.data).length, 1, 'nothing after the refused request may be processed');
    assert.equal(await mock.find(id), undefined);
  });

  it('two different Content-Length values are refused with 400', async () => {
    const r = await rawExchange(gw, head('POST', '/v1/chat/completions', 'Content-Length: 2\r\nContent-Length: 5\r\n\r\n{}'), T(10000));
    assert.equal(parseHead(r.data)?.status, 400);
  });

  it('an unknown Transfer-Encoding is refused', async () => {
    const r = await rawExchange(gw, head('POST', '/v1/chat/completions', 'Transfer-Encoding: gzip\r\n\r\n{}'), T(10000));
    const st = parseHead(r.data)?.status;
    assert.ok(st === 400 || st === 501, `status ${st}`);
  });

  it('Expect: 100-continue without a key gets 401 and no 100 Continue', async () => {
    const s = await gw.connect();
    const done = collect(s, T(10000));
    s.write('POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\nContent-Length: 1000000\r\n\r\n');
    const r = await done;
    const text = r.data.toString();
    assert.ok(!text.includes('100 Continue'), 'must not invite the body of an unauthenticated request');
    assert.equal(parseHead(r.data)?.status, 401);
  });

  it('provider names in X-Ingate-Provider are case-insensitive', async () => {
    const r = await gw.request({ path: '/v2/x', headers: { 'x-ingate-key': t.key, 'x-ingate-provider': 'OpenAI' } });
    assert.equal(r.status, 200, r.text);
  });

  it('50 concurrent connections are all served', async () => {
    const rs = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        gw.request({ method: 'POST', path: '/v1/chat/completions', headers: { 'x-ingate-key': t.key }, body: `{"model":"c-${i}"}` })
      )
    );
    rs.forEach((r, i) => {
      assert.equal(r.status, 200);
      assert.equal(r.json.model, `c-${i}`);
    });
  });

  it('exits 0 on SIGTERM without sanitizer reports', async () => {
    await gw.stop();
  });
});
