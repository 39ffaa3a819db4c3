// An audit event's data as JSON, serialised once per event: the audit webhook's body and the audit
// log line's `data` are the same text, so a review audited to both pays for one JSON.stringify of
// the whole AdmissionRequest, not two. Keyed by the data object, which nothing mutates once the
// decision is made (a verdict changed by a failed sink gets new event objects, see app.ts).
// No Node imports: the edge runtime uses it too.
import type { AuditEvent } from '../../functions/types.ts';

const serialised = new WeakMap<object, string>();

/**
 * JSON.stringify(event.data), or the text an earlier call remembered for the same data object;
 * throws as JSON.stringify does (too deep). `remember: false` for the last reader (the audit log,
 * which writes after the webhook): nothing is kept when no one else reads it.
 */
export function eventDataJson(event: AuditEvent, remember = true): string {
  const data = event.data as object;
  let json = serialised.get(data);
  if (json === undefined) {
    json = JSON.stringify(data);
    if (remember) serialised.set(data, json);
  }
  return json;
}
