// The shell's one error model. An error is either for the user (a PublicError: its message is what
// kubectl shows, e.g. "the AccessRequest cache ... is stale; try again in a moment") or internal
// (logged, and answered with a generic text naming the review). Answers of the API server carry an
// HTTP status, read by one `statusOf` whichever client made the call (the server's and the edge's
// client, adapters/kubernetes/rest.ts, over node:https or fetch; the CLI's client-node).
// No Node imports: the edge worker loads this.

/** An error whose message is safe to show to the user (the rest stays in the logs). */
export class PublicError extends Error {
  constructor(
    public readonly publicMessage: string,
    options?: { cause?: unknown },
  ) {
    super(publicMessage, options);
    this.name = 'PublicError';
  }
}

/** What the user is told about `error`: its own message when it is a PublicError, else `internal`. */
export function publicMessage(error: unknown, internal: string): string {
  return error instanceof PublicError ? error.publicMessage : internal;
}

/** A non-2xx answer of the API server to our client (rest.ts: the edge's fetch, the server's node:https), with its Status reason and message. */
export class KubernetesApiError extends Error {
  override name = 'KubernetesApiError';
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    readonly retryAfterMs?: number,
    /** The API server's own message (its Status.message), for users: what the webhook or RBAC said. */
    readonly apiMessage?: string,
  ) {
    super(message);
  }
}

/**
 * The HTTP status of an API server answer: a KubernetesApiError (rest.ts), a client-node ApiException
 * (`code`, the CLI) or a watch error (`statusCode`); undefined for anything else (no answer).
 */
export function statusOf(error: unknown): number | undefined {
  if (error instanceof KubernetesApiError) return error.status;
  if (!error || typeof error !== 'object') return undefined;
  const e = error as { code?: unknown; statusCode?: unknown };
  if (typeof e.code === 'number') return e.code;
  if (typeof e.statusCode === 'number') return e.statusCode;
  return undefined;
}

/** The object is not there (HTTP 404). */
export const isNotFound = (error: unknown): boolean => statusOf(error) === 404;

/** A precondition (uid, resourceVersion) or a name clashed: another writer came first (HTTP 409). */
export const isConflict = (error: unknown): boolean => statusOf(error) === 409;
