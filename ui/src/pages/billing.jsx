// pages/billing.jsx — the org's plan (owners only), what each plan includes, and changing it.
import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { PLANS, useSession } from '../session.js';
import { ConfirmDialog, LoadState, Notice, PageTitle, Select, Table, useApi, useBusy } from '../ui.jsx';

const yes = (b) => (b ? 'yes' : '—');

export function Billing() {
  const s = useSession();
  const res = useApi('/org/billing');
  const [choice, setChoice] = useState('');
  const [confirm, setConfirm] = useState(false);
  const [err, setErr] = useState(null);
  const [notice, setNotice] = useState('');
  const [run, busy] = useBusy();
  const plan = res.data && res.data.plan;
  const target = choice || plan;
  const save = () =>
    run(async () => {
      const r = await api('PUT', '/org/billing', { plan: target });
      if (r.ok) {
        setConfirm(false);
        setErr(null);
        setNotice(`The organisation is now on the ${PLANS[r.data.plan].name} plan.`);
        res.reload();
        await s.refreshMe();
      } else setErr(r);
    });
  return (
    <>
      <PageTitle>Billing &amp; plan</PageTitle>
      <LoadState res={res} what="the plan" />
      <Notice>{notice}</Notice>
      {plan && (
        <>
          <p>
            Current plan: <strong id="current-plan">{PLANS[plan].name}</strong>
          </p>
          <Table caption="Plans" head={['', 'Free', 'Enterprise']}>
            <tr>
              <th scope="row">Log retention</th>
              <td>7 days</td>
              <td>30, 60, 90 days or unlimited</td>
            </tr>
            <tr>
              <th scope="row">PII redaction of stored logs</th>
              <td>{yes(PLANS.free.redaction)}</td>
              <td>{yes(PLANS.enterprise.redaction)}</td>
            </tr>
            <tr>
              <th scope="row">Guardrails</th>
              <td>{yes(PLANS.free.guardrails)}</td>
              <td>{yes(PLANS.enterprise.guardrails)}</td>
            </tr>
            <tr>
              <th scope="row">Budgets</th>
              <td>—</td>
              <td>up to {PLANS.enterprise.budgets}</td>
            </tr>
            <tr>
              <th scope="row">Webhooks</th>
              <td>—</td>
              <td>up to {PLANS.enterprise.webhooks}</td>
            </tr>
          </Table>
          <form class="panel inline-form" onSubmit={(e) => { e.preventDefault(); setErr(null); setConfirm(true); }}>
            <Select id="bill-plan" field="plan" label="Plan" value={target} onChange={(e) => setChoice(e.currentTarget.value)} err={err}>
              <option value="free">Free</option>
              <option value="enterprise">Enterprise</option>
            </Select>
            <button type="submit" class="primary" disabled={target === plan}>
              Change plan…
            </button>
          </form>
          <ConfirmDialog open={confirm} title={`Switch to ${PLANS[target].name}?`} confirmLabel="Change plan" busy={busy} err={err}
            errFields={[]} onConfirm={save} onCancel={() => setConfirm(false)}>
            <p>
              {target === 'free'
                ? 'Enterprise features (redaction, guardrails, budgets, webhooks, longer retention) stop applying.'
                : 'Enterprise features become available at once.'}
            </p>
          </ConfirmDialog>
        </>
      )}
    </>
  );
}
