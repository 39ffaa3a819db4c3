// The edge worker in real workerd (miniflare), Deno and Bun, against a real kube-apiserver: every
// fixture review gets exactly the answer the Node app (informer backend) gives, a one-shot is used
// once, the scheduled cleanup deletes what is due, and the bundles carry no Node built-in.
// Prints bundle sizes, cold starts and per-review latencies (docs/edge.md quotes them).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as esbuild from 'esbuild';
import { bundleEdge, ENTRIES, noNodeBuiltins, type EdgeBundle, type EdgeTarget } from '../../examples/edge/build.ts';
import { startKubernetesBackend, loadKubeConfig, type KubernetesBackend } from '../../adapters/kubernetes/index.ts';
import { createApp } from '../../adapters/http/app.ts';
import { silentLogger } from '../../adapters/log.ts';
import { DEFAULT_CONFIG } from '../../functions/types.ts';
import { ROOT, startControlPlane, type ControlPlane } from '../controlplane/cluster.ts';
import { createCA } from '../support/pki.ts';
import { fetchLookup, kubernetesClient } from '../../adapters/edge/kubernetes.ts';
import { pinnedFetch } from './pinned-fetch.ts';
import { startBun, startDeno, startWorkerd, startWorkerdServe, type RunningWorker } from './runtimes.ts';
import { accessGrant, accessRequest, CASES, execReview, NS, OBJECTS } from './scenario.ts';

const TARGETS = Object.keys(ENTRIES) as EdgeTarget[];
const ADMISSION_TOKEN = randomBytes(16).toString('hex');

let dir: string;
let bundles: Record<EdgeTarget, EdgeBundle>;
let cp: ControlPlane;
let backend: KubernetesBackend;
let nodeApp: ReturnType<typeof createApp>;
let env: Record<string, string>;
const workers: RunningWorker[] = [];
const figures: Record<string, unknown> = {};

type ReviewResponse = { response: { uid: string; allowed: boolean; status?: { code: number; message: string } } };

async function postTo(target: RunningWorker | 'node', review: unknown): Promise<ReviewResponse> {
  const init = {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${ADMISSION_TOKEN}` },
    body: JSON.stringify(review),
  };
  const res = target === 'node' ? await nodeApp.request('/', init) : await target.fetch('/', init);
  const text = await res.text();
  assert.equal(res.status, 200, `${target === 'node' ? 'node' : target.name}: HTTP ${res.status}: ${text}`);
  return JSON.parse(text) as ReviewResponse;
}

/** The answer with the one clock-dependent part (the time left on a window, read at review time) masked. */
function comparable(answer: ReviewResponse): ReviewResponse {
  const copy = structuredClone(answer);
  // Times that depend on when each runtime's own one-shot was used or granted.
  if (copy.response.status) {
    copy.response.status.message = copy.response.status.message
      .replace(/\((?:\d+[hms])+ left\)/g, '(… left)')
      .replace(/was used at \S+Z:/g, 'was used at …:');
  }
  // Each runtime gets its own fresh one-shot request object: the same name, another uid.
  const annotations = (copy.response as { auditAnnotations?: Record<string, string> }).auditAnnotations;
  if (annotations?.['access-request-uid']) annotations['access-request-uid'] = '…';
  return copy;
}

async function kubectlJson(args: string[]): Promise<{ code: number; json?: { metadata?: { uid?: string } } }> {
  const result = await cp.kubectl('admin', [...args, '-o', 'json']);
  return { code: result.code, ...(result.code === 0 ? { json: JSON.parse(result.stdout) } : {}) };
}

async function exists(kind: string, name: string): Promise<boolean> {
  const result = await cp.kubectl('admin', ['get', kind, name, '-n', NS, '--ignore-not-found', '-o', 'name']);
  assert.equal(result.code, 0, result.stderr);
  return result.stdout.trim() !== '';
}

/**
 * Applies requests, then their grants pinned to the requests' uids (as `kubectl request grant`
 * writes them): a grant covers exactly one request object.
 */
async function applyPinned(
  objects: readonly { kind: string; metadata: { name: string; namespace: string }; spec: object }[],
): Promise<void> {
  const requests = objects.filter((o) => o.kind === 'AccessRequest');
  await cp.apply(requests);
  const grants = [];
  for (const grant of objects.filter((o) => o.kind === 'AccessGrant')) {
    const { grantFor } = grant.spec as { grantFor: string };
    const uid = (await kubectlJson(['get', 'accessrequest', grantFor, '-n', grant.metadata.namespace])).json?.metadata
      ?.uid;
    grants.push({ ...grant, spec: { ...grant.spec, grantForUID: uid } });
  }
  if (grants.length) await cp.apply(grants);
}

/** Deletes and re-creates a granted one-shot request; waits until the Node informers hold the new one. */
async function freshOneShot(name: string, pod: string): Promise<void> {
  await cp.kubectl('admin', [
    'delete',
    'accessrequest,accessgrant',
    name,
    '-n',
    NS,
    '--ignore-not-found',
    '--wait=true',
  ]);
  await applyPinned([accessRequest(name, 'alice', pod, { command: ['date'] }), accessGrant(name, 'carol', 'granted')]);
  const uid = (await kubectlJson(['get', 'accessrequest', name, '-n', NS])).json?.metadata?.uid;
  const grantUid = (await kubectlJson(['get', 'accessgrant', name, '-n', NS])).json?.metadata?.uid;
  const deadline = Date.now() + 10_000;
  while (
    (await backend.lookup.accessRequest(NS, name))?.metadata.uid !== uid ||
    (await backend.lookup.grantsFor(NS, name))[0]?.metadata.uid !== grantUid
  ) {
    assert.ok(Date.now() < deadline, 'the Node informers did not see the new one-shot within 10 s');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function measureLatency(targets: readonly (RunningWorker | 'node')[]): Promise<Record<string, unknown>> {
  const allowed = CASES[0]!.review;
  const denied = CASES[5]!.review;
  const latency: Record<string, unknown> = {};
  for (const target of targets) {
    const name = target === 'node' ? 'node (informer cache, in-process)' : target.name;
    const samples: Record<string, number[]> = { allowed: [], denied: [] };
    for (let i = 0; i < 30; i++) {
      for (const [kind, review] of [
        ['allowed', allowed],
        ['denied', denied],
      ] as const) {
        const started = performance.now();
        await postTo(target, review);
        samples[kind]!.push(performance.now() - started);
      }
    }
    latency[name] = { allowedMs: stats(samples.allowed!), deniedMs: stats(samples.denied!) };
  }
  return latency;
}

function stats(samples: number[]): { median: number; p95: number; n: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! * 100) / 100;
  return { median: at(0.5), p95: at(0.95), n: sorted.length };
}

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kra-edge-'));
  const built = await Promise.all(TARGETS.map((target) => bundleEdge(target, path.join(dir, 'dist'))));
  bundles = Object.fromEntries(built.map((b) => [b.target, b])) as Record<EdgeTarget, EdgeBundle>;
  figures.bundles = Object.fromEntries(built.map((b) => [b.target, { bytes: b.bytes, gzipBytes: b.gzipBytes }]));

  cp = await startControlPlane({ dir, webhookConfiguration: false, log: (line) => console.error(`# ${line}`) });
  await applyPinned(OBJECTS);

  backend = await startKubernetesBackend({
    kubeConfig: loadKubeConfig({ kubeconfig: cp.kubeconfig, context: 'admin' }),
    usernamePrefix: '',
    cleanupIntervalMs: 3_600_000,
    deleteAfterMs: 86_400_000,
    logger: silentLogger,
  });
  await backend.synced();
  const config = { ...DEFAULT_CONFIG, alwaysAllowedGroups: ['system:masters'] };
  nodeApp = createApp({
    lookup: backend.lookup,
    effects: backend.effects,
    audit: [],
    config,
  });

  env = {
    KUBERNETES_API_URL: cp.server,
    KUBERNETES_TOKEN: cp.tokens.admin,
    KUBERNETES_CA: cp.caPem,
    ALWAYS_ALLOWED_GROUPS: 'system:masters',
    ADMISSION_TOKEN,
    LOG_LEVEL: 'warn',
  };
  // One after the other: cold starts are measured, and the machine is small.
  workers.push(await startWorkerd(bundles.workerd.file, env, cp.caPem));
  workers.push(await startWorkerdServe(bundles.workerd.file, env, cp.caPem));
  workers.push(await startDeno(bundles.deno.file, env));
  workers.push(await startBun(bundles.bun.file, env));
  figures.coldStartMs = Object.fromEntries(workers.map((w) => [w.name, Math.round(w.coldStartMs)]));
});

after(async () => {
  await Promise.allSettled(workers.map((w) => w.stop()));
  await backend?.stop();
  await cp?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
  if (Object.keys(figures).length) {
    console.log(`# edge figures ${JSON.stringify(figures)}`);
    if (process.env.EDGE_FIGURES) await writeFile(process.env.EDGE_FIGURES, `${JSON.stringify(figures, null, 2)}\n`);
  }
});

describe('edge bundles', () => {
  it('bundle every entry for a browser target with no Node built-in', () => {
    for (const target of TARGETS) assert.ok(bundles[target].bytes > 10_000, `${target} bundle is suspiciously small`);
  });

  it('fail the build when a Node built-in is on the path', async () => {
    await assert.rejects(
      esbuild.build({
        stdin: { contents: "export * from './adapters/audit/webhook.ts';", resolveDir: ROOT, loader: 'ts' },
        bundle: true,
        write: false,
        platform: 'browser',
        format: 'esm',
        logLevel: 'silent',
        plugins: [noNodeBuiltins],
      }),
      /Node built-in "node:(fs|https|tls)"/,
    );
  });
});

/**
 * A grant review as `kubectl request grant` would send it: pinned to the live uid of the request
 * it names (a request that does not exist gets a uid nothing has).
 */
async function pinnedReview(review: unknown): Promise<unknown> {
  const request = (
    review as {
      request?: { resource?: { resource?: string }; object?: { spec?: { grantFor?: string; grantForUID?: string } } };
    }
  ).request;
  const spec = request?.object?.spec;
  if (request?.resource?.resource !== 'accessgrants' || !spec?.grantFor || spec.grantForUID) return review;
  const uid =
    (await kubectlJson(['get', 'accessrequest', spec.grantFor, '-n', NS])).json?.metadata?.uid ?? 'uid-of-nothing';
  const pinned = structuredClone(review) as { request: { object: { spec: { grantForUID?: string } } } };
  pinned.request.object.spec.grantForUID = uid;
  return pinned;
}

describe('edge worker against the real control plane', () => {
  for (const testCase of CASES) {
    it(`${testCase.name}: same answer in workerd (miniflare and serve), Deno and Bun as in Node`, async () => {
      const review = await pinnedReview(testCase.review);
      const expected = await postTo('node', review);
      assert.equal(expected.response.allowed, testCase.allowed, `node: ${expected.response.status?.message}`);
      for (const worker of workers) {
        assert.deepEqual(
          comparable(await postTo(worker, review)),
          comparable(expected),
          `${worker.name} differs from node`,
        );
      }
    });
  }

  it('left the dry-run one-shot in place', async () => {
    assert.equal(await exists('accessrequest', 'alice-dry'), true);
  });

  it('uses a one-shot exactly once, in every runtime as in Node', async () => {
    const first = execReview('u-30', 'alice', 'web-4', ['date']);
    const second = execReview('u-31', 'alice', 'web-4', ['date']);
    let expected: ReviewResponse[] | undefined;
    for (const target of ['node' as const, ...workers]) {
      const name = target === 'node' ? 'node' : target.name;
      await freshOneShot('alice-once', 'web-4');
      const answers = [await postTo(target, first), await postTo(target, second)];
      assert.equal(answers[0]!.response.allowed, true, `${name}: ${answers[0]!.response.status?.message}`);
      assert.equal(answers[1]!.response.allowed, false, `${name}: the one-shot was used twice`);
      const used = (await kubectlJson(['get', 'accessrequest', 'alice-once', '-n', NS])).json as
        { status?: { usedAt?: string } } | undefined;
      assert.ok(used?.status?.usedAt, `${name}: the one-shot is not marked used`);
      if (expected) assert.deepEqual(answers.map(comparable), expected.map(comparable), `${name} differs from node`);
      else expected = answers;
    }
  });

  it('lets exactly one of concurrent execs across runtimes use a one-shot', async () => {
    await freshOneShot('alice-race', 'web-6');
    const review = execReview('u-40', 'alice', 'web-6', ['date']);
    const answers = await Promise.all(workers.map((worker) => postTo(worker, review)));
    const allowed = answers.filter((a) => a.response.allowed);
    assert.equal(allowed.length, 1, JSON.stringify(answers.map((a) => a.response.status?.message)));
  });

  it('refuses reviews without the admission token, but answers /healthz', async () => {
    for (const worker of workers) {
      const res = await worker.fetch('/', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(CASES[0]!.review),
      });
      assert.equal(res.status, 401, worker.name);
      await res.text();
      const health = await worker.fetch('/healthz');
      assert.equal(health.status, 200, worker.name);
      await health.text();
    }
  });

  it('audits to an HTTPS webhook whose CA is pinned, and denies when it fails or presents another CA', async () => {
    const events: { type: string | null; body: { isAdmin?: boolean; request?: { uid?: string } } }[] = [];
    let status = 200;
    const own = { cert: await readFile(cp.webhookCert, 'utf8'), key: await readFile(cp.webhookKey, 'utf8') };
    const server = createHttpsServer(own, (req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        events.push({
          type: new URL(req.url ?? '/', 'https://audit').searchParams.get('type'),
          body: JSON.parse(body),
        });
        // A new TLS handshake per call, so swapping the certificate below takes effect at once.
        res.writeHead(status, { Connection: 'close' }).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const auditEnv = {
      ...env,
      AUDIT_WEBHOOK_URL: `https://127.0.0.1:${(server.address() as AddressInfo).port}/audit`,
      WEBHOOK_CA: cp.caPem,
    };
    const audited: RunningWorker[] = [];
    try {
      audited.push(
        await startWorkerd(bundles.workerd.file, auditEnv, cp.caPem),
        await startWorkerdServe(bundles.workerd.file, auditEnv, cp.caPem),
        await startDeno(bundles.deno.file, auditEnv),
        await startBun(bundles.bun.file, auditEnv),
      );
      const foreignCa = await createCA('not the cluster CA');
      const foreign = await foreignCa.issue({ commonName: 'impostor', hosts: ['127.0.0.1', 'localhost'] });
      for (const worker of audited) {
        status = 200;
        server.setSecureContext(own);
        events.length = 0;
        const ok = await postTo(worker, execReview('u-50', 'admin', 'web-9', ['sh']));
        assert.equal(
          ok.response.allowed,
          true,
          `${worker.name}: ${ok.response.status?.message}\n${worker.output().slice(-1500)}`,
        );
        assert.deepEqual(
          events.map((e) => e.type),
          ['audit-exec'],
          worker.name,
        );
        assert.equal(events[0]!.body.isAdmin, true);
        assert.equal(events[0]!.body.request?.uid, 'u-50');

        status = 500;
        const refused = await postTo(worker, execReview('u-51', 'admin', 'web-9', ['sh']));
        assert.equal(refused.response.allowed, false, worker.name);
        assert.match(refused.response.status?.message ?? '', /audit webhook did not accept/);

        status = 200;
        server.setSecureContext(foreign);
        events.length = 0;
        const impostor = await postTo(worker, execReview('u-52', 'admin', 'web-9', ['sh']));
        assert.equal(impostor.response.allowed, false, `${worker.name} trusted a certificate of another CA`);
        assert.equal(events.length, 0, `${worker.name} sent the audit event to an unverified peer`);
      }
    } finally {
      await Promise.allSettled(audited.map((w) => w.stop()));
      server.closeAllConnections();
      server.close();
    }
  });

  it('deletes an expired request and its grant from the scheduled handler (workerd cron)', async () => {
    await applyPinned([
      accessRequest('alice-expiring', 'alice', 'web-7', { validFor: '1s' }),
      accessGrant('alice-expiring', 'carol', 'granted'),
    ]);
    await new Promise((resolve) => setTimeout(resolve, 2_200));
    const workerd = workers.find((w) => w.name === 'workerd')!;
    await workerd.scheduled!();
    assert.equal(await exists('accessrequest', 'alice-expiring'), false, workerd.output().slice(-2000));
    assert.equal(await exists('accessgrant', 'alice-expiring'), false);
    assert.equal(await exists('accessrequest', 'alice-web-1'), true, 'cleanup deleted a live request');
  });

  it('runs the cleanup on an interval in the Deno and Bun entries', async () => {
    for (const start of [startDeno, startBun]) {
      const name = `alice-expiring-${start === startDeno ? 'deno' : 'bun'}`;
      await applyPinned([
        accessRequest(name, 'alice', 'web-8', { validFor: '1s' }),
        accessGrant(name, 'carol', 'granted'),
      ]);
      const worker = await start(start === startDeno ? bundles.deno.file : bundles.bun.file, {
        ...env,
        CLEANUP_INTERVAL: '500ms',
      });
      try {
        const deadline = Date.now() + 15_000;
        while (await exists('accessrequest', name)) {
          assert.ok(Date.now() < deadline, `${worker.name} did not clean up ${name}:\n${worker.output().slice(-1500)}`);
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
        assert.equal(await exists('accessrequest', 'alice-web-1'), true, 'cleanup deleted a live request');
      } finally {
        await worker.stop();
      }
    }
  });

  it('measures per-review latency with the fetch lookup against the real API server', async () => {
    figures.reviewLatency = await measureLatency(['node', ...workers]);
  });

  it('narrows lists by field selector: the shipped CRDs declare selectableFields', async () => {
    const client = kubernetesClient({ server: cp.server, token: cp.tokens.admin, fetch: pinnedFetch(cp.caPem) });
    const query = { namespace: NS, pod: 'web-1', usernames: ['alice'] };
    const auto = fetchLookup({ client, logger: silentLogger });
    assert.deepEqual(
      (await auto.accessRequestsFor(query)).map((r) => r.metadata.name),
      ['alice-web-1'],
    );
    assert.equal(auto.fieldSelectorsWork(), true, 'no fallback to whole-namespace lists');
    const on = fetchLookup({ client, fieldSelectors: 'on', logger: silentLogger });
    assert.deepEqual(
      (await on.accessRequestsFor(query)).map((r) => r.metadata.name),
      ['alice-web-1'],
    );
    assert.deepEqual(
      (await on.grantsFor(NS, 'alice-web-1')).map((g) => g.metadata.name),
      ['alice-web-1'],
    );
    // The server did the narrowing: only web-1's requests (alice's and bob's) come back.
    const listed = (await client.get(`/apis/kube-request-access.io/v1/namespaces/${NS}/accessrequests`, {
      fieldSelector: 'spec.forObject.name=web-1',
    })) as { items: { metadata: { name: string } }[] };
    assert.deepEqual(listed.items.map((i) => i.metadata.name).sort(), ['alice-web-1', 'bob-web-1']);

    // Fresh isolates learn that selectors work: same verdicts, and the latency with them.
    for (const [i, worker] of workers.entries()) {
      await worker.stop();
      const restart = {
        workerd: () => startWorkerd(bundles.workerd.file, env, cp.caPem),
        'workerd serve': () => startWorkerdServe(bundles.workerd.file, env, cp.caPem),
        deno: () => startDeno(bundles.deno.file, env),
        bun: () => startBun(bundles.bun.file, env),
      }[worker.name]!;
      workers[i] = await restart();
    }
    for (const testCase of CASES.filter((c) => !JSON.stringify(c.review).includes('"dryRun":true'))) {
      const review = await pinnedReview(testCase.review);
      const expected = await postTo('node', review);
      for (const worker of workers)
        assert.deepEqual(
          comparable(await postTo(worker, review)),
          comparable(expected),
          `${worker.name}: ${testCase.name}`,
        );
    }
    figures.reviewLatencyWithSelectableFields = await measureLatency(workers);
  });
});
