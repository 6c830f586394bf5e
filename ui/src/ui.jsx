// ui.jsx — the small shared pieces every page is built from: links, labelled fields that show the API's error
// next to the control it names, one-time secrets, confirmation dialogs, data loading.
//
// Error display rule: an API error {error, field} is shown under the control whose `field` matches; a form's
// <FormError> shows it when no control of the form has that name, so no error is ever silent.
import { useEffect, useRef, useState, useCallback } from 'preact/hooks';
import { api } from './api.js';
import { navigate } from './router.js';
import { useSession } from './session.js';

/** A same-app link: navigates with the History API, leaves modified clicks (new tab…) to the browser. */
export function Link({ href, children, ...rest }) {
  const onClick = (e) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(href);
  };
  return (
    <a href={href} onClick={onClick} {...rest}>
      {children}
    </a>
  );
}

/** A labelled control: children(a11yProps) renders the control itself. */
export function Field({ id, label, field = id, err, hint, children }) {
  const bad = !!(err && err.field && err.field === field);
  const describedBy = [hint ? `${id}-hint` : '', bad ? `${id}-err` : ''].filter(Boolean).join(' ') || undefined;
  const a11y = { id, name: field, 'aria-invalid': bad ? 'true' : undefined, 'aria-describedby': describedBy };
  return (
    <div class="field">
      <label for={id}>{label}</label>
      {children(a11y)}
      {hint && (
        <p class="hint" id={`${id}-hint`}>
          {hint}
        </p>
      )}
      {bad && (
        <p class="err" id={`${id}-err`} role="alert">
          {err.error}
        </p>
      )}
    </div>
  );
}

export function Input({ id, label, field, err, hint, ...rest }) {
  return (
    <Field id={id} label={label} field={field} err={err} hint={hint}>
      {(a) => <input type="text" {...a} {...rest} />}
    </Field>
  );
}

export function Select({ id, label, field, err, hint, children, ...rest }) {
  return (
    <Field id={id} label={label} field={field} err={err} hint={hint}>
      {(a) => (
        <select {...a} {...rest}>
          {children}
        </select>
      )}
    </Field>
  );
}

export function TextArea({ id, label, field, err, hint, ...rest }) {
  return (
    <Field id={id} label={label} field={field} err={err} hint={hint}>
      {(a) => <textarea {...a} {...rest} />}
    </Field>
  );
}

/** A checkbox with its label after it. */
export function Check({ id, label, checked, onChange, disabled }) {
  return (
    <div class="check">
      <input type="checkbox" id={id} checked={checked} disabled={disabled} onChange={(e) => onChange(e.currentTarget.checked)} />
      <label for={id}>{label}</label>
    </div>
  );
}

/** The error of a form whose field is not one of `fields` (or has no field). */
export function FormError({ err, fields = [] }) {
  if (!err || (err.field && fields.includes(err.field))) return null;
  return (
    <p class="err form-err" role="alert">
      {err.error}
      {err.requestId ? <span class="reqid"> (request {err.requestId})</span> : null}
    </p>
  );
}

/** A status line (success, information). */
export function Notice({ children, kind = 'ok' }) {
  if (!children) return null;
  return (
    <p class={`notice ${kind}`} role="status">
      {children}
    </p>
  );
}

/** What a read-only role sees above controls it may not use. */
export function ReadOnlyNote({ min, what = 'change this' }) {
  const s = useSession();
  if (s.can(min)) return null;
  return (
    <p class="readonly-note">
      Read-only: to {what} you need the <strong>{min}</strong> role (you are <strong>{s.role}</strong>).
    </p>
  );
}

/** A secret shown exactly once (a raw API key, an invitation link, a webhook secret), with a copy button. */
export function SecretOnce({ id, label, value, warning, onDone, doneLabel = 'I have stored it' }) {
  const [copied, setCopied] = useState('');
  const input = useRef(null);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value);
      setCopied('Copied to the clipboard.');
    } catch {
      input.current.select();
      let ok = false;
      try {
        ok = document.execCommand('copy');
      } catch {
        ok = false;
      }
      setCopied(ok ? 'Copied to the clipboard.' : 'Selected: press Ctrl+C (⌘C) to copy.');
    }
  };
  return (
    <section class="secret-once" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>{label}</h2>
      <p class="warning" role="alert">
        <strong>Shown only once.</strong> {warning || 'Copy it now and store it somewhere safe: it cannot be shown again.'}
      </p>
      <div class="secret-row">
        <label for={id} class="sr-only">
          {label}
        </label>
        <input id={id} ref={input} class="mono secret-value" readOnly value={value} onFocus={(e) => e.currentTarget.select()} />
        <button type="button" onClick={copy}>
          Copy
        </button>
      </div>
      <p class="hint" aria-live="polite">
        {copied}
      </p>
      {onDone && (
        <button type="button" class="primary" onClick={onDone}>
          {doneLabel}
        </button>
      )}
    </section>
  );
}

/**
 * How to send a model request through this gateway with an ingate key: the base URL is this page's origin.
 * The key itself is never put into the snippets (it stays in its one-time field); they read $INGATE_KEY.
 */
export function FirstRequest({ id = 'first-request' }) {
  const o = window.location.origin;
  const curl =
    `export INGATE_KEY=sk-ingate-…   # the key above\n` +
    `curl ${o}/v1/chat/completions \\\n` +
    `  -H "X-Ingate-Key: $INGATE_KEY" -H "Content-Type: application/json" \\\n` +
    `  -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello"}]}'`;
  const sdk =
    `// OpenAI SDK: only the base URL and the key change\n` +
    `const client = new OpenAI({ baseURL: "${o}/v1", apiKey: process.env.INGATE_KEY });\n` +
    `// Anthropic SDK\n` +
    `const claude = new Anthropic({ baseURL: "${o}", apiKey: process.env.INGATE_KEY });`;
  return (
    <section class="panel first-request" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>Send your first request</h2>
      <ol>
        <li>
          Store your provider's key under <Link href="/ui/providers">Providers</Link> (OpenAI, Anthropic, …): ingate injects it, your
          application never holds it.
        </li>
        <li>Point your SDK or client at this gateway and send the ingate key:</li>
      </ol>
      <pre class="body assembled" id={`${id}-curl`}>{curl}</pre>
      <pre class="body assembled" id={`${id}-sdk`}>{sdk}</pre>
      <p class="hint">
        The calls then appear under <Link href="/ui/logs">Logs</Link> (personal data redacted when your plan and settings say so) and in the Overview.
      </p>
    </section>
  );
}

/**
 * A modal confirmation (<dialog>: focus stays inside, Escape cancels). typed: the text the user must type to
 * enable the confirm button (deleting an org, transferring it).
 */
export function ConfirmDialog({ open, title, children, confirmLabel = 'Confirm', danger, typed, typedLabel, busy, err, errFields, onConfirm, onCancel }) {
  const ref = useRef(null);
  const [text, setText] = useState('');
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) {
      setText('');
      d.showModal();
    } else if (!open && d.open) d.close();
  }, [open]);
  const id = useRef(`dlg-${Math.random().toString(36).slice(2, 8)}`).current;
  const can = !busy && (!typed || text === typed);
  return (
    <dialog ref={ref} aria-labelledby={`${id}-t`} onCancel={(e) => { e.preventDefault(); onCancel(); }}>
      <form method="dialog" onSubmit={(e) => { e.preventDefault(); if (can) onConfirm(); }}>
        <h2 id={`${id}-t`}>{title}</h2>
        <div class="dialog-body">{children}</div>
        {typed && (
          <Input id={`${id}-typed`} label={typedLabel || `Type ${typed} to confirm`} value={text} autocomplete="off"
            onInput={(e) => setText(e.currentTarget.value)} field="confirm" err={err} />
        )}
        <FormError err={err} fields={errFields || (typed ? ['confirm'] : [])} />
        <div class="actions">
          <button type="button" onClick={onCancel}>Cancel</button>
          <button type="submit" class={danger ? 'danger' : 'primary'} disabled={!can}>
            {busy ? 'Working…' : confirmLabel}
          </button>
        </div>
      </form>
    </dialog>
  );
}

/**
 * Loads GET path (skipped while path is null). Returns {data, err, loading, reload}. A later answer for an
 * older path is dropped.
 */
export function useApi(path) {
  const [state, setState] = useState({ data: null, err: null, loading: !!path });
  const seq = useRef(0);
  const load = useCallback(async () => {
    if (!path) return;
    const mine = ++seq.current;
    setState((s) => ({ ...s, loading: true }));
    const r = await api('GET', path);
    if (mine !== seq.current) return;
    setState(r.ok ? { data: r.data, err: null, loading: false } : { data: null, err: r, loading: false });
  }, [path]);
  useEffect(() => {
    load();
  }, [load]);
  return { ...state, reload: load };
}

/** The loading / error line of a useApi result (nothing once loaded). */
export function LoadState({ res, what }) {
  if (res.err)
    return (
      <p class="err" role="alert">
        Could not load {what}: {res.err.error}
      </p>
    );
  if (res.loading && !res.data) return <p class="muted" aria-live="polite">Loading {what}…</p>;
  return null;
}

/** The page's title, focused after a navigation so screen readers announce it. */
export function PageTitle({ children, sub }) {
  return (
    <div class="page-title">
      <h1 tabindex="-1" id="page-h1">
        {children}
      </h1>
      {sub && <p class="muted">{sub}</p>}
    </div>
  );
}

/** A table that scrolls sideways on narrow screens instead of overflowing the page. */
export function Table({ caption, head, children, empty }) {
  return (
    <div class="table-wrap" tabindex="0" role="region" aria-label={caption}>
      <table>
        <caption class="sr-only">{caption}</caption>
        <thead>
          <tr>
            {head.map((h) => (
              <th scope="col" key={h}>
                {h}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
      {empty && <p class="muted empty">{empty}</p>}
    </div>
  );
}

/** Runs an async action with busy state: [run, busy]. */
export function useBusy() {
  const [busy, setBusy] = useState(false);
  const run = useCallback(async (fn) => {
    setBusy(true);
    try {
      return await fn();
    } finally {
      setBusy(false);
    }
  }, []);
  return [run, busy];
}
