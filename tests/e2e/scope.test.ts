// Grant scope end to end, against the real kube-apiserver with two webhook replicas behind one
// address: maxUses counted exactly once per use across replicas, an approver narrowing a grant
// (a shorter window, fewer uses) with `kubectl request grant`, a request pinned to one pod object
// refusing the pod re-created under its name, and the kube-apiserver's own audit log naming the
// AccessRequest and AccessGrant that allowed an exec. Pods have no node here: an allowed exec
// ends at the apiserver ("does not have a host assigned"), after admission.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startControlPlane, WEBHOOK_NAMES, type ControlPlane } from '../controlplane/cluster.ts';
import {
  accessGrant,
  accessRequest,
  create,
  execProbe,
  getJson,
  kubectlExec,
  kubectlRequest,
  mustCreate,
  pod,
  reviews,
  roundRobin,
  startServe,
  waitFor,
  type ServeProcess,
} from './_kra.ts';

let cp: ControlPlane;
let dir: string;
let auditDir: string;
let auditLog: string;
let replicas: ServeProcess[] = [];
let balancer: Awaited<ReturnType<typeof roundRobin>> | undefined;

const AUDIT_POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
    resources:
      - group: ""
        resources: ["pods/exec"]
  - level: None
`;

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kra-scope-'));
  auditDir = await mkdtemp(path.join(tmpdir(), 'kra-scope-audit-'));
  auditLog = path.join(auditDir, 'audit.log');
  await writeFile(path.join(auditDir, 'policy.yaml'), AUDIT_POLICY);
  cp = await startControlPlane({
    dir,
    developersCanExec: true,
    kwok: false,
    apiserverArgs: [`--audit-policy-file=${path.join(auditDir, 'policy.yaml')}`, `--audit-log-path=${auditLog}`],
    log: (line) => console.error(`# ${line}`),
  });
  await cp.apply(['counted', 'narrowed', 'window', 'pinned', 'plain', 'traced'].map((name) => pod(name, 'team-a')));
  // HTTP/1.1, so that the apiserver opens several connections and the balancer spreads them.
  const args = ['--always-allowed-group-name', 'system:masters', '--cleanup-interval', '1m', '--no-http2'];
  replicas = await Promise.all([startServe(cp, 'replica-1', args), startServe(cp, 'replica-2', args)]);
  balancer = await roundRobin(
    cp.webhookPort,
    replicas.map((r) => r.port),
  );
});

after(async () => {
  await balancer?.close();
  await Promise.all(replicas.map((r) => r.stop()));
  await cp?.stop();
  for (const d of [dir, auditDir]) if (d) await rm(d, { recursive: true, force: true });
});

const exec = (name: string) => ({ namespace: 'team-a', pod: name, container: 'app', command: ['ls'] });

async function request(name: string, spec: Record<string, unknown>): Promise<void> {
  const body = accessRequest({ name, namespace: 'team-a', user: 'alice', pod: name });
  await mustCreate(cp, 'alice', { ...body, spec: { ...body.spec, ...spec } });
}

async function status(name: string): Promise<{ uses?: number; usedAt?: string }> {
  return (
    (await getJson<{ status?: { uses?: number; usedAt?: string } }>(cp, ['accessrequest', '-n', 'team-a', name]))
      .status ?? {}
  );
}

describe('maxUses across two webhook replicas', () => {
  it('allows maxUses: 3 exactly three times, of six concurrent execs, and counts them in status.uses', async () => {
    await request('counted', { maxUses: 3 });
    await mustCreate(
      cp,
      'carol',
      accessGrant({ name: 'counted', namespace: 'team-a', grantFor: 'counted', by: 'carol' }),
    );
    await sleep(300); // both replicas' caches see the grant
    const before = replicas.map((r) => reviews(r.log).filter((line) => line.operation === 'CONNECT').length);
    const results = await Promise.all(Array.from({ length: 6 }, () => execProbe(cp, 'alice', exec('counted'))));
    const allowed = results.filter((r) => r.outcome === 'allowed').length;
    assert.equal(allowed, 3, results.map((r) => `${r.status} ${r.body.slice(0, 200)}`).join('\n'));
    assert.ok(
      results.every((r) => r.outcome === 'allowed' || r.outcome === 'denied'),
      'the others are denied by the webhook',
    );
    const after = replicas.map((r) => reviews(r.log).filter((line) => line.operation === 'CONNECT').length);
    const perReplica = after.map((n, i) => n - before[i]!);
    console.error(`# CONNECT reviews per replica: ${perReplica.join(', ')}`);
    assert.ok(
      perReplica.every((n) => n > 0),
      `both replicas reviewed: ${perReplica.join(', ')}`,
    );
    const counted = await status('counted');
    assert.equal(counted.uses, 3);
    assert.ok(counted.usedAt, 'usedAt marks the last use');
    const fourth = await kubectlExec(cp, 'alice', { ...exec('counted'), spdy: true });
    assert.equal(fourth.outcome, 'denied', fourth.stderr);
    assert.match(fourth.stderr, /AccessRequest counted is used up: all 3 uses it allows went through/);
  });
});

describe('an approver narrows a grant', () => {
  it('kubectl request grant --max-uses 2 on a one-hour request: two execs, then used up', async () => {
    await request('narrowed', { validFor: '1h' });
    const granted = await kubectlRequest(cp, 'carol', [
      'grant',
      'narrowed',
      '-n',
      'team-a',
      '--yes',
      '--max-uses',
      '2',
    ]);
    assert.equal(granted.code, 0, granted.stderr);
    assert.match(granted.stdout, /narrowed: {4}2 uses instead of any number/);
    await sleep(300);
    const outcomes = [];
    for (let i = 0; i < 3; i++) outcomes.push((await execProbe(cp, 'alice', exec('narrowed'))).outcome);
    assert.deepEqual(outcomes, ['allowed', 'allowed', 'denied']);
    assert.equal((await status('narrowed')).uses, 2);
  });

  it('kubectl request grant --valid-for 3s: allowed at once, denied as expired after it', async () => {
    await request('window', { validFor: '1h' });
    const granted = await kubectlRequest(cp, 'carol', [
      'grant',
      'window',
      '-n',
      'team-a',
      '--yes',
      '--valid-for',
      '3s',
    ]);
    assert.equal(granted.code, 0, granted.stderr);
    await waitFor(
      'the grant in both caches',
      async () => (await execProbe(cp, 'alice', exec('window'))).outcome === 'allowed',
    );
    await sleep(3_500);
    const late = await kubectlExec(cp, 'alice', { ...exec('window'), spdy: true });
    assert.equal(late.outcome, 'denied', late.stderr);
    assert.match(late.stderr, /AccessRequest window expired at/);
  });

  it('the webhook refuses a grant wider than the request, saying what is allowed', async () => {
    await request('wider', { validFor: '1h', maxUses: 2 });
    const grant = accessGrant({ name: 'wider', namespace: 'team-a', grantFor: 'wider', by: 'carol' });
    const wide = await create(cp, 'carol', { ...grant, spec: { ...grant.spec, validFor: '2h' } });
    assert.notEqual(wide.code, 0);
    assert.match(wide.stderr, /spec.validFor "2h" is longer than AccessRequest wider asks for \(1h\).*give at most 1h/);
    const more = await create(cp, 'carol', { ...grant, spec: { ...grant.spec, maxUses: 3 } });
    assert.notEqual(more.code, 0);
    assert.match(more.stderr, /spec.maxUses 3 is more than AccessRequest wider asks for \(2\)/);
  });
});

describe('a request pinned to one pod object', () => {
  it('kubectl request exec --pin covers the pod, and not the pod re-created under its name', async () => {
    const asked = await kubectlRequest(cp, 'alice', [
      'exec',
      'pinned',
      '-n',
      'team-a',
      '-c',
      'app',
      '--valid-for',
      '10m',
      '--pin',
      '--',
      'ls',
    ]);
    assert.equal(asked.code, 0, asked.stderr);
    const name = /accessrequest\/(\S+) created/.exec(asked.stdout)?.[1];
    assert.ok(name, asked.stdout);
    const podUid = (await getJson<{ metadata: { uid: string } }>(cp, ['pod', '-n', 'team-a', 'pinned'])).metadata.uid;
    const spec = (await getJson<{ spec: { forObject: { uid?: string } } }>(cp, ['accessrequest', '-n', 'team-a', name]))
      .spec;
    assert.equal(spec.forObject.uid, podUid);
    const granted = await kubectlRequest(cp, 'carol', ['grant', name, '-n', 'team-a', '--yes']);
    assert.equal(granted.code, 0, granted.stderr);
    await waitFor(
      'the grant in both caches',
      async () => (await execProbe(cp, 'alice', exec('pinned'))).outcome === 'allowed',
    );

    // What the live pod read costs (docs/limits.md): review times of pinned and unpinned execs.
    await request('plain', { validFor: '10m' });
    await mustCreate(cp, 'carol', accessGrant({ name: 'plain', namespace: 'team-a', grantFor: 'plain', by: 'carol' }));
    await waitFor(
      'the grant in both caches',
      async () => (await execProbe(cp, 'alice', exec('plain'))).outcome === 'allowed',
    );
    const reviewMs = (target: string) =>
      replicas
        .flatMap((r) => reviewTimes(r.log))
        .filter((line) => line.operation === 'CONNECT' && line.name === target && line.allowed)
        .map((line) => line.ms);
    for (let i = 0; i < 20; i++) {
      assert.equal((await execProbe(cp, 'alice', exec('pinned'))).outcome, 'allowed');
      assert.equal((await execProbe(cp, 'alice', exec('plain'))).outcome, 'allowed');
    }
    console.error(
      `# review ms, pinned (median): ${median(reviewMs('pinned'))}; not pinned: ${median(reviewMs('plain'))}`,
    );

    const deleted = await cp.kubectl('admin', [
      'delete',
      'pod',
      '-n',
      'team-a',
      'pinned',
      '--grace-period=0',
      '--force',
    ]);
    assert.equal(deleted.code, 0, deleted.stderr);
    await cp.apply([pod('pinned', 'team-a')]);
    const recreated = await kubectlExec(cp, 'alice', { ...exec('pinned'), spdy: true });
    assert.equal(recreated.outcome, 'denied', recreated.stderr);
    assert.match(
      recreated.stderr,
      /it is pinned to pod team-a\/pinned with uid .* now is another object .* it was re-created/,
    );

    // A new request pinned to the old pod object is refused when it is created, not at exec time.
    const stale = accessRequest({ name: 'pinned-stale', namespace: 'team-a', user: 'alice', pod: 'pinned' });
    const refused = await create(cp, 'alice', {
      ...stale,
      spec: { ...stale.spec, forObject: { ...stale.spec.forObject, uid: podUid } },
    });
    assert.notEqual(refused.code, 0, 'a request pinned to a pod object that is gone is refused');
    assert.match(
      refused.stderr,
      new RegExp(`spec\\.forObject\\.uid: the request is pinned to uid ${podUid}, but pod team-a/pinned now has uid`),
    );
  });

  it('kubectl request exec --pin for a pod that does not exist creates nothing, and says so', async () => {
    const before = (await getJson(cp, ['accessrequests', '-n', 'team-a'])).items.length;
    const asked = await kubectlRequest(cp, 'alice', ['exec', 'no-such-pod', '-n', 'team-a', '--pin', '--', 'ls']);
    assert.notEqual(asked.code, 0);
    assert.match(asked.stderr, /no-such-pod/);
    assert.equal((await getJson(cp, ['accessrequests', '-n', 'team-a'])).items.length, before);
  });
});

function reviewTimes(log: string): { operation: string; name: string; allowed: boolean; ms: number }[] {
  return reviews(log);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

interface AuditEvent {
  stage: string;
  verb: string;
  user: { username: string };
  objectRef?: { resource?: string; subresource?: string; name?: string; namespace?: string };
  annotations?: Record<string, string>;
}

describe("the kube-apiserver's audit log", () => {
  it('names the AccessRequest (namespace/name, uid) and the AccessGrant that allowed an exec', async () => {
    await request('traced', { validFor: '10m' });
    await mustCreate(
      cp,
      'carol',
      accessGrant({ name: 'traced-by-carol', namespace: 'team-a', grantFor: 'traced', by: 'carol' }),
    );
    const uid = (await getJson<{ metadata: { uid: string } }>(cp, ['accessrequest', '-n', 'team-a', 'traced'])).metadata
      .uid;
    await waitFor('an allowed exec', async () => (await execProbe(cp, 'alice', exec('traced'))).outcome === 'allowed');
    const hook = WEBHOOK_NAMES.exec;
    const event = await waitFor('the audit event of the exec', async () => {
      const text = await readFile(auditLog, 'utf8').catch(() => '');
      return text
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as AuditEvent)
        .find(
          (e) =>
            e.objectRef?.subresource === 'exec' &&
            e.objectRef.name === 'traced' &&
            e.stage === 'ResponseComplete' &&
            e.annotations?.[`${hook}/access-request`],
        );
    });
    assert.equal(event.user.username, 'alice');
    assert.equal(event.annotations![`${hook}/access-request`], 'team-a/traced');
    assert.equal(event.annotations![`${hook}/access-request-uid`], uid);
    assert.equal(event.annotations![`${hook}/access-grants`], 'team-a/traced-by-carol');
  });
});
