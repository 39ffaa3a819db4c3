// Carrying out what the policy decided, against narrow write interfaces that both cluster clients
// implement: the client-node backend (adapters/kubernetes/index.ts) and the edge's fetch client
// (adapters/edge/kubernetes.ts). What to write is decided elsewhere (functions/, request-status.ts);
// here only the writes, which answers count as a lost race, and what is logged.
// No Node imports: the edge worker loads this.
import type { CleanupEvent } from '../../functions/cleanup/index.ts';
import type { RoleBindingPlan } from '../../functions/reconcile/index.ts';
import type { Effect } from '../../functions/types.ts';
import { isConflict, isNotFound } from '../errors.ts';
import { EffectConflict, type EffectExecutor, type Logger } from '../ports.ts';
import { inverseOf, statusBody } from '../request-status.ts';

/** Writes an AccessRequest's status subresource (a PUT of `body`, preconditions in its metadata). */
export interface RequestStatusWriter {
  replaceRequestStatus(namespace: string, name: string, body: ReturnType<typeof statusBody>): Promise<unknown>;
}

/** Deletes an AccessRequest or AccessGrant, only if it still has `uid`. */
export interface ObjectDeleter {
  deleteObject(kind: CleanupEvent['kind'], namespace: string, name: string, uid: string): Promise<void>;
}

type Binding = RoleBindingPlan['create'][number];

/** The RoleBinding calls a reconcile pass makes. */
export interface RoleBindingWriter {
  createRoleBinding(binding: Binding): Promise<void>;
  replaceRoleBinding(binding: Binding): Promise<void>;
  deleteRoleBinding(namespace: string, name: string): Promise<void>;
}

/**
 * Effects on the status subresource: consume marks a one-shot request used, release takes the
 * mark back. A consume that finds the request changed (409) or gone (404) lost a race.
 * `onWritten` gets the object the API server answered (a cache remembers it at once).
 */
export function statusEffects(options: {
  writer: RequestStatusWriter;
  logger: Logger;
  clock?: () => Date;
  onWritten?: (written: unknown) => void;
}): EffectExecutor {
  const clock = options.clock ?? (() => new Date());
  return {
    async run(effect: Effect) {
      const { namespace, name, uid } = effect;
      let written: unknown;
      try {
        written = await options.writer.replaceRequestStatus(namespace, name, statusBody(effect, clock()));
      } catch (error) {
        if (effect.type === 'consume-request' && (isConflict(error) || isNotFound(error))) {
          throw new EffectConflict(
            `AccessRequest ${namespace}/${name} was already used (or changed) by another exec; request access again`,
          );
        }
        throw error;
      }
      options.onWritten?.(written);
      options.logger.info(
        effect.type === 'consume-request' ? 'used one-shot AccessRequest' : 'gave back one-shot AccessRequest',
        { namespace, name, uid },
      );
      return inverseOf(
        effect,
        (written as { metadata?: { resourceVersion?: string } } | undefined)?.metadata?.resourceVersion,
      );
    },
  };
}

export interface DeletionResult {
  deleted: CleanupEvent[];
  failed: number;
}

/**
 * Deletes what the cleanup planner found due, each with a uid precondition. Gone already (404) or
 * replaced (409: another replica, or a new object of that name) is not a failure; other errors are
 * logged and counted, and the pass goes on.
 */
export async function applyDeletions(
  deleter: ObjectDeleter,
  deletions: readonly CleanupEvent[],
  logger: Logger,
): Promise<DeletionResult> {
  const deleted: CleanupEvent[] = [];
  let failed = 0;
  for (const event of deletions) {
    try {
      await deleter.deleteObject(event.kind, event.namespace, event.name, event.uid);
    } catch (error) {
      if (isNotFound(error) || isConflict(error)) continue;
      failed++;
      logger.error(`cleanup: deleting ${event.kind} failed`, { namespace: event.namespace, name: event.name, error });
      continue;
    }
    deleted.push(event);
    logger.info(`cleanup: deleted ${event.kind}`, {
      namespace: event.namespace,
      name: event.name,
      reason: event.reason,
      detail: event.message,
    });
  }
  return { deleted, failed };
}

/**
 * Applies a RoleBinding plan: deletions first (access ends before any begins), then creations,
 * then restoring edited bindings. A race with another replica (404 on delete or update, 409 on
 * create or update) is not a failure. Answers the number of failed changes.
 */
export async function applyRoleBindingPlan(
  writer: RoleBindingWriter,
  plan: RoleBindingPlan,
  logger: Logger,
  onDeleted?: (namespace: string, name: string) => void,
): Promise<number> {
  let failures = 0;
  for (const { namespace, name } of plan.delete) {
    try {
      await writer.deleteRoleBinding(namespace, name);
      onDeleted?.(namespace, name);
      logger.info('deleted RoleBinding', { namespace, name });
    } catch (error) {
      if (isNotFound(error)) continue;
      failures++;
      logger.error('deleting RoleBinding failed', { namespace, name, error });
    }
  }
  for (const binding of plan.create) {
    const { namespace, name } = binding.metadata;
    try {
      await writer.createRoleBinding(binding);
      logger.info('created RoleBinding', {
        namespace,
        name,
        user: binding.subjects[0]?.name,
        role: `${binding.roleRef.kind}/${binding.roleRef.name}`,
        accessRequest: binding.metadata.ownerReferences[0]?.name,
      });
    } catch (error) {
      if (isConflict(error)) continue; // another replica made it; the watch brings it
      failures++;
      logger.error('creating RoleBinding failed', { namespace, name, error });
    }
  }
  for (const binding of plan.update) {
    const { namespace, name } = binding.metadata;
    try {
      await writer.replaceRoleBinding(binding);
      logger.warn('restored edited RoleBinding', { namespace, name });
    } catch (error) {
      if (isConflict(error) || isNotFound(error)) continue;
      failures++;
      logger.error('updating RoleBinding failed', { namespace, name, error });
    }
  }
  return failures;
}
