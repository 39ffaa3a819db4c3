// Audit webhook protocol (seed wire format): POST <url>?type=<event type> with the event's data as
// JSON; only HTTP 200 counts as delivered. A rejection makes the shell deny the decision.
// No Node imports: an edge runtime pairs this with `fetchTransport`.
import { WEBHOOK_AUDIT_TYPES, type AuditEvent } from '../../functions/types.ts';
import type { AuditSink } from '../ports.ts';
import { eventDataJson } from './event-json.ts';
import {
  USER_AGENT,
  describeError,
  excerpt,
  requireHttpsUrl,
  type Transport,
  type WebhookRequest,
} from './transport.ts';

/** The HTTP request for one audit event: pure, shared by every runtime. */
export function auditWebhookRequest(url: string | URL, event: AuditEvent): WebhookRequest {
  const target = new URL(url);
  target.searchParams.set('type', event.type);
  return {
    url: target.toString(),
    headers: { 'Content-Type': 'application/json', 'User-Agent': USER_AGENT },
    body: eventDataJson(event),
  };
}

/** The protocol over any transport (fetch on the edge, node:https here). */
export function auditSinkOver(url: string, transport: Transport): AuditSink {
  const base = requireHttpsUrl(url, 'audit webhook');
  const name = `audit webhook ${base.origin}${base.pathname}`;
  return {
    name,
    async record(event) {
      // The seed's protocol knows three event types; a receiver built for it answers others with
      // an error. Deletions are recorded by the audit log.
      if (!WEBHOOK_AUDIT_TYPES.has(event.type)) return;
      const request = auditWebhookRequest(base, event);
      let response;
      try {
        response = await transport(request);
      } catch (error) {
        throw new Error(`${name}: sending ${event.type} failed: ${describeError(error)}`);
      }
      if (response.status !== 200) {
        const body = excerpt(response.body);
        throw new Error(
          `${name}: ${event.type} answered HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}, expected 200${body ? `: ${body}` : ''}`,
        );
      }
    },
  };
}
