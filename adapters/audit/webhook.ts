// Audit webhook client for Node: the seed protocol (webhook-protocol.ts) over node:https with the
// peer certificate pinned to the configured CA bundle.
import type { AuditSink } from '../ports.ts';
import { httpsEndpoint } from './https.ts';
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
  const { url, transport } = httpsEndpoint(options, 'audit webhook');
  return auditSinkOver(url, transport);
}
