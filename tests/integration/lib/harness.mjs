// harness.mjs — starts the real binaries (mock upstream + ingate) for the black-box integration tests and
// offers the clients the tests need: HTTPS requests that trust the gateway's generated certificate, raw TLS
// sockets for malformed or slow traffic, the operator CLI, the SQLite call log, and process/leak checks.
//
// Environment:
//   INGATE_BIN        gateway binary (default <repo>/build/ingate), e.g. build-san/ingate for ASan+UBSan
//   MOCK_BIN          mock upstream binary (default <repo>/build/mock-upstream)
//   INGATE_IT_SLOW    multiplier for the tests' waiting times (default 1, or 3 when INGATE_BIN looks like a
//                     sanitizer build); never makes an assertion stricter
//   INGATE_IT_KEEP=1  keep every temporary directory (data dir, logs) for inspection
//
// Every process started here is registered and killed with SIGKILL if the test process exits without
// stopping it, so a failing test never leaves a gateway or a mock behind.
import { spawn, execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import https from 'node:https';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const INGATE_BIN = path.resolve(process.env.INGATE_BIN || path.join(REPO_ROOT, 'build/ingate'));
export const MOCK_BIN = path.resolve(process.env.MOCK_BIN || path.join(REPO_ROOT, 'build/mock-upstream'));
/** True when INGATE_BIN is built with AddressSanitizer (its RSS then includes ASan's quarantine). */
export const SANITIZED = (() => {
  try {
    return fs.readFileSync(INGATE_BIN).includes('__asan_init');
  } catch {
    return false;
  }
})();
export const SLOW = Number(process.env.INGATE_IT_SLOW) || (SANITIZED ? 3 : 1);
const KEEP = process.env.INGATE_IT_KEEP === '1';

/** Scales a waiting time (never an upper bound on behaviour that must be fast) for slow builds. */
export const T = (ms) => Math.round(ms * SLOW);

export const MiB = 1024 * 1024;
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Resolves with promise's value, or with `fallback` after ms (the timer never outlives the race). */
export function within(promise, ms, fallback = undefined) {
  let timer;
  return Promise.race([promise, new Promise((r) => (timer = setTimeout(() => r(fallback), ms)))]).finally(() =>
    clearTimeout(timer)
  );
}

export const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'x-xss-protection': '1; mode=block',
  'referrer-policy': 'strict-origin-when-cross-origin',
  'permissions-policy': 'geolocation=(), camera=(), microphone=()',
  'strict-transport-security': 'max-age=63072000; includeSubDomains; preload',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
};
// request ids are UUIDv7 (time-ordered)
export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

const SANITIZER_MARKERS = [
  'ERROR: AddressSanitizer',
  'ERROR: LeakSanitizer',
  'runtime error:',
  'SUMMARY: UndefinedBehaviorSanitizer',
  'ThreadSanitizer',
];

// ------------------------------------------------------------------------------------------------------
// process bookkeeping

const live = new Set();
process.on('exit', () => {
  for (const p of live) {
    try {
      p.kill('SIGKILL');
    } catch {}
  }
});

function track(proc) {
  live.add(proc);
  proc.once('exit', () => live.delete(proc));
  return proc;
}

function exited(proc) {
  return proc.exitCode !== null || proc.signalCode !== null;
}

/** Resolves {code, signal} when proc exits, or null after timeoutMs. */
export function waitExit(proc, timeoutMs) {
  if (exited(proc)) return Promise.resolve({ code: proc.exitCode, signal: proc.signalCode });
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), timeoutMs);
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
}

/** Reads lines from a stream until one matches re; rejects on exit or timeout. */
function waitForLine(proc, stream, re, timeoutMs, what) {
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (d) => {
      buf += d.toString('utf8');
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const m = re.exec(line);
        if (m) {
          done();
          resolve(m);
          return;
        }
      }
    };
    const onExit = (code, signal) => {
      done();
      reject(new Error(`${what} exited (code ${code}, signal ${signal}) before it was ready`));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`${what} not ready after ${timeoutMs} ms`));
    }, timeoutMs);
    function done() {
      clearTimeout(timer);
      stream.off('data', onData);
      proc.off('exit', onExit);
    }
    stream.on('data', onData);
    proc.once('exit', onExit);
  });
}

/** Polls fn until it returns a truthy value; returns it, or throws after timeoutMs. */
export async function waitFor(fn, { timeoutMs = T(5000), intervalMs = 50, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${last})`);
    await sleep(intervalMs);
  }
}

async function makeTempRoot(prefix) {
  return fsp.mkdtemp(path.join(os.tmpdir(), prefix));
}

// ------------------------------------------------------------------------------------------------------
// plain HTTP (mock introspection)

export function httpJson(port, method, urlPath, { headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: urlPath, headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        try {
          resolve({ status: res.statusCode, headers: res.headers, json: JSON.parse(text), text });
        } catch {
          resolve({ status: res.statusCode, headers: res.headers, json: undefined, text });
        }
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

// ------------------------------------------------------------------------------------------------------
// mock upstream

export class Mock {
  constructor(proc, port, root) {
    this.proc = proc;
    this.port = port;
    this.root = root;
    this.url = `http://127.0.0.1:${port}`;
  }

  /** Recorded requests (oldest first): {seq, method, path, headers: [[name, value]...], body_len, body, mode}. */
  async requests() {
    const r = await httpJson(this.port, 'GET', '/__mock/requests');
    assert.equal(r.status, 200, 'mock /__mock/requests');
    return r.json;
  }

  async clear() {
    await httpJson(this.port, 'DELETE', '/__mock/requests');
  }

  /** {requests, aborted, open_streams, recorded} */
  async stats() {
    return (await httpJson(this.port, 'GET', '/__mock/stats')).json;
  }

  /** The recorded request whose header `name` has `value` (tests tag requests with X-Test-Id). */
  async find(testId) {
    const reqs = await this.requests();
    return reqs.find((r) => header(r, 'x-test-id') === testId);
  }

  /** Waits until a request tagged testId was recorded and returns it. */
  async waitFor(testId, timeoutMs = T(5000)) {
    return waitFor(() => this.find(testId), { timeoutMs, what: `mock request ${testId}` });
  }

  async stop() {
    if (exited(this.proc)) return;
    this.proc.kill('SIGTERM');
    if (!(await waitExit(this.proc, 5000))) {
      this.proc.kill('SIGKILL');
      await waitExit(this.proc, 5000);
    }
    if (!KEEP && this.root) await fsp.rm(this.root, { recursive: true, force: true });
  }
}

/** All values of header `name` (case-insensitive) in a recorded mock request. */
export function headerAll(rec, name) {
  const n = name.toLowerCase();
  return rec.headers.filter(([k]) => k.toLowerCase() === n).map(([, v]) => v);
}

/** The single value of header `name` in a recorded mock request (undefined if absent). */
export function header(rec, name) {
  const all = headerAll(rec, name);
  return all.length ? all[0] : undefined;
}

export async function startMock() {
  const root = await makeTempRoot('ingate-it-mock-');
  const err = fs.openSync(path.join(root, 'mock.stderr.log'), 'a');
  const proc = track(spawn(MOCK_BIN, ['--port', '0'], { stdio: ['ignore', 'pipe', err] }));
  fs.closeSync(err);
  proc.stdout.setEncoding('utf8');
  const m = await waitForLine(proc, proc.stdout, /^LISTENING (\d+)/, T(10000), 'mock-upstream');
  proc.stdout.resume();
  return new Mock(proc, Number(m[1]), root);
}

/** A TCP port on 127.0.0.1 that nothing listens on (bound, then closed). */
export async function closedPort() {
  const srv = net.createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

// ------------------------------------------------------------------------------------------------------
// API keys

const B62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function b62(num, digits) {
  let s = '';
  for (let i = 0; i < digits; i++) {
    s = B62[Number(num % 62n)] + s;
    num /= 62n;
  }
  return s;
}

/** The 6-character checksum of an ingate key's first 53 characters (docs/api-keys.md). */
export function keyChecksum(first53) {
  const d = crypto.createHash('sha256').update(first53, 'latin1').digest();
  return b62(BigInt(d.readUInt32BE(0)), 6);
}

/** A well-formed key (valid checksum) that the gateway never issued. */
export function fakeKey() {
  const body = b62(BigInt('0x' + crypto.randomBytes(32).toString('hex')), 43);
  const head = 'sk-ingate-' + body;
  return head + keyChecksum(head);
}

/** key with one character of its body changed, so its checksum no longer matches. */
export function corruptKey(key) {
  const i = 20;
  const c = key[i] === 'A' ? 'B' : 'A';
  return key.slice(0, i) + c + key.slice(i + 1);
}

// ------------------------------------------------------------------------------------------------------
// gateway

export class Gateway {
  constructor(f) {
    Object.assign(this, f);
    this.url = `https://127.0.0.1:${this.port}`;
  }

  get pid() {
    return this.proc.pid;
  }

  get running() {
    return !exited(this.proc);
  }

  /** Runs `ingate admin ARGS --data-dir D` (plus the serve options admin must know, e.g. --providers). */
  adminRaw(args, { input } = {}) {
    return new Promise((resolve) => {
      const child = execFile(
        INGATE_BIN,
        ['admin', ...args, '--data-dir', this.dataDir, ...this.adminArgs],
        { env: this.env, timeout: T(20000), maxBuffer: 1 << 20 },
        (error, stdout, stderr) => {
          resolve({ code: error ? (error.code ?? 1) : 0, stdout, stderr });
        }
      );
      if (input !== undefined) child.stdin.end(input);
      else child.stdin.end();
    });
  }

  async admin(args, opts) {
    const r = await this.adminRaw(args, opts);
    if (r.code !== 0) throw new Error(`ingate admin ${args[0]} exited ${r.code}: ${r.stderr}`);
    return JSON.parse(r.stdout);
  }

  createOrg(slug, name = slug) {
    return this.admin(['create-org', '--slug', slug, '--name', name]);
  }

  createKey(org, role) {
    return this.admin(['create-key', '--org', org, ...(role ? ['--role', role] : [])]);
  }

  setProviderKey(org, provider, secret, mode = 'stored') {
    return this.admin(['set-provider-key', '--org', org, '--provider', provider, '--mode', mode], {
      input: mode === 'stored' ? secret : '',
    });
  }

  setDefaultProvider(org, provider) {
    return this.admin(['set-default-provider', '--org', org, '--provider', provider]);
  }

  revokeKey(idOrPrefix) {
    return this.admin(['revoke-key', '--key', idOrPrefix]);
  }

  /**
   * Creates an org, a key (role member unless given) and stored provider keys.
   * providers: {name: secret | {mode: 'passthrough'}}. Returns {org, key, keyInfo, providerKeys}.
   */
  async tenant(slug, { providers = {}, role, defaultProvider } = {}) {
    const org = await this.createOrg(slug);
    const keyInfo = await this.createKey(slug, role);
    for (const [name, secret] of Object.entries(providers)) {
      if (typeof secret === 'object') await this.setProviderKey(slug, name, '', secret.mode);
      else await this.setProviderKey(slug, name, secret);
    }
    if (defaultProvider) await this.setDefaultProvider(slug, defaultProvider);
    return { org, key: keyInfo.key, keyInfo, providerKeys: providers };
  }

  /** HTTPS request to the gateway (see request()). */
  request(opts) {
    return request({ port: this.port, ca: this.ca, ...opts });
  }

  /**
   * A management API call: path relative to /api/v1 (or a full path starting with /api/ or /v1/); cred is an
   * sk-ingate- key (sent as X-Ingate-Key), a session token (Authorization: Bearer) or null (no credential);
   * body is an object (sent as JSON), a string or Buffer (sent as is) or undefined (no body).
   */
  api(cred, method, urlPath, body, headers = {}) {
    const h = { ...headers };
    if (cred) {
      if (cred.startsWith('sk-ingate-')) h['x-ingate-key'] = cred;
      else h.authorization = `Bearer ${cred}`;
    }
    if (body !== undefined && !('content-type' in h)) h['content-type'] = 'application/json';
    const full = /^\/(api|v1)\//.test(urlPath) ? urlPath : `/api/v1${urlPath}`;
    const data = body === undefined || typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
    // node frames a DELETE body only with an explicit length (no chunked encoding by default for DELETE)
    if (data !== undefined && !('content-length' in h)) h['content-length'] = String(Buffer.byteLength(data));
    return this.request({ method, path: full, headers: h, body: data });
  }

  /**
   * POST /api/v1/signup with fresh unique values for whatever is not given; asserts 201. Returns the response
   * JSON plus {email, password} as sent.
   */
  async signup({ email = newEmail(), password = newPassword(), slug = uid('org'), name, displayName, headers } = {}) {
    const body = { email, password, org_slug: slug, org_name: name ?? `Org ${slug}` };
    if (displayName !== undefined) body.display_name = displayName;
    const r = await this.api(null, 'POST', '/signup', body, headers);
    assert.equal(r.status, 201, `signup ${email}: ${r.status} ${r.text}`);
    return { ...r.json, email, password };
  }

  /** POST /api/v1/login (the raw response). */
  login(email, password, org) {
    return this.api(null, 'POST', '/login', org === undefined ? { email, password } : { email, password, org });
  }

  /** POST /api/v1/login that must succeed; returns the token. */
  async loginToken(email, password, org) {
    const r = await this.login(email, password, org);
    assert.equal(r.status, 200, `login ${email}: ${r.status} ${r.text}`);
    return r.json.token;
  }

  /**
   * Brings a NEW user into the caller's org with `role`: POST /members (an invitation, as the email is
   * unknown) and POST /invitations/accept. Returns {email, password, userId, token, inviteToken, invitation}.
   */
  async join(cred, role, { email = newEmail(role), password = newPassword() } = {}) {
    const inv = await this.api(cred, 'POST', '/members', { email, role });
    assert.equal(inv.status, 201, `invite ${email}: ${inv.status} ${inv.text}`);
    const acc = await this.api(null, 'POST', '/invitations/accept', { token: inv.json.invite_token, password });
    assert.equal(acc.status, 201, `accept ${email}: ${acc.status} ${acc.text}`);
    return {
      email,
      password,
      userId: acc.json.user.id,
      token: acc.json.token,
      inviteToken: inv.json.invite_token,
      invitation: inv.json.invitation,
    };
  }

  /** A connected TLS 1.3 socket to the gateway. */
  connect(opts = {}) {
    return tlsConnect({ port: this.port, ca: this.ca, ...opts });
  }

  /** Resident set size of the gateway process in bytes. */
  rss() {
    const s = fs.readFileSync(`/proc/${this.pid}/status`, 'utf8');
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(s);
    return m ? Number(m[1]) * 1024 : 0;
  }

  stdoutText() {
    return fs.readFileSync(this.stdoutPath, 'utf8');
  }

  stderrText() {
    return fs.readFileSync(this.stderrPath, 'utf8');
  }

  /** Sends SIGTERM; resolves {code, signal} when the process exited (null if it did not in timeoutMs). */
  async terminate(timeoutMs = T(40000)) {
    if (!this.running) return { code: this.proc.exitCode, signal: this.proc.signalCode };
    this.proc.kill('SIGTERM');
    return waitExit(this.proc, timeoutMs);
  }

  /** SIGTERM, then asserts a clean exit (code 0) and no sanitizer report in stderr. */
  async stop(timeoutMs) {
    const r = await this.terminate(timeoutMs);
    assert.ok(r, `gateway did not exit after SIGTERM; stderr tail:\n${tail(this.stderrText())}`);
    this.assertNoSanitizerReport();
    assert.equal(r.signal, null, `gateway died of ${r.signal}; stderr tail:\n${tail(this.stderrText())}`);
    assert.equal(r.code, 0, `gateway exit code ${r.code}; stderr tail:\n${tail(this.stderrText())}`);
    return r;
  }

  assertNoSanitizerReport() {
    const err = this.stderrText();
    for (const m of SANITIZER_MARKERS)
      assert.ok(!err.includes(m), `sanitizer report ("${m}") in gateway stderr:\n${tail(err, 80)}`);
  }

  /** Cleanup for after(): kill if still running, remove the temp dir (unless INGATE_IT_KEEP=1). */
  async destroy() {
    if (this.running) {
      this.proc.kill('SIGKILL');
      await waitExit(this.proc, 5000);
    }
    if (!KEEP) await fsp.rm(this.root, { recursive: true, force: true });
  }
}

function tail(text, n = 40) {
  return text.split('\n').slice(-n).join('\n');
}

/**
 * Starts `ingate serve` on 127.0.0.1:0 with a fresh 0700 data dir under os.tmpdir().
 * opts.mock: the Mock whose URL all three built-in providers point at.
 * opts.providers: the --providers value (also passed to admin commands).
 * opts.args: more serve flags. opts.env: extra environment. opts.reuse: a stopped Gateway whose data dir to
 * start on again (a restart).
 */
export async function startGateway({ mock, providers, args = [], env = {}, threads = 2, reuse } = {}) {
  let root, dataDir, suffix = '';
  if (reuse) {
    // a restart on the data dir of an earlier (stopped) gateway
    ({ root, dataDir } = reuse);
    suffix = `.${crypto.randomBytes(3).toString('hex')}`;
  } else {
    root = await makeTempRoot('ingate-it-');
    dataDir = path.join(root, 'data');
    await fsp.mkdir(dataDir, { mode: 0o700 });
    await fsp.chmod(dataDir, 0o700);
  }
  const stdoutPath = path.join(root, `gateway${suffix}.stdout.log`);
  const stderrPath = path.join(root, `gateway${suffix}.stderr.log`);
  const fullEnv = { ...process.env, ...env };
  for (const k of Object.keys(fullEnv)) if (k.startsWith('INGATE_') && !(k in env) && k !== 'INGATE_BIN') delete fullEnv[k];
  const adminArgs = providers ? ['--providers', providers] : [];
  const serveArgs = [
    'serve',
    '--data-dir', dataDir,
    '--listen', '127.0.0.1:0',
    '--threads', String(threads),
    '--drain-timeout-ms', String(T(15000)),
    ...(mock
      ? ['--openai-base-url', mock.url, '--anthropic-base-url', mock.url, '--ollama-base-url', mock.url]
      : []),
    ...adminArgs,
    ...args,
  ];
  const errFd = fs.openSync(stderrPath, 'a');
  const proc = track(spawn(INGATE_BIN, serveArgs, { stdio: ['ignore', 'pipe', errFd], env: fullEnv }));
  fs.closeSync(errFd);
  const out = fs.createWriteStream(stdoutPath);
  proc.stdout.pipe(out);
  let m;
  try {
    m = await waitForLine(proc, proc.stdout, /^READY https=(\S*) http=(\S*)/, T(15000), 'ingate serve');
  } catch (e) {
    if (!exited(proc)) proc.kill('SIGKILL');
    await waitExit(proc, 5000);
    throw new Error(`${e.message}\nstderr:\n${fs.readFileSync(stderrPath, 'utf8')}`);
  }
  const port = Number(m[1].split(',')[0].split(':').pop());
  const plainPort = m[2] ? Number(m[2].split(',')[0].split(':').pop()) : undefined;
  const ca = fs.readFileSync(path.join(dataDir, 'tls-cert.pem'));
  return new Gateway({ proc, port, plainPort, root, dataDir, ca, stdoutPath, stderrPath, adminArgs, env: fullEnv, serveArgs });
}

/** Runs `ingate serve` expecting it to refuse to start; resolves {code, stderr}. */
export async function runServeExpectingFailure(args, timeoutMs = T(15000)) {
  const root = await makeTempRoot('ingate-it-');
  const dataDir = path.join(root, 'data');
  await fsp.mkdir(dataDir, { mode: 0o700 });
  try {
    return await new Promise((resolve) => {
      execFile(INGATE_BIN, ['serve', '--data-dir', dataDir, ...args], { timeout: timeoutMs }, (error, stdout, stderr) =>
        resolve({ code: error ? error.code : 0, killed: error?.killed, stdout, stderr })
      );
    });
  } finally {
    await fsp.rm(root, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------------------------------------------
// HTTPS clients

/**
 * One HTTPS request on a fresh connection. Resolves once the response ended, was cut or timed out:
 * {status, headers, rawHeaders, body (Buffer), text, json, complete, error, firstByteAt, endAt}.
 * complete is false when the connection closed before the message's end (no chunked terminator).
 * Rejects only when no response head arrived at all.
 */
export function request({
  port,
  ca,
  method = 'GET',
  path: urlPath = '/',
  headers = {},
  body,
  timeoutMs = T(30000),
  onResponse,
  onData,
  maxVersion,
}) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    let settled = false;
    const req = https.request(
      { host: '127.0.0.1', port, method, path: urlPath, headers, ca, agent: false, maxVersion, servername: 'localhost' },
      (res) => {
        const chunks = [];
        let firstByteAt;
        let error;
        if (onResponse) onResponse(res, req);
        res.on('data', (c) => {
          if (firstByteAt === undefined) firstByteAt = Date.now();
          chunks.push(c);
          if (onData) onData(c, res, req);
        });
        const finish = () => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          const buf = Buffer.concat(chunks);
          const text = buf.toString('utf8');
          let json;
          try {
            json = JSON.parse(text);
          } catch {}
          resolve({
            status: res.statusCode,
            headers: res.headers,
            rawHeaders: res.rawHeaders,
            body: buf,
            text,
            json,
            complete: res.complete,
            error,
            started,
            firstByteAt,
            endAt: Date.now(),
          });
        };
        res.on('end', finish);
        res.on('aborted', () => {
          error = error || new Error('aborted');
        });
        res.on('error', (e) => {
          error = e;
          finish();
        });
        res.on('close', finish);
      }
    );
    const timer = setTimeout(() => {
      req.destroy(new Error(`request timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    req.on('error', (e) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(e);
    });
    if (body === undefined || typeof body === 'string' || Buffer.isBuffer(body)) req.end(body);
    else body(req); // a function that writes the body itself
  });
}

/** A connected TLS socket (TLS 1.3 unless maxVersion says otherwise). */
export function tlsConnect({ port, ca, maxVersion, minVersion, timeoutMs = T(10000) }) {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca, maxVersion, minVersion });
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error('TLS connect timed out'));
    }, timeoutMs);
    s.once('secureConnect', () => {
      clearTimeout(timer);
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/**
 * Collects everything a socket sends until it closes (or timeoutMs). Resolves
 * {data (Buffer), closed (bool), error, closedAt}.
 */
export function collect(sock, timeoutMs = T(15000)) {
  return new Promise((resolve) => {
    const chunks = [];
    let error;
    let done = false;
    const finish = (closed) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ data: Buffer.concat(chunks), closed, error, closedAt: Date.now() });
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    sock.on('data', (c) => chunks.push(c));
    sock.on('error', (e) => {
      error = e;
    });
    sock.on('close', () => finish(true));
    sock.on('end', () => finish(true));
  });
}

/** Writes a raw request on a new TLS connection and collects the reply until the server closes. */
export async function rawExchange(gw, data, timeoutMs) {
  const s = await gw.connect();
  const p = collect(s, timeoutMs);
  s.write(data);
  const r = await p;
  s.destroy();
  return r;
}

/** Parses a raw HTTP/1.1 response head: {status, headers (lower-case names), bodyStart}. */
export function parseHead(buf) {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(lines[0].split(' ')[1]);
  const headers = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  return { status, headers, bodyStart: end + 4 };
}

/**
 * Incremental decoder of a chunked body that only counts: feed(buf) returns nothing; .bytes is the decoded
 * body length so far; .done is set after the terminating zero-size chunk.
 */
export class ChunkedCounter {
  constructor() {
    this.bytes = 0;
    this.done = false;
    this.left = 0; // bytes of chunk data still to skip
    this.trail = 0; // CRLF after data still to skip
    this.line = '';
    this.trailer = false;
  }
  feed(buf) {
    let i = 0;
    while (i < buf.length && !this.done) {
      if (this.left > 0) {
        const n = Math.min(this.left, buf.length - i);
        this.left -= n;
        this.bytes += n;
        i += n;
        if (this.left === 0) this.trail = 2;
        continue;
      }
      if (this.trail > 0) {
        this.trail--;
        i++;
        continue;
      }
      const nl = buf.indexOf(0x0a, i);
      if (nl < 0) {
        this.line += buf.subarray(i).toString('latin1');
        return;
      }
      this.line += buf.subarray(i, nl).toString('latin1');
      i = nl + 1;
      const line = this.line.replace(/\r$/, '');
      this.line = '';
      if (this.trailer) {
        if (line === '') this.done = true;
        continue;
      }
      const size = parseInt(line.split(';')[0], 16);
      if (Number.isNaN(size)) throw new Error(`bad chunk size line ${JSON.stringify(line)}`);
      if (size === 0) this.trailer = true;
      else this.left = size;
    }
  }
}

/** Asserts that every security header (and a UUID request id) is on a response. */
export function assertSecurityHeaders(res, what = '') {
  const h = res.headers;
  for (const [name, value] of Object.entries(SECURITY_HEADERS))
    assert.equal(h[name], value, `${what}: header ${name} (status ${res.status})`);
  assert.match(h['x-ingate-request-id'] || '', UUID_RE, `${what}: X-Ingate-Request-Id (status ${res.status})`);
}

/** Asserts the OpenAI error shape {"error":{"message","type","code"}} with the given code. */
export function assertOpenAIError(res, status, code) {
  assert.equal(res.status, status, `status; body: ${res.text}`);
  assert.match(res.headers['content-type'] || '', /application\/json/);
  assert.ok(res.json && typeof res.json.error === 'object', `OpenAI-shaped error expected, got ${res.text}`);
  assert.equal(typeof res.json.error.message, 'string');
  assert.equal(typeof res.json.error.type, 'string');
  if (code) assert.equal(res.json.error.code, code, `error code; body: ${res.text}`);
}

/** Asserts the management API's flat error shape {"error": "...", "error_code": "..."}. */
export function assertFlatError(res, status, code) {
  assert.equal(res.status, status, `status; body: ${res.text}`);
  assert.ok(res.json && typeof res.json.error === 'string', `flat error expected, got ${res.text}`);
  if (code) assert.equal(res.json.error_code, code, `error_code; body: ${res.text}`);
}

/** A fetch() for the SDKs that trusts the gateway's certificate (built on node:https, streams the body). */
export function makeFetch(ca) {
  return async function fetchWithCa(input, init = {}) {
    const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
    const method = (init.method || (input && input.method) || 'GET').toUpperCase();
    const headers = {};
    new Headers(init.headers || (input && input.headers) || {}).forEach((v, k) => {
      headers[k] = v;
    });
    let body = init.body;
    if (body != null && typeof body !== 'string' && !Buffer.isBuffer(body)) {
      if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) body = Buffer.from(body.buffer ?? body);
      else {
        const r = new Response(body);
        if (!headers['content-type'] && r.headers.get('content-type')) headers['content-type'] = r.headers.get('content-type');
        body = Buffer.from(await r.arrayBuffer());
      }
    }
    return new Promise((resolve, reject) => {
      const req = https.request(
        { host: url.hostname, port: url.port, path: url.pathname + url.search, method, headers, ca, agent: false },
        (res) => {
          const h = new Headers();
          for (let i = 0; i < res.rawHeaders.length; i += 2) h.append(res.rawHeaders[i], res.rawHeaders[i + 1]);
          const noBody = method === 'HEAD' || res.statusCode === 204 || res.statusCode === 304;
          if (noBody) res.resume();
          resolve(new Response(noBody ? null : Readable.toWeb(res), { status: res.statusCode, statusText: res.statusMessage, headers: h }));
        }
      );
      req.on('error', reject);
      const signal = init.signal;
      if (signal) {
        if (signal.aborted) req.destroy(new DOMException('The operation was aborted', 'AbortError'));
        signal.addEventListener('abort', () => req.destroy(new DOMException('The operation was aborted', 'AbortError')), { once: true });
      }
      req.end(body);
    });
  };
}

/** Walks a directory recursively; returns the paths of regular files. */
export async function listFiles(dir) {
  const out = [];
  for (const e of await fsp.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listFiles(p)));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/** Bytes a process has written so far (all fds), from /proc/<pid>/io: allocator-independent progress. */
export function procWchar(pid) {
  const m = /^wchar:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/io`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

/** Unique short id for tagging requests (X-Test-Id) and naming orgs. */
export function uid(prefix = 't') {
  return `${prefix}-${crypto.randomBytes(6).toString('hex')}`;
}

// ------------------------------------------------------------------------------------------------------
// identity (signup, login, session tokens)

/**
 * serve flags for suites that sign up or log in more than the default limiter allows from 127.0.0.1, with
 * the cheapest bcrypt cost the gateway accepts (~65 ms a hash).
 */
export const LOOSE_AUTH_ARGS = ['--auth-rate-limit', '1000', '--bcrypt-cost', '10'];

/** A unique, valid, lower-case email address. */
export function newEmail(prefix = 'u') {
  return `${prefix}-${crypto.randomBytes(6).toString('hex')}@example.test`;
}

/** A unique password that passes the policy (12..72 bytes), easy to grep for. */
export function newPassword(prefix = 'pw') {
  return `${prefix}-${crypto.randomBytes(12).toString('hex')}`;
}

/** The decoded header and payload of a JWT (no verification) and its raw segments. */
export function decodeJwt(token) {
  const [h, p, s] = token.split('.');
  const dec = (x) => JSON.parse(Buffer.from(x, 'base64url').toString('utf8'));
  return { header: dec(h), payload: dec(p), segments: [h, p, s] };
}

/** base64url (no padding) of a string or Buffer. */
export function b64url(x) {
  return Buffer.from(x).toString('base64url');
}

/** A random 32-char lowercase hex id (the shape of every store id) that names nothing. */
export function randomId() {
  return crypto.randomBytes(16).toString('hex');
}
