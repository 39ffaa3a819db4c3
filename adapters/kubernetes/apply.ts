// Carrying out what the policy decided, against narrow write interfaces that both cluster clients
// implement: the Node backend over node:https (adapters/kubernetes/index.ts) and the edge's fetch client
// (adapters/edge/kubernetes.ts). What to write is decided elsewhere (functions/, request-status.ts);
// here only the writes, which answers count as a lost race, and what is logged.
// No Node imports: the edge worker loads this.
import * as v from 'valibot';
import { AccessRequest } from '../../functions/schemas.ts';
import type { CleanupEvent } from '../../functions/cleanup/index.ts';
import type { RoleBindingPlan } from '../../functions/reconcile/index.ts';
import type { Effect } from '../../functions/types.ts';
import { isConflict, isNotFound } from '../errors.ts';
import { EffectConflict, type EffectExecutor, type Logger } from '../ports.ts';
import { baseOf, inverseOf, statusWrite, type StatusBase, type StatusBody } from '../request-status.ts';

/** Writes an AccessRequest's status subresource (a PUT of `body`, preconditions in its metadata). */
export interface RequestStatusWriter {
  replaceRequestStatus(namespace: string, name: string, body: StatusBody): Promise<unknown>;
  /**
   * The AccessRequest as the API server has it now (a live GET, never a cache; bounded by the
   * review-time timeout), undefined when there is none: what a write that lost a race re-reads.
   */
  readRequest(namespace: string, name: string): Promise<unknown>;
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
 * Attempts of one status write: the first from what the decision read, the others after a 409
 * (another use, a give-back or a condition written meanwhile), each from a fresh read. Each lost
 * race means another write went through, so a few attempts cover racing replicas; a review that
 * still loses is denied (a use it might have had is never given twice).
 */
export const STATUS_WRITE_ATTEMPTS = 5;

/**
 * Effects on the status subresource: consume counts one use of a request, release gives it back.
 * A write that finds the request changed (409) re-reads it, checks again (same uid, a use left,
 * window open; for a release: a use to give back) and retries; one that finds it gone (404), or
 * that the check refuses, lost the race. `onWritten` gets the object the API server answered (a
 * cache remembers it at once).
 */
export function statusEffects(options: {
  writer: RequestStatusWriter;
  logger: Logger;
  clock?: () => Date;
  onWritten?: (written: unknown) => void;
  attempts?: number;
}): EffectExecutor {
  const clock = options.clock ?? (() => new Date());
  const attempts = options.attempts ?? STATUS_WRITE_ATTEMPTS;
  const lost = (effect: Effect, why: string) =>
    new EffectConflict(
      effect.type === 'consume-request'
        ? `AccessRequest ${effect.namespace}/${effect.name} cannot be used: ${why}; request access again`
        : `AccessRequest ${effect.namespace}/${effect.name}: nothing to give back (${why})`,
    );
  return {
    async run(effect: Effect) {
      const { namespace, name, uid } = effect;
      let base: StatusBase | undefined = baseOf(effect);
      for (let attempt = 1; ; attempt++) {
        const write = statusWrite(effect, base, clock());
        if ('refused' in write) throw lost(effect, write.refused);
        let written: unknown;
        try {
          written = await options.writer.replaceRequestStatus(namespace, name, write.body);
        } catch (error) {
          if (isNotFound(error)) throw lost(effect, 'it was deleted meanwhile');
          if (!isConflict(error)) throw error;
          if (attempt >= attempts) throw lost(effect, `it kept changing under ${attempts} attempts to write it`);
          base = parseBase(await options.writer.readRequest(namespace, name));
          continue;
        }
        options.onWritten?.(written);
        const uses = write.body.status.uses;
        options.logger.info(
          effect.type === 'consume-request' ? 'used AccessRequest' : 'gave back a use of AccessRequest',
          {
            namespace,
            name,
            uid,
            uses,
            maxUses: effect.maxUses ?? 1,
            ...(attempt > 1 ? { attempt } : {}),
          },
        );
        return inverseOf(
          effect,
          parseBase(written) ?? { metadata: { uid, resourceVersion: '' }, status: write.body.status },
        );
      }
    },
  };
}

/** The uid, resourceVersion and status of an AccessRequest as the API server answered; undefined for none or malformed. */
function parseBase(object: unknown): StatusBase | undefined {
  if (object === undefined || object === null) return undefined;
  const parsed = v.safeParse(AccessRequest, object);
  return parsed.success ? parsed.output : undefined;
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
