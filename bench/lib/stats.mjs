// Percentiles, the figures table (rows = figure; columns = direct / floor / lifeline / target / pass?) and the
// machine description that goes with it into results.json.
import { cpus, totalmem } from 'node:os';

/** Nearest-rank percentile of unsorted numbers; null for no samples. */
export function percentile(values, p) {
  if (values.length === 0) return null;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export function machine() {
  const list = cpus();
  return {
    cpu: list[0]?.model ?? 'unknown',
    cores: list.length,
    memoryGb: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    date: new Date().toISOString(),
  };
}

const MB = 2 ** 20;

/** How each figure is shown: number → text. */
const FORMATS = {
  rps: (v) => Math.round(v).toLocaleString('en-US'),
  ms: (v) => `${v.toFixed(v < 10 ? 2 : 1)} ms`,
  us: (v) => `${Math.round(v).toLocaleString('en-US')} µs`,
  mb: (v) => `${Math.round(v / MB)} MB`,
  pct: (v) => `${v >= 0 ? '+' : ''}${v.toFixed(1)} %`,
  ratio: (v) => `${v.toFixed(2)}×`,
  /** [min, max] in µs, shown in ms: a figure's spread over rounds. */
  msRange: ([min, max]) => `${(min / 1000).toFixed(2)}…${(max / 1000).toFixed(2)} ms`,
};

/**
 * A row: `values` per column (numbers, or null when not measured), `unit` a FORMATS key, `target` a text and
 * `check(values)` → true/false, or absent for an informational row. `baseline` marks the direct column as an
 * absolute reference for an "added" figure (shown in parentheses).
 */
export function row(figure, unit, values, target = '', check = undefined, baseline = false) {
  const done = values.lifeline !== null && values.lifeline !== undefined;
  const pass = check && done ? check(values) : null;
  return { figure, unit, ...values, target, pass, baseline };
}

const COLUMNS = ['direct', 'floor', 'lifeline', 'portkey'];

/** The columns some row has a figure for (portkey only when it was measured). */
const columnsOf = (rows) => COLUMNS.filter((c) => c !== 'portkey' || rows.some((r) => r[c] !== null && r[c] !== undefined));

function cell(r, column) {
  const v = r[column];
  if (v === null || v === undefined) return '—';
  const text = FORMATS[r.unit](v);
  return r.baseline && column === 'direct' ? `(${text})` : text;
}

/** The table as text, padded columns, ready for stdout. */
export function renderTable(rows) {
  const columns = columnsOf(rows);
  const header = ['figure', ...columns, 'target', 'pass?'];
  const lines = rows.map((r) => [
    r.figure,
    ...columns.map((c) => cell(r, c)),
    r.target || '',
    r.pass === null ? '' : r.pass ? 'yes' : 'NO',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cells) => cells.map((c, i) => (i === 0 || i > columns.length ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd();
  return [fmt(header), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.map(fmt)].join('\n');
}

/** results.json: the rows as numbers (units in the name), plus pass/fail. */
export function rowsAsJson(rows) {
  return rows.map(({ figure, unit, direct, floor, lifeline, portkey, target, pass }) => ({
    figure,
    unit: unit === 'mb' ? 'bytes' : unit,
    direct: direct ?? null,
    floor: floor ?? null,
    lifeline: lifeline ?? null,
    portkey: portkey ?? null,
    target: target || null,
    pass,
  }));
}
