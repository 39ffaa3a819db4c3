// The Hono app: AdmissionReview in, AdmissionReview out. Parses at the boundary, routes to the
// pure concern, carries out effects (never on dry run), audits every decision, echoes the uid.
// It runs unchanged on Node (adapters/node) and on edge runtimes (adapters/edge).
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import * as v from 'valibot';
import { concernFor, routeKey } from '../../functions/index.ts';
import { AdmissionReview, describeIssues, type AdmissionRequest } from '../../functions/schemas.ts';
import {
  deny,
  NO_VALIDATOR,
  type AuditEvent,
  type Config,
  type Decision,
  type Effect,
  type Lookup,
  type Validator,
} from '../../functions/types.ts';
import { publicMessage } from '../errors.ts';
import { silentLogger } from '../log.ts';
import { EffectConflict, type AuditSink, type EffectExecutor, type Logger, type ReviewOutcome } from '../ports.ts';
import { jsonNestingError } from './json.ts';
import { Metrics } from './metrics.ts';

/**
 * A runtime's faster way to a review's Content-Type and body than `c.req`, handed in by its
 * adapter (Node: straight from the IncomingMessage, see adapters/node/body.ts). Undefined for a
 * request it cannot read that way; then the app reads `c.req` behind Hono's bodyLimit.
 */
export type BodyReader = (c: Context) =>
  | {
      contentType: string | undefined;
      /** The body as text, or undefined when it is larger than `maxBytes` (declared or counted). */
      text(maxBytes: number): Promise<string | undefined>;
    }
  | undefined;

export interface AppOptions {
  /** The cluster, read-only. */
  lookup: Lookup;
  /** The extended-validation webhook (default: none, every AccessRequest is valid). */
  validator?: Validator;
  effects: EffectExecutor;
  /** Every audit event goes to every sink (the audit webhook), never for a dry run; any failure denies. */
  audit: readonly AuditSink[];
  /**
   * The audit log: records each event after the sinks above settled, with the final verdict, so it
   * never says "allowed" for an exec that a failed audit webhook turned into a denial.
   */
  auditLog?: AuditSink;
  config: Config;
  clock?: () => Date;
  logger?: Logger;
  /** Largest accepted body in bytes (default 3 MiB: an ephemeral-container review carries two Pods). */
  maxBodyBytes?: number;
  /** Readiness for /readyz, e.g. informer caches synced (default: always ready); a string says why not. */
  isReady?: () => boolean | string;
  metrics?: Metrics;
  /** The runtime's fast body reader (default: `c.req` everywhere). */
  readBody?: BodyReader;
}

export interface AdmissionResponseReview {
  apiVersion: 'admission.k8s.io/v1';
  kind: 'AdmissionReview';
  response: {
    uid: string;
    allowed: boolean;
    status?: { code: number; message: string; status: 'Success' | 'Failure'; reason?: string };
    warnings?: string[];
    /** Written by the kube-apiserver into its audit event as `<webhook name>/<key>`. */
    auditAnnotations?: Record<string, string>;
  };
}

export function createApp(options: AppOptions): Hono {
  const logger = options.logger ?? silentLogger;
  const clock = options.clock ?? (() => new Date());
  const metrics = options.metrics ?? new Metrics();
  const maxBytes = options.maxBodyBytes ?? 3 * 1024 * 1024;
  const validator = options.validator ?? NO_VALIDATOR;
  const fast = options.readBody ?? (() => undefined);
  const app = new Hono();

  // One JSON line for anything unexpected (a client that went away mid-body, a bug), never a
  // multi-line stack on the console; the caller gets a 500, which the apiserver turns into a denial.
  app.onError((error, c) => {
    logger.error('request failed', { path: c.req.path, error });
    return c.text(
      publicMessage(error, 'kube-request-access could not handle this request; nothing is allowed until it can'),
      500,
    );
  });

  app.get('/healthz', (c) => c.text('ok'));
  app.get('/readyz', (c) => {
    const ready = options.isReady?.() ?? true;
    if (ready === true) return c.text('ok');
    return c.text(
      `not ready: ${typeof ready === 'string' ? ready : 'the caches are not in sync with the API server'}`,
      503,
    );
  });
  app.get('/metrics', (c) => c.text(metrics.render(), 200, { 'Content-Type': 'text/plain; version=0.0.4' }));

  const tooLarge = (c: Context) => c.text(`request body is larger than ${maxBytes} bytes`, 413);
  const limit = bodyLimit({ maxSize: maxBytes, onError: tooLarge });
  app.post(
    '/',
    // A runtime's own reader applies the same cap itself; `c.req` goes through Hono's limit.
    (c, next) => (fast(c) ? next() : limit(c, next)),
    async (c) => {
      const started = performance.now();
      const body = fast(c);
      const contentType = (body ? body.contentType : c.req.header('content-type')) ?? '';
      if (!/^application\/json\s*(;|$)/i.test(contentType)) {
        return c.text(`Content-Type must be application/json, got "${contentType || 'none'}"`, 415);
      }
      const text = body ? await body.text(maxBytes) : await c.req.text();
      if (text === undefined) return tooLarge(c);
      // Before JSON.parse: deep nesting costs it (and the audit log's JSON.stringify) dearly.
      const tooDeep = jsonNestingError(text);
      if (tooDeep) return c.text(tooDeep, 400);
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        return c.text('request body is not valid JSON; send an admission.k8s.io/v1 AdmissionReview', 400);
      }
      const apiVersion = (json as { apiVersion?: unknown } | null)?.apiVersion;
      if (apiVersion !== 'admission.k8s.io/v1') {
        return c.text(
          `unsupported AdmissionReview version ${JSON.stringify(apiVersion ?? null)}; configure admissionReviewVersions: [v1]`,
          400,
        );
      }
      const parsed = v.safeParse(AdmissionReview, json);
      if (!parsed.success) {
        const uid = (json as { request?: { uid?: unknown } }).request?.uid;
        const message = `malformed AdmissionReview: ${describeIssues(parsed.issues)}`;
        // With a uid the apiserver can show our message to the user; without one only HTTP 400 fits.
        if (typeof uid === 'string' && uid) {
          metrics.observe('unknown', 'denied', (performance.now() - started) / 1000);
          return c.json(respond(uid, deny(message, 400)));
        }
        return c.text(message, 400);
      }
      const request = parsed.output.request;
      const { decision, logged } = await review(request, started);
      const seconds = (performance.now() - started) / 1000;
      metrics.observe(
        routeKey(request),
        decision.code >= 500 ? 'error' : decision.allowed ? 'allowed' : 'denied',
        seconds,
      );
      metrics.decided(decision.audit, decision.allowed);
      // An audited review's line is its audit line (with the outcome); the others get this one.
      if (!logged)
        logger.info('review', {
          uid: request.uid,
          user: request.userInfo.username,
          operation: request.operation,
          resource: routeKey(request),
          namespace: request.namespace,
          name: request.name,
          dryRun: request.dryRun,
          allowed: decision.allowed,
          code: decision.code,
          message: decision.message,
          ms: Math.round(seconds * 10_000) / 10,
        });
      return c.json(respond(request.uid, decision));
    },
  );

  /** The decision, and whether the audit log wrote its line with the outcome (so no review line is needed). */
  async function review(request: AdmissionRequest, started: number): Promise<{ decision: Decision; logged: boolean }> {
    const concern = concernFor(request);
    if (!concern) {
      return {
        decision: deny(
          `kube-request-access does not review ${routeKey(request)}; check the rules of the ValidatingWebhookConfiguration`,
          400,
        ),
        logged: false,
      };
    }
    let decision: Decision;
    try {
      decision = await concern(request, options.lookup, { now: clock(), config: options.config, validator });
    } catch (error) {
      logger.error('review failed', { uid: request.uid, error });
      const internal = `kube-request-access could not decide (internal error, review ${request.uid}); nothing is allowed until it can: try again, or ask an admin to check its logs`;
      return { decision: deny(publicMessage(error, internal), 500), logged: false };
    }
    // The audit log takes every decision's line before the answer goes out. When it cannot (its
    // reader stalled, its output closed), refuse before anything happens rather than after.
    const logProblem = decision.audit.length ? options.auditLog?.problem?.() : undefined;
    if (logProblem) {
      logger.error('audit log unavailable', { uid: request.uid, problem: logProblem });
      metrics.auditFailed('log');
      return {
        decision: withVerdict(
          decision,
          deny(
            `the audit log cannot take this decision (${logProblem}), and nothing unaudited gets through; ask an admin to check kube-request-access`,
            500,
          ),
        ),
        logged: false,
      };
    }
    let giveBack: Effect[] = [];
    if (decision.allowed && !request.dryRun) {
      ({ decision, giveBack } = await runEffects(request, decision));
    }
    // Order: use the request, tell the audit webhook, give the request back if it refused, write
    // the final verdict to the audit log. So the webhook never hears "allowed" before the request
    // is really used, and a failed audit never leaves the approved request used up (docs/reliability.md).
    let final = await auditWebhooks(request, decision);
    if (!final.allowed && giveBack.length) {
      await release(request, giveBack);
      giveBack = [];
    }
    const logged = await auditLog(request, final, started);
    if (!logged.allowed && giveBack.length) await release(request, giveBack);
    return { decision: logged, logged: logged === final && final.audit.length > 0 && !!options.auditLog };
  }

  async function runEffects(
    request: AdmissionRequest,
    decision: Decision,
  ): Promise<{ decision: Decision; giveBack: Effect[] }> {
    const giveBack: Effect[] = [];
    for (const effect of decision.effects) {
      try {
        const inverse = await options.effects.run(effect);
        if (inverse) giveBack.unshift(inverse);
      } catch (error) {
        logger.warn('effect failed', { uid: request.uid, effect, error });
        await release(request, giveBack);
        const message =
          error instanceof EffectConflict
            ? (effect.maxUses ?? 1) === 1
              ? `AccessRequest ${effect.name} was used by another connection at the same moment: a one-shot request allows exactly one use; ask again with kubectl request`
              : error.message
            : `could not use up AccessRequest ${effect.name}, so this exec is refused; try again`;
        return {
          decision: withVerdict(decision, deny(message, error instanceof EffectConflict ? 403 : 500)),
          giveBack: [],
        };
      }
    }
    return { decision, giveBack };
  }

  /** Gives back what a review that ended denied had used. */
  async function release(request: AdmissionRequest, effects: readonly Effect[]): Promise<void> {
    for (const effect of effects) {
      try {
        await options.effects.run(effect);
      } catch (error) {
        // Fail closed: the request stays used; its owner asks again.
        logger.error('giving back a used request failed', { uid: request.uid, effect, error });
      }
    }
  }

  async function auditWebhooks(request: AdmissionRequest, decision: Decision): Promise<Decision> {
    // Nothing of a dry run leaves the process: an organisation's audit webhook (a notifier, a
    // ticket system) would take it for real. The audit log records it, marked dryRun.
    if (decision.audit.length === 0 || request.dryRun || options.audit.length === 0) return decision;
    try {
      await Promise.all(decision.audit.flatMap((event) => options.audit.map((sink) => sink.record(event))));
      return decision;
    } catch (error) {
      logger.error('audit failed', { uid: request.uid, error });
      metrics.auditFailed('webhook');
      return withVerdict(
        decision,
        deny(
          'the audit webhook did not accept this event, and nothing unaudited gets through; try again, or ask an admin to check the audit webhook',
          500,
        ),
      );
    }
  }

  async function auditLog(request: AdmissionRequest, decision: Decision, started: number): Promise<Decision> {
    if (decision.audit.length === 0 || !options.auditLog) return decision;
    const outcome: ReviewOutcome = {
      operation: request.operation,
      resource: routeKey(request),
      allowed: decision.allowed,
      code: decision.code,
      message: decision.message,
      ms: Math.round((performance.now() - started) * 10) / 10,
    };
    try {
      await Promise.all(decision.audit.map((event) => options.auditLog!.record(event, outcome)));
      return decision;
    } catch (error) {
      logger.error('audit log failed', { uid: request.uid, error });
      metrics.auditFailed('log');
      return withVerdict(
        decision,
        deny(
          'the audit log could not be written, and nothing unaudited gets through; ask an admin to check kube-request-access',
          500,
        ),
      );
    }
  }

  return app;
}

/** `decision` turned into `denial`, with exec audit events saying so. */
function withVerdict(decision: Decision, denial: Decision): Decision {
  const audit = decision.audit.map((event): AuditEvent =>
    event.type === 'audit-exec' ? { ...event, data: { ...event.data, isAllowed: false } } : event,
  );
  return { ...denial, audit };
}

export function respond(uid: string, decision: Decision): AdmissionResponseReview {
  const status: AdmissionResponseReview['response']['status'] = decision.allowed
    ? { code: decision.code, message: decision.message, status: 'Success' }
    : {
        code: decision.code,
        message: decision.message,
        status: 'Failure',
        reason: decision.code === 400 ? 'BadRequest' : decision.code >= 500 ? 'InternalError' : 'Forbidden',
      };
  const response: AdmissionResponseReview['response'] = { uid, allowed: decision.allowed, status };
  if (decision.warnings?.length) response.warnings = decision.warnings;
  const auditAnnotations = auditAnnotationsOf(decision);
  if (auditAnnotations) response.auditAnnotations = auditAnnotations;
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response };
}

// The apiserver rejects the whole response for a key that is not a valid name once prefixed with
// the webhook's: lowercase DNS labels only, anything else is dropped rather than risk the answer.
const AUDIT_ANNOTATION_KEY = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

function auditAnnotationsOf(decision: Decision): Record<string, string> | undefined {
  let kept: Record<string, string> | undefined;
  const annotations = decision.auditAnnotations;
  for (const key in annotations) {
    if (Object.hasOwn(annotations, key) && AUDIT_ANNOTATION_KEY.test(key)) (kept ??= {})[key] = annotations[key]!;
  }
  return kept;
}
