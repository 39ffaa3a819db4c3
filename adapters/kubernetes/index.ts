// The Kubernetes backend of the webhook server: the informer caches (caches.ts) and the Lookup over
// them (lookup.ts), the effect executor, and the loops that write: RoleBindings, request status,
// cleanup. Only I/O lives here; what to bind, write and delete is decided by functions/reconcile,
// functions/status and functions/cleanup.
import {
  AuthenticationV1Api,
  CustomObjectsApi,
  PatchStrategy,
  RbacAuthorizationV1Api,
  setHeaderOptions,
  type V1SelfSubjectReview,
  type KubeConfig,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { dueForCleanup } from '../../functions/cleanup/index.ts';
import { pendingByNamespace } from '../../functions/stats/index.ts';
import { planStatuses } from '../../functions/status/index.ts';
import type { Gauge } from '../http/metrics.ts';
import { desiredRoleBindings, planRoleBindings, type ReconcileConfig } from '../../functions/reconcile/index.ts';
import { AccessRequest, GROUP, VERSION } from '../../functions/schemas.ts';
import { DEFAULT_UNGATED_NAMESPACES, type Lookup } from '../../functions/types.ts';
import { selfSubjectReview, usernameOfSelfReview } from '../authorization.ts';
import type { EffectExecutor, Logger } from '../ports.ts';
import {
  applyDeletions,
  applyRoleBindingPlan,
  statusEffects,
  type ObjectDeleter,
  type RequestStatusWriter,
  type RoleBindingWriter,
} from './apply.ts';
import { GRANTS, REQUESTS, startCaches, upsertParsed } from './caches.ts';
import { loadKubeConfig } from './config.ts';
import { isNotFound } from '../errors.ts';
import type { ReflectorTimings } from './informer.ts';
import { serialLoop, type Loop } from './loop.ts';
import { boundedCalls, clusterLookup } from './lookup.ts';
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
  const bounded = boundedCalls(options.reviewCallTimeoutMs ?? 2_000);
  const selfUsername = await whoAmI(kc, logger);

  let reconciler: Loop | undefined;
  let statusWriter: Loop | undefined;
  const onChange = () => {
    reconciler?.trigger();
    statusWriter?.trigger();
  };

  const caches = startCaches({
    kubeConfig: kc,
    scopes,
    watchRoleBindings: Boolean(reconcileConfig.grantedRoleName),
    onChange,
    logger,
    ...(options.listPageSize !== undefined ? { listPageSize: options.listPageSize } : {}),
    ...(options.cacheTimings ? { cacheTimings: options.cacheTimings } : {}),
  });
  const { requests, grants, policies, roleBindings, isReady, synced } = caches;
  const { lookup, liveRequest } = clusterLookup(kc, caches, bounded);

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
      const samples: Gauge[] = caches.lagGauges();
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
      await caches.stop();
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
