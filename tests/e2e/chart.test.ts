// The Helm chart installed into the real control plane: `helm install` (helm from scripts/build-helm.sh)
// creates the CRDs, RBAC, roles, Deployment, Service, PDB and the ValidatingWebhookConfiguration.
// The local control plane runs no real containers for the Deployment, so the server runs here, as
// the chart's service account, with the arguments the chart rendered into its Deployment; the
// chart's webhook configuration points at it (webhook.url, a value for servers outside the
// cluster). Then one exec goes through: a developer's one-shot request, an approver's grant, the
// RoleBinding of the chart's granted role made by the service account, a real `kubectl exec` on
// a KWOK pod, and the second exec refused. The unit test tests/unit/chart.test.ts lints the renders.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { ROOT, startControlPlane, type ControlPlane } from '../controlplane/cluster.ts';
import { parseYaml, serverArgs } from '../support/manifests-lint.ts';
import {
  accessGrant,
  accessRequest,
  execProbe,
  getJson,
  mustCreate,
  roleBindings,
  runningPod,
  startServe,
  waitFor,
  type ServeProcess,
} from './_kra.ts';

const run = promisify(execFile);
const HELM = path.join(ROOT, '.dev/bin/helm');
const CHART = path.join(ROOT, 'charts/kube-request-access');
const NAMESPACE = 'kube-request-access';
/** The control plane's own RBAC already holds roles named kube-request-access:…, so the release gets its own names. */
const RELEASE = 'kra';
const GRANTED_ROLE = 'kra-granted-exec';

describe('the Helm chart on a real kube-apiserver', () => {
  let cp: ControlPlane;
  let dir: string;
  let server: ServeProcess | undefined;
  let helm: (args: readonly string[]) => Promise<{ code: number; stdout: string; stderr: string }>;

  before(async () => {
    const built = await run('nice', ['bash', path.join(ROOT, 'scripts/build-helm.sh')], {
      maxBuffer: 16 * 1024 * 1024,
    }).catch((error) => error);
    assert.ok(existsSync(HELM), `scripts/build-helm.sh did not build ${HELM}: ${built?.stderr ?? ''}`);
    dir = await mkdtemp(path.join(tmpdir(), 'kra-chart-e2e-'));
    cp = await startControlPlane({ dir, webhookConfiguration: false, log: (line) => console.error(`# ${line}`) });
    helm = async (args) => {
      try {
        const { stdout, stderr } = await run(
          HELM,
          [...args, '--kubeconfig', cp.kubeconfig, '--kube-context', 'admin'],
          {
            maxBuffer: 16 * 1024 * 1024,
            env: {
              ...process.env,
              HELM_CACHE_HOME: path.join(dir, 'helm/cache'),
              HELM_CONFIG_HOME: path.join(dir, 'helm/config'),
              HELM_DATA_HOME: path.join(dir, 'helm/data'),
            },
          },
        );
        return { code: 0, stdout, stderr };
      } catch (error) {
        const e = error as { code?: number; stdout?: string; stderr?: string };
        return {
          code: typeof e.code === 'number' ? e.code : 1,
          stdout: e.stdout ?? '',
          stderr: e.stderr ?? String(error),
        };
      }
    };
  });

  after(async () => {
    await server?.stop();
    if (server && process.env.KRA_E2E_KEEP_LOGS) console.error(await readFile(server.log, 'utf8'));
    await cp?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('helm install: the chart with a server outside the cluster, its TLS CA and the client CA', async () => {
    const install = await helm([
      'install',
      RELEASE,
      CHART,
      '--namespace',
      NAMESPACE,
      '--create-namespace',
      '--set',
      `fullnameOverride=${RELEASE}`,
      '--set',
      `grantedRole.name=${GRANTED_ROLE}`,
      '--set',
      'tls.mode=secret',
      '--set',
      'tls.secretName=kra-local-tls',
      '--set-file',
      `tls.caBundle=${cp.caFile}`,
      '--set',
      `webhook.url=${cp.webhookUrl}`,
      '--set-file',
      `clientCA.pem=${cp.webhookClientCaFile}`,
    ]);
    assert.equal(install.code, 0, install.stderr);
    assert.match(install.stdout, /STATUS: deployed/);
    const config = await getJson<{
      webhooks: { name: string; clientConfig: { url?: string; caBundle?: string }; namespaceSelector?: any }[];
    }>(cp, ['validatingwebhookconfiguration', RELEASE]);
    assert.deepEqual(
      config.webhooks.map((w) => w.name),
      ['exec.kube-request-access.io', 'objects.kube-request-access.io'],
    );
    for (const webhook of config.webhooks) {
      assert.equal(webhook.clientConfig.url, cp.webhookUrl);
      assert.equal(Buffer.from(webhook.clientConfig.caBundle ?? '', 'base64').toString(), cp.caPem);
    }
    assert.deepEqual(config.webhooks[0]!.namespaceSelector.matchExpressions[0].values, ['kube-system', NAMESPACE]);
    // The objects webhook selects every namespace (the apiserver stores the absent selector as {}).
    assert.deepEqual(config.webhooks[1]!.namespaceSelector ?? {}, {});
    for (const [kind, name] of [
      ['deployment', `-n=${NAMESPACE}`, RELEASE],
      ['serviceaccount', `-n=${NAMESPACE}`, RELEASE],
      ['poddisruptionbudget', `-n=${NAMESPACE}`, RELEASE],
      ['service', `-n=${NAMESPACE}`, RELEASE],
      ['configmap', `-n=${NAMESPACE}`, `${RELEASE}-client-ca`],
      ['clusterrole', '', `${RELEASE}:webhook`],
      ['clusterrolebinding', '', `${RELEASE}:webhook`],
      ['clusterrole', '', GRANTED_ROLE],
      ['clusterrole', '', `${RELEASE}:developer`],
      // (the control plane applies the CRDs itself, so Helm's crds/ step finds them present)
      ['crd', '', 'accessrequests.kube-request-access.io'],
    ].map(([k, ns, n]) => [[k!, ...(ns ? [ns] : [])], n!] as const)) {
      const got = await cp.kubectl('admin', ['get', ...kind, name, '-o', 'name']);
      assert.equal(got.code, 0, `${kind.join(' ')} ${name}: ${got.stderr}`);
    }
  });

  it('runs one exec through the chart: request, grant, the granted role bound by the service account, exec once', async () => {
    // The chart's Deployment arguments, as the pod would run them (paths replaced by local files).
    const manifest = await helm(['get', 'manifest', RELEASE, '--namespace', NAMESPACE]);
    assert.equal(manifest.code, 0, manifest.stderr);
    const deployment = parseYaml(manifest.stdout).find((o) => o.kind === 'Deployment' && o.metadata.name === RELEASE)!;
    // Replaced below by local files and a faster cleanup (serve refuses a flag given twice).
    const local = new Set(['--address', '--cert-file', '--key-file', '--client-ca-file', '--cleanup-interval']);
    const chartArgs = serverArgs(deployment)
      .slice(1)
      .filter((a) => !local.has(a.split('=')[0]!));
    assert.ok(chartArgs.includes(`--granted-role-name=${GRANTED_ROLE}`), chartArgs.join(' '));
    assert.ok(chartArgs.includes(`--ungated-namespaces=kube-system,${NAMESPACE}`), chartArgs.join(' '));
    assert.ok(serverArgs(deployment).includes('--client-ca-file=/etc/kube-request-access/client-ca/ca.crt'));

    // As the chart's service account, with only the chart's RBAC.
    const token = await cp.kubectl('admin', ['create', 'token', RELEASE, '-n', NAMESPACE, '--duration', '1h']);
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
    server = await startServe(
      cp,
      'chart',
      [
        ...chartArgs,
        '--client-ca-file',
        cp.webhookClientCaFile,
        '--kubeconfig',
        kubeconfig,
        '--context',
        'sa',
        '--cleanup-interval',
        '1s',
      ],
      cp.webhookPort,
    );

    const sandbox = await runningPod(cp, 'web', 'team-a');
    await writeFile(path.join(sandbox, 'notes.txt'), 'through the chart\n');
    // Before any request alice holds no exec at all (mode A): RBAC refuses.
    const before = await execProbe(cp, 'alice', {
      namespace: 'team-a',
      pod: 'web',
      container: 'app',
      command: ['cat', 'notes.txt'],
    });
    assert.equal(before.status, 403, before.body);
    assert.match(before.body, /cannot create resource \\"pods\/exec\\"/);

    await mustCreate(
      cp,
      'alice',
      accessRequest({
        name: 'chart-flow',
        namespace: 'team-a',
        user: 'alice',
        pod: 'web',
        command: ['cat', 'notes.txt'],
      }),
    );
    const request = await getJson<{ metadata: { uid: string } }>(cp, ['accessrequest', '-n', 'team-a', 'chart-flow']);
    const grant = accessGrant({ name: 'chart-flow', namespace: 'team-a', grantFor: 'chart-flow', by: 'carol' });
    await mustCreate(cp, 'carol', { ...grant, spec: { ...grant.spec, grantForUID: request.metadata.uid } });
    const binding = async () =>
      (await roleBindings(cp, 'team-a')).find((b) => b.metadata.name === 'kube-request-access.chart-flow');
    const bound = await waitFor('the RoleBinding of the chart’s granted role', binding, 10_000);
    assert.equal(bound.roleRef.name, GRANTED_ROLE);

    const exec = await cp.kubectl('alice', ['exec', '-n', 'team-a', 'web', '-c', 'app', '--', 'cat', 'notes.txt'], {
      timeoutMs: 30_000,
    });
    assert.equal(exec.code, 0, exec.stderr);
    assert.equal(exec.stdout, 'through the chart\n');
    // One-shot: used up by that exec.
    const again = await cp.kubectl('alice', ['exec', '-n', 'team-a', 'web', '-c', 'app', '--', 'cat', 'notes.txt'], {
      timeoutMs: 30_000,
    });
    assert.notEqual(again.code, 0);
    assert.match(again.stderr, /denied the request|forbidden/i);

    // Admins (the chart's alwaysAllowedGroups) exec without a request, through the webhook.
    const admin = await cp.kubectl('admin', ['exec', '-n', 'team-a', 'web', '-c', 'app', '--', 'cat', 'notes.txt'], {
      timeoutMs: 30_000,
    });
    assert.equal(admin.code, 0, admin.stderr);
    const log = await readFile(server.log, 'utf8');
    assert.match(log, /"allowed":true/);
  });

  it('helm uninstall removes the webhook configuration and the RBAC (the CRDs stay, as Helm does)', async () => {
    const uninstall = await helm(['uninstall', RELEASE, '--namespace', NAMESPACE]);
    assert.equal(uninstall.code, 0, uninstall.stderr);
    assert.notEqual((await cp.kubectl('admin', ['get', 'validatingwebhookconfiguration', RELEASE])).code, 0);
    assert.notEqual((await cp.kubectl('admin', ['get', 'clusterrole', `${RELEASE}:webhook`])).code, 0);
    assert.equal((await cp.kubectl('admin', ['get', 'crd', 'accessgrants.kube-request-access.io'])).code, 0);
  });
});
