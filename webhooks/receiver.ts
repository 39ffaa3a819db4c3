// Hono sub-apps that speak the receiving side of both extension webhooks: read a bounded body,
// parse and validate it once, call your handler with typed data, and answer what
// kube-request-access expects. Mount them wherever you like:
//
//   app.route('/audit', auditReceiver({ onCreated: (data) => notify(data) }));
//   app.route('/validate', validationReceiver((data) => valid()));
import { Hono, type Context } from 'hono';
import * as v from 'valibot';
import {
  AuditData,
  AuditType,
  ValidateAccessRequestData,
  ValidationResult,
  type AuditCreatedData,
  type AuditExecData,
  type AuditGrantedData,
  type AuditMessage,
} from './schemas.ts';

/** Default cap on a request body: AccessRequests are small; 1 MiB leaves room for large AdmissionRequests. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

type MaybePromise<T> = T | Promise<T>;

interface ReceiverOptions {
  /** Bodies above this many bytes get 413 (default 1 MiB). */
  maxBodyBytes?: number;
  /** Called when a handler throws; the caller gets a 500 without details. Default: console.error. */
  onError?: (error: unknown, c: Context) => void;
}

export interface AuditHandlers extends ReceiverOptions {
  /** Every valid message, before the per-type handler: for sinks that store all events alike. */
  onMessage?: (message: AuditMessage, c: Context) => MaybePromise<void>;
  onExec?: (data: AuditExecData, c: Context) => MaybePromise<void>;
  onCreated?: (data: AuditCreatedData, c: Context) => MaybePromise<void>;
  onGranted?: (data: AuditGrantedData, c: Context) => MaybePromise<void>;
}

export type Validate = (data: ValidateAccessRequestData, c: Context) => MaybePromise<ValidationResult>;

/** `{status: "valid"}`, with an optional note. */
export function valid(message?: string): ValidationResult {
  return message === undefined ? { status: 'valid' } : { status: 'valid', message };
}

/** `{status: "invalid", message}`: the message reaches the requester, so say what to change. */
export function invalid(message: string): ValidationResult {
  return { status: 'invalid', message };
}

/** Why a request was refused before any handler ran: the HTTP status and a one-line reason. */
class Rejection {
  constructor(
    readonly status: 400 | 413 | 415,
    readonly message: string,
  ) {}
}

async function readJson(c: Context, maxBytes: number): Promise<unknown | Rejection> {
  const declared = Number(c.req.header('content-length') ?? '0');
  if (declared > maxBytes) return new Rejection(413, `body over ${maxBytes} bytes`);
  const contentType = c.req.header('content-type');
  // The seed's Go client sends no Content-Type; anything declared must be JSON.
  if (contentType && !/^application\/json\b/i.test(contentType)) {
    return new Rejection(415, `Content-Type must be application/json, got ${contentType}`);
  }
  const body = c.req.raw.body;
  if (!body) return new Rejection(400, 'empty body, expected JSON');
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      return new Rejection(413, `body over ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  const text = new TextDecoder().decode(bytes);
  if (text.trim() === '') return new Rejection(400, 'empty body, expected JSON');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return new Rejection(400, 'body is not JSON');
  }
}

function reject(c: Context, rejection: Rejection) {
  return c.json({ error: rejection.message }, rejection.status);
}

function issues(result: { issues: readonly v.BaseIssue<unknown>[] }): string {
  return result.issues
    .slice(0, 5)
    .map((issue) => {
      const path = v.getDotPath(issue);
      return path ? `${path}: ${issue.message}` : issue.message;
    })
    .join('; ');
}

const defaultOnError = (error: unknown) => console.error('webhook handler failed:', error);

/**
 * Receives `POST ?type=audit-exec|audit-created|audit-granted`. Answers 200 once your handlers
 * resolved, 400 for an unknown type or a body that does not match its schema, 413 for a body over
 * the cap, 500 when a handler throws. kube-request-access denies on anything but 200, so a
 * handler should throw only when the event could not be recorded.
 */
export function auditReceiver(handlers: AuditHandlers): Hono {
  const maxBytes = handlers.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const onError = handlers.onError ?? defaultOnError;
  const app = new Hono();
  app.post('/', async (c) => {
    const type = v.safeParse(AuditType, c.req.query('type'));
    if (!type.success) {
      return reject(
        c,
        new Rejection(
          400,
          `unknown audit type ${JSON.stringify(c.req.query('type') ?? '')}, expected audit-exec, audit-created or audit-granted`,
        ),
      );
    }
    const json = await readJson(c, maxBytes);
    if (json instanceof Rejection) return reject(c, json);
    const parsed = v.safeParse(AuditData[type.output], json);
    if (!parsed.success) return reject(c, new Rejection(400, `invalid ${type.output} body: ${issues(parsed)}`));
    const message = { type: type.output, data: parsed.output } as AuditMessage;
    try {
      await handlers.onMessage?.(message, c);
      switch (message.type) {
        case 'audit-exec':
          await handlers.onExec?.(message.data, c);
          break;
        case 'audit-created':
          await handlers.onCreated?.(message.data, c);
          break;
        case 'audit-granted':
          await handlers.onGranted?.(message.data, c);
          break;
      }
    } catch (error) {
      onError(error, c);
      return c.json({ error: 'audit handler failed' }, 500);
    }
    return c.json({ ok: true }, 200);
  });
  return app;
}

/**
 * Receives `POST` with `{Request, AccessRequest}` and answers your verdict as
 * `{status, message}` with 200; 400/413/415 for malformed input, 500 when `validate` throws or
 * returns something that is not a ValidationResult (kube-request-access then denies).
 */
export function validationReceiver(validate: Validate, options: ReceiverOptions = {}): Hono {
  const maxBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const onError = options.onError ?? defaultOnError;
  const app = new Hono();
  app.post('/', async (c) => {
    const json = await readJson(c, maxBytes);
    if (json instanceof Rejection) return reject(c, json);
    const parsed = v.safeParse(ValidateAccessRequestData, json);
    if (!parsed.success) return reject(c, new Rejection(400, `invalid validation body: ${issues(parsed)}`));
    let result: ValidationResult;
    try {
      result = v.parse(ValidationResult, await validate(parsed.output, c));
    } catch (error) {
      onError(error, c);
      return c.json({ error: 'validation handler failed' }, 500);
    }
    return c.json(result, 200);
  });
  return app;
}
