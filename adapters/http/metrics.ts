// A few Prometheus metrics without a client library: review counts by concern and verdict,
// and review latency as a histogram.
const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export class Metrics {
  private readonly reviews = new Map<string, number>();
  private readonly counts = new Array<number>(BUCKETS.length + 1).fill(0);
  private sum = 0;
  private total = 0;

  observe(concern: string, verdict: 'allowed' | 'denied' | 'error', seconds: number): void {
    const key = `concern="${concern}",verdict="${verdict}"`;
    this.reviews.set(key, (this.reviews.get(key) ?? 0) + 1);
    let i = 0;
    while (i < BUCKETS.length && seconds > BUCKETS[i]!) i++;
    this.counts[i]!++;
    this.sum += seconds;
    this.total++;
  }

  render(): string {
    const lines = [
      '# HELP kube_request_access_reviews_total AdmissionReviews answered, by concern and verdict.',
      '# TYPE kube_request_access_reviews_total counter',
      ...[...this.reviews].map(([labels, n]) => `kube_request_access_reviews_total{${labels}} ${n}`),
      '# HELP kube_request_access_review_duration_seconds Time to answer an AdmissionReview.',
      '# TYPE kube_request_access_review_duration_seconds histogram',
    ];
    let cumulative = 0;
    BUCKETS.forEach((bound, i) => {
      cumulative += this.counts[i]!;
      lines.push(`kube_request_access_review_duration_seconds_bucket{le="${bound}"} ${cumulative}`);
    });
    lines.push(`kube_request_access_review_duration_seconds_bucket{le="+Inf"} ${this.total}`);
    lines.push(`kube_request_access_review_duration_seconds_sum ${this.sum}`);
    lines.push(`kube_request_access_review_duration_seconds_count ${this.total}`);
    return `${lines.join('\n')}\n`;
  }
}
