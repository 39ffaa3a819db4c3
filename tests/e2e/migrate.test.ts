// docs/migrating.md followed end to end against a real kube-apiserver: the seed's CRDs
// (spreadgroup.com/v1, tests/fixtures/seed-crds.yaml) hold requests and grants as the seed's users
// left them; kube-request-access is installed without its ValidatingWebhookConfiguration;
// `kube-request-access migrate-from-seed` runs (dry run, then for real, then again: idempotent);
// the webhook is registered and started; a migrated granted request lets alice's exec through
// (the reconciler re-makes her RoleBinding) exactly once, and what must not carry over does not.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ROOT, startControlPlane, type ControlPlane, type KubectlResult } from '../controlplane/cluster.ts';
import { getJson, roleBindings, runningPod, waitFor } from './_kra.ts';

const NS = 'team-a';
const SEED = 'spreadgroup.com/v1';
// Both groups are installed during the migration and both claim the short names acr/acg.
const NEW_ACR = 'accessrequests.kube-request-access.io';
const NEW_ACG = 'accessgrants.kube-request-access.io';
const SEED_ACR = 'accessrequests.spreadgroup.com';
const SEED_ACG = 'accessgrants.spreadgroup.com';

let cp: ControlPlane;
let dir: string;

/** A seed AccessRequest as its kubectl-request wrote it (execOptions an embedded PodExecOptions). */
function seedRequest(
  name: string,
  user: string,
  options: { command?: string[]; validFor?: string; customKeys?: Record<string, string> | null } = {},
) {
  return {
    apiVersion: SEED,
    kind: 'AccessRequest',
    metadata: { name, namespace: NS, labels: { username: user } },
    spec: {
      userInfo: { username: user },
      forObject: {
        resource: { group: '', version: 'v1', resource: 'pods' },
        subResource: 'exec',
        name: 'web',
        namespace: NS,
      },
      ...(options.validFor ? { validFor: options.validFor } : {}),
      execOptions: {
        apiVersion: 'v1',
        kind: 'PodExecOptions',
        stdout: true,
        stderr: true,
        container: 'app',
        command: options.command ?? ['cat', 'notes.txt'],
      },
      ...(options.customKeys !== undefined ? { customKeys: options.customKeys } : {}),
    },
  };
}

function seedGrant(name: string, grantFor: string, by: string, status: 'granted' | 'denied' = 'granted') {
  return {
    apiVersion: SEED,
    kind: 'AccessGrant',
    metadata: { name, namespace: NS },
    spec: { grantedBy: { username: by }, grantFor },
    status,
  };
}

/** `kube-request-access migrate-from-seed …` as docs/migrating.md runs it (this checkout's bin/). */
function migrate(args: readonly string[]): Promise<KubectlResult> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [
        path.join(ROOT, 'bin/kube-request-access.mjs'),
        'migrate-from-seed',
        '--kubeconfig',
        cp.kubeconfig,
        '--context',
        'admin',
        ...args,
      ],
      {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, NO_COLOR: '1' },
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

type Obj = {
  metadata: { name: string; uid: string; annotations?: Record<string, string> };
  spec: Record<string, unknown> & { grantForUID?: string; validFor?: string };
  status?: unknown;
};
const names = (list: { items: Obj[] }) => list.items.map((o) => o.metadata.name).sort();

describe('migrating from the seed (docs/migrating.md)', { timeout: 240_000 }, () => {
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'kra-migrate-'));
    // Step 1: the new CRDs are installed (startControlPlane applies manifests/crds, and RBAC);
    // the ValidatingWebhookConfiguration is not registered and no webhook runs.
    cp = await startControlPlane({
      dir,
      webhookConfiguration: false,
      kwok: true,
      log: (line) => console.error(`# ${line}`),
    });
    const sandbox = await runningPod(cp, 'web', NS, ['app']);
    await writeFile(path.join(sandbox, 'notes.txt'), 'migrated notes\n');
    // What the seed's users have: its CRDs and objects.
    await cp.apply(await readFile(path.join(ROOT, 'tests/fixtures/seed-crds.yaml'), 'utf8'));
    await waitFor(
      'the seed CRDs to be served',
      async () => (await cp.kubectl('admin', ['get', SEED_ACR, '-A'])).code === 0,
      30_000,
      200,
    );
    await cp.apply([
      // granted one-shot, customKeys as the seed's Go client writes a nil map
      seedRequest('alice-notes', 'alice', { customKeys: null }),
      seedGrant('alice-notes-grant', 'alice-notes', 'carol'),
      // time-bound, granted: its window carries over (what is left of it)
      seedRequest('dave-window', 'dave', { validFor: '1h', command: ['ls'], customKeys: { ticket: 'OPS-7' } }),
      seedGrant('dave-window-grant', 'dave-window', 'carol'),
      // pending: no grant
      seedRequest('alice-pending', 'alice', { command: ['date'], customKeys: { ticket: 'OPS-8' } }),
      // a self-grant, which the seed let through: not carried over
      seedRequest('alice-self', 'alice', { command: ['id'] }),
      seedGrant('alice-self-grant', 'alice-self', 'alice'),
      // denied
      seedRequest('bob-denied', 'bob', { command: ['env'] }),
      seedGrant('bob-denied-grant', 'bob-denied', 'carol', 'denied'),
      // a grant for a request that is gone
      seedGrant('orphan-grant', 'deleted-request', 'carol'),
    ]);
  });

  after(async () => {
    await cp?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('a seed object with "customKeys": null is stored as the seed\'s Go client sent it', async () => {
    const stored = await getJson<Obj>(cp, [SEED_ACR, '-n', NS, 'alice-notes']);
    // (The apiserver may keep or drop the null; the migration reads either.)
    assert.ok(stored.spec.customKeys === null || stored.spec.customKeys === undefined);
  });

  it('step 2: --dry-run prints the plan and creates nothing', async () => {
    const result = await migrate(['--dry-run']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^\[dry run\] accessrequest team-a\/alice-notes: would be created$/m);
    assert.match(
      result.stdout,
      /^\[dry run\] accessgrant team-a\/alice-notes-grant: would be created \(granted by carol, for alice-notes, pinned to <uid of the new AccessRequest>\)$/m,
    );
    assert.match(
      result.stdout,
      /^\[dry run\] summary: accessrequests 5 would be created, 0 existed, 0 skipped, 0 failed; accessgrants 3 would be created, 2 skipped, 0 failed$/m,
    );
    assert.deepEqual((await getJson<{ items: Obj[] }>(cp, [NEW_ACR, '-A'])).items, []);
    assert.deepEqual((await getJson<{ items: Obj[] }>(cp, [NEW_ACG, '-A'])).items, []);
  });

  it('step 3: migrates requests (same names, namespaces, spec) and pins grants to the new uids', async () => {
    const result = await migrate([]);
    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
    assert.match(result.stdout, /^accessgrant team-a\/alice-self-grant: skipped: a self-grant by alice/m);
    assert.match(
      result.stdout,
      /^accessgrant team-a\/orphan-grant: skipped: its request deleted-request does not exist$/m,
    );
    assert.match(
      result.stdout,
      /^summary: accessrequests 5 created, 0 existed, 0 skipped, 0 failed; accessgrants 3 created, 2 skipped, 0 failed$/m,
    );

    const requests = await getJson<{ items: Obj[] }>(cp, [NEW_ACR, '-n', NS]);
    assert.deepEqual(names(requests), ['alice-notes', 'alice-pending', 'alice-self', 'bob-denied', 'dave-window']);
    const grants = await getJson<{ items: Obj[] }>(cp, [NEW_ACG, '-n', NS]);
    assert.deepEqual(names(grants), ['alice-notes-grant', 'bob-denied-grant', 'dave-window-grant']);

    const byName = new Map(requests.items.map((r) => [r.metadata.name, r]));
    const seed = await getJson<Obj>(cp, [SEED_ACR, '-n', NS, 'alice-notes']);
    const notes = byName.get('alice-notes')!;
    assert.notEqual(notes.metadata.uid, seed.metadata.uid, 'a new object');
    assert.equal(notes.metadata.annotations?.['kube-request-access.io/migrated-from-uid'], seed.metadata.uid);
    assert.deepEqual(notes.spec.execOptions, {
      apiVersion: 'v1',
      kind: 'PodExecOptions',
      stdout: true,
      stderr: true,
      container: 'app',
      command: ['cat', 'notes.txt'],
    });
    assert.equal(notes.spec.customKeys, undefined, 'a nil map is no keys');
    assert.deepEqual(byName.get('alice-pending')!.spec.customKeys, { ticket: 'OPS-8' });
    for (const grant of grants.items) {
      const request = byName.get(String(grant.spec.grantFor))!;
      assert.equal(
        grant.spec.grantForUID,
        request.metadata.uid,
        `${grant.metadata.name} is pinned to the new ${request.metadata.name}`,
      );
    }
    // A time-bound grant's window runs from the seed's grant: only what is left of it carries over.
    const window = byName.get('dave-window')!;
    assert.match(String(window.spec.validFor), /^59m\d+s$/);
    assert.equal(window.metadata.annotations?.['kube-request-access.io/seed-valid-for'], '1h');
  });

  it('run again, it skips what exists and creates nothing', async () => {
    const result = await migrate([]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^accessrequest team-a\/alice-notes: exists \(migrated before, uid [0-9a-f-]+\)$/m);
    assert.match(result.stdout, /^accessgrant team-a\/alice-notes-grant: skipped: exists$/m);
    assert.match(
      result.stdout,
      /^summary: accessrequests 0 created, 5 existed, 0 skipped, 0 failed; accessgrants 0 created, 5 skipped, 0 failed$/m,
    );
  });

  it('steps 4-5: with the webhook registered and running, the migrated grant lets alice exec once', async () => {
    await cp.registerWebhook();
    await cp.startWebhook();
    // The reconciler re-makes her RoleBinding from the migrated grant (the seed's ones are not reused).
    await waitFor(
      "alice's RoleBinding",
      async () => (await roleBindings(cp, NS)).some((rb) => rb.subjects.some((s) => s.name === 'alice')),
      30_000,
      200,
    );
    const exec = await cp.kubectl('alice', ['exec', '-n', NS, 'web', '-c', 'app', '--', 'cat', 'notes.txt']);
    assert.equal(exec.code, 0, exec.stderr);
    assert.equal(exec.stdout, 'migrated notes\n');
    const again = await cp.kubectl('alice', ['exec', '-n', NS, 'web', '-c', 'app', '--', 'cat', 'notes.txt']);
    assert.notEqual(again.code, 0, 'a one-shot request allows exactly one exec');
  });

  it('what does not carry over: the self-grant and the denial give nothing', async () => {
    const self = await cp.kubectl('alice', ['exec', '-n', NS, 'web', '-c', 'app', '--', 'id']);
    assert.notEqual(self.code, 0);
    const denied = await cp.kubectl('bob', ['exec', '-n', NS, 'web', '-c', 'app', '--', 'env']);
    assert.notEqual(denied.code, 0);
  });

  it('after registering the webhook, a migrated grant is refused (why the command runs before)', async () => {
    await cp.apply([
      seedRequest('alice-late', 'alice', { command: ['uptime'] }),
      seedGrant('alice-late-grant', 'alice-late', 'carol'),
    ]);
    const result = await migrate([]);
    assert.equal(result.code, 1, result.stdout);
    assert.match(
      result.stdout,
      /^accessgrant team-a\/alice-late-grant: FAILED: admission webhook "objects.kube-request-access.io" denied the request: spec.grantedBy.username must be you: it says "carol", authenticated as "admin"/m,
    );
    assert.match(result.stdout, /accessgrants 0 created, \d+ skipped, 1 failed$/m);
  });

  it("step 7: the seed's CRDs (and its objects) are removed; the migrated objects stay", async () => {
    const removed = await cp.kubectl('admin', ['delete', 'crd', SEED_ACR, SEED_ACG, '--wait=true']);
    assert.equal(removed.code, 0, removed.stderr);
    const list = await cp.kubectl('admin', ['get', 'acr', '-n', NS, '-o', 'name']);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /accessrequest\.kube-request-access\.io\/dave-window/);
  });
});
