// The Kubernetes side of the edge worker, over plain `fetch` and a bearer token: no informer cache,
// so every review reads the API server (a quorum read: the freshest state, one round trip per
// lookup). Lists are narrowed to one namespace and, where the CRD declares selectableFields, to one
// pod or one request name by a field selector; the result is always filtered here as well.
import * as v from 'valibot';
import { dueForCleanup, type CleanupEvent } from '../../functions/cleanup/index.ts';
import { readPolicy, type LoadedPolicy } from '../../functions/policy.ts';
import { AccessGrant, AccessRequest, GROUP, VERSION } from '../../functions/schemas.ts';
import type { Lookup } from '../../functions/types.ts';
import { isNotFound, KubernetesApiError } from '../errors.ts';
import {
  applyDeletions,
  statusEffects,
  type ObjectDeleter,
  type RequestStatusWriter,
  type RoleBindingWriter,
} from '../kubernetes/apply.ts';
import {
  isAllowedAnswer,
  SELF_SUBJECT_REVIEWS_PATH,
  selfSubjectReview,
  subjectAccessReview,
  SUBJECT_ACCESS_REVIEWS_PATH,
  usernameOfSelfReview,
} from '../authorization.ts';
import type { EffectExecutor, Logger } from '../ports.ts';
import type { FieldSelectorMode } from './settings.ts';
import {
  apiError,
  apiUrl,
  apiWrites,
  objectsPath,
  parseJson,
  retryTooManyRequests,
  type KubernetesClient,
  type Method,
} from '../kubernetes/rest.ts';

export { objectsPath, type KubernetesClient } from '../kubernetes/rest.ts';
/** The write interfaces of adapters/kubernetes/apply.ts over the REST API (rest.ts `apiWrites`). */
export const fetchWrites = apiWrites;

export const REQUESTS = 'accessrequests';
export const GRANTS = 'accessgrants';
export const POLICIES = 'accesspolicies';
type Plural = typeof REQUESTS | typeof GRANTS | typeof POLICIES;

export interface KubernetesClientOptions {
  /** API server base URL (a path prefix, as behind some proxies, is kept). */
  server: URL | string;
  token: string;
  /** The runtime's fetch, already trusting the API server's CA where the runtime can (Deno, Bun). */
  fetch: typeof fetch;
  timeoutMs?: number;
}

export function kubernetesClient(options: KubernetesClientOptions): KubernetesClient {
  const base = new URL(options.server);
  const timeoutMs = options.timeoutMs ?? 2000;
  const fetchFn = options.fetch;

  const call = (method: Method, path: string, query?: Record<string, string>, body?: unknown) =>
    retryTooManyRequests(() => callOnce(method, path, query, body));

  async function callOnce(
    method: Method,
    path: string,
    query?: Record<string, string>,
    body?: unknown,
  ): Promise<unknown> {
    const signal = AbortSignal.timeout(timeoutMs);
    let response: Response;
    try {
      response = await fetchFn(apiUrl(base, path, query).toString(), {
        method,
        headers: {
          Authorization: `Bearer ${options.token}`,
          Accept: 'application/json',
          'User-Agent': 'kube-request-access-edge',
          ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal,
        redirect: 'manual',
      });
    } catch (error) {
      const why = signal.aborted
        ? `no answer within ${timeoutMs}ms`
        : error instanceof Error
          ? error.message
          : String(error);
      throw new Error(`Kubernetes API ${method} ${path}: ${why}`, { cause: error });
    }
    const text = await response.text();
    if (!response.ok) {
      const hint =
        response.status === 401
          ? ' (the token was not accepted: check KUBERNETES_TOKEN)'
          : response.status === 403
            ? ' (give the token get, list and delete on accessrequests and accessgrants, list on accesspolicies, and get on pods)'
            : '';
      throw apiError(method, path, response.status, text, response.headers.get('retry-after'), hint);
    }
    return parseJson(text);
  }

  return {
    get: (path, query) => call('GET', path, query),
    delete: (path, body) => call('DELETE', path, undefined, body),
    post: (path, body) => call('POST', path, undefined, body),
    put: (path, body) => call('PUT', path, undefined, body),
  };
}

/** Escapes a field selector value (`\`, `,` and `=` are special). */
function selectorValue(value: string): string {
  return value.replace(/[\\,=]/g, (c) => `\\${c}`);
}

function isUnsupportedSelector(error: unknown): boolean {
  return error instanceof KubernetesApiError && error.status === 400 && /field label/i.test(error.message);
}

/** Parses list items, dropping malformed objects (they never match, as in the informer backend). */
function parseItems<T>(schema: v.GenericSchema<unknown, T>, list: unknown, logger: Logger, kind: string): T[] {
  const items = (list as { items?: unknown } | undefined)?.items;
  if (!Array.isArray(items)) throw new Error(`Kubernetes API: a ${kind} list without items`);
  const parsed: T[] = [];
  for (const item of items) {
    const result = v.safeParse(schema, item);
    if (result.success) parsed.push(result.output);
    else {
      const meta = (item as { metadata?: { namespace?: string; name?: string } }).metadata;
      logger.warn(`ignoring malformed ${kind}`, { namespace: meta?.namespace, name: meta?.name });
    }
  }
  return parsed;
}

export interface FetchLookupOptions {
  client: KubernetesClient;
  fieldSelectors?: FieldSelectorMode;
  logger: Logger;
}

/** Lookup over the REST API: one GET per call, nothing cached but whether field selectors work. */
export function fetchLookup(options: FetchLookupOptions): Lookup & { fieldSelectorsWork(): boolean | undefined } {
  const { client, logger } = options;
  const mode = options.fieldSelectors ?? 'auto';
  // Learned per isolate in `auto` mode: undefined until the first list answers.
  let selectable: boolean | undefined = mode === 'on' ? true : mode === 'off' ? false : undefined;

  async function list<T>(
    plural: Plural,
    schema: v.GenericSchema<unknown, T>,
    kind: string,
    namespace: string,
    fieldSelector: string,
  ): Promise<T[]> {
    if (selectable !== false) {
      try {
        const result = parseItems(
          schema,
          await client.get(objectsPath(plural, namespace), { fieldSelector }),
          logger,
          kind,
        );
        selectable = true;
        return result;
      } catch (error) {
        if (mode !== 'auto' || !isUnsupportedSelector(error)) throw error;
        selectable = false;
        logger.info('the CRDs declare no selectableFields: lists cover the whole namespace', { plural });
      }
    }
    return parseItems(schema, await client.get(objectsPath(plural, namespace)), logger, kind);
  }

  return {
    fieldSelectorsWork: () => selectable,
    async accessRequestsFor({ namespace, pod, usernames }) {
      const items = await list(
        REQUESTS,
        AccessRequest,
        'AccessRequest',
        namespace,
        `spec.forObject.name=${selectorValue(pod)}`,
      );
      const wanted = new Set(usernames);
      return items.filter(
        (r) =>
          r.metadata.namespace === namespace && r.spec.forObject.name === pod && wanted.has(r.spec.userInfo.username),
      );
    },
    async accessRequest(namespace, name) {
      try {
        const object = await client.get(objectsPath(REQUESTS, namespace, name));
        const parsed = v.safeParse(AccessRequest, object);
        if (!parsed.success) {
          logger.warn('ignoring malformed AccessRequest', { namespace, name });
          return undefined;
        }
        return parsed.output;
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    },
    async grantsFor(namespace, requestName) {
      const items = await list(
        GRANTS,
        AccessGrant,
        'AccessGrant',
        namespace,
        `spec.grantFor=${selectorValue(requestName)}`,
      );
      return items.filter((g) => g.metadata.namespace === namespace && g.spec.grantFor === requestName);
    },
    async policiesFor(namespace) {
      return listPolicies(client, namespace, logger);
    },
    async isAuthorized(user, attributes) {
      return isAllowedAnswer(await client.post(SUBJECT_ACCESS_REVIEWS_PATH, subjectAccessReview(user, attributes)));
    },
    // Asked only for a request pinned to a pod (spec.forObject.uid): one GET within the client's timeout.
    async podUID(namespace, name) {
      try {
        const pod = (await client.get(
          `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}`,
        )) as { metadata?: { uid?: string } } | undefined;
        return pod?.metadata?.uid || undefined;
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    },
  };
}

/**
 * The AccessPolicies of `namespace` (all namespaces when undefined). A malformed one is kept,
 * marked, so it fails its namespace closed. A 404 for the collection means the CRD is not
 * installed: then nobody can have written a policy, and there are none.
 */
async function listPolicies(
  client: KubernetesClient,
  namespace: string | undefined,
  logger: Logger,
): Promise<LoadedPolicy[]> {
  let list: unknown;
  try {
    list = await client.get(objectsPath(POLICIES, namespace));
  } catch (error) {
    if (isNotFound(error)) return [];
    throw error;
  }
  const items = (list as { items?: unknown } | undefined)?.items;
  if (!Array.isArray(items)) throw new Error('Kubernetes API: an AccessPolicy list without items');
  const policies: LoadedPolicy[] = [];
  for (const item of items) {
    const policy = readPolicy(item);
    if (!policy) continue;
    if (policy.malformed)
      logger.warn('malformed AccessPolicy: nothing is granted in its namespace until it is fixed', {
        namespace: policy.metadata.namespace,
        name: policy.metadata.name,
      });
    if (!namespace || policy.metadata.namespace === namespace) policies.push(policy);
  }
  return policies;
}

/** The worker's own user name (its token's identity), or undefined when the API server cannot say. */
export async function whoAmI(client: KubernetesClient): Promise<string | undefined> {
  return usernameOfSelfReview(await client.post(SELF_SUBJECT_REVIEWS_PATH, selfSubjectReview));
}

/** Carries out effects over the REST API: a one-shot is marked used on its status, with a resourceVersion precondition. */
export function fetchEffects(options: {
  client: KubernetesClient;
  logger: Logger;
  clock?: () => Date;
}): EffectExecutor {
  return statusEffects({
    writer: fetchWrites(options.client),
    logger: options.logger,
    ...(options.clock ? { clock: options.clock } : {}),
  });
}

export interface CleanupResult {
  deleted: CleanupEvent[];
  failed: number;
  nextDueAt?: Date;
}

/**
 * One cleanup pass (the `scheduled` handler): lists requests and grants in `namespaces` (all when
 * empty), asks functions/cleanup what is due, deletes each with a uid precondition.
 */
export async function cleanupOnce(options: {
  client: KubernetesClient;
  namespaces: readonly string[];
  now: Date;
  deleteAfterMs: number;
  usernamePrefix: string;
  logger: Logger;
  orphanGraceMs?: number;
}): Promise<CleanupResult> {
  const { client, logger } = options;
  const scopes: (string | undefined)[] = options.namespaces.length ? [...options.namespaces] : [undefined];
  const requests: AccessRequest[] = [];
  const grants: AccessGrant[] = [];
  const policies: LoadedPolicy[] = [];
  for (const namespace of scopes) {
    policies.push(...(await listPolicies(client, namespace, logger)));
    // Grants first: a grant made between the two lists finds its request; the reverse would look orphaned.
    grants.push(...parseItems(AccessGrant, await client.get(objectsPath(GRANTS, namespace)), logger, 'AccessGrant'));
    requests.push(
      ...parseItems(AccessRequest, await client.get(objectsPath(REQUESTS, namespace)), logger, 'AccessRequest'),
    );
  }
  const plan = dueForCleanup({
    requests,
    grants,
    policies,
    now: options.now,
    deleteAfterMs: options.deleteAfterMs,
    usernamePrefix: options.usernamePrefix,
    ...(options.orphanGraceMs !== undefined ? { orphanGraceMs: options.orphanGraceMs } : {}),
  });
  const { deleted, failed } = await applyDeletions(fetchWrites(client), plan.deletions, logger);
  return { deleted, failed, ...(plan.nextDueAt ? { nextDueAt: plan.nextDueAt } : {}) };
}

export { KubernetesApiError } from '../errors.ts';
