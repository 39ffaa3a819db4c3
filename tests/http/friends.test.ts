// The friends of exec through the Hono shell: recorded reviews in, AdmissionReviews out, one-shot
// requests consumed through the MemoryCluster, every decision audited.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { createApp, type AdmissionResponseReview } from '../../adapters/http/app.ts';
import { MemoryCluster } from '../../adapters/memory/lookup.ts';
import type { AuditSink } from '../../adapters/ports.ts';
import { DEFAULT_CONFIG, type AuditEvent } from '../../functions/types.ts';
import { accessGrant, NOW, shellPorts } from '../support/builders.ts';
import {
  attachRequest,
  copyInRequest,
  debugRequest,
  execRequest,
  portForwardRequest,
  type Fixture,
} from '../unit/friends/_builders.ts';

const fixture = (name: Fixture) =>
  JSON.parse(readFileSync(new URL(`../fixtures/${name}.json`, import.meta.url), 'utf8')) as {
    request: Record<string, any>;
  };

function setup(objects: unknown[]) {
  const cluster = new MemoryCluster(objects);
  const events: AuditEvent[] = [];
  const recorder: AuditSink = { name: 'recorder', record: async (event) => void events.push(event) };
  const app = createApp({
    ...shellPorts(cluster),
    audit: [recorder],
    config: { ...DEFAULT_CONFIG, alwaysAllowedGroups: ['kube-request-access:admins'] },
    clock: () => NOW,
  });
  const review = async (body: object) => {
    const res = await app.request('/', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    assert.equal(res.status, 200);
    const answer = (await res.json()) as AdmissionResponseReview;
    assert.equal(answer.apiVersion, 'admission.k8s.io/v1');
    assert.equal(answer.kind, 'AdmissionReview');
    return answer.response;
  };
  return { cluster, events, review };
}

const friends: Array<{
  name: string;
  fixture: Fixture;
  request: unknown;
  change?: (r: Record<string, any>) => void;
  other: unknown;
}> = [
  { name: 'attach', fixture: 'attach-review', request: attachRequest(), other: execRequest([]) },
  {
    name: 'port-forward (kubectl, no ports)',
    fixture: 'portforward-review',
    request: portForwardRequest([]),
    other: attachRequest(),
  },
  {
    name: 'port-forward of a named port',
    fixture: 'portforward-review',
    request: portForwardRequest([8080]),
    change: (r) => {
      r.object.ports = [8080];
    },
    other: portForwardRequest([5432]),
  },
  {
    name: 'debug',
    fixture: 'ephemeralcontainers-review',
    request: debugRequest(),
    other: attachRequest({ container: 'debugger-7xk2p' }),
  },
  { name: 'kubectl cp into a pod', fixture: 'copy-in-review', request: copyInRequest(), other: execRequest([]) },
];

describe('friends of exec over HTTP', () => {
  for (const friend of friends) {
    const body = () => {
      const review = fixture(friend.fixture);
      friend.change?.(review.request);
      return review;
    };

    it(`${friend.name}: denied without a request, uid echoed, audited`, async () => {
      const { review, events } = setup([]);
      const response = await review(body());
      assert.equal(response.uid, fixture(friend.fixture).request.uid);
      assert.equal(response.allowed, false);
      assert.equal(response.status?.code, 403);
      assert.match(response.status?.message ?? '', /kubectl request /);
      assert.equal(events.length, 1);
      assert.ok(events[0]!.type === 'audit-exec' && events[0]!.data.isAllowed === false);
    });

    it(`${friend.name}: a grant for another subresource or target does not allow it`, async () => {
      const { review } = setup([friend.other, accessGrant()]);
      assert.equal((await review(body())).allowed, false);
    });

    it(`${friend.name}: allowed once with a granted one-shot request; the replay is denied`, async () => {
      const { review, cluster, events } = setup([friend.request, accessGrant()]);
      const first = await review(body());
      assert.equal(first.allowed, true, first.status?.message);
      assert.ok(
        (await cluster.accessRequest('team-a', 'alice-web-0'))?.status?.usedAt,
        'the one-shot request is marked used',
      );
      const replay = await review(body());
      assert.equal(replay.allowed, false);
      assert.deepEqual(
        events.map((e) => e.type === 'audit-exec' && e.data.isAllowed),
        [true, false],
      );
    });

    it(`${friend.name}: a dry run consumes nothing`, async () => {
      const { review, cluster } = setup([friend.request, accessGrant()]);
      const dry = body();
      dry.request.dryRun = true;
      assert.equal((await review(dry)).allowed, true);
      assert.ok(await cluster.accessRequest('team-a', 'alice-web-0'), 'still there after a dry run');
    });
  }

  it('answers a malformed ephemeralcontainers review with 400 and the uid', async () => {
    const { review } = setup([]);
    const bad = fixture('ephemeralcontainers-review');
    bad.request.oldObject = { kind: 'Pod', metadata: 'nope' };
    const response = await review(bad);
    assert.equal(response.allowed, false);
    assert.equal(response.status?.code, 400);
    assert.equal(response.uid, bad.request.uid);
  });
});
