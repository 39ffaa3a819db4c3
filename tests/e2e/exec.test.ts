// The security scenarios end to end, as users meet them: real kubectl against a real
// kube-apiserver whose ValidatingWebhookConfiguration calls our `serve` command. Developers hold
// standing exec rights here (the second deployment mode, no --granted-role-name), so every
// refusal comes from the webhook and carries our message. Two webhook server processes sit
// behind one address (a round-robin, as a Service with two endpoints), so the one-shot race is
// run across replicas.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startControlPlane, type ControlPlane } from '../controlplane/cluster.ts';
import {
  accessGrant,
  accessRequest,
  create,
  execProbe,
  exists,
  isUsed,
  kubectlExec,
  mustCreate,
  pod,
  reviews,
  roleBindings,
  roundRobin,
  startServe,
  type ServeProcess,
} from './_kra.ts';

let cp: ControlPlane;
let dir: string;
let replicas: ServeProcess[] = [];
let balancer: Awaited<ReturnType<typeof roundRobin>> | undefined;

// carol approves and may also ask for access (an approver who is a developer too): needed to
// show that nobody grants their own request.
const carolAlsoDeveloper = {
  apiVersion: 'rbac.authorization.k8s.io/v1',
  kind: 'ClusterRoleBinding',
  metadata: { name: 'e2e:carol-developer' },
  roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'kube-request-access:developer' },
  subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'carol' }],
};

async function startReplicas(): Promise<void> {
  // HTTP/1.1 only: the apiserver then opens several connections and the round-robin balancer
  // below spreads them over both replicas (over HTTP/2 one connection would carry every review).
  const args = ['--always-allowed-group-name', 'system:masters', '--cleanup-interval', '1m', '--no-http2'];
  replicas = await Promise.all([startServe(cp, 'replica-1', args), startServe(cp, 'replica-2', args)]);
  balancer = await roundRobin(
    cp.webhookPort,
    replicas.map((r) => r.port),
  );
}

async function stopReplicas(): Promise<void> {
  await balancer?.close();
  balancer = undefined;
  await Promise.all(replicas.map((r) => r.stop()));
  replicas = [];
}

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kra-exec-'));
  cp = await startControlPlane({ dir, developersCanExec: true, log: (line) => console.error(`# ${line}`) });
  await cp.apply([carolAlsoDeveloper, pod('web', 'team-a'), pod('db', 'team-a'), pod('web', 'team-b')]);
  await startReplicas();
});

after(async () => {
  await stopReplicas();
  await cp?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const execA = { namespace: 'team-a', pod: 'web', container: 'app', command: ['ls'] };

describe('exec is allowed only with a granted AccessRequest', () => {
  it('denies an exec without any AccessRequest, saying how to request one', async () => {
    const result = await kubectlExec(cp, 'alice', { ...execA, spdy: true });
    assert.equal(result.outcome, 'denied', result.stderr);
    assert.match(result.stderr, /kubectl request exec/);
  });

  it('denies an exec whose AccessRequest has no grant yet', async () => {
    await mustCreate(cp, 'alice', accessRequest({ name: 'pending', namespace: 'team-a', user: 'alice', pod: 'web' }));
    const result = await kubectlExec(cp, 'alice', { ...execA, spdy: true });
    assert.equal(result.outcome, 'denied', result.stderr);
  });

  it('refuses a grant by the requester', async () => {
    await mustCreate(cp, 'carol', accessRequest({ name: 'carols', namespace: 'team-a', user: 'carol', pod: 'web' }));
    const result = await create(
      cp,
      'carol',
      accessGrant({ name: 'carols', namespace: 'team-a', grantFor: 'carols', by: 'carol' }),
    );
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /admission webhook "objects\.kube-request-access\.io" denied the request/);
    assert.equal(await exists(cp, 'accessgrant', 'team-a', 'carols'), false);
  });

  it('refuses a grant that names someone else in grantedBy', async () => {
    const result = await create(
      cp,
      'carol',
      accessGrant({ name: 'spoofed', namespace: 'team-a', grantFor: 'pending', by: 'dave' }),
    );
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /denied the request/);
    assert.equal(await exists(cp, 'accessgrant', 'team-a', 'spoofed'), false);
  });

  it('refuses an AccessRequest for someone else', async () => {
    const result = await create(
      cp,
      'alice',
      accessRequest({ name: 'for-bob', namespace: 'team-a', user: 'bob', pod: 'web' }),
    );
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /denied the request/);
    assert.equal(await exists(cp, 'accessrequest', 'team-a', 'for-bob'), false);
  });

  it('allows exactly one exec for a one-shot grant by carol; the next is denied', async () => {
    await mustCreate(
      cp,
      'carol',
      accessGrant({ name: 'pending', namespace: 'team-a', grantFor: 'pending', by: 'carol' }),
    );
    const first = await kubectlExec(cp, 'alice', { ...execA, spdy: true });
    assert.equal(first.outcome, 'allowed', first.stderr);
    const second = await kubectlExec(cp, 'alice', { ...execA, spdy: true });
    assert.equal(second.outcome, 'denied', second.stderr);
    assert.equal(await isUsed(cp, 'team-a', 'pending'), true);
  });

  it('allows repeated execs within a time-bound window, and denies them after it', async () => {
    await mustCreate(
      cp,
      'bob',
      accessRequest({ name: 'window', namespace: 'team-b', user: 'bob', pod: 'web', validFor: '5s' }),
    );
    await mustCreate(
      cp,
      'carol',
      accessGrant({ name: 'window', namespace: 'team-b', grantFor: 'window', by: 'carol' }),
    );
    const started = Date.now();
    for (let i = 0; i < 3; i++) {
      // Default kubectl (WebSocket, then SPDY): a time-bound grant survives the double call.
      const result = await kubectlExec(cp, 'bob', { namespace: 'team-b', pod: 'web', container: 'app' });
      assert.equal(result.outcome, 'allowed', result.stderr);
    }
    assert.ok(Date.now() - started < 5_000, 'the execs took longer than the window');
    await sleep(Math.max(0, 5_200 - (Date.now() - started)));
    const late = await kubectlExec(cp, 'bob', { namespace: 'team-b', pod: 'web', container: 'app', spdy: true });
    assert.equal(late.outcome, 'denied', late.stderr);
  });
});

describe('a granted request covers only what it names', () => {
  before(async () => {
    await mustCreate(
      cp,
      'alice',
      accessRequest({
        name: 'narrow',
        namespace: 'team-a',
        user: 'alice',
        pod: 'web',
        container: 'app',
        command: ['ls'],
        validFor: '10m',
      }),
    );
    await mustCreate(
      cp,
      'carol',
      accessGrant({ name: 'narrow', namespace: 'team-a', grantFor: 'narrow', by: 'carol' }),
    );
  });

  it('allows the named exec', async () => {
    assert.equal((await execProbe(cp, 'alice', execA)).outcome, 'allowed');
  });

  for (const [what, change] of [
    ['another command', { command: ['cat', '/etc/shadow'] }],
    ['another container', { container: 'sidecar' }],
    ['another pod', { pod: 'db' }],
    ['another namespace', { namespace: 'team-b' }],
    ['stdin', { stdin: true }],
    ['a tty', { tty: true }],
  ] as [string, Partial<Parameters<typeof execProbe>[2]>][]) {
    it(`denies ${what}`, async () => {
      const result = await execProbe(cp, 'alice', { ...execA, ...change });
      assert.equal(result.outcome, 'denied', `${result.status} ${result.body}`);
      assert.equal(result.status, 403);
    });
  }

  it('denies kubectl exec -i (stdin) and another user on the same pod', async () => {
    const stdin = await kubectlExec(cp, 'alice', { ...execA, flags: ['-i'], spdy: true });
    assert.equal(stdin.outcome, 'denied', stdin.stderr);
    const bob = await kubectlExec(cp, 'bob', { ...execA, spdy: true });
    assert.equal(bob.outcome, 'denied', bob.stderr);
  });
});

describe('one-shot requests across two webhook replicas', () => {
  it('allows exactly one of two concurrent execs, every time', async () => {
    const rounds = 4;
    for (let round = 0; round < rounds; round++) {
      const name = `race-${round}`;
      await mustCreate(cp, 'alice', accessRequest({ name, namespace: 'team-a', user: 'alice', pod: 'db' }));
      await mustCreate(cp, 'carol', accessGrant({ name, namespace: 'team-a', grantFor: name, by: 'carol' }));
      await sleep(300); // both replicas' caches see the grant
      const exec = { namespace: 'team-a', pod: 'db', container: 'app', command: ['ls'] };
      const results = await Promise.all([execProbe(cp, 'alice', exec), execProbe(cp, 'alice', exec)]);
      const outcomes = results.map((r) => r.outcome).sort();
      assert.deepEqual(
        outcomes,
        ['allowed', 'denied'],
        `round ${round}: ${results.map((r) => `${r.status} ${r.body}`).join(' | ')}`,
      );
      assert.equal(await isUsed(cp, 'team-a', name), true);
    }
    const perReplica = replicas.map((r) => reviews(r.log).filter((line) => line.operation === 'CONNECT').length);
    console.error(
      `# CONNECT reviews per replica: ${perReplica.join(', ')}; connections: ${balancer?.connections.join(', ')}`,
    );
    assert.ok(
      perReplica.every((n) => n > 0),
      `both replicas reviewed execs: ${perReplica.join(', ')}`,
    );
  });

  it('creates no RoleBindings without --granted-role-name', async () => {
    assert.deepEqual(await roleBindings(cp, 'team-a'), []);
    assert.deepEqual(await roleBindings(cp, 'team-b'), []);
  });
});

describe('fail closed', () => {
  it('denies every exec while the webhook is down, and allows again once it is back', async () => {
    await mustCreate(
      cp,
      'alice',
      accessRequest({ name: 'down', namespace: 'team-a', user: 'alice', pod: 'web', validFor: '10m' }),
    );
    await mustCreate(cp, 'carol', accessGrant({ name: 'down', namespace: 'team-a', grantFor: 'down', by: 'carol' }));
    assert.equal((await execProbe(cp, 'alice', execA)).outcome, 'allowed');
    await stopReplicas();
    const alice = await kubectlExec(cp, 'alice', { ...execA, spdy: true });
    assert.equal(alice.outcome, 'webhook-unreachable', alice.stderr);
    const created = await create(
      cp,
      'alice',
      accessRequest({ name: 'while-down', namespace: 'team-a', user: 'alice', pod: 'web' }),
    );
    assert.notEqual(created.code, 0, 'an AccessRequest was created while the webhook was down');
    await startReplicas();
    assert.equal((await execProbe(cp, 'alice', execA)).outcome, 'allowed');
  });
});
