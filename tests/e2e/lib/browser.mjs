// browser.mjs — what the dashboard's browser tests share: Debian's chromium driven by playwright-core, a watch
// that turns every console error, page error, CSP violation, third-party request or failed asset into a test
// failure, screenshots, and a small plain-HTTP server standing in for another site (CSRF attempts).
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
export const OUT_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../out/e2e');
export const SESSION_COOKIE = '__Host-ingate_session';
export const EXPIRED_TEXT = 'Your session has expired — sign in again';

export async function launch() {
  const args = ['--disable-dev-shm-usage'];
  if (typeof process.getuid === 'function' && process.getuid() === 0) args.push('--no-sandbox');
  return chromium.launch({ executablePath: CHROMIUM, args, headless: true });
}

/**
 * A browser context for the gateway at origin (self-signed certificate), with a listener that reports CSP
 * violations as console errors from the first script on.
 */
export async function newContext(browser, { width = 1280, height = 900 } = {}) {
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width, height }, acceptDownloads: true });
  await ctx.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || '(inline)'} at ${e.sourceFile}:${e.lineNumber}`);
    });
  });
  return ctx;
}

/**
 * Watches a dashboard page: returns {take()} that hands over (and clears) the problems seen so far.
 *
 * Allowed: Chromium's "Failed to load resource … status of 4xx" line for an /api/v1/ URL of the gateway — the
 * API answering 401/403/… is how the dashboard learns that nobody is signed in, a session expired or a role
 * may not do something, and Chromium logs every such answer. Anything else is a problem: any other console
 * error, an uncaught exception, a CSP violation, a request to another origin, a 5xx, or an asset that failed.
 */
export function watch(page, origin) {
  const problems = [];
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const url = (m.location() && m.location().url) || '';
    if (/^Failed to load resource: the server responded with a status of 4\d\d/.test(m.text()) && url.startsWith(`${origin}/api/v1/`))
      return;
    problems.push(`console error: ${m.text()} (${url})`);
  });
  page.on('pageerror', (e) => problems.push(`uncaught exception: ${e.message}`));
  page.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith(`${origin}/`) && !u.startsWith('data:') && !u.startsWith('blob:') && u !== 'about:blank')
      problems.push(`request to another origin: ${u}`);
  });
  page.on('response', (r) => {
    const u = r.url();
    if (!u.startsWith(`${origin}/`)) return;
    if (r.status() >= 500) problems.push(`HTTP ${r.status()} for ${u}`);
    else if (r.status() >= 400 && !u.startsWith(`${origin}/api/v1/`)) problems.push(`HTTP ${r.status()} for ${u}`);
  });
  page.on('requestfailed', (r) => {
    const f = r.failure();
    // net::ERR_ABORTED: cancelled by the browser (a navigation away, or a download handed to the download
    // manager), not refused; refusals show as an HTTP status or a CSP error above
    if (f && /ERR_ABORTED/.test(f.errorText)) return;
    problems.push(`request failed: ${r.url()} (${f && f.errorText})`);
  });
  return {
    take: () => problems.splice(0),
    assertClean(what) {
      const p = problems.splice(0);
      assert.deepEqual(p, [], `${what}: the page reported problems:\n${p.join('\n')}`);
    },
  };
}

/** Saves a full-page screenshot to tests/out/e2e/<name>.png. */
export async function shot(page, name) {
  fs.mkdirSync(OUT_DIR, { recursive: true });
  await page.screenshot({ path: path.join(OUT_DIR, `${name}.png`), fullPage: true });
}

/** Clicks the main navigation's link `name` (opening the narrow-screen menu first when it is closed). */
export async function clickNav(page, name) {
  const nav = page.getByRole('navigation', { name: 'Main' });
  if (!(await nav.isVisible())) await page.getByRole('button', { name: 'Menu' }).click();
  await nav.getByRole('link', { name, exact: true }).click();
}

/** clickNav, then waits for that page's heading. */
export async function go(page, name, heading = name) {
  await clickNav(page, name);
  await page.getByRole('heading', { level: 1, name: heading }).waitFor();
}

/** The number of visible, enabled form controls inside `scope` (closed dialogs do not count). */
export function enabledControls(page, scope = 'main') {
  return page.locator(`${scope} :is(input, select, textarea, button):enabled >> visible=true`).count();
}

/**
 * A plain-HTTP server on 127.0.0.1 standing in for another site: GET /form?to=URL&body=JSON answers a page
 * that auto-submits a form POST of `body` (as text/plain, which reads as JSON) to URL, the classic CSRF shape.
 */
export async function startOtherSite() {
  const srv = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://x');
    const to = u.searchParams.get('to') || '';
    const body = u.searchParams.get('body') || '{}';
    // text/plain form bodies are "name=value": split the JSON so that the '=' falls inside a string
    const cut = body.lastIndexOf('"');
    const esc = (s) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><title>another site</title>
<form id="f" method="POST" action="${esc(to)}" enctype="text/plain"><input type="hidden" name="${esc(body.slice(0, cut))}" value="${esc(body.slice(cut))}"></form>
<script>document.getElementById('f').submit();</script>`);
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  return { port: srv.address().port, close: () => new Promise((r) => srv.close(r)) };
}
