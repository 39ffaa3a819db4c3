import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { WorkloadKind } from '../../../cli/lib/args.ts';
import type { PodLike, WorkloadLike } from '../../../cli/lib/cluster.ts';
import { CliError } from '../../../cli/lib/errors.ts';
import { labelSelectorString, pickContainer, pickRunningPod, resolveTarget } from '../../../cli/lib/pods.ts';

function pod(
  name: string,
  extra: {
    phase?: string;
    ready?: boolean;
    created?: string;
    containers?: string[];
    annotations?: Record<string, string>;
    deleting?: boolean;
  } = {},
): PodLike {
  return {
    metadata: {
      name,
      namespace: 'shop',
      creationTimestamp: extra.created ?? '2026-01-10T10:00:00Z',
      ...(extra.annotations ? { annotations: extra.annotations } : {}),
      ...(extra.deleting ? { deletionTimestamp: '2026-01-10T11:00:00Z' } : {}),
    },
    spec: { containers: (extra.containers ?? ['app']).map((n) => ({ name: n })) },
    status: {
      phase: extra.phase ?? 'Running',
      conditions: [{ type: 'Ready', status: extra.ready === false ? 'False' : 'True' }],
    },
  };
}

class NotFound extends Error {
  code = 404;
}

function source(pods: PodLike[], workloads: Record<string, WorkloadLike>) {
  const calls: string[] = [];
  return {
    calls,
    async readPod(namespace: string, name: string) {
      calls.push(`pod ${namespace}/${name}`);
      const found = pods.find((p) => p.metadata?.name === name);
      if (!found) throw new NotFound('not found');
      return found;
    },
    async readWorkload(kind: Exclude<WorkloadKind, 'pod'>, namespace: string, name: string) {
      calls.push(`${kind} ${namespace}/${name}`);
      const found = workloads[`${kind}/${name}`];
      if (!found) throw new NotFound('not found');
      return found;
    },
    async listPods(namespace: string, selector: string) {
      calls.push(`pods ${namespace} ${selector}`);
      return pods.filter((p) => p.metadata?.name?.startsWith('web-'));
    },
  };
}

describe('pod resolution', () => {
  it('turns a workload selector into a label selector query', () => {
    assert.equal(
      labelSelectorString({
        matchLabels: { app: 'web', tier: 'front' },
        matchExpressions: [
          { key: 'env', operator: 'In', values: ['prod', 'stage'] },
          { key: 'canary', operator: 'NotIn', values: ['true'] },
          { key: 'team', operator: 'Exists' },
          { key: 'legacy', operator: 'DoesNotExist' },
        ],
      }),
      'app=web,tier=front,env in (prod,stage),canary notin (true),team,!legacy',
    );
  });

  it('resolves a deployment to its running pod through the selector', async () => {
    const s = source(
      [
        pod('web-pending', { phase: 'Pending' }),
        pod('web-a', { ready: false }),
        pod('web-b'),
        pod('web-gone', { deleting: true }),
      ],
      { 'deployment/web': { spec: { selector: { matchLabels: { app: 'web' } } } } },
    );
    const resolved = await resolveTarget(s, 'shop', { kind: 'deployment', name: 'web' });
    assert.deepEqual(resolved, { pod: 'web-b', container: 'app', notes: ['deployment/web resolved to pod web-b'] });
    assert.deepEqual(s.calls, ['deployment shop/web', 'pods shop app=web']);
  });

  it('prefers ready, then older pods, then the name', () => {
    assert.equal(
      pickRunningPod([pod('b', { created: '2026-01-02T00:00:00Z' }), pod('a', { created: '2026-01-03T00:00:00Z' })])
        ?.metadata?.name,
      'b',
    );
    assert.equal(pickRunningPod([pod('b'), pod('a')])?.metadata?.name, 'a');
    assert.equal(pickRunningPod([pod('x', { phase: 'Succeeded' })]), undefined);
  });

  it('says so when a workload has no running pod', async () => {
    const s = source([pod('web-a', { phase: 'Pending' })], {
      'statefulset/web': { spec: { selector: { matchLabels: { app: 'web' } } } },
    });
    await assert.rejects(
      resolveTarget(s, 'shop', { kind: 'statefulset', name: 'web' }),
      /statefulset\/web has no running pod \(1 found, none running\)/,
    );
    await assert.rejects(
      resolveTarget(s, 'shop', { kind: 'job', name: 'web' }),
      /job\/web not found in namespace shop/,
    );
  });

  it('takes the default-container annotation, else the first container', () => {
    assert.deepEqual(
      pickContainer(
        pod('p', {
          containers: ['istio-proxy', 'app'],
          annotations: { 'kubectl.kubernetes.io/default-container': 'app' },
        }),
      ),
      { container: 'app' },
    );
    assert.deepEqual(pickContainer(pod('p', { containers: ['app', 'sidecar'] })), {
      container: 'app',
      note: 'Defaulted container "app" out of: app, sidecar',
    });
    // An annotation naming a container that does not exist is ignored, as kubectl does.
    assert.equal(
      pickContainer(
        pod('p', { containers: ['main'], annotations: { 'kubectl.kubernetes.io/default-container': 'gone' } }),
      ).container,
      'main',
    );
  });

  it('checks an explicit container against the pod', () => {
    assert.deepEqual(pickContainer(pod('p', { containers: ['app', 'db'] }), 'db'), { container: 'db' });
    assert.throws(
      () => pickContainer(pod('p', { containers: ['app', 'db'] }), 'nope'),
      /container nope not found in pod p; choose one of: app, db/,
    );
  });

  it('reads a named pod directly and explains a missing one', async () => {
    const s = source(
      [
        pod('solo', {
          containers: ['main', 'side'],
          annotations: { 'kubectl.kubernetes.io/default-container': 'side' },
        }),
      ],
      {},
    );
    assert.deepEqual(await resolveTarget(s, 'shop', { kind: 'pod', name: 'solo' }), {
      pod: 'solo',
      container: 'side',
      notes: [],
    });
    await assert.rejects(resolveTarget(s, 'shop', { kind: 'pod', name: 'nope' }), (error: unknown) => {
      assert.ok(error instanceof CliError);
      assert.match(error.message, /^pod nope not found in namespace shop/);
      return true;
    });
  });
});
