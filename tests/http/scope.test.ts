// Grant scope through the Hono shell: counted uses end to end with the memory cluster, a failed
// audit giving back exactly the use it took (also when another write came between), the lost
// race's message, and the auditAnnotations in the AdmissionResponse.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createApp, type AdmissionResponseReview } from '../../adapters/http/app.ts';
import { MemoryCluster } from '../../adapters/memory/lookup.ts';
import type { AuditSink } from '../../adapters/ports.ts';
import { DEFAULT_CONFIG } from '../../functions/types.ts';
import { accessGrant, accessRequest, execReview, NOW, shellPorts } from '../support/builders.ts';

function setup(cluster: MemoryCluster, audit: AuditSink[] = []) {
  const app = createApp({
    ...shellPorts(cluster),
    audit,
    config: DEFAULT_CONFIG,
    clock: () => NOW,
  });
  return async (uid = 'u-1') => {
    const res = await app.request('/', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        request: execReview({ uid }),
      }),
    });
    return ((await res.json()) as AdmissionResponseReview).response;
  };
}

const uses = async (cluster: MemoryCluster) => (await cluster.accessRequest('team-a', 'alice-web-0'))?.status?.uses;

describe('maxUses through the shell', () => {
  it('allows three concurrent reviews of five on maxUses: 3, naming the use in auditAnnotations', async () => {
    const cluster = new MemoryCluster([accessRequest({ maxUses: 3 }), accessGrant()]);
    const review = setup(cluster);
    const answers = await Promise.all(['a', 'b', 'c', 'd', 'e'].map((uid) => review(uid)));
    const allowed = answers.filter((a) => a.allowed);
    assert.equal(allowed.length, 3);
    assert.deepEqual(
      allowed.map((a) => (a as { auditAnnotations?: Record<string, string> }).auditAnnotations?.['access-request']),
      ['team-a/alice-web-0', 'team-a/alice-web-0', 'team-a/alice-web-0'],
    );
    for (const denied of answers.filter((a) => !a.allowed))
      assert.match(denied.status!.message, /used up|uses are used/);
    assert.equal(await uses(cluster), 3);
  });

  it('gives back the one use a review took when its audit fails, and only that one', async () => {
    const cluster = new MemoryCluster([accessRequest({ maxUses: 3, status: { uses: 1 } }), accessGrant()]);
    const failing: AuditSink = {
      name: 'audit webhook',
      record: async () => {
        // Another writer (a condition, another replica's use) between the consume and the give-back.
        const current = await cluster.accessRequest('team-a', 'alice-web-0');
        cluster.setStatus('team-a', 'alice-web-0', { ...current!.status, uses: (current!.status?.uses ?? 0) + 1 });
        throw new Error('audit webhook down');
      },
    };
    const answer = await setup(cluster, [failing])();
    assert.equal(answer.allowed, false);
    assert.match(answer.status!.message, /audit webhook did not accept/);
    // 1, +1 by this review, +1 by the other writer, -1 given back.
    assert.equal(await uses(cluster), 2);
  });
});
