// pages/overview.jsx — usage over the last days: totals (GET /usage/summary) and per-day charts of requests,
// errors, tokens, cost, p50/p99 latency and error rate, overall and per model
// (GET /usage/timeseries?granularity=day[&group_by=model]).
import { useMemo, useState } from 'preact/hooks';
import { qs } from '../api.js';
import { TimeChart } from '../chart.jsx';
import { fmtInt, fmtMs, fmtPct, fmtUsd, utcDay } from '../format.js';
import { LoadState, PageTitle, Select, Table, useApi } from '../ui.jsx';

const DAY = 86400000;

/**
 * Day buckets from since to until (UTC), and each series' value per bucket: `missing` where there was no
 * traffic (0 for counts; null, a gap, for latencies and rates).
 */
function perDay(points, since, until, pick, missing = 0) {
  const x = [];
  for (let t = since; t <= until; t += DAY) x.push(t);
  const at = new Map(points.map((p) => [p.bucket, p]));
  return { x, values: x.map((t) => (at.has(t) ? pick(at.get(t)) : missing)) };
}

export function Overview() {
  const [days, setDays] = useState(7);
  const [tick, setTick] = useState(0);
  const until = useMemo(() => Date.now(), [days, tick]);
  const since = utcDay(until) - (days - 1) * DAY;
  const lastDay = utcDay(until);
  const summary = useApi(`/usage/summary${qs({ since, until })}`);
  const series = useApi(`/usage/timeseries${qs({ since, until, granularity: 'day' })}`);
  const models = useApi(`/usage/timeseries${qs({ since, until, granularity: 'day', group_by: 'model' })}`);

  const charts = useMemo(() => {
    if (!series.data) return null;
    const pts = series.data.points || [];
    const d = (pick, missing) => perDay(pts, since, lastDay, pick, missing);
    const req = d((p) => p.requests);
    return {
      x: req.x,
      requests: [
        { label: 'Requests', values: req.values, bars: true },
        { label: 'Errors', values: d((p) => p.errors).values, bars: true, color: '#dc2626' },
      ],
      tokens: [
        { label: 'Input tokens', values: d((p) => p.input_tokens).values },
        { label: 'Output tokens', values: d((p) => p.output_tokens).values },
      ],
      cost: [{ label: 'Cost (USD)', values: d((p) => p.cost_usd).values, bars: true, color: '#059669' }],
      latency: [
        { label: 'p50', values: d((p) => (p.requests ? p.p50_latency_ms ?? null : null), null).values, color: '#2563eb' },
        { label: 'p99', values: d((p) => (p.requests ? p.p99_latency_ms ?? null : null), null).values, color: '#7c3aed' },
        { label: 'Average', values: d((p) => (p.requests ? p.avg_latency_ms : null), null).values, color: '#9ca3af' },
      ],
      errorRate: [{ label: 'Error rate', values: d((p) => (p.requests ? p.errors / p.requests : null), null).values, color: '#dc2626' }],
    };
  }, [series.data, since, lastDay]);

  const perModel = useMemo(() => {
    if (!models.data) return null;
    const pts = models.data.points || [];
    const groups = new Map();
    for (const p of pts) {
      const g = p.group || '(no model)';
      if (!groups.has(g)) groups.set(g, { model: g, points: [], requests: 0, errors: 0, input: 0, output: 0, cost: 0 });
      const m = groups.get(g);
      m.points.push(p);
      m.requests += p.requests;
      m.errors += p.errors;
      m.input += p.input_tokens;
      m.output += p.output_tokens;
      m.cost += p.cost_usd;
    }
    const rows = [...groups.values()].sort((a, b) => b.requests - a.requests);
    const top = rows.slice(0, 8);
    return {
      rows,
      requests: top.map((m) => ({ label: m.model, values: perDay(m.points, since, lastDay, (p) => p.requests).values })),
      cost: top.map((m) => ({ label: m.model, values: perDay(m.points, since, lastDay, (p) => p.cost_usd).values })),
      x: perDay([], since, lastDay, () => 0).x,
    };
  }, [models.data, since, lastDay]);

  const s = summary.data;
  return (
    <>
      <PageTitle sub="Usage of this organisation, per UTC day.">Overview</PageTitle>
      <form class="toolbar" onSubmit={(e) => e.preventDefault()}>
        <Select id="ov-range" label="Range" value={String(days)} onChange={(e) => setDays(Number(e.currentTarget.value))}>
          <option value="1">Today</option>
          <option value="7">Last 7 days</option>
          <option value="14">Last 14 days</option>
          <option value="30">Last 30 days</option>
          <option value="90">Last 90 days</option>
        </Select>
        <button type="button" onClick={() => setTick(tick + 1)}>
          Refresh
        </button>
      </form>
      <LoadState res={summary} what="the usage summary" />
      {s && (
        <section aria-labelledby="ov-totals">
          <h2 id="ov-totals" class="sr-only">Totals</h2>
          <dl class="cards">
            <Card label="Requests" value={fmtInt(s.total_requests)} />
            <Card label="Input tokens" value={fmtInt(s.total_input_tokens)} />
            <Card label="Output tokens" value={fmtInt(s.total_output_tokens)} />
            <Card label="Cost" value={fmtUsd(s.total_cost_usd)} />
            <Card label="p50 latency" value={s.total_requests ? fmtMs(s.p50_latency_ms) : '—'} />
            <Card label="p99 latency" value={s.total_requests ? fmtMs(s.p99_latency_ms) : '—'} />
            <Card label="Average latency" value={s.total_requests ? fmtMs(s.avg_latency_ms) : '—'} />
            <Card label="Error rate" value={s.total_requests ? fmtPct(s.error_rate) : '—'} />
            <Card label="Cache hit rate" value={s.total_requests ? fmtPct(s.cache_hit_rate) : '—'} />
          </dl>
          {!s.total_requests && (
            <p class="muted">No requests in this range yet: send one through the gateway with an API key.</p>
          )}
        </section>
      )}
      <LoadState res={series} what="the daily usage" />
      {charts && (
        <section class="charts" aria-label="Per day">
          <TimeChart id="ch-req" title="Requests and errors per day" x={charts.x} series={charts.requests} fmt={fmtInt} />
          <TimeChart id="ch-tok" title="Tokens per day" x={charts.x} series={charts.tokens} fmt={fmtInt} />
          <TimeChart id="ch-cost" title="Cost per day" x={charts.x} series={charts.cost} fmt={fmtUsd} />
          <TimeChart id="ch-lat" title="Latency per day (p50, p99, average)" x={charts.x} series={charts.latency} fmt={fmtMs} />
          <TimeChart id="ch-err" title="Error rate per day" x={charts.x} series={charts.errorRate} fmt={fmtPct} />
        </section>
      )}
      <LoadState res={models} what="the usage per model" />
      {perModel && perModel.rows.length > 0 && (
        <section aria-labelledby="ov-models">
          <h2 id="ov-models">Per model</h2>
          <div class="charts">
            <TimeChart id="ch-mreq" title="Requests per model per day" x={perModel.x} series={perModel.requests} fmt={fmtInt} />
            <TimeChart id="ch-mcost" title="Cost per model per day" x={perModel.x} series={perModel.cost} fmt={fmtUsd} />
          </div>
          <Table caption="Usage per model" head={['Model', 'Requests', 'Errors', 'Input tokens', 'Output tokens', 'Cost']}>
            {perModel.rows.map((m) => (
              <tr key={m.model}>
                <th scope="row">{m.model}</th>
                <td class="num">{fmtInt(m.requests)}</td>
                <td class="num">{fmtInt(m.errors)}</td>
                <td class="num">{fmtInt(m.input)}</td>
                <td class="num">{fmtInt(m.output)}</td>
                <td class="num">{fmtUsd(m.cost)}</td>
              </tr>
            ))}
          </Table>
        </section>
      )}
    </>
  );
}

function Card({ label, value }) {
  return (
    <div class="card">
      <dt>{label}</dt>
      <dd>{value}</dd>
    </div>
  );
}
