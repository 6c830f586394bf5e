// TLS listener (TLS 1.3 only, generated certificate valid for 127.0.0.1, no h2), the health endpoints, the plain
// listener for a TLS-terminating sidecar, start-up refusals, and configuration by environment vs flags.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import tls from 'node:tls';
import { execFile } from 'node:child_process';
import path from 'node:path';
import {
  startGateway,
  startMock,
  tlsConnect,
  runServeExpectingFailure,
  assertSecurityHeaders,
  assertFlatError,
  rawExchange,
  parseHead,
  T,
  INGATE_BIN,
} from './lib/harness.mjs';

describe('TLS and health endpoints', () => {
  let gw;
  before(async () => {
    gw = await startGateway({ args: ['--plain-listen', '127.0.0.1:0'] });
  });
  after(async () => {
    await gw?.destroy();
  });

  it('negotiates TLS 1.3 with a certificate that verifies for 127.0.0.1 against data-dir/tls-cert.pem', async () => {
    const s = await tlsConnect({ port: gw.port, ca: gw.ca });
    try {
      assert.equal(s.getProtocol(), 'TLSv1.3');
      assert.equal(s.authorized, true, `certificate not trusted: ${s.authorizationError}`);
    } finally {
      s.destroy();
    }
  });

  it('does not select h2 over ALPN (it only speaks HTTP/1.1)', async () => {
    const s = await new Promise((resolve, reject) => {
      const c = tls.connect({ host: '127.0.0.1', port: gw.port, ca: gw.ca, ALPNProtocols: ['h2', 'http/1.1'] });
      c.once('secureConnect', () => resolve(c));
      c.once('error', reject);
    });
    try {
      assert.ok(s.alpnProtocol === false || s.alpnProtocol === 'http/1.1', `ALPN selected ${s.alpnProtocol}`);
    } finally {
      s.destroy();
    }
  });

  it('keeps the data dir private (0700) and the TLS key 0600', () => {
    assert.equal(fs.statSync(gw.dataDir).mode & 0o777, 0o700);
    assert.equal(fs.statSync(path.join(gw.dataDir, 'tls-key.pem')).mode & 0o777, 0o600);
  });

  it('refuses a client limited to TLS 1.2', async () => {
    await assert.rejects(tlsConnect({ port: gw.port, ca: gw.ca, maxVersion: 'TLSv1.2' }), (e) => {
      assert.ok(e instanceof Error);
      return true;
    });
  });

  it('refuses a client limited to TLS 1.1 and below', async () => {
    await assert.rejects(tlsConnect({ port: gw.port, ca: gw.ca, minVersion: 'TLSv1', maxVersion: 'TLSv1.1' }));
  });

  it('does not speak plain HTTP on the TLS port', async () => {
    const r = await new Promise((resolve) => {
      const req = http.get({ host: '127.0.0.1', port: gw.port, path: '/healthz', agent: false, timeout: T(5000) }, (res) => {
        res.resume();
        resolve({ status: res.statusCode });
      });
      req.on('error', (e) => resolve({ error: e }));
      req.on('timeout', () => req.destroy(new Error('timeout')));
    });
    assert.ok(r.error, `plain HTTP on the TLS port must fail, got status ${r.status}`);
  });

  it('GET /healthz answers 200 {"status":"ok"} without authentication', async () => {
    const r = await gw.request({ path: '/healthz' });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { status: 'ok' });
    assert.match(r.headers['content-type'], /application\/json/);
    assertSecurityHeaders(r, 'healthz');
  });

  it('HEAD /healthz answers 200 without a body', async () => {
    const r = await gw.request({ method: 'HEAD', path: '/healthz' });
    assert.equal(r.status, 200);
    assert.equal(r.body.length, 0);
  });

  it('GET /readyz answers 200 without authentication', async () => {
    const r = await gw.request({ path: '/readyz' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json?.status, 'ready');
    assertSecurityHeaders(r, 'readyz');
  });

  it('POST /healthz is 405 with Allow: GET, HEAD', async () => {
    const r = await gw.request({ method: 'POST', path: '/healthz', body: '{}' });
    assertFlatError(r, 405, 'method_not_allowed');
    assert.match(r.headers.allow || '', /GET/);
    assertSecurityHeaders(r, '405');
  });

  it('the plain listener (sidecar) serves the same routes on loopback', async () => {
    assert.ok(gw.plainPort > 0, 'READY line must name the plain port');
    const r = await new Promise((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port: gw.plainPort, path: '/healthz', agent: false }, (res) => {
          let b = '';
          res.on('data', (c) => (b += c));
          res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text: b }));
        })
        .on('error', reject);
    });
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.text), { status: 'ok' });
    assert.equal(r.headers['x-frame-options'], 'DENY');
  });

  it('answers a garbage request line with a 4xx and closes', async () => {
    const r = await rawExchange(gw, 'GARBAGE\r\n\r\n', T(10000));
    assert.ok(r.closed, 'connection must be closed');
    const head = parseHead(r.data);
    assert.ok(head, `a response was expected, got ${JSON.stringify(r.data.toString())}`);
    assert.ok(head.status >= 400 && head.status < 500, `status ${head.status}`);
  });

  it('exits 0 on SIGTERM without sanitizer reports', async () => {
    await gw.stop();
  });
});

describe('start-up refusals', () => {
  it('refuses a non-loopback plain listener', async () => {
    const r = await runServeExpectingFailure(['--listen', '127.0.0.1:0', '--plain-listen', '0.0.0.0:0']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /loopback/);
  });

  it('refuses a data dir readable by others', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ingate-it-perm-'));
    try {
      fs.chmodSync(dir, 0o755);
      const r = await new Promise((resolve) => {
        execFile(INGATE_BIN, ['serve', '--data-dir', dir, '--listen', '127.0.0.1:0'], { timeout: T(10000) }, (e, so, se) =>
          resolve({ code: e ? e.code : 0, stderr: se })
        );
      });
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /chmod 700/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('configuration sources', () => {
  it('INGATE_* environment variables configure the gateway; flags win over them', async () => {
    const mock = await startMock();
    const envOnly = await startGateway({
      env: { INGATE_OPENAI_BASE_URL: mock.url, INGATE_MAX_BODY_BYTES: '1k', INGATE_PROVIDERS: 'name=envprov,base_url=' + mock.url + '/env' },
    });
    const flagWins = await startGateway({
      env: { INGATE_OPENAI_BASE_URL: 'http://127.0.0.1:9', INGATE_MAX_BODY_BYTES: '1k' },
      args: ['--openai-base-url', mock.url, '--max-body-bytes', '1m'],
    });
    try {
      const body = JSON.stringify({ model: 'cfg', pad: 'p'.repeat(2048) });
      const a = await envOnly.tenant('cfga', { providers: { openai: 'sk-cfg-a' } });
      const r1 = await envOnly.request({ method: 'POST', path: '/v1/chat/completions', headers: { 'x-ingate-key': a.key }, body });
      assert.equal(r1.status, 413, 'INGATE_MAX_BODY_BYTES=1k must apply');
      const r2 = await envOnly.request({ method: 'POST', path: '/v1/chat/completions', headers: { 'x-ingate-key': a.key }, body: '{"model":"small"}' });
      assert.equal(r2.status, 200, 'INGATE_OPENAI_BASE_URL must apply');
      const r3 = await envOnly.request({ path: '/v1/x', headers: { 'x-ingate-key': a.key, 'x-ingate-provider': 'envprov' } });
      assert.equal(r3.status, 200, 'INGATE_PROVIDERS must apply');
      assert.equal((await mock.requests()).at(-1).path, '/env/v1/x');
      const b = await flagWins.tenant('cfgb', { providers: { openai: 'sk-cfg-b' } });
      const r4 = await flagWins.request({ method: 'POST', path: '/v1/chat/completions', headers: { 'x-ingate-key': b.key }, body });
      assert.equal(r4.status, 200, `flags must win over the environment: ${r4.text}`);
      await envOnly.stop();
      await flagWins.stop();
    } finally {
      await envOnly.destroy();
      await flagWins.destroy();
      await mock.stop();
    }
  });
});
