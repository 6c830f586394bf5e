// pages/keys.jsx — the org's API keys: create (the raw key is shown once), list, rotate, revoke, and (admins)
// per-key rate limits.
import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { fmtTime } from '../format.js';
import { ROLES, rank, useSession } from '../session.js';
import { ConfirmDialog, FirstRequest, FormError, Input, LoadState, Notice, PageTitle, SecretOnce, Select, Table, useApi, useBusy } from '../ui.jsx';

function keyState(k) {
  if (k.revoked) return 'revoked';
  if (k.expires_at !== null && k.expires_at <= Date.now()) return 'expired';
  if (k.expires_at !== null) return `active until ${fmtTime(k.expires_at)}`;
  return 'active';
}

const limitText = (rl) =>
  rl && (rl.requests_per_minute || rl.tokens_per_minute)
    ? [rl.requests_per_minute && `${rl.requests_per_minute} req/min`, rl.tokens_per_minute && `${rl.tokens_per_minute} tok/min`].filter(Boolean).join(', ')
    : 'org default';

/** '' → null, digits → the number, anything else as typed (the API refuses it naming rate_limits). */
function limitValue(v) {
  const t = String(v).trim();
  if (t === '') return null;
  return /^\d+$/.test(t) ? Number(t) : t;
}

export function Keys() {
  const s = useSession();
  const keys = useApi('/keys');
  const apps = useApi('/apps');
  const [secret, setSecret] = useState(null); // {title, value}
  const [notice, setNotice] = useState('');
  const [dialog, setDialog] = useState(null); // {kind: 'revoke'|'rotate'|'limits', key}
  const [dErr, setDErr] = useState(null);
  const [run, busy] = useBusy();
  const [showRevoked, setShowRevoked] = useState(false);

  const done = (msg) => {
    setDialog(null);
    setDErr(null);
    setNotice(msg);
    keys.reload();
  };
  const revoke = () =>
    run(async () => {
      const r = await api('DELETE', `/keys/${dialog.key.id}`);
      if (r.ok) done(`Key ${dialog.key.name || dialog.key.hash_prefix} revoked: it is refused from the next request.`);
      else setDErr(r);
    });

  const all = (keys.data && keys.data.keys) || [];
  const shown = showRevoked ? all : all.filter((k) => !k.revoked);
  const appName = (id) => ((apps.data && apps.data.apps) || []).find((a) => a.id === id)?.name || id;

  return (
    <>
      <PageTitle sub="Keys authenticate model requests and the management API. A key's role is at most yours.">API keys</PageTitle>
      {secret && (
        <SecretOnce id="new-key" label={secret.title} value={secret.value}
          warning="This is the only time the key is shown: copy it now and keep it in a secret store. If it is lost, rotate the key."
          onDone={() => setSecret(null)} />
      )}
      {secret && <FirstRequest />}
      <Notice>{notice}</Notice>
      <CreateKey apps={(apps.data && apps.data.apps) || []} onCreated={(d) => {
        setNotice('');
        setSecret({ title: `New key ${d.key.name || d.key.hash_prefix}`, value: d.api_key });
        keys.reload();
      }} />
      <h2>Keys</h2>
      <LoadState res={keys} what="the keys" />
      <div class="check">
        <input type="checkbox" id="keys-show-revoked" checked={showRevoked} onChange={(e) => setShowRevoked(e.currentTarget.checked)} />
        <label for="keys-show-revoked">Show revoked keys</label>
      </div>
      {keys.data && (
        <Table caption="API keys" head={['Name', 'Prefix', 'Role', 'App', 'Created', 'Last used', 'State', 'Rate limits', 'Actions']}
          empty={shown.length ? null : 'No keys.'}>
          {shown.map((k) => {
            const mine = rank(k.role) <= rank(s.role);
            const live = !k.revoked && !(k.expires_at !== null && k.expires_at <= Date.now());
            const label = k.name || k.hash_prefix;
            return (
              <tr key={k.id} data-key-id={k.id}>
                <th scope="row">{k.name || <span class="muted">(unnamed)</span>}</th>
                <td class="mono">{k.hash_prefix}</td>
                <td>{k.role}</td>
                <td>{k.app_id ? appName(k.app_id) : '—'}</td>
                <td>{fmtTime(k.created_at)}</td>
                <td>{k.last_used_at ? fmtTime(k.last_used_at) : 'never'}</td>
                <td>{keyState(k)}</td>
                <td>{limitText(k.rate_limits)}</td>
                <td class="actions-cell">
                  {live && mine && (
                    <>
                      <button type="button" aria-label={`Rotate key ${label}`} onClick={() => { setDErr(null); setDialog({ kind: 'rotate', key: k }); }}>
                        Rotate
                      </button>
                      <button type="button" class="danger" aria-label={`Revoke key ${label}`} onClick={() => { setDErr(null); setDialog({ kind: 'revoke', key: k }); }}>
                        Revoke
                      </button>
                      {s.can('admin') && (
                        <button type="button" aria-label={`Rate limits of key ${label}`} onClick={() => { setDErr(null); setDialog({ kind: 'limits', key: k }); }}>
                          Limits
                        </button>
                      )}
                    </>
                  )}
                </td>
              </tr>
            );
          })}
        </Table>
      )}
      <ConfirmDialog open={dialog && dialog.kind === 'revoke'} title="Revoke this key?" confirmLabel="Revoke key" danger busy={busy}
        err={dErr} onConfirm={revoke} onCancel={() => setDialog(null)}>
        {dialog && (
          <p>
            Key <strong>{dialog.key.name || dialog.key.hash_prefix}</strong> will be refused from its very next request. This cannot be undone.
          </p>
        )}
      </ConfirmDialog>
      {dialog && dialog.kind === 'rotate' && (
        <RotateDialog k={dialog.key} onCancel={() => setDialog(null)} onRotated={(d) => {
          done(`Key rotated. The old key ${d.previous.expires_at ? `works until ${fmtTime(d.previous.expires_at)}` : 'keeps working'}.`);
          setSecret({ title: `Replacement for ${d.key.name || d.previous.hash_prefix}`, value: d.api_key });
        }} />
      )}
      {dialog && dialog.kind === 'limits' && (
        <LimitsDialog k={dialog.key} onCancel={() => setDialog(null)} onSaved={() => done('Rate limits saved: they apply from the key\u2019s next request.')} />
      )}
    </>
  );
}

function CreateKey({ apps, onCreated }) {
  const s = useSession();
  const blank = { name: '', role: 'member', app_id: '', expires: '', rpm: '', tpm: '' };
  const [f, setF] = useState(blank);
  const [err, setErr] = useState(null);
  const [run, busy] = useBusy();
  const set = (k) => (e) => setF({ ...f, [k]: e.currentTarget.value });
  const submit = (e) => {
    e.preventDefault();
    run(async () => {
      const body = { role: f.role };
      if (f.name.trim()) body.name = f.name.trim();
      if (f.app_id) body.app_id = f.app_id;
      if (f.expires) body.expires_at = Math.floor(Date.parse(`${f.expires}T00:00:00Z`) / 1000);
      if (s.can('admin') && (f.rpm.trim() || f.tpm.trim()))
        body.rate_limits = { requests_per_minute: limitValue(f.rpm), tokens_per_minute: limitValue(f.tpm) };
      const r = await api('POST', '/keys', body);
      if (r.ok) {
        setErr(null);
        setF(blank);
        onCreated(r.data);
      } else setErr(r);
    });
  };
  const roles = ROLES.filter((r) => rank(r) <= rank(s.role));
  return (
    <form class="panel" onSubmit={submit} aria-labelledby="ck-title">
      <h2 id="ck-title">Create a key</h2>
      <div class="grid">
        <Input id="ck-name" field="name" label="Name" value={f.name} onInput={set('name')} err={err} maxLength={128} />
        <Select id="ck-role" field="role" label="Role" value={f.role} onChange={set('role')} err={err}>
          {roles.map((r) => (
            <option key={r} value={r}>
              {r}
            </option>
          ))}
        </Select>
        <Select id="ck-app" field="app_id" label="App (optional)" value={f.app_id} onChange={set('app_id')} err={err}>
          <option value="">None</option>
          {apps.map((a) => (
            <option key={a.id} value={a.id}>
              {a.name}
            </option>
          ))}
        </Select>
        <Input id="ck-expires" field="expires_at" label="Expires on (UTC, optional)" type="date" value={f.expires} onInput={set('expires')} err={err} />
        {s.can('admin') && (
          <>
            <Input id="ck-rpm" field="rate_limits" label="Requests per minute (optional)" inputmode="numeric" value={f.rpm} onInput={set('rpm')} err={err} />
            <Input id="ck-tpm" field="rate_limits_tpm" label="Tokens per minute (optional)" inputmode="numeric" value={f.tpm} onInput={set('tpm')} err={err} />
          </>
        )}
      </div>
      <FormError err={err} fields={['name', 'role', 'app_id', 'expires_at', ...(s.can('admin') ? ['rate_limits'] : [])]} />
      <button type="submit" class="primary" disabled={busy}>
        {busy ? 'Creating…' : 'Create key'}
      </button>
    </form>
  );
}

function RotateDialog({ k, onCancel, onRotated }) {
  const [overlap, setOverlap] = useState('86400');
  const [err, setErr] = useState(null);
  const [run, busy] = useBusy();
  const confirm = () =>
    run(async () => {
      const r = await api('POST', `/keys/${k.id}/rotate`, { overlap_seconds: Number(overlap) });
      if (r.ok) onRotated(r.data);
      else setErr(r);
    });
  return (
    <ConfirmDialog open title="Rotate this key?" confirmLabel="Rotate key" busy={busy} err={err} errFields={['overlap_seconds']}
      onConfirm={confirm} onCancel={onCancel}>
      <p>
        A new key replaces <strong>{k.name || k.hash_prefix}</strong> with the same role, app and limits. The new key is shown once.
      </p>
      <Select id="rot-overlap" field="overlap_seconds" label="The old key keeps working for" value={overlap}
        onChange={(e) => setOverlap(e.currentTarget.value)} err={err}>
        <option value="0">No overlap (stops now)</option>
        <option value="3600">1 hour</option>
        <option value="86400">24 hours</option>
        <option value="604800">7 days</option>
      </Select>
    </ConfirmDialog>
  );
}

function LimitsDialog({ k, onCancel, onSaved }) {
  const rl = k.rate_limits || {};
  const [f, setF] = useState({ rpm: rl.requests_per_minute ?? '', tpm: rl.tokens_per_minute ?? '' });
  const [err, setErr] = useState(null);
  const [run, busy] = useBusy();
  const confirm = () =>
    run(async () => {
      const r = await api('PUT', `/keys/${k.id}`, {
        rate_limits: { requests_per_minute: limitValue(f.rpm), tokens_per_minute: limitValue(f.tpm) },
      });
      if (r.ok) onSaved();
      else setErr(r);
    });
  return (
    <ConfirmDialog open title={`Rate limits of ${k.name || k.hash_prefix}`} confirmLabel="Save limits" busy={busy} err={err}
      errFields={['rate_limits']} onConfirm={confirm} onCancel={onCancel}>
      <p class="muted">Empty means the organisation's default.</p>
      <Input id="lim-rpm" field="rate_limits" label="Requests per minute" inputmode="numeric" value={f.rpm}
        onInput={(e) => setF({ ...f, rpm: e.currentTarget.value })} err={err} />
      <Input id="lim-tpm" field="rate_limits_tpm" label="Tokens per minute" inputmode="numeric" value={f.tpm}
        onInput={(e) => setF({ ...f, tpm: e.currentTarget.value })} />
    </ConfirmDialog>
  );
}
