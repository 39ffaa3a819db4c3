// Lints the rendered manifests (every kustomization, every component, the examples and the test
// control plane's RBAC) for the ways exec could escape the webhook (issue 12, holes 3 and 4):
// - no ClusterRoleBinding, and no RoleBinding in an ungated namespace, binds a role that grants
//   pods/exec, pods/attach, pods/portforward, pods/ephemeralcontainers or nodes/proxy (wildcards
//   included);
// - the objects webhook reviews CREATE, UPDATE and DELETE of requests and grants in every namespace;
// - the exec webhook excludes exactly DEFAULT_UNGATED_NAMESPACES, the deployment passes the same
//   list as --ungated-namespaces, and the server (configFrom) and the reconciler
//   (desiredRoleBindings) read it the same way: no binding is ever made in an ungated namespace.
// The lint is a set of pure functions over rendered objects (tests/support/manifests-lint.ts, shared
// with the Helm chart's test); the second half breaks the shipped
// manifests on purpose, one way at a time, and shows that each break is caught.
// `kubectl kustomize` runs offline: no control plane is needed.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { configFrom } from '../../adapters/node/serve.ts';
import { desiredRoleBindings } from '../../functions/reconcile/index.ts';
import { DEFAULT_UNGATED_NAMESPACES } from '../../functions/types.ts';
import { NAMESPACES, ROOT, UNGATED_NAMESPACES } from '../controlplane/cluster.ts';
import {
  EXEC_WEBHOOK,
  exclusions,
  flagsOf,
  lintBindings,
  lintHeap,
  lintWebhook,
  NAME_LABEL,
  OBJECTS_WEBHOOK,
  parseYaml,
  serverArgs,
  type Obj,
  type Rule,
} from '../support/manifests-lint.ts';
import { at, grant, request } from './kubernetes/_objects.ts';

const run = promisify(execFile);

// ---------------------------------------------------------------------------------------------
// Rendering

async function kustomize(dir: string): Promise<Obj[]> {
  const { stdout } = await run('kubectl', ['kustomize', dir], { maxBuffer: 16 * 1024 * 1024 });
  return parseYaml(stdout);
}

async function yamlFiles(...files: string[]): Promise<Obj[]> {
  return (await Promise.all(files.map(async (f) => parseYaml(await readFile(path.join(ROOT, f), 'utf8'))))).flat();
}
const yamlIn = async (dir: string) =>
  (await readdir(path.join(ROOT, dir)))
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((f) => path.join(dir, f));

/** Every folder under manifests/ with a kustomization.yaml, as [relative path, kind]. */
async function kustomizations(): Promise<[string, string][]> {
  const found: [string, string][] = [];
  for (const entry of await readdir(path.join(ROOT, 'manifests'), { recursive: true })) {
    if (path.basename(String(entry)) !== 'kustomization.yaml') continue;
    const text = await readFile(path.join(ROOT, 'manifests', String(entry)), 'utf8');
    found.push([
      path.join('manifests', path.dirname(String(entry))),
      /^kind:\s*Component\b/m.test(text) ? 'Component' : 'Kustomization',
    ]);
  }
  return found.sort(([a], [b]) => a.localeCompare(b));
}

const clone = <T>(value: T): T => structuredClone(value);

// ---------------------------------------------------------------------------------------------

describe('manifests lint: what ships', () => {
  const renders = new Map<string, Obj[]>();
  let tmp: string;
  let components: string[];
  let base: Obj[];

  before(async () => {
    tmp = await mkdtemp(path.join(tmpdir(), 'kra-lint-'));
    const all = await kustomizations();
    components = all.filter(([, kind]) => kind === 'Component').map(([dir]) => dir);
    for (const [dir, kind] of all)
      if (kind === 'Kustomization') renders.set(dir, await kustomize(path.join(ROOT, dir)));
    // Components cannot be rendered alone: on top of the base, one at a time and all together.
    const overlay = async (name: string, parts: string[]) => {
      const dir = path.join(tmp, name.replaceAll('/', '_'));
      const rel = (p: string) => path.relative(dir, path.join(ROOT, p));
      await mkdir(dir, { recursive: true });
      await writeFile(
        path.join(dir, 'kustomization.yaml'),
        JSON.stringify({
          apiVersion: 'kustomize.config.k8s.io/v1beta1',
          kind: 'Kustomization',
          resources: [rel('manifests/base')],
          components: parts.map(rel),
        }),
      );
      renders.set(`manifests/base + ${name}`, await kustomize(dir));
    };
    for (const component of components) await overlay(component, [component]);
    await overlay('every component', components);
    base = renders.get('manifests/base')!;
    // The examples are applied with kubectl apply -f beside the base, whose roles they bind.
    renders.set('manifests/base + manifests/examples', [
      ...base,
      ...(await yamlFiles(...(await yamlIn('manifests/examples')))),
    ]);
  });

  after(async () => {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('renders every kustomization and component under manifests/, and the examples', () => {
    for (const dir of ['manifests', 'manifests/base', 'manifests/crds', 'manifests/overlays/cert-manager'])
      assert.ok(renders.has(dir), `${dir} not rendered`);
    assert.ok(components.length >= 3, `components: ${components.join(', ')}`);
    assert.ok(renders.has('manifests/base + every component'));
    const examples = renders.get('manifests/base + manifests/examples')!;
    assert.ok(
      examples.some(
        (o) => o.kind === 'RoleBinding' && o.metadata.name === 'kube-request-access:developers-standing-exec',
      ),
    );
  });

  it('binds exec and its friends nowhere cluster-wide and never in an ungated namespace', () => {
    for (const [name, objects] of renders)
      assert.deepEqual(lintBindings(objects, DEFAULT_UNGATED_NAMESPACES), [], name);
  });

  it('reviews requests and grants everywhere and excludes exactly the ungated namespaces from exec, as the server is told', () => {
    for (const [name, objects] of renders) {
      if (!objects.some((o) => o.kind === 'ValidatingWebhookConfiguration')) continue;
      assert.deepEqual(lintWebhook(objects), [], name);
    }
  });

  it("the test control plane's RBAC passes the same lint in both modes", async () => {
    const plane = await yamlFiles('tests/controlplane/rbac.yaml', 'tests/controlplane/rbac-developers-exec.yaml');
    assert.ok(
      plane.some((o) => o.kind === 'RoleBinding'),
      'rbac-developers-exec.yaml binds per namespace',
    );
    assert.deepEqual(lintBindings(plane, UNGATED_NAMESPACES), []);
    // Standing exec is bound in exactly the gated namespaces the control plane creates.
    const standing = plane.filter(
      (o) => o.kind === 'RoleBinding' && o.roleRef.name === 'kube-request-access:developer-exec',
    );
    assert.deepEqual(standing.map((o) => o.metadata.namespace).sort(), [...NAMESPACES].sort());
  });

  it("caps the server's heap below its memory limit", () => {
    assert.deepEqual(lintHeap(renders.get('manifests')!), []);
    assert.deepEqual(
      lintHeap(
        edit(structuredClone(renders.get('manifests')!), 'Deployment', 'kube-request-access', (d) => {
          d.spec.template.spec.containers[0].resources.limits.memory = '256Mi';
        }),
      ).length,
      1,
      'a heap cap that leaves no room is flagged',
    );
  });

  it('the manifests, the server flags and the reconciler agree: no RoleBinding in an ungated namespace', () => {
    const objects = renders.get('manifests')!;
    const config = objects.find((o) => o.kind === 'ValidatingWebhookConfiguration')!;
    const excluded = exclusions(config.webhooks.find((w: any) => w.name === EXEC_WEBHOOK)).excluded;
    const deployment = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'kube-request-access')!;
    const flags = flagsOf(serverArgs(deployment));
    const server = configFrom(flags);
    assert.deepEqual([...server.ungatedNamespaces].sort(), [...excluded].sort());
    assert.deepEqual([...excluded].sort(), [...DEFAULT_UNGATED_NAMESPACES].sort());
    // The reconciler's configuration as the server builds it from the same flags. Not annotated
    // as ReconcileConfig so that this compiles before and after that type grows ungatedNamespaces.
    const reconcile = {
      grantedRoleName: flags['granted-role-name'],
      grantedRoleKind: flags['granted-role-kind'] === 'Role' ? ('Role' as const) : ('ClusterRole' as const),
      usernamePrefix: server.usernamePrefix,
      ungatedNamespaces: server.ungatedNamespaces,
    };
    assert.ok(reconcile.grantedRoleName, 'the shipped Deployment runs mode A (--granted-role-name)');
    const granted = (namespace: string) => {
      const r = request('r1', { namespace });
      return desiredRoleBindings({
        requests: [r],
        grants: [grant('g1', 'r1', { namespace, forUID: r.metadata.uid })],
        now: at('2026-01-01T10:02:00Z'),
        config: reconcile,
      }).bindings.map((b) => `${b.metadata.namespace}/${b.metadata.name}`);
    };
    assert.deepEqual(granted('team-a'), ['team-a/kube-request-access.r1']);
    for (const namespace of excluded)
      assert.deepEqual(granted(namespace), [], `a RoleBinding in the ungated namespace ${namespace}`);
  });

  describe('breaking a manifest on purpose: each break is caught', () => {
    const breaks: [string, (objects: Obj[]) => Obj[], RegExp][] = [
      [
        'a ClusterRoleBinding of the granted role',
        (o) => [...o, crb('kube-request-access-granted-exec')],
        /ClusterRoleBinding oops binds ClusterRole kube-request-access-granted-exec, which grants pods\/exec, pods\/attach, pods\/portforward, pods\/ephemeralcontainers, cluster-wide/,
      ],
      [
        'a ClusterRoleBinding of a role with "*" resources in "*" groups, get only',
        (o) => [...o, role('reader', [{ apiGroups: ['*'], resources: ['*'], verbs: ['get'] }]), crb('reader')],
        /binds ClusterRole reader, which grants pods\/exec, .*nodes\/proxy, cluster-wide/,
      ],
      [
        'a ClusterRoleBinding of "*/exec"',
        (o) => [...o, role('r', [{ apiGroups: [''], resources: ['*/exec'], verbs: ['create'] }]), crb('r')],
        /grants pods\/exec, cluster-wide/,
      ],
      [
        'a ClusterRoleBinding of nodes/proxy',
        (o) => [...o, role('r', [{ apiGroups: [''], resources: ['nodes/proxy'], verbs: ['get'] }]), crb('r')],
        /grants nodes\/proxy, cluster-wide/,
      ],
      [
        'a ClusterRoleBinding of verbs "*" on pods/attach',
        (o) => [...o, role('r', [{ apiGroups: [''], resources: ['pods/attach'], verbs: ['*'] }]), crb('r')],
        /grants pods\/attach, cluster-wide/,
      ],
      [
        'a ClusterRoleBinding of a built-in role the lint cannot see',
        (o) => [...o, crb('edit')],
        /binds ClusterRole edit cluster-wide.*not in these manifests/,
      ],
      [
        'a RoleBinding of the granted role in kube-system',
        (o) => [...o, rb('kube-system', 'kube-request-access-granted-exec')],
        /RoleBinding kube-system\/oops .* in the ungated namespace kube-system/,
      ],
      [
        'a RoleBinding of the granted role without a namespace',
        (o) => [...o, rb(undefined, 'kube-request-access-granted-exec')],
        /without a namespace/,
      ],
      [
        'the granted role aggregated into edit',
        (o) =>
          edit(
            o,
            'ClusterRole',
            'kube-request-access-granted-exec',
            (r) =>
              (r.metadata.labels = { ...r.metadata.labels, 'rbac.authorization.k8s.io/aggregate-to-edit': 'true' }),
          ),
        /carries rbac.authorization.k8s.io\/aggregate-to-edit/,
      ],
      [
        'the objects webhook excluding kube-system',
        (o) =>
          webhook(
            o,
            OBJECTS_WEBHOOK,
            (w) =>
              (w.namespaceSelector = {
                matchExpressions: [{ key: NAME_LABEL, operator: 'NotIn', values: ['kube-system'] }],
              }),
          ),
        /objects.kube-request-access.io: namespaceSelector excludes kube-system/,
      ],
      [
        'the objects webhook selecting by a forgeable label',
        (o) => webhook(o, OBJECTS_WEBHOOK, (w) => (w.namespaceSelector = { matchLabels: { gated: 'yes' } })),
        /objects.kube-request-access.io: namespaceSelector.matchLabels/,
      ],
      [
        'the objects webhook without DELETE',
        (o) => webhook(o, OBJECTS_WEBHOOK, (w) => (w.rules[0].operations = ['CREATE', 'UPDATE'])),
        /DELETE of accessrequests is not reviewed/,
      ],
      [
        'the objects webhook with an objectSelector',
        (o) => webhook(o, OBJECTS_WEBHOOK, (w) => (w.objectSelector = { matchLabels: { a: 'b' } })),
        /objectSelector/,
      ],
      [
        'the exec webhook excluding team-a as well',
        (o) => webhook(o, EXEC_WEBHOOK, (w) => w.namespaceSelector.matchExpressions[0].values.push('team-a')),
        /exec.kube-request-access.io: excludes \[kube-system, kube-request-access, team-a\], not DEFAULT_UNGATED_NAMESPACES/,
      ],
      [
        'the exec webhook not excluding its own namespace',
        (o) => webhook(o, EXEC_WEBHOOK, (w) => (w.namespaceSelector.matchExpressions[0].values = ['kube-system'])),
        /excludes \[kube-system\], not DEFAULT_UNGATED_NAMESPACES/,
      ],
      [
        'the exec webhook leaving out namespaces by another label',
        (o) =>
          webhook(o, EXEC_WEBHOOK, (w) =>
            w.namespaceSelector.matchExpressions.push({ key: 'team', operator: 'Exists' }),
          ),
        /leaves namespaces out by something other than their name/,
      ],
      [
        'a Deployment without --ungated-namespaces',
        (o) => args(o, (a) => a.filter((x) => !x.startsWith('--ungated-namespaces'))),
        /does not pass --ungated-namespaces explicitly/,
      ],
      [
        'a Deployment whose --ungated-namespaces differs from the exec webhook',
        (o) =>
          args(o, (a) => a.map((x) => (x.startsWith('--ungated-namespaces') ? '--ungated-namespaces=kube-system' : x))),
        /passes --ungated-namespaces=kube-system, the exec webhook excludes[\s\S]*configFrom\(the Deployment's args\).ungatedNamespaces is \[kube-system\]/,
      ],
    ];
    for (const [what, breakIt, message] of breaks) {
      it(`fails on ${what}`, () => {
        const broken = breakIt(clone(base));
        const problems = [...lintBindings(broken, DEFAULT_UNGATED_NAMESPACES), ...lintWebhook(broken)];
        assert.match(problems.join('\n'), message, `problems: ${JSON.stringify(problems)}`);
      });
    }

    it('does not flag roles that only read, bound cluster-wide (examples/bindings.yaml)', () => {
      const readers = [
        role('reader', [
          { apiGroups: [''], resources: ['pods', 'pods/log'], verbs: ['get', 'list', 'watch'] },
          { apiGroups: [''], resources: ['*'], verbs: ['list', 'watch'] },
        ]),
        crb('reader'),
      ];
      assert.deepEqual(lintBindings([...clone(base), ...readers], DEFAULT_UNGATED_NAMESPACES), []);
    });
  });
});

const crb = (roleName: string): Obj => ({
  apiVersion: 'rbac.authorization.k8s.io/v1',
  kind: 'ClusterRoleBinding',
  metadata: { name: 'oops' },
  roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: roleName },
  subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'developers' }],
});
const rb = (namespace: string | undefined, roleName: string): Obj => ({
  ...crb(roleName),
  kind: 'RoleBinding',
  metadata: { name: 'oops', ...(namespace ? { namespace } : {}) },
});
const role = (name: string, rules: Rule[]): Obj => ({
  apiVersion: 'rbac.authorization.k8s.io/v1',
  kind: 'ClusterRole',
  metadata: { name },
  rules,
});
const edit = (objects: Obj[], kind: string, name: string, change: (o: Obj) => void) => {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  assert.ok(found, `${kind} ${name}`);
  change(found);
  return objects;
};
const webhook = (objects: Obj[], name: string, change: (w: any) => void) =>
  edit(objects, 'ValidatingWebhookConfiguration', 'kube-request-access', (config) =>
    change(config.webhooks.find((w: any) => w.name === name)),
  );
const args = (objects: Obj[], change: (args: string[]) => string[]) =>
  edit(objects, 'Deployment', 'kube-request-access', (d) => {
    const container = d.spec.template.spec.containers[0];
    container.args = change(container.args);
  });
