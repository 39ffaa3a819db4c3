// The lint of rendered deployment manifests (kustomize in tests/unit/manifests-lint.test.ts, the
// Helm chart in tests/unit/chart.test.ts): pure functions over the rendered objects that find the
// ways exec could escape the webhook. Each returns a list of problems, empty when all is well.
// - lintBindings: no ClusterRoleBinding, and no RoleBinding in an ungated namespace, binds a role
//   that grants pods/exec, pods/attach, pods/portforward, pods/ephemeralcontainers or nodes/proxy
//   (wildcards included); no exec-granting role aggregates into a built-in one;
// - lintWebhook: the objects webhook reviews CREATE, UPDATE and DELETE of requests and grants in
//   every namespace; the exec webhook excludes exactly the ungated namespaces, by name; the
//   Deployment passes the same list as --ungated-namespaces, and configFrom reads it so.
import { parseArgs } from 'citty';
import { parseAllDocuments } from 'yaml';
import { configFrom, serveArgs, type ServeFlags } from '../../adapters/node/serve.ts';
import { DEFAULT_UNGATED_NAMESPACES } from '../../functions/types.ts';

export type Obj = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: any;
};
export type Rule = { apiGroups?: string[]; resources?: string[]; verbs?: string[]; nonResourceURLs?: string[] };

export const EXEC_WEBHOOK = 'exec.kube-request-access.io';
export const OBJECTS_WEBHOOK = 'objects.kube-request-access.io';
export const NAME_LABEL = 'kubernetes.io/metadata.name';

/** What the exec webhook gates, and nodes/proxy, which reaches the kubelet without admission. */
export const GATED = [
  'pods/exec',
  'pods/attach',
  'pods/portforward',
  'pods/ephemeralcontainers',
  'nodes/proxy',
] as const;

// ---------------------------------------------------------------------------------------------
// The lint

/**
 * Whether an RBAC rule allows anything on `resource` (`pods/exec`). Matches as the RBAC authorizer
 * does: `*`, the exact name, or `*\/sub` (`pods/*` is no wildcard in RBAC); core group `""` or `*`.
 * Any verb but list and watch counts: `get` alone opened exec over WebSocket before 1.35, and
 * nodes/proxy takes every verb to the kubelet.
 */
export function ruleAllows(rule: Rule, resource: string): boolean {
  const sub = resource.split('/')[1];
  const groups = rule.apiGroups ?? [];
  if (!groups.includes('') && !groups.includes('*')) return false;
  if (!(rule.resources ?? []).some((r) => r === '*' || r === resource || (sub !== undefined && r === `*/${sub}`)))
    return false;
  return (rule.verbs ?? []).some((verb) => verb !== 'list' && verb !== 'watch');
}

/** The gated resources a role grants, or undefined when its rules cannot be seen here. */
export function gatedBy(role: Obj | undefined): string[] | undefined {
  if (!role || role.aggregationRule) return undefined;
  return GATED.filter((resource) => (role.rules ?? []).some((rule: Rule) => ruleAllows(rule, resource)));
}

const id = (o: Obj) => `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`;

/** Bindings that hand out exec or its friends where the exec webhook does not check them. */
export function lintBindings(objects: readonly Obj[], ungated: readonly string[]): string[] {
  const problems: string[] = [];
  const roles = new Map<string, Obj>();
  for (const o of objects) {
    if (o.kind === 'ClusterRole') roles.set(`ClusterRole/${o.metadata.name}`, o);
    if (o.kind === 'Role') roles.set(`Role/${o.metadata.namespace ?? ''}/${o.metadata.name}`, o);
  }
  for (const role of roles.values()) {
    const granted = gatedBy(role) ?? [];
    const aggregateTo = Object.keys(role.metadata.labels ?? {}).filter((l) =>
      l.startsWith('rbac.authorization.k8s.io/aggregate-to-'),
    );
    if (granted.length > 0 && aggregateTo.length > 0) {
      problems.push(
        `${id(role)} grants ${granted.join(', ')} and carries ${aggregateTo.join(', ')}: it would be folded into a built-in role bound cluster-wide`,
      );
    }
  }
  for (const binding of objects) {
    if (binding.kind !== 'ClusterRoleBinding' && binding.kind !== 'RoleBinding') continue;
    const namespace = binding.metadata.namespace;
    const ref = binding.roleRef ?? {};
    const role = roles.get(ref.kind === 'Role' ? `Role/${namespace ?? ''}/${ref.name}` : `ClusterRole/${ref.name}`);
    const granted = gatedBy(role);
    const where =
      binding.kind === 'ClusterRoleBinding'
        ? 'cluster-wide, the ungated namespaces included'
        : namespace === undefined
          ? 'without a namespace (kubectl would put it in its current one, perhaps an ungated one)'
          : ungated.includes(namespace)
            ? `in the ungated namespace ${namespace}, where the exec webhook checks nothing`
            : undefined;
    if (where === undefined) continue;
    if (granted === undefined) {
      problems.push(
        `${id(binding)} binds ${ref.kind} ${ref.name} ${where}; its rules are not in these manifests (or aggregated), so nothing shows it grants no exec`,
      );
    } else if (granted.length > 0) {
      problems.push(`${id(binding)} binds ${ref.kind} ${ref.name}, which grants ${granted.join(', ')}, ${where}`);
    }
  }
  return problems;
}

export const sameSet = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && [...a].sort().join() === [...b].sort().join();
export const list = (text: string) =>
  text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** The namespaces a webhook's namespaceSelector excludes by name, or a problem if it selects any other way. */
export function exclusions(webhook: any): { excluded: string[]; problems: string[] } {
  const selector = webhook.namespaceSelector;
  if (selector === undefined || selector === null) return { excluded: [], problems: [] };
  const problems: string[] = [];
  if (Object.keys(selector.matchLabels ?? {}).length > 0)
    problems.push(
      `${webhook.name}: namespaceSelector.matchLabels selects by labels that whoever labels namespaces can set`,
    );
  const excluded: string[] = [];
  for (const e of selector.matchExpressions ?? []) {
    if (e.key === NAME_LABEL && e.operator === 'NotIn') excluded.push(...e.values);
    else
      problems.push(
        `${webhook.name}: namespaceSelector expression ${JSON.stringify(e)} leaves namespaces out by something other than their name`,
      );
  }
  return { excluded, problems };
}

/**
 * The server's heap cap (NODE_OPTIONS --max-old-space-size, MiB) leaves room under its memory
 * limit for the rest of the process (at least 128 Mi: up to 90 MB were measured outside the cap under
 * load, docs/benchmarks.md): V8 collects before the kernel kills the pod.
 */
export function lintHeap(objects: readonly Obj[]): string[] {
  const deployment = objects.find((o) => o.kind === 'Deployment' && serverArgs(o).length > 0);
  if (!deployment) return ['no Deployment runs the server'];
  const container = deployment.spec.template.spec.containers.find((c: any) => c.args?.[0] === 'serve');
  const nodeOptions: string = container.env?.find((e: any) => e.name === 'NODE_OPTIONS')?.value ?? '';
  const heap = Number(/--max-old-space-size=(\d+)/.exec(nodeOptions)?.[1]);
  const limit = String(container.resources?.limits?.memory ?? '');
  const limitMi = /^(\d+)Mi$/.test(limit)
    ? Number(limit.slice(0, -2))
    : /^(\d+)Gi$/.test(limit)
      ? Number(limit.slice(0, -2)) * 1024
      : NaN;
  if (!heap) return [`the server's NODE_OPTIONS sets no --max-old-space-size (got "${nodeOptions}")`];
  if (!limitMi) return [`the server has no memory limit in Mi or Gi (got "${limit}")`];
  return heap + 128 <= limitMi
    ? []
    : [`--max-old-space-size=${heap} leaves less than 128Mi of the ${limit} memory limit`];
}

/** The `--name=value` (or `--name value`) argument of the webhook server's container. */
export function serverArgs(deployment: Obj): string[] {
  const container = deployment.spec.template.spec.containers.find((c: any) => c.args?.[0] === 'serve');
  return container?.args ?? [];
}

export function flagsOf(args: readonly string[]): ServeFlags {
  return parseArgs(args.slice(1), serveArgs) as unknown as ServeFlags;
}

/** The webhook configuration and the server's flags: reviewed where they must be, the same exclusions. */
export function lintWebhook(
  objects: readonly Obj[],
  ungated: readonly string[] = DEFAULT_UNGATED_NAMESPACES,
  name = 'kube-request-access',
): string[] {
  const problems: string[] = [];
  const configs = objects.filter((o) => o.kind === 'ValidatingWebhookConfiguration' && o.metadata.name === name);
  if (configs.length !== 1) return [`expected one ValidatingWebhookConfiguration ${name}, found ${configs.length}`];
  const webhooks: any[] = configs[0]!.webhooks ?? [];
  const exec = webhooks.find((w) => w.name === EXEC_WEBHOOK);
  const objectsHook = webhooks.find((w) => w.name === OBJECTS_WEBHOOK);
  if (!exec) problems.push(`no webhook ${EXEC_WEBHOOK}`);
  if (!objectsHook) problems.push(`no webhook ${OBJECTS_WEBHOOK}`);

  if (objectsHook) {
    const { excluded, problems: how } = exclusions(objectsHook);
    problems.push(...how);
    if (excluded.length > 0)
      problems.push(
        `${OBJECTS_WEBHOOK}: namespaceSelector excludes ${excluded.join(', ')}; requests and grants there would not be reviewed`,
      );
    if (objectsHook.objectSelector && Object.keys(objectsHook.objectSelector).length > 0) {
      problems.push(`${OBJECTS_WEBHOOK}: objectSelector: a request's labels are the requester's to choose`);
    }
    for (const resource of ['accessrequests', 'accessgrants']) {
      for (const op of ['CREATE', 'UPDATE', 'DELETE']) {
        const covered = (objectsHook.rules ?? []).some(
          (r: any) =>
            (r.operations.includes(op) || r.operations.includes('*')) &&
            (r.apiGroups.includes('kube-request-access.io') || r.apiGroups.includes('*')) &&
            (r.apiVersions.includes('v1') || r.apiVersions.includes('*')) &&
            (r.resources.includes(resource) || r.resources.includes('*')) &&
            (r.scope === undefined || r.scope === '*' || r.scope === 'Namespaced'),
        );
        if (!covered) problems.push(`${OBJECTS_WEBHOOK}: ${op} of ${resource} is not reviewed`);
      }
    }
  }

  if (exec) {
    const { excluded, problems: how } = exclusions(exec);
    problems.push(...how);
    if (!sameSet(excluded, ungated)) {
      const what = ungated === DEFAULT_UNGATED_NAMESPACES ? 'DEFAULT_UNGATED_NAMESPACES' : 'the ungated namespaces';
      problems.push(`${EXEC_WEBHOOK}: excludes [${excluded.join(', ')}], not ${what} [${ungated.join(', ')}]`);
    }
    const deployment = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === name);
    if (!deployment) return [...problems, `no Deployment ${name}`];
    const args = serverArgs(deployment);
    const flag = args.find((a) => a.startsWith('--ungated-namespaces='));
    if (!flag) {
      problems.push('the Deployment does not pass --ungated-namespaces explicitly');
    } else if (!sameSet(list(flag.split('=')[1] ?? ''), excluded)) {
      problems.push(`the Deployment passes ${flag}, the exec webhook excludes [${excluded.join(', ')}]`);
    }
    const parsed = configFrom(flagsOf(args)).ungatedNamespaces;
    if (!sameSet(parsed, excluded)) {
      problems.push(
        `configFrom(the Deployment's args).ungatedNamespaces is [${parsed.join(', ')}], the exec webhook excludes [${excluded.join(', ')}]`,
      );
    }
  }
  return problems;
}

export const parseYaml = (text: string) =>
  parseAllDocuments(text)
    .map((doc) => doc.toJSON() as Obj)
    .filter(Boolean);
