// pages/budgets.jsx — spend budgets (Enterprise) with a status bar each: spend of the current period against the
// soft and hard limits.
import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { fmtPct, fmtTime, fmtUsd } from '../format.js';
import { useSession } from '../session.js';
import { ConfirmDialog, FormError, Input, LoadState, Notice, PageTitle, ReadOnlyNote, Select, useApi, useBusy } from '../ui.jsx';

export function Budgets() {
  const s = useSession();
  const res = useApi('/budgets');
  const [notice, setNotice] = useState('');
  const budgets = (res.data && res.data.budgets) || [];
  return (
    <>
      <PageTitle sub="A call whose worst case no longer fits a hard limit is refused; crossing the soft limit sends budget.warning.">
        Budgets
      </PageTitle>
      {s.plan !== 'enterprise' && <p class="readonly-note">Budgets are part of the Enterprise plan: this organisation is on {s.plan}.</p>}
      <ReadOnlyNote min="admin" what="create or delete budgets" />
      <Notice>{notice}</Notice>
      {s.can('admin') && s.plan === 'enterprise' && (
        <CreateBudget onCreated={(b) => { setNotice(`Budget ${b.name || b.id} created.`); res.reload(); }} />
      )}
      <LoadState res={res} what="the budgets" />
      {res.data && !budgets.length && <p class="muted">No budgets.</p>}
      <ul class="budget-list">
        {budgets.map((b) => (
          <BudgetRow key={b.id} b={b} onDeleted={() => { setNotice(`Budget ${b.name || b.id} deleted.`); res.reload(); }} />
        ))}
      </ul>
    </>
  );
}

function BudgetRow({ b, onDeleted }) {
  const s = useSession();
  const st = useApi(`/budgets/${b.id}/status`);
  const [confirm, setConfirm] = useState(false);
  const [err, setErr] = useState(null);
  const [run, busy] = useBusy();
  const status = st.data;
  const u = status ? status.utilization : 0;
  const title = b.name || `${b.scope} budget`;
  const del = () =>
    run(async () => {
      const r = await api('DELETE', `/budgets/${b.id}`);
      if (r.ok) {
        setConfirm(false);
        onDeleted();
      } else setErr(r);
    });
  const level = u >= 1 ? 'over' : b.soft_limit_usd !== null && status && status.current_spend >= b.soft_limit_usd ? 'warn' : 'ok';
  return (
    <li class="panel budget">
      <h2>
        {title} <span class="tag">{b.scope}{b.scope_id ? ` ${b.scope_id.slice(0, 8)}…` : ''}</span> <span class="tag">{b.period_type}</span>
      </h2>
      <LoadState res={st} what="its status" />
      {status && (
        <>
          <div class={`bar ${level}`} role="progressbar" aria-label={`${title}: spend of the hard limit`} aria-valuemin="0" aria-valuemax="100"
            aria-valuenow={Math.round(Math.min(u, 1) * 100)} aria-valuetext={`${fmtUsd(status.current_spend)} of ${fmtUsd(b.hard_limit_usd)}`}>
            <BarFill pct={Math.min(u, 1) * 100} />
            {b.soft_limit_usd !== null && <SoftMark pct={Math.min(b.soft_limit_usd / b.hard_limit_usd, 1) * 100} />}
          </div>
          <p>
            {fmtUsd(status.current_spend)} of {fmtUsd(b.hard_limit_usd)} ({fmtPct(u)})
            {b.soft_limit_usd !== null ? `, warning at ${fmtUsd(b.soft_limit_usd)}` : ''}; {fmtUsd(status.remaining)} left
            {status.period_end ? ` until ${fmtTime(status.period_end)}` : ''}.
            {status.reserved ? ` ${fmtUsd(status.reserved)} reserved by calls in flight.` : ''}
          </p>
        </>
      )}
      {s.can('admin') && (
        <button type="button" class="danger" onClick={() => { setErr(null); setConfirm(true); }}>
          Delete budget
        </button>
      )}
      <ConfirmDialog open={confirm} title={`Delete ${title}?`} confirmLabel="Delete budget" danger busy={busy} err={err} onConfirm={del}
        onCancel={() => setConfirm(false)}>
        <p>The budget and its recorded spend are deleted; calls are no longer limited by it.</p>
      </ConfirmDialog>
    </li>
  );
}

/** The filled part of a bar; its width is set through the CSSOM (the CSP allows no style attributes). */
function BarFill({ pct }) {
  return <span class="fill" ref={(el) => el && (el.style.width = `${pct}%`)} />;
}

function SoftMark({ pct }) {
  return <span class="soft" title="soft limit" ref={(el) => el && (el.style.left = `${pct}%`)} />;
}

function CreateBudget({ onCreated }) {
  const keys = useApi('/keys');
  const apps = useApi('/apps');
  const blank = { name: '', scope: 'org', scope_id: '', period_type: 'monthly', soft: '', hard: '' };
  const [f, setF] = useState(blank);
  const [err, setErr] = useState(null);
  const [run, busy] = useBusy();
  const set = (k) => (e) => setF({ ...f, [k]: e.currentTarget.value, ...(k === 'scope' ? { scope_id: '' } : {}) });
  const money = (v) => {
    const t = String(v).trim();
    if (t === '') return null;
    return /^\d+(\.\d+)?$/.test(t) ? Number(t) : t; // anything else is refused by the API, naming the field
  };
  const submit = (e) => {
    e.preventDefault();
    run(async () => {
      const body = { scope: f.scope, period_type: f.period_type, hard_limit_usd: money(f.hard), soft_limit_usd: money(f.soft) };
      if (f.name.trim()) body.name = f.name.trim();
      if (f.scope !== 'org') body.scope_id = f.scope_id || null;
      const r = await api('POST', '/budgets', body);
      if (r.ok) {
        setErr(null);
        setF(blank);
        onCreated(r.data.budget);
      } else setErr(r);
    });
  };
  const targets = f.scope === 'key' ? ((keys.data && keys.data.keys) || []).filter((k) => !k.revoked) : f.scope === 'app' ? (apps.data && apps.data.apps) || [] : [];
  return (
    <form class="panel" onSubmit={submit} aria-labelledby="cb-title">
      <h2 id="cb-title">Create a budget</h2>
      <div class="grid">
        <Input id="cb-name" field="name" label="Name (optional)" value={f.name} onInput={set('name')} err={err} />
        <Select id="cb-scope" field="scope" label="Applies to" value={f.scope} onChange={set('scope')} err={err}>
          <option value="org">the whole organisation</option>
          <option value="app">one app</option>
          <option value="key">one API key</option>
        </Select>
        {f.scope !== 'org' && (
          <Select id="cb-target" field="scope_id" label={f.scope === 'key' ? 'API key' : 'App'} value={f.scope_id} onChange={set('scope_id')} err={err}>
            <option value="">Choose…</option>
            {targets.map((t) => (
              <option key={t.id} value={t.id}>
                {t.name || t.hash_prefix}
              </option>
            ))}
          </Select>
        )}
        <Select id="cb-period" field="period_type" label="Period (UTC)" value={f.period_type} onChange={set('period_type')} err={err}>
          <option value="monthly">monthly</option>
          <option value="weekly">weekly</option>
          <option value="daily">daily</option>
        </Select>
        <Input id="cb-soft" field="soft_limit_usd" label="Warning at (USD, optional)" inputmode="decimal" value={f.soft} onInput={set('soft')} err={err} />
        <Input id="cb-hard" field="hard_limit_usd" label="Hard limit (USD)" inputmode="decimal" value={f.hard} onInput={set('hard')} err={err} />
      </div>
      <FormError err={err} fields={['name', 'scope', 'scope_id', 'period_type', 'soft_limit_usd', 'hard_limit_usd']} />
      <button type="submit" class="primary" disabled={busy}>
        Create budget
      </button>
    </form>
  );
}
