// pages/members.jsx — members and invitations (admins), teams and apps (everyone reads, admins change), and for
// owners: transferring ownership and deleting the organisation, each behind a typed confirmation.
import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { fmtTime } from '../format.js';
import { ROLES, rank, useSession } from '../session.js';
import { ConfirmDialog, FormError, Input, LoadState, Notice, PageTitle, ReadOnlyNote, SecretOnce, Select, Table, useApi, useBusy } from '../ui.jsx';

export function Members() {
  const s = useSession();
  return (
    <>
      <PageTitle>Members &amp; teams</PageTitle>
      {s.can('admin') ? <MembersSection /> : <ReadOnlyNote min="admin" what="see and manage members" />}
      <TeamsSection />
      <AppsSection />
      {s.can('owner') && <OwnerZone />}
    </>
  );
}

function MembersSection() {
  const s = useSession();
  const members = useApi('/members');
  const invites = useApi('/invitations');
  const [notice, setNotice] = useState('');
  const [secret, setSecret] = useState(null);
  const [rowErr, setRowErr] = useState(null); // {user_id, err}
  const [removing, setRemoving] = useState(null);
  const [rmErr, setRmErr] = useState(null);
  const [run, busy] = useBusy();
  const reload = () => {
    members.reload();
    invites.reload();
  };
  const roles = ROLES.filter((r) => rank(r) <= rank(s.role) && (r !== 'owner' || s.role === 'owner'));
  const changeRole = (m, role) =>
    run(async () => {
      const r = await api('PATCH', `/members/${m.user_id}`, { role });
      if (r.ok) {
        setRowErr(null);
        setNotice(`${m.email} is now ${role}.`);
        if (m.user_id === s.user.id) await s.refreshMe();
      } else setRowErr({ user_id: m.user_id, err: r });
      members.reload();
    });
  const remove = () =>
    run(async () => {
      const r = await api('DELETE', `/members/${removing.user_id}`);
      if (r.ok) {
        setNotice(`${removing.email} removed: their keys in this organisation are revoked.`);
        setRemoving(null);
        reload();
      } else setRmErr(r);
    });
  const revokeInvite = (inv) =>
    run(async () => {
      const r = await api('DELETE', `/invitations/${inv.id}`);
      setNotice(r.ok ? `Invitation for ${inv.email} revoked.` : '');
      if (!r.ok) setRowErr({ user_id: inv.id, err: r });
      invites.reload();
    });
  const list = (members.data && members.data.members) || [];
  return (
    <section aria-labelledby="mem-title">
      <h2 id="mem-title">Members</h2>
      {secret && (
        <SecretOnce id="invite-link" label={`Invitation for ${secret.email}`} value={secret.link}
          warning="This invitation link holds a one-time token: send it to the invitee yourself (ingate sends no email). It is not shown again."
          onDone={() => setSecret(null)} doneLabel="Done" />
      )}
      <Notice>{notice}</Notice>
      <Invite roles={roles} onInvited={(d, email) => {
        if (d.invite_token) {
          setSecret({ email, link: `${location.origin}/ui/accept#token=${d.invite_token}` });
          setNotice('');
        } else setNotice(`${email} already had an account and was added as ${d.member.role}.`);
        reload();
      }} />
      <LoadState res={members} what="the members" />
      {members.data && (
        <Table caption="Members" head={['Email', 'Name', 'Role', 'Joined', 'Actions']}>
          {list.map((m) => {
            const canTouch = rank(m.role) <= rank(s.role) && (m.role !== 'owner' || s.role === 'owner');
            const err = rowErr && rowErr.user_id === m.user_id ? rowErr.err : null;
            const sel = `mr-${m.user_id}`;
            return (
              <tr key={m.user_id}>
                <th scope="row">{m.email}</th>
                <td>{m.display_name || '—'}</td>
                <td>
                  <label for={sel} class="sr-only">
                    Role of {m.email}
                  </label>
                  <select id={sel} value={m.role} disabled={!canTouch || busy} aria-invalid={err ? 'true' : undefined}
                    aria-describedby={err ? `${sel}-err` : undefined} onChange={(e) => changeRole(m, e.currentTarget.value)}>
                    {ROLES.map((r) => (
                      <option key={r} value={r} disabled={!roles.includes(r)}>
                        {r}
                      </option>
                    ))}
                  </select>
                  {err && (
                    <p class="err" id={`${sel}-err`} role="alert">
                      {err.error}
                    </p>
                  )}
                </td>
                <td>{fmtTime(m.joined_at)}</td>
                <td>
                  {canTouch && (
                    <button type="button" class="danger" aria-label={`Remove ${m.email}`} onClick={() => { setRmErr(null); setRemoving(m); }}>
                      Remove
                    </button>
                  )}
                </td>
              </tr>
            );
          })}
        </Table>
      )}
      <h3>Pending invitations</h3>
      <LoadState res={invites} what="the invitations" />
      {invites.data && (
        <Table caption="Pending invitations" head={['Email', 'Role', 'Invited', 'Expires', 'Actions']}
          empty={invites.data.invitations.length ? null : 'No pending invitations.'}>
          {invites.data.invitations.map((inv) => (
            <tr key={inv.id}>
              <th scope="row">{inv.email}</th>
              <td>{inv.role}</td>
              <td>{fmtTime(inv.created_at)}</td>
              <td>{fmtTime(inv.expires_at)}</td>
              <td>
                <button type="button" aria-label={`Revoke the invitation for ${inv.email}`} onClick={() => revokeInvite(inv)}>
                  Revoke
                </button>
                {rowErr && rowErr.user_id === inv.id && <p class="err" role="alert">{rowErr.err.error}</p>}
              </td>
            </tr>
          ))}
        </Table>
      )}
      <ConfirmDialog open={!!removing} title="Remove this member?" confirmLabel="Remove member" danger busy={busy} err={rmErr}
        onConfirm={remove} onCancel={() => setRemoving(null)}>
        {removing && (
          <p>
            <strong>{removing.email}</strong> loses access to this organisation at once; the keys they created here are revoked.
          </p>
        )}
      </ConfirmDialog>
    </section>
  );
}

function Invite({ roles, onInvited }) {
  const [f, setF] = useState({ email: '', role: 'member' });
  const [err, setErr] = useState(null);
  const [run, busy] = useBusy();
  const submit = (e) => {
    e.preventDefault();
    run(async () => {
      const email = f.email.trim();
      const r = await api('POST', '/members', { email, role: f.role });
      if (r.ok) {
        setErr(null);
        setF({ email: '', role: f.role });
        onInvited(r.data, email);
      } else setErr(r.code === 'already_member' || r.code === 'already_invited' ? { ...r, field: r.field || 'email' } : r);
    });
  };
  return (
    <form class="panel" onSubmit={submit} aria-labelledby="inv-title">
      <h3 id="inv-title">Invite a member</h3>
      <div class="grid">
        <Input id="inv-email" field="email" label="Email" type="email" value={f.email} onInput={(e) => setF({ ...f, email: e.currentTarget.value })} err={err} />
        <Select id="inv-role" field="role" label="Role" value={f.role} onChange={(e) => setF({ ...f, role: e.currentTarget.value })} err={err}>
          {roles.map((r) => (
            <option key={r} value={r}>
              {r}
            </option>
          ))}
        </Select>
      </div>
      <FormError err={err} fields={['email', 'role']} />
      <button type="submit" class="primary" disabled={busy}>
        Invite
      </button>
    </form>
  );
}

/** Teams or apps: a list, a create form and delete buttons (admins). */
function NamedList({ what, path, listKey, extraCreate, extraCols, renderExtra, bodyExtra }) {
  const s = useSession();
  const res = useApi(path);
  const [name, setName] = useState('');
  const [err, setErr] = useState(null);
  const [notice, setNotice] = useState('');
  const [delErr, setDelErr] = useState(null);
  const [run, busy] = useBusy();
  const id = listKey;
  const create = (e) => {
    e.preventDefault();
    run(async () => {
      const r = await api('POST', path, { name: name.trim(), ...(bodyExtra ? bodyExtra() : {}) });
      if (r.ok) {
        setErr(null);
        setNotice(`${what} ${name.trim()} created.`);
        setName('');
        res.reload();
      } else setErr(r);
    });
  };
  const del = (item) =>
    run(async () => {
      const r = await api('DELETE', `${path}/${item.id}`);
      if (r.ok) {
        setDelErr(null);
        setNotice(`${what} ${item.name} deleted.`);
      } else setDelErr({ id: item.id, err: r });
      res.reload();
    });
  const items = (res.data && res.data[listKey]) || [];
  return (
    <section aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>{what}s</h2>
      <Notice>{notice}</Notice>
      {s.can('admin') ? (
        <form class="panel inline-form" onSubmit={create} aria-label={`Create a ${what.toLowerCase()}`}>
          <Input id={`${id}-name`} field="name" label={`New ${what.toLowerCase()} name`} value={name} maxLength={128}
            onInput={(e) => setName(e.currentTarget.value)} err={err} />
          {extraCreate}
          <FormError err={err} fields={['name', 'team_id']} />
          <button type="submit" class="primary" disabled={busy || !name.trim()}>
            Create {what.toLowerCase()}
          </button>
        </form>
      ) : (
        <ReadOnlyNote min="admin" what={`create or delete ${what.toLowerCase()}s`} />
      )}
      <LoadState res={res} what={`the ${what.toLowerCase()}s`} />
      {res.data && (
        <Table caption={`${what}s`} head={['Name', ...extraCols, 'Created', ...(s.can('admin') ? ['Actions'] : [])]}
          empty={items.length ? null : `No ${what.toLowerCase()}s yet.`}>
          {items.map((it) => (
            <tr key={it.id}>
              <th scope="row">{it.name}</th>
              {renderExtra(it)}
              <td>{fmtTime(it.created_at)}</td>
              {s.can('admin') && (
                <td>
                  <button type="button" class="danger" aria-label={`Delete ${what.toLowerCase()} ${it.name}`} disabled={busy} onClick={() => del(it)}>
                    Delete
                  </button>
                  {delErr && delErr.id === it.id && <p class="err" role="alert">{delErr.err.error}</p>}
                </td>
              )}
            </tr>
          ))}
        </Table>
      )}
    </section>
  );
}

function TeamsSection() {
  return <NamedList what="Team" path="/teams" listKey="teams" extraCols={[]} renderExtra={() => null} />;
}

function AppsSection() {
  const teams = useApi('/teams');
  const [team, setTeam] = useState('');
  const list = (teams.data && teams.data.teams) || [];
  const teamName = (id) => (list.find((t) => t.id === id) || {}).name || id;
  return (
    <NamedList what="App" path="/apps" listKey="apps" extraCols={['Team']}
      renderExtra={(a) => <td>{a.team_id ? teamName(a.team_id) : '—'}</td>}
      bodyExtra={() => (team ? { team_id: team } : {})}
      extraCreate={
        <Select id="apps-team" field="team_id" label="Team (optional)" value={team} onChange={(e) => setTeam(e.currentTarget.value)}>
          <option value="">None</option>
          {list.map((t) => (
            <option key={t.id} value={t.id}>
              {t.name}
            </option>
          ))}
        </Select>
      } />
  );
}

function OwnerZone() {
  const s = useSession();
  const members = useApi('/members');
  const [target, setTarget] = useState('');
  const [dialog, setDialog] = useState(null); // 'transfer' | 'delete'
  const [err, setErr] = useState(null);
  const [notice, setNotice] = useState('');
  const [run, busy] = useBusy();
  const others = ((members.data && members.data.members) || []).filter((m) => m.user_id !== s.user.id);
  const chosen = others.find((m) => m.user_id === target);
  const transfer = () =>
    run(async () => {
      const r = await api('POST', '/org/transfer', { user_id: target });
      if (r.ok) {
        setDialog(null);
        setNotice(`${chosen.email} now owns the organisation; you are an admin.`);
        await s.refreshMe();
      } else setErr(r.field === 'user_id' ? { ...r, field: 'confirm' } : r);
    });
  const del = () =>
    run(async () => {
      const r = await api('DELETE', '/org', { confirm: s.org.slug });
      if (r.ok) s.ended(`Organisation ${s.org.slug} deleted.`);
      else setErr(r);
    });
  return (
    <section class="danger-zone" aria-labelledby="dz-title">
      <h2 id="dz-title">Owner actions</h2>
      <Notice>{notice}</Notice>
      <div class="panel">
        <h3>Transfer ownership</h3>
        <p class="muted">The member becomes the owner and you become an admin.</p>
        <Select id="tr-member" field="user_id" label="New owner" value={target} onChange={(e) => setTarget(e.currentTarget.value)}>
          <option value="">Choose a member</option>
          {others.map((m) => (
            <option key={m.user_id} value={m.user_id}>
              {m.email} ({m.role})
            </option>
          ))}
        </Select>
        <button type="button" disabled={!chosen} onClick={() => { setErr(null); setDialog('transfer'); }}>
          Transfer ownership…
        </button>
      </div>
      <div class="panel">
        <h3>Delete the organisation</h3>
        <p class="muted">Deletes its keys, provider keys, members, teams, apps, call logs and audit log. Users keep their accounts.</p>
        <button type="button" class="danger" onClick={() => { setErr(null); setDialog('delete'); }}>
          Delete organisation…
        </button>
      </div>
      <ConfirmDialog open={dialog === 'transfer'} title="Transfer ownership?" confirmLabel="Transfer ownership" danger busy={busy}
        typed={chosen ? chosen.email : ''} typedLabel={chosen ? `Type ${chosen.email} to confirm` : ''} err={err}
        onConfirm={transfer} onCancel={() => setDialog(null)}>
        {chosen && (
          <p>
            <strong>{chosen.email}</strong> becomes the owner. You become an admin and cannot undo this yourself.
          </p>
        )}
      </ConfirmDialog>
      <ConfirmDialog open={dialog === 'delete'} title={`Delete ${s.org.slug}?`} confirmLabel="Delete organisation" danger busy={busy}
        typed={s.org.slug} typedLabel={`Type the organisation's slug, ${s.org.slug}, to confirm`} err={err}
        onConfirm={del} onCancel={() => setDialog(null)}>
        <p>Everything in this organisation is deleted at once and cannot be recovered.</p>
      </ConfirmDialog>
    </section>
  );
}
