// Smoke test of the local control plane itself (no webhook server): a real kube-apiserver answers the
// local kubectl, the static users have the RBAC a real cluster would give them, and the
// ValidatingWebhookConfiguration really intercepts exec and fails closed while nothing listens.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import {
  ROOT,
  WEBHOOK_CONFIGURATION,
  startControlPlane,
  type ControlPlane,
  type User,
} from '../controlplane/cluster.ts';

const crdsDir = path.join(ROOT, 'manifests/crds');
const haveCrds = existsSync(crdsDir) && readdirSync(crdsDir).some((name) => /\.(ya?ml|json)$/.test(name));

let cp: ControlPlane;
let dir: string;

async function canI(user: User, ...args: string[]): Promise<boolean> {
  return canIOn(cp, user, ...args);
}

async function canIOn(plane: ControlPlane, user: User, ...args: string[]): Promise<boolean> {
  const result = await plane.kubectl(user, ['auth', 'can-i', ...args]);
  const answer = result.stdout.trim();
  assert.ok(answer === 'yes' || answer === 'no', `unexpected can-i answer for ${user}: ${JSON.stringify(result)}`);
  return answer === 'yes';
}

function pod(name: string, namespace: string) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace },
    spec: { containers: [{ name: 'main', image: 'busybox' }] },
  };
}

describe('local control plane', () => {
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'kra-controlplane-'));
    cp = await startControlPlane({ dir, webhookConfiguration: false, log: (line) => console.error(`# ${line}`) });
  });

  after(async () => {
    await cp?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('serves the local kubectl with a kube-apiserver stamped v1.34', async () => {
    const result = await cp.kubectl('admin', ['version', '-o', 'json']);
    assert.equal(result.code, 0, result.stderr);
    const version = JSON.parse(result.stdout) as {
      serverVersion?: { gitVersion?: string; major?: string; minor?: string };
    };
    assert.match(version.serverVersion?.gitVersion ?? '', /^v1\.34\.\d+$/);
    assert.equal(version.serverVersion?.major, '1');
    assert.equal(version.serverVersion?.minor, '34');
  });

  it('authenticates every static user by token', async () => {
    for (const [user, groups] of [
      ['admin', 'system:masters'],
      ['alice', 'developers'],
      ['bob', 'developers'],
      ['carol', 'approvers'],
      ['dave', 'system:authenticated'],
    ] as const) {
      const result = await cp.kubectl(user, ['auth', 'whoami', '-o', 'json']);
      assert.equal(result.code, 0, result.stderr);
      const review = JSON.parse(result.stdout) as { status: { userInfo: { username: string; groups: string[] } } };
      assert.equal(review.status.userInfo.username, user);
      assert.ok(review.status.userInfo.groups.includes(groups), `${user}: ${review.status.userInfo.groups.join(',')}`);
    }
  });

  it('creates the team namespaces', async () => {
    const result = await cp.kubectl('admin', ['get', 'namespace', 'team-a', 'team-b', '-o', 'name']);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(result.stdout.trim().split('\n'), ['namespace/team-a', 'namespace/team-b']);
  });

  it('gives nobody but admin standing pods/exec', async () => {
    // `can-i create pods/exec` would ask about a pod named "exec": subresources need --subresource.
    const exec = ['pods', '--subresource=exec', '-n', 'team-a'];
    assert.equal(await canI('admin', 'create', ...exec), true);
    assert.equal(await canI('admin', 'get', ...exec), true);
    for (const user of ['alice', 'bob', 'carol', 'dave'] as const) {
      for (const [verb, subresource] of [
        ['create', 'exec'],
        ['get', 'exec'],
        ['create', 'attach'],
        ['create', 'portforward'],
        ['patch', 'ephemeralcontainers'],
        ['update', 'ephemeralcontainers'],
      ] as const) {
        assert.equal(
          await canI(user, verb, 'pods', `--subresource=${subresource}`, '-n', 'team-a'),
          false,
          `${user} ${verb} pods/${subresource}`,
        );
      }
    }
  });

  it('lets developers request access and read workloads, approvers grant', async () => {
    assert.equal(await canI('alice', 'create', 'accessrequests.kube-request-access.io', '-n', 'team-a'), true);
    assert.equal(await canI('alice', 'delete', 'accessrequests.kube-request-access.io', '-n', 'team-b'), true);
    assert.equal(await canI('alice', 'list', 'pods', '-n', 'team-a'), true);
    assert.equal(await canI('alice', 'get', 'deployments.apps', '-n', 'team-a'), true);
    assert.equal(await canI('alice', 'create', 'accessgrants.kube-request-access.io', '-n', 'team-a'), false);
    assert.equal(await canI('alice', 'create', 'pods', '-n', 'team-a'), false);

    assert.equal(await canI('carol', 'create', 'accessgrants.kube-request-access.io', '-n', 'team-a'), true);
    assert.equal(await canI('carol', 'list', 'accessrequests.kube-request-access.io', '-n', 'team-a'), true);
    assert.equal(await canI('carol', 'create', 'accessrequests.kube-request-access.io', '-n', 'team-a'), false);

    assert.equal(await canI('dave', 'list', 'pods', '-n', 'team-a'), false);
    assert.equal(await canI('dave', 'create', 'accessrequests.kube-request-access.io', '-n', 'team-a'), false);
  });

  it('provides the ClusterRole the webhook binds per grant', async () => {
    const result = await cp.kubectl('admin', ['get', 'clusterrole', 'kube-request-access-granted-exec', '-o', 'json']);
    assert.equal(result.code, 0, result.stderr);
    const role = JSON.parse(result.stdout) as { rules: { resources: string[]; verbs: string[] }[] };
    // The same rules as the role shipped in manifests/, so tests exercise what users deploy.
    const shipped = parseAllDocuments(readFileSync(new URL('../../manifests/base/roles.yaml', import.meta.url), 'utf8'))
      .map((doc) => doc.toJS() as { kind?: string; metadata?: { name?: string }; rules?: unknown })
      .find((doc) => doc.kind === 'ClusterRole' && doc.metadata?.name === 'kube-request-access-granted-exec');
    assert.ok(shipped, 'manifests/base/roles.yaml ships the granted role');
    assert.deepEqual(role.rules, shipped.rules);
  });

  it(
    'lets alice create an AccessRequest once the CRDs are installed',
    { skip: haveCrds ? false : 'manifests/crds/ has no CRDs yet' },
    async () => {
      const request = {
        apiVersion: 'kube-request-access.io/v1',
        kind: 'AccessRequest',
        metadata: { name: 'smoke', namespace: 'team-a' },
        spec: {
          userInfo: { username: 'alice' },
          forObject: {
            resource: { group: '', version: 'v1', resource: 'pods' },
            subResource: 'exec',
            name: 'p',
            namespace: 'team-a',
          },
          execOptions: { command: ['ls'] },
        },
      };
      const created = await cp.kubectl('alice', ['create', '-f', '-', '-o', 'name'], {
        input: JSON.stringify(request),
      });
      assert.equal(created.code, 0, created.stderr);
      assert.match(created.stdout, /accessrequest.*\/smoke/);
      const denied = await cp.kubectl('dave', ['create', '-f', '-'], {
        input: JSON.stringify({ ...request, metadata: { name: 'dave', namespace: 'team-a' } }),
      });
      assert.notEqual(denied.code, 0);
      assert.match(denied.stderr, /forbidden/i);
    },
  );

  it('sends exec to the webhook, fails closed while it is down, and leaves kube-system alone', async () => {
    await cp.apply([pod('p', 'team-a'), pod('p', 'kube-system')]);
    await cp.registerWebhook();
    const registered = await cp.kubectl('admin', [
      'get',
      'validatingwebhookconfiguration',
      WEBHOOK_CONFIGURATION,
      '-o',
      'json',
    ]);
    assert.equal(registered.code, 0, registered.stderr);

    // The apiserver picks up webhook configurations through an informer: retry briefly.
    let result = await cp.kubectl('admin', ['exec', '-n', 'team-a', 'p', '--', 'ls']);
    for (let i = 0; i < 20 && !/failed calling webhook/.test(result.stderr); i++) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      result = await cp.kubectl('admin', ['exec', '-n', 'team-a', 'p', '--', 'ls']);
    }
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /failed calling webhook "exec\.kube-request-access\.io"/);

    const excluded = await cp.kubectl('admin', ['exec', '-n', 'kube-system', 'p', '--', 'ls']);
    assert.notEqual(excluded.code, 0);
    assert.match(excluded.stderr, /does not have a host assigned/);

    // The same, through one bare exec request each.
    const probed = await cp.execProbe('admin', { namespace: 'team-a', pod: 'p', command: ['ls', '-l'] });
    assert.equal(probed.status, 500, probed.message);
    assert.match(probed.message, /failed calling webhook "exec\.kube-request-access\.io"/);
    const probedExcluded = await cp.execProbe('admin', { namespace: 'kube-system', pod: 'p', command: ['ls'] });
    assert.deepEqual(probedExcluded, { status: 400, message: 'pod p does not have a host assigned' });
    const refused = await cp.execProbe('alice', { namespace: 'team-a', pod: 'p', command: ['ls'] });
    assert.equal(refused.status, 403);
    assert.match(refused.message, /User "alice" cannot create resource "pods\/exec"/);
  });
});

describe('local control plane with developersCanExec', () => {
  let plane: ControlPlane;
  let planeDir: string;

  before(async () => {
    planeDir = await mkdtemp(path.join(tmpdir(), 'kra-controlplane-'));
    plane = await startControlPlane({
      dir: planeDir,
      developersCanExec: true,
      webhookConfiguration: false,
      log: (line) => console.error(`# ${line}`),
    });
  });

  after(async () => {
    await plane?.stop();
    if (planeDir) await rm(planeDir, { recursive: true, force: true });
  });

  it('gives developers standing exec and its friends, so the webhook alone gates', async () => {
    for (const user of ['alice', 'bob'] as const) {
      for (const [verb, subresource] of [
        ['create', 'exec'],
        ['get', 'exec'],
        ['create', 'attach'],
        ['get', 'attach'],
        ['create', 'portforward'],
        ['patch', 'ephemeralcontainers'],
        ['update', 'ephemeralcontainers'],
      ] as const) {
        assert.equal(
          await canIOn(plane, user, verb, 'pods', `--subresource=${subresource}`, '-n', 'team-b'),
          true,
          `${user} ${verb} pods/${subresource}`,
        );
      }
    }
    for (const user of ['carol', 'dave'] as const) {
      assert.equal(
        await canIOn(plane, user, 'create', 'pods', '--subresource=exec', '-n', 'team-a'),
        false,
        `${user} create pods/exec`,
      );
    }
  });
});
