// The status of AccessRequests against a real kube-apiserver and the real `serve` (issue 17):
// `kubectl get acr` shows STATE going Pending → Granted → Used for a one-shot request, Expired for
// a short window and Denied for a denial; `kubectl wait --for=condition=Granted` returns once an
// approver granted; with --retention, `kubectl request list --all` still shows a used request.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startControlPlane, type ControlPlane } from '../controlplane/cluster.ts';
import {
  accessGrant,
  accessRequest,
  getJson,
  getTable,
  kubectlExec,
  kubectlRequest,
  mustCreate,
  pod,
  waitForState,
} from './_kra.ts';

let cp: ControlPlane;
let dir: string;
const NS = 'team-a';

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
}
const conditionsOf = async (name: string) =>
  (await getJson<{ status: { conditions: Condition[] } }>(cp, ['acr', '-n', NS, name])).status.conditions;

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kra-status-'));
  cp = await startControlPlane({
    dir,
    log: (line) => console.error(`# ${line}`),
    webhook: ['--cleanup-interval', '1s', '--retention', '1h'],
    developersCanExec: true,
  });
  await cp.apply([pod('web', NS)]);
});

after(async () => {
  await cp?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('kubectl get acr', () => {
  it('prints USER, POD, CONTAINER, COMMAND as text, WINDOW, STATE and AGE; and REQUEST, BY, STATUS for grants', async () => {
    await mustCreate(
      cp,
      'alice',
      accessRequest({ name: 'columns', namespace: NS, user: 'alice', pod: 'web', command: ['cat', '/etc/hostname'] }),
    );
    const row = await waitForState(cp, NS, 'columns', 'Pending');
    assert.deepEqual(Object.keys(row), ['NAME', 'USER', 'POD', 'CONTAINER', 'COMMAND', 'WINDOW', 'STATE', 'AGE']);
    assert.equal(row.USER, 'alice');
    assert.equal(row.POD, 'web');
    assert.equal(row.CONTAINER, 'app');
    assert.equal(row.COMMAND, 'cat /etc/hostname');
    assert.equal(row.WINDOW, '');
    await mustCreate(cp, 'carol', accessGrant({ name: 'columns', namespace: NS, grantFor: 'columns', by: 'carol' }));
    const [grant] = await getTable(cp, ['acg', '-n', NS, 'columns']);
    assert.deepEqual(Object.keys(grant!), ['NAME', 'REQUEST', 'BY', 'STATUS', 'AGE']);
    assert.equal(grant!.REQUEST, 'columns');
    assert.equal(grant!.BY, 'carol');
    assert.equal(grant!.STATUS, 'granted');
  });

  it('shows a one-shot request Pending, then Granted (kubectl wait returns), then Used after its exec', async () => {
    await mustCreate(cp, 'alice', accessRequest({ name: 'once', namespace: NS, user: 'alice', pod: 'web' }));
    await waitForState(cp, NS, 'once', 'Pending');
    const granted = (await conditionsOf('once')).find((c) => c.type === 'Granted');
    assert.equal(granted?.status, 'False');
    assert.equal(granted?.reason, 'AwaitingApproval');

    // kubectl wait, started before the grant, returns once the server wrote the condition.
    const waiting = cp.kubectl('admin', [
      'wait',
      '-n',
      NS,
      '--for=condition=Granted',
      'accessrequest/once',
      '--timeout=20s',
    ]);
    await mustCreate(cp, 'carol', accessGrant({ name: 'once', namespace: NS, grantFor: 'once', by: 'carol' }));
    const waited = await waiting;
    assert.equal(waited.code, 0, waited.stderr);
    assert.match(waited.stdout, /condition met/);
    await waitForState(cp, NS, 'once', 'Granted');
    const approved = (await conditionsOf('once')).find((c) => c.type === 'Granted');
    assert.deepEqual([approved?.status, approved?.reason, approved?.message], ['True', 'Approved', 'granted by carol']);

    const exec = await kubectlExec(cp, 'alice', { namespace: NS, pod: 'web', container: 'app', spdy: true });
    assert.equal(exec.outcome, 'allowed', exec.stderr);
    await waitForState(cp, NS, 'once', 'Used');
    const used = (await conditionsOf('once')).find((c) => c.type === 'Used');
    assert.equal(used?.status, 'True');
    assert.match(used?.message ?? '', /^used at /);

    // Kept for --retention: list --all shows it with its state; the plain list (pending) does not.
    const all = await kubectlRequest(cp, 'alice', ['list', '--all', '-n', NS]);
    assert.equal(all.code, 0, all.stderr);
    assert.match(all.stdout, /^once\s+alice\s+web\s+ls\s+once\s+Used\s/m);
    const pending = await kubectlRequest(cp, 'alice', ['list', '-n', NS]);
    assert.doesNotMatch(pending.stdout, /^once\s/m);
  });

  it('shows a short window Granted with its end, then Expired, and keeps the request', async () => {
    await mustCreate(
      cp,
      'alice',
      accessRequest({ name: 'short', namespace: NS, user: 'alice', pod: 'web', validFor: '3s' }),
    );
    await mustCreate(cp, 'carol', accessGrant({ name: 'short', namespace: NS, grantFor: 'short', by: 'carol' }));
    const row = await waitForState(cp, NS, 'short', 'Granted');
    assert.equal(row.WINDOW, '3s');
    const status = (await getJson<{ status: { expiresAt?: string } }>(cp, ['acr', '-n', NS, 'short'])).status;
    assert.ok(status.expiresAt && Date.parse(status.expiresAt) > Date.now() - 5_000, JSON.stringify(status));
    // No event comes at the end of a window: the writer wakes at expiresAt by itself.
    await waitForState(cp, NS, 'short', 'Expired', 15_000);
    const expired = (await conditionsOf('short')).find((c) => c.type === 'Expired');
    assert.deepEqual([expired?.status, expired?.reason], ['True', 'WindowEnded']);
    // Cleanup runs every second, and the request stays for --retention.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    assert.equal((await getTable(cp, ['acr', '-n', NS, 'short']))[0]?.STATE, 'Expired');
  });

  it('shows a denied request Denied, with who denied it', async () => {
    await mustCreate(cp, 'alice', accessRequest({ name: 'no', namespace: NS, user: 'alice', pod: 'web' }));
    await mustCreate(
      cp,
      'carol',
      accessGrant({ name: 'no', namespace: NS, grantFor: 'no', by: 'carol', status: 'denied' }),
    );
    await waitForState(cp, NS, 'no', 'Denied');
    const denied = (await conditionsOf('no')).find((c) => c.type === 'Denied');
    assert.deepEqual([denied?.status, denied?.reason, denied?.message], ['True', 'Denied', 'denied by carol']);
    const all = await kubectlRequest(cp, 'alice', ['list', '--all', '-n', NS]);
    assert.match(all.stdout, /^no\s+alice\s+web\s+ls\s+once\s+Denied\s/m);
  });
});
