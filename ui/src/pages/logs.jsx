// pages/logs.jsx — the call log: the API's filters, cursor paging, a detail view with the stored (redacted)
// bodies — streamed answers reassembled into readable text — and a JSONL export of the current filters.
import { useMemo, useState } from 'preact/hooks';
import { qs } from '../api.js';
import { fmtBytes, fmtInt, fmtMs, fmtTime, fmtUsd, fromLocalInput, toLocalInput } from '../format.js';
import { useSession } from '../session.js';
import { FormError, Input, Link, LoadState, PageTitle, Select, Table, useApi } from '../ui.jsx';

const EMPTY = { start: '', end: '', model: '', status: '', provider: '', key_id: '', user_id: '', session_id: '' };
const FILTER_FIELDS = Object.keys(EMPTY);
const PAGE = 50;

/** The API query of a filter form (datetime-local → Unix ms). */
function toQuery(f) {
  const q = {};
  for (const k of FILTER_FIELDS) {
    const v = String(f[k]).trim();
    if (!v) continue;
    q[k] = k === 'start' || k === 'end' ? fromLocalInput(v) || v : v;
  }
  return q;
}

export function Logs({ sub }) {
  const s = useSession();
  const [form, setForm] = useState(EMPTY);
  const [query, setQuery] = useState({});
  const [cursors, setCursors] = useState([null]);
  const cursor = cursors[cursors.length - 1];
  const list = useApi(`/logs${qs({ ...query, limit: PAGE, cursor })}`);
  const providers = useApi('/providers');
  const keys = useApi(s.can('member') ? '/keys' : null);
  const set = (k) => (e) => setForm({ ...form, [k]: e.currentTarget.value });
  const apply = (e) => {
    e.preventDefault();
    setQuery(toQuery(form));
    setCursors([null]);
  };
  const preset = (hours) => {
    const now = Date.now();
    const f = { ...form, start: toLocalInput(now - hours * 3600000), end: '' };
    setForm(f);
    setQuery(toQuery(f));
    setCursors([null]);
  };
  const exportHref = `/api/v1/logs${qs({ ...query, format: 'jsonl' })}`;
  const exportName = `ingate-logs-${new Date().toISOString().slice(0, 10)}.jsonl`;
  const err = list.err;
  const rows = (list.data && list.data.logs) || [];

  return (
    <>
      <div hidden={!!sub}>
        <PageTitle sub="Every proxied call of this organisation, newest first. Bodies are stored as captured, redacted when the organisation redacts.">
          Logs
        </PageTitle>
        <form class="filters" onSubmit={apply} aria-label="Log filters">
          <Input id="lf-start" field="start" label="From (local time)" type="datetime-local" value={form.start} onInput={set('start')} err={err} />
          <Input id="lf-end" field="end" label="To (local time)" type="datetime-local" value={form.end} onInput={set('end')} err={err} />
          <Input id="lf-model" field="model" label="Model" value={form.model} onInput={set('model')} err={err} />
          <Input id="lf-status" field="status" label="Status" inputmode="numeric" value={form.status} onInput={set('status')} err={err} />
          <Select id="lf-provider" field="provider" label="Provider" value={form.provider} onChange={set('provider')} err={err}>
            <option value="">Any</option>
            {((providers.data && providers.data.providers) || []).map((p) => (
              <option key={p.name} value={p.name}>
                {p.name}
              </option>
            ))}
          </Select>
          {keys.data ? (
            <Select id="lf-key" field="key_id" label="API key" value={form.key_id} onChange={set('key_id')} err={err}>
              <option value="">Any</option>
              {keys.data.keys.map((k) => (
                <option key={k.id} value={k.id}>
                  {k.name || '(unnamed)'} · {k.hash_prefix}
                </option>
              ))}
            </Select>
          ) : (
            <Input id="lf-key" field="key_id" label="API key id" value={form.key_id} onInput={set('key_id')} err={err} />
          )}
          <Input id="lf-user" field="user_id" label="User (X-Ingate-User-Id)" value={form.user_id} onInput={set('user_id')} err={err} />
          <Input id="lf-session" field="session_id" label="Session (X-Ingate-Session-Id)" value={form.session_id} onInput={set('session_id')} err={err} />
          <div class="filter-actions">
            <button type="submit" class="primary">Apply filters</button>
            <button type="button" onClick={() => preset(1)}>Last hour</button>
            <button type="button" onClick={() => preset(24)}>Last 24 h</button>
            <button type="button" onClick={() => { setForm(EMPTY); setQuery({}); setCursors([null]); }}>Clear</button>
            <a class="button" href={exportHref} download={exportName} id="logs-export">
              Export JSONL
            </a>
          </div>
        </form>
        <FormError err={err} fields={FILTER_FIELDS} />
        {list.loading && !list.data && <p class="muted">Loading the log…</p>}
        {list.data && (
          <Table caption="Call log" head={['Time', 'Status', 'Model', 'Provider', 'Key', 'Tokens in / out', 'Cost', 'Latency', 'Stream']}
            empty={rows.length ? null : 'No calls match these filters.'}>
            {rows.map((r) => (
              <tr key={r.id} class={r.status >= 400 ? 'row-error' : ''} data-stream={r.stream ? 'yes' : 'no'}>
                <td>
                  <Link href={`/ui/logs/${encodeURIComponent(r.id)}`} aria-label={`Details of the call at ${fmtTime(r.created_at)}`}>
                    {fmtTime(r.created_at)}
                  </Link>
                </td>
                <td class="num">{r.status}</td>
                <td>{r.model || '—'}</td>
                <td>{r.provider}</td>
                <td class="mono">{r.key_prefix}</td>
                <td class="num">
                  {fmtInt(r.input_tokens)} / {fmtInt(r.output_tokens)}
                </td>
                <td class="num">{fmtUsd(r.cost_usd)}</td>
                <td class="num">{fmtMs(r.latency_ms)}</td>
                <td>{r.stream ? 'yes' : 'no'}</td>
              </tr>
            ))}
          </Table>
        )}
        <div class="pager">
          <button type="button" disabled={cursors.length < 2} onClick={() => setCursors([null])}>
            Newest
          </button>
          <button type="button" disabled={cursors.length < 2} onClick={() => setCursors(cursors.slice(0, -1))}>
            Previous page
          </button>
          <span class="muted">Page {cursors.length}</span>
          <button type="button" disabled={!(list.data && list.data.next_cursor)}
            onClick={() => setCursors([...cursors, list.data.next_cursor])}>
            Next page
          </button>
        </div>
      </div>
      {sub && <LogDetail id={sub} />}
    </>
  );
}

function LogDetail({ id }) {
  const res = useApi(`/logs/${encodeURIComponent(id)}`);
  const r = res.data && res.data.log;
  return (
    <>
      <p>
        <Link href="/ui/logs">← Back to the log</Link>
      </p>
      <PageTitle>Call {id}</PageTitle>
      <LoadState res={res} what="this call" />
      {r && (
        <>
          <dl class="details">
            <Item k="Time" v={fmtTime(r.created_at)} />
            <Item k="Status" v={`${r.status}${r.error ? ` (${r.error})` : ''}`} />
            <Item k="Request" v={`${r.method} ${r.path || ''}`} mono />
            <Item k="Provider" v={r.provider} />
            <Item k="Model" v={r.model || '—'} />
            <Item k="API key" v={`${r.key_prefix} (${r.key_id})`} mono />
            <Item k="Streamed" v={r.stream ? 'yes' : 'no'} />
            <Item k="Latency" v={`${fmtMs(r.latency_ms)} (first byte ${fmtMs(r.ttfb_ms)})`} />
            <Item k="Tokens" v={`${fmtInt(r.input_tokens)} in, ${fmtInt(r.output_tokens)} out, ${fmtInt(r.cached_tokens)} cached`} />
            <Item k="Cost" v={fmtUsd(r.cost_usd)} />
            <Item k="Sizes" v={`request ${fmtBytes(r.req_bytes)}${r.req_truncated ? ' (stored cut)' : ''}, response ${fmtBytes(r.resp_bytes)}${r.resp_truncated ? ' (stored cut)' : ''}`} />
            <Item k="User" v={r.user_id || '—'} />
            <Item k="Session" v={r.session_id || '—'} />
            <Item k="Client address" v={r.client_ip || '—'} mono />
            <Item k="Guardrails" v={guardText(r.guardrails)} />
          </dl>
          <h2>Request body</h2>
          <Body id="req-body" text={r.req_body} />
          <h2>Response body</h2>
          <Body id="resp-body" text={r.resp_body} stream={r.stream} />
        </>
      )}
    </>
  );
}

function Item({ k, v, mono }) {
  return (
    <div>
      <dt>{k}</dt>
      <dd class={mono ? 'mono' : ''}>{v}</dd>
    </div>
  );
}

function guardText(g) {
  if (!g) return 'not run';
  const pii = g.pii ? Object.entries(g.pii).map(([t, n]) => `${t} ×${n}`).join(', ') || 'none' : 'not screened';
  const inj = g.injection_score === null || g.injection_score === undefined ? 'not screened' : `score ${g.injection_score}`;
  return `${g.action}; PII: ${pii}; injection: ${inj}${g.injection_rules && g.injection_rules.length ? ` (${g.injection_rules.join(', ')})` : ''}`;
}

/** The text pieces of one streamed event (OpenAI chat/completions/Responses, Anthropic, Ollama). */
function pieces(ev) {
  const out = [];
  if (!ev || typeof ev !== 'object') return out;
  if (Array.isArray(ev.choices))
    for (const c of ev.choices) {
      if (c.delta && typeof c.delta.content === 'string') out.push(c.delta.content);
      else if (typeof c.text === 'string') out.push(c.text);
    }
  if (typeof ev.type === 'string' && ev.type.startsWith('response.') && ev.type.endsWith('.delta') && typeof ev.delta === 'string')
    out.push(ev.delta);
  if (ev.delta && typeof ev.delta === 'object' && typeof ev.delta.text === 'string') out.push(ev.delta.text);
  if (ev.message && typeof ev.message.content === 'string') out.push(ev.message.content);
  if (typeof ev.response === 'string') out.push(ev.response);
  return out;
}

/** A stored stream (SSE or NDJSON) → {events, text}; null when the body is neither. */
function parseStream(text) {
  const lines = text.split(/\r?\n/);
  const sse = lines.some((l) => l.startsWith('data:'));
  const events = [];
  for (const l of lines) {
    let payload;
    if (sse) {
      if (!l.startsWith('data:')) continue;
      payload = l.slice(5).trim();
    } else payload = l.trim();
    if (!payload) continue;
    if (payload === '[DONE]') {
      events.push({ raw: payload, done: true });
      continue;
    }
    try {
      events.push({ raw: payload, json: JSON.parse(payload) });
    } catch {
      if (!sse) return null; // not NDJSON either
      events.push({ raw: payload });
    }
  }
  if (!events.length || (!sse && events.length < 2)) return null;
  return { events, text: events.map((e) => pieces(e.json).join('')).join('') };
}

function Body({ id, text, stream }) {
  const view = useMemo(() => {
    if (text === null || text === undefined) return null;
    try {
      return { json: JSON.stringify(JSON.parse(text), null, 2) };
    } catch {
      /* not one JSON document */
    }
    const st = parseStream(text);
    if (st) return { stream: st };
    return { raw: text };
  }, [text]);
  if (!view) return <p class="muted">Not stored (the organisation's capture mode keeps no bodies, or there was none).</p>;
  if (view.json) return <pre class="body" id={id} tabindex="0">{view.json}</pre>;
  if (view.raw !== undefined) return <pre class="body" id={id} tabindex="0">{view.raw}</pre>;
  return (
    <div id={id}>
      <p class="muted">
        {stream ? 'Streamed' : 'Event stream'}: {view.stream.events.length} events. The text below is the events' pieces joined.
      </p>
      <h3>Text</h3>
      <pre class="body assembled" tabindex="0">{view.stream.text || '(no text pieces)'}</pre>
      <details>
        <summary>Raw events</summary>
        <ol class="events">
          {view.stream.events.map((e, i) => (
            <li key={i}>
              <pre class="body">{e.json ? JSON.stringify(e.json, null, 2) : e.raw}</pre>
            </li>
          ))}
        </ol>
      </details>
    </div>
  );
}
