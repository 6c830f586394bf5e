// chart.jsx — a time chart drawn by uPlot (canvas; its DOM styling goes through the CSSOM, which the
// dashboard's CSP allows), with the same numbers in a table for keyboard and screen-reader users.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import { fmtDay } from './format.js';

export const PALETTE = ['#2563eb', '#dc2626', '#059669', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#4b5563'];

const utc = (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC');

/**
 * x: bucket starts (Unix ms, UTC days); series: [{label, values, color?, bars?}]; fmt: value → text.
 */
export function TimeChart({ id, title, x, series, fmt = String, height = 200 }) {
  const box = useRef(null);
  useEffect(() => {
    const el = box.current;
    if (!el || !x.length) return undefined;
    const width = () => Math.max(240, Math.floor(el.clientWidth));
    const bars = uPlot.paths.bars({ size: [0.6, 48] });
    const opts = {
      width: width(),
      height,
      tzDate: utc,
      cursor: { drag: { x: false, y: false } },
      // half a day of room on each side, so the first and last bars are whole
      scales: { x: { time: true, range: (u, min, max) => [min - 43200, max + 43200] }, y: { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1] } },
      axes: [
        { stroke: '#4b5563', grid: { stroke: '#e5e7eb' }, ticks: { stroke: '#e5e7eb' } },
        {
          stroke: '#4b5563',
          grid: { stroke: '#e5e7eb' },
          ticks: { stroke: '#e5e7eb' },
          // wide enough for the longest label (about 7 px a character at the axis font)
          size: (u, values) => (values ? Math.max(40, Math.max(...values.map((v) => String(v).length)) * 7 + 18) : 40),
          values: (u, vals) => vals.map((v) => fmt(v)),
        },
      ],
      series: [
        { label: 'Day (UTC)', value: (u, v) => (v === null || v === undefined ? '—' : fmtDay(v * 1000)) },
        ...series.map((s, i) => {
          const color = s.color || PALETTE[i % PALETTE.length];
          return {
            label: s.label,
            stroke: color,
            width: 2,
            fill: s.bars ? `${color}99` : undefined,
            paths: s.bars ? bars : undefined,
            points: { show: !s.bars && x.length < 40 },
            value: (u, v) => (v === null || v === undefined ? '—' : fmt(v)),
          };
        }),
      ],
    };
    const data = [x.map((t) => t / 1000), ...series.map((s) => s.values)];
    const plot = new uPlot(opts, data, el);
    let last = width();
    let frame = 0;
    const ro = new ResizeObserver(() => {
      cancelAnimationFrame(frame);
      frame = requestAnimationFrame(() => {
        const w = width();
        if (w !== last) {
          last = w;
          plot.setSize({ width: w, height });
        }
      });
    });
    ro.observe(el);
    return () => {
      cancelAnimationFrame(frame);
      ro.disconnect();
      plot.destroy();
    };
  }, [x, series, height]);
  return (
    <figure class="chart" aria-labelledby={`${id}-cap`}>
      <figcaption id={`${id}-cap`}>{title}</figcaption>
      <div class="chart-box" ref={box} aria-hidden="true" />
      <details>
        <summary>Data table: {title}</summary>
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Day (UTC)</th>
                {series.map((s) => (
                  <th scope="col" key={s.label}>
                    {s.label}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {x.map((t, i) => (
                <tr key={t}>
                  <th scope="row">{fmtDay(t)}</th>
                  {series.map((s) => (
                    <td key={s.label}>{s.values[i] === null ? '—' : fmt(s.values[i])}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </details>
    </figure>
  );
}
