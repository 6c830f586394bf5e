// The dashboard's files as the gateway serves them (src/app/ui.c, docs/dashboard.md): embedded at build time,
// index.html for the dashboard's routes with its own CSP and no inline code, content-hashed assets cached for
// a year, gzip when the client accepts it, strong ETags answered with 304, nothing but GET and HEAD, and the
// bare address sending a browser to /ui/.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { startMock, startGateway, assertFlatError, SECURITY_HEADERS } from './lib/harness.mjs';

const UI_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; " +
  "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
const API_CSP = "default-src 'none'; frame-ancestors 'none'";

describe('dashboard files', () => {
  let mock, gw, page;
  before(async () => {
    mock = await startMock();
    gw = await startGateway({ mock });
  });
  after(async () => {
    await gw?.destroy();
    await mock?.stop();
  });

  const get = (path, headers = {}, method = 'GET') => gw.request({ method, path, headers });

  it('GET /ui/ is the page: HTML, the dashboard CSP, revalidated on every load, every security header', async () => {
    page = await get('/ui/');
    assert.equal(page.status, 200, page.text);
    assert.match(page.headers['content-type'], /^text\/html; charset=utf-8$/);
    assert.equal(page.headers['content-security-policy'], UI_CSP);
    assert.equal(page.headers['cache-control'], 'no-cache');
    assert.match(page.headers.etag, /^"[A-Za-z0-9_-]{22}"$/);
    for (const [name, value] of Object.entries(SECURITY_HEADERS))
      if (name !== 'content-security-policy') assert.equal(page.headers[name], value, name);
    assert.equal(page.headers['content-encoding'], undefined, 'identity unless the client accepts gzip');
  });

  it('the page has no inline script, style or handler, and loads nothing from another origin', () => {
    const html = page.text;
    for (const m of html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)) {
      assert.match(m[1], /\bsrc="\/ui\/assets\/[^"]+\.js"/, `a script without src: ${m[0].slice(0, 80)}`);
      assert.equal(m[2].trim(), '', 'a script with a body');
    }
    assert.doesNotMatch(html, /<style\b/i);
    assert.doesNotMatch(html, /\sstyle\s*=/i);
    assert.doesNotMatch(html, /\son[a-z]+\s*=/i);
    assert.doesNotMatch(html, /(?:src|href)\s*=\s*"(?:https?:)?\/\//i, 'an absolute URL');
  });

  it('the dashboard routes answer the same page (deep links and reloads work); /ui/index.html is not a second address', async () => {
    for (const p of ['/ui/logs', '/ui/keys', '/ui/settings/', '/ui/logs/0190c6c4-1111-7222-8333-444455556666']) {
      const r = await get(p);
      assert.equal(r.status, 200, p);
      assert.equal(r.text, page.text, p);
    }
    assertFlatError(await get('/ui/index.html'), 404);
  });

  it('every asset the page names is served, hashed, immutable, gzip when accepted (and the same bytes)', async () => {
    const refs = [...page.text.matchAll(/(?:src|href)="(\/ui\/assets\/[^"]+)"/g)].map((m) => m[1]);
    assert.ok(refs.some((r) => r.endsWith('.js')) && refs.some((r) => r.endsWith('.css')), `assets: ${refs}`);
    for (const ref of refs) {
      assert.match(ref, /-[A-Za-z0-9_-]{6,}\.[a-z0-9]+$/, `${ref}: a content hash in the name`);
      const plain = await get(ref);
      assert.equal(plain.status, 200, ref);
      assert.equal(plain.headers['cache-control'], 'public, max-age=31536000, immutable');
      assert.equal(plain.headers['content-security-policy'], UI_CSP);
      assert.match(plain.headers['content-type'], ref.endsWith('.js') ? /^text\/javascript/ : /^(text\/css|image\/|font\/)/);
      const gz = await get(ref, { 'accept-encoding': 'gzip, deflate, br' });
      if (/\.(js|css|svg)$/.test(ref)) {
        assert.equal(gz.headers['content-encoding'], 'gzip', ref);
        assert.equal(gz.headers.vary, 'Accept-Encoding');
        assert.ok(gz.body.length < plain.body.length);
        assert.deepEqual(zlib.gunzipSync(gz.body), plain.body, `${ref}: gzip is the same file`);
      }
      const refused = await get(ref, { 'accept-encoding': 'gzip;q=0' });
      assert.equal(refused.headers['content-encoding'], undefined);
      assert.equal(refused.headers.etag, plain.headers.etag, 'one ETag for both encodings (strong, of the file)');
    }
  });

  it('If-None-Match with the ETag answers 304 without a body', async () => {
    const r = await get('/ui/', { 'if-none-match': page.headers.etag });
    assert.equal(r.status, 304);
    assert.equal(r.body.length, 0);
    assert.equal(r.headers.etag, page.headers.etag);
    const other = await get('/ui/', { 'if-none-match': '"something-else"' });
    assert.equal(other.status, 200);
  });

  it('only GET and HEAD; missing files 404 with the API policy; /ui and / redirect to /ui/', async () => {
    const head = await get('/ui/', {}, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    for (const m of ['POST', 'PUT', 'DELETE']) {
      const r = await get('/ui/', {}, m);
      assert.equal(r.status, 405, m);
      assert.equal(r.headers.allow, 'GET, HEAD');
    }
    const missing = await get('/ui/assets/app-00000000.js');
    assertFlatError(missing, 404);
    assert.equal(missing.headers['content-security-policy'], API_CSP);
    const bare = await get('/ui');
    assert.equal(bare.status, 301);
    assert.equal(bare.headers.location, '/ui/');
    const root = await get('/');
    assert.equal(root.status, 302);
    assert.equal(root.headers.location, '/ui/');
    // only a browser's GET of the bare address: anything else at / is a model call, which needs a key
    const post = await gw.request({ method: 'POST', path: '/', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(post.status, 401);
  });
});
