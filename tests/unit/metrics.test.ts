// /metrics: what people did by namespace, audit failures, and the backend's gauges; and the
// example Grafana dashboard asks only for series the server renders.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { createApp, type AdmissionResponseReview } from '../../adapters/http/app.ts';
import { Metrics, type Gauge } from '../../adapters/http/metrics.ts';
import { MemoryCluster } from '../../adapters/memory/lookup.ts';
import type { AuditSink } from '../../adapters/ports.ts';
import type { AdmissionRequest } from '../../functions/schemas.ts';
import { DEFAULT_CONFIG } from '../../functions/types.ts';
import { accessGrant, accessRequest, execReview, NOW, objectReview, users } from '../support/builders.ts';

function setup(audit: AuditSink[] = []) {
  const cluster = new MemoryCluster([accessRequest({ validFor: '1h' }), accessRequest({ name: 'bobs', user: 'bob' })]);
  const metrics = new Metrics((): Gauge[] => [
    { name: 'pending_requests', labels: { namespace: 'team-a' }, value: 2 },
    { name: 'cache_lag_seconds', labels: { cache: 'accessrequests' }, value: 0 },
  ]);
  const app = createApp({
    lookup: cluster,
    effects: cluster,
    audit,
    config: DEFAULT_CONFIG,
    clock: () => NOW,
    metrics,
  });
  const post = async (request: object) =>
    (
      (await (
        await app.request('/', {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request }),
        })
      ).json()) as AdmissionResponseReview
    ).response;
  const scrape = async () => (await app.request('/metrics')).text();
  return { cluster, post, scrape };
}

describe('metrics', () => {
  it('counts requests made, grants and denials, and execs by namespace and verdict; not dry runs', async () => {
    const { cluster, post, scrape } = setup();
    assert.equal((await post(objectReview(accessRequest({ name: 'new-one' }), { user: users.alice }))).allowed, true);
    assert.equal((await post(objectReview(accessGrant(), { user: users.carol }))).allowed, true);
    cluster.add(accessGrant());
    assert.equal(
      (await post(objectReview(accessGrant({ grantFor: 'bobs', status: 'denied' }), { user: users.carol }))).allowed,
      true,
    );
    assert.equal((await post(execReview())).allowed, true);
    assert.equal((await post(execReview({ command: ['id'] }))).allowed, false);
    await post({ ...execReview(), dryRun: true });
    const text = await scrape();
    assert.match(text, /kube_request_access_requests_created_total\{namespace="team-a"\} 1\n/);
    assert.match(text, /kube_request_access_decisions_total\{namespace="team-a",decision="granted"\} 1\n/);
    assert.match(text, /kube_request_access_decisions_total\{namespace="team-a",decision="denied"\} 1\n/);
    assert.match(
      text,
      /kube_request_access_access_total\{namespace="team-a",subresource="exec",verdict="allowed"\} 1\n/,
    );
    assert.match(
      text,
      /kube_request_access_access_total\{namespace="team-a",subresource="exec",verdict="denied"\} 1\n/,
    );
    assert.match(text, /kube_request_access_pending_requests\{namespace="team-a"\} 2\n/);
    assert.match(text, /kube_request_access_cache_lag_seconds\{cache="accessrequests"\} 0\n/);
  });

  it('counts a decision the audit webhook refused as an audit failure and a denial', async () => {
    const { post, scrape } = setup([
      {
        name: 'down',
        record: async () => {
          throw new Error('HTTP 503');
        },
      },
    ]);
    assert.equal((await post(execReview())).allowed, false);
    const text = await scrape();
    assert.match(text, /kube_request_access_audit_failures_total\{sink="webhook"\} 1\n/);
    assert.match(
      text,
      /kube_request_access_access_total\{namespace="team-a",subresource="exec",verdict="denied"\} 1\n/,
    );
  });

  it('the example dashboard asks only for series the server renders', async () => {
    const { scrape } = setup();
    const rendered = new Set(
      [...(await scrape()).matchAll(/^# TYPE (\S+) (\w+)$/gm)].flatMap(([, name, type]) =>
        type === 'histogram' ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : [name!],
      ),
    );
    const dashboard = JSON.parse(
      readFileSync(new URL('../../examples/monitoring/grafana-dashboard.json', import.meta.url), 'utf8'),
    ) as { panels: { targets: { expr: string }[] }[] };
    const asked = dashboard.panels.flatMap((panel) =>
      panel.targets.flatMap((target) => target.expr.match(/kube_request_access_\w+/g) ?? []),
    );
    assert.ok(asked.length >= 8);
    for (const name of asked)
      assert.ok(rendered.has(name), `the dashboard asks for ${name}, which /metrics does not have`);
  });
});

describe('metrics of break-glass', () => {
  it('counts a break-glass self-grant as decision="break-glass", apart from ordinary grants', () => {
    const metrics = new Metrics();
    const grant = (breakGlass: boolean) => ({
      type: 'audit-granted' as const,
      data: {
        request: objectReview(accessGrant(), { user: users.alice }) as AdmissionRequest,
        accessRequest: accessRequest(),
        accessGrant: { ...accessGrant(), spec: { ...accessGrant().spec, ...(breakGlass ? { breakGlass: true } : {}) } },
      },
    });
    metrics.decided([grant(true)], true);
    metrics.decided([grant(false)], true);
    const text = metrics.render();
    assert.match(text, /kube_request_access_decisions_total\{namespace="team-a",decision="break-glass"\} 1\n/);
    assert.match(text, /kube_request_access_decisions_total\{namespace="team-a",decision="granted"\} 1\n/);
  });
});
