// Audit webhook client for Node: the seed protocol (webhook-protocol.ts) over node:https with the
// peer certificate pinned to the configured CA bundle.
import type { AuditSink } from '../ports.ts';
import { checkCaBundle, httpsTransport } from './https.ts';
import { requireHttpsUrl } from './transport.ts';
import { auditSinkOver } from './webhook-protocol.ts';

export { auditSinkOver, auditWebhookRequest } from './webhook-protocol.ts';

export interface WebhookOptions {
  /** https: URL of the webhook; http: is refused. */
  url: string;
  /** PEM; the webhook's certificate must chain to one of these (the system roots are not used). */
  caBundle: string;
  /** Deadline for the whole exchange (default 3000ms). */
  timeoutMs?: number;
}

export function auditWebhookSink(options: WebhookOptions): AuditSink {
  requireHttpsUrl(options.url, 'audit webhook');
  checkCaBundle(options.caBundle, 'audit webhook');
  return auditSinkOver(
    options.url,
    httpsTransport({ caBundle: options.caBundle, ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}) }),
  );
}
