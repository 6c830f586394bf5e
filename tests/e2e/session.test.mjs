// session.test.mjs — the dashboard keeps a session alive while its user is active and lets an idle one expire,
// on a gateway whose sessions last one minute (--session-ttl-ms 60000, the shortest allowed). Two browsers
// side by side for ~75 s: one with a key press every few seconds stays signed in (its cookie refreshed); the
// idle one is sent back to sign-in with "Your session has expired" on its next click.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LOOSE_AUTH_ARGS, sleep, startGateway, startMock } from '../integration/lib/harness.mjs';
import { EXPIRED_TEXT, SESSION_COOKIE, clickNav, go, launch, newContext, watch } from './lib/browser.mjs';

const TTL_MS = 60000;

describe('dashboard session lifetime', () => {
  let mock, gw, browser;

  before(async () => {
    mock = await startMock();
    gw = await startGateway({ mock, args: [...LOOSE_AUTH_ARGS, '--session-ttl-ms', String(TTL_MS)] });
    browser = await launch();
  });

  after(async () => {
    if (browser) await browser.close();
    if (gw) await gw.stop();
    if (mock) await mock.stop();
  });

  async function signedInPage() {
    const acct = await gw.signup();
    const ctx = await newContext(browser);
    const page = await ctx.newPage();
    const w = watch(page, gw.url);
    await page.goto(`${gw.url}/ui/login`);
    await page.getByLabel('Email').fill(acct.email);
    await page.getByLabel('Password', { exact: true }).fill(acct.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    const cookie = async () => ((await ctx.cookies(gw.url)).find((c) => c.name === SESSION_COOKIE) || {}).value;
    return { ctx, page, w, cookie };
  }

  it('refreshes an active session before it expires and lets an idle one expire', async () => {
    const [active, idle] = await Promise.all([signedInPage(), signedInPage()]);
    const first = await active.cookie();
    const started = Date.now();
    // the user of `active` keeps typing; `idle` is left alone past the session's lifetime
    while (Date.now() - started < TTL_MS + 15000) {
      await active.page.keyboard.press('Shift');
      await sleep(3000);
    }
    await go(active.page, 'Logs');
    assert.notEqual(await active.cookie(), first, 'the session cookie was renewed');
    assert.equal(await active.page.locator('#auth-notice').count(), 0);
    active.w.assertClean('active session');

    await clickNav(idle.page, 'Logs');
    await idle.page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
    assert.match(await idle.page.locator('#auth-notice').textContent(), new RegExp(EXPIRED_TEXT));
    idle.w.assertClean('idle session');
    await active.ctx.close();
    await idle.ctx.close();
  });
});
