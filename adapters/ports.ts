// Interfaces between the Hono shell and the I/O adapters behind it.
import type { AuditEvent, Effect } from '../functions/types.ts';

/** Receives every audit event of every decision. A rejected promise turns the verdict into a denial. */
/** The answer a review gets: with it, an audit line is also the review's line in the log. */
export interface ReviewOutcome {
  operation: string;
  resource: string;
  allowed: boolean;
  code: number;
  message: string;
  /** Milliseconds from reading the request to this decision. */
  ms: number;
}

export interface AuditSink {
  readonly name: string;
  /** `outcome`: the answer this review gets, for a log sink that writes the review's one line (adapters/audit/log.ts). */
  record(event: AuditEvent, outcome?: ReviewOutcome): Promise<void>;
  /** Why the sink cannot take a line right now (closed, backed up); undefined when it can. */
  problem?(): string | undefined;
}

/** Thrown by an EffectExecutor when the effect lost a race (the one-shot was consumed elsewhere). */
export class EffectConflict extends Error {
  override name = 'EffectConflict';
}

/**
 * Carries out the effects of allowed, non-dry-run decisions against the cluster. Answers the
 * effect that gives this one back (a consume answers its release), for the shell to run when the
 * audit that follows fails.
 */
export interface EffectExecutor {
  run(effect: Effect): Promise<Effect | undefined>;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type Logger = Record<LogLevel, (msg: string, fields?: Record<string, unknown>) => void>;
