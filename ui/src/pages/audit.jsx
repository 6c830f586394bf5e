// pages/audit.jsx — the org's audit log (filters, paging) and the result of the hash-chain check
// (GET /audit/verify).
import { useState } from 'preact/hooks';
import { qs } from '../api.js';
import { fmtTime } from '../format.js';
import { useSession } from '../session.js';
import { FormError, Input, LoadState, PageTitle, Table, useApi } from '../ui.jsx';

const FIELDS = ['action', 'actor', 'target'];

export function Audit() {
  const s = useSession();
  const [form, setForm] = useState({ action: '', actor: '', target: '' });
  const [query, setQuery] = useState({});
  const [cursors, setCursors] = useState([null]);
  const cursor = cursors[cursors.length - 1];
  const res = useApi(`/audit${qs({ ...query, limit: 50, cursor })}`);
  const entries = (res.data && res.data.entries) || [];
  const apply = (e) => {
    e.preventDefault();
    const q = {};
    for (const k of FIELDS) if (form[k].trim()) q[k] = form[k].trim();
    setQuery(q);
    setCursors([null]);
  };
  const set = (k) => (e) => setForm({ ...form, [k]: e.currentTarget.value });
  return (
    <>
      <PageTitle sub="Every change and sign-in, newest first, in a SHA-256 hash chain of this organisation.">Audit log</PageTitle>
      <Verify />
      <form class="filters" onSubmit={apply} aria-label="Audit filters">
        <Input id="af-action" field="action" label="Action (exact)" placeholder="key.create" value={form.action} onInput={set('action')} err={res.err} />
        <Input id="af-actor" field="actor" label="Actor (exact)" placeholder="user:…" value={form.actor} onInput={set('actor')} err={res.err} />
        <Input id="af-target" field="target" label="Target (exact)" value={form.target} onInput={set('target')} err={res.err} />
        <div class="filter-actions">
          <button type="submit" class="primary">Apply filters</button>
        </div>
      </form>
      <FormError err={res.err} fields={FIELDS} />
      {res.data && (
        <Table caption="Audit entries" head={['#', 'Time', 'Actor', 'Action', 'Target', 'Address', 'Request']}
          empty={entries.length ? null : 'No entries.'}>
          {entries.map((e) => (
            <tr key={e.id}>
              <td class="num">{e.seq}</td>
              <td>{fmtTime(e.created_at)}</td>
              <td class="mono">{e.actor}</td>
              <th scope="row">{e.action}</th>
              <td class="mono">{e.target || '—'}</td>
              <td class="mono">{e.source_ip}</td>
              <td class="mono small">{e.request_id}</td>
            </tr>
          ))}
        </Table>
      )}
      <div class="pager">
        <button type="button" disabled={cursors.length < 2} onClick={() => setCursors([null])}>
          Newest
        </button>
        <button type="button" disabled={cursors.length < 2} onClick={() => setCursors(cursors.slice(0, -1))}>
          Newer
        </button>
        <button type="button" disabled={!(res.data && res.data.next_cursor)} onClick={() => setCursors([...cursors, res.data.next_cursor])}>
          Older
        </button>
      </div>
    </>
  );
}

function Verify() {
  const res = useApi('/audit/verify');
  const v = res.data;
  return (
    <section class="panel" aria-labelledby="av-title">
      <h2 id="av-title">Hash-chain check</h2>
      <LoadState res={res} what="the chain check" />
      {v &&
        (v.ok ? (
          <p class="notice ok" role="status" id="audit-verify">
            Intact: all {v.entries} entries link up.
          </p>
        ) : (
          <p class="notice bad" role="alert" id="audit-verify">
            Broken{v.broken ? ` at entry ${v.broken.seq}` : ''}: that entry and the ones after it
            cannot be trusted; see the operator's <code>ingate admin verify-audit</code>.
          </p>
        ))}
      <button type="button" onClick={res.reload}>
        Check again
      </button>
    </section>
  );
}
