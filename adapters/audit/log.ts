// The always-on audit log: one JSON object per line (stdout by default), separate from the
// diagnostic logger on stderr. The first fields answer who did what where and with which verdict;
// `data` carries the whole event (the same body the audit webhook receives), so nothing is lost.
import type { AccessGrant, AccessRequest } from '../../functions/schemas.ts';
import type { AuditEvent } from '../../functions/types.ts';
import type { AuditSink, ReviewOutcome } from '../ports.ts';
import { eventDataJson } from './event-json.ts';

export interface AuditSummary {
  type: AuditEvent['type'];
  /** exec: allowed | denied; created: created; granted: granted | denied (the grant's status); deleted. */
  verdict: string;
  /** The authenticated user who made the call. */
  user: string;
  uid: string;
  namespace: string;
  /** exec: the pod; created: the AccessRequest; granted: the AccessGrant. */
  name: string;
  dryRun: boolean;
  [field: string]: unknown;
}

export type AuditLine = { time: string; log: 'audit' } & AuditSummary & { data: AuditEvent['data'] };

/** Every exec review's summary (exec, attach, port-forward, debug, cp): spelled out, no spreads. */
function execSummary(event: Extract<AuditEvent, { type: 'audit-exec' }>): AuditSummary {
  const { request, execOptions, isAllowed, isAdmin } = event.data;
  return {
    type: event.type,
    verdict: isAllowed ? 'allowed' : 'denied',
    user: request.userInfo.username,
    namespace: request.namespace,
    name: request.name,
    subResource: request.subResource,
    container: execOptions.container,
    command: execOptions.command,
    stdin: execOptions.stdin,
    tty: execOptions.tty,
    admin: isAdmin,
    uid: request.uid,
    dryRun: request.dryRun,
  };
}

/** The readable head of an audit line; also used by the example audit webhook for summaries. */
export function auditSummary(event: AuditEvent): AuditSummary {
  if (event.type === 'audit-exec') return execSummary(event);
  const request = event.data.request;
  const who = { user: request.userInfo.username, namespace: request.namespace };
  const tail = { uid: request.uid, dryRun: request.dryRun };
  switch (event.type) {
    case 'audit-created': {
      const spec = event.data.accessRequest.spec;
      return {
        type: event.type,
        verdict: 'created',
        ...who,
        name: event.data.accessRequest.metadata.name || request.name,
        requester: spec.userInfo.username,
        pod: spec.forObject.name,
        container: spec.execOptions?.container ?? '',
        command: spec.execOptions?.command ?? [],
        validFor: spec.validFor || 'once',
        ...(spec.customKeys ? { customKeys: spec.customKeys } : {}),
        ...tail,
      };
    }
    case 'audit-granted': {
      const { accessRequest, accessGrant } = event.data;
      return {
        type: event.type,
        verdict: accessGrant.status,
        ...who,
        name: accessGrant.metadata.name || request.name,
        grantFor: accessGrant.spec.grantFor,
        grantedBy: accessGrant.spec.grantedBy.username,
        requester: accessRequest.spec.userInfo.username,
        pod: accessRequest.spec.forObject.name,
        container: accessRequest.spec.execOptions?.container ?? '',
        command: accessRequest.spec.execOptions?.command ?? [],
        validFor: accessRequest.spec.validFor || 'once',
        ...(accessGrant.spec.reason ? { reason: accessGrant.spec.reason } : {}),
        ...tail,
      };
    }
    case 'audit-break-glass': {
      const { accessRequest, accessGrant, phase, policy } = event.data;
      return {
        type: event.type,
        // Loud on purpose: one verdict to alert on, whatever the phase.
        verdict: 'break-glass',
        ...who,
        name: accessRequest.metadata.name,
        phase,
        policy,
        grant: accessGrant.metadata.name,
        requester: accessRequest.spec.userInfo.username,
        pod: accessRequest.spec.forObject.name,
        validFor: accessRequest.spec.validFor || 'once',
        reason: accessGrant.spec.reason ?? '',
        ...tail,
      };
    }
    case 'audit-reviewed': {
      const { accessRequest, accessGrant, breakGlass } = event.data;
      return {
        type: event.type,
        verdict: 'reviewed',
        ...who,
        name: accessRequest.metadata.name,
        grant: breakGlass.metadata.name,
        requester: accessRequest.spec.userInfo.username,
        reviewedBy: accessGrant.spec.grantedBy.username,
        ...(accessGrant.spec.reason ? { reason: accessGrant.spec.reason } : {}),
        ...tail,
      };
    }
    case 'audit-updated': {
      const { kind, object } = event.data;
      return {
        type: event.type,
        verdict: 'updated',
        ...who,
        name: object.metadata.name || request.name,
        kind,
        ...tail,
      };
    }
    case 'audit-deleted': {
      const { kind, object, role } = event.data;
      return {
        type: event.type,
        verdict: 'deleted',
        ...who,
        name: object?.metadata.name || request.name,
        kind,
        deleter: role,
        ...(!object
          ? { malformed: true }
          : kind === 'AccessRequest'
            ? {
                requester: (object as AccessRequest).spec.userInfo.username,
                pod: (object as AccessRequest).spec.forObject.name,
              }
            : {
                grantFor: (object as AccessGrant).spec.grantFor,
                grantedBy: (object as AccessGrant).spec.grantedBy.username,
                status: (object as AccessGrant).status,
              }),
        ...tail,
      };
    }
  }
}

/**
 * One audit line; an event too deep to serialise keeps its summary, never fails the decision.
 * With the review's `outcome` it is also that review's line (`review: {...}`): one line per
 * audited review, not an audit line and a review line.
 */
export function auditLine(event: AuditEvent, time: Date, outcome?: ReviewOutcome): string {
  // Joined as text rather than spread into one object and stringified whole: the same line (key
  // order too) for less work on every audited review.
  const summary = JSON.stringify(auditSummary(event));
  const head = `{"time":${JSON.stringify(time.toISOString())},"log":"audit",${summary.slice(1, -1)}${
    outcome ? `,"review":${JSON.stringify(outcome)}` : ''
  }`;
  let data: string;
  try {
    // The audit webhook, which heard of this event first, left its body here when there is one.
    data = eventDataJson(event, false);
  } catch (error) {
    data = JSON.stringify(`[not serialisable: ${(error as Error).message}]`);
  }
  return `${head},"data":${data}}\n`;
}

/** An audit log for runtimes that collect console output (the edge): a write cannot be refused. */
export function logAuditSink(
  write: (line: string) => void = (line) => {
    process.stdout.write(line);
  },
  options: { clock?: () => Date } = {},
): AuditSink {
  const clock = options.clock ?? (() => new Date());
  return {
    name: 'audit log',
    async record(event, outcome) {
      write(auditLine(event, clock(), outcome));
    },
  };
}

/** The part of a Node Writable (process.stdout) the stream audit log uses. */
export interface AuditStream {
  write(chunk: string, callback: (error?: Error | null) => void): boolean;
  readonly writableLength: number;
  on(event: 'error', listener: (error: Error) => void): unknown;
}

/**
 * The audit log on a stream (stdout in a pod), as part of the decision: a line is recorded once
 * the stream has handed it to the OS (its write callback), so the answer waits for its line. A
 * reader that stalls fills at most `maxPendingBytes` (default 1 MiB) of buffered lines; past that
 * reviews are refused at once (`problem()`), not queued without bound. A closed or failing output
 * (EPIPE) refuses every review from then on and never crashes the process.
 */
export function streamAuditSink(
  stream: AuditStream,
  options: { clock?: () => Date; maxPendingBytes?: number } = {},
): AuditSink {
  const clock = options.clock ?? (() => new Date());
  const maxPending = options.maxPendingBytes ?? 1024 * 1024;
  let broken: Error | undefined;
  stream.on('error', (error) => {
    broken ??= error;
  });
  const problem = () =>
    broken
      ? `its output failed: ${broken.message}`
      : stream.writableLength > maxPending
        ? `its reader is not keeping up: ${stream.writableLength} bytes wait to be written`
        : undefined;
  return {
    name: 'audit log',
    problem,
    record(event, outcome) {
      const why = problem();
      if (why) return Promise.reject(new Error(`audit log: ${why}`));
      return new Promise<void>((resolve, reject) => {
        stream.write(auditLine(event, clock(), outcome), (error) => {
          if (error) {
            broken ??= error;
            reject(new Error(`audit log: its output failed: ${error.message}`));
          } else resolve();
        });
      });
    },
  };
}
