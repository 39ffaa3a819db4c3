// The Kubernetes backend of the webhook server: informer caches behind ClusterLookup, the effect
// executor, the RoleBinding reconciler and the cleanup loop. Only I/O lives here; what to bind
// and what to delete is decided by functions/reconcile and functions/cleanup.
import {
  AuthenticationV1Api,
  AuthorizationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  RbacAuthorizationV1Api,
  setHeaderOptions,
  type V1SelfSubjectReview,
  type V1SubjectAccessReview,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type V1RoleBinding,
} from '@kubernetes/client-node';
import * as v from 'valibot';
import { specNamesFor } from '../../functions/access.ts';
import { dueForCleanup } from '../../functions/cleanup/index.ts';
import { pendingByNamespace } from '../../functions/stats/index.ts';
import { planStatuses } from '../../functions/status/index.ts';
import type { Gauge } from '../http/metrics.ts';
import {
  MANAGED_BY,
  MANAGED_BY_LABEL,
  desiredRoleBindings,
  planRoleBindings,
  type ReconcileConfig,
} from '../../functions/reconcile/index.ts';
import { readPolicy, type LoadedPolicy } from '../../functions/policy.ts';
import { AccessGrant, AccessRequest, GROUP, VERSION, describeIssues } from '../../functions/schemas.ts';
import { DEFAULT_UNGATED_NAMESPACES, type Lookup } from '../../functions/types.ts';
import { isAllowedAnswer, selfSubjectReview, subjectAccessReview, usernameOfSelfReview } from '../authorization.ts';
import type { EffectExecutor, Logger } from '../ports.ts';
import {
  applyDeletions,
  applyRoleBindingPlan,
  statusEffects,
  type ObjectDeleter,
  type RequestStatusWriter,
  type RoleBindingWriter,
} from './apply.ts';
import { compact } from './compact.ts';
import { loadKubeConfig } from './config.ts';
import { freshRequest } from './fresh.ts';
import { isNotFound, PublicError } from '../errors.ts';
import { reflect, type ListPage, type Reflector, type ReflectorTimings } from './informer.ts';
import { serialLoop, type Loop } from './loop.ts';
import { IndexedStore } from './store.ts';
import { applyStatusWrites, type RequestStatusPatcher } from './status.ts';

export type { CleanupEvent } from '../../functions/cleanup/index.ts';
export { loadKubeConfig } from './config.ts';

export interface KubernetesBackendOptions {
  kubeconfig?: string;
  context?: string;
  /** A KubeConfig built by the caller (tests); wins over `kubeconfig`/`context`. */
  kubeConfig?: KubeConfig;
  /** Watch only these namespaces; all namespaces when empty or undefined. */
  namespaces?: string[];
  /** Bind this role to requesters while their grant lasts; no RoleBindings when undefined. */
  grantedRoleName?: string;
  grantedRoleKind?: 'Role' | 'ClusterRole';
  usernamePrefix: string;
  /** Namespaces the exec webhook does not gate: no RoleBinding is ever made there (default: the shipped exclusions). */
  ungatedNamespaces?: readonly string[];
  /** Deadline of the API calls a review makes itself (a cache miss, a SubjectAccessReview). Default 2s. */
  reviewCallTimeoutMs?: number;
  cleanupIntervalMs: number;
  deleteAfterMs: number;
  /** Used, expired and denied requests are kept this long after they ended (history); undefined: as before. */
  retentionMs?: number;
  logger: Logger;
  clock?: () => Date;
  /** Safety-net resync of RoleBindings even without events (default 5 minutes). */
  resyncIntervalMs?: number;
  /** Grace before deleting a grant whose request is not seen (default 60s). */
  orphanGraceMs?: number;
  /** Items per page of the informers' lists (default 500). */
  listPageSize?: number;
  /** Backoff, watch timeout, hang guard and staleness bound of the caches (docs/reliability.md). */
  cacheTimings?: ReflectorTimings;
}

export interface KubernetesBackend {
  lookup: Lookup;
  effects: EffectExecutor;
  /** The server's own user name as the API server sees it (SelfSubjectReview at start). */
  selfUsername?: string;
  /** True once every informer has applied its initial list. */
  isReady(): boolean;
  /** What /metrics reports of the caches: pending requests by namespace, each cache's lag. */
  gauges(): Gauge[];
  /** Resolves once ready (rejects if stopped first). */
  synced(): Promise<void>;
  /** One reconcile pass now (tests, operators). */
  reconcileNow(): Promise<void>;
  /** One cleanup pass now (tests, operators). */
  cleanupNow(): Promise<void>;
  stop(): Promise<void>;
}

const REQUESTS = 'accessrequests';
const GRANTS = 'accessgrants';
const POLICIES = 'accesspolicies';

export async function startKubernetesBackend(options: KubernetesBackendOptions): Promise<KubernetesBackend> {
  const { logger } = options;
  const clock = options.clock ?? (() => new Date());
  const kc = options.kubeConfig ?? loadKubeConfig(options);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
  const namespaces = options.namespaces?.filter(Boolean) ?? [];
  const scopes: (string | undefined)[] = namespaces.length ? namespaces : [undefined];
  const reconcileConfig: ReconcileConfig = {
    grantedRoleName: options.grantedRoleName || undefined,
    grantedRoleKind: options.grantedRoleKind ?? 'ClusterRole',
    usernamePrefix: options.usernamePrefix,
    ungatedNamespaces: options.ungatedNamespaces ?? DEFAULT_UNGATED_NAMESPACES,
  };
  const authorization = kc.makeApiClient(AuthorizationV1Api);
  const callTimeoutMs = options.reviewCallTimeoutMs ?? 2_000;
  const bounded = <T>(what: string, call: Promise<T>): Promise<T> => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${what}: no answer from the API server within ${callTimeoutMs} ms`)),
        callTimeoutMs,
      );
    });
    return Promise.race([call, deadline]).finally(() => clearTimeout(timer));
  };
  const selfUsername = await whoAmI(kc, logger);

  const requests = new IndexedStore<AccessRequest, 'podUser'>({
    podUser: (r) => [podUserKey(r.metadata.namespace, r.spec.forObject.name, r.spec.userInfo.username)],
  });
  const grants = new IndexedStore<AccessGrant, 'grantFor'>({
    grantFor: (g) => [IndexedStore.key(g.metadata.namespace, g.spec.grantFor)],
  });
  const policies = new IndexedStore<LoadedPolicy, 'namespace'>({
    namespace: (p) => [p.metadata.namespace],
  });
  const roleBindings = new IndexedStore<V1RoleBinding & { metadata: { namespace?: string; name?: string } }, never>({});

  let reconciler: Loop | undefined;
  let statusWriter: Loop | undefined;
  const onChange = () => {
    reconciler?.trigger();
    statusWriter?.trigger();
  };

  const reflectors: Reflector[] = [];
  // One reflector per custom resource and scope, parsing into its indexed store.
  const where = (namespace: string | undefined) => (namespace ? ` in ${namespace}` : '');
  const reflectCustom = <T extends AccessRequest | AccessGrant>(
    plural: string,
    kind: string,
    schema: v.GenericSchema<unknown, T>,
    store: IndexedStore<T, string>,
    namespace: string | undefined,
  ) =>
    reflect<KubernetesObject>({
      name: `${plural}${where(namespace)}`,
      label: `the ${kind} cache${where(namespace)}`,
      kubeConfig: kc,
      path: customPath(plural, namespace),
      list: (page) => listCustom(custom, plural, namespace, page),
      onUpsert: (obj) => upsertParsed(store, schema, obj, kind, logger),
      onDelete: (obj) => store.remove(obj.metadata?.namespace, obj.metadata?.name),
      onChange,
      logger,
      pageSize: options.listPageSize,
      ...options.cacheTimings,
    });
  for (const namespace of scopes) {
    reflectors.push(
      reflectCustom(REQUESTS, 'AccessRequest', AccessRequest, requests, namespace),
      reflectCustom(GRANTS, 'AccessGrant', AccessGrant, grants, namespace),
      reflect<KubernetesObject>({
        name: `${POLICIES}${where(namespace)}`,
        label: `the AccessPolicy cache${where(namespace)}`,
        kubeConfig: kc,
        path: customPath(POLICIES, namespace),
        list: (page) => listCustom(custom, POLICIES, namespace, page),
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
        onDelete: (obj) => policies.remove(obj.metadata?.namespace, obj.metadata?.name),
        onChange,
        logger,
        pageSize: options.listPageSize,
        ...options.cacheTimings,
      }),
    );
    if (reconcileConfig.grantedRoleName) {
      const labelSelector = `${MANAGED_BY_LABEL}=${MANAGED_BY}`;
      reflectors.push(
        reflect<V1RoleBinding>({
          name: `rolebindings${where(namespace)}`,
          label: `the RoleBinding cache${where(namespace)}`,
          kubeConfig: kc,
          path: namespace
            ? `/apis/rbac.authorization.k8s.io/v1/namespaces/${namespace}/rolebindings`
            : '/apis/rbac.authorization.k8s.io/v1/rolebindings',
          list: ({ limit, continue: _continue }) =>
            (namespace
              ? rbac.listNamespacedRoleBinding({ namespace, labelSelector, limit, _continue })
              : rbac.listRoleBindingForAllNamespaces({ labelSelector, limit, _continue })) as Promise<
              KubernetesListObject<V1RoleBinding>
            >,
          labelSelector,
          onUpsert: (obj) => roleBindings.upsert(obj as V1RoleBinding & { metadata: object }),
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

  const liveRequest = (namespace: string, name: string) =>
    bounded(
      `reading AccessRequest ${namespace}/${name}`,
      custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: REQUESTS, name }),
    );
  const readRequest = freshRequest((namespace, name) => requests.get(namespace, name), liveRequest);
  const core = kc.makeApiClient(CoreV1Api);
  const lookup: Lookup = {
    async accessRequestsFor({ namespace, pod, usernames }) {
      requireSynced();
      const seen = new Set<string>();
      const found: AccessRequest[] = [];
      for (const username of usernames) {
        for (const request of requests.byIndex('podUser', podUserKey(namespace, pod, username))) {
          const key = IndexedStore.key(request.metadata.namespace, request.metadata.name);
          if (seen.has(key)) continue;
          seen.add(key);
          found.push(request);
        }
      }
      return found;
    },
    async accessRequest(namespace, name, expect) {
      requireSynced();
      return readRequest(namespace, name, expect);
    },
    async isAuthorized(user, attributes) {
      const answer = await bounded(
        'SubjectAccessReview',
        authorization.createSubjectAccessReview({
          body: subjectAccessReview(user, attributes) as V1SubjectAccessReview,
        }),
      );
      return isAllowedAnswer(answer);
    },
    async grantsFor(namespace, requestName) {
      requireSynced();
      return grants.byIndex('grantFor', IndexedStore.key(namespace, requestName));
    },
    async policiesFor(namespace) {
      requireSynced();
      return policies.byIndex('namespace', namespace);
    },
    // No pod cache: asked only for pinned requests, one live GET bounded like the other review-time calls.
    async podUID(namespace, name) {
      try {
        const pod = await bounded(`reading pod ${namespace}/${name}`, core.readNamespacedPod({ namespace, name }));
        return pod.metadata?.uid || undefined;
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    },
  };

  // The narrow write interfaces of apply.ts, over client-node (the edge implements them over fetch).
  const writes: RequestStatusWriter & RequestStatusPatcher & ObjectDeleter & RoleBindingWriter = {
    replaceRequestStatus: (namespace, name, body) =>
      custom.replaceNamespacedCustomObjectStatus({
        group: GROUP,
        version: VERSION,
        namespace,
        plural: REQUESTS,
        name,
        body,
      }),
    // The status writer's merge patch (client-node 1.x sends a JSON patch unless told otherwise).
    patchRequestStatus: (namespace, name, body) =>
      custom.patchNamespacedCustomObjectStatus(
        { group: GROUP, version: VERSION, namespace, plural: REQUESTS, name, body },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      ),
    async readRequest(namespace, name) {
      try {
        return await liveRequest(namespace, name);
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    },
    async deleteObject(kind, namespace, name, uid) {
      const plural = kind === 'AccessRequest' ? REQUESTS : GRANTS;
      await custom.deleteNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace,
        plural,
        name,
        body: { preconditions: { uid } },
      });
    },
    async createRoleBinding(binding) {
      await rbac.createNamespacedRoleBinding({ namespace: binding.metadata.namespace, body: binding });
    },
    async replaceRoleBinding(binding) {
      const { namespace, name } = binding.metadata;
      await rbac.replaceNamespacedRoleBinding({ namespace, name, body: binding });
    },
    async deleteRoleBinding(namespace, name) {
      await rbac.deleteNamespacedRoleBinding({ namespace, name });
    },
  };
  const effects = statusEffects({
    writer: writes,
    logger,
    clock,
    // Remember it now: a second exec on this replica must not wait for the watch event.
    onWritten: (written) => upsertParsed(requests, AccessRequest, written as KubernetesObject, 'AccessRequest', logger),
  });

  if (reconcileConfig.grantedRoleName) {
    reconciler = serialLoop({
      name: 'rolebinding reconcile',
      clock,
      logger,
      maxIntervalMs: options.resyncIntervalMs ?? 300_000,
      task: async () => {
        if (!isReady()) return undefined;
        const now = clock();
        const desired = desiredRoleBindings({
          requests: requests.values(),
          grants: grants.values(),
          policies: policies.values(),
          now,
          config: reconcileConfig,
        });
        const plan = planRoleBindings(desired.bindings, roleBindings.values());
        const failures = await applyRoleBindingPlan(writes, plan, logger, (namespace, name) =>
          roleBindings.remove(namespace, name),
        );
        if (failures) throw new Error(`${failures} RoleBinding change(s) failed`);
        return desired.nextChangeAt;
      },
    });
    void synced.then(
      () => reconciler?.trigger(),
      () => {},
    );
  }

  // The status of each request (functions/status), patched when its state changes: on every cache
  // change and when the next window ends. Every replica runs it; the writes are idempotent.
  statusWriter = serialLoop({
    name: 'status',
    clock,
    logger,
    maxIntervalMs: options.resyncIntervalMs ?? 300_000,
    task: async () => {
      if (!isReady()) return undefined;
      const plan = planStatuses({
        requests: requests.values(),
        grants: grants.values(),
        policies: policies.values(),
        now: clock(),
        usernamePrefix: options.usernamePrefix,
      });
      const failures = await applyStatusWrites(writes, plan.writes, logger, (written) =>
        upsertParsed(requests, AccessRequest, written as KubernetesObject, 'AccessRequest', logger),
      );
      if (failures) throw new Error(`${failures} AccessRequest status write(s) failed`);
      return plan.nextChangeAt;
    },
  });
  void synced.then(
    () => statusWriter?.trigger(),
    () => {},
  );

  const cleaner = serialLoop({
    name: 'cleanup',
    clock,
    logger,
    maxIntervalMs: options.cleanupIntervalMs,
    // Runs on its interval only: expiry does not need to be immediate, the webhook already denies.
    task: async () => {
      if (!isReady()) return undefined;
      const plan = dueForCleanup({
        requests: requests.values(),
        grants: grants.values(),
        policies: policies.values(),
        now: clock(),
        deleteAfterMs: options.deleteAfterMs,
        ...(options.retentionMs !== undefined ? { retentionMs: options.retentionMs } : {}),
        orphanGraceMs: options.orphanGraceMs ?? 60_000,
        usernamePrefix: options.usernamePrefix,
      });
      const { deleted } = await applyDeletions(writes, plan.deletions, logger);
      // Each deletion comes back as a DELETE review, which the audit log records (audit-deleted).
      for (const event of deleted)
        (event.kind === 'AccessRequest' ? requests : grants).remove(event.namespace, event.name, event.uid);
      reconciler?.trigger();
      return undefined;
    },
  });
  void synced.then(
    () => cleaner.trigger(),
    () => {},
  );

  return {
    lookup,
    effects,
    ...(selfUsername ? { selfUsername } : {}),
    isReady,
    gauges() {
      const samples: Gauge[] = reflectors.flatMap((r) => {
        const lag = r.lagSeconds();
        return lag === undefined ? [] : [{ name: 'cache_lag_seconds' as const, labels: { cache: r.name }, value: lag }];
      });
      const pending = pendingByNamespace({
        requests: requests.values(),
        grants: grants.values(),
        policies: policies.values(),
        now: clock(),
        usernamePrefix: options.usernamePrefix,
      });
      for (const [namespace, value] of pending)
        samples.push({ name: 'pending_requests', labels: { namespace }, value });
      return samples;
    },
    synced: () => synced,
    reconcileNow: async () => {
      await reconciler?.runNow();
    },
    cleanupNow: () => cleaner.runNow(),
    async stop() {
      reconciler?.stop();
      statusWriter?.stop();
      cleaner.stop();
      await Promise.all(reflectors.map((r) => r.stop()));
    },
  };
}

/**
 * The server's own user name. Without it the server's deletions (consuming, cleanup) are judged
 * like anyone's, and refused unless its identity is an admin or approver: say so, don't fail.
 */
async function whoAmI(kc: KubeConfig, logger: Logger): Promise<string | undefined> {
  try {
    const answer = await kc
      .makeApiClient(AuthenticationV1Api)
      .createSelfSubjectReview({ body: selfSubjectReview as V1SelfSubjectReview });
    return usernameOfSelfReview(answer);
  } catch (error) {
    logger.warn(
      "could not ask the API server who this server is (SelfSubjectReview); its own deletions are reviewed like anyone else's",
      { error },
    );
    return undefined;
  }
}

function podUserKey(namespace: string | undefined, pod: string, username: string): string {
  return JSON.stringify([namespace ?? '', pod, username]);
}

function customPath(plural: string, namespace: string | undefined): string {
  return namespace
    ? `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${plural}`
    : `/apis/${GROUP}/${VERSION}/${plural}`;
}

async function listCustom(
  api: CustomObjectsApi,
  plural: string,
  namespace: string | undefined,
  { limit, continue: _continue }: ListPage,
): Promise<KubernetesListObject<KubernetesObject>> {
  const list = namespace
    ? await api.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural, limit, _continue })
    : await api.listClusterCustomObject({ group: GROUP, version: VERSION, plural, limit, _continue });
  return list as KubernetesListObject<KubernetesObject>;
}

function upsertParsed<T extends AccessRequest | AccessGrant>(
  store: IndexedStore<T, string>,
  schema: v.GenericSchema<unknown, T>,
  obj: KubernetesObject,
  kind: string,
  logger: Logger,
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
  store.upsert(compact(parsed.output, kind));
}
