// adapters/kubernetes/apply.ts with fake writers: the same apply logic runs over client-node
// (Node backend) and over fetch (edge); which answers are a lost race, what is given back.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KubernetesApiError } from '../../adapters/errors.ts';
import {
  applyDeletions,
  applyRoleBindingPlan,
  statusEffects,
  type ObjectDeleter,
  type RoleBindingWriter,
} from '../../adapters/kubernetes/apply.ts';
import { fetchLookup, fetchWrites, type KubernetesClient } from '../../adapters/edge/kubernetes.ts';
import { silentLogger } from '../../adapters/log.ts';
import { EffectConflict } from '../../adapters/ports.ts';
import type { StatusBody } from '../../adapters/request-status.ts';
import type { CleanupEvent } from '../../functions/cleanup/index.ts';
import type { RoleBindingPlan } from '../../functions/reconcile/index.ts';
import { NOW } from '../support/builders.ts';

/** An API error as either client reports it: client-node's ApiException has `code`, fetch a KubernetesApiError. */
const apiError = (status: number, client: 'client-node' | 'fetch') =>
  client === 'fetch'
    ? new KubernetesApiError(status, '', `HTTP ${status}`)
    : Object.assign(new Error(`HTTP ${status}`), { code: status });

const consume = {
  type: 'consume-request' as const,
  namespace: 'team-a',
  name: 'r1',
  uid: 'uid-1',
  resourceVersion: '7',
};

/** An AccessRequest on a fake API server: status PUTs with its preconditions, and live reads. */
interface FakeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; uid: string; resourceVersion: string };
  spec: unknown;
  status: Record<string, unknown>;
}
interface FakeServer {
  object: FakeObject;
  puts: StatusBody[];
  reads: number;
  bump(status?: Record<string, unknown>): void;
  writer: {
    replaceRequestStatus(ns: string, name: string, body: StatusBody): Promise<unknown>;
    readRequest(): Promise<unknown>;
  };
}
function fakeServer(initial: { uses?: number; usedAt?: string; conditions?: unknown[] } = {}): FakeServer {
  const server: FakeServer = {
    object: {
      apiVersion: 'kube-request-access.io/v1',
      kind: 'AccessRequest',
      metadata: { name: 'r1', namespace: 'team-a', uid: 'uid-1', resourceVersion: '7' },
      spec: {
        userInfo: { username: 'alice' },
        forObject: { resource: { resource: 'pods' }, subResource: 'exec', name: 'web', namespace: 'team-a' },
      },
      status: initial as Record<string, unknown>,
    },
    puts: [],
    reads: 0,
    /** Another writer (a replica, a conditions patch): a new resourceVersion, and maybe a new status. */
    bump(status: Record<string, unknown> = server.object.status) {
      server.object = {
        ...server.object,
        metadata: {
          ...server.object.metadata,
          resourceVersion: String(Number(server.object.metadata.resourceVersion) + 1),
        },
        status,
      };
    },
    writer: {
      replaceRequestStatus: async (_ns, _name, body) => {
        server.puts.push(body);
        if (
          body.metadata.uid !== server.object.metadata.uid ||
          body.metadata.resourceVersion !== server.object.metadata.resourceVersion
        )
          throw new KubernetesApiError(409, 'Conflict', 'the object has been modified');
        server.bump(body.status);
        return server.object;
      },
      readRequest: async () => (server.reads++, structuredClone(server.object)),
    },
  };
  return server;
}

describe('statusEffects', () => {
  it('counts a one-shot use (uses and usedAt) on the resourceVersion read, and gives it back on the one it produced', async () => {
    const server = fakeServer();
    const written: unknown[] = [];
    const effects = statusEffects({
      writer: server.writer,
      logger: silentLogger,
      clock: () => NOW,
      onWritten: (object) => written.push(object),
    });
    const inverse = await effects.run(consume);
    assert.deepEqual(server.puts[0], {
      apiVersion: 'kube-request-access.io/v1',
      kind: 'AccessRequest',
      metadata: { name: 'r1', namespace: 'team-a', uid: 'uid-1', resourceVersion: '7' },
      status: { uses: 1, usedAt: NOW.toISOString() },
    });
    assert.deepEqual(inverse, {
      ...consume,
      type: 'release-request',
      resourceVersion: '8',
      status: { uses: 1, usedAt: NOW.toISOString() },
    });
    assert.equal(written.length, 1, 'the written object goes to the cache');
    assert.equal(await effects.run(inverse!), undefined, 'a release has no inverse');
    assert.deepEqual(server.puts[1]!.status, { uses: 0 });
    assert.equal(server.reads, 0, 'no conflict, no re-read');
  });

  it('counts a use of N without usedAt, and marks usedAt with the last', async () => {
    const server = fakeServer({ uses: 1 });
    const effects = statusEffects({ writer: server.writer, logger: silentLogger, clock: () => NOW });
    await effects.run({ ...consume, maxUses: 3, status: { uses: 1 } });
    assert.deepEqual(server.object.status, { uses: 2 });
    await effects.run({ ...consume, resourceVersion: '8', maxUses: 3, status: { uses: 2 } });
    assert.deepEqual(server.object.status, { uses: 3, usedAt: NOW.toISOString() });
  });

  it('on a conflict re-reads, keeps what another writer put into the status, and retries', async () => {
    const server = fakeServer();
    server.bump({ conditions: [{ type: 'Granted', status: 'True' }] }); // a conditions patch after the decision read
    const effects = statusEffects({ writer: server.writer, logger: silentLogger, clock: () => NOW });
    const inverse = await effects.run(consume);
    assert.equal(server.reads, 1);
    assert.equal(server.puts.length, 2);
    assert.deepEqual(server.object.status, {
      conditions: [{ type: 'Granted', status: 'True' }],
      uses: 1,
      usedAt: NOW.toISOString(),
    });
    server.bump({ ...server.object.status, conditions: [{ type: 'Used', status: 'True' }] });
    await effects.run(inverse!);
    assert.deepEqual(server.object.status, { conditions: [{ type: 'Used', status: 'True' }], uses: 0 });
  });

  it('on a conflict refuses when the re-read shows no use left, the window over, or another object', async () => {
    const effects = (server: ReturnType<typeof fakeServer>, at = NOW) =>
      statusEffects({ writer: server.writer, logger: silentLogger, clock: () => at });
    const usedUp = fakeServer();
    usedUp.bump({ uses: 3, usedAt: NOW.toISOString() });
    await assert.rejects(effects(usedUp).run({ ...consume, maxUses: 3, status: { uses: 2 } }), /all 3 uses are used/);
    assert.equal(usedUp.puts.length, 1, 'no second write');

    const oneShot = fakeServer();
    oneShot.bump({ uses: 1, usedAt: NOW.toISOString() });
    await assert.rejects(effects(oneShot).run(consume), (error) => error instanceof EffectConflict);

    const late = fakeServer();
    late.bump();
    const expiresAt = new Date(NOW.getTime() + 1).toISOString();
    await assert.rejects(
      effects(late, new Date(NOW.getTime() + 5)).run({ ...consume, maxUses: 3, expiresAt }),
      /window ended/,
    );

    const recreated = fakeServer();
    recreated.object.metadata.uid = 'uid-2';
    await assert.rejects(effects(recreated).run(consume), /deleted \(or re-created\)/);
  });

  it('gives back only the one use it added, after others counted theirs', async () => {
    const server = fakeServer({ uses: 2 });
    const effects = statusEffects({ writer: server.writer, logger: silentLogger, clock: () => NOW });
    const inverse = await effects.run({ ...consume, maxUses: 3, status: { uses: 2 } });
    assert.deepEqual(server.object.status, { uses: 3, usedAt: NOW.toISOString() });
    server.bump({ uses: 3, usedAt: NOW.toISOString(), conditions: [] }); // another writer meanwhile
    await effects.run(inverse!);
    assert.deepEqual(server.object.status, { uses: 2, conditions: [] }, 'one use left again, usedAt gone');
  });

  it('gives up after a bounded number of conflicts, denying', async () => {
    const server = fakeServer();
    server.bump();
    server.writer.readRequest = async () => {
      server.reads++;
      server.bump(); // changes every time it is read
      return structuredClone({ ...server.object, metadata: { ...server.object.metadata, resourceVersion: '0' } });
    };
    const effects = statusEffects({ writer: server.writer, logger: silentLogger, attempts: 3 });
    await assert.rejects(effects.run(consume), /kept changing under 3 attempts/);
    assert.equal(server.puts.length, 3);
  });

  for (const client of ['client-node', 'fetch'] as const) {
    it(`reads 404 from ${client} as a lost race, anything but 409 as a failure`, async () => {
      let status = 404;
      const effects = statusEffects({
        writer: {
          replaceRequestStatus: async () => {
            throw apiError(status, client);
          },
          readRequest: async () => undefined,
        },
        logger: silentLogger,
      });
      await assert.rejects(effects.run(consume), EffectConflict);
      status = 409;
      await assert.rejects(effects.run(consume), /deleted/, 'a 409 and then no object: lost');
      status = 500;
      await assert.rejects(effects.run(consume), (error) => !(error instanceof EffectConflict));
    });
  }
});

const due = (name: string, kind: CleanupEvent['kind'] = 'AccessRequest') =>
  ({
    kind,
    namespace: 'team-a',
    name,
    uid: `uid-${name}`,
    reason: 'expired',
    message: 'expired',
  }) as unknown as CleanupEvent;

describe('applyDeletions', () => {
  it('deletes each with its uid; gone or replaced is no failure, other errors are counted and the pass goes on', async () => {
    const calls: string[] = [];
    const answers: Record<string, number | undefined> = { gone: 404, replaced: 409, broken: 500 };
    const deleter: ObjectDeleter = {
      async deleteObject(kind, namespace, name, uid) {
        calls.push(`${kind} ${namespace}/${name} ${uid}`);
        if (answers[name]) throw apiError(answers[name]!, 'client-node');
      },
    };
    const result = await applyDeletions(
      deleter,
      [due('a'), due('gone'), due('replaced'), due('broken'), due('g', 'AccessGrant')],
      silentLogger,
    );
    assert.deepEqual(
      result.deleted.map((event) => event.name),
      ['a', 'g'],
    );
    assert.equal(result.failed, 1);
    assert.equal(calls.length, 5);
    assert.equal(calls[4], 'AccessGrant team-a/g uid-g');
  });
});

describe('applyRoleBindingPlan', () => {
  const binding = (name: string) =>
    ({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name, namespace: 'team-a', labels: {}, annotations: {}, ownerReferences: [{ name: 'r1' }] },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'exec' },
      subjects: [{ kind: 'User', name: 'alice', apiGroup: 'rbac.authorization.k8s.io' }],
    }) as unknown as RoleBindingPlan['create'][number];

  it('deletes first, then creates, then restores; races with another replica are no failures', async () => {
    const calls: string[] = [];
    const failing = new Map<string, number>([
      ['create dup', 409],
      ['update gone', 404],
      ['delete gone', 404],
      ['create bad', 403],
    ]);
    const step = async (what: string) => {
      calls.push(what);
      const status = failing.get(what);
      if (status) throw apiError(status, 'fetch');
    };
    const writer: RoleBindingWriter = {
      createRoleBinding: (b) => step(`create ${b.metadata.name}`),
      replaceRoleBinding: (b) => step(`update ${b.metadata.name}`),
      deleteRoleBinding: (_ns, name) => step(`delete ${name}`),
    };
    const removed: string[] = [];
    const failures = await applyRoleBindingPlan(
      writer,
      {
        delete: [
          { namespace: 'team-a', name: 'old' },
          { namespace: 'team-a', name: 'gone' },
        ],
        create: [binding('new'), binding('dup'), binding('bad')],
        update: [binding('edited'), binding('gone')],
      },
      silentLogger,
      (_ns, name) => removed.push(name),
    );
    assert.deepEqual(calls, [
      'delete old',
      'delete gone',
      'create new',
      'create dup',
      'create bad',
      'update edited',
      'update gone',
    ]);
    assert.equal(failures, 1);
    assert.deepEqual(removed, ['old']);
  });
});

describe('fetchWrites (the edge client implementing the write interfaces)', () => {
  it('puts the status subresource, deletes with a uid precondition, writes RoleBindings in their namespace', async () => {
    const calls: { method: string; path: string; body: unknown }[] = [];
    const client: KubernetesClient = {
      get: async () => ({}),
      post: async (path, body) => void calls.push({ method: 'POST', path, body }),
      put: async (path, body) => (calls.push({ method: 'PUT', path, body }), {}),
      delete: async (path, body) => void calls.push({ method: 'DELETE', path, body }),
    };
    const writes = fetchWrites(client);
    await writes.replaceRequestStatus('team-a', 'r1', {
      apiVersion: 'kube-request-access.io/v1',
      kind: 'AccessRequest',
      metadata: { name: 'r1', namespace: 'team-a', uid: 'u', resourceVersion: '1' },
      status: {},
    });
    await writes.deleteObject('AccessGrant', 'team-a', 'g1', 'uid-g1');
    await writes.deleteRoleBinding('team-a', 'rb');
    assert.deepEqual(
      calls.map((call) => `${call.method} ${call.path}`),
      [
        'PUT /apis/kube-request-access.io/v1/namespaces/team-a/accessrequests/r1/status',
        'DELETE /apis/kube-request-access.io/v1/namespaces/team-a/accessgrants/g1',
        'DELETE /apis/rbac.authorization.k8s.io/v1/namespaces/team-a/rolebindings/rb',
      ],
    );
    assert.deepEqual((calls[1]!.body as { preconditions: unknown }).preconditions, { uid: 'uid-g1' });
  });
});

describe('the edge client for grant scope', () => {
  const client = (answers: Record<string, unknown>): KubernetesClient & { paths: string[] } => {
    const paths: string[] = [];
    return {
      paths,
      get: async (path) => {
        paths.push(path);
        if (!(path in answers)) throw new KubernetesApiError(404, 'NotFound', 'not found');
        const answer = answers[path];
        if (answer instanceof Error) throw answer;
        return answer;
      },
      post: async () => ({}),
      put: async () => ({}),
      delete: async () => ({}),
    };
  };

  it("reads a pod's uid with one GET, undefined for no pod, and rejects on any other error", async () => {
    const pods = client({
      '/api/v1/namespaces/team-a/pods/web-0': { metadata: { uid: 'pod-uid-1' } },
      '/api/v1/namespaces/team-a/pods/down': new KubernetesApiError(500, '', 'HTTP 500'),
    });
    const lookup = fetchLookup({ client: pods, logger: silentLogger });
    assert.equal(await lookup.podUID('team-a', 'web-0'), 'pod-uid-1');
    assert.equal(await lookup.podUID('team-a', 'gone'), undefined);
    await assert.rejects(lookup.podUID('team-a', 'down'), /HTTP 500/);
    assert.deepEqual(pods.paths, [
      '/api/v1/namespaces/team-a/pods/web-0',
      '/api/v1/namespaces/team-a/pods/gone',
      '/api/v1/namespaces/team-a/pods/down',
    ]);
  });

  it('re-reads an AccessRequest live for a retried status write, undefined when it is gone', async () => {
    const object = { metadata: { name: 'r1', uid: 'u' } };
    const writes = fetchWrites(
      client({ '/apis/kube-request-access.io/v1/namespaces/team-a/accessrequests/r1': object }),
    );
    assert.deepEqual(await writes.readRequest('team-a', 'r1'), object);
    assert.equal(await writes.readRequest('team-a', 'r2'), undefined);
  });
});
