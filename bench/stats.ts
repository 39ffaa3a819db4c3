// Pure helpers of the benchmark: percentiles, h2load output parsing, the printed table, the JSON
// rows and the SVG chart. No I/O here, so tests/unit/bench-format.test.ts can check the formatting
// and the math (never the figures).

/** One measured row of the table. `rps` is the saturated throughput; p50/p99 are at half of it. */
export interface Row {
  n: number | 'baseline';
  scenario: string;
  /** `h1` (HTTP/1.1 keep-alive) or `h2` (HTTP/2, what the kube-apiserver speaks to webhooks). */
  proto: 'h1' | 'h2';
  /** Which lookup answered: informer caches (production), list-per-review (the seed's way), none (baseline). */
  lookup: 'informer' | 'list' | 'none';
  rps: number;
  p50_ms: number;
  p99_ms: number;
  /** p99 while saturated (closed loop at `rps`), for context. */
  p99_max_ms: number;
  rss_mb: number;
  /** Server CPU time (user + system) per review while saturated, in microseconds: robust on a busy machine. */
  cpu_us: number;
  /**
   * p99 inside the webhook at half load, from its own /metrics histogram (time from reading the
   * request to the decision, without TLS and HTTP): the upper bound of the bucket holding the 99th
   * percentile, in ms. NaN where the server has no such histogram (baseline).
   */
  server_p99_le_ms: number;
  /** Requests that did not answer 200 with the expected verdict. */
  errors: number;
}

/**
 * Nearest-rank percentile of `values` (sorted ascending or not): the smallest value with at least
 * `p` percent of the values at or below it. Undefined for an empty list.
 */
export function percentile(values: readonly number[], p: number, sorted = false): number | undefined {
  if (values.length === 0) return undefined;
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile ${p} is not within 0..100`);
  const list = sorted ? values : [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * list.length));
  return list[rank - 1];
}

/** p50 and p99 of latencies in microseconds, as milliseconds. */
export function latencySummary(micros: readonly number[]): { p50_ms: number; p99_ms: number; count: number } {
  const sorted = Float64Array.from(micros).sort();
  const list = Array.from(sorted);
  return {
    p50_ms: (percentile(list, 50, true) ?? Number.NaN) / 1000,
    p99_ms: (percentile(list, 99, true) ?? Number.NaN) / 1000,
    count: list.length,
  };
}

export interface H2loadSummary {
  rps: number;
  total: number;
  succeeded: number;
  failed: number;
  errored: number;
  status2xx: number;
}

/** The figures h2load prints at the end of a run. */
export function parseH2load(output: string): H2loadSummary {
  const rps = /finished in [\d.]+\w*, ([\d.]+) req\/s/.exec(output);
  const requests = /requests: (\d+) total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(
    output,
  );
  const status = /status codes: (\d+) 2xx/.exec(output);
  if (!rps || !requests) throw new Error(`cannot read h2load's summary from:\n${output.slice(-2000)}`);
  return {
    rps: Number(rps[1]),
    total: Number(requests[1]),
    succeeded: Number(requests[2]),
    failed: Number(requests[3]),
    errored: Number(requests[4]),
    status2xx: Number(status?.[1] ?? 0),
  };
}

/** h2load's --log-file: `start_us \t status \t duration_us` per request. */
export function parseH2loadLog(text: string): { startUs: number; status: number; micros: number }[] {
  const out: { startUs: number; status: number; micros: number }[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const [start, status, micros] = line.split('\t');
    const t = Number(start);
    const s = Number(status);
    const m = Number(micros);
    if (Number.isFinite(s) && Number.isFinite(m)) out.push({ startUs: t, status: s, micros: m });
  }
  return out;
}

/** Bucket counts of `kube_request_access_review_duration_seconds` from a /metrics text, by upper bound (s). */
export function parseHistogram(text: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const match of text.matchAll(/^kube_request_access_review_duration_seconds_bucket\{le="([^"]+)"\} (\d+)$/gm)) {
    out.set(match[1] === '+Inf' ? Number.POSITIVE_INFINITY : Number(match[1]), Number(match[2]));
  }
  return out;
}

/**
 * The upper bound (ms) of the bucket holding the p-th percentile of the reviews observed between
 * two cumulative histograms; NaN when nothing was observed.
 */
export function histogramPercentileBound(before: Map<number, number>, after: Map<number, number>, p: number): number {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const total = (after.get(Number.POSITIVE_INFINITY) ?? 0) - (before.get(Number.POSITIVE_INFINITY) ?? 0);
  if (total <= 0) return Number.NaN;
  for (const bound of bounds) {
    const count = (after.get(bound) ?? 0) - (before.get(bound) ?? 0);
    if (count >= (p / 100) * total) return bound * 1000;
  }
  return Number.POSITIVE_INFINITY;
}

const fixed = (value: number, digits: number) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');

function groupDigits(value: number): string {
  return Number.isFinite(value)
    ? Math.round(value)
        .toString()
        .replace(/\B(?=(\d{3})+(?!\d))/g, ',')
    : 'n/a';
}

export function formatN(n: Row['n']): string {
  return n === 'baseline' ? 'baseline' : groupDigits(n);
}

export const TABLE_HEADER = [
  'N',
  'scenario',
  'proto',
  'lookup',
  'reviews/s',
  'p50 ms',
  'p99 ms',
  'p99@max ms',
  'in-webhook p99 ≤ ms',
  'CPU µs/review',
  'RSS MB',
  'errors',
] as const;

export function tableCells(row: Row): string[] {
  return [
    formatN(row.n),
    row.scenario,
    row.proto,
    row.lookup,
    groupDigits(row.rps),
    fixed(row.p50_ms, 2),
    fixed(row.p99_ms, 2),
    fixed(row.p99_max_ms, 2),
    Number.isFinite(row.server_p99_le_ms) ? String(row.server_p99_le_ms) : '',
    fixed(row.cpu_us, 0),
    fixed(row.rss_mb, 0),
    String(row.errors),
  ];
}

/** A plain-text table, columns padded; numbers right-aligned. */
export function formatTable(rows: readonly Row[]): string {
  const cells = [Array.from(TABLE_HEADER), ...rows.map(tableCells)];
  const widths = TABLE_HEADER.map((_, i) => Math.max(...cells.map((line) => line[i]!.length)));
  const leftAligned = new Set([1, 2, 3]);
  return cells
    .map((line) =>
      line
        .map((cell, i) => (leftAligned.has(i) ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** The same table as GitHub Markdown. */
export function formatMarkdownTable(rows: readonly Row[]): string {
  const header = `| ${TABLE_HEADER.join(' | ')} |`;
  const rule = `|${TABLE_HEADER.map((_, i) => ([1, 2, 3].includes(i) ? ' --- ' : ' ---: ')).join('|')}|`;
  return [header, rule, ...rows.map((row) => `| ${tableCells(row).join(' | ')} |`)].join('\n');
}

/** One JSON object per row, with the keys the issue names first. */
export function jsonRow(row: Row): string {
  const round = (value: number, digits: number) => (Number.isFinite(value) ? Number(value.toFixed(digits)) : null);
  return JSON.stringify({
    n: row.n,
    scenario: row.scenario,
    rps: round(row.rps, 0),
    p50_ms: round(row.p50_ms, 3),
    p99_ms: round(row.p99_ms, 3),
    rss_mb: round(row.rss_mb, 1),
    proto: row.proto,
    lookup: row.lookup,
    p99_max_ms: round(row.p99_max_ms, 3),
    cpu_us: round(row.cpu_us, 0),
    server_p99_le_ms: round(row.server_p99_le_ms, 4),
    errors: row.errors,
  });
}

export interface Series {
  label: string;
  points: { n: number; value: number }[];
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Series of p99 (ms) against N, one per scenario and protocol. */
export function p99Series(rows: readonly Row[]): Series[] {
  const byLabel = new Map<string, Series>();
  for (const row of rows) {
    if (row.n === 'baseline' || !Number.isFinite(row.p99_ms)) continue;
    const label = `${row.scenario} (${row.proto}${row.lookup === 'list' ? ', list-per-review' : ''})`;
    let series = byLabel.get(label);
    if (!series) byLabel.set(label, (series = { label, points: [] }));
    series.points.push({ n: row.n, value: row.p99_ms });
  }
  for (const series of byLabel.values()) series.points.sort((a, b) => a.n - b.n);
  return [...byLabel.values()];
}

/**
 * A line chart of `series` with a logarithmic N axis and a logarithmic latency axis; optional
 * horizontal reference lines (e.g. the 2 ms goal). Self-contained SVG, no scripts, no fonts to load.
 */
export function svgChart(
  series: readonly Series[],
  options: {
    title: string;
    yLabel: string;
    references?: { value: number; label: string }[];
    width?: number;
    height?: number;
  } = {
    title: '',
    yLabel: '',
  },
): string {
  const width = options.width ?? 760;
  const height = options.height ?? 440;
  const margin = { left: 64, right: 250, top: 40, bottom: 50 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const points = series.flatMap((s) => s.points).filter((p) => p.n > 0 && p.value > 0);
  const refs = options.references ?? [];
  const ns = points.map((p) => p.n);
  const values = [...points.map((p) => p.value), ...refs.map((r) => r.value)];
  const xMin = Math.pow(10, Math.floor(Math.log10(Math.min(...ns, 10))));
  const xMax = Math.pow(10, Math.ceil(Math.log10(Math.max(...ns, 100_000))));
  const yMin = Math.pow(10, Math.floor(Math.log10(Math.min(...values, 0.1))));
  const yMax = Math.pow(10, Math.ceil(Math.log10(Math.max(...values, 1))));
  const x = (n: number) =>
    margin.left + ((Math.log10(n) - Math.log10(xMin)) / (Math.log10(xMax) - Math.log10(xMin))) * plotW;
  const y = (v: number) =>
    margin.top + plotH - ((Math.log10(v) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))) * plotH;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
  );
  out.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  out.push(`<text x="${margin.left}" y="22" font-size="15" font-weight="bold">${escapeXml(options.title)}</text>`);
  for (let e = Math.log10(xMin); e <= Math.log10(xMax) + 1e-9; e++) {
    const n = Math.pow(10, e);
    const px = x(n).toFixed(1);
    out.push(`<line x1="${px}" y1="${margin.top}" x2="${px}" y2="${margin.top + plotH}" stroke="#ddd"/>`);
    out.push(`<text x="${px}" y="${margin.top + plotH + 18}" text-anchor="middle">${formatN(n)}</text>`);
  }
  for (let e = Math.log10(yMin); e <= Math.log10(yMax) + 1e-9; e++) {
    const v = Math.pow(10, e);
    const py = y(v).toFixed(1);
    out.push(`<line x1="${margin.left}" y1="${py}" x2="${margin.left + plotW}" y2="${py}" stroke="#ddd"/>`);
    out.push(
      `<text x="${margin.left - 6}" y="${py}" text-anchor="end" dominant-baseline="middle">${v >= 1 ? v.toFixed(0) : String(Number(v.toPrecision(1)))}</text>`,
    );
  }
  out.push(`<rect x="${margin.left}" y="${margin.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`);
  out.push(
    `<text x="${margin.left + plotW / 2}" y="${height - 12}" text-anchor="middle">N (AccessRequests, each with an AccessGrant)</text>`,
  );
  out.push(
    `<text transform="translate(16 ${margin.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeXml(options.yLabel)}</text>`,
  );
  for (const ref of refs) {
    const py = y(ref.value).toFixed(1);
    out.push(
      `<line x1="${margin.left}" y1="${py}" x2="${margin.left + plotW}" y2="${py}" stroke="#999" stroke-dasharray="6 4"/>`,
    );
    out.push(
      `<text x="${margin.left + plotW - 4}" y="${Number(py) - 4}" text-anchor="end" fill="#666">${escapeXml(ref.label)}</text>`,
    );
  }
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]!;
    const dash = s.label.includes('h2') ? ' stroke-dasharray="5 3"' : '';
    const valid = s.points.filter((p) => p.n > 0 && p.value > 0);
    if (valid.length > 1) {
      const d = valid.map((p, j) => `${j ? 'L' : 'M'}${x(p.n).toFixed(1)} ${y(p.value).toFixed(1)}`).join(' ');
      out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"${dash}/>`);
    }
    for (const p of valid)
      out.push(`<circle cx="${x(p.n).toFixed(1)}" cy="${y(p.value).toFixed(1)}" r="3.5" fill="${color}"/>`);
    const ly = margin.top + 10 + i * 20;
    const lx = margin.left + plotW + 16;
    out.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 24}" y2="${ly}" stroke="${color}" stroke-width="2"${dash}/>`);
    out.push(`<text x="${lx + 30}" y="${ly}" dominant-baseline="middle">${escapeXml(s.label)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/**
 * The environment the production image gives the server (the last stage's `ENV` lines of the
 * Dockerfile that tune Node and malloc: NODE_OPTIONS, MALLOC_*), so the benchmark runs it as the
 * image does: heap limits included.
 */
export function imageEnv(dockerfile: string): Record<string, string> {
  const stages = dockerfile.split(/^FROM\s/m);
  const last = stages[stages.length - 1] ?? '';
  const env: Record<string, string> = {};
  // `ENV NAME=value` or `ENV NAME="value with spaces"` (several flags in NODE_OPTIONS).
  for (const match of last.matchAll(/^ENV\s+(NODE_OPTIONS|MALLOC_[A-Z_]+)=(?:"([^"\\]*)"|(\S+))\s*$/gm))
    env[match[1]!] = match[2] ?? match[3]!;
  return env;
}
