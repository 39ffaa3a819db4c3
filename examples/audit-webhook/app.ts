// The audit webhook as a Hono app: every event becomes a line of the hash chain before the answer
// (200 only once it is on disk), then an optional one-line chat post that never blocks or fails it.
import { Hono } from 'hono';
import { auditReceiver, type AuditMessage, type AuditType } from 'kube-request-access/webhooks';
import type { ChainFile } from './chain.ts';
import { summarize } from './summary.ts';

export type Log = (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

export const jsonLog: Log = (level, msg, fields = {}) =>
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields })}\n`);

export interface AuditAppOptions {
  chain: ChainFile;
  /** Posts a one-line summary to chat; failures are logged, the audit line is already stored. */
  notify?: (text: string, message: AuditMessage) => Promise<void>;
  /** Which events go to chat (default: new requests only). Dry runs never do. */
  notifyOn?: readonly AuditType[];
  clock?: () => Date;
  log?: Log;
}

export function createAuditApp(options: AuditAppOptions): Hono {
  const log = options.log ?? jsonLog;
  const clock = options.clock ?? (() => new Date());
  const notifyOn = new Set(options.notifyOn ?? ['audit-created']);
  const app = new Hono();
  app.get('/healthz', (c) => c.text('ok'));
  const receiver = auditReceiver({
    async onMessage(message) {
      const summary = summarize(message);
      const { seq, hash } = await options.chain.append({
        time: clock().toISOString(),
        type: message.type,
        summary,
        data: message.data,
      });
      log('info', 'audited', { seq, hash, type: message.type, summary });
      if (options.notify && notifyOn.has(message.type) && !message.data.request.dryRun) {
        options
          .notify(summary, message)
          .catch((error: unknown) =>
            log('warn', 'chat notification failed; the audit line is stored', { seq, error: String(error) }),
          );
      }
    },
    onError: (error) => log('error', 'could not store audit event', { error: String(error) }),
  });
  // The seed's example listened on /audit; / works as well.
  app.route('/audit', receiver);
  app.route('/', receiver);
  return app;
}

/** Posts `{text}` to a Slack-compatible incoming webhook. */
export function chatNotifier(url: string, timeoutMs = 5000): (text: string) => Promise<void> {
  return async (text) => {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ text }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    await response.body?.cancel();
    if (!response.ok) throw new Error(`chat webhook answered HTTP ${response.status}`);
  };
}
