// Delivery to the chat webhook, off the audit path: a queue, retries with exponential backoff (and
// the receiver's Retry-After), and a dead-letter file (JSON lines) for what never got through.
import { appendFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';

/** POSTs JSON; resolves with the HTTP status and the Retry-After header, rejects on network errors. */
export type Post = (url: string, body: string) => Promise<{ status: number; retryAfter?: string }>;

export function nodePost(options: { ca?: string; timeoutMs?: number } = {}): Post {
  return (url, body) =>
    new Promise((resolve, reject) => {
      const target = new URL(url);
      const send = target.protocol === 'https:' ? https.request : http.request;
      const req = send(
        target,
        {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            'user-agent': 'kube-request-access-notifier',
          },
          timeout: options.timeoutMs ?? 5000,
          ...(options.ca && target.protocol === 'https:' ? { ca: options.ca } : {}),
        },
        (res) => {
          res.resume();
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              ...(typeof res.headers['retry-after'] === 'string' ? { retryAfter: res.headers['retry-after'] } : {}),
            }),
          );
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${options.timeoutMs ?? 5000} ms`)));
      req.on('error', reject);
      req.end(body);
    });
}

export interface DelivererOptions {
  url: string;
  post: Post;
  deadLetterFile: string;
  /** Attempts in all, the first included (default 5). */
  attempts?: number;
  /** First retry after this long, doubling each time (default 1000 ms), at most maxDelayMs (default 60 s). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
  log?: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
}

export interface Deliverer {
  /** Queues one message; never throws. */
  send(payload: object, meta?: Record<string, unknown>): void;
  /** Resolves once everything queued so far is delivered or dead-lettered. */
  drain(): Promise<void>;
}

/** A 4xx other than 408/429 will not get better by retrying. */
const retryable = (status: number) => status === 408 || status === 429 || status >= 500;

export function deliverer(options: DelivererOptions): Deliverer {
  const attempts = options.attempts ?? 5;
  const base = options.baseDelayMs ?? 1000;
  const max = options.maxDelayMs ?? 60_000;
  const sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  const log = options.log ?? (() => {});
  const pending = new Set<Promise<void>>();

  async function deliver(payload: object, meta: Record<string, unknown>): Promise<void> {
    const body = JSON.stringify(payload);
    let error = '';
    for (let attempt = 1; attempt <= attempts; attempt++) {
      let wait = Math.min(max, base * 2 ** (attempt - 1));
      try {
        const { status, retryAfter } = await options.post(options.url, body);
        if (status >= 200 && status < 300) {
          log('info', 'posted to chat', { ...meta, attempt });
          return;
        }
        error = `chat webhook answered HTTP ${status}`;
        if (!retryable(status)) break;
        const seconds = Number(retryAfter);
        if (retryAfter && Number.isFinite(seconds)) wait = Math.min(max, Math.max(wait, seconds * 1000));
      } catch (e) {
        error = e instanceof Error ? e.message : String(e);
      }
      if (attempt < attempts) {
        log('warn', 'chat post failed; retrying', { ...meta, attempt, error, retryInMs: wait });
        await sleep(wait);
      }
    }
    log('error', 'chat post failed; written to the dead-letter file', { ...meta, error, file: options.deadLetterFile });
    const line = JSON.stringify({
      time: new Date().toISOString(),
      url: redact(options.url),
      error,
      attempts,
      ...meta,
      payload,
    });
    await appendFile(options.deadLetterFile, `${line}\n`, { mode: 0o600 }).catch((e: unknown) =>
      log('error', 'cannot write the dead-letter file', { file: options.deadLetterFile, error: String(e), payload }),
    );
  }

  return {
    send(payload, meta = {}) {
      const job = deliver(payload, meta).finally(() => pending.delete(job));
      pending.add(job);
    },
    async drain() {
      while (pending.size > 0) await Promise.all([...pending]);
    },
  };
}

/** Incoming-webhook URLs are secrets: keep only the origin in logs and dead letters. */
export function redact(url: string): string {
  try {
    return `${new URL(url).origin}/…`;
  } catch {
    return '(invalid URL)';
  }
}
