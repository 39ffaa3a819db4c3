// The informer caches of the webhook server: one indexed store per kind (requests, grants,
// policies, and the RoleBindings it manages), each filled by a reflector (list + watch) per watched
// namespace, which asks the store what it holds (no second record of every name), and whether they
// are current. The Lookup over them is lookup.ts; the loops that write are index.ts.
import * as v from 'valibot';
import { MANAGED_BY, MANAGED_BY_LABEL } from '../../functions/reconcile/index.ts';
import { readPolicy, type LoadedPolicy } from '../../functions/policy.ts';
import { AccessGrant, AccessRequest, GROUP, VERSION, describeIssues } from '../../functions/schemas.ts';
import type { Gauge } from '../http/metrics.ts';
import type { Logger } from '../ports.ts';
import { PublicError } from '../errors.ts';
import { compact } from './compact.ts';
import type { NodeKubernetesClient } from './client.ts';
import {
  reflect,
  type KubernetesListObject,
  type KubernetesObject,
  type ListPage,
  type Reflector,
  type ReflectorTimings,
} from './informer.ts';
import { ObservedStore, type CacheChange } from './observed.ts';
import { IndexedStore } from './store.ts';

export const REQUESTS = 'accessrequests';
export const GRANTS = 'accessgrants';
export const POLICIES = 'accesspolicies';

/** A RoleBinding as the API serves it (the fields functions/reconcile compares). */
export interface RoleBinding extends KubernetesObject {
  roleRef?: { apiGroup?: string; kind: string; name: string };
  subjects?: { apiGroup?: string; kind: string; name: string; namespace?: string }[];
}

export type ManagedRoleBinding = RoleBinding & { metadata: { namespace?: string; name?: string } };

export interface CachesOptions {
  client: NodeKubernetesClient;
  /** Namespaces watched; [undefined] for all of them. */
  scopes: readonly (string | undefined)[];
  /** Whether to cache the RoleBindings kube-request-access manages (only with --granted-role-name). */
  watchRoleBindings: boolean;
  /** Called after every change a watch or list applies. */
  onChange: () => void;
  /** Called with every change of a request, grant or policy cache, whoever makes it (the status writer's schedule). */
  onObject?: (change: CacheChange) => void;
  logger: Logger;
  listPageSize?: number;
  cacheTimings?: ReflectorTimings;
}

export interface Caches {
  requests: IndexedStore<AccessRequest, 'podUser'>;
  grants: IndexedStore<AccessGrant, 'grantFor'>;
  policies: IndexedStore<LoadedPolicy, never>;
  roleBindings: IndexedStore<ManagedRoleBinding, never>;
  /** True once every cache applied its initial list and none is stale. */
  isReady(): boolean;
  /** Resolves once every cache applied its initial list (rejects if stopped first). */
  synced: Promise<void>;
  /**
   * Throws a PublicError naming the stale caches, if any: a review that reads a stale cache could
   * allow what was revoked meanwhile.
   */
  requireSynced(): void;
  /** cache_lag_seconds of each cache, for /metrics. */
  lagGauges(): Gauge[];
  stop(): Promise<void>;
}

export function startCaches(options: CachesOptions): Caches {
  const { logger, onChange } = options;
  const { client } = options;
  const { onObject } = options;
  const requests = new ObservedStore<AccessRequest, 'podUser'>(
    { podUser: (r) => [podUserKey(r.spec.forObject.name, r.spec.userInfo.username)] },
    (before, after) => onObject?.({ kind: 'AccessRequest', before, after }),
  );
  const grants = new ObservedStore<AccessGrant, 'grantFor'>({ grantFor: (g) => [g.spec.grantFor] }, (before, after) =>
    onObject?.({ kind: 'AccessGrant', before, after }),
  );
  const policies = new ObservedStore<LoadedPolicy, never>({}, (before, after) =>
    onObject?.({ kind: 'AccessPolicy', before, after }),
  );
  const roleBindings = new IndexedStore<ManagedRoleBinding, never>({});

  const reflectors: Reflector[] = [];
  // One reflector per custom resource and scope, parsing into its indexed store.
  const where = (namespace: string | undefined) => (namespace ? ` in ${namespace}` : '');
  // A grant names its request's uid: one string for both, whichever of them is cached first.
  const sameUid = {
    request: (request: AccessRequest) => {
      const { namespace = '', name = '', uid } = request.metadata;
      for (const grant of grants.byIndex('grantFor', namespace, name))
        if (grant.spec.grantForUID === uid) return void (request.metadata.uid = grant.spec.grantForUID);
    },
    grant: (grant: AccessGrant) => {
      const request = requests.get(grant.metadata.namespace ?? '', grant.spec.grantFor);
      if (request && request.metadata.uid === grant.spec.grantForUID) grant.spec.grantForUID = request.metadata.uid;
    },
  };
  const reflectCustom = <T extends AccessRequest | AccessGrant>(
    plural: string,
    kind: string,
    schema: v.GenericSchema<unknown, T>,
    store: IndexedStore<T, string>,
    namespace: string | undefined,
    share: (compacted: T) => void,
  ) =>
    reflect<KubernetesObject>({
      name: `${plural}${where(namespace)}`,
      label: `the ${kind} cache${where(namespace)}`,
      client,
      path: customPath(plural, namespace),
      list: (page) => listPage(client, customPath(plural, namespace), page),
      onUpsert: (obj) => upsertParsed(store, schema, obj, kind, logger, share),
      held: store.held(namespace),
      onDelete: (obj) => store.remove(obj.metadata?.namespace, obj.metadata?.name),
      onChange,
      logger,
      pageSize: options.listPageSize,
      ...options.cacheTimings,
    });
  for (const namespace of options.scopes) {
    reflectors.push(
      reflectCustom(REQUESTS, 'AccessRequest', AccessRequest, requests, namespace, sameUid.request),
      reflectCustom(GRANTS, 'AccessGrant', AccessGrant, grants, namespace, sameUid.grant),
      reflect<KubernetesObject>({
        name: `${POLICIES}${where(namespace)}`,
        label: `the AccessPolicy cache${where(namespace)}`,
        client,
        path: customPath(POLICIES, namespace),
        list: (page) => listPage(client, customPath(POLICIES, namespace), page),
        // A malformed policy is kept, marked: it fails its namespace closed (functions/policy.ts).
        onUpsert: (obj) => {
          const policy = readPolicy(obj);
          if (policy?.malformed)
            logger.warn('malformed AccessPolicy: nothing is granted in its namespace until it is fixed', {
              namespace: policy.metadata.namespace,
              name: policy.metadata.name,
              issues: policy.malformed,
            });
          if (policy) policies.upsert(compact(policy, 'AccessPolicy'));
        },
        held: policies.held(namespace),
        onDelete: (obj) => policies.remove(obj.metadata?.namespace, obj.metadata?.name),
        onChange,
        logger,
        pageSize: options.listPageSize,
        ...options.cacheTimings,
      }),
    );
    if (options.watchRoleBindings) {
      const labelSelector = `${MANAGED_BY_LABEL}=${MANAGED_BY}`;
      const path = namespace
        ? `/apis/rbac.authorization.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/rolebindings`
        : '/apis/rbac.authorization.k8s.io/v1/rolebindings';
      reflectors.push(
        reflect<RoleBinding>({
          name: `rolebindings${where(namespace)}`,
          label: `the RoleBinding cache${where(namespace)}`,
          client,
          path,
          list: (page) => listPage<RoleBinding>(client, path, page, labelSelector),
          labelSelector,
          onUpsert: (obj) => roleBindings.upsert(obj as ManagedRoleBinding),
          held: roleBindings.held(namespace),
          onDelete: (obj) => roleBindings.remove(obj.metadata?.namespace, obj.metadata?.name),
          onChange,
          logger,
          pageSize: options.listPageSize,
          ...options.cacheTimings,
        }),
      );
    }
  }
  // Not ready while any cache is stale (its watch lost longer than the bound): /readyz answers 503.
  const isReady = () => reflectors.every((r) => r.isSynced());
  const synced = Promise.all(reflectors.map((r) => r.synced())).then(() => undefined);
  synced.catch(() => {});

  // A review that reads a stale cache could allow what was revoked meanwhile: deny, and say why.
  const requireSynced = () => {
    const reasons = reflectors.map((r) => r.staleReason()).filter((reason) => reason !== undefined);
    if (reasons.length === 0) return;
    const catchUp = reasons.length === 1 ? 'it catches up' : 'they catch up';
    throw new PublicError(`${reasons.join('; ')}; nothing is allowed until ${catchUp}: try again in a moment`);
  };

  return {
    requests,
    grants,
    policies,
    roleBindings,
    isReady,
    synced,
    requireSynced,
    lagGauges: () =>
      reflectors.flatMap((r) => {
        const lag = r.lagSeconds();
        return lag === undefined ? [] : [{ name: 'cache_lag_seconds' as const, labels: { cache: r.name }, value: lag }];
      }),
    stop: async () => {
      await Promise.all(reflectors.map((r) => r.stop()));
    },
  };
}

/** The value of the requests' podUser index (within a namespace): one pod, one user. */
export function podUserKey(pod: string, username: string): string {
  return JSON.stringify([pod, username]);
}

function customPath(plural: string, namespace: string | undefined): string {
  return namespace
    ? `/apis/${GROUP}/${VERSION}/namespaces/${encodeURIComponent(namespace)}/${plural}`
    : `/apis/${GROUP}/${VERSION}/${plural}`;
}

/** One page of the collection at `path`. */
async function listPage<T extends KubernetesObject = KubernetesObject>(
  client: NodeKubernetesClient,
  path: string,
  page: ListPage,
  labelSelector?: string,
): Promise<KubernetesListObject<T>> {
  const list = (await client.get(path, {
    limit: String(page.limit),
    continue: page.continue,
    labelSelector,
  })) as KubernetesListObject<T> | undefined;
  if (!list || !Array.isArray(list.items)) throw new Error(`Kubernetes API GET ${path}: a list without items`);
  return list;
}

export function upsertParsed<T extends AccessRequest | AccessGrant>(
  store: IndexedStore<T, string>,
  schema: v.GenericSchema<unknown, T>,
  obj: KubernetesObject,
  kind: string,
  logger: Logger,
  /** Makes the compacted object (fresh, not yet cached) share strings with cached ones; equal values only. */
  share?: (compacted: T) => void,
): void {
  const parsed = v.safeParse(schema, obj);
  if (!parsed.success) {
    // A malformed object (schema bypassed or an older CRD) is ignored, and never matches.
    store.remove(obj.metadata?.namespace, obj.metadata?.name);
    logger.warn(`ignoring malformed ${kind}`, {
      namespace: obj.metadata?.namespace,
      name: obj.metadata?.name,
      issues: describeIssues(parsed.issues),
    });
    return;
  }
  const compacted = compact(parsed.output, kind);
  share?.(compacted);
  store.upsert(compacted);
}
