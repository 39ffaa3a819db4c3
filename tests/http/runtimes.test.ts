// The same scenarios through the Node wiring and the edge wiring, in process, compared event by
// event: the audit log lines, the audit webhook calls and the answers. Node: the composition root
// over a MemoryCluster with the audit log on a stream (as stdout in a pod). Edge: the worker's
// `fetch` and `scheduled` over a fake API server (a fetch function), console output captured.
// Both reach the audit webhook through a recording fetch, so what they send can be compared too.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AuditStream } from '../../adapters/audit/log.ts';
import { fetchTransport } from '../../adapters/audit/transport.ts';
import { composeReviewer } from '../../adapters/compose.ts';
import { createEdgeWorker } from '../../adapters/edge/worker.ts';
import { createApp, type AdmissionResponseReview } from '../../adapters/http/app.ts';
import { MemoryCluster } from '../../adapters/memory/lookup.ts';
import { DEFAULT_CONFIG } from '../../functions/types.ts';
import { accessGrant, accessRequest, execReview, minutes, NOW, objectReview, users } from '../support/builders.ts';

const SELF = 'system:serviceaccount:kube-request-access:webhook';
const AUDIT_URL = 'https://audit.example.com/events';
const ADMINS = ['kube-request-access:admins'];

type Review = ReturnType<typeof execReview>;
type Answer = AdmissionResponseReview['response'];

/** A one-shot request for db-0 with its grant; a pending request old enough for the cleanup. */
const dbRequest = accessRequest({ name: 'alice-db-0', pod: 'db-0' });
const dbGrant = accessGrant({ grantFor: 'alice-db-0' });
const stale = accessRequest({ name: 'alice-old', pod: 'web-1', createdAt: minutes(-25 * 60) });
const webRequest = accessRequest({ name: 'alice-web-0', createdAt: NOW.toISOString() });
const webGrant = accessGrant({ grantFor: 'alice-web-0', createdAt: NOW.toISOString() });
const initial = () => structuredClone([dbRequest, dbGrant, stale]);

/** The DELETE review the API server sends when the server itself deletes `object` (its cleanup). */
function cleanupReview(object: typeof stale): Review {
  return {
    ...objectReview(object, { user: { username: SELF, groups: ['system:serviceaccounts'] }, operation: 'DELETE' }),
    uid: `cleanup-${object.metadata.name}`,
  };
}

/** A recording audit webhook; `failing` makes it answer 503. */
function auditWebhook() {
  const calls: { type: string | null; body: unknown }[] = [];
  const state = { failing: false };
  const fetchFn: typeof fetch = async (input, init) => {
    calls.push({ type: new URL(String(input)).searchParams.get('type'), body: JSON.parse(String(init?.body)) });
    return new Response(state.failing ? 'down' : 'ok', { status: state.failing ? 503 : 200 });
  };
  return { calls, state, fetchFn };
}

interface Wiring {
  review(review: Review): Promise<Answer>;
  /** A cleanup pass deleting `stale`, as each runtime does it. */
  cleanup(): Promise<void>;
  /** The apiserver stored an admitted object. */
  add(object: unknown): void;
  used(name: string): Promise<boolean>;
  auditLines(): Record<string, unknown>[];
  webhook: ReturnType<typeof auditWebhook>;
}

async function nodeWiring(): Promise<Wiring> {
  const cluster = new MemoryCluster(
    initial(),
    (user, a) => user.username === 'carol' && a.resource === 'accessgrants',
    () => NOW,
  );
  const webhook = auditWebhook();
  const written: string[] = [];
  const stdout: AuditStream = {
    write(chunk, callback) {
      written.push(chunk);
      callback();
      return true;
    },
    writableLength: 0,
    on: () => stdout,
  };
  const app = createApp(
    await composeReviewer({
      cluster,
      effects: cluster,
      whoAmI: async () => SELF,
      settings: { ...DEFAULT_CONFIG, alwaysAllowedGroups: ADMINS },
      auditWebhook: { url: AUDIT_URL, transport: fetchTransport(webhook.fetchFn) },
      auditLog: stdout,
      clock: () => NOW,
    }),
  );
  const review = async (request: Review) => {
    const res = await app.request('/', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request }),
    });
    return ((await res.json()) as AdmissionResponseReview).response;
  };
  return {
    review,
    // The informer backend's cleanup loop deletes through the API server (tests/e2e/wiring.test.ts),
    // which sends this DELETE review back.
    cleanup: async () => void (await review(cleanupReview(stale))),
    add: (object) => cluster.add(object),
    used: async (name) => Boolean((await cluster.accessRequest('team-a', name))?.status?.usedAt),
    auditLines: () => written.map((line) => JSON.parse(line) as Record<string, unknown>),
    webhook,
  };
}

/**
 * A fake API server for the edge worker: lists, gets, status PUTs with preconditions, reviews
 * (SelfSubjectReview, SubjectAccessReview), and deletions that it first sends back to the webhook
 * as DELETE reviews, as a real API server does.
 */
function fakeApiServer(objects: Record<string, any>[], admit: (review: Review) => Promise<Answer>) {
  let version = 1000;
  const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status });
  const notFound = () => json({ kind: 'Status', reason: 'NotFound', message: 'not found' }, 404);
  const fetchFn: typeof fetch = async (input, init) => {
    const url = new URL(String(input));
    const method = init?.method ?? 'GET';
    const body = init?.body ? (JSON.parse(String(init.body)) as Record<string, any>) : undefined;
    if (url.pathname.endsWith('/selfsubjectreviews')) return json({ status: { userInfo: { username: SELF } } }, 201);
    if (url.pathname.endsWith('/subjectaccessreviews')) {
      return json(
        {
          status: { allowed: body!.spec.user === 'carol' && body!.spec.resourceAttributes.resource === 'accessgrants' },
        },
        201,
      );
    }
    const match =
      /^\/apis\/kube-request-access\.io\/v1(?:\/namespaces\/([^/]+))?\/(accessrequests|accessgrants)(?:\/([^/]+))?(\/status)?$/.exec(
        url.pathname,
      );
    if (!match) return notFound();
    const [, namespace, plural, name, status] = match;
    const kind = plural === 'accessrequests' ? 'AccessRequest' : 'AccessGrant';
    const inScope = (o: Record<string, any>) => o.kind === kind && (!namespace || o.metadata.namespace === namespace);
    if (!name) return json({ kind: `${kind}List`, items: objects.filter(inScope) });
    const index = objects.findIndex((o) => inScope(o) && o.metadata.name === name);
    if (index < 0) return notFound();
    const current = objects[index]!;
    if (method === 'GET') return json(current);
    if (method === 'PUT' && status) {
      if (
        body!.metadata.uid !== current.metadata.uid ||
        body!.metadata.resourceVersion !== current.metadata.resourceVersion
      ) {
        return json({ kind: 'Status', reason: 'Conflict', message: 'conflict' }, 409);
      }
      objects[index] = {
        ...current,
        metadata: { ...current.metadata, resourceVersion: String(version++) },
        status: body!.status,
      };
      return json(objects[index]);
    }
    if (method === 'DELETE') {
      const answer = await admit(cleanupReview(current as typeof stale));
      if (!answer.allowed) return json({ kind: 'Status', reason: 'Forbidden', message: answer.status?.message }, 403);
      objects.splice(index, 1);
      return json({ kind: 'Status', status: 'Success' });
    }
    return notFound();
  };
  return fetchFn;
}

async function edgeWiring(): Promise<Wiring> {
  const objects = initial() as Record<string, any>[];
  const webhook = auditWebhook();
  const written: string[] = [];
  const env = {
    KUBERNETES_API_URL: 'https://k8s.example.com',
    KUBERNETES_TOKEN: 'token',
    ALWAYS_ALLOWED_GROUPS: ADMINS.join(','),
    AUDIT_WEBHOOK_URL: AUDIT_URL,
  };
  const review = async (request: Review) => {
    const res = await worker.fetch(
      new Request('https://webhook.example.com/', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request }),
      }),
      env,
    );
    assert.equal(res.status, 200, await res.clone().text());
    return ((await res.json()) as AdmissionResponseReview).response;
  };
  const api = fakeApiServer(objects, review);
  const worker = createEdgeWorker({
    kubernetesFetch: () => api,
    webhookFetch: () => webhook.fetchFn,
    write: (line) => written.push(line),
    clock: () => NOW,
  });
  return {
    review,
    cleanup: async () => {
      const result = await worker.scheduled(undefined, env);
      assert.deepEqual(
        result.deleted.map((event) => event.name),
        ['alice-old'],
      );
    },
    add: (object) => objects.push(structuredClone(object) as Record<string, any>),
    used: async (name) => Boolean(objects.find((o) => o.metadata.name === name)?.status?.usedAt),
    auditLines: () =>
      written.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line.log === 'audit'),
    webhook,
  };
}

/** Runs the scenarios; answers what each step answered, for comparison. */
async function run(wiring: Wiring) {
  const answers: { step: string; allowed: boolean; code?: number; message?: string }[] = [];
  const step = async (name: string, review: Review) => {
    const answer = await wiring.review(review);
    answers.push({ step: name, allowed: answer.allowed, code: answer.status?.code, message: answer.status?.message });
    return answer;
  };
  await step('request created', { ...objectReview(webRequest, { user: users.alice }), uid: 'r1' });
  wiring.add(webRequest);
  await step('request granted', { ...objectReview(webGrant, { user: users.carol }), uid: 'r2' });
  wiring.add(webGrant);
  await step('exec allowed, one-shot used', execReview({ uid: 'r3' }));
  assert.equal(await wiring.used('alice-web-0'), true);
  await step('exec again: used up', execReview({ uid: 'r4' }));
  await step('exec as dry run', execReview({ uid: 'r5', pod: 'db-0', dryRun: true }));
  wiring.webhook.state.failing = true;
  await step('exec while the audit webhook fails', execReview({ uid: 'r6', pod: 'db-0' }));
  assert.equal(await wiring.used('alice-db-0'), false, 'the one-shot is given back');
  wiring.webhook.state.failing = false;
  await step('exec by an admin', execReview({ uid: 'r7', user: users.admin, pod: 'db-0', command: ['sh'] }));
  await wiring.cleanup();
  return answers;
}

/** An audit line without its time and the review's duration (each runtime's clock is NOW anyway; kept out to compare shape). */
const untimed = ({ time: _time, review, ...line }: Record<string, unknown>) => {
  if (!review) return line;
  const { ms, ...outcome } = review as { ms: unknown };
  assert.equal(typeof ms, 'number');
  return { ...line, review: outcome };
};

describe('Node and edge wiring', () => {
  it('answer, audit-log and call the audit webhook the same, event by event, with a failing audit webhook and a cleanup deletion', async () => {
    const node = await nodeWiring();
    const edge = await edgeWiring();
    const nodeAnswers = await run(node);
    const edgeAnswers = await run(edge);
    assert.deepEqual(edgeAnswers, nodeAnswers);

    const nodeLog = node.auditLines().map(untimed);
    const edgeLog = edge.auditLines().map(untimed);
    assert.equal(edgeLog.length, nodeLog.length, 'as many audit lines');
    nodeLog.forEach((line, i) =>
      assert.deepEqual(edgeLog[i], line, `audit line ${i} (${String(line.type)} ${String(line.uid)})`),
    );
    assert.deepEqual(edge.webhook.calls, node.webhook.calls);

    // What both recorded, in order: the failed audit webhook's exec is "denied" in the log, and the
    // cleanup deletion is one audit-deleted line by the webhook itself (no second, hand-made line).
    assert.deepEqual(
      nodeLog.map((line) => [line.uid, line.type, line.verdict]),
      [
        ['r1', 'audit-created', 'created'],
        ['r2', 'audit-granted', 'granted'],
        ['r3', 'audit-exec', 'allowed'],
        ['r4', 'audit-exec', 'denied'],
        ['r5', 'audit-exec', 'allowed'],
        ['r6', 'audit-exec', 'denied'],
        ['r7', 'audit-exec', 'allowed'],
        ['cleanup-alice-old', 'audit-deleted', 'deleted'],
      ],
    );
    assert.equal(nodeLog.at(-1)!.deleter, 'webhook');
    assert.deepEqual(
      node.webhook.calls.map((call) => call.type),
      ['audit-created', 'audit-granted', 'audit-exec', 'audit-exec', 'audit-exec', 'audit-exec'],
      'the webhook hears no dry run and no deletion',
    );
  });
});
