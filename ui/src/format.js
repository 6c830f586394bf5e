// format.js — how numbers, money and times read on the pages.

const pad = (n) => String(n).padStart(2, '0');

/** Unix ms → "2026-01-31 14:05:09" in the browser's time zone; '—' for null. */
export function fmtTime(ms) {
  if (ms === null || ms === undefined) return '—';
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** Unix ms → "2026-01-31" (UTC). */
export function fmtDay(ms) {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
}

/** Unix ms → the value of an <input type="datetime-local"> (local time). */
export function toLocalInput(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** The value of an <input type="datetime-local"> → Unix ms, or '' when empty or invalid. */
export function fromLocalInput(v) {
  if (!v) return '';
  const t = new Date(v).getTime();
  return Number.isFinite(t) ? t : '';
}

export function fmtInt(n) {
  if (n === null || n === undefined) return '—';
  return Math.round(n).toLocaleString('en-US');
}

export function fmtUsd(n) {
  if (n === null || n === undefined) return '—';
  if (n !== 0 && Math.abs(n) < 0.01) return `$${n.toFixed(6).replace(/0+$/, '')}`;
  return `$${n.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
}

export function fmtMs(n) {
  if (n === null || n === undefined) return '—';
  if (n >= 10000) return `${(n / 1000).toFixed(1)} s`;
  if (n > 0 && n < 10) return `${n.toFixed(1)} ms`;
  return `${Math.round(n)} ms`;
}

export function fmtPct(x) {
  if (x === null || x === undefined || !Number.isFinite(x)) return '—';
  return `${(x * 100).toFixed(x < 0.1 && x > 0 ? 2 : 1)} %`;
}

export function fmtBytes(n) {
  if (n === null || n === undefined) return '—';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** Start of the UTC day of ms. */
export function utcDay(ms) {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
}
