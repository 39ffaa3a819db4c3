// A minimal fake Kubernetes API server on 127.0.0.1 (plain HTTP): it lists N AccessRequests and N
// AccessGrants shaped as the kube-apiserver lists them in a cluster at rest (uid, resourceVersion,
// managedFields, a label; each request with the status kube-request-access's status writer gives
// it; creation and transition times spread over the hours before, one object per second, as
// people make them), in pages of `limit`, or streamed (a watch with sendInitialEvents=true: every
// object as ADDED, then the initial-events-end bookmark), answers SelfSubjectReviews, lists nothing
// else, answers 404 to writes, and keeps watches open and quiet until their timeoutSeconds. For
// memory at large N without feeding a real kube-apiserver (minutes per 100,000 objects).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as v from 'valibot';
import { AccessGrant, AccessRequest } from '../functions/schemas.ts';
import { planStatuses } from '../functions/status/index.ts';
import { accessGrant, accessRequest } from './objects.ts';

/** Object i was made i s before START (a 12 h window covers the first 43,200: later ones have expired). */
const START = Date.now();
const createdAt = (i: number) => new Date(START - i * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');

export const uid = (kind: string, i: number) =>
  `${kind === 'AccessRequest' ? '6f1c6a57' : '7e2d5b68'}-4a0e-4f7e-9b51-${String(i).padStart(12, '0')}`;

export function asListed(object: object, i: number): object {
  const o = object as { kind: string; metadata: Record<string, unknown> };
  return {
    ...o,
    metadata: {
      ...o.metadata,
      uid: uid(o.kind, i),
      resourceVersion: String(100_000 + 2 * i + (o.kind === 'AccessGrant' ? 1 : 0)),
      generation: 1,
      creationTimestamp: createdAt(i),
      managedFields: [
        {
          manager: 'kubectl-create',
          operation: 'Update',
          apiVersion: 'kube-request-access.io/v1',
          time: createdAt(i),
          fieldsType: 'FieldsV1',
          fieldsV1: { 'f:spec': { '.': {}, 'f:userInfo': { '.': {}, 'f:username': {} } } },
        },
      ],
    },
  };
}

/**
 * Request i as listed, with the status the status writer gives it at START (so a server started
 * now has nothing to write), its conditions changed when its grant came, a second after it.
 */
export function listedRequest(i: number): object {
  const request = asListed(accessRequest(i), i) as { metadata: object; status?: object };
  const grant = asListed(accessGrant(i, uid('AccessRequest', i)), i);
  const plan = planStatuses({
    requests: [v.parse(AccessRequest, request)],
    grants: [v.parse(AccessGrant, grant)],
    now: new Date(START),
    usernamePrefix: '',
  });
  const patch = plan.writes[0]?.patch as { conditions?: { lastTransitionTime?: string }[] } | undefined;
  if (!patch) return request;
  const changedAt = new Date(Date.parse(createdAt(i)) + 1000).toISOString();
  for (const condition of patch.conditions ?? []) condition.lastTransitionTime = changedAt;
  // A merge patch's null removes the field: the stored status has none.
  request.status = Object.fromEntries(Object.entries(patch).filter(([, value]) => value !== null));
  return request;
}

/**
 * Writes `items` (each an object's JSON) as ADDED events, waiting for the client to drain, then
 * the end bookmark. It yields to the event loop every 100 events: a client that keeps up leaves
 * every write accepted at once, and without the pause one stream would hold the process until it
 * ends, serving the others after it (the kube-apiserver streams them side by side).
 */
async function streamInitialEvents(res: http.ServerResponse, items: readonly string[]): Promise<void> {
  for (let i = 0; i < items.length && !res.destroyed; i++) {
    if (i % 100 === 99) await new Promise<void>((resolve) => setImmediate(resolve));
    if (!res.write(`{"type":"ADDED","object":${items[i]}}\n`))
      await new Promise<void>((resolve) => {
        const go = () => {
          res.off('drain', go).off('close', go);
          resolve();
        };
        res.once('drain', go).once('close', go);
      });
  }
  if (res.destroyed) return;
  const bookmark = {
    kind: 'Bookmark',
    apiVersion: 'kube-request-access.io/v1',
    metadata: { resourceVersion: '999999', annotations: { 'k8s.io/initial-events-end': 'true' } },
  };
  res.write(`${JSON.stringify({ type: 'BOOKMARK', object: bookmark })}\n`);
}

/**
 * A kubeconfig (JSON is YAML) for the fake at `url`: one cluster, one user without credentials
 * (the client sends none over plain http).
 */
export function fakeKubeconfig(url: string): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'fake', cluster: { server: url } }],
    users: [{ name: 'bench', user: {} }],
    contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'bench' } }],
    'current-context': 'fake',
  });
}

/**
 * Serves N of each until `close()`; `url` is its http:// base URL. Every object is made and
 * serialised once, before it listens (about 15 s at N = 100,000), so that serving them costs this
 * process little and the client's side is what a sync measures.
 */
export async function fakeApiServer(n: number): Promise<{ url: string; close(): void }> {
  const served: Record<string, string[]> = { accessrequests: [], accessgrants: [] };
  for (let i = 0; i < n; i++) {
    served.accessrequests!.push(JSON.stringify(listedRequest(i)));
    served.accessgrants!.push(JSON.stringify(asListed(accessGrant(i, uid('AccessRequest', i)), i)));
  }
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (process.env.DEBUG_RSS) process.stderr.write(`${req.method} ${req.url}\n`);
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method === 'POST' && url.pathname.endsWith('/selfsubjectreviews')) {
      req.resume();
      return json(201, { status: { userInfo: { username: 'system:serviceaccount:kra:kube-request-access' } } });
    }
    if (req.method !== 'GET') {
      req.resume();
      return json(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404 });
    }
    const items = served[url.pathname.split('/').pop() ?? ''] ?? [];
    if (url.searchParams.get('watch') === 'true') {
      // Quiet, and ended after timeoutSeconds as the kube-apiserver ends it (the client resumes from
      // its resourceVersion); a watch never ended looks hung to the reflector, which relists.
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
      const timer = setTimeout(() => res.end(), Number(url.searchParams.get('timeoutSeconds') ?? 300) * 1000);
      res.once('close', () => clearTimeout(timer));
      if (url.searchParams.get('sendInitialEvents') === 'true') void streamInitialEvents(res, items);
      return undefined;
    }
    const from = Number(url.searchParams.get('continue') ?? 0);
    const to = Math.min(items.length, from + Number(url.searchParams.get('limit') ?? 500));
    const metadata = { resourceVersion: '999999', ...(to < items.length ? { continue: String(to) } : {}) };
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      `{"apiVersion":"kube-request-access.io/v1","kind":"List","metadata":${JSON.stringify(metadata)},"items":[${items.slice(from, to).join(',')}]}`,
    );
    return undefined;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    close() {
      server.closeAllConnections();
      server.close();
    },
  };
}
