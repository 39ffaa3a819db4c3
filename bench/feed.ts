// Fills the real kube-apiserver with AccessRequests and AccessGrants: plain POSTs over a few
// HTTP/2 connections with many streams in flight (what client-go would do), as the admin user.
// 429 and 5xx answers are retried with a short backoff; 409 (already there) counts as done.
// feedPairs leaves the cluster at rest: each request carries the status the webhook's status
// writer would give it, so a server started on it has nothing to write while it is measured.
import http2 from 'node:http2';
import { setTimeout as sleep } from 'node:timers/promises';
import * as v from 'valibot';
import { AccessGrant, AccessRequest } from '../functions/schemas.ts';
import { planStatuses } from '../functions/status/index.ts';
import { accessGrant, accessRequest } from './objects.ts';

export interface ApiTarget {
  server: string;
  caPem: string;
  token: string;
}

export interface Answer {
  status: number;
  body: string;
}

/** A small HTTP/2 client for the apiserver with a fixed pool of sessions. */
export class ApiClient {
  readonly #sessions: http2.ClientHttp2Session[] = [];
  #next = 0;

  constructor(
    private readonly target: ApiTarget,
    sessions = 4,
  ) {
    for (let i = 0; i < sessions; i++) this.#sessions.push(this.#connect());
  }

  #connect(): http2.ClientHttp2Session {
    const session = http2.connect(this.target.server, { ca: this.target.caPem });
    session.on('error', () => {});
    return session;
  }

  request(method: string, path: string, body?: string, contentType = 'application/json'): Promise<Answer> {
    const slot = this.#next++ % this.#sessions.length;
    let session = this.#sessions[slot]!;
    // The apiserver closes idle connections (GOAWAY); open a new one then.
    if (session.closed || session.destroyed) this.#sessions[slot] = session = this.#connect();
    return new Promise((resolve, reject) => {
      const stream = session.request({
        ':method': method,
        ':path': path,
        authorization: `Bearer ${this.target.token}`,
        accept: 'application/json',
        ...(body ? { 'content-type': contentType } : {}),
      });
      let status = 0;
      const chunks: Buffer[] = [];
      stream.on('response', (headers) => (status = Number(headers[':status'])));
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => resolve({ status, body: Buffer.concat(chunks).toString('utf8') }));
      stream.on('error', reject);
      stream.setTimeout(120_000, () => stream.close(http2.constants.NGHTTP2_CANCEL));
      stream.end(body);
    });
  }

  close(): void {
    for (const session of this.#sessions) session.close();
  }
}

export function collectionPath(plural: 'accessrequests' | 'accessgrants', namespace: string): string {
  return `/apis/kube-request-access.io/v1/namespaces/${namespace}/${plural}`;
}

/**
 * `send(i)` for every i in [from, to) with `concurrency` requests in flight, until `done(answer)`
 * says it went through; 429 and 5xx answers and dropped streams are retried. Throws after the
 * first object that keeps failing.
 */
async function sendMany(
  from: number,
  to: number,
  what: string,
  send: (i: number) => Promise<Answer>,
  done: (i: number, answer: Answer) => Promise<boolean> | boolean,
  options: { concurrency?: number; onProgress?: (done: number) => void },
): Promise<number> {
  const concurrency = options.concurrency ?? 64;
  let next = from;
  let count = 0;
  const worker = async (): Promise<void> => {
    while (next < to) {
      const i = next++;
      for (let attempt = 0; ; attempt++) {
        let answer: Answer;
        try {
          answer = await send(i);
        } catch (error) {
          if (attempt >= 5) throw error;
          await sleep(200 * (attempt + 1));
          continue;
        }
        if (await done(i, answer)) break;
        if ((answer.status === 429 || answer.status >= 500) && attempt < 8) {
          await sleep(100 * (attempt + 1));
          continue;
        }
        throw new Error(`${what} (object ${i}) answered ${answer.status}: ${answer.body.slice(0, 300)}`);
      }
      count++;
      if (count % 5000 === 0) options.onProgress?.(count);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, to - from)) }, worker));
  return count;
}

/**
 * Creates `make(i)` for every i in [from, to) with `concurrency` requests in flight. Resolves with
 * the number created (or already present); throws after the first object that keeps failing.
 */
export async function createMany(
  client: ApiClient,
  path: string,
  from: number,
  to: number,
  make: (i: number) => object,
  options: {
    concurrency?: number;
    onProgress?: (done: number) => void;
    /** The object as the apiserver stored it (its uid): grants bind to their request's uid. */
    onCreated?: (i: number, stored: { metadata?: { name?: string; uid?: string } }) => void;
  } = {},
): Promise<number> {
  const names: (string | undefined)[] = [];
  return sendMany(
    from,
    to,
    `POST ${path}`,
    (i) => {
      const object = make(i) as { metadata?: { name?: string } };
      names[i - from] = object.metadata?.name;
      return client.request('POST', path, JSON.stringify(object));
    },
    async (i, answer) => {
      if (answer.status !== 201 && answer.status !== 200 && answer.status !== 409) return false;
      if (options.onCreated) {
        // 409: a retried POST that had gone through; read what is stored.
        const stored = answer.status === 409 ? await client.request('GET', `${path}/${names[i - from]}`) : answer;
        options.onCreated(i, JSON.parse(stored.body) as { metadata?: { uid?: string } });
      }
      return true;
    },
    options,
  );
}

type Stored = { metadata: { uid?: string; creationTimestamp?: string } };

/**
 * Creates AccessRequests i in [from, to) of bench/objects.ts in `namespace`, then their AccessGrants,
 * each bound to its request's uid (kept in `uids`, by i, across calls that feed more), then writes
 * each request's status as the webhook's status writer would (functions/status), so that the
 * cluster is at rest: a server started on it writes nothing while it is measured.
 */
export async function feedPairs(
  client: ApiClient,
  namespace: string,
  from: number,
  to: number,
  uids: string[],
  onProgress?: (kind: 'AccessRequests' | 'AccessGrants' | 'statuses', done: number) => void,
): Promise<void> {
  const requests: Stored[] = [];
  const grants: Stored[] = [];
  const progress = (kind: 'AccessRequests' | 'AccessGrants' | 'statuses') =>
    onProgress ? { onProgress: (done: number) => onProgress(kind, done) } : {};
  await createMany(client, collectionPath('accessrequests', namespace), from, to, accessRequest, {
    onCreated: (i, stored) => {
      uids[i] = stored.metadata?.uid ?? '';
      requests[i - from] = stored as Stored;
    },
    ...progress('AccessRequests'),
  });
  await createMany(client, collectionPath('accessgrants', namespace), from, to, (i) => accessGrant(i, uids[i] ?? ''), {
    onCreated: (i, stored) => (grants[i - from] = stored as Stored),
    ...progress('AccessGrants'),
  });
  const now = new Date();
  const path = (name: string) => `${collectionPath('accessrequests', namespace)}/${name}/status`;
  await sendMany(
    from,
    to,
    'PATCH status',
    async (i) => {
      const request = v.parse(AccessRequest, requests[i - from]);
      const grant = v.parse(AccessGrant, grants[i - from]);
      const write = planStatuses({ requests: [request], grants: [grant], now, usernamePrefix: '' }).writes[0];
      if (!write) return { status: 200, body: '' };
      const body = JSON.stringify({ status: write.patch });
      return client.request('PATCH', path(write.name), body, 'application/merge-patch+json');
    },
    (_i, answer) => answer.status === 200,
    progress('statuses'),
  );
}
