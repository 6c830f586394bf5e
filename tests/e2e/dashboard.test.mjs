// dashboard.test.mjs — the web dashboard end to end, in Debian's chromium against the real gateway and the
// mock upstream: signup → sign out and in → a key read once → a provider key → proxied calls with PII →
// the calls in Logs, redacted → export → rotate and revoke → a viewer's read-only pages → CSRF refused →
// an expired session back at sign-in with a message → sign out. Every step fails on any console error,
// uncaught exception, CSP violation or third-party request (lib/browser.mjs), and saves screenshots to
// tests/out/e2e/.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { LOOSE_AUTH_ARGS, T, newEmail, newPassword, startGateway, startMock, uid, waitFor } from '../integration/lib/harness.mjs';
import { EXPIRED_TEXT, OUT_DIR, SESSION_COOKIE, clickNav, enabledControls, go, launch, newContext, shot, startOtherSite, watch } from './lib/browser.mjs';

const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; " +
  "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
const PII_EMAIL = 'alice.e2e@example.com';
const PII_CARD = '4111 1111 1111 1111';
const MODEL = 'gpt-4o-mini';

describe('dashboard', () => {
  let mock, gw, browser, other;
  let origin;
  let ctx, page, w; // the owner's browser
  const owner = { email: newEmail('owner'), password: newPassword(), slug: uid('e2e') };
  const providerSecret = `sk-upstream-${uid('p')}`;
  let rawKey, rotatedKey, firstKey;

  /** A management API call from node with the browser's session cookie (and the CSRF token when given). */
  async function cookieApi(method, urlPath, { body, csrf, origin: o = origin, cookies } = {}) {
    const jar = cookies || (await ctx.cookies(origin));
    const c = jar.find((x) => x.name === SESSION_COOKIE);
    const headers = { cookie: c ? `${c.name}=${c.value}` : '' };
    if (csrf) headers['x-csrf-token'] = csrf;
    if (o) headers.origin = o;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const data = body === undefined ? undefined : JSON.stringify(body);
    if (data !== undefined) headers['content-length'] = String(Buffer.byteLength(data));
    return gw.request({ method, path: `/api/v1${urlPath}`, headers, body: data });
  }

  /** A model call through the gateway with an API key. */
  function chat(key, content, extra = {}) {
    const body = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content }], ...extra });
    return gw.request({
      method: 'POST',
      path: '/v1/chat/completions',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) },
      body,
    });
  }

  async function signIn(p, email, password) {
    await p.getByLabel('Email').fill(email);
    await p.getByLabel('Password', { exact: true }).fill(password);
    await p.getByRole('button', { name: 'Sign in' }).click();
  }

  before(async () => {
    fs.mkdirSync(OUT_DIR, { recursive: true });
    mock = await startMock();
    gw = await startGateway({ mock, args: LOOSE_AUTH_ARGS });
    origin = gw.url;
    browser = await launch();
    other = await startOtherSite();
    ctx = await newContext(browser);
    await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin });
    page = await ctx.newPage();
    w = watch(page, origin);
  });

  after(async () => {
    if (browser) await browser.close();
    if (other) await other.close();
    if (gw) await gw.stop();
    if (mock) await mock.stop();
  });

  it('serves the dashboard under /ui/ with its own CSP, deep links and hashed, cacheable assets', async () => {
    const root = await gw.request({ path: '/' });
    assert.equal(root.status, 302);
    assert.equal(root.headers.location, '/ui/');
    const index = await gw.request({ path: '/ui/' });
    assert.equal(index.status, 200, index.text);
    assert.match(index.headers['content-type'], /^text\/html/);
    assert.equal(index.headers['content-security-policy'], CSP);
    assert.match(index.headers['cache-control'] || '', /no-cache/);
    assert.doesNotMatch(index.text, /<style|\sstyle=|\son[a-z]+=|<script(?![^>]*\bsrc=)/i);
    const deep = await gw.request({ path: '/ui/logs/some-id' });
    assert.equal(deep.status, 200);
    assert.equal(deep.text, index.text, 'a deep link answers index.html');
    const assets = [...index.text.matchAll(/(?:src|href)="(\/ui\/assets\/[^"]+)"/g)].map((m) => m[1]);
    assert.ok(assets.some((a) => /\/app-[A-Z0-9]{8}\.js$/.test(a)) && assets.some((a) => /\/app-[A-Z0-9]{8}\.css$/.test(a)), assets.join());
    for (const a of assets) {
      const r = await gw.request({ path: a, headers: { 'accept-encoding': 'gzip' } });
      assert.equal(r.status, 200, a);
      assert.match(r.headers['cache-control'] || '', /immutable/, `${a} cache-control`);
    }
    const missing = await gw.request({ path: '/ui/assets/app-00000000.js' });
    assert.equal(missing.status, 404);
  });

  it('signs up, shows the first API key once, and keeps the session in a Secure HttpOnly SameSite=Strict cookie', async () => {
    await page.goto(`${origin}/ui/`);
    await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
    assert.equal(await page.locator('#auth-notice').count(), 0, 'no message for a first visit');
    await shot(page, 'login');
    await page.getByRole('link', { name: 'Create an organisation' }).click();
    await page.getByRole('heading', { level: 1, name: 'Create an organisation' }).waitFor();
    await page.getByLabel('Email').fill(owner.email);
    await page.getByLabel('Password', { exact: true }).fill('short');
    await page.getByLabel('Organisation name').fill('E2E Corp');
    await page.getByLabel('Organisation slug').fill(owner.slug);
    await page.getByRole('button', { name: 'Create organisation' }).click();
    // the API's error is shown next to the password field
    const pwErr = page.locator('#signup-password-err');
    await pwErr.waitFor();
    assert.match(await pwErr.textContent(), /\w/);
    assert.equal(await page.getByLabel('Password', { exact: true }).getAttribute('aria-invalid'), 'true');
    await shot(page, 'signup-error');
    await page.getByLabel('Password', { exact: true }).fill(owner.password);
    await page.getByRole('button', { name: 'Create organisation' }).click();
    const welcome = page.locator('#welcome-key');
    await welcome.waitFor();
    firstKey = await welcome.inputValue();
    assert.match(firstKey, /^sk-ingate-[0-9A-Za-z]{49}$/);
    assert.match(await page.locator('.secret-once').textContent(), /Shown only once/);
    // what a new user needs to send a first request: this gateway's base URL and how to send the key, which
    // itself stays in its one-time field
    const curl = await page.locator('#welcome-first-request-curl').textContent();
    assert.ok(curl.includes(`curl ${origin}/v1/chat/completions`), curl);
    assert.ok(curl.includes('X-Ingate-Key: $INGATE_KEY'), curl);
    assert.ok((await page.locator('#welcome-first-request-sdk').textContent()).includes(`baseURL: "${origin}/v1"`));
    assert.ok(!(await page.locator('.first-request').textContent()).includes(firstKey));
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();

    const cookies = await ctx.cookies(origin);
    const c = cookies.find((x) => x.name === SESSION_COOKIE);
    assert.ok(c, `session cookie ${SESSION_COOKIE} set (cookies: ${cookies.map((x) => x.name).join()})`);
    assert.equal(c.httpOnly, true, 'HttpOnly');
    assert.equal(c.secure, true, 'Secure');
    assert.equal(c.sameSite, 'Strict', 'SameSite=Strict');
    assert.equal(c.path, '/');
    assert.equal(await page.evaluate(() => document.cookie), '', 'the page cannot read the session cookie');
    assert.ok(!(await page.evaluate(() => JSON.stringify(localStorage) + JSON.stringify(sessionStorage))).includes(firstKey));

    await page.getByRole('button', { name: 'I have stored it' }).click();
    assert.equal(await page.locator('#welcome-key').count(), 0);
    assert.equal(await page.locator('.first-request').count(), 0);
    assert.ok(!(await page.content()).includes(firstKey), 'the key is gone from the page');
    w.assertClean('signup');
  });

  it('enforces the CSP in the page, and the watch reports any violation', async () => {
    // what the dashboard must never do, done on purpose: each is blocked and reported
    const blocked = await page.evaluate(() => {
      const s = document.createElement('script');
      s.textContent = 'window.__inline = 1';
      document.body.append(s);
      const st = document.createElement('style');
      st.textContent = 'body { color: red }';
      document.head.append(st);
      const img = new Image();
      img.src = 'https://example.invalid/pixel.png';
      return { inline: window.__inline === 1, style: getComputedStyle(document.body).color === 'rgb(255, 0, 0)' };
    });
    assert.deepEqual(blocked, { inline: false, style: false }, 'inline script and inline style are blocked');
    // a string timer is eval: run from the page (DevTools' own evaluation is exempt from the CSP)
    await page.evaluate(() => setTimeout('window.__evalRan = true', 0)); // eslint-disable-line no-implied-eval
    await page.waitForTimeout(300);
    assert.equal(await page.evaluate(() => window.__evalRan === true), false, 'eval is blocked');
    const problems = w.take();
    assert.ok(problems.some((p) => /unsafe-eval|eval/.test(p)), `the blocked eval is reported:\n${problems.join('\n')}`);
    for (const directive of ['script-src', 'style-src', 'img-src'])
      assert.ok(problems.some((p) => p.includes('CSP violation') && p.includes(directive)), `${directive} violation reported:\n${problems.join('\n')}`);
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    w.assertClean('after the reload');
  });

  it('signs out, then signs in again with the password', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
    assert.match(await page.locator('#auth-notice').textContent(), /signed out/);
    assert.equal((await ctx.cookies(origin)).filter((x) => x.name === SESSION_COOKIE).length, 0, 'cookie cleared');
    await signIn(page, owner.email, 'wrong-password-123');
    await page.locator('#login-password-err').waitFor();
    assert.match(await page.locator('#login-password-err').textContent(), /Wrong email or password/);
    await signIn(page, owner.email, owner.password);
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    assert.equal(page.url(), `${origin}/ui/`);
    assert.match(await page.locator('header .role').textContent(), /owner/);
    w.assertClean('login');
  });

  it('creates an API key and shows it exactly once, with a copy button', async () => {
    await go(page, 'API keys');
    await page.getByLabel('Name', { exact: true }).fill('e2e-key');
    await page.getByRole('button', { name: 'Create key' }).click();
    const secret = page.locator('#new-key');
    await secret.waitFor();
    rawKey = await secret.inputValue();
    assert.match(rawKey, /^sk-ingate-[0-9A-Za-z]{49}$/);
    assert.match(await page.locator('.secret-once').textContent(), /only time the key is shown/);
    await page.locator('.secret-once').getByRole('button', { name: 'Copy' }).click();
    await page.getByText('Copied to the clipboard.').waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), rawKey);
    await page.evaluate(() => navigator.clipboard.writeText(''));
    await page.getByRole('button', { name: 'I have stored it' }).click();
    await page.getByRole('row', { name: /e2e-key/ }).waitFor();
    assert.ok(!(await page.content()).includes(rawKey), 'the raw key is not in the page once dismissed');
    await page.reload();
    await page.getByRole('row', { name: /e2e-key/ }).waitFor();
    assert.ok(!(await page.content()).includes(rawKey), 'nor after a reload');
    await shot(page, 'keys');
    w.assertClean('keys');
  });

  it('stores a provider key (never shown back) and sets the default provider', async () => {
    await go(page, 'Providers');
    const card = page.locator('[data-provider="openai"]');
    await card.getByLabel('Provider key').fill(providerSecret);
    await card.getByRole('button', { name: 'Save key' }).click();
    await page.getByText('Key for openai stored.').waitFor();
    await card.getByText('configured (stored)').waitFor();
    assert.match(await card.locator('dd.mono').textContent(), /^[0-9a-f]{16}$/, 'a fingerprint is shown');
    assert.equal(await card.getByLabel(/provider key/i).inputValue(), '');
    assert.ok(!(await page.content()).includes(providerSecret), 'the provider key is not in the page');
    await page.getByRole('combobox', { name: 'Default provider' }).selectOption('openai');
    await page.getByRole('button', { name: 'Save default provider' }).click();
    await page.getByText('Default provider set to openai.').waitFor();
    await shot(page, 'providers');
    w.assertClean('providers');
  });

  it('switches to Enterprise and turns on PII redaction of stored logs', async () => {
    await go(page, 'Billing & plan');
    await page.getByRole('combobox', { name: 'Plan' }).selectOption('enterprise');
    await page.getByRole('button', { name: 'Change plan…' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Change plan' }).click();
    await page.getByText('now on the Enterprise plan').waitFor();
    await shot(page, 'billing');
    await go(page, 'Settings');
    await page.getByRole('heading', { name: 'Your plan: Enterprise' }).waitFor();
    await page.getByLabel('Redact personal data before bodies are stored').check();
    await page.getByLabel('Requests per minute').fill('not-a-number');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page.locator('#st-rpm-err').waitFor(); // the API names rate_limits: shown at that field
    await page.getByLabel('Requests per minute').fill('');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page.getByText('Settings saved.').waitFor();
    await shot(page, 'settings');
    const org = await cookieApi('GET', '/org');
    assert.equal(org.json.org.settings.redaction.enabled, true, org.text);
    w.assertClean('settings');
  });

  it('proxies calls made with the new key; they appear in Logs with the PII redacted', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await chat(rawKey, `Please reply to ${PII_EMAIL}, card ${PII_CARD}. #${i}`);
      assert.equal(r.status, 200, r.text);
    }
    const s = await chat(rawKey, `Streamed answer for ${PII_EMAIL}`, { stream: true, stream_options: { include_usage: true } });
    assert.equal(s.status, 200, s.text);
    assert.match(s.text, /data: \[DONE\]/);
    const seen = (await mock.requests()).filter((r) => r.path === '/v1/chat/completions');
    assert.equal(seen.length, 4);
    for (const r of seen)
      assert.equal(r.headers.find(([k]) => k.toLowerCase() === 'authorization')[1], `Bearer ${providerSecret}`, 'the stored provider key went upstream');
    await waitFor(async () => {
      const r = await cookieApi('GET', '/logs?limit=10');
      return r.status === 200 && r.json.logs.length >= 4;
    }, { timeoutMs: T(10000), what: 'four log records' });

    await go(page, 'Logs');
    await page.getByLabel('Model').fill(MODEL);
    await page.getByRole('button', { name: 'Apply filters' }).click();
    const rows = page.locator('table tbody tr');
    await waitFor(async () => (await rows.count()) >= 4, { what: 'four rows' });
    assert.ok(!(await page.content()).includes(PII_EMAIL));
    await shot(page, 'logs');

    // a non-streamed call's detail: the stored request is redacted
    await page.locator('tr[data-stream="no"]').first().getByRole('link').click();
    await page.getByRole('heading', { name: 'Request body' }).waitFor();
    const req = await page.locator('#req-body').textContent();
    assert.match(req, /\[REDACTED\]/);
    assert.ok(!req.includes(PII_EMAIL) && !req.includes(PII_CARD) && !req.includes('4111'), req);
    assert.match(await page.locator('#resp-body').textContent(), /choices/);
    await shot(page, 'log-detail');
    assert.ok(!(await page.content()).includes(PII_EMAIL));
    await page.getByRole('link', { name: '← Back to the log' }).click();
    await page.getByRole('heading', { level: 1, name: 'Logs' }).waitFor();
    assert.ok((await rows.count()) >= 4, 'the filtered list is kept');

    // the streamed call: its events are reassembled into readable text
    await page.locator('tr[data-stream="yes"]').first().getByRole('link').click();
    await page.getByRole('heading', { name: 'Response body' }).waitFor();
    const text = await page.locator('#resp-body pre.assembled').textContent();
    assert.ok(text.length > 0 && text !== '(no text pieces)', `assembled text: ${text}`);
    assert.match(await page.locator('#resp-body').textContent(), /events/);
    assert.ok(!(await page.locator('#req-body').textContent()).includes(PII_EMAIL));
    await shot(page, 'log-detail-stream');
    await page.goBack();
    await page.getByRole('heading', { level: 1, name: 'Logs' }).waitFor();
    w.assertClean('logs');
  });

  it('exports the current range as JSONL', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Export JSONL' }).click()]);
    const file = path.join(OUT_DIR, 'export.jsonl');
    await download.saveAs(file);
    const text = fs.readFileSync(file, 'utf8');
    const lines = text.split('\n').filter(Boolean).map((l) => JSON.parse(l));
    assert.ok(lines.length >= 4, `${lines.length} records exported`);
    for (const r of lines) {
      assert.equal(r.model, MODEL);
      assert.ok('req_body' in r, 'exports carry the bodies');
    }
    assert.ok(!text.includes(PII_EMAIL) && !text.includes(PII_CARD), 'the export is redacted');
    w.assertClean('export');
  });

  it('draws the overview charts from the usage API', async () => {
    await go(page, 'Overview');
    await page.locator('.cards').waitFor();
    assert.match(await page.locator('.card', { hasText: 'Requests' }).first().locator('dd').textContent(), /^[4-9]$/);
    await waitFor(async () => (await page.locator('.chart-box canvas').count()) >= 5, { what: 'five uPlot canvases' });
    await page.getByRole('heading', { name: 'Per model' }).waitFor();
    await page.getByRole('row', { name: new RegExp(MODEL) }).first().waitFor();
    await shot(page, 'overview');
    w.assertClean('overview');
  });

  it('rotates a key (new key shown once, old one stopped) and revokes one', async () => {
    await go(page, 'API keys');
    await page.getByRole('button', { name: 'Rotate key e2e-key' }).click();
    const dlg = page.getByRole('dialog');
    await dlg.getByLabel('The old key keeps working for').selectOption('0');
    await dlg.getByRole('button', { name: 'Rotate key' }).click();
    await page.locator('#new-key').waitFor();
    rotatedKey = await page.locator('#new-key').inputValue();
    assert.match(rotatedKey, /^sk-ingate-/);
    assert.notEqual(rotatedKey, rawKey);
    await shot(page, 'keys-rotated');
    await page.getByRole('button', { name: 'I have stored it' }).click();
    assert.equal((await chat(rawKey, 'old key')).status, 401, 'the old key stopped (no overlap)');
    assert.equal((await chat(rotatedKey, 'new key')).status, 200, 'the new key works');

    await page.getByRole('button', { name: 'Revoke key e2e-key' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Revoke key' }).click();
    await page.getByText(/revoked: it is refused from the next request/).waitFor();
    assert.equal((await chat(rotatedKey, 'revoked key')).status, 401, 'the revoked key is refused');
    assert.equal(await page.getByRole('button', { name: 'Revoke key e2e-key' }).count(), 0);
    w.assertClean('rotate and revoke');
  });

  it('refuses state-changing calls without the CSRF token or from another origin', async () => {
    const keysBefore = (await cookieApi('GET', '/keys')).json.keys.length;
    const me = await cookieApi('GET', '/me');
    assert.equal(me.status, 200, me.text);
    const csrf = me.json.csrf_token;
    assert.ok(typeof csrf === 'string' && csrf.length >= 16, 'GET /me gives the CSRF token back');

    const noToken = await cookieApi('POST', '/keys', { body: { name: 'csrf-a' } });
    assert.equal(noToken.status, 403, noToken.text);
    assert.equal(noToken.json.error_code, 'csrf_failed');
    const wrongToken = await cookieApi('POST', '/keys', { body: { name: 'csrf-b' }, csrf: `${csrf}x` });
    assert.equal(wrongToken.status, 403);
    const foreign = await cookieApi('POST', '/keys', { body: { name: 'csrf-c' }, csrf, origin: `http://127.0.0.1:${other.port}` });
    assert.equal(foreign.status, 403, foreign.text);
    assert.equal(foreign.json.error_code, 'csrf_failed');

    // a page on other origins auto-submitting a form to the API with the browser's cookies
    const body = JSON.stringify({ name: 'csrf-form' });
    for (const host of ['127.0.0.1', 'localhost']) {
      const evil = await ctx.newPage();
      const posted = evil.waitForResponse((r) => r.url() === `${origin}/api/v1/keys` && r.request().method() === 'POST');
      await evil.goto(`http://${host}:${other.port}/form?to=${encodeURIComponent(`${origin}/api/v1/keys`)}&body=${encodeURIComponent(body)}`);
      const r = await posted;
      assert.ok([401, 403].includes(r.status()), `form POST from ${host}: ${r.status()}`);
      await evil.close();
    }
    const keys = (await cookieApi('GET', '/keys')).json.keys;
    assert.equal(keys.length, keysBefore, 'no key was created');
    assert.ok(!keys.some((k) => /^csrf-/.test(k.name)));
    w.assertClean('csrf');
  });

  it('shows a viewer read-only pages', async () => {
    // invite a viewer through the API with the owner's cookie session, accept the invitation
    const csrf = (await cookieApi('GET', '/me')).json.csrf_token;
    const viewer = { email: newEmail('viewer'), password: newPassword() };
    const inv = await cookieApi('POST', '/members', { body: { email: viewer.email, role: 'viewer' }, csrf });
    assert.equal(inv.status, 201, inv.text);
    const acc = await gw.api(null, 'POST', '/invitations/accept', { token: inv.json.invite_token, password: viewer.password });
    assert.equal(acc.status, 201, acc.text);

    const vctx = await newContext(browser);
    const vp = await vctx.newPage();
    const vw = watch(vp, origin);
    try {
      await vp.goto(`${origin}/ui/login`);
      await signIn(vp, viewer.email, viewer.password);
      await vp.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
      assert.match(await vp.locator('header .role').textContent(), /viewer/);
      const nav = vp.getByRole('navigation', { name: 'Main' });
      for (const hidden of ['API keys', 'Webhooks', 'Billing & plan'])
        assert.equal(await nav.getByRole('link', { name: hidden, exact: true }).count(), 0, `${hidden} hidden`);
      await shot(vp, 'viewer-overview');

      await go(vp, 'Logs');
      await vp.locator('table tbody tr').first().waitFor();

      await go(vp, 'Providers');
      await vp.getByText('Read-only: to change provider keys').waitFor();
      assert.equal(await enabledControls(vp), 0, 'every provider control disabled');
      await shot(vp, 'viewer-providers');

      await go(vp, 'Settings');
      await vp.getByText('Read-only: to change the settings').waitFor();
      assert.ok(await vp.getByRole('button', { name: 'Save settings' }).isDisabled());
      assert.equal(await enabledControls(vp), 0, 'every settings control disabled');
      await shot(vp, 'viewer-settings');

      await go(vp, 'Members & teams');
      await vp.getByText('Read-only: to see and manage members').waitFor();
      assert.equal(await vp.getByRole('button', { name: /Create|Invite|Remove|Delete|Transfer/ }).count(), 0);

      await go(vp, 'Budgets');
      assert.equal(await vp.getByRole('button', { name: /Create budget|Delete budget/ }).count(), 0);

      await go(vp, 'Audit log');
      assert.match(await vp.locator('#audit-verify').textContent(), /^Intact: all \d+ entries/); // viewers read it too

      await vp.goto(`${origin}/ui/keys`);
      await vp.getByText('This page needs the member role; you are viewer.').waitFor();
      await shot(vp, 'viewer-keys-refused');

      // any role changes its own password; the session goes on with a new cookie and CSRF token
      await go(vp, 'Account');
      await vp.getByLabel('Current password').fill('not-the-password');
      await vp.getByLabel('New password').fill(newPassword());
      await vp.getByRole('button', { name: 'Change password' }).click();
      await vp.locator('#pw-current-err').waitFor();
      const next = newPassword();
      await vp.getByLabel('Current password').fill(viewer.password);
      await vp.getByLabel('New password').fill(next);
      await vp.getByRole('button', { name: 'Change password' }).click();
      await vp.getByText('Password changed.').waitFor();
      await shot(vp, 'viewer-account');
      await go(vp, 'Logs');
      await vp.locator('table tbody tr').first().waitFor();
      assert.equal((await gw.login(viewer.email, viewer.password)).status, 401, 'the old password no longer works');
      vw.assertClean('viewer');
    } finally {
      await vctx.close();
    }
  });

  it('lists members and checks the audit chain for the owner', async () => {
    await go(page, 'Members & teams');
    await page.getByRole('row', { name: /viewer-/ }).waitFor();
    await page.getByLabel('Email', { exact: true }).fill(newEmail('invitee'));
    await page.getByRole('button', { name: 'Invite', exact: true }).click();
    const link = page.locator('#invite-link');
    await link.waitFor();
    const inviteUrl = await link.inputValue();
    assert.match(inviteUrl, new RegExp(`^${origin}/ui/accept#token=ig_inv_[A-Za-z0-9_-]{43}$`));
    await page.getByRole('button', { name: 'Done' }).click();

    // the invitee opens the link in their own browser and joins with a new password
    const ictx = await newContext(browser);
    try {
      const ip = await ictx.newPage();
      const iw = watch(ip, origin);
      await ip.goto(inviteUrl);
      await ip.getByRole('heading', { level: 1, name: 'Accept an invitation' }).waitFor();
      assert.equal(await ip.getByLabel('Invitation token').inputValue(), inviteUrl.split('#token=')[1]);
      await ip.getByLabel('Password', { exact: true }).fill(newPassword());
      await ip.getByRole('button', { name: 'Join the organisation' }).click();
      await ip.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
      assert.match(await ip.locator('header .role').textContent(), /member/);
      const c = (await ictx.cookies(origin)).find((x) => x.name === SESSION_COOKIE);
      assert.ok(c && c.httpOnly && c.secure && c.sameSite === 'Strict', 'the invitee gets the same kind of cookie session');
      iw.assertClean('invitee');
    } finally {
      await ictx.close();
    }
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Members & teams' }).waitFor();
    await page.getByRole('row', { name: /invitee-/ }).waitFor();
    await page.getByLabel('New team name').fill('platform');
    await page.getByRole('button', { name: 'Create team' }).click();
    await page.getByRole('row', { name: /platform/ }).waitFor();
    await shot(page, 'members');

    await go(page, 'Audit log');
    const verdict = page.locator('#audit-verify');
    await verdict.waitFor();
    assert.match(await verdict.textContent(), /^Intact: all \d+ entries/);
    for (const action of ['key.create', 'key.rotate', 'key.revoke', 'provider.update', 'user.invite'])
      await page.getByRole('rowheader', { name: action, exact: true }).first().waitFor();
    await shot(page, 'audit');

    await go(page, 'Budgets');
    await page.getByLabel('Hard limit (USD)').fill('25');
    await page.getByRole('button', { name: 'Create budget' }).click();
    await page.getByRole('progressbar').first().waitFor();
    await shot(page, 'budgets');
    await go(page, 'Webhooks');
    await shot(page, 'webhooks');
    w.assertClean('members, audit, budgets');
  });

  it('reads well at 390 px: the navigation becomes a menu; the keyboard reaches the page', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    try {
      await go(page, 'Overview');
      const menu = page.getByRole('button', { name: 'Menu' });
      assert.ok(await menu.isVisible(), 'a menu button on narrow screens');
      assert.equal(await menu.getAttribute('aria-expanded'), 'false');
      assert.ok(!(await page.getByRole('navigation', { name: 'Main' }).isVisible()));
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.ok(overflow <= 1, `no sideways scrolling of the page (${overflow} px)`);
      await shot(page, 'overview-390');
      await menu.click();
      assert.equal(await menu.getAttribute('aria-expanded'), 'true');
      await shot(page, 'menu-390');
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Logs', exact: true }).click();
      await page.getByRole('heading', { level: 1, name: 'Logs' }).waitFor();
      assert.ok(!(await page.getByRole('navigation', { name: 'Main' }).isVisible()), 'the menu closes after a choice');
      await shot(page, 'logs-390');
    } finally {
      await page.setViewportSize({ width: 1280, height: 900 });
    }
    // keyboard: after a reload the skip link is the first stop and takes focus to the page
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Logs' }).waitFor();
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Skip to content');
    await page.keyboard.press('Enter');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'main');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'lf-start', 'the next stop is the first filter');
    w.assertClean('390 px and keyboard');
  });

  it('returns to sign-in with a message when the session ends on the server or the cookie is bad', async () => {
    // the session is revoked behind the page's back, then the user moves to another page
    await go(page, 'Logs');
    const csrf = (await cookieApi('GET', '/me')).json.csrf_token;
    const out = await cookieApi('POST', '/logout', { csrf });
    assert.equal(out.status, 200, out.text);
    await clickNav(page, 'Overview');
    await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
    assert.match(await page.locator('#auth-notice').textContent(), new RegExp(EXPIRED_TEXT));
    await shot(page, 'session-expired');

    // a cookie the gateway does not know
    await ctx.addCookies([{ name: SESSION_COOKIE, value: 'not-a-session', url: origin, secure: true, httpOnly: true, sameSite: 'Strict' }]);
    await page.goto(`${origin}/ui/keys`);
    await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
    assert.match(await page.locator('#auth-notice').textContent(), new RegExp(EXPIRED_TEXT));
    await signIn(page, owner.email, owner.password);
    await page.getByRole('heading', { level: 1, name: 'API keys' }).waitFor();
    assert.equal(page.url(), `${origin}/ui/keys`, 'back where the user was going');
    w.assertClean('expired session');
  });

  it('signs out: the cookie is gone and pages ask to sign in again', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
    assert.equal((await ctx.cookies(origin)).filter((x) => x.name === SESSION_COOKIE).length, 0);
    await page.goto(`${origin}/ui/settings`);
    await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
    assert.equal(await page.locator('#auth-notice').count(), 0, 'no "expired" message after a sign-out');
    const me = await cookieApi('GET', '/me');
    assert.equal(me.status, 401);
    w.assertClean('logout');
  });

  it('deletes the organisation behind a typed confirmation', async () => {
    await signIn(page, owner.email, owner.password);
    await page.getByRole('heading', { level: 1, name: 'Settings' }).waitFor(); // where the user was going
    await go(page, 'Members & teams');
    await page.getByRole('button', { name: 'Delete organisation…' }).click();
    const dlg = page.getByRole('dialog');
    const confirm = dlg.getByRole('button', { name: 'Delete organisation' });
    assert.ok(await confirm.isDisabled(), 'disabled until the slug is typed');
    await dlg.getByLabel(/Type the organisation's slug/).fill(`${owner.slug}x`);
    assert.ok(await confirm.isDisabled());
    await shot(page, 'delete-org-confirm');
    await dlg.getByLabel(/Type the organisation's slug/).fill(owner.slug);
    await confirm.click();
    await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
    assert.match(await page.locator('#auth-notice').textContent(), new RegExp(`Organisation ${owner.slug} deleted`));
    await signIn(page, owner.email, owner.password);
    await page.locator('.form-err').waitFor(); // the account now belongs to no organisation (403 no_org)
    assert.equal((await gw.login(owner.email, owner.password)).json.error_code, 'no_org');
    w.assertClean('delete org');
  });
});
