// The audit event's data is serialised once when both the audit webhook and the audit log take it:
// the webhook's body and the log line's `data` are the same text.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { eventDataJson } from '../../adapters/audit/event-json.ts';
import { auditLine } from '../../adapters/audit/log.ts';
import { auditWebhookRequest } from '../../adapters/audit/webhook-protocol.ts';
import type { AuditEvent } from '../../functions/types.ts';
import { execReview } from '../support/builders.ts';

/** An exec event whose request counts how often it is serialised (JSON.stringify calls toJSON). */
function countedEvent(): { event: AuditEvent; serialisations: () => number } {
  let count = 0;
  const request = execReview();
  const counted = { ...request, toJSON: () => (count++, request) };
  const event = {
    type: 'audit-exec',
    data: {
      request: counted,
      isAllowed: true,
      execOptions: { stdin: false, stdout: true, stderr: true, tty: false, container: 'app', command: ['ls'] },
      isAdmin: false,
    },
  } as AuditEvent;
  return { event, serialisations: () => count };
}

describe('audit event JSON', () => {
  it('serialises once for the webhook and the log, and both carry the same text', () => {
    const { event, serialisations } = countedEvent();
    const body = auditWebhookRequest('https://127.0.0.1:1/events', event).body;
    const line = auditLine(event, new Date('2026-12-02T05:00:00Z'));
    assert.equal(serialisations(), 1);
    assert.ok(line.endsWith(`,"data":${body}}\n`), 'the log line ends with the webhook body as its data');
    assert.deepEqual(JSON.parse(line).data, JSON.parse(body));
  });

  it('keeps nothing when the log is the only reader, and serialises new data objects anew', () => {
    const { event, serialisations } = countedEvent();
    eventDataJson(event, false);
    eventDataJson(event, false);
    assert.equal(serialisations(), 2, 'not remembered');
    eventDataJson(event);
    eventDataJson(event, false);
    assert.equal(serialisations(), 3, 'remembered once asked to');
    const changed = { ...event, data: { ...event.data, isAllowed: false } } as AuditEvent;
    assert.match(eventDataJson(changed), /"isAllowed":false/);
    assert.equal(serialisations(), 4);
  });
});
