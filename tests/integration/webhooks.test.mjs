// Outbound webhooks: the CRUD API (validation, admin only, the Enterprise plan gate, another org's ids answered
// like missing ones), the URL validator at registration (metadata, loopback, localhost, numeric spellings,
// credentials, schemes; http only for an operator-allowlisted target), and deliveries to a receiver started
// here on 127.0.0.1 and allowlisted with --outbound-allowlist: the signature checked with node:crypto, the
// headers, the payload (ids and names only: no key, no email), events emitted by key and member changes,
// retries after a 500, a 302 that is neither followed nor a success, a downgraded org's deliveries failed with
// "plan", org deletion removing every row, and the signing secret found nowhere in the data dir or the logs.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import Database from 'better-sqlite3';
import { startGateway, startMock, assertFlatError, LOOSE_AUTH_ARGS, randomId, waitFor, listFiles, T } from './lib/harness.mjs';

const SECRET_RE = /^whsec_[A-Za-z0-9_-]{43}$/;
const ID_RE = /^[0-9a-f]{32}$/;

/**
 * An HTTP receiver on 127.0.0.1. Every request is recorded ({path, headers, body, at}); the answer comes from
 * the handler registered for the path (default 200), called with the number of earlier requests to it:
 * {status, headers} or {hang: true} (no answer at all).
 */
async function startReceiver() {
  const requests = [];
  const handlers = new Map();
  const srv = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const rec = { method: req.method, path: req.url, headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() };
      const n = requests.filter((r) => r.path === rec.path).length;
      requests.push(rec);
      const h = handlers.get(req.url);
      const { status = 200, headers = {}, hang = false } = h ? h(n) : {};
      if (hang) return; // never answers (the socket stays open until the client gives up)
      res.writeHead(status, { 'content-type': 'text/plain', ...headers });
      res.end('ok');
    });
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address();
  return {
    port,
    requests,
    url: (p) => `http://127.0.0.1:${port}${p}`,
    on: (p, fn) => handlers.set(p, fn),
    at: (p) => requests.filter((r) => r.path === p),
    close: () =>
      new Promise((r) => {
        srv.close(r);
        srv.closeAllConnections();
      }),
  };
}

/** X-Ingate-Signature as a receiver computes it (docs/webhooks.md). */
function expectedSignature(secret, ts, body) {
  return 'v1=' + crypto.createHmac('sha256', secret).update(`${ts}.${body}`).digest('hex');
}

/** Asserts the request is a correctly signed delivery of `type` and returns its parsed payload. */
function checkDelivery(rec, secret, type, orgId) {
  assert.equal(rec.method, 'POST');
  assert.match(rec.headers['content-type'] || '', /^application\/json/);
  assert.equal(rec.headers['x-ingate-event'], type);
  assert.match(rec.headers['x-ingate-delivery'] || '', ID_RE);
  const ts = rec.headers['x-ingate-timestamp'];
  assert.match(ts || '', /^\d+$/);
  assert.ok(Math.abs(Number(ts) - Date.now() / 1000) < 60, `timestamp ${ts} is not now`);
  const sig = rec.headers['x-ingate-signature'];
  const want = expectedSignature(secret, ts, rec.body);
  assert.equal(sig, want, 'signature');
  assert.ok(crypto.timingSafeEqual(Buffer.from(sig), Buffer.from(want)));
  assert.notEqual(sig, expectedSignature(secret, Number(ts) + 1, rec.body), 'the timestamp is signed');
  const p = JSON.parse(rec.body);
  assert.deepEqual(Object.keys(p).sort(), ['data', 'id', 'org_id', 'timestamp', 'type']);
  assert.match(p.id, ID_RE);
  assert.equal(p.type, type);
  assert.equal(p.org_id, orgId);
  assert.ok(Number.isInteger(p.timestamp) && Math.abs(p.timestamp - Date.now() / 1000) < 60);
  assert.equal(typeof p.data, 'object');
  return p;
}

describe('webhooks', () => {
  let rx, gw, bare, gw2;
  let A, B; // two enterprise orgs (signup owners)
  let admin, member, viewer; // users of org A
  const secrets = [];

  before(async () => {
    rx = await startReceiver();
    gw = await startGateway({ args: gwArgs() });
    A = await gw.signup();
    B = await gw.signup();
    admin = await gw.join(A.token, 'admin');
    member = await gw.join(A.token, 'member');
    viewer = await gw.join(A.token, 'viewer');
  });
  after(async () => {
    await gw2?.destroy();
    await gw?.destroy();
    await bare?.destroy();
    await rx?.close();
  });

  const gwArgs = () => [...LOOSE_AUTH_ARGS, '--outbound-allowlist', `127.0.0.1:${rx.port}`, '--webhook-retry-base-ms', '100'];
  const hook = (p = '/hook', events = ['key.create']) => ({ url: rx.url(p), events, description: 'test receiver' });

  async function create(token, body) {
    const r = await gw.api(token, 'POST', '/webhooks', body);
    assert.equal(r.status, 201, `create: ${r.status} ${r.text}`);
    assert.match(r.json.secret, SECRET_RE);
    secrets.push(r.json.secret);
    return { ...r.json.webhook, secret: r.json.secret };
  }

  async function deliveries(token, id) {
    const r = await gw.api(token, 'GET', `/webhooks/${id}/deliveries`);
    assert.equal(r.status, 200, r.text);
    return r.json.deliveries;
  }

  it('is an Enterprise feature: a free org gets 403 plan_required', async () => {
    assertFlatError(await gw.api(A.token, 'POST', '/webhooks', hook()), 403, 'plan_required');
    for (const o of [A, B]) {
      const r = await gw.api(o.token, 'PUT', '/org/billing', { plan: 'enterprise' });
      assert.equal(r.status, 200, r.text);
    }
  });

  it('needs the admin role for every route', async () => {
    const w = await create(admin.token, hook());
    const keyMember = await gw.api(A.token, 'POST', '/keys', { name: 'member-key', role: 'member' });
    const keyAdmin = await gw.api(A.token, 'POST', '/keys', { name: 'admin-key', role: 'admin' });
    const calls = [
      ['GET', '/webhooks'],
      ['POST', '/webhooks', hook()],
      ['GET', `/webhooks/${w.id}`],
      ['PUT', `/webhooks/${w.id}`, { enabled: false }],
      ['DELETE', `/webhooks/${w.id}`],
      ['GET', `/webhooks/${w.id}/deliveries`],
      ['POST', `/webhooks/${w.id}/test`],
    ];
    for (const cred of [viewer.token, member.token, keyMember.json.api_key])
      for (const [m, p, b] of calls) assertFlatError(await gw.api(cred, m, p, b), 403, 'forbidden');
    const r = await gw.api(keyAdmin.json.api_key, 'GET', `/webhooks/${w.id}`);
    assert.equal(r.status, 200, r.text);
    assert.equal((await gw.api(A.token, 'DELETE', `/webhooks/${w.id}`)).status, 200);
  });

  it('creates, lists, reads, updates and deletes; the secret is shown once', async () => {
    const w = await create(admin.token, { url: rx.url('/crud'), events: ['user.invite', 'key.create', 'key.create'], description: 'ops' });
    assert.match(w.id, ID_RE);
    assert.equal(w.url, rx.url('/crud'));
    assert.deepEqual(w.events, ['key.create', 'user.invite']); // table order, no duplicates
    assert.equal(w.description, 'ops');
    assert.equal(w.enabled, true);
    assert.match(w.secret_fingerprint, /^[0-9a-f]{16}$/);
    assert.ok(w.created_at > 0 && w.updated_at === w.created_at);

    const list = await gw.api(admin.token, 'GET', '/webhooks');
    assert.equal(list.status, 200);
    const mine = list.json.webhooks.find((x) => x.id === w.id);
    assert.ok(mine);
    assert.equal(mine.secret_fingerprint, w.secret_fingerprint);
    const one = await gw.api(admin.token, 'GET', `/webhooks/${w.id}`);
    assert.equal(one.status, 200);
    for (const r of [list, one]) {
      assert.ok(!r.text.includes(w.secret), 'the secret is never returned again');
      assert.ok(!('secret' in (r.json.webhook ?? mine)));
    }

    const up = await gw.api(admin.token, 'PUT', `/webhooks/${w.id}`, { events: ['key.revoke', 'budget.warning', 'logs.expiring'], description: '', enabled: false });
    assert.equal(up.status, 200, up.text);
    assert.deepEqual(up.json.webhook.events, ['key.revoke', 'budget.warning', 'logs.expiring']);
    assert.equal(up.json.webhook.description, '');
    assert.equal(up.json.webhook.enabled, false);
    assert.equal(up.json.webhook.url, w.url);
    assert.equal(up.json.webhook.secret_fingerprint, w.secret_fingerprint);
    const up2 = await gw.api(admin.token, 'PUT', `/webhooks/${w.id}`, { url: rx.url('/crud2'), enabled: true });
    assert.equal(up2.status, 200, up2.text);
    assert.equal(up2.json.webhook.url, rx.url('/crud2'));
    assert.equal(up2.json.webhook.enabled, true);
    assert.deepEqual(up2.json.webhook.events, ['key.revoke', 'budget.warning', 'logs.expiring']);

    const del = await gw.api(admin.token, 'DELETE', `/webhooks/${w.id}`);
    assert.equal(del.status, 200);
    assert.equal(del.json.deleted, w.id);
    for (const [m, p, b] of [
      ['GET', `/webhooks/${w.id}`],
      ['PUT', `/webhooks/${w.id}`, { enabled: true }],
      ['DELETE', `/webhooks/${w.id}`],
      ['GET', `/webhooks/${w.id}/deliveries`],
      ['POST', `/webhooks/${w.id}/test`],
    ])
      assertFlatError(await gw.api(admin.token, m, p, b), 404, 'not_found');
  });

  it('validates bodies, naming the field', async () => {
    const cases = [
      [{ events: ['key.create'] }, 'url'],
      [{ url: rx.url('/v') }, 'events'],
      [{ url: rx.url('/v'), events: [] }, 'events'],
      [{ url: rx.url('/v'), events: 'key.create' }, 'events'],
      [{ url: rx.url('/v'), events: ['key.create', 'key.explode'] }, 'events'],
      [{ url: rx.url('/v'), events: [1] }, 'events'],
      [{ url: 42, events: ['key.create'] }, 'url'],
      [{ url: rx.url('/v'), events: ['key.create'], description: 'x'.repeat(129) }, 'description'],
      [{ url: rx.url('/v'), events: ['key.create'], description: 'a\nb' }, 'description'],
      [{ url: rx.url('/v'), events: ['key.create'], secret: 'mine' }, 'secret'],
      [{ url: rx.url('/v'), events: ['key.create'], enabled: false }, 'enabled'],
    ];
    for (const [body, field] of cases) {
      const r = await gw.api(admin.token, 'POST', '/webhooks', body);
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
      assert.equal(r.json.field, field, JSON.stringify(body));
    }
    const w = await create(admin.token, hook('/v'));
    for (const [body, field] of [
      [{}, 'url'],
      [{ enabled: 'yes' }, 'enabled'],
      [{ events: ['nope'] }, 'events'],
      [{ url: 'http://169.254.169.254/latest/meta-data/' }, 'url'],
      [{ bogus: 1 }, 'bogus'],
    ]) {
      const r = await gw.api(admin.token, 'PUT', `/webhooks/${w.id}`, body);
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
      assert.equal(r.json.field, field);
    }
    const after = await gw.api(admin.token, 'GET', `/webhooks/${w.id}`);
    assert.equal(after.json.webhook.url, w.url, 'a refused update changes nothing');
    assertFlatError(await gw.api(admin.token, 'GET', `/webhooks/${w.id}/deliveries?limit=0`), 400);
    assertFlatError(await gw.api(admin.token, 'GET', `/webhooks/${w.id}/deliveries?limit=101`), 400);
    await gw.api(admin.token, 'DELETE', `/webhooks/${w.id}`);
  });

  it('refuses URLs the outbound validator refuses: 400 invalid_url with its reason', async () => {
    const otherPort = rx.port === 65535 ? rx.port - 1 : rx.port + 1;
    const refused = [
      'http://169.254.169.254/latest/meta-data/',
      'https://169.254.169.254/',
      `http://127.0.0.1:${otherPort}/`, // allowlisted is 127.0.0.1:<rx.port> only
      'https://127.0.0.1/',
      'https://localhost/',
      'https://LOCALHOST./x',
      'https://sub.localhost/',
      'https://2130706433/', // 127.0.0.1 in decimal
      'https://0x7f000001/', // in hex
      'https://0x7f.1/',
      'https://0177.0.0.1/', // octal
      'https://127.1/',
      'https://[::1]/',
      'https://[::ffff:127.0.0.1]/',
      'https://10.0.0.1/',
      'https://192.168.1.1/',
      'https://0.0.0.0/',
      'https://user:pass@127.0.0.1/',
      'ftp://127.0.0.1/',
      'file:///etc/passwd',
      'https:///nohost',
      'https://a b.example/',
    ];
    for (const url of refused) {
      const r = await gw.api(admin.token, 'POST', '/webhooks', { url, events: ['key.create'] });
      assertFlatError(r, 400, 'invalid_url');
      assert.equal(r.json.field, 'url', url);
      assert.ok(r.json.error.length > 5, `${url}: a reason`);
      assert.ok(!r.text.includes(url), `${url}: the reason does not echo the URL`);
    }
    // the very URL the allowlist lets through is refused by a gateway without the allowlist
    bare = await startGateway({ args: LOOSE_AUTH_ARGS });
    const o = await bare.signup();
    await bare.api(o.token, 'PUT', '/org/billing', { plan: 'enterprise' });
    const r = await bare.api(o.token, 'POST', '/webhooks', hook());
    assertFlatError(r, 400, 'invalid_url');
    assert.match(r.json.error, /http|loopback|port/);
    await bare.stop();
  });

  it("an org's outbound_allowlist opens https ports for its own webhooks, never http or an internal address", async () => {
    const publicPort = 'https://8.8.8.8:8443/hook'; // numeric: no DNS lookup
    const body = (url) => ({ url, events: ['webhook.test'] });
    assertFlatError(await gw.api(A.token, 'POST', '/webhooks', body(publicPort)), 400, 'invalid_url');
    const bad = await gw.api(A.token, 'PUT', '/org', { settings: { outbound_allowlist: '8.8.8.8:8443' } });
    assertFlatError(bad, 400, 'invalid_request');
    assert.equal(bad.json.field, 'settings');
    const set = await gw.api(A.token, 'PUT', '/org', {
      settings: { outbound_allowlist: ['8.8.8.8:8443', '127.0.0.2:9443', '10.0.0.0/8:8443'] },
    });
    assert.equal(set.status, 200, set.text);
    assert.deepEqual(set.json.org.settings.outbound_allowlist, ['8.8.8.8:8443', '127.0.0.2:9443', '10.0.0.0/8:8443']);
    try {
      const w = await create(A.token, body(publicPort));
      assert.equal(w.url, publicPort);
      assert.equal((await gw.api(A.token, 'DELETE', `/webhooks/${w.id}`)).status, 200);
      // a tenant's entry never opens plain http nor the gateway's own network
      for (const url of ['http://8.8.8.8:8443/hook', 'https://127.0.0.2:9443/', 'https://10.1.2.3:8443/'])
        assertFlatError(await gw.api(A.token, 'POST', '/webhooks', body(url)), 400, 'invalid_url');
      // and it is A's list only
      assertFlatError(await gw.api(B.token, 'POST', '/webhooks', body(publicPort)), 400, 'invalid_url');
    } finally {
      assert.equal((await gw.api(A.token, 'PUT', '/org', { settings: {} })).status, 200);
    }
    assertFlatError(await gw.api(A.token, 'POST', '/webhooks', body(publicPort)), 400, 'invalid_url');
  });

  it("answers another org's webhook ids like missing ones and changes nothing", async () => {
    const w = await create(A.token, hook('/iso'));
    for (const [m, p, b] of [
      ['GET', `/webhooks/${w.id}`],
      ['PUT', `/webhooks/${w.id}`, { enabled: false }],
      ['DELETE', `/webhooks/${w.id}`],
      ['GET', `/webhooks/${w.id}/deliveries`],
      ['POST', `/webhooks/${w.id}/test`],
      ['GET', `/webhooks/${randomId()}`],
    ])
      assertFlatError(await gw.api(B.token, m, p, b), 404, 'not_found');
    const list = await gw.api(B.token, 'GET', '/webhooks');
    assert.ok(!list.json.webhooks.some((x) => x.id === w.id));
    const still = await gw.api(A.token, 'GET', `/webhooks/${w.id}`);
    assert.equal(still.json.webhook.enabled, true);
    assert.equal((await deliveries(A.token, w.id)).length, 0);
    await gw.api(A.token, 'DELETE', `/webhooks/${w.id}`);
  });

  it('delivers a signed test event', async () => {
    const w = await create(admin.token, hook('/test'));
    const t = await gw.api(admin.token, 'POST', `/webhooks/${w.id}/test`);
    assert.equal(t.status, 202, t.text);
    assert.equal(t.json.delivery.status, 'pending');
    assert.equal(t.json.delivery.type, 'webhook.test');
    const [rec] = await waitFor(() => rx.at('/test').length && rx.at('/test'), { what: 'test delivery' });
    const p = checkDelivery(rec, w.secret, 'webhook.test', A.org.id);
    assert.equal(rec.headers['x-ingate-delivery'], t.json.delivery.id);
    assert.equal(p.id, t.json.delivery.event_id);
    assert.deepEqual(p.data, { webhook_id: w.id });
    assert.match(rec.headers['user-agent'] || '', /^ingate-webhook\//);
    const ds = await waitFor(async () => {
      const d = await deliveries(admin.token, w.id);
      return d[0]?.status === 'succeeded' && d;
    }, { what: 'succeeded' });
    assert.equal(ds[0].attempts, 1);
    assert.equal(ds[0].last_status, 200);
    assert.equal(ds[0].next_attempt_at, null);
    assert.equal(ds[0].attempt_log.length, 1);
    assert.equal(ds[0].attempt_log[0].status_code, 200);
    assert.equal(ds[0].attempt_log[0].error, null);
    assert.ok(ds[0].attempt_log[0].duration_ms >= 0);
    await gw.api(admin.token, 'DELETE', `/webhooks/${w.id}`);
  });

  it('emits key and member events to subscribed webhooks only, with ids and names but no secret or email', async () => {
    const w = await create(admin.token, hook('/events', ['key.create', 'key.rotate', 'user.invite', 'user.role_change', 'user.remove']));
    const off = await create(admin.token, hook('/disabled', ['key.create']));
    await gw.api(admin.token, 'PUT', `/webhooks/${off.id}`, { enabled: false });

    const k = await gw.api(A.token, 'POST', '/keys', { name: 'ci "deploy" key', role: 'member' });
    assert.equal(k.status, 201);
    const rev = await gw.api(A.token, 'DELETE', `/keys/${k.json.key.id}`); // key.revoke: not subscribed
    assert.equal(rev.status, 200);
    const k2 = await gw.api(A.token, 'POST', '/keys', { name: 'rotated' });
    const rot = await gw.api(A.token, 'POST', `/keys/${k2.json.key.id}/rotate`);
    assert.equal(rot.status, 201, rot.text);
    const email = `invitee-${randomId()}@example.test`;
    const inv = await gw.api(admin.token, 'POST', '/members', { email, role: 'viewer' });
    assert.equal(inv.status, 201);
    const joined = await gw.join(A.token, 'viewer');
    assert.equal((await gw.api(A.token, 'PATCH', `/members/${joined.userId}`, { role: 'member' })).status, 200);
    assert.equal((await gw.api(A.token, 'DELETE', `/members/${joined.userId}`)).status, 200);

    // queued synchronously by each call: already listed
    const ds = await deliveries(admin.token, w.id);
    const types = ds.map((d) => d.type).reverse();
    assert.deepEqual(types, ['key.create', 'key.create', 'key.rotate', 'user.invite', 'user.invite', 'user.role_change', 'user.remove']);
    assert.equal((await deliveries(admin.token, off.id)).length, 0, 'a disabled webhook gets nothing');

    const recs = await waitFor(() => rx.at('/events').length >= 7 && rx.at('/events'), { what: '7 deliveries' });
    const byType = (t) => recs.map((r) => checkDelivery(r, w.secret, JSON.parse(r.body).type, A.org.id)).filter((p) => p.type === t);
    const [created] = byType('key.create').filter((p) => p.data.key_id === k.json.key.id);
    assert.deepEqual(created.data, { key_id: k.json.key.id, name: 'ci "deploy" key', role: 'member' });
    const [rotated] = byType('key.rotate');
    assert.deepEqual(rotated.data, { key_id: k2.json.key.id, name: 'rotated', role: 'member', new_key_id: rot.json.key.id });
    const invites = byType('user.invite');
    const mine = invites.find((p) => p.data.invitation_id === inv.json.invitation.id);
    assert.deepEqual(mine.data, { invitation_id: inv.json.invitation.id, role: 'viewer' });
    assert.deepEqual(byType('user.role_change')[0].data, { user_id: joined.userId, role: 'member', previous_role: 'viewer' });
    assert.deepEqual(byType('user.remove')[0].data, { user_id: joined.userId, previous_role: 'member' });
    for (const r of recs) {
      for (const s of [k.json.api_key, k2.json.api_key, rot.json.api_key, email, joined.email, inv.json.invite_token])
        assert.ok(!r.body.includes(s), 'no key, token or email in a payload');
    }
    assert.equal(rx.at('/disabled').length, 0);
    await gw.api(admin.token, 'DELETE', `/webhooks/${w.id}`);
    await gw.api(admin.token, 'DELETE', `/webhooks/${off.id}`);
  });

  it('retries after a 500 with the same delivery id and a fresh signature', async () => {
    rx.on('/flaky', (n) => ({ status: n === 0 ? 500 : 200 }));
    const w = await create(admin.token, hook('/flaky'));
    const t = await gw.api(admin.token, 'POST', `/webhooks/${w.id}/test`);
    assert.equal(t.status, 202);
    const recs = await waitFor(() => rx.at('/flaky').length >= 2 && rx.at('/flaky'), { what: 'a retry' });
    for (const r of recs) checkDelivery(r, w.secret, 'webhook.test', A.org.id);
    assert.equal(recs[0].headers['x-ingate-delivery'], recs[1].headers['x-ingate-delivery']);
    assert.equal(recs[0].body, recs[1].body, 'the same event');
    assert.ok(recs[1].at - recs[0].at >= 50, `retried after the backoff (${recs[1].at - recs[0].at} ms)`);
    const ds = await waitFor(async () => {
      const d = await deliveries(admin.token, w.id);
      return d[0]?.status === 'succeeded' && d;
    }, { what: 'succeeded' });
    assert.equal(ds[0].attempts, 2);
    assert.deepEqual(ds[0].attempt_log.map((a) => [a.attempt, a.status_code]), [[1, 500], [2, 200]]);
    await gw.api(admin.token, 'DELETE', `/webhooks/${w.id}`);
  });

  it('never follows a redirect: a 302 is a failed attempt', async () => {
    rx.on('/redirect', () => ({ status: 302, headers: { location: rx.url('/redirect-target') } }));
    const w = await create(admin.token, hook('/redirect'));
    await gw.api(admin.token, 'POST', `/webhooks/${w.id}/test`);
    await waitFor(() => rx.at('/redirect').length >= 2, { what: 'two attempts' });
    const ds = await waitFor(async () => {
      const d = await deliveries(admin.token, w.id);
      return d[0]?.attempts >= 2 && d;
    }, { what: 'two recorded attempts' });
    assert.equal(ds[0].last_status, 302);
    assert.equal(ds[0].last_error, 'redirects are not followed');
    assert.notEqual(ds[0].status, 'succeeded');
    for (const a of ds[0].attempt_log) assert.equal(a.status_code, 302);
    assert.equal(rx.at('/redirect-target').length, 0, 'the Location was never requested');
    await gw.api(admin.token, 'DELETE', `/webhooks/${w.id}`);
  });

  it("records a failing receiver's status, and never the URL (it may hold a token)", async () => {
    const w = await create(admin.token, { url: `${rx.url('/down')}?token=s3cr3t-in-url`, events: ['key.create'] });
    // the receiver answers 503 every time: retried with backoff (failed after 8 attempts)
    rx.on('/down?token=s3cr3t-in-url', () => ({ status: 503 }));
    await gw.api(admin.token, 'POST', `/webhooks/${w.id}/test`);
    const ds = await waitFor(async () => {
      const d = await deliveries(admin.token, w.id);
      return d[0]?.attempts >= 2 && d;
    }, { what: 'two attempts' });
    assert.equal(ds[0].last_status, 503);
    assert.ok(!JSON.stringify(ds).includes('s3cr3t'), 'no URL in delivery records');
    await gw.api(admin.token, 'DELETE', `/webhooks/${w.id}`);
  });

  it("fails a downgraded org's deliveries with the error plan, and gates its test event", async () => {
    const w = await create(B.token, hook('/plan', ['key.create']));
    assert.equal((await gw.api(B.token, 'PUT', '/org/billing', { plan: 'free' })).status, 200);
    assertFlatError(await gw.api(B.token, 'POST', `/webhooks/${w.id}/test`), 403, 'plan_required');
    assert.equal((await gw.api(B.token, 'POST', '/keys', { name: 'after-downgrade' })).status, 201);
    const ds = await waitFor(async () => {
      const d = await deliveries(B.token, w.id);
      return d[0]?.status === 'failed' && d;
    }, { what: 'failed delivery' });
    assert.equal(ds[0].type, 'key.create');
    assert.equal(ds[0].last_error, 'plan');
    assert.equal(ds[0].attempts, 1);
    assert.equal(rx.at('/plan').length, 0, 'nothing sent');
    // the webhook can still be listed, changed and deleted
    assert.equal((await gw.api(B.token, 'PUT', `/webhooks/${w.id}`, { enabled: false })).status, 200);
    assert.equal((await gw.api(B.token, 'GET', '/webhooks')).status, 200);
  });

  it('deleting the org deletes its webhooks, deliveries and attempts', async () => {
    const C = await gw.signup();
    await gw.api(C.token, 'PUT', '/org/billing', { plan: 'enterprise' });
    const w = await create(C.token, hook('/gone'));
    await gw.api(C.token, 'POST', `/webhooks/${w.id}/test`);
    await waitFor(async () => (await deliveries(C.token, w.id))[0]?.status === 'succeeded', { what: 'delivered' });
    const del = await gw.api(C.token, 'DELETE', '/org', { confirm: C.org.slug });
    assert.equal(del.status, 200, del.text);
    const db = new Database(path.join(gw.dataDir, 'ingate.db'), { readonly: true, fileMustExist: true });
    try {
      for (const t of ['webhooks', 'webhook_deliveries', 'webhook_attempts'])
        assert.equal(db.prepare(`SELECT COUNT(*) AS n FROM ${t} WHERE org_id = ?`).get(C.org.id).n, 0, t);
      // the others' rows are still there, and secrets and payloads are sealed
      assert.ok(db.prepare('SELECT COUNT(*) AS n FROM webhooks').get().n > 0);
      for (const row of db.prepare('SELECT secret FROM webhooks').all()) assert.ok(Buffer.isBuffer(row.secret) && row.secret.length === 65);
      for (const row of db.prepare('SELECT payload FROM webhook_deliveries').all())
        assert.ok(!row.payload.toString('latin1').includes('"type"'), 'payload sealed');
    } finally {
      db.close();
    }
  });

  it('SIGTERM aborts a delivery in flight without waiting for the receiver; a restart resumes it', async () => {
    let hang = true;
    rx.on('/hang', () => (hang ? { hang: true } : { status: 204 }));
    const w = await create(admin.token, hook('/hang'));
    const t = await gw.api(admin.token, 'POST', `/webhooks/${w.id}/test`);
    assert.equal(t.status, 202);
    await waitFor(() => rx.at('/hang').length === 1, { what: 'the delivery in flight' });
    const t0 = Date.now();
    await gw.stop(T(20000));
    const took = Date.now() - t0;
    assert.ok(took < T(4000), `SIGTERM took ${took} ms with a receiver that never answers`);
    hang = false;
    gw2 = await startGateway({ reuse: gw, args: gwArgs() });
    const recs = await waitFor(() => rx.at('/hang').length >= 2 && rx.at('/hang'), { what: 'the resumed delivery' });
    assert.equal(recs[1].headers['x-ingate-delivery'], t.json.delivery.id, 'the same delivery');
    checkDelivery(recs[1], w.secret, 'webhook.test', A.org.id);
    const ds = await waitFor(async () => {
      const d = await gw2.api(admin.token, 'GET', `/webhooks/${w.id}/deliveries`);
      return d.json?.deliveries?.[0]?.status === 'succeeded' && d.json.deliveries;
    }, { what: 'succeeded after the restart' });
    assert.equal(ds[0].attempts, 1, 'the aborted attempt is not counted');
    assert.equal(ds[0].last_status, 204);
  });

  it('never writes a signing secret to the data dir or the logs', async () => {
    assert.ok(secrets.length > 5);
    const files = await listFiles(gw.dataDir);
    const texts = [gw.stdoutText(), gw.stderrText(), gw2.stdoutText(), gw2.stderrText()];
    for (const f of files) texts.push(fs.readFileSync(f).toString('latin1'));
    for (const s of secrets) {
      const raw = Buffer.from(s.slice('whsec_'.length), 'base64url').toString('latin1');
      for (const t of texts) {
        assert.ok(!t.includes(s), 'secret text found');
        assert.ok(!t.includes(raw), 'raw secret bytes found');
      }
    }
    await gw2.stop(T(20000));
  });
});

// logs.expiring: `ingate admin purge-logs --now` (a month ahead) next to a running gateway. An Enterprise org
// whose webhook subscribes to logs.expiring keeps its expired records while the receiver fails, gets them as
// one signed JSONL body (the envelope line, then each record exactly as the JSONL export writes it, bodies
// redacted as stored) once it answers 2xx, and loses them at the next pass; a receiver that never answers
// 2xx runs out of retries and the records are purged after the grace period; an org without such a webhook
// (or with it disabled) purges at once. The control database never holds the records themselves.
describe('logs.expiring', () => {
  const DAY_MS = 86400000;
  let rx, mock, gw;
  let failing = true;

  before(async () => {
    rx = await startReceiver();
    rx.on('/expiring', () => ({ status: failing ? 503 : 200 }));
    rx.on('/dead', () => ({ status: 503 }));
    mock = await startMock();
    // retries after ~10 ms, 30 ms, 90 ms … : 8 attempts take ~11 s
    gw = await startGateway({ mock, args: [...LOOSE_AUTH_ARGS, '--outbound-allowlist', `127.0.0.1:${rx.port}`, '--webhook-retry-base-ms', '10'] });
  });
  after(async () => {
    await gw?.destroy();
    await mock?.stop();
    await rx?.close();
  });

  const ok = async (cred, method, p, body, status = 200) => {
    const r = await gw.api(cred, method, p, body);
    assert.equal(r.status, status, `${method} ${p}: ${r.status} ${r.text}`);
    return r;
  };
  async function enterpriseOrg(settings) {
    const o = await gw.signup();
    await ok(o.token, 'PUT', '/org/billing', { plan: 'enterprise' });
    await ok(o.token, 'PUT', '/providers/openai', { api_key: `sk-prov-${randomId()}` });
    if (settings) await ok(o.token, 'PUT', '/org', { settings });
    return o;
  }
  async function hook(o, p, events = ['logs.expiring']) {
    const r = await ok(o.token, 'POST', '/webhooks', { url: rx.url(p), events }, 201);
    return { ...r.json.webhook, secret: r.json.secret };
  }
  const logs = async (o) => (await ok(o.token, 'GET', '/logs?limit=200')).json.logs;
  /** n proxied calls; resolves once their records are stored. */
  async function calls(o, n, text) {
    const ids = [];
    for (let i = 0; i < n; i++) {
      const r = await gw.request({
        method: 'POST',
        path: '/v1/chat/completions',
        headers: { 'x-ingate-key': o.api_key, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `${text} #${i}` }] }),
      });
      assert.equal(r.status, 200, r.text);
      ids.push(r.headers['x-ingate-request-id']);
    }
    await waitFor(async () => {
      const have = new Set((await logs(o)).map((l) => l.id));
      return ids.every((id) => have.has(id));
    }, { what: 'records stored' });
    return ids;
  }
  const purge = (now) => gw.admin(['purge-logs', '--now', String(now)]);
  const deliveriesOf = async (o, w) => (await ok(o.token, 'GET', `/webhooks/${w.id}/deliveries`)).json.deliveries;

  it('holds records back until delivered, sends them as signed JSONL, then purges; others purge at once', async () => {
    const tag = `expiring-${randomId()}`;
    const email = `pii.${randomId().slice(0, 10)}@example.com`;
    const E = await enterpriseOrg({ capture: 'full', redaction: { enabled: true, mode: 'pattern' } });
    const w = await hook(E, '/expiring');
    const F = await enterpriseOrg(); // no gating webhook: one disabled, one for other events
    const off = await hook(F, '/expiring-off');
    await ok(F.token, 'PUT', `/webhooks/${off.id}`, { enabled: false });
    await hook(F, '/expiring-other', ['key.create']);
    const D = await enterpriseOrg();
    const dead = await hook(D, '/dead');

    await calls(E, 3, `${tag} write to ${email}`);
    await calls(F, 2, tag);
    await calls(D, 2, tag);
    const exported = await ok(E.token, 'GET', '/logs?format=jsonl');
    const exportLines = exported.text.split('\n').filter(Boolean);
    assert.equal(exportLines.length, 3);
    assert.ok(exported.text.includes('[REDACTED]') && !exported.text.includes(email), 'stored redacted');

    // a pass a month from now: F's records go; E's and D's are queued to their webhooks and kept
    const later = Date.now() + 31 * DAY_MS;
    let r = await purge(later);
    assert.equal(r.failed_orgs, 0);
    assert.equal(r.purged, 2, JSON.stringify(r));
    assert.equal(r.batches_queued, 2);
    assert.equal(r.gated_orgs, 2);
    assert.equal((await logs(F)).length, 0, 'an org without a gating webhook purges at once');
    assert.equal((await deliveriesOf(F, off)).length, 0, 'nothing for a disabled webhook');

    // the CLI woke the running gateway: the receiver is tried at once (not at the next 30 s poll), and fails
    await waitFor(() => rx.at('/expiring').length >= 2, { what: 'two failed attempts' });
    r = await purge(later);
    assert.equal(r.purged, 0, 'nothing purged while the receiver fails');
    assert.equal(r.batches_queued, 0, 'queued once');
    assert.equal((await logs(E)).length, 3);
    let ds = await deliveriesOf(E, w);
    assert.equal(ds.length, 1);
    assert.equal(ds[0].type, 'logs.expiring');
    assert.equal(ds[0].status, 'pending');
    assert.equal(ds[0].last_status, 503);

    // the receiver recovers: one delivery, retried, succeeds
    failing = false;
    ds = await waitFor(async () => {
      const d = await deliveriesOf(E, w);
      return d[0]?.status === 'succeeded' && d;
    }, { timeoutMs: T(15000), what: 'delivered' });
    const got = rx.at('/expiring');
    const last = got[got.length - 1];
    for (const rec of got) {
      assert.equal(rec.headers['x-ingate-delivery'], ds[0].id, 'one delivery, retried');
      assert.equal(rec.body, last.body, 'the same body every attempt');
    }
    assert.equal(last.headers['content-type'], 'application/x-ndjson');
    assert.equal(last.headers['x-ingate-event'], 'logs.expiring');
    const ts = last.headers['x-ingate-timestamp'];
    assert.equal(last.headers['x-ingate-signature'], expectedSignature(w.secret, ts, last.body), 'signature');
    assert.ok(last.body.endsWith('\n'));
    const [envLine, ...recLines] = last.body.slice(0, -1).split('\n');
    const env = JSON.parse(envLine);
    assert.deepEqual(Object.keys(env).sort(), ['data', 'id', 'org_id', 'timestamp', 'type']);
    assert.equal(env.type, 'logs.expiring');
    assert.equal(env.org_id, E.org.id);
    assert.equal(env.id, ds[0].event_id);
    const created = exportLines.map((l) => JSON.parse(l).created_at);
    assert.deepEqual(env.data, {
      records: 3,
      from: Math.min(...created),
      until: Math.max(...created),
      cutoff: later - 30 * DAY_MS,
      retention_days: 30,
    });
    assert.deepEqual(recLines, exportLines, 'every expiring record, exactly as the export writes it');
    assert.ok(!last.body.includes(email) && last.body.includes(tag), 'bodies as stored (redacted)');

    // delivered: the next pass purges them
    r = await purge(later);
    assert.equal(r.purged, 3, JSON.stringify(r));
    assert.equal((await logs(E)).length, 0);

    // D's receiver never answers 2xx: after 8 attempts the delivery fails; a month later the grace period
    // (24 h) is over too, so its records are purged anyway
    const dd = await waitFor(async () => {
      const d = await deliveriesOf(D, dead);
      return d[0]?.status === 'failed' && d;
    }, { timeoutMs: T(40000), intervalMs: 250, what: 'retries exhausted' });
    assert.equal(dd[0].attempts, 8);
    assert.equal(rx.at('/dead').length, 8);
    assert.equal((await logs(D)).length, 2, 'kept until the pass');
    r = await purge(later);
    assert.equal(r.purged, 2, JSON.stringify(r));
    assert.equal((await logs(D)).length, 0);
    assert.equal(rx.at('/expiring-off').length + rx.at('/expiring-other').length, 0, "nothing to F's webhooks");

    // the control database holds positions and sealed envelopes, never a record
    const db = new Database(path.join(gw.dataDir, 'ingate.db'), { readonly: true, fileMustExist: true });
    try {
      const rows = db.prepare('SELECT * FROM log_batches WHERE org_id IN (?, ?)').all(E.org.id, D.org.id);
      assert.equal(rows.length, 2);
      for (const row of rows) assert.equal(row.records, row.org_id === E.org.id ? 3 : 2);
    } finally {
      db.close();
    }
    for (const f of ['ingate.db', 'ingate.db-wal']) {
      const p = path.join(gw.dataDir, f);
      if (fs.existsSync(p)) assert.ok(!fs.readFileSync(p).includes(tag), `${f} holds no record content`);
    }
    await gw.stop(T(20000)); // a clean exit (and no sanitizer report) with the delivery thread's org cache
  });
});
