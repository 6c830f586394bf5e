// pages/webhooks.jsx — webhooks (admins, Enterprise): create (the signing secret is shown once), enable or
// disable, send a test event, delete, and read each one's delivery history with every attempt.
import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { fmtTime } from '../format.js';
import { useSession } from '../session.js';
import { Check, ConfirmDialog, FormError, Input, LoadState, Notice, PageTitle, SecretOnce, Table, useApi, useBusy } from '../ui.jsx';

const EVENTS = ['key.create', 'key.revoke', 'key.rotate', 'user.invite', 'user.role_change', 'user.remove', 'budget.warning', 'budget.exceeded', 'logs.expiring'];

export function Webhooks() {
  const s = useSession();
  const res = useApi('/webhooks');
  const [secret, setSecret] = useState(null);
  const [notice, setNotice] = useState('');
  const hooks = (res.data && res.data.webhooks) || [];
  return (
    <>
      <PageTitle sub="Signed HTTPS callbacks for key, member, budget and log events.">Webhooks</PageTitle>
      {s.plan !== 'enterprise' && <p class="readonly-note">Webhooks are part of the Enterprise plan: this organisation is on {s.plan}.</p>}
      {secret && (
        <SecretOnce id="wh-secret" label="Signing secret" value={secret}
          warning="The receiver checks X-Ingate-Signature with this secret. It is shown only once: store it now."
          onDone={() => setSecret(null)} />
      )}
      <Notice>{notice}</Notice>
      {s.plan === 'enterprise' && (
        <CreateWebhook onCreated={(d) => { setSecret(d.secret); setNotice(''); res.reload(); }} />
      )}
      <LoadState res={res} what="the webhooks" />
      {res.data && !hooks.length && <p class="muted">No webhooks.</p>}
      {hooks.map((w) => (
        <WebhookCard key={w.id} w={w} onChanged={(msg) => { setNotice(msg); res.reload(); }} />
      ))}
    </>
  );
}

function CreateWebhook({ onCreated }) {
  const [f, setF] = useState({ url: '', description: '', events: ['key.create', 'key.revoke', 'key.rotate'] });
  const [err, setErr] = useState(null);
  const [run, busy] = useBusy();
  const submit = (e) => {
    e.preventDefault();
    run(async () => {
      const body = { url: f.url.trim(), events: f.events };
      if (f.description.trim()) body.description = f.description.trim();
      const r = await api('POST', '/webhooks', body);
      if (r.ok) {
        setErr(null);
        setF({ ...f, url: '', description: '' });
        onCreated(r.data);
      } else setErr(r);
    });
  };
  return (
    <form class="panel" onSubmit={submit} aria-labelledby="cw-title">
      <h2 id="cw-title">Add a webhook</h2>
      <Input id="cw-url" field="url" label="URL (https)" type="url" value={f.url} onInput={(e) => setF({ ...f, url: e.currentTarget.value })} err={err} />
      <Input id="cw-desc" field="description" label="Description (optional)" value={f.description} maxLength={128}
        onInput={(e) => setF({ ...f, description: e.currentTarget.value })} err={err} />
      <fieldset class="plain group" aria-describedby={err && err.field === 'events' ? 'cw-events-err' : undefined}>
        <legend>Events</legend>
        {EVENTS.map((ev) => (
          <Check key={ev} id={`cw-ev-${ev}`} label={ev} checked={f.events.includes(ev)}
            onChange={(on) => setF({ ...f, events: on ? EVENTS.filter((x) => x === ev || f.events.includes(x)) : f.events.filter((x) => x !== ev) })} />
        ))}
        {err && err.field === 'events' && <p class="err" id="cw-events-err" role="alert">{err.error}</p>}
      </fieldset>
      <FormError err={err} fields={['url', 'description', 'events']} />
      <button type="submit" class="primary" disabled={busy}>
        Add webhook
      </button>
    </form>
  );
}

function WebhookCard({ w, onChanged }) {
  const [open, setOpen] = useState(false);
  const [err, setErr] = useState(null);
  const [confirm, setConfirm] = useState(false);
  const [run, busy] = useBusy();
  const act = (method, path, body, msg) =>
    run(async () => {
      const r = await api(method, path, body);
      if (r.ok) {
        setErr(null);
        setConfirm(false);
        onChanged(msg);
      } else setErr(r);
    });
  return (
    <section class="panel webhook" aria-labelledby={`wh-${w.id}`}>
      <h2 id={`wh-${w.id}`} class="mono wrap">
        {w.url}
      </h2>
      <p>
        {w.description && <>{w.description} · </>}
        {w.enabled ? 'enabled' : 'disabled'} · events: {w.events.join(', ')} · secret fingerprint <span class="mono">{w.secret_fingerprint}</span>
      </p>
      <div class="actions">
        <button type="button" disabled={busy} onClick={() => act('PUT', `/webhooks/${w.id}`, { enabled: !w.enabled }, `Webhook ${w.enabled ? 'disabled' : 'enabled'}.`)}>
          {w.enabled ? 'Disable' : 'Enable'}
        </button>
        <button type="button" disabled={busy} onClick={() => act('POST', `/webhooks/${w.id}/test`, undefined, 'Test event queued.')}>
          Send test event
        </button>
        <button type="button" aria-expanded={open ? 'true' : 'false'} onClick={() => setOpen(!open)}>
          {open ? 'Hide deliveries' : 'Show deliveries'}
        </button>
        <button type="button" class="danger" onClick={() => { setErr(null); setConfirm(true); }}>
          Delete
        </button>
      </div>
      {!confirm && <FormError err={err} />}
      {open && <Deliveries id={w.id} />}
      <ConfirmDialog open={confirm} title="Delete this webhook?" confirmLabel="Delete webhook" danger busy={busy} err={err}
        onConfirm={() => act('DELETE', `/webhooks/${w.id}`, undefined, 'Webhook deleted.')} onCancel={() => setConfirm(false)}>
        <p>Its pending deliveries and history are deleted with it.</p>
      </ConfirmDialog>
    </section>
  );
}

function Deliveries({ id }) {
  const res = useApi(`/webhooks/${id}/deliveries?limit=50`);
  const list = (res.data && res.data.deliveries) || [];
  return (
    <div class="deliveries">
      <LoadState res={res} what="the deliveries" />
      <button type="button" onClick={res.reload}>Refresh deliveries</button>
      {res.data && (
        <Table caption="Deliveries" head={['Created', 'Event', 'Status', 'Attempts', 'Last answer', 'Next attempt']}
          empty={list.length ? null : 'No deliveries yet.'}>
          {list.map((d) => (
            <tr key={d.id}>
              <td>{fmtTime(d.created_at)}</td>
              <td>{d.type}</td>
              <td>{d.status}</td>
              <td>
                <details>
                  <summary>{d.attempts}</summary>
                  <ol>
                    {(d.attempt_log || []).map((a) => (
                      <li key={a.attempt}>
                        {fmtTime(a.started_at)}: {a.status_code ?? a.error ?? '—'} ({a.duration_ms} ms)
                      </li>
                    ))}
                  </ol>
                </details>
              </td>
              <td>{d.last_status ?? d.last_error ?? '—'}</td>
              <td>{d.next_attempt_at ? fmtTime(d.next_attempt_at) : '—'}</td>
            </tr>
          ))}
        </Table>
      )}
    </div>
  );
}
