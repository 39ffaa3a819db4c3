// The deployment manifests: `kubectl kustomize manifests` renders, the webhook configuration
// passes the pitfalls list (../shared/KUBERNETES-FACTS.md), and everything is applied to a real
// kube-apiserver: the CRD schemas reject malformed objects and spec changes, the TLS script
// patches the caBundle, the webhook service account's least-privilege RBAC is enough to run the
// real server (and to decide DELETE reviews), and while no webhook answers exec fails closed
// outside the ungated namespaces while requests and grants cannot be created or deleted anywhere.
// The lint of every rendered manifest (bindings, exclusions, --ungated-namespaces, the reconciler)
// is tests/unit/manifests-lint.test.ts.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { ROOT, startControlPlane, type ControlPlane } from '../controlplane/cluster.ts';
import {
  accessGrant,
  accessRequest,
  create,
  execProbe,
  getJson,
  mustCreate,
  pod,
  roleBindings,
  startServe,
  waitFor,
  type ServeProcess,
} from './_kra.ts';

const run = promisify(execFile);

type Obj = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  [key: string]: any;
};

async function render(dir: string): Promise<Obj[]> {
  const { stdout } = await run('kubectl', ['kustomize', path.join(ROOT, dir)], { maxBuffer: 16 * 1024 * 1024 });
  return parseAllDocuments(stdout)
    .map((doc) => doc.toJSON() as Obj)
    .filter(Boolean);
}

const find = (objects: Obj[], kind: string, name?: string) => {
  const found = objects.filter((o) => o.kind === kind && (!name || o.metadata.name === name));
  assert.ok(found.length > 0, `no ${kind} ${name ?? ''} in the render`);
  return found;
};

describe('kubectl kustomize manifests', () => {
  let objects: Obj[];
  before(async () => {
    objects = await render('manifests');
  });

  it('renders the CRDs, RBAC, Deployment, PodDisruptionBudget, Service and webhook configuration', () => {
    const kinds = new Set(objects.map((o) => `${o.kind}/${o.metadata.name}`));
    for (const expected of [
      'CustomResourceDefinition/accessrequests.kube-request-access.io',
      'CustomResourceDefinition/accessgrants.kube-request-access.io',
      'Namespace/kube-request-access',
      'ServiceAccount/kube-request-access',
      'ClusterRole/kube-request-access:webhook',
      'ClusterRoleBinding/kube-request-access:webhook',
      'ClusterRole/kube-request-access-granted-exec',
      'ClusterRole/kube-request-access:developer',
      'ClusterRole/kube-request-access:approver',
      'Deployment/kube-request-access',
      'PodDisruptionBudget/kube-request-access',
      'Service/kube-request-access',
      'ValidatingWebhookConfiguration/kube-request-access',
    ]) {
      assert.ok(kinds.has(expected), `missing ${expected}`);
    }
  });

  it('has a webhook configuration that passes the pitfalls list', () => {
    const [config] = find(objects, 'ValidatingWebhookConfiguration');
    const [deployment] = find(objects, 'Deployment', 'kube-request-access');
    const [service] = find(objects, 'Service', 'kube-request-access');
    const ownNamespace = deployment!.metadata.namespace!;
    const rules: { op: string; resource: string; group: string }[] = [];
    for (const webhook of config!.webhooks as any[]) {
      const where = `webhook ${webhook.name}`;
      assert.equal(webhook.objectSelector, undefined, `${where}: objectSelector would let exec skip the webhook`);
      assert.equal(webhook.sideEffects, 'NoneOnDryRun', where);
      assert.equal(webhook.failurePolicy, 'Fail', where);
      assert.deepEqual(webhook.admissionReviewVersions, ['v1'], where);
      assert.ok(
        webhook.timeoutSeconds >= 1 && webhook.timeoutSeconds <= 10,
        `${where}: timeoutSeconds ${webhook.timeoutSeconds}`,
      );
      if (webhook.name === 'exec.kube-request-access.io') {
        // Exec is not gated in the webhook's own namespace and kube-system, so it can be repaired.
        const excluded = (webhook.namespaceSelector?.matchExpressions ?? []).find(
          (e: any) => e.key === 'kubernetes.io/metadata.name' && e.operator === 'NotIn',
        );
        assert.ok(excluded, `${where}: no namespaceSelector on kubernetes.io/metadata.name`);
        assert.ok(
          excluded.values.includes(ownNamespace),
          `${where}: its own namespace ${ownNamespace} is not excluded`,
        );
        assert.ok(excluded.values.includes('kube-system'), `${where}: kube-system is not excluded`);
        assert.equal(
          webhook.namespaceSelector.matchLabels,
          undefined,
          `${where}: matchLabels would need a forgeable label`,
        );
      } else {
        // Requests and grants are reviewed everywhere: an excluded namespace would be unreviewed.
        assert.equal(webhook.namespaceSelector, undefined, `${where}: reviews requests and grants in every namespace`);
      }
      assert.equal(webhook.clientConfig.service.name, service!.metadata.name, where);
      assert.equal(webhook.clientConfig.service.namespace, ownNamespace, where);
      assert.ok(
        service!.spec.ports.some((p: any) => p.port === webhook.clientConfig.service.port),
        `${where}: Service port`,
      );
      for (const rule of webhook.rules) {
        for (const resource of rule.resources) {
          assert.notEqual(resource, '*', `${where}: "*" does not match subresources; name them`);
          for (const op of rule.operations) for (const group of rule.apiGroups) rules.push({ op, resource, group });
        }
      }
    }
    const has = (op: string, group: string, resource: string) =>
      assert.ok(
        rules.some((r) => r.op === op && r.group === group && r.resource === resource),
        `no ${op} rule for ${group}/${resource}`,
      );
    for (const sub of ['pods/exec', 'pods/attach', 'pods/portforward']) has('CONNECT', '', sub);
    has('UPDATE', '', 'pods/ephemeralcontainers');
    for (const op of ['CREATE', 'UPDATE', 'DELETE']) {
      has(op, 'kube-request-access.io', 'accessrequests');
      has(op, 'kube-request-access.io', 'accessgrants');
    }
  });

  it('runs two non-root replicas with a read-only root, probes over HTTPS and a disruption budget', () => {
    const [deployment] = find(objects, 'Deployment', 'kube-request-access');
    const spec = deployment!.spec;
    assert.ok(spec.replicas >= 2);
    assert.equal(spec.template.spec.securityContext.runAsNonRoot, true);
    const [container] = spec.template.spec.containers;
    assert.equal(container.securityContext.readOnlyRootFilesystem, true);
    assert.equal(container.securityContext.allowPrivilegeEscalation, false);
    assert.deepEqual(container.securityContext.capabilities.drop, ['ALL']);
    assert.ok(container.resources.requests.cpu && container.resources.requests.memory);
    assert.deepEqual(
      [container.readinessProbe.httpGet.path, container.readinessProbe.httpGet.scheme],
      ['/readyz', 'HTTPS'],
    );
    assert.deepEqual(
      [container.livenessProbe.httpGet.path, container.livenessProbe.httpGet.scheme],
      ['/healthz', 'HTTPS'],
    );
    assert.equal(container.args[0], 'serve');
    const [pdb] = find(objects, 'PodDisruptionBudget');
    assert.deepEqual(pdb!.spec.selector.matchLabels, spec.selector.matchLabels);
    const [service] = find(objects, 'Service', 'kube-request-access');
    assert.deepEqual(service!.spec.selector, spec.selector.matchLabels);
    assert.ok(container.ports.some((p: any) => p.name === service!.spec.ports[0].targetPort));
  });

  it('gives the webhook least privilege: bind only on the granted role, no writes to requests and grants but the status', () => {
    const [deployment] = find(objects, 'Deployment', 'kube-request-access');
    const grantedRole = (deployment!.spec.template.spec.containers[0].args as string[])
      .find((a) => a.startsWith('--granted-role-name='))!
      .split('=')[1];
    const [role] = find(objects, 'ClusterRole', 'kube-request-access:webhook');
    for (const rule of role!.rules) {
      assert.ok(!rule.verbs.includes('*') && !rule.resources.includes('*'), `wildcard in ${JSON.stringify(rule)}`);
      if (rule.verbs.includes('bind')) assert.deepEqual(rule.resourceNames, [grantedRole]);
      if (rule.apiGroups.includes('kube-request-access.io')) {
        // Reads, deletes (cleanup), and the status of requests (marking a one-shot used, writing
        // its state): never creating or changing a request or a grant; policies are only read.
        const only = (resource: string) => rule.resources.every((r: string) => r === resource);
        const expected = only('accessrequests/status')
          ? ['patch', 'update']
          : only('accesspolicies')
            ? ['get', 'list', 'watch']
            : ['delete', 'get', 'list', 'watch'];
        assert.deepEqual([...rule.verbs].sort(), expected, JSON.stringify(rule));
      }
    }
    find(objects, 'ClusterRole', grantedRole);
    const [developer] = find(objects, 'ClusterRole', 'kube-request-access:developer');
    for (const rule of developer!.rules) {
      for (const forbidden of [
        'pods/exec',
        'pods/attach',
        'pods/portforward',
        'pods/ephemeralcontainers',
        'nodes/proxy',
        '*',
      ]) {
        assert.ok(!rule.resources.includes(forbidden), `developers must not hold ${forbidden}`);
      }
    }
  });

  it('renders the cert-manager overlay with a Certificate and the CA injection annotation', async () => {
    const overlay = await render('manifests/overlays/cert-manager');
    const [config] = find(overlay, 'ValidatingWebhookConfiguration');
    const from = config!.metadata.annotations?.['cert-manager.io/inject-ca-from'];
    assert.ok(from, 'no cert-manager.io/inject-ca-from');
    const [namespace, name] = from.split('/');
    const [certificate] = find(overlay, 'Certificate', name);
    assert.equal(certificate!.metadata.namespace, namespace);
    const [deployment] = find(overlay, 'Deployment');
    const secret = deployment!.spec.template.spec.volumes.find((v: any) => v.name === 'tls').secret.secretName;
    assert.equal(certificate!.spec.secretName, secret);
    assert.ok(certificate!.spec.dnsNames.includes('kube-request-access.kube-request-access.svc'));
  });
});

describe('the manifests on a real kube-apiserver', () => {
  let cp: ControlPlane;
  let dir: string;
  let server: ServeProcess | undefined;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'kra-manifests-'));
    // No local webhook configuration: the manifests bring their own.
    cp = await startControlPlane({ dir, webhookConfiguration: false, log: (line) => console.error(`# ${line}`) });
  });

  after(async () => {
    await server?.stop();
    if (server && process.env.KRA_E2E_KEEP_LOGS) console.error(await readFile(server.log, 'utf8'));
    await cp?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const valid = () =>
    accessRequest({ name: 'valid', namespace: 'team-a', user: 'alice', pod: 'web', validFor: '1h30m' });

  it('accepts a well-formed AccessRequest and AccessGrant and prints the columns', async () => {
    await mustCreate(cp, 'admin', valid());
    await mustCreate(cp, 'admin', accessGrant({ name: 'valid', namespace: 'team-a', grantFor: 'valid', by: 'carol' }));
    const requests = await cp.kubectl('admin', ['get', 'acr', '-n', 'team-a']);
    assert.match(requests.stdout.split('\n')[0]!, /NAME\s+USER\s+POD\s+CONTAINER\s+COMMAND\s+WINDOW\s+STATE\s+AGE/);
    // No server runs here to write status.command and status.state: those columns stay empty.
    assert.match(requests.stdout, /valid\s+alice\s+web\s+app\s+1h30m/);
    const grants = await cp.kubectl('admin', ['get', 'acg', '-n', 'team-a']);
    assert.match(grants.stdout.split('\n')[0]!, /NAME\s+REQUEST\s+BY\s+STATUS\s+AGE/);
    assert.match(grants.stdout, /valid\s+valid\s+carol\s+granted/);
  });

  const malformed: [string, (r: any) => void, RegExp][] = [
    ['no forObject', (r) => delete r.spec.forObject, /spec\.forObject: Required value/],
    ['an empty username', (r) => (r.spec.userInfo.username = ''), /spec\.userInfo\.username/],
    ['a validFor that is not a duration', (r) => (r.spec.validFor = 'soon'), /spec\.validFor/],
    ['a negative validFor', (r) => (r.spec.validFor = '-1h'), /spec\.validFor/],
    [
      'an unknown subResource',
      (r) => (r.spec.forObject.subResource = 'shell'),
      /spec\.forObject\.subResource: Unsupported value/,
    ],
    ['a command that is not a list', (r) => (r.spec.execOptions.command = 'ls -l'), /spec\.execOptions\.command/],
    ['a tty that is not a boolean', (r) => (r.spec.execOptions.tty = 'yes'), /spec\.execOptions\.tty/],
    [
      'a customKeys value that is not a string',
      (r) => (r.spec.customKeys = { ticket: 42 }),
      /spec\.customKeys\.ticket/,
    ],
  ];
  for (const [what, breakIt, message] of malformed) {
    it(`rejects an AccessRequest with ${what}`, async () => {
      const request = valid() as any;
      request.metadata.name = 'malformed';
      breakIt(request);
      const result = await create(cp, 'admin', request);
      assert.notEqual(result.code, 0, `accepted: ${result.stdout}`);
      assert.match(result.stderr, message);
    });
  }

  it('rejects an AccessGrant with an unknown status or without grantedBy', async () => {
    const bad = accessGrant({ name: 'bad', namespace: 'team-a', grantFor: 'valid', by: 'carol' }) as any;
    bad.status = 'maybe';
    const status = await create(cp, 'admin', bad);
    assert.notEqual(status.code, 0);
    assert.match(status.stderr, /status: Unsupported value: "maybe"/);
    delete bad.spec.grantedBy;
    bad.status = 'granted';
    const by = await create(cp, 'admin', bad);
    assert.notEqual(by.code, 0);
    assert.match(by.stderr, /spec\.grantedBy: Required value/);
  });

  it('refuses changes to a request spec, a grant spec or a grant status, even by an admin', async () => {
    const spec = await cp.kubectl('admin', [
      'patch',
      'acr',
      '-n',
      'team-a',
      'valid',
      '--type=merge',
      '-p',
      '{"spec":{"validFor":"12h"}}',
    ]);
    assert.notEqual(spec.code, 0);
    assert.match(spec.stderr, /spec is immutable/);
    const user = await cp.kubectl('admin', [
      'patch',
      'acr',
      '-n',
      'team-a',
      'valid',
      '--type=merge',
      '-p',
      '{"spec":{"userInfo":{"username":"bob"}}}',
    ]);
    assert.match(user.stderr, /spec is immutable/);
    const status = await cp.kubectl('admin', [
      'patch',
      'acg',
      '-n',
      'team-a',
      'valid',
      '--type=merge',
      '-p',
      '{"status":"denied"}',
    ]);
    assert.notEqual(status.code, 0);
    assert.match(status.stderr, /status is immutable/);
    const grantSpec = await cp.kubectl('admin', [
      'patch',
      'acg',
      '-n',
      'team-a',
      'valid',
      '--type=merge',
      '-p',
      '{"spec":{"grantFor":"other"}}',
    ]);
    assert.match(grantSpec.stderr, /spec is immutable/);
    // Labels stay editable (the metadata is not part of the spec).
    const label = await cp.kubectl('admin', ['label', 'acr', '-n', 'team-a', 'valid', 'ticket=OPS-1']);
    assert.equal(label.code, 0, label.stderr);
  });

  it('applies every manifest (kubectl apply -k manifests) and the TLS script patches the caBundle', async () => {
    const applied = await cp.kubectl('admin', ['apply', '-k', path.join(ROOT, 'manifests')]);
    assert.equal(applied.code, 0, applied.stderr);
    const certs = path.join(dir, 'certs');
    const kubectl = `kubectl --kubeconfig ${cp.kubeconfig} --context admin`;
    await run('bash', [path.join(ROOT, 'scripts/make-webhook-certs.sh'), '--out-dir', certs], {
      env: { ...process.env, KUBECTL: kubectl },
    });
    const secret = await getJson<{ type: string; data: Record<string, string> }>(cp, [
      'secret',
      '-n',
      'kube-request-access',
      'kube-request-access-tls',
    ]);
    assert.equal(secret.type, 'kubernetes.io/tls');
    const ca = await readFile(path.join(certs, 'ca.crt'), 'utf8');
    const config = await getJson<{ webhooks: { clientConfig: { caBundle?: string } }[] }>(cp, [
      'validatingwebhookconfiguration',
      'kube-request-access',
    ]);
    assert.equal(config.webhooks.length, 2);
    for (const webhook of config.webhooks)
      assert.equal(Buffer.from(webhook.clientConfig.caBundle ?? '', 'base64').toString(), ca);
    // Re-applying the manifests (an upgrade) keeps the patched caBundle.
    const again = await cp.kubectl('admin', ['apply', '-k', path.join(ROOT, 'manifests')]);
    assert.equal(again.code, 0, again.stderr);
    const kept = await getJson<{ webhooks: { clientConfig: { caBundle?: string } }[] }>(cp, [
      'validatingwebhookconfiguration',
      'kube-request-access',
    ]);
    assert.ok(kept.webhooks.every((w) => w.clientConfig.caBundle));
  });

  it('fails closed while no webhook pod answers: exec except in the ungated namespaces, requests and grants everywhere', async () => {
    // The webhook namespace enforces the restricted Pod Security Standard: a compliant pod.
    const restricted = pod('web', 'kube-request-access', ['app']) as any;
    restricted.spec.securityContext = {
      runAsNonRoot: true,
      runAsUser: 1000,
      seccompProfile: { type: 'RuntimeDefault' },
    };
    restricted.spec.containers[0].securityContext = {
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    };
    await cp.apply([pod('web', 'team-a'), pod('web', 'kube-system'), restricted]);
    // Even cluster-admin's exec is refused: the apiserver cannot reach the webhook Service.
    assert.equal(
      (await execProbe(cp, 'admin', { namespace: 'team-a', pod: 'web', container: 'app' })).outcome,
      'webhook-unreachable',
    );
    // The webhook's own namespace and kube-system stay reachable for repairs.
    assert.equal(
      (await execProbe(cp, 'admin', { namespace: 'kube-system', pod: 'web', container: 'app' })).outcome,
      'allowed',
    );
    assert.equal(
      (await execProbe(cp, 'admin', { namespace: 'kube-request-access', pod: 'web', container: 'app' })).outcome,
      'allowed',
    );
    // A new AccessRequest cannot be created either (same webhook configuration).
    const created = await create(
      cp,
      'alice',
      accessRequest({ name: 'while-down', namespace: 'team-a', user: 'alice', pod: 'web' }),
    );
    assert.notEqual(created.code, 0);
    assert.match(created.stderr, /failed calling webhook/);
    // Not even in kube-system: the objects webhook has no exclusions.
    const ungated = await create(
      cp,
      'admin',
      accessRequest({ name: 'while-down', namespace: 'kube-system', user: 'alice', pod: 'web' }),
    );
    assert.notEqual(ungated.code, 0);
    assert.match(ungated.stderr, /failed calling webhook "objects.kube-request-access.io"/);
    // Nor deleted, by anyone: DELETE is reviewed too.
    for (const kind of ['acr', 'acg']) {
      const deleted = await cp.kubectl('admin', ['delete', kind, '-n', 'team-a', 'valid', '--wait=false']);
      assert.notEqual(deleted.code, 0, `deleted ${kind}: ${deleted.stdout}`);
      assert.match(deleted.stderr, /failed calling webhook "objects.kube-request-access.io"/);
    }
  });

  it('runs the real server with only the service account RBAC of the manifests', async () => {
    const token = await cp.kubectl('admin', [
      'create',
      'token',
      'kube-request-access',
      '-n',
      'kube-request-access',
      '--duration',
      '1h',
    ]);
    assert.equal(token.code, 0, token.stderr);
    const kubeconfig = path.join(dir, 'sa-kubeconfig');
    await writeFile(
      kubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [
          {
            name: 'local',
            cluster: { server: cp.server, 'certificate-authority-data': Buffer.from(cp.caPem).toString('base64') },
          },
        ],
        users: [{ name: 'sa', user: { token: token.stdout.trim() } }],
        contexts: [{ name: 'sa', context: { cluster: 'local', user: 'sa' } }],
        'current-context': 'sa',
      }),
      { mode: 0o600 },
    );
    // Point the apiserver at a local process (replacing the in-cluster Service reference).
    await cp.registerWebhook();
    server = await startServe(
      cp,
      'service-account',
      [
        '--kubeconfig',
        kubeconfig,
        '--context',
        'sa',
        '--granted-role-name',
        'kube-request-access-granted-exec',
        '--cleanup-interval',
        '1s',
      ],
      cp.webhookPort,
    );
    // The schema tests' granted request would also match the execs below. The deletion is
    // reviewed: the server asks the apiserver (a SubjectAccessReview, with its service account's
    // RBAC) whether admin may create grants here, which makes admin an approver.
    const cleared = await cp.kubectl('admin', ['delete', 'accessrequests,accessgrants', '-n', 'team-a', '--all']);
    assert.equal(cleared.code, 0, cleared.stderr);
    await mustCreate(cp, 'alice', accessRequest({ name: 'sa-flow', namespace: 'team-a', user: 'alice', pod: 'web' }));
    // Pinned to the request object's uid, as `kubectl request grant` does.
    const saFlow = await getJson<{ metadata: { uid: string } }>(cp, ['accessrequest', '-n', 'team-a', 'sa-flow']);
    const saFlowGrant = accessGrant({ name: 'sa-flow', namespace: 'team-a', grantFor: 'sa-flow', by: 'carol' });
    await mustCreate(cp, 'carol', { ...saFlowGrant, spec: { ...saFlowGrant.spec, grantForUID: saFlow.metadata.uid } });
    // The service account may bind the granted role: the reconciler's RoleBinding appears.
    const saFlowBinding = async () =>
      (await roleBindings(cp, 'team-a')).some((b) => b.metadata.name === 'kube-request-access.sa-flow');
    await waitFor('the RoleBinding made by the service account', saFlowBinding, 5_000);
    // And delete the request it consumes (its own DELETE, which it recognises by a SelfSubjectReview).
    assert.equal(
      (await execProbe(cp, 'alice', { namespace: 'team-a', pod: 'web', container: 'app' })).outcome,
      'allowed',
    );
    assert.equal(
      (await execProbe(cp, 'alice', { namespace: 'team-a', pod: 'web', container: 'app' })).outcome,
      'denied',
    );
    await waitFor('the RoleBinding to go', async () => !(await saFlowBinding()), 5_000);
    const canI = async (...args: string[]) =>
      (
        await cp.kubectl('admin', [
          'auth',
          'can-i',
          '--as',
          'system:serviceaccount:kube-request-access:kube-request-access',
          ...args,
        ])
      ).stdout.trim();
    assert.equal(await canI('bind', 'clusterrole/kube-request-access-granted-exec'), 'yes');
    assert.equal(await canI('bind', 'clusterrole/cluster-admin'), 'no');
    assert.equal(await canI('create', 'accessrequests.kube-request-access.io', '-n', 'team-a'), 'no');
    assert.equal(await canI('create', 'pods/exec', '-n', 'team-a'), 'no');
    assert.equal(await canI('get', 'secrets', '-n', 'team-a'), 'no');
    // What the DELETE reviews ask: who may create grants, and who the server itself is.
    assert.equal(await canI('create', 'subjectaccessreviews.authorization.k8s.io'), 'yes');
    assert.equal(await canI('create', 'selfsubjectreviews.authentication.k8s.io'), 'yes');
    // system:basic-user (every authenticated user) already allows selfsubjectreviews; our rule repeats it.
    assert.equal(
      (
        await cp.kubectl('admin', [
          'auth',
          'can-i',
          'create',
          'selfsubjectreviews.authentication.k8s.io',
          '--as',
          'dave',
        ])
      ).stdout.trim(),
      'yes',
    );
  });
});
