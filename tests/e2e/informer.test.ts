// adapters/kubernetes against a real kube-apiserver, in process: readiness waits for the initial
// state (streamed: the v1.34 apiserver serves watch-list), lookups come from indexed caches, a cut
// connection loses no event (the watch resumes or reads the state again), and the one-shot
// consume is a delete with uid and resourceVersion preconditions.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startKubernetesBackend, type KubernetesBackend } from '../../adapters/kubernetes/index.ts';
import { EffectConflict } from '../../adapters/ports.ts';
import type { Effect } from '../../functions/types.ts';
import { freePort, startControlPlane, type ControlPlane } from '../controlplane/cluster.ts';
import { accessGrant, accessRequest, getJson, mustCreate, recordingLogger, waitFor } from './_kra.ts';

/** A TCP forwarder that can be cut: the backend's connections to the apiserver die at once. */
async function cuttableProxy(target: number) {
  const port = await freePort();
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server = createServer((client) => {
        const upstream = createConnection({ host: '127.0.0.1', port: target });
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on('error', () => {}).on('close', () => {
            sockets.delete(s);
            client.destroy();
            upstream.destroy();
          });
        }
        client.pipe(upstream).pipe(client);
      });
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
  const cut = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      if (server) server.close(() => resolve());
      else resolve();
      server = undefined;
    });
  await listen();
  return { port, cut, restore: listen };
}

let cp: ControlPlane;
let dir: string;
let backend: KubernetesBackend;
let proxy: Awaited<ReturnType<typeof cuttableProxy>>;
/** What the backend logged: how each cache synced. */
const recording = recordingLogger();
const { logged } = recording;

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kra-informer-'));
  cp = await startControlPlane({ dir, webhookConfiguration: false, log: (line) => console.error(`# ${line}`) });
  await mustCreate(
    cp,
    'admin',
    accessRequest({ name: 'before-start', namespace: 'team-a', user: 'alice', pod: 'web' }),
  );
  proxy = await cuttableProxy(Number(new URL(cp.server).port));
  const kubeconfig = path.join(dir, 'proxied-kubeconfig');
  await writeFile(
    kubeconfig,
    (await readFile(cp.kubeconfig, 'utf8')).replace(cp.server, `https://127.0.0.1:${proxy.port}`),
  );
  backend = await startKubernetesBackend({
    kubeconfig,
    context: 'admin',
    usernamePrefix: '',
    cleanupIntervalMs: 3_600_000,
    deleteAfterMs: 24 * 3_600_000,
    logger: recording.logger,
  });
});

after(async () => {
  await backend?.stop();
  await proxy?.cut();
  await cp?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('Kubernetes backend', () => {
  it('is ready only after the initial lists, and refuses lookups before', async () => {
    assert.equal(backend.isReady(), false);
    await assert.rejects(backend.lookup.accessRequest('team-a', 'before-start'), /not synced/);
    await backend.synced();
    assert.equal(backend.isReady(), true);
    assert.equal((await backend.lookup.accessRequest('team-a', 'before-start'))?.spec.userInfo.username, 'alice');
  });

  it('streams the initial state of every cache from the v1.34 apiserver (watch-list), listing none', async () => {
    await backend.synced();
    const synced = logged.filter((l) => l.msg === 'cache synced');
    assert.ok(synced.length >= 3, `requests, grants and policies synced: ${JSON.stringify(synced)}`);
    assert.deepEqual(
      synced.filter((l) => l.fields?.by !== 'stream'),
      [],
      'every cache synced by the stream',
    );
    // (A 429 while the CRDs' storage initialises is retried as a stream, and logged: not a fallback.)
    assert.deepEqual(
      logged.filter((l) => /does not stream/.test(l.msg)),
      [],
      'no fallback to the list',
    );
  });

  it('finds requests by namespace, pod and user, and grants by request', async () => {
    await mustCreate(cp, 'admin', accessRequest({ name: 'r-bob', namespace: 'team-a', user: 'bob', pod: 'web' }));
    await mustCreate(
      cp,
      'admin',
      accessRequest({ name: 'r-other-pod', namespace: 'team-a', user: 'alice', pod: 'db' }),
    );
    await mustCreate(
      cp,
      'admin',
      accessGrant({ name: 'g', namespace: 'team-a', grantFor: 'before-start', by: 'carol' }),
    );
    await waitFor(
      'the grant in the cache',
      async () => (await backend.lookup.grantsFor('team-a', 'before-start')).length === 1,
    );
    const alice = await backend.lookup.accessRequestsFor({ namespace: 'team-a', pod: 'web', usernames: ['alice'] });
    assert.deepEqual(
      alice.map((r) => r.metadata.name),
      ['before-start'],
    );
    const both = await backend.lookup.accessRequestsFor({
      namespace: 'team-a',
      pod: 'web',
      usernames: ['alice', 'bob'],
    });
    assert.deepEqual(both.map((r) => r.metadata.name).sort(), ['before-start', 'r-bob']);
    assert.deepEqual(
      await backend.lookup.accessRequestsFor({ namespace: 'team-b', pod: 'web', usernames: ['alice'] }),
      [],
    );
    assert.deepEqual(await backend.lookup.grantsFor('team-a', 'r-bob'), []);
  });

  it('loses no event while its connection to the apiserver is cut', async () => {
    await proxy.cut();
    await mustCreate(
      cp,
      'admin',
      accessRequest({ name: 'during-outage', namespace: 'team-b', user: 'alice', pod: 'web' }),
    );
    const deleted = await cp.kubectl('admin', ['delete', 'accessrequest', '-n', 'team-a', 'r-bob']);
    assert.equal(deleted.code, 0, deleted.stderr);
    await sleep(1_500); // the watch fails and retries with backoff meanwhile
    await proxy.restore();
    await waitFor(
      'the outage events',
      async () => {
        const created = await backend.lookup.accessRequest('team-b', 'during-outage');
        const gone = !(await backend.lookup.accessRequest('team-a', 'r-bob'));
        return created && gone;
      },
      20_000,
      100,
    );
    assert.equal(backend.isReady(), true);
  });

  it('counts a one-shot use once (a stale resourceVersion is re-read, not lost), and gives it back once', async () => {
    const live = await getJson<{ metadata: { uid: string; resourceVersion: string } }>(cp, [
      'accessrequest',
      '-n',
      'team-a',
      'r-other-pod',
    ]);
    const effect = {
      type: 'consume-request' as const,
      namespace: 'team-a',
      name: 'r-other-pod',
      uid: live.metadata.uid,
      resourceVersion: live.metadata.resourceVersion,
    };
    // Another write since the read (a replica, a status condition): re-read, checked again, counted.
    const stale = await backend.effects.run({ ...effect, resourceVersion: '1' });
    assert.equal(stale?.type, 'release-request');
    assert.equal(
      (await getJson<{ status?: { uses?: number } }>(cp, ['accessrequest', '-n', 'team-a', 'r-other-pod'])).status
        ?.uses,
      1,
    );
    await backend.effects.run(stale!);
    // Two at once from the same (now stale) read: exactly one counts the one use.
    const results = await Promise.allSettled([backend.effects.run(effect), backend.effects.run(effect)]);
    assert.deepEqual(results.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
    const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    assert.ok(rejected.reason instanceof EffectConflict);
    const used = await getJson<{ metadata: { uid: string }; status?: { usedAt?: string } }>(cp, [
      'accessrequest',
      '-n',
      'team-a',
      'r-other-pod',
    ]);
    assert.ok(used.status?.usedAt, 'marked used on its status');
    assert.equal(used.metadata.uid, live.metadata.uid);
    assert.ok((await backend.lookup.accessRequest('team-a', 'r-other-pod'))?.status?.usedAt, 'the cache knows at once');
    // Given back (a failed audit): usable again, exactly once more.
    const release = (results.find((r) => r.status === 'fulfilled') as PromiseFulfilledResult<Effect | undefined>)
      .value!;
    assert.equal(release.type, 'release-request');
    await backend.effects.run(release);
    assert.equal(
      (await getJson<{ status?: { usedAt?: string } }>(cp, ['accessrequest', '-n', 'team-a', 'r-other-pod'])).status
        ?.usedAt,
      undefined,
    );
    await assert.rejects(
      backend.effects.run(release),
      /409|Conflict|conflict|changed/i,
      'a release applies once, on the version its consume made',
    );
  });
});
