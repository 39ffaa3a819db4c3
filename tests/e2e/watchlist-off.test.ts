// The reflector against a real kube-apiserver with the WatchList feature gate off: the stream of
// the initial state is refused (422), and every cache falls back to the paged list, synced and
// following as before.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startKubernetesBackend, type KubernetesBackend } from '../../adapters/kubernetes/index.ts';
import { startControlPlane, type ControlPlane } from '../controlplane/cluster.ts';
import { accessRequest, mustCreate, recordingLogger, waitFor } from './_kra.ts';

let cp: ControlPlane;
let dir: string;
let backend: KubernetesBackend;
const recording = recordingLogger();
const { logged } = recording;

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kra-watchlist-off-'));
  cp = await startControlPlane({
    dir,
    webhookConfiguration: false,
    kwok: false,
    apiserverArgs: ['--feature-gates=WatchList=false'],
    log: (line) => console.error(`# ${line}`),
  });
  await mustCreate(cp, 'admin', accessRequest({ name: 'listed', namespace: 'team-a', user: 'alice', pod: 'web' }));
  backend = await startKubernetesBackend({
    kubeconfig: cp.kubeconfig,
    context: 'admin',
    usernamePrefix: '',
    cleanupIntervalMs: 3_600_000,
    deleteAfterMs: 24 * 3_600_000,
    logger: recording.logger,
  });
});

after(async () => {
  await backend?.stop();
  await cp?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('Kubernetes backend against an apiserver with WatchList off', () => {
  it('is refused the stream with 422, lists in pages instead, and follows with its watch', async () => {
    await backend.synced();
    const synced = logged.filter((l) => l.msg === 'cache synced');
    assert.ok(synced.length >= 3, JSON.stringify(synced));
    assert.deepEqual(
      synced.filter((l) => l.fields?.by !== 'list'),
      [],
      'every cache synced by the list',
    );
    const fallbacks = logged.filter((l) => /does not stream/.test(l.msg));
    assert.equal(fallbacks.length, synced.length, 'each cache fell back once');
    for (const f of fallbacks) assert.match(String(f.fields?.reason), /refused with HTTP 422/);

    assert.equal((await backend.lookup.accessRequest('team-a', 'listed'))?.spec.userInfo.username, 'alice');
    await mustCreate(cp, 'admin', accessRequest({ name: 'watched', namespace: 'team-b', user: 'bob', pod: 'web' }));
    await waitFor('the watched request', async () => Boolean(await backend.lookup.accessRequest('team-b', 'watched')));
    assert.equal(backend.isReady(), true);
  });
});
