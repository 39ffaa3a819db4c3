// The benchmark's formatting and math (bench/stats.ts, bench/profile.ts). Never its figures:
// those are printed and recorded in BENCHMARKS.md, not asserted.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { area, summarise } from '../../bench/profile.ts';
import {
  formatMarkdownTable,
  formatTable,
  histogramPercentileBound,
  imageEnv,
  jsonRow,
  latencySummary,
  p99Series,
  parseH2load,
  parseHistogram,
  parseH2loadLog,
  percentile,
  svgChart,
  type Row,
} from '../../bench/stats.ts';

const row = (overrides: Partial<Row> = {}): Row => ({
  n: 1000,
  scenario: 'exec allowed',
  proto: 'h1',
  lookup: 'informer',
  rps: 7512.4,
  p50_ms: 0.4123,
  p99_ms: 1.2346,
  p99_max_ms: 3.5,
  cpu_us: 120.4,
  server_p99_le_ms: 1,
  rss_mb: 143.26,
  errors: 0,
  ...overrides,
});

describe('percentile', () => {
  it('is the nearest rank', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1); // 1..100
    assert.equal(percentile(values, 50), 50);
    assert.equal(percentile(values, 99), 99);
    assert.equal(percentile(values, 100), 100);
    assert.equal(percentile(values, 0), 1);
  });

  it('sorts unsorted input without changing it', () => {
    const values = [5, 1, 4, 2, 3];
    assert.equal(percentile(values, 50), 3);
    assert.deepEqual(values, [5, 1, 4, 2, 3]);
  });

  it('handles one value, no values, and rejects a percentile out of range', () => {
    assert.equal(percentile([7], 99), 7);
    assert.equal(percentile([], 50), undefined);
    assert.throws(() => percentile([1], 101), RangeError);
  });

  it('p99 of 1,000 values is the 990th smallest', () => {
    const values = Array.from({ length: 1000 }, (_, i) => 1000 - i);
    assert.equal(percentile(values, 99), 990);
  });

  it('summarises microseconds as milliseconds', () => {
    const summary = latencySummary([1000, 2000, 3000, 4000]);
    assert.equal(summary.p50_ms, 2);
    assert.equal(summary.p99_ms, 4);
    assert.equal(summary.count, 4);
  });
});

describe('the webhook histogram', () => {
  const metrics = (counts: number[]) =>
    ['0.0005', '0.001', '0.0025', '+Inf']
      .map((le, i) => `kube_request_access_review_duration_seconds_bucket{le="${le}"} ${counts[i]}`)
      .join('\n');

  it('reads cumulative buckets by upper bound', () => {
    const histogram = parseHistogram(
      `# HELP x\n${metrics([1, 2, 3, 4])}\nkube_request_access_review_duration_seconds_sum 0.1`,
    );
    assert.deepEqual(
      [...histogram],
      [
        [0.0005, 1],
        [0.001, 2],
        [0.0025, 3],
        [Number.POSITIVE_INFINITY, 4],
      ],
    );
  });

  it('bounds a percentile of the reviews between two scrapes', () => {
    const before = parseHistogram(metrics([10, 10, 10, 10]));
    // 100 new reviews: 90 under 0.5 ms, 9 more under 1 ms, 1 under 2.5 ms
    const after = parseHistogram(metrics([100, 109, 110, 110]));
    assert.equal(histogramPercentileBound(before, after, 50), 0.5);
    assert.equal(histogramPercentileBound(before, after, 99), 1);
    assert.equal(histogramPercentileBound(before, after, 100), 2.5);
    assert.ok(Number.isNaN(histogramPercentileBound(after, after, 99)));
  });
});

describe('h2load output', () => {
  const output = `finished in 8.00s, 7512.38 req/s, 3.01MB/s
requests: 60099 total, 60115 started, 60099 done, 60098 succeeded, 1 failed, 0 errored, 0 timeout
status codes: 60098 2xx, 0 3xx, 0 4xx, 1 5xx
`;

  it('reads the summary', () => {
    assert.deepEqual(parseH2load(output), {
      rps: 7512.38,
      total: 60099,
      succeeded: 60098,
      failed: 1,
      errored: 0,
      status2xx: 60098,
    });
  });

  it('refuses output without a summary', () => {
    assert.throws(() => parseH2load('connect: Connection refused'), /cannot read h2load/);
  });

  it('reads the per-request log', () => {
    assert.deepEqual(parseH2loadLog('1795898896210620\t200\t79956\n1795898896210625\t400\t80\n\n'), [
      { startUs: 1795898896210620, status: 200, micros: 79956 },
      { startUs: 1795898896210625, status: 400, micros: 80 },
    ]);
  });
});

describe('table and JSON', () => {
  it('prints one aligned line per row under a header', () => {
    const text = formatTable([row(), row({ n: 'baseline', scenario: 'fixed verdict', lookup: 'none', rps: 9001 })]);
    const lines = text.split('\n');
    assert.equal(lines.length, 3);
    assert.match(lines[0]!, /^\s*N\s+scenario\s+proto\s+lookup\s+reviews\/s\s+p50 ms\s+p99 ms/);
    assert.match(
      lines[1]!,
      /^\s+1,000\s+exec allowed\s+h1\s+informer\s+7,512\s+0\.41\s+1\.23\s+3\.50\s+1\s+120\s+143\s+0$/,
    );
    assert.match(lines[2]!, /^baseline\s+fixed verdict/);
  });

  it('writes a Markdown table with right-aligned numbers', () => {
    const md = formatMarkdownTable([row({ n: 100_000 })]).split('\n');
    assert.equal(md.length, 3);
    assert.match(md[1]!, /^\| ---: \| --- \| --- \| --- \| ---: \|/);
    assert.match(md[2]!, /^\| 100,000 \| exec allowed \| h1 \| informer \| 7,512 \|/);
  });

  it('JSON rows carry n, scenario, rps, p50_ms, p99_ms, rss_mb first', () => {
    const parsed = JSON.parse(jsonRow(row())) as Record<string, unknown>;
    assert.deepEqual(Object.keys(parsed).slice(0, 6), ['n', 'scenario', 'rps', 'p50_ms', 'p99_ms', 'rss_mb']);
    assert.deepEqual(
      { n: parsed.n, rps: parsed.rps, p50_ms: parsed.p50_ms, p99_ms: parsed.p99_ms, rss_mb: parsed.rss_mb },
      { n: 1000, rps: 7512, p50_ms: 0.412, p99_ms: 1.235, rss_mb: 143.3 },
    );
    assert.equal(JSON.parse(jsonRow(row({ n: 'baseline' }))).n, 'baseline');
  });

  it('writes null, not NaN, for a figure that could not be measured', () => {
    assert.equal(JSON.parse(jsonRow(row({ p99_ms: Number.NaN }))).p99_ms, null);
    assert.match(formatTable([row({ p99_ms: Number.NaN })]), /n\/a/);
  });
});

describe('SVG chart', () => {
  const rows = [10, 1000, 10_000, 100_000].flatMap((n) => [
    row({ n, p99_ms: 1 + n / 1e5 }),
    row({ n, scenario: 'exec denied', p99_ms: 0.8 }),
    row({ n, proto: 'h2', p99_ms: 1.5 }),
  ]);

  it('makes one series per scenario and protocol, ordered by N, without the baseline', () => {
    const series = p99Series([...rows, row({ n: 'baseline', scenario: 'fixed verdict' })]);
    assert.deepEqual(
      series.map((s) => s.label),
      ['exec allowed (h1)', 'exec denied (h1)', 'exec allowed (h2)'],
    );
    assert.deepEqual(
      series[0]!.points.map((p) => p.n),
      [10, 1000, 10_000, 100_000],
    );
  });

  it('is a standalone SVG with a line and points per series, a legend and the goal line', () => {
    const svg = svgChart(p99Series(rows), {
      title: 'p99 <latency>',
      yLabel: 'ms',
      references: [{ value: 2, label: 'goal: 2 ms' }],
    });
    assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.match(svg, /<\/svg>\n$/);
    assert.equal((svg.match(/<path /g) ?? []).length, 3);
    assert.equal((svg.match(/<circle /g) ?? []).length, 12);
    assert.match(svg, /p99 &lt;latency&gt;/);
    assert.match(svg, /goal: 2 ms/);
    assert.match(svg, />100,000</);
    assert.doesNotMatch(svg, /NaN|undefined/);
  });
});

describe('profile summary', () => {
  it('sorts self time into areas and leaves idle out', () => {
    const frame = (id: number, functionName: string, url: string) => ({
      id,
      callFrame: { functionName, url, lineNumber: 0 },
    });
    const summary = summarise({
      nodes: [
        frame(1, '(idle)', ''),
        frame(2, 'safeParse', 'file:///x/node_modules/valibot/dist/index.mjs'),
        frame(3, 'exec', 'file:///x/functions/exec/index.ts'),
        frame(4, 'writev', ''),
      ],
      startTime: 0,
      endTime: 4000,
      samples: [1, 2, 2, 3, 4],
      timeDeltas: [1000, 1000, 1000, 1000, 1000],
    });
    assert.equal(summary.totalMs, 4);
    assert.deepEqual(
      summary.areas.map((a) => [a.area, a.ms]),
      [
        ['valibot', 2],
        ['policy (functions/)', 1],
        ['native: writev', 1],
      ],
    );
    assert.equal(summary.functions[0]!.share, 0.5);
  });

  it('names the area of Node internals', () => {
    assert.equal(area({ functionName: 'x', url: 'node:internal/tls/wrap', lineNumber: 0 }), 'node: TLS');
    assert.equal(area({ functionName: '(garbage collector)', url: '', lineNumber: 0 }), 'garbage collection');
  });
});

describe('the image environment the benchmark runs the server with', () => {
  it("takes the last stage's NODE_OPTIONS and MALLOC_* lines, not the build stage's", () => {
    const dockerfile = [
      'FROM node:24-slim AS build',
      'ENV NODE_OPTIONS=--max-old-space-size=4096',
      'FROM node:24-slim',
      'ENV NODE_ENV=production',
      'ENV NODE_OPTIONS=--max-old-space-size=288',
      'ENV MALLOC_ARENA_MAX=2',
    ].join('\n');
    assert.deepEqual(imageEnv(dockerfile), { NODE_OPTIONS: '--max-old-space-size=288', MALLOC_ARENA_MAX: '2' });
  });

  it('reads a quoted value with several flags whole', () => {
    const dockerfile = 'FROM node:24-slim\nENV NODE_OPTIONS="--max-old-space-size=288 --max-semi-space-size=4"\n';
    assert.deepEqual(imageEnv(dockerfile), { NODE_OPTIONS: '--max-old-space-size=288 --max-semi-space-size=4' });
  });

  it('finds the heap cap in the real Dockerfile', () => {
    const env = imageEnv(readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8'));
    assert.match(env.NODE_OPTIONS ?? '', /--max-old-space-size=\d+/);
  });
});
