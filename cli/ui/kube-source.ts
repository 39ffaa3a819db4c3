// The real Source: list + watch (client-node informers) of AccessRequests and AccessGrants with the
// user's own credentials. All namespaces when the user may list them cluster-wide, else the
// namespaces they may list requests in (as far as they may list namespaces), else the context's.
// AccessPolicies likewise, where the user may watch them (approvers often may not: the page then
// shows no policy details there, and the webhook still judges every grant by them).
import { AuthorizationV1Api, CoreV1Api, CustomObjectsApi, makeInformer, type KubernetesObject } from '@kubernetes/client-node';
import { GROUP, VERSION, type AccessGrant, type AccessRequest } from '../../functions/schemas.ts';
import type { ConnectionOptions } from '../lib/cluster.ts';
import { loadKubeConfig } from '../lib/kube.ts';
import { StoreSource } from './source.ts';

const RESTART_MS = 2000;

export async function watchSource(connection: ConnectionOptions, log: (line: string) => void): Promise<StoreSource> {
  const { config, namespace } = loadKubeConfig(connection);
  const custom = config.makeApiClient(CustomObjectsApi);
  const authz = config.makeApiClient(AuthorizationV1Api);
  const core = config.makeApiClient(CoreV1Api);

  const may = async (ns: string, resource: string, verb: string) =>
    (
      await authz.createSelfSubjectAccessReview({
        body: { spec: { resourceAttributes: { group: GROUP, resource, verb, namespace: ns } } },
      })
    ).status?.allowed === true;
  /** An informer needs both. */
  const canList = async (ns: string, resource: string) =>
    (await Promise.all([may(ns, resource, 'list'), may(ns, resource, 'watch')])).every(Boolean);

  let candidates: string[] | undefined;
  const allNamespaces = async () => {
    if (candidates) return candidates;
    candidates = [namespace];
    try {
      candidates = (await core.listNamespace()).items.map((n) => n.metadata?.name ?? '').filter(Boolean);
    } catch {
      // may not list namespaces: the context's namespace is the one we know of
    }
    return candidates;
  };

  let namespaces: string[] | undefined;
  if (!(await canList('', 'accessrequests'))) {
    const allowed: string[] = [];
    for (const ns of await allNamespaces()) if (await canList(ns, 'accessrequests')) allowed.push(ns);
    namespaces = allowed.length > 0 ? allowed : [namespace];
  }
  // Policies matter only where requests are shown.
  let policyNamespaces: string[] | undefined;
  if (!(await canList('', 'accesspolicies').catch(() => false))) {
    policyNamespaces = [];
    for (const ns of namespaces ?? (await allNamespaces()))
      if (await canList(ns, 'accesspolicies').catch(() => false)) policyNamespaces.push(ns);
  }

  const stops: (() => Promise<void>)[] = [];
  const store = new StoreSource(
    namespaces,
    async () => {
      await Promise.all(stops.map((stop) => stop()));
    },
    policyNamespaces ?? 'all',
  );

  const informers: Promise<void>[] = [];
  const watches = [
    ...(namespaces ?? [undefined]).flatMap((ns) =>
      (['accessrequests', 'accessgrants'] as const).map((plural) => ({ ns, plural })),
    ),
    ...(policyNamespaces ?? [undefined]).map((ns) => ({ ns, plural: 'accesspolicies' as const })),
  ];
  for (const { ns, plural } of watches) {
    const path = ns ? `/apis/${GROUP}/${VERSION}/namespaces/${ns}/${plural}` : `/apis/${GROUP}/${VERSION}/${plural}`;
    const list = async () =>
      (ns
        ? await custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural })
        : await custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural })) as {
        items: KubernetesObject[];
        metadata: { resourceVersion?: string };
      };
    const informer = makeInformer<KubernetesObject>(config, path, list);
    let stopped = false;
    const put = (o: KubernetesObject) =>
      plural === 'accessrequests'
        ? store.putRequest(o as AccessRequest)
        : plural === 'accessgrants'
          ? store.putGrant(o as AccessGrant)
          : store.putPolicy(o);
    const remove = (o: KubernetesObject) =>
      plural === 'accessrequests'
        ? store.removeRequest(o as AccessRequest)
        : plural === 'accessgrants'
          ? store.removeGrant(o as AccessGrant)
          : store.removePolicy(o as { metadata: { namespace?: string; name?: string } });
    informer.on('add', put);
    informer.on('update', put);
    informer.on('delete', remove);
    informer.on('error', (error: unknown) => {
      if (stopped) return;
      if (plural === 'accesspolicies' && (error as { code?: unknown })?.code === 404) {
        // An install from before AccessPolicies: there are none to show.
        log(`AccessPolicies are not installed${ns ? ` in ${ns}` : ''}; every request needs one approval`);
        return;
      }
      log(`watch of ${plural}${ns ? ` in ${ns}` : ''} failed (${(error as Error)?.message ?? error}); restarting`);
      setTimeout(() => {
        if (!stopped) informer.start().catch(() => {});
      }, RESTART_MS).unref();
    });
    stops.push(async () => {
      stopped = true;
      await informer.stop();
    });
    informers.push(informer.start());
  }
  await Promise.all(informers);
  return store;
}
