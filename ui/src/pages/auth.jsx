// pages/auth.jsx — sign in, sign up, accept an invitation. Each ends in a cookie session (api.js sends
// X-Ingate-Session: cookie on all three).
import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { Input, FormError, Link, useBusy } from '../ui.jsx';

function Brand() {
  return <p class="auth-brand">ingate</p>;
}

export function Login({ notice, onSignedIn }) {
  const [f, setF] = useState({ email: '', password: '', org: '' });
  const [err, setErr] = useState(null);
  const [run, busy] = useBusy();
  const set = (k) => (e) => setF({ ...f, [k]: e.currentTarget.value });
  const submit = (e) => {
    e.preventDefault();
    run(async () => {
      const body = { email: f.email.trim(), password: f.password };
      if (f.org.trim()) body.org = f.org.trim();
      const r = await api('POST', '/login', body);
      if (r.ok) onSignedIn(r.data);
      else setErr(r.code === 'invalid_credentials' ? { ...r, field: 'password', error: 'Wrong email or password.' } : r);
    });
  };
  return (
    <div class="auth-box">
      <Brand />
      <h1 tabindex="-1" id="page-h1">Sign in</h1>
      {notice && (
        <p class={`notice ${notice.kind}`} role={notice.kind === 'warn' ? 'alert' : 'status'} id="auth-notice">
          {notice.text}
        </p>
      )}
      <form onSubmit={submit} noValidate>
        <Input id="login-email" field="email" label="Email" type="email" autocomplete="username" required
          value={f.email} onInput={set('email')} err={err} />
        <Input id="login-password" field="password" label="Password" type="password" autocomplete="current-password"
          required value={f.password} onInput={set('password')} err={err} />
        <Input id="login-org" field="org" label="Organisation (slug or id, optional)" value={f.org} onInput={set('org')}
          err={err} hint="Leave empty for your oldest organisation." />
        <FormError err={err} fields={['email', 'password', 'org']} />
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
      <p class="auth-links">
        No account? <Link href="/ui/signup">Create an organisation</Link> · Invited?{' '}
        <Link href="/ui/accept">Accept an invitation</Link>
      </p>
    </div>
  );
}

const slugify = (s) =>
  s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 64);

export function Signup({ onSignedIn, onFirstKey }) {
  const [f, setF] = useState({ email: '', password: '', display_name: '', org_name: '', org_slug: '' });
  const [slugEdited, setSlugEdited] = useState(false);
  const [err, setErr] = useState(null);
  const [run, busy] = useBusy();
  const set = (k) => (e) => {
    const v = e.currentTarget.value;
    const nf = { ...f, [k]: v };
    if (k === 'org_name' && !slugEdited) nf.org_slug = slugify(v);
    if (k === 'org_slug') setSlugEdited(true);
    setF(nf);
  };
  const submit = (e) => {
    e.preventDefault();
    run(async () => {
      const body = { email: f.email.trim(), password: f.password, org_name: f.org_name.trim(), org_slug: f.org_slug.trim() };
      if (f.display_name.trim()) body.display_name = f.display_name.trim();
      const r = await api('POST', '/signup', body);
      if (r.ok) {
        onFirstKey(r.data.api_key);
        onSignedIn(r.data);
      } else setErr(r);
    });
  };
  return (
    <div class="auth-box">
      <Brand />
      <h1 tabindex="-1" id="page-h1">Create an organisation</h1>
      <form onSubmit={submit} noValidate>
        <Input id="signup-email" field="email" label="Email" type="email" autocomplete="username" required
          value={f.email} onInput={set('email')} err={err} />
        <Input id="signup-password" field="password" label="Password" type="password" autocomplete="new-password"
          required value={f.password} onInput={set('password')} err={err}
          hint="12 to 72 bytes. Longer passwords are refused, not cut." />
        <Input id="signup-name" field="display_name" label="Your name (optional)" autocomplete="name"
          value={f.display_name} onInput={set('display_name')} err={err} />
        <Input id="signup-org-name" field="org_name" label="Organisation name" required value={f.org_name}
          onInput={set('org_name')} err={err} />
        <Input id="signup-org-slug" field="org_slug" label="Organisation slug" required value={f.org_slug}
          onInput={set('org_slug')} err={err} hint="2 to 64 of a–z, 0–9 and -; used to sign in to this organisation." />
        <FormError err={err} fields={['email', 'password', 'display_name', 'org_name', 'org_slug']} />
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Creating…' : 'Create organisation'}
        </button>
      </form>
      <p class="auth-links">
        Already have an account? <Link href="/ui/login">Sign in</Link>
      </p>
    </div>
  );
}

export function Accept({ onSignedIn }) {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get('token') || '';
  const [f, setF] = useState({ token: fromHash, password: '', display_name: '' });
  const [err, setErr] = useState(null);
  const [run, busy] = useBusy();
  const set = (k) => (e) => setF({ ...f, [k]: e.currentTarget.value });
  const submit = (e) => {
    e.preventDefault();
    run(async () => {
      const body = { token: f.token.trim(), password: f.password };
      if (f.display_name.trim()) body.display_name = f.display_name.trim();
      const r = await api('POST', '/invitations/accept', body);
      if (r.ok) onSignedIn(r.data);
      else setErr(r.code === 'invalid_invitation' ? { ...r, field: 'token' } : r);
    });
  };
  return (
    <div class="auth-box">
      <Brand />
      <h1 tabindex="-1" id="page-h1">Accept an invitation</h1>
      <form onSubmit={submit} noValidate>
        <Input id="accept-token" field="token" label="Invitation token" class="mono" required value={f.token}
          onInput={set('token')} err={err} hint="Starts with ig_inv_. Your admin gave it to you." autocomplete="off" />
        <Input id="accept-password" field="password" label="Password" type="password" autocomplete="new-password"
          required value={f.password} onInput={set('password')} err={err}
          hint="New account: choose one (12 to 72 bytes). Existing account: your current password." />
        <Input id="accept-name" field="display_name" label="Your name (new accounts, optional)" value={f.display_name}
          onInput={set('display_name')} err={err} />
        <FormError err={err} fields={['token', 'password', 'display_name']} />
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Joining…' : 'Join the organisation'}
        </button>
      </form>
      <p class="auth-links">
        <Link href="/ui/login">Sign in</Link>
      </p>
    </div>
  );
}
