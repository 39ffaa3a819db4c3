// The composition root: builds the reviewer (what the Hono app runs for each AdmissionReview) the
// same way for every runtime. A runtime adapter (adapters/node, adapters/edge) hands in only what
// differs: its cluster backend, its webhook transports (node:https with a pinned CA, or fetch), where
// the audit log goes, and its settings. So the ordering of effects and audits, which sinks can deny,
// what the audit log records and how the validator fails are the same on Node and on the edge.
// No Node imports: the edge worker loads this.
import { NO_VALIDATOR, type Config, type Lookup, type Validator } from '../functions/types.ts';
import { logAuditSink, streamAuditSink, type AuditStream } from './audit/log.ts';
import type { Transport } from './audit/transport.ts';
import { auditSinkOver } from './audit/webhook-protocol.ts';
import { PublicError } from './errors.ts';
import type { AppOptions } from './http/app.ts';
import { silentLogger } from './log.ts';
import type { AuditSink, EffectExecutor, Logger } from './ports.ts';
import { validatorOver } from './validator/protocol.ts';

/** An extension webhook: its https URL and the transport that reaches it (trusting its CA). */
export interface WebhookEndpoint {
  url: string;
  transport: Transport;
}

export interface ReviewerParts {
  /** The cluster: informer caches (Node), REST reads (edge) or memory (`serve --objects`). */
  cluster: Lookup;
  effects: EffectExecutor;
  /**
   * The server's own user name as the API server sees it (a SelfSubjectReview): its own writes
   * (marking one-shot requests used, cleanup deletions) come back to it as reviews. Resolves
   * undefined when it cannot be known and the runtime serves anyway; rejects to refuse serving.
   */
  whoAmI?: () => Promise<string | undefined>;
  /** The policy settings (flags or bindings); `selfUsernames` comes from `whoAmI`. */
  settings: Omit<Config, 'selfUsernames'>;
  auditWebhook?: WebhookEndpoint;
  validationWebhook?: WebhookEndpoint;
  /**
   * The audit log: a stream that acknowledges each line (Node's stdout, with backpressure), or a
   * line writer that cannot refuse (console.log on the edge).
   */
  auditLog: AuditStream | ((line: string) => void);
  clock?: () => Date;
  logger?: Logger;
}

/** What the Hono app needs to review: everything but the HTTP settings. */
export type Reviewer = Required<
  Pick<AppOptions, 'lookup' | 'validator' | 'effects' | 'audit' | 'auditLog' | 'config' | 'clock' | 'logger'>
>;

export const VALIDATOR_UNREACHABLE =
  'the extended validation webhook could not be asked, so the AccessRequest is refused (fail closed); try again, or ask an admin to check it';

export async function composeReviewer(parts: ReviewerParts): Promise<Reviewer> {
  const clock = parts.clock ?? (() => new Date());
  const self = await parts.whoAmI?.();
  // The audit webhook can deny (nothing unaudited gets through); the audit log is not among these
  // sinks: it records afterwards, with the verdict the webhook's answer left (app.ts).
  const audit: AuditSink[] = parts.auditWebhook
    ? [auditSinkOver(parts.auditWebhook.url, parts.auditWebhook.transport)]
    : [];
  const auditLog =
    typeof parts.auditLog === 'function'
      ? logAuditSink(parts.auditLog, { clock })
      : streamAuditSink(parts.auditLog, { clock });
  return {
    lookup: parts.cluster,
    validator: parts.validationWebhook
      ? failClosed(validatorOver(parts.validationWebhook.url, parts.validationWebhook.transport))
      : NO_VALIDATOR,
    effects: parts.effects,
    audit,
    auditLog,
    config: { ...parts.settings, selfUsernames: self ? [self] : [] },
    clock,
    logger: parts.logger ?? silentLogger,
  };
}

/** A validator whose failures reach the user as a refusal saying so (the cause stays in the logs). */
export function failClosed(validator: Validator): Validator {
  return {
    async validateAccessRequest(data) {
      try {
        return await validator.validateAccessRequest(data);
      } catch (error) {
        throw new PublicError(VALIDATOR_UNREACHABLE, { cause: error });
      }
    },
  };
}
