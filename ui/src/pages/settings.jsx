// pages/settings.jsx — the org's name and settings (PUT /api/v1/org replaces the whole settings object, so the
// form sends every member it knows and keeps the stored ones it does not show), with the plan's limits.
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.js';
import { PLANS, useSession } from '../session.js';
import { Check, FormError, Input, LoadState, Notice, PageTitle, ReadOnlyNote, Select, TextArea, useApi, useBusy } from '../ui.jsx';

const DETECTORS = [
  ['email', 'Email addresses'],
  ['ssn', 'US social security numbers'],
  ['card', 'Payment card numbers (Luhn-checked)'],
  ['phone', 'Phone numbers'],
];

const FIELDS = ['name', 'capture', 'retention_days', 'redaction', 'redaction_custom', 'guardrails', 'guardrails_injection',
  'guardrails_threshold', 'rate_limits', 'rate_limits_tpm', 'outbound_allowlist'];
const lines = (t) => t.split('\n').map((l) => l.trim()).filter(Boolean);
const num = (v) => {
  const t = String(v).trim();
  if (t === '') return null;
  return /^\d+$/.test(t) ? Number(t) : t;
};

/**
 * The API names the whole `settings` member for a bad setting; its message starts with the setting's path
 * ("settings.rate_limits is invalid: …"). That path picks the control the error is shown next to.
 */
function fieldOf(err) {
  if (!err || err.field !== 'settings') return err;
  const m = /settings\.([a-z_]+)(?:\.([a-z_]+))?/i.exec(err.error);
  if (!m) return err;
  const sub = { 'redaction.custom': 'redaction_custom', 'guardrails.injection': 'guardrails_injection',
    'guardrails.injection_threshold': 'guardrails_threshold', 'rate_limits.tokens_per_minute': 'rate_limits_tpm' };
  return { ...err, field: sub[`${m[1]}.${m[2]}`] || m[1] };
}

/** The form's state from the stored org. */
function fromOrg(org) {
  const st = org.settings || {};
  const red = st.redaction || {};
  const g = st.guardrails || {};
  const rl = st.rate_limits || {};
  return {
    name: org.name,
    capture: st.capture || 'full',
    retention: String(st.retention_days ?? (org.plan === 'enterprise' ? 30 : 7)),
    redEnabled: !!red.enabled,
    redMode: red.mode || 'pattern',
    detectors: red.detectors || DETECTORS.map((d) => d[0]),
    custom: (red.custom || []).join('\n'),
    allowlist: (st.outbound_allowlist || []).join('\n'),
    rpm: rl.requests_per_minute ?? '',
    tpm: rl.tokens_per_minute ?? '',
    pii: g.pii || 'off',
    injection: g.injection || (org.plan === 'enterprise' ? 'log_only' : 'off'),
    threshold: String(g.injection_threshold ?? 50),
  };
}

/** The settings object to PUT: every member the form shows, the stored ones it does not keep their value. */
function toSettings(f, stored, plan) {
  const out = { ...stored, capture: f.capture, retention_days: Number(f.retention) };
  if (plan.redaction)
    out.redaction = { enabled: f.redEnabled, mode: f.redMode, detectors: f.detectors, custom: lines(f.custom) };
  if (plan.guardrails) out.guardrails = { pii: f.pii, injection: f.injection, injection_threshold: num(f.threshold) };
  const allow = lines(f.allowlist);
  if (allow.length || stored.outbound_allowlist) out.outbound_allowlist = allow;
  const rpm = num(f.rpm);
  const tpm = num(f.tpm);
  if (rpm !== null || tpm !== null || stored.rate_limits) out.rate_limits = { requests_per_minute: rpm, tokens_per_minute: tpm };
  return out;
}

export function Settings() {
  const res = useApi('/org');
  const org = res.data && res.data.org;
  return (
    <>
      <PageTitle sub="What the gateway keeps of each call, for how long, what it redacts and how fast keys may go.">Settings</PageTitle>
      <LoadState res={res} what="the settings" />
      {org && <SettingsForm org={org} onSaved={res.reload} />}
    </>
  );
}

function PlanLimits({ plan, planName }) {
  return (
    <section class="panel plan" aria-labelledby="plan-title">
      <h2 id="plan-title">Your plan: {plan.name}</h2>
      <ul>
        <li>Log retention: {plan.retention.map((d) => (d === 0 ? 'unlimited' : `${d} days`)).join(', ')}</li>
        <li>PII redaction of stored logs: {plan.redaction ? 'included' : 'Enterprise only'}</li>
        <li>Request guardrails (PII, prompt injection): {plan.guardrails ? 'included' : 'Enterprise only'}</li>
        <li>Budgets: {plan.budgets ? `up to ${plan.budgets}` : 'Enterprise only'}</li>
        <li>Webhooks: {plan.webhooks ? `up to ${plan.webhooks}` : 'Enterprise only'}</li>
      </ul>
      {planName !== 'enterprise' && <p class="muted">An owner can change the plan under Billing &amp; plan.</p>}
    </section>
  );
}

function SettingsForm({ org, onSaved }) {
  const s = useSession();
  const plan = PLANS[org.plan] || PLANS.free;
  const [f, setF] = useState(() => fromOrg(org));
  useEffect(() => setF(fromOrg(org)), [org]);
  const [err, setErr] = useState(null);
  const [notice, setNotice] = useState('');
  const [run, busy] = useBusy();
  const set = (k) => (e) => setF({ ...f, [k]: e.currentTarget.value });
  const toggleDetector = (d, on) => setF({ ...f, detectors: on ? [...f.detectors, d] : f.detectors.filter((x) => x !== d) });
  const submit = (e) => {
    e.preventDefault();
    run(async () => {
      const body = { settings: toSettings(f, org.settings || {}, plan) };
      if (f.name.trim() !== org.name) body.name = f.name.trim();
      const r = await api('PUT', '/org', body);
      if (r.ok) {
        setErr(null);
        setNotice('Settings saved. They apply to the next calls.');
        onSaved();
      } else {
        setNotice('');
        setErr(fieldOf(r));
      }
    });
  };
  const admin = s.can('admin');
  return (
    <>
      <PlanLimits plan={plan} planName={org.plan} />
      <ReadOnlyNote min="admin" what="change the settings" />
      <form onSubmit={submit} aria-label="Organisation settings">
        <fieldset disabled={!admin} class="plain">
          <legend class="sr-only">Organisation settings</legend>
          <section class="panel" aria-labelledby="st-org">
            <h2 id="st-org">Organisation</h2>
            <Input id="st-name" field="name" label="Name" value={f.name} maxLength={128} onInput={set('name')} err={err} />
          </section>
          <section class="panel" aria-labelledby="st-cap">
            <h2 id="st-cap">Call logs</h2>
            <Select id="st-capture" field="capture" label="Body capture" value={f.capture} onChange={set('capture')} err={err}
              hint="full: bodies kept; metadata: everything but bodies; off: only what usage and budgets need.">
              <option value="full">full</option>
              <option value="metadata">metadata</option>
              <option value="off">off</option>
            </Select>
            <Select id="st-retention" field="retention_days" label="Retention" value={f.retention} onChange={set('retention')} err={err}
              hint={plan.retention.length === 1 ? `The ${plan.name} plan keeps logs ${plan.retention[0]} days.` : undefined}>
              {plan.retention.map((d) => (
                <option key={d} value={String(d)}>
                  {d === 0 ? 'unlimited' : `${d} days`}
                </option>
              ))}
            </Select>
          </section>
          <section class="panel" aria-labelledby="st-red">
            <h2 id="st-red">PII redaction of stored logs {plan.redaction ? null : <span class="tag">Enterprise</span>}</h2>
            <fieldset disabled={!plan.redaction} class="plain">
              <legend class="sr-only">PII redaction</legend>
              <Check id="st-red-on" label="Redact personal data before bodies are stored" checked={f.redEnabled}
                onChange={(v) => setF({ ...f, redEnabled: v })} />
              <Select id="st-red-mode" field="redaction" label="Mode" value={f.redMode} onChange={set('redMode')} err={err}
                hint="pattern: replace each match with [REDACTED]; hash: replace the whole string; drop: store null.">
                <option value="pattern">pattern</option>
                <option value="hash">hash</option>
                <option value="drop">drop</option>
              </Select>
              <fieldset class="plain group">
                <legend>Detectors</legend>
                {DETECTORS.map(([d, label]) => (
                  <Check key={d} id={`st-det-${d}`} label={label} checked={f.detectors.includes(d)} onChange={(v) => toggleDetector(d, v)} />
                ))}
              </fieldset>
              <TextArea id="st-red-custom" field="redaction_custom" label="Custom patterns (PCRE2, one per line, at most 32)" rows={3}
                class="mono" value={f.custom} onInput={set('custom')} err={err} />
            </fieldset>
          </section>
          <section class="panel" aria-labelledby="st-guard">
            <h2 id="st-guard">Guardrails {plan.guardrails ? null : <span class="tag">Enterprise</span>}</h2>
            <fieldset disabled={!plan.guardrails} class="plain">
              <legend class="sr-only">Guardrails</legend>
              <Select id="st-g-pii" field="guardrails" label="PII in requests" value={f.pii} onChange={set('pii')} err={err}
                hint="Uses the detectors and custom patterns above.">
                <option value="off">off</option>
                <option value="log_only">log only</option>
                <option value="redact">redact before sending upstream</option>
                <option value="block">block the request</option>
              </Select>
              <Select id="st-g-inj" field="guardrails_injection" label="Prompt injection" value={f.injection} onChange={set('injection')} err={err}>
                <option value="off">off</option>
                <option value="log_only">log only</option>
                <option value="block">block the request</option>
              </Select>
              <Input id="st-g-thr" field="guardrails_threshold" label="Injection threshold (1–100)" inputmode="numeric" value={f.threshold}
                onInput={set('threshold')} err={err} />
            </fieldset>
          </section>
          <section class="panel" aria-labelledby="st-rl">
            <h2 id="st-rl">Default rate limits per key</h2>
            <p class="muted">Empty means no limit. A key's own limits (API keys page) override these.</p>
            <div class="grid">
              <Input id="st-rpm" field="rate_limits" label="Requests per minute" inputmode="numeric" value={f.rpm} onInput={set('rpm')} err={err} />
              <Input id="st-tpm" field="rate_limits_tpm" label="Tokens per minute" inputmode="numeric" value={f.tpm} onInput={set('tpm')} err={err} />
            </div>
          </section>
          <section class="panel" aria-labelledby="st-out">
            <h2 id="st-out">Webhook allowlist</h2>
            <TextArea id="st-allow" field="outbound_allowlist" label="Extra https targets for webhooks (name, name:port, ip[:port] or cidr[:port]; one per line)"
              rows={3} class="mono" value={f.allowlist} onInput={set('allowlist')} err={err} />
          </section>
          <FormError err={err} fields={FIELDS} />
          <Notice>{notice}</Notice>
          <button type="submit" class="primary" disabled={busy}>
            {busy ? 'Saving…' : 'Save settings'}
          </button>
        </fieldset>
      </form>
    </>
  );
}
