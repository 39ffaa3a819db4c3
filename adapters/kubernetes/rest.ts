// The one way the project talks to the Kubernetes API, whatever carries the bytes: the URL of a
// call, the error an answer other than 2xx becomes (a KubernetesApiError, read by errors.ts
// `statusOf`), the one short retry of a 429, and the watch stream's newline-delimited JSON events.
// The edge worker runs it over `fetch` (adapters/edge/kubernetes.ts), the Node server over
// node:https (client.ts). No Node imports: the edge worker loads this.
import { GROUP, VERSION } from '../../functions/schemas.ts';
import { isNotFound, KubernetesApiError } from '../errors.ts';
import type { ObjectDeleter, RequestStatusWriter, RoleBindingWriter } from './apply.ts';

export type Method = 'GET' | 'DELETE' | 'POST' | 'PUT' | 'PATCH';

const REQUESTS = 'accessrequests';
const GRANTS = 'accessgrants';
type Plural = 'accessrequests' | 'accessgrants' | 'accesspolicies';

export interface KubernetesClient {
  get(path: string, query?: Record<string, string>): Promise<unknown>;
  delete(path: string, body: unknown): Promise<unknown>;
  /** Creates: the review APIs (SubjectAccessReview, SelfSubjectReview), and RoleBindings (fetchWrites). */
  post(path: string, body: unknown): Promise<unknown>;
  /** Replaces: an AccessRequest's status (marking a one-shot request used), and RoleBindings (fetchWrites). */
  put(path: string, body: unknown): Promise<unknown>;
}

export function objectsPath(plural: Plural, namespace?: string, name?: string): string {
  const scope = namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  return `/apis/${GROUP}/${VERSION}${scope}/${plural}${name ? `/${encodeURIComponent(name)}` : ''}`;
}

/**
 * The write interfaces of adapters/kubernetes/apply.ts over the REST API (any KubernetesClient): an AccessRequest's
 * status, deletions with a uid precondition, and RoleBindings (the edge makes none itself today;
 * see docs/edge.md).
 */
export function apiWrites(client: KubernetesClient): RequestStatusWriter & ObjectDeleter & RoleBindingWriter {
  const roleBindingPath = (namespace: string, name?: string) =>
    `/apis/rbac.authorization.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/rolebindings${name ? `/${encodeURIComponent(name)}` : ''}`;
  return {
    replaceRequestStatus: (namespace, name, body) =>
      client.put(`${objectsPath(REQUESTS, namespace, name)}/status`, body),
    async readRequest(namespace, name) {
      try {
        return await client.get(objectsPath(REQUESTS, namespace, name));
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    },
    async deleteObject(kind, namespace, name, uid) {
      await client.delete(objectsPath(kind === 'AccessRequest' ? REQUESTS : GRANTS, namespace, name), {
        apiVersion: 'v1',
        kind: 'DeleteOptions',
        preconditions: { uid },
      });
    },
    async createRoleBinding(binding) {
      await client.post(roleBindingPath(binding.metadata.namespace), binding);
    },
    async replaceRoleBinding(binding) {
      await client.put(roleBindingPath(binding.metadata.namespace, binding.metadata.name), binding);
    },
    async deleteRoleBinding(namespace, name) {
      await client.delete(roleBindingPath(namespace, name), { apiVersion: 'v1', kind: 'DeleteOptions' });
    },
  };
}

/** The URL of `path` (with `query`) on the API server at `base`, keeping a path prefix of `base`. */
export function apiUrl(base: URL, path: string, query?: Record<string, string | undefined>): URL {
  const target = new URL(base);
  target.pathname = `${base.pathname.replace(/\/+$/, '')}${path}`;
  target.search = '';
  for (const [key, value] of Object.entries(query ?? {})) if (value !== undefined) target.searchParams.set(key, value);
  return target;
}

/** The body of an answer as JSON; undefined when it is empty or not JSON. */
export function parseJson(text: string): unknown {
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The error of an answer with a non-2xx `status`: the Status object's reason and message, the
 * call, and Retry-After (seconds) when the server sent it; `hint` says what to do next.
 */
export function apiError(
  method: Method,
  path: string,
  status: number,
  text: string,
  retryAfter: string | null | undefined,
  hint = '',
): KubernetesApiError {
  const body = parseJson(text) as { reason?: string; message?: string } | undefined;
  const message = body?.message ?? text.slice(0, 200);
  const seconds = Number(retryAfter);
  return new KubernetesApiError(
    status,
    body?.reason ?? '',
    `Kubernetes API ${method} ${path}: HTTP ${status}${hint}: ${message}`,
    Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : undefined,
    body?.message,
  );
}

/**
 * Runs `once`, and once more after a short pause if the API server answered 429 (priority and
 * fairness, or a CRD's storage re-initialising after an update): well inside a webhook's timeout.
 */
export async function retryTooManyRequests<T>(once: () => Promise<T>): Promise<T> {
  try {
    return await once();
  } catch (error) {
    if (!(error instanceof KubernetesApiError && error.status === 429)) throw error;
    await new Promise((resolve) => setTimeout(resolve, Math.min(error.retryAfterMs ?? 250, 250)));
    return once();
  }
}

/** One event of a watch: ADDED, MODIFIED, DELETED, BOOKMARK or ERROR (whose object is a Status). */
export interface WatchEvent {
  type: string;
  object: unknown;
}

/**
 * Splits a watch stream into its events: feed it the text as it arrives (chunks cut anywhere),
 * get each complete line's event. A line that is not a JSON event throws (the stream is broken).
 */
export function watchLines(onEvent: (event: WatchEvent) => void): { push(text: string): void; end(): void } {
  let buffered = '';
  const line = (text: string) => {
    if (!text.trim()) return;
    const event = JSON.parse(text) as Partial<WatchEvent> | null;
    if (!event || typeof event.type !== 'string') throw new Error(`not a watch event: ${text.slice(0, 100)}`);
    onEvent({ type: event.type, object: event.object });
  };
  return {
    push(text) {
      buffered += text;
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const complete = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        line(complete);
      }
    },
    end() {
      const rest = buffered;
      buffered = '';
      line(rest);
    },
  };
}
