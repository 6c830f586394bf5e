// pages/providers.jsx — the org's provider keys (set or rotate; the gateway keeps them sealed and only ever shows
// a fingerprint), their auth mode, and the org's default provider.
import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { useSession } from '../session.js';
import { ConfirmDialog, FormError, Input, LoadState, Notice, PageTitle, ReadOnlyNote, Select, useApi, useBusy } from '../ui.jsx';

export function Providers() {
  const s = useSession();
  const list = useApi('/providers');
  const org = useApi('/org');
  const [notice, setNotice] = useState('');
  const providers = (list.data && list.data.providers) || [];
  const changed = (msg) => {
    setNotice(msg);
    list.reload();
    org.reload();
  };
  return (
    <>
      <PageTitle sub="Keys for the upstream providers, stored sealed. A stored key is never shown again, only its fingerprint.">
        Providers
      </PageTitle>
      <ReadOnlyNote min="admin" what="change provider keys or the default provider" />
      <Notice>{notice}</Notice>
      <LoadState res={list} what="the providers" />
      {org.data && <DefaultProvider org={org.data.org} providers={providers} onSaved={changed} />}
      <div class="provider-list">
        {providers.map((p) => (
          <ProviderCard key={p.name} p={p} admin={s.can('admin')} onChanged={changed} />
        ))}
      </div>
    </>
  );
}

function DefaultProvider({ org, providers, onSaved }) {
  const s = useSession();
  const [value, setValue] = useState(org.default_provider || '');
  const [err, setErr] = useState(null);
  const [run, busy] = useBusy();
  const save = (e) => {
    e.preventDefault();
    run(async () => {
      const r = await api('PUT', '/org', { default_provider: value || null });
      if (r.ok) {
        setErr(null);
        onSaved(value ? `Default provider set to ${value}.` : 'Default provider cleared.');
      } else setErr(r);
    });
  };
  return (
    <form class="panel" onSubmit={save} aria-labelledby="dp-title">
      <h2 id="dp-title">Default provider</h2>
      <p class="muted">Used for requests whose path and X-Ingate-Provider header do not name a provider.</p>
      <fieldset disabled={!s.can('admin')}>
        <legend class="sr-only">Default provider</legend>
        <Select id="dp-select" field="default_provider" label="Default provider" value={value}
          onChange={(e) => setValue(e.currentTarget.value)} err={err}>
          <option value="">None</option>
          {providers.map((p) => (
            <option key={p.name} value={p.name}>
              {p.name}
              {p.configured ? '' : ' (no key yet)'}
            </option>
          ))}
        </Select>
        <FormError err={err} fields={['default_provider']} />
        <button type="submit" class="primary" disabled={busy}>
          Save default provider
        </button>
      </fieldset>
    </form>
  );
}

function ProviderCard({ p, admin, onChanged }) {
  const [mode, setMode] = useState(p.auth_mode || 'stored');
  const [key, setKey] = useState('');
  const [err, setErr] = useState(null);
  const [confirmRemove, setConfirmRemove] = useState(false);
  const [rmErr, setRmErr] = useState(null);
  const [run, busy] = useBusy();
  const id = `pv-${p.name.replace(/[^a-z0-9]/gi, '-')}`;
  const save = (e) => {
    e.preventDefault();
    run(async () => {
      const body = { auth_mode: mode };
      if (mode === 'stored') body.api_key = key;
      const r = await api('PUT', `/providers/${encodeURIComponent(p.name)}`, body);
      setKey(''); // never kept in the page, whatever the answer
      if (r.ok) {
        setErr(null);
        onChanged(mode === 'stored' ? `Key for ${p.name} ${p.configured ? 'rotated' : 'stored'}.` : `${p.name} set to passthrough.`);
      } else setErr(r);
    });
  };
  const remove = () =>
    run(async () => {
      const r = await api('DELETE', `/providers/${encodeURIComponent(p.name)}`);
      if (r.ok) {
        setConfirmRemove(false);
        onChanged(`Key for ${p.name} removed.`);
      } else setRmErr(r);
    });
  return (
    <section class="panel provider" aria-labelledby={`${id}-t`} data-provider={p.name}>
      <h2 id={`${id}-t`}>
        {p.name} {p.builtin ? <span class="tag">built-in</span> : <span class="tag">custom</span>}
      </h2>
      <dl class="details compact">
        <div>
          <dt>State</dt>
          <dd>{p.configured ? `configured (${p.auth_mode})` : 'not configured'}</dd>
        </div>
        <div>
          <dt>Key fingerprint</dt>
          <dd class="mono">{p.fingerprint || '—'}</dd>
        </div>
      </dl>
      <form onSubmit={save}>
        <fieldset disabled={!admin}>
          <legend class="sr-only">Key for {p.name}</legend>
          <Select id={`${id}-mode`} field="auth_mode" label="Auth mode" value={mode} onChange={(e) => setMode(e.currentTarget.value)} err={err}
            hint={mode === 'passthrough' ? 'Clients send their own provider credentials; the gateway forwards them.' : 'The gateway injects the stored key.'}>
            <option value="stored">stored</option>
            <option value="passthrough">passthrough</option>
          </Select>
          {mode === 'stored' && (
            <Input id={`${id}-key`} field="api_key" label={p.configured ? 'New provider key (rotates it)' : 'Provider key'} type="password"
              autocomplete="off" spellcheck={false} value={key} onInput={(e) => setKey(e.currentTarget.value)} err={err} />
          )}
          <FormError err={err} fields={['auth_mode', 'api_key']} />
          <div class="actions">
            <button type="submit" class="primary" disabled={busy || (mode === 'stored' && !key)}>
              {mode === 'stored' ? (p.configured ? 'Rotate key' : 'Save key') : 'Save mode'}
            </button>
            {p.configured && (
              <button type="button" class="danger" onClick={() => { setRmErr(null); setConfirmRemove(true); }}>
                Remove key
              </button>
            )}
          </div>
        </fieldset>
      </form>
      <ConfirmDialog open={confirmRemove} title={`Remove the key for ${p.name}?`} confirmLabel="Remove key" danger busy={busy}
        err={rmErr} onConfirm={remove} onCancel={() => setConfirmRemove(false)}>
        <p>Requests to {p.name} will fail until a key is set again.</p>
      </ConfirmDialog>
    </section>
  );
}
