// Prometheus metrics without a client library (a handful of series, rendered on scrape): reviews
// by concern and verdict with their latency; what people did, by namespace (requests made, grants
// and denials, execs and their friends allowed or denied); audit failures by sink; and gauges the
// cluster backend reports (pending requests by namespace, how far each cache is behind).
// No Node imports: the edge worker renders them too.
import type { AuditEvent } from '../../functions/types.ts';

const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** A gauge sample the backend reports at scrape time. */
export interface Gauge {
  name: 'pending_requests' | 'cache_lag_seconds';
  labels: Record<string, string>;
  value: number;
}

const GAUGE_HELP: Record<Gauge['name'], string> = {
  pending_requests: 'AccessRequests waiting for a decision, by namespace.',
  cache_lag_seconds: 'How far each cache may be behind the API server (0 while its watch delivers).',
};

const COUNTER_HELP = {
  reviews_total: 'AdmissionReviews answered, by concern and verdict.',
  requests_created_total: 'AccessRequests admitted, by namespace (dry runs not counted).',
  decisions_total: 'AccessGrants admitted, by namespace and decision (granted or denied; dry runs not counted).',
  access_total:
    'Exec, attach, port-forward and debug reviews, by namespace, subresource and final verdict (dry runs not counted).',
  audit_failures_total: 'Decisions refused because an audit sink failed, by sink (webhook, log).',
} as const;

type Counter = keyof typeof COUNTER_HELP;

const escape = (value: string) => value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
const labelText = (labels: Record<string, string>) =>
  Object.entries(labels)
    .map(([key, value]) => `${key}="${escape(value)}"`)
    .join(',');

/** One counter series: its rendered labels and its count. */
interface Series {
  labels: string;
  n: number;
}

export class Metrics {
  private readonly counters = new Map<Counter, Map<string, Series>>();
  /** The same series by counter and raw label values: a review's count is one Map lookup, no label rendering. */
  private readonly byValues = new Map<string, Series>();
  private readonly counts = new Array<number>(BUCKETS.length + 1).fill(0);
  private sum = 0;
  private total = 0;

  constructor(private readonly gauges: () => readonly Gauge[] = () => []) {}

  private add(counter: Counter, labels: Record<string, string>): void {
    // NUL separates the values: no label value (names, verdicts, subresources) contains one that matters.
    let key: string = counter;
    for (const name in labels) key += `\u0000${name}\u0000${labels[name]}`;
    const known = this.byValues.get(key);
    if (known) {
      known.n++;
      return;
    }
    const text = labelText(labels);
    let series = this.counters.get(counter);
    if (!series) this.counters.set(counter, (series = new Map()));
    const entry = series.get(text) ?? { labels: text, n: 0 };
    series.set(text, entry);
    entry.n++;
    this.byValues.set(key, entry);
  }

  observe(concern: string, verdict: 'allowed' | 'denied' | 'error', seconds: number): void {
    this.add('reviews_total', { concern, verdict });
    let i = 0;
    while (i < BUCKETS.length && seconds > BUCKETS[i]!) i++;
    this.counts[i]!++;
    this.sum += seconds;
    this.total++;
  }

  /** What a decision did, from its final audit events (so a refused audit counts as denied). */
  decided(events: readonly AuditEvent[], allowed: boolean): void {
    for (const event of events) {
      const { request } = event.data;
      if (request.dryRun) continue;
      const namespace = request.namespace;
      if (event.type === 'audit-exec') {
        this.add('access_total', {
          namespace,
          subresource: request.subResource,
          verdict: event.data.isAllowed ? 'allowed' : 'denied',
        });
      } else if (allowed && event.type === 'audit-created') {
        this.add('requests_created_total', { namespace });
      } else if (allowed && event.type === 'audit-granted') {
        // A break-glass self-grant is counted apart: a dashboard should show them, not hide them among grants.
        const grant = event.data.accessGrant;
        this.add('decisions_total', { namespace, decision: grant.spec.breakGlass ? 'break-glass' : grant.status });
      }
    }
  }

  auditFailed(sink: 'webhook' | 'log'): void {
    this.add('audit_failures_total', { sink });
  }

  render(): string {
    const lines: string[] = [];
    for (const [counter, help] of Object.entries(COUNTER_HELP) as [Counter, string][]) {
      const name = `kube_request_access_${counter}`;
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`);
      for (const { labels, n } of this.counters.get(counter)?.values() ?? []) lines.push(`${name}{${labels}} ${n}`);
    }
    lines.push(
      '# HELP kube_request_access_review_duration_seconds Time to answer an AdmissionReview.',
      '# TYPE kube_request_access_review_duration_seconds histogram',
    );
    let cumulative = 0;
    BUCKETS.forEach((bound, i) => {
      cumulative += this.counts[i]!;
      lines.push(`kube_request_access_review_duration_seconds_bucket{le="${bound}"} ${cumulative}`);
    });
    lines.push(`kube_request_access_review_duration_seconds_bucket{le="+Inf"} ${this.total}`);
    lines.push(`kube_request_access_review_duration_seconds_sum ${this.sum}`);
    lines.push(`kube_request_access_review_duration_seconds_count ${this.total}`);
    const samples = this.gauges();
    for (const name of Object.keys(GAUGE_HELP) as Gauge['name'][]) {
      const full = `kube_request_access_${name}`;
      lines.push(`# HELP ${full} ${GAUGE_HELP[name]}`, `# TYPE ${full} gauge`);
      for (const sample of samples.filter((g) => g.name === name))
        lines.push(`${full}{${labelText(sample.labels)}} ${sample.value}`);
    }
    return `${lines.join('\n')}\n`;
  }
}
