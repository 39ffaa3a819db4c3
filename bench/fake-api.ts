// A minimal fake Kubernetes API server on 127.0.0.1 (plain HTTP): it lists N AccessRequests and N
// AccessGrants shaped as the kube-apiserver lists them (uid, resourceVersion, managedFields, a label),
// in pages of `limit`, or streamed (a watch with sendInitialEvents=true: every object as ADDED, then
// the initial-events-end bookmark), answers SelfSubjectReviews, lists nothing else, and keeps
// watches open and quiet until their timeoutSeconds. For memory at large N without feeding a real
// kube-apiserver (minutes per 100,000 objects).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { accessGrant, accessRequest } from './objects.ts';

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
      creationTimestamp: '2026-12-02T01:00:00Z',
      managedFields: [
        {
          manager: 'kubectl-create',
          operation: 'Update',
          apiVersion: 'kube-request-access.io/v1',
          time: '2026-12-02T01:00:00Z',
          fieldsType: 'FieldsV1',
          fieldsV1: { 'f:spec': { '.': {}, 'f:userInfo': { '.': {}, 'f:username': {} } } },
        },
      ],
    },
  };
}

/** Writes `make(i)` for i < n as ADDED events, waiting for the client to drain, then the end bookmark. */
async function streamInitialEvents(
  res: http.ServerResponse,
  n: number,
  make: ((i: number) => object) | undefined,
): Promise<void> {
  for (let i = 0; i < n && make && !res.destroyed; i++) {
    if (!res.write(`${JSON.stringify({ type: 'ADDED', object: make(i) })}\n`))
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

/** Serves N of each until `close()`; `url` is its http:// base URL. */
export async function fakeApiServer(n: number): Promise<{ url: string; close(): void }> {
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
    const plural = url.pathname.split('/').pop();
    const make =
      plural === 'accessrequests'
        ? (i: number) => asListed(accessRequest(i), i)
        : plural === 'accessgrants'
          ? (i: number) => asListed(accessGrant(i, uid('AccessRequest', i)), i)
          : undefined;
    if (url.searchParams.get('watch') === 'true') {
      // Quiet, and ended after timeoutSeconds as the kube-apiserver ends it (the client resumes from
      // its resourceVersion); a watch never ended looks hung to the reflector, which relists.
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
      const timer = setTimeout(() => res.end(), Number(url.searchParams.get('timeoutSeconds') ?? 300) * 1000);
      res.once('close', () => clearTimeout(timer));
      if (url.searchParams.get('sendInitialEvents') === 'true') void streamInitialEvents(res, make ? n : 0, make);
      return undefined;
    }
    const from = Number(url.searchParams.get('continue') ?? 0);
    const limit = Number(url.searchParams.get('limit') ?? 500);
    const to = make ? Math.min(n, from + limit) : 0;
    const items = [];
    for (let i = from; i < to; i++) items.push(make!(i));
    return json(200, {
      apiVersion: 'kube-request-access.io/v1',
      kind: 'List',
      metadata: { resourceVersion: '999999', ...(to < n && make ? { continue: String(to) } : {}) },
      items,
    });
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
