// What a kind of access is (exec, copy, attach, port-forward, debug), and the review preamble every
// pod kind shares. Each kind lives in functions/<kind>/ and exports one `AccessKind`; the list of
// them is functions/kinds.ts, and every table keyed by subresource is derived from that list.
import * as v from 'valibot';
import { isAlwaysAllowed } from './access.ts';
import { AUDIT_ANNOTATION_KEYS } from './match.ts';
import { describeIssues, type AccessRequest, type AdmissionRequest, type PodExecOptions } from './schemas.ts';
import { allow, deny, type Concern, type Context, type Decision, type Lookup } from './types.ts';

export type RequestSpec = AccessRequest['spec'];

/** What a person typed that a request does not record, for the kubectl command printed back. */
export interface KubectlHints {
  /** kubectl cp: the local path (DEST of a copy out, SRC of a copy in). */
  local?: string;
  /** kubectl cp: the path in the pod as typed (a file below the requested directory, for a copy in). */
  remotePath?: string;
  /** kubectl port-forward: the `[LOCAL_PORT:]REMOTE_PORT` arguments as typed. */
  ports?: readonly string[];
}

export interface AccessKind {
  /** The word people use, and the `kubectl request` subcommand: exec, cp, attach, port-forward, debug. */
  name: string;
  /** The pods subresource the webhook reviews for this kind, and the operation it reviews. */
  subResource: string;
  operation: 'CONNECT' | 'UPDATE';
  /**
   * Whether a request for `subResource` is of this kind. Only needed where kinds share a
   * subresource (exec and copy share pods/exec); the others claim every request for theirs.
   */
  claims?(spec: RequestSpec): boolean;
  /** The AccessRequest spec fields this kind's requests may carry (the others' are refused). */
  optionFields: readonly string[];
  /**
   * The admission review of `subResource`. Exactly one kind per subresource has it; a kind that
   * shares its subresource is an explicit branch of that review (copy of exec).
   */
  review?: Concern;
  /** Request-time rule: why this spec cannot be requested (a field path and what to do), or undefined. */
  requestRule(spec: RequestSpec): string | undefined;
  /** What follows "alice asks to": `port-forward to pod shop/web-0`. */
  asks(spec: RequestSpec): string;
  /** What the grant would allow, as label/value lines for the person deciding on it. */
  describe(spec: RequestSpec): [string, string][];
  /** One short line for the list's COMMAND column: the command, `copy into /tmp/upload`, `port-forward to any port`. */
  brief(spec: RequestSpec): string;
  /** One use of a one-shot request: "exec" in "once (a single exec)". */
  oneUse: string;
  /** The kubectl command line (after `kubectl` and its connection flags) that a grant of `spec` allows. */
  kubectl(spec: RequestSpec, hints?: KubectlHints): string[];
}

/** Where the pod is, as kubectl and messages name it. */
export function podOf(spec: RequestSpec): string {
  return `pod ${spec.forObject.namespace}/${spec.forObject.name}`;
}

/** Request-time rule of the kinds on pods/exec (exec and copy): never an interactive session. */
export function nonInteractiveExec(spec: RequestSpec): string | undefined {
  return spec.execOptions?.stdin || spec.execOptions?.tty
    ? 'spec.execOptions: stdin (-i, --stdin) and tty (-t, --tty) are not allowed, only single non-interactive commands'
    : undefined;
}

/** What a kind's review decided, with the audit's `execOptions` where they differ from the parsed options. */
export type Verdict = Decision & { auditOptions?: PodExecOptions };

export interface PodReview<O> {
  /** `pods/exec`, for messages. */
  resource: string;
  operation: AccessKind['operation'];
  /** The review's options, or why they are malformed (answered 400, not audited). */
  parse(request: AdmissionRequest): { options: O } | { malformed: string };
  /** The options as the seed's audit events carry them (`execOptions`). */
  auditOptions(options: O): PodExecOptions;
  /** Why these options are an interactive session nobody can audit (denied), or undefined. */
  interactive?(options: O, request: AdmissionRequest): string | undefined;
  /** A branch decided before the interactive check, or undefined (copy-in is stdin by design). */
  before?(request: AdmissionRequest, options: O, lookup: Lookup, context: Context): Promise<Verdict | undefined>;
  /** The kind's own verdict for a user who is not always allowed: the matching grant, or why not. */
  judge(request: AdmissionRequest, options: O, lookup: Lookup, context: Context): Promise<Verdict>;
}

/** `parse` for a review whose object is one valibot schema. */
export function parseObject<S extends v.GenericSchema>(schema: S, noun: string, fallback?: unknown) {
  return (request: AdmissionRequest): { options: v.InferOutput<S> } | { malformed: string } => {
    const parsed = v.safeParse(schema, request.object ?? fallback);
    return parsed.success
      ? { options: parsed.output }
      : { malformed: `malformed ${noun}: ${describeIssues(parsed.issues)}` };
  };
}

/**
 * The preamble every pod review shares: the operation, parsing, the always-allowed path, the
 * interactive denial, and one `audit-exec` event on every verdict after parsing.
 */
export function podConcern<O>(review: PodReview<O>): Concern {
  return async (request, lookup, context) => {
    if (request.operation !== review.operation) {
      return deny(`${review.resource} reviews must be ${review.operation}, got ${request.operation}`, 400);
    }
    const parsed = review.parse(request);
    if ('malformed' in parsed) return deny(parsed.malformed, 400);
    const { options } = parsed;
    const audited = ({ auditOptions, ...verdict }: Verdict, isAdmin = false): Decision => ({
      ...verdict,
      audit: [
        {
          type: 'audit-exec',
          data: {
            request,
            isAllowed: verdict.allowed,
            execOptions: auditOptions ?? review.auditOptions(options),
            isAdmin,
            // The policy that let it through without a human grant (not in the seed's protocol).
            ...(verdict.auditAnnotations?.[AUDIT_ANNOTATION_KEYS.policy]
              ? { policy: verdict.auditAnnotations[AUDIT_ANNOTATION_KEYS.policy] }
              : {}),
          },
        },
        // A verdict's own events (audit-break-glass) follow the exec's.
        ...verdict.audit,
      ],
    });

    if (isAlwaysAllowed(request.userInfo, context.config)) {
      return audited(allow('always-allowed identity'), true);
    }
    const early = await review.before?.(request, options, lookup, context);
    if (early) return audited(early);
    const interactive = review.interactive?.(options, request);
    if (interactive) return audited(deny(interactive, 403));
    return audited(await review.judge(request, options, lookup, context));
  };
}
