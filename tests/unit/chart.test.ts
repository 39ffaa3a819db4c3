// The Helm chart (charts/kube-request-access): `helm lint` and `helm template` pass with the default
// values and with cert-manager + client-certificate values, and what they render passes the same
// lint as the kustomize manifests (tests/support/manifests-lint.ts): no exec-granting binding
// cluster-wide or in an ungated namespace, the objects webhook everywhere with DELETE, the exec
// webhook's exclusions equal to the server's --ungated-namespaces (both from one value). Every
// server flag has a value; the service account's RBAC and the CRDs are those of manifests/.
// Needs .dev/bin/helm (scripts/build-helm.sh, run by .ci/run); skipped without it.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { configFrom, serveArgs } from '../../adapters/node/serve.ts';
import { DEFAULT_UNGATED_NAMESPACES } from '../../functions/types.ts';
import { ROOT } from '../controlplane/cluster.ts';
import {
  EXEC_WEBHOOK,
  exclusions,
  flagsOf,
  lintBindings,
  lintHeap,
  lintWebhook,
  parseYaml,
  serverArgs,
  type Obj,
} from '../support/manifests-lint.ts';

const run = promisify(execFile);
const HELM = path.join(ROOT, '.dev/bin/helm');
const CHART = path.join(ROOT, 'charts/kube-request-access');
const KUBE_VERSION = '1.34.0';

/** Flags the chart sets itself (or that make no sense in a pod): no value of their own. */
const CHART_INTERNAL = new Set(['address', 'cert-file', 'key-file', 'kubeconfig', 'context', 'objects']);

async function helm(args: readonly string[]) {
  try {
    const { stdout, stderr } = await run(HELM, args, { maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? String(error) };
  }
}

async function template(
  valuesFiles: string[] = [],
  set: string[] = [],
  namespace = 'kube-request-access',
): Promise<Obj[]> {
  const result = await helm([
    'template',
    'kube-request-access',
    CHART,
    '--namespace',
    namespace,
    '--kube-version',
    KUBE_VERSION,
    '--include-crds',
    ...valuesFiles.flatMap((f) => ['--values', f]),
    ...set.flatMap((s) => ['--set', s]),
  ]);
  assert.equal(result.code, 0, result.stderr);
  return parseYaml(result.stdout);
}

const find = (objects: readonly Obj[], kind: string, name?: string): Obj => {
  const found = objects.find((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  assert.ok(found, `no ${kind} ${name ?? ''}`);
  return found;
};
const args = (objects: readonly Obj[]) => serverArgs(find(objects, 'Deployment', 'kube-request-access'));
const excludedBy = (objects: readonly Obj[]) =>
  exclusions(find(objects, 'ValidatingWebhookConfiguration').webhooks.find((w: any) => w.name === EXEC_WEBHOOK))
    .excluded;
const ungatedFlag = (objects: readonly Obj[]) =>
  args(objects)
    .find((a) => a.startsWith('--ungated-namespaces='))
    ?.split('=')[1]
    ?.split(',');

const PEM_CA = `-----BEGIN CERTIFICATE-----
MIIBfzCCASWgAwIBAgIUQ2xpZW50IENBIGZvciB0ZXN0czAKBggqhkjOPQQDAjAc
-----END CERTIFICATE-----
`;

describe(
  'charts/kube-request-access',
  { skip: existsSync(HELM) ? false : `no ${HELM}: run scripts/build-helm.sh` },
  () => {
    let dir: string;
    let certManagerValues: string;
    let everythingValues: string;
    let defaults: Obj[];
    let certManager: Obj[];

    before(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'kra-chart-'));
      certManagerValues = path.join(dir, 'cert-manager.yaml');
      await writeFile(certManagerValues, JSON.stringify({ tls: { mode: 'cert-manager' }, clientCA: { pem: PEM_CA } }));
      everythingValues = path.join(dir, 'everything.yaml');
      await writeFile(
        everythingValues,
        JSON.stringify({
          clientCA: { existingSecret: 'apiserver-client-ca', key: 'ca.pem' },
          grantedRole: { name: 'granted', kind: 'Role', namespaces: ['team-a', 'team-b'] },
          server: {
            alwaysAllowedGroups: ['system:masters', 'sre'],
            alwaysAllowedUsers: ['root-user'],
            usernamePrefix: 'oidc:',
            namespaces: ['team-a', 'team-b'],
            maxValidFor: '4h',
            cleanupInterval: '30s',
            deleteAfter: '48h',
            retention: '72h',
            shutdownDelay: '5s',
            webhookTimeout: '2s',
            http2: false,
            verbosity: 2,
            auditWebhook: { url: 'https://audit.example:443/audit', caBundle: PEM_CA },
            extendedValidationWebhook: { url: 'https://validator.example:443/validate', caBundle: PEM_CA },
            extraArgs: ['--some-future-flag=1'],
          },
        }),
      );
      defaults = await template();
      certManager = await template([certManagerValues]);
    });

    after(async () => {
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('passes helm lint with the default values and with cert-manager + client CA values', async () => {
      for (const values of [[], ['--values', certManagerValues], ['--values', everythingValues]]) {
        const result = await helm([
          'lint',
          CHART,
          '--namespace',
          'kube-request-access',
          '--kube-version',
          KUBE_VERSION,
          ...values,
        ]);
        assert.equal(result.code, 0, `${result.stdout}${result.stderr}`);
        assert.doesNotMatch(result.stdout, /\[(ERROR|WARNING)\]/, result.stdout);
      }
    });

    it('renders the CRDs, RBAC, Deployment, PodDisruptionBudget, Service, TLS and webhook configuration', () => {
      const kinds = new Set(defaults.map((o) => `${o.kind}/${o.metadata.name}`));
      for (const expected of [
        'CustomResourceDefinition/accessrequests.kube-request-access.io',
        'CustomResourceDefinition/accessgrants.kube-request-access.io',
        'ServiceAccount/kube-request-access',
        'ClusterRole/kube-request-access:webhook',
        'ClusterRoleBinding/kube-request-access:webhook',
        'ClusterRole/kube-request-access-granted-exec',
        'ClusterRole/kube-request-access:developer',
        'ClusterRole/kube-request-access:approver',
        'Deployment/kube-request-access',
        'PodDisruptionBudget/kube-request-access',
        'Service/kube-request-access',
        'Secret/kube-request-access-tls',
        'ValidatingWebhookConfiguration/kube-request-access',
      ]) {
        assert.ok(kinds.has(expected), `missing ${expected}`);
      }
      const deployment = find(defaults, 'Deployment');
      assert.equal(deployment.spec.replicas, 2);
      assert.deepEqual(
        find(defaults, 'PodDisruptionBudget').spec.selector.matchLabels,
        deployment.spec.selector.matchLabels,
      );
      assert.deepEqual(find(defaults, 'Service').spec.selector, deployment.spec.selector.matchLabels);
    });

    it('passes the manifests lint with the default values and with cert-manager + client CA values', () => {
      for (const [name, objects] of [
        ['defaults', defaults],
        ['cert-manager', certManager],
      ] as const) {
        assert.deepEqual(lintBindings(objects, DEFAULT_UNGATED_NAMESPACES), [], name);
        assert.deepEqual(lintWebhook(objects), [], name);
        assert.deepEqual(lintHeap(objects), [], name);
      }
    });

    it('renders the exec webhook exclusions and --ungated-namespaces from one value, the release namespace always included', async () => {
      assert.deepEqual(excludedBy(defaults), ['kube-system', 'kube-request-access']);
      assert.deepEqual(ungatedFlag(defaults), ['kube-system', 'kube-request-access']);
      const custom = await template([], ['ungatedNamespaces={kube-system,ops}'], 'kra');
      const expected = ['kube-system', 'ops', 'kra'];
      assert.deepEqual(excludedBy(custom), expected);
      assert.deepEqual(ungatedFlag(custom), expected);
      assert.deepEqual([...configFrom(flagsOf(args(custom))).ungatedNamespaces], expected);
      assert.deepEqual(lintWebhook(custom, expected), []);
      assert.deepEqual(lintBindings(custom, expected), []);
      // The shared lint tells a chart that drifts from the value.
      assert.match(
        lintWebhook(custom).join('\n'),
        /excludes \[kube-system, ops, kra\], not DEFAULT_UNGATED_NAMESPACES/,
      );
    });

    it('self-signed TLS: a CA in both webhooks, a serving certificate for the Service name', () => {
      const secret = find(defaults, 'Secret', 'kube-request-access-tls');
      assert.equal(secret.type, 'kubernetes.io/tls');
      const ca = new X509Certificate(Buffer.from(secret.data['ca.crt'], 'base64'));
      const leaf = new X509Certificate(Buffer.from(secret.data['tls.crt'], 'base64'));
      assert.ok(leaf.checkIssued(ca) && leaf.verify(ca.publicKey), 'the serving certificate is signed by the CA');
      assert.equal(
        leaf.checkHost('kube-request-access.kube-request-access.svc'),
        'kube-request-access.kube-request-access.svc',
      );
      const config = find(defaults, 'ValidatingWebhookConfiguration');
      for (const webhook of config.webhooks) {
        assert.equal(webhook.clientConfig.caBundle, secret.data['ca.crt'], webhook.name);
        assert.deepEqual(webhook.clientConfig.service, {
          name: 'kube-request-access',
          namespace: 'kube-request-access',
          path: '/',
          port: 443,
        });
      }
      const volume = find(defaults, 'Deployment').spec.template.spec.volumes.find((v: any) => v.name === 'tls');
      assert.equal(volume.secret.secretName, secret.metadata.name);
    });

    it('cert-manager TLS and client-certificate auth: a Certificate, the CA injection, --client-ca-file from a mounted ConfigMap', () => {
      const config = find(certManager, 'ValidatingWebhookConfiguration');
      const [namespace, name] = (config.metadata.annotations?.['cert-manager.io/inject-ca-from'] ?? '').split('/');
      const certificate = find(certManager, 'Certificate', name);
      assert.equal(certificate.metadata.namespace, namespace);
      assert.ok(certificate.spec.dnsNames.includes('kube-request-access.kube-request-access.svc'));
      for (const webhook of config.webhooks)
        assert.equal(webhook.clientConfig.caBundle, undefined, 'cert-manager injects it');
      assert.ok(!certManager.some((o) => o.kind === 'Secret'), 'no helm-made certificate');
      const pod = find(certManager, 'Deployment').spec.template.spec;
      assert.equal(pod.volumes.find((v: any) => v.name === 'tls').secret.secretName, certificate.spec.secretName);
      assert.ok(args(certManager).includes('--client-ca-file=/etc/kube-request-access/client-ca/ca.crt'));
      const mount = pod.containers[0].volumeMounts.find((m: any) => m.name === 'client-ca');
      assert.equal(mount.mountPath, '/etc/kube-request-access/client-ca');
      const volume = pod.volumes.find((v: any) => v.name === 'client-ca');
      const configMap = find(certManager, 'ConfigMap', volume.configMap.name);
      assert.equal(configMap.data['ca.crt'], PEM_CA);
      assert.deepEqual(volume.configMap.items, [{ key: 'ca.crt', path: 'ca.crt' }]);
    });

    it('has a value for every server flag (adapters/node/serve.ts serveArgs)', async () => {
      const everything = await template([everythingValues]);
      const given = args(everything);
      const flags = flagsOf(given);
      const missing = Object.keys(serveArgs).filter((flag) => {
        if (CHART_INTERNAL.has(flag)) return false;
        if (flag === 'http2') return !given.includes('--no-http2');
        return flags[flag as keyof typeof flags] === undefined || !given.some((a) => a.startsWith(`--${flag}=`));
      });
      assert.deepEqual(
        missing,
        [],
        'add a value for these flags to charts/kube-request-access (values.yaml, templates/deployment.yaml), or list them in CHART_INTERNAL',
      );
      assert.equal(flags['always-allowed-group-name'], 'system:masters,sre');
      assert.equal(flags['always-allowed-user-name'], 'root-user');
      assert.equal(flags['username-prefix'], 'oidc:');
      assert.equal(flags['granted-role-kind'], 'Role');
      assert.equal(flags.http2, false);
      assert.equal(flags.v, '2');
      assert.ok(given.includes('--some-future-flag=1'), 'extraArgs');
      const config = configFrom(flags);
      assert.equal(config.maxValidForMs, 4 * 3600_000);
      // The file flags point at mounted volumes.
      const pod = find(everything, 'Deployment').spec.template.spec;
      const mounted = (file: string) =>
        pod.containers[0].volumeMounts.some((m: any) => file.startsWith(`${m.mountPath}/`));
      for (const flag of [
        'cert-file',
        'key-file',
        'client-ca-file',
        'audit-webhook-ca-bundle',
        'extended-validation-webhook-ca-bundle',
      ] as const) {
        assert.ok(mounted(String(flags[flag])), `--${flag}=${flags[flag]} is not on a mounted volume`);
      }
      assert.deepEqual(pod.volumes.find((v: any) => v.name === 'client-ca').secret, {
        secretName: 'apiserver-client-ca',
        items: [{ key: 'ca.pem', path: 'ca.crt' }],
      });
      // With kind Role, the chart makes the Role in each listed namespace and may bind only it.
      assert.deepEqual(
        everything.filter((o) => o.kind === 'Role' && o.metadata.name === 'granted').map((o) => o.metadata.namespace),
        ['team-a', 'team-b'],
      );
      const bind = find(everything, 'ClusterRole', 'kube-request-access:webhook').rules.find((r: any) =>
        r.verbs.includes('bind'),
      );
      assert.deepEqual(bind, {
        apiGroups: ['rbac.authorization.k8s.io'],
        resources: ['roles'],
        verbs: ['bind'],
        resourceNames: ['granted'],
      });
      assert.deepEqual(lintBindings(everything, DEFAULT_UNGATED_NAMESPACES), []);
      assert.deepEqual(lintWebhook(everything), []);
    });

    it('refuses a granted Role in an ungated namespace, and runs mode B without a granted role', async () => {
      const refused = await helm([
        'template',
        'kube-request-access',
        CHART,
        '-n',
        'kube-request-access',
        '--kube-version',
        KUBE_VERSION,
        '--set',
        'grantedRole.kind=Role',
        '--set',
        'grantedRole.namespaces={team-a,kube-system}',
      ]);
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr, /kube-system is ungated/);
      const modeB = await template([], ['grantedRole.name=']);
      assert.ok(!args(modeB).some((a) => a.startsWith('--granted-role')));
      assert.ok(
        !find(modeB, 'ClusterRole', 'kube-request-access:webhook').rules.some((r: any) => r.verbs.includes('bind')),
      );
      assert.ok(!modeB.some((o) => o.metadata.name === 'kube-request-access-granted-exec'));
      assert.deepEqual(lintWebhook(modeB), []);
    });

    it("gives the service account manifests/base/rbac.yaml's rules and ships manifests/crds unchanged", async () => {
      const base = parseYaml(await readFile(path.join(ROOT, 'manifests/base/rbac.yaml'), 'utf8'));
      assert.deepEqual(
        find(defaults, 'ClusterRole', 'kube-request-access:webhook').rules,
        find(base, 'ClusterRole', 'kube-request-access:webhook').rules,
      );
      const roles = parseYaml(await readFile(path.join(ROOT, 'manifests/base/roles.yaml'), 'utf8'));
      for (const name of [
        'kube-request-access:developer',
        'kube-request-access:approver',
        'kube-request-access:policy-admin',
        'kube-request-access-granted-exec',
      ]) {
        assert.deepEqual(find(defaults, 'ClusterRole', name).rules, find(roles, 'ClusterRole', name).rules, name);
      }
      for (const file of ['accessrequests.yaml', 'accessgrants.yaml', 'accesspolicies.yaml']) {
        const [chart, kustomize] = await Promise.all([
          readFile(path.join(CHART, 'crds', file), 'utf8'),
          readFile(path.join(ROOT, 'manifests/crds', file), 'utf8'),
        ]);
        assert.equal(
          chart,
          kustomize,
          `charts/kube-request-access/crds/${file} differs: cp manifests/crds/${file} charts/kube-request-access/crds/`,
        );
      }
    });
  },
);
