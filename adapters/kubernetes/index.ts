// The Kubernetes backend of the webhook server: the informer caches (caches.ts) and the Lookup over
// them (lookup.ts), the effect executor, and the loops that write: RoleBindings, request status,
// cleanup. Only I/O lives here; what to bind, write and delete is decided by functions/reconcile,
// functions/status and functions/cleanup.
import { dueForCleanup } from '../../functions/cleanup/index.ts';
import { pendingByNamespace } from '../../functions/stats/index.ts';
import { StatusSchedule } from './status-schedule.ts';
import type { Gauge } from '../http/metrics.ts';
import { desiredRoleBindings, planRoleBindings, type ReconcileConfig } from '../../functions/reconcile/index.ts';
import { AccessRequest } from '../../functions/schemas.ts';
import { DEFAULT_UNGATED_NAMESPACES, type Lookup } from '../../functions/types.ts';
import { SELF_SUBJECT_REVIEWS_PATH, selfSubjectReview, usernameOfSelfReview } from '../authorization.ts';
import type { EffectExecutor, Logger } from '../ports.ts';
import {
  applyDeletions,
  applyRoleBindingPlan,
  statusEffects,
  type ObjectDeleter,
  type RequestStatusWriter,
  type RoleBindingWriter,
} from './apply.ts';
import { REQUESTS, startCaches, upsertParsed } from './caches.ts';
import { nodeKubernetesClient, type NodeKubernetesClient } from './client.ts';
import { loadKubeConfig, type ClusterConfig } from './config.ts';
import { isNotFound } from '../errors.ts';
import type { KubernetesObject, ReflectorTimings } from './informer.ts';
import { apiWrites, objectsPath } from './rest.ts';
import { serialLoop, type Loop } from './loop.ts';
import { boundedCalls, clusterLookup } from './lookup.ts';
import { applyStatusWrites, type RequestStatusPatcher } from './status.ts';

export type { CleanupEvent } from '../../functions/cleanup/index.ts';
export { clusterConfig, loadKubeConfig, type ClusterConfig } from './config.ts';

export interface KubernetesBackendOptions {
  kubeconfig?: string;
  context?: string;
  /** A cluster configuration built by the caller (tests: config.ts `clusterConfig`/`loadKubeConfig`); wins over `kubeconfig`/`context`. */
  kubeConfig?: ClusterConfig;
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
  const client = nodeKubernetesClient(options.kubeConfig ?? loadKubeConfig(options));
  const namespaces = options.namespaces?.filter(Boolean) ?? [];
  const scopes: (string | undefined)[] = namespaces.length ? namespaces : [undefined];
  const reconcileConfig: ReconcileConfig = {
    grantedRoleName: options.grantedRoleName || undefined,
    grantedRoleKind: options.grantedRoleKind ?? 'ClusterRole',
    usernamePrefix: options.usernamePrefix,
    ungatedNamespaces: options.ungatedNamespaces ?? DEFAULT_UNGATED_NAMESPACES,
  };
  const bounded = boundedCalls(options.reviewCallTimeoutMs ?? 2_000);
  const selfUsername = await whoAmI(client, logger);

  let reconciler: Loop | undefined;
  let statusWriter: Loop | undefined;
  const onChange = () => {
    reconciler?.trigger();
    statusWriter?.trigger();
  };

  const resyncIntervalMs = options.resyncIntervalMs ?? 300_000;
  // Which requests the status writer plans next: those a cache change concerns, whoever made it.
  const statusSchedule = new StatusSchedule(resyncIntervalMs);

  const caches = startCaches({
    client,
    scopes,
    watchRoleBindings: Boolean(reconcileConfig.grantedRoleName),
    onChange,
    onObject: (change) => statusSchedule.note(change),
    logger,
    ...(options.listPageSize !== undefined ? { listPageSize: options.listPageSize } : {}),
    ...(options.cacheTimings ? { cacheTimings: options.cacheTimings } : {}),
  });
  const { requests, grants, policies, roleBindings, isReady, synced } = caches;
  const { lookup, liveRequest } = clusterLookup(client, caches, bounded);

  // The narrow write interfaces of apply.ts, over the REST calls the edge makes too (rest.ts); the
  // status writer's merge patch, and a live read bounded like the other review-time calls.
  const rest = apiWrites(client);
  const writes: RequestStatusWriter & RequestStatusPatcher & ObjectDeleter & RoleBindingWriter = {
    ...rest,
    // Counting a use is on the review path: bounded like its other API calls, not by the client's 30 s.
    replaceRequestStatus: (namespace, name, body) =>
      bounded(
        `writing the status of AccessRequest ${namespace}/${name}`,
        rest.replaceRequestStatus(namespace, name, body),
      ),
    patchRequestStatus: (namespace, name, body) =>
      client.patch(`${objectsPath(REQUESTS, namespace, name)}/status`, body),
    async readRequest(namespace, name) {
      try {
        return await liveRequest(namespace, name);
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
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
      maxIntervalMs: resyncIntervalMs,
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
  // change and when the next window ends. A pass plans only the requests a change concerns (a
  // request, a grant naming it, a policy of its namespace) and those whose window ended; every
  // request at start, every resyncIntervalMs and after a failed write (status-schedule.ts).
  // Every replica runs it; the writes are idempotent.
  statusWriter = serialLoop({
    name: 'status',
    clock,
    logger,
    maxIntervalMs: resyncIntervalMs,
    task: async () => {
      if (!isReady()) return undefined;
      try {
        const plan = statusSchedule.plan({
          requests,
          grantsOf: (namespace, name) => grants.byIndex('grantFor', namespace, name),
          policies: policies.values(),
          now: clock(),
          usernamePrefix: options.usernamePrefix,
        });
        const failures = await applyStatusWrites(writes, plan.writes, logger, (written) =>
          upsertParsed(requests, AccessRequest, written as KubernetesObject, 'AccessRequest', logger),
        );
        if (failures) throw new Error(`${failures} AccessRequest status write(s) failed`);
        return plan.nextChangeAt;
      } catch (error) {
        // The next pass plans every request: what failed is written again.
        statusSchedule.planAll();
        throw error;
      }
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
async function whoAmI(client: NodeKubernetesClient, logger: Logger): Promise<string | undefined> {
  try {
    return usernameOfSelfReview(await client.post(SELF_SUBJECT_REVIEWS_PATH, selfSubjectReview));
  } catch (error) {
    logger.warn(
      "could not ask the API server who this server is (SelfSubjectReview); its own deletions are reviewed like anyone else's",
      { error },
    );
    return undefined;
  }
}
