// What the caches keep of a parsed AccessRequest, AccessGrant or AccessPolicy: the whole `spec`
// and `status` (every field the policy, the reconciler, cleanup, stats and the CLI-facing status
// read, including those other features add), and of the rest what a reader uses or an audit
// receiver is given (`audit-granted` carries the cached AccessRequest): name, namespace, uid,
// resourceVersion, the timestamps, labels and annotations (a ticket number another tool put
// there). managedFields, ownerReferences, finalizers, generation and kubectl's
// last-applied-configuration (removed by the reflector's `slim`) are dropped; apiVersion and kind
// become shared constants. Every metadata object starts with the same five fields in the same
// order (one hidden class, in-object); deletionTimestamp, labels and annotations follow only where
// an object has them (an undefined field is 8 B of each of 200,000 objects).
// The parts that few distinct values cover (who asked, who granted, the pod asked for, labels
// and annotations) are one frozen object per value for all cached objects (`interned`), not one copy each.
// tests/unit/kubernetes/compact.test.ts proves the decisions are the same on full and compacted objects.
import { API_VERSION, type ObjectMeta } from '../../functions/schemas.ts';

/** The metadata the readers of the caches and audit receivers use; the same strings as `metadata` (no copies). */
export function compactMetadata(metadata: ObjectMeta): ObjectMeta {
  const small: ObjectMeta = {
    name: metadata.name,
    namespace: shared(metadata.namespace),
    uid: metadata.uid,
    resourceVersion: metadata.resourceVersion,
    creationTimestamp: metadata.creationTimestamp ?? undefined,
  };
  if (metadata.deletionTimestamp != null) small.deletionTimestamp = metadata.deletionTimestamp;
  if (metadata.labels && !isEmpty(metadata.labels)) small.labels = interned(metadata.labels);
  if (metadata.annotations && !isEmpty(metadata.annotations)) small.annotations = interned(metadata.annotations);
  return small;
}

/**
 * `object` with compact metadata and constant apiVersion/kind; `spec` with the same fields and
 * values (its userInfo, grantedBy and forObject.resource interned, its exec command's array cut to
 * size), `status` and any other field kept as they are.
 */
export function compact<T extends { apiVersion?: string; kind?: string; metadata: ObjectMeta; spec?: unknown }>(
  object: T,
  kind: string,
): T {
  const { apiVersion: _apiVersion, kind: _kind, metadata, spec, status, ...rest } = object as T & { status?: unknown };
  // Every field named in the literal: they all live in the object itself (no separate property
  // array); without a spread when there is nothing more (a literal with one keeps a spare slot).
  const small = {
    apiVersion: API_VERSION,
    kind: shared(kind),
    metadata: compactMetadata(metadata),
    spec: compactSpec(spec),
    status: compactStatus(status),
  };
  return (isEmpty(rest) ? small : { ...small, ...rest }) as unknown as T;
}

/** A spec with its few-valued parts interned; a copy when one is (the parsed spec is never changed). */
function compactSpec(spec: unknown): unknown {
  if (!isPlainObject(spec)) return spec;
  const { userInfo, grantedBy, forObject, execOptions } = spec as Record<string, unknown>;
  if (userInfo === undefined && grantedBy === undefined && forObject === undefined && execOptions === undefined)
    return spec;
  // A grant's spec as the CLI writes it, in a literal: no spare slot (a copy of what valibot built keeps one).
  if (grantedBy !== undefined && hasKeys(spec, GRANT_SPEC))
    return { grantFor: spec.grantFor, grantedBy: interned(grantedBy), grantForUID: spec.grantForUID };
  const copy: Record<string, unknown> = { ...spec };
  if (userInfo !== undefined) copy.userInfo = interned(userInfo);
  if (grantedBy !== undefined) copy.grantedBy = interned(grantedBy);
  // The pod (and container) asked for: requests for the same pod share one (people come back to
  // the same pods); past the table's cap, its resource alone.
  if (isPlainObject(forObject)) {
    const resource = 'resource' in forObject ? interned(forObject.resource) : undefined;
    const whole = interned(forObject);
    copy.forObject = whole !== forObject || resource === undefined ? whole : { ...forObject, resource };
  }
  if (isPlainObject(execOptions) && Array.isArray(execOptions.command)) copy.execOptions = compactExec(execOptions);
  return copy;
}

const GRANT_SPEC = ['grantFor', 'grantedBy', 'grantForUID'] as const;
const EXEC_OPTIONS = ['stdin', 'stdout', 'stderr', 'tty', 'container', 'command'] as const;

/**
 * PodExecOptions with the same fields in the same order. valibot adds them one by one, which puts
 * the fifth and sixth in a separate property array (and a spread copies that): the fields valibot
 * always gives, in a literal, so that they all live in the object itself. And valibot builds
 * arrays by pushing, which leaves room for 17 items: the command, exactly its length.
 */
function compactExec(options: Record<string, unknown>): Record<string, unknown> {
  const command = (options.command as unknown[]).slice();
  if (!hasKeys(options, EXEC_OPTIONS)) return { ...options, command };
  const { stdin, stdout, stderr, tty, container } = options;
  return { stdin, stdout, stderr, tty, container, command };
}

/** Whether `object`'s own keys are exactly `keys`, in that order. */
function hasKeys(object: object, keys: readonly string[]): boolean {
  const own = Object.keys(object);
  return own.length === keys.length && own.every((key, i) => key === keys[i]);
}

function isEmpty(object: object): boolean {
  return Object.keys(object).length === 0;
}

/**
 * A status with the same fields and values, its conditions rebuilt small: each one's texts shared
 * with other statuses (`text`), its times shared within the status (one pass of the status writer
 * sets them all), the array exactly its length. A copy; the parsed status is never changed.
 */
function compactStatus(status: unknown): unknown {
  if (!isPlainObject(status) || !Array.isArray(status.conditions)) return status;
  const times = new Map<string, string>();
  const time = (value: unknown) => {
    if (typeof value !== 'string') return value;
    const found = times.get(value);
    if (found !== undefined) return found;
    times.set(value, value);
    return value;
  };
  const conditions = status.conditions.map((condition: unknown) => {
    if (!isPlainObject(condition)) return condition;
    const { type, status: value, reason, message, lastTransitionTime, ...rest } = condition;
    // The five fields the status writer always writes, named in the literal so that they live in
    // the object itself; a condition without all of them keeps its own fields, texts shared.
    if ([type, value, reason, message, lastTransitionTime].every((field) => typeof field === 'string')) {
      const small = {
        type: text(type),
        status: text(value),
        reason: text(reason),
        message: text(message),
        lastTransitionTime: time(lastTransitionTime),
      };
      return isEmpty(rest) ? small : { ...small, ...rest };
    }
    const copy: Record<string, unknown> = { ...condition };
    for (const key of ['type', 'status', 'reason', 'message'] as const)
      if (typeof copy[key] === 'string') copy[key] = text(copy[key]);
    if (typeof copy.lastTransitionTime === 'string') copy.lastTransitionTime = time(copy.lastTransitionTime);
    return copy;
  });
  const copy: Record<string, unknown> = { ...status, conditions };
  if (typeof status.expiresAt === 'string') copy.expiresAt = time(status.expiresAt);
  return copy;
}

/**
 * One copy of each text the status writer puts in conditions (reasons, "not used yet", "granted by
 * carol"), for all statuses. Some texts are one status's own (a window's end time): the table is
 * emptied when full, so those never keep the common ones out for long (what it shared stays shared).
 */
const texts = new Map<string, string>();
function text(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const found = texts.get(value);
  if (found !== undefined) return found;
  if (texts.size >= 4_096) texts.clear();
  texts.set(value, value);
  return value;
}

/**
 * One frozen object for every cached object whose part is the same JSON value: few users ask,
 * fewer approve, and nearly every request names the same resource. Frozen so that a reader that
 * wrote into one (none does) would throw instead of changing other objects. Only small JSON
 * values (plain objects, arrays, strings, numbers, booleans, null); capped like `shared`.
 */
const internTable = new Map<string, unknown>();
export function interned<T>(value: T): T {
  if (!isPlainObject(value)) return value;
  const key = jsonKey(value);
  if (key === undefined) return value;
  const found = internTable.get(key);
  if (found !== undefined) return found as T;
  if (internTable.size >= 10_000) return value;
  const frozen = deepFrozenCopy(value) as T;
  internTable.set(key, frozen);
  return frozen;
}

/**
 * JSON of a small JSON value, every field in it (no undefined, function or other class), at most
 * MAX_KEY characters: else undefined. The table keeps each key after the objects that had it are
 * gone, so a large value (annotations anyone who creates a request may write) is kept by its
 * object alone, never here.
 */
const MAX_KEY = 1_024;
function jsonKey(value: object): string | undefined {
  let fields = 0;
  const plain = (item: unknown): boolean => {
    if (++fields > 64) return false;
    if (item === null || typeof item === 'string' || typeof item === 'boolean') return true;
    if (typeof item === 'number') return Number.isFinite(item);
    if (Array.isArray(item)) return item.every(plain);
    if (isPlainObject(item)) return Object.values(item).every(plain);
    return false;
  };
  if (!plain(value)) return undefined;
  const key = JSON.stringify(value);
  return key.length <= MAX_KEY ? key : undefined;
}

/** A frozen copy, all the way down; a part already interned is that shared part (a forObject's resource). */
function deepFrozenCopy(value: unknown): unknown {
  if (Array.isArray(value)) return Object.freeze(value.map(deepFrozenCopy));
  if (isPlainObject(value)) {
    const key = jsonKey(value);
    const found = key === undefined ? undefined : internTable.get(key);
    if (found !== undefined) return found;
    // (fromEntries defines each field, a "__proto__" one too, where assigning would set the prototype)
    return Object.freeze(Object.fromEntries(Object.entries(value).map(([key, item]) => [key, deepFrozenCopy(item)])));
  }
  return value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * One copy of each namespace (and kind) string for all objects, instead of one per object. Only
 * for values of which there are few (namespaces), so the table stays small; capped all the same.
 */
const table = new Map<string, string>();
function shared(value: string): string {
  const found = table.get(value);
  if (found !== undefined) return found;
  if (table.size < 10_000) table.set(value, value);
  return value;
}
