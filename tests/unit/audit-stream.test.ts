// The stream audit log (stdout in a pod) as part of the decision: a line counts once the stream
// took it; a stalled reader fills a bounded buffer and then refuses; a failed output refuses for
// good and throws nothing at the process.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { auditLine, auditSummary, streamAuditSink } from '../../adapters/audit/log.ts';
import type { AuditEvent } from '../../functions/types.ts';
import { execReview } from '../support/builders.ts';

const event: AuditEvent = {
  type: 'audit-exec',
  data: {
    request: execReview(),
    isAllowed: true,
    execOptions: { stdin: false, stdout: true, stderr: true, tty: false, container: 'app', command: ['ls'] },
    isAdmin: false,
  },
};

/** A Writable whose writes complete only when the test says so (a reader that stalls). */
function stalled() {
  const pending: (() => void)[] = [];
  const stream = new Writable({
    highWaterMark: 16,
    write(_chunk, _encoding, callback) {
      pending.push(() => callback());
    },
  });
  return { stream, drainOne: () => pending.shift()?.(), pending };
}

describe('stream audit log', () => {
  it('records a line only once the stream has taken it', async () => {
    const { stream, drainOne } = stalled();
    const sink = streamAuditSink(stream);
    let recorded = false;
    const done = sink.record(event).then(() => (recorded = true));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(recorded, false, 'the answer must wait for its line');
    drainOne();
    await done;
    assert.equal(recorded, true);
  });

  it('refuses at once, with the reason, when the reader is not keeping up', async () => {
    const { stream } = stalled();
    const sink = streamAuditSink(stream, { maxPendingBytes: 4096 });
    const waiting: Promise<void>[] = [];
    while (!sink.problem?.()) waiting.push(sink.record(event));
    assert.ok(waiting.length > 1 && waiting.length < 20, `${waiting.length} lines buffered`);
    assert.match(sink.problem!()!, /not keeping up: \d+ bytes wait/);
    await assert.rejects(sink.record(event), /audit log: its reader is not keeping up/);
  });

  it('refuses every line after the output failed (EPIPE), and the error reaches no one else', async () => {
    const stream = new Writable({
      write(_chunk, _encoding, callback) {
        const error = Object.assign(new Error('write EPIPE'), { code: 'EPIPE' });
        callback(error);
      },
    });
    const sink = streamAuditSink(stream);
    await assert.rejects(sink.record(event), /its output failed: write EPIPE/);
    assert.match(sink.problem!()!, /EPIPE/);
    await assert.rejects(sink.record(event), /EPIPE/);
  });

  it('keeps the summary of an event too deep to serialise', async () => {
    let deep: Record<string, unknown> = {};
    const root = deep;
    for (let i = 0; i < 20_000; i++) deep = (deep.x = {}) as Record<string, unknown>;
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk, _e, callback) {
        lines.push(String(chunk));
        callback();
      },
    });
    await streamAuditSink(stream).record({
      ...event,
      data: { ...event.data, request: { ...event.data.request, object: root } },
    });
    const line = JSON.parse(lines[0]!);
    assert.equal(line.type, 'audit-exec');
    assert.equal(line.verdict, 'allowed');
    assert.match(line.data, /not serialisable/);
  });

  it('writes the line as one object: time, log, the summary, the outcome, then the whole event', () => {
    const time = new Date('2026-12-02T05:00:00.000Z');
    const outcome = {
      operation: 'CONNECT',
      resource: 'pods/exec',
      allowed: true,
      code: 200,
      message: 'ok "quoted"',
      ms: 0.4,
    };
    for (const withOutcome of [true, false]) {
      const text = auditLine(event, time, withOutcome ? outcome : undefined);
      assert.ok(text.endsWith('}\n') && !text.slice(0, -1).includes('\n'), 'one line');
      const expected: Record<string, unknown> = {
        time: time.toISOString(),
        log: 'audit',
        ...auditSummary(event),
        ...(withOutcome ? { review: outcome } : {}),
        data: event.data,
      };
      const line = JSON.parse(text) as Record<string, unknown>;
      assert.deepEqual(line, JSON.parse(JSON.stringify(expected)));
      assert.deepEqual(Object.keys(line), Object.keys(expected), 'same key order');
    }
  });
});
