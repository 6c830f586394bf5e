// pages/account.jsx — the signed-in user: who they are, their organisations, and a password change (which ends
// every other session of theirs; this one goes on with a fresh cookie).
import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { useSession } from '../session.js';
import { FormError, Input, Notice, PageTitle, Table, useBusy } from '../ui.jsx';

export function Account() {
  const s = useSession();
  const [f, setF] = useState({ current: '', next: '' });
  const [err, setErr] = useState(null);
  const [notice, setNotice] = useState('');
  const [run, busy] = useBusy();
  const submit = (e) => {
    e.preventDefault();
    run(async () => {
      const r = await api('PUT', '/me/password', { current_password: f.current, new_password: f.next });
      setF({ current: '', next: '' });
      if (r.ok) {
        setErr(null);
        s.renewed(r.data);
        setNotice('Password changed. Your other sessions have been signed out.');
      } else {
        setNotice('');
        setErr(r.code === 'invalid_credentials' ? { ...r, field: 'current_password', error: 'The current password is wrong.' } : r);
      }
    });
  };
  return (
    <>
      <PageTitle>Account</PageTitle>
      <dl class="details">
        <div>
          <dt>Email</dt>
          <dd>{s.user.email}</dd>
        </div>
        <div>
          <dt>Name</dt>
          <dd>{s.user.display_name || '—'}</dd>
        </div>
        <div>
          <dt>This organisation</dt>
          <dd>
            {s.org.slug} ({s.role})
          </dd>
        </div>
      </dl>
      <Table caption="Your organisations" head={['Organisation', 'Slug', 'Role', 'Plan']}>
        {s.orgs.map((o) => (
          <tr key={o.id}>
            <th scope="row">{o.name}</th>
            <td>{o.slug}</td>
            <td>{o.role}</td>
            <td>{o.plan}</td>
          </tr>
        ))}
      </Table>
      <form class="panel" onSubmit={submit} aria-labelledby="pw-title">
        <h2 id="pw-title">Change password</h2>
        <Notice>{notice}</Notice>
        <Input id="pw-current" field="current_password" label="Current password" type="password" autocomplete="current-password"
          value={f.current} onInput={(e) => setF({ ...f, current: e.currentTarget.value })} err={err} />
        <Input id="pw-new" field="new_password" label="New password" type="password" autocomplete="new-password"
          value={f.next} onInput={(e) => setF({ ...f, next: e.currentTarget.value })} err={err}
          hint="12 to 72 bytes. Every other session of yours, in every organisation, ends." />
        <FormError err={err} fields={['current_password', 'new_password']} />
        <button type="submit" class="primary" disabled={busy || !f.current || !f.next}>
          Change password
        </button>
      </form>
    </>
  );
}
