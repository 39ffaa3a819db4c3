// The reflector (adapters/kubernetes/informer.ts) against a small fake API server on 127.0.0.1:
// lists are answered in pages (limit/continue), watches as newline-delimited JSON events that each
// test pushes by hand, so every list, watch, relist and retry is a request the test can inspect.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { CustomObjectsApi, KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import { silentLogger } from '../../../adapters/log.ts';
import { reflect, type Reflector } from '../../../adapters/kubernetes/informer.ts';

const GROUP = 'example.io';
const VERSION = 'v1';
const PLURAL = 'things';
const PATH = `/apis/${GROUP}/${VERSION}/${PLURAL}`;

interface Obj extends KubernetesObject {
  metadata: { namespace: string; name: string; resourceVersion: string; [k: string]: unknown };
}

/** What the fake server answers a watch with, when a test queued something other than "stay open". */
type WatchPlan = { status: number } | undefined;

class FakeApi {
  /** The server's objects, by name; `rv` is the collection's current resourceVersion. */
  objects = new Map<string, Obj>();
  rv = 1;
  lists: URLSearchParams[] = [];
  watches: URLSearchParams[] = [];
  /** Per watch request, in order: an HTTP status to fail with; absent: 200 and held open. */
  watchPlans: WatchPlan[] = [];
  open: ServerResponse[] = [];

  reset(): void {
    for (const res of this.open) res.destroy();
    this.objects.clear();
    this.rv = 1;
    this.lists = [];
    this.watches = [];
    this.watchPlans = [];
    this.open = [];
  }

  put(name: string): Obj {
    const obj: Obj = {
      apiVersion: `${GROUP}/${VERSION}`,
      kind: 'Thing',
      metadata: { namespace: 'ns', name, resourceVersion: String(++this.rv) },
    };
    this.objects.set(name, obj);
    return obj;
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname !== PATH) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{}');
      return;
    }
    if (url.searchParams.get('watch') === 'true') {
      this.watches.push(url.searchParams);
      const plan = this.watchPlans.shift();
      if (plan) {
        res.writeHead(plan.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ kind: 'Status', code: plan.status }));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
      this.open.push(res);
      return;
    }
    this.lists.push(url.searchParams);
    const all = [...this.objects.values()];
    const from = Number(url.searchParams.get('continue') || '0');
    const limit = Number(url.searchParams.get('limit') || all.length || 1);
    const items = all.slice(from, from + limit);
    const next = from + limit < all.length ? String(from + limit) : undefined;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        apiVersion: `${GROUP}/${VERSION}`,
        kind: 'ThingList',
        metadata: { resourceVersion: String(this.rv), ...(next ? { continue: next } : {}) },
        items,
      }),
    );
  }

  /** The watch currently held open (the last one the server accepted). */
  current(): ServerResponse {
    const res = this.open.at(-1);
    assert.ok(res && !res.writableEnded, 'no open watch');
    return res;
  }

  send(type: string, object: unknown): void {
    this.current().write(JSON.stringify({ type, object }) + '\n');
  }

  endWatch(): void {
    this.current().end();
  }
}

/** `r.synced()`, but failing (instead of hanging) when it does not come in time. */
async function synced(r: Reflector, timeoutMs = 3000): Promise<void> {
  const timeout = sleep(timeoutMs, 'timeout', { ref: false });
  const result = await Promise.race([r.synced().then(() => 'synced'), timeout]);
  assert.equal(result, 'synced', 'the reflector did not sync in time');
}

async function waitFor(what: string, cond: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

describe('reflect (list + watch against a fake API server)', () => {
  const api = new FakeApi();
  let server: Server;
  let kc: KubeConfig;
  let reflector: Reflector | undefined;
  let upserts: Obj[];
  let deletes: KubernetesObject[];

  before(async () => {
    server = createServer((req, res) => api.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    kc = new KubeConfig();
    kc.loadFromOptions({
      // client-node refuses plain http unless skipTLSVerify is set.
      clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
      users: [{ name: 'u' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
  });

  after(async () => {
    api.reset();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  beforeEach(() => {
    api.reset();
    upserts = [];
    deletes = [];
  });

  afterEach(async () => {
    await reflector?.stop();
    reflector = undefined;
  });

  function start(pageSize = 2): Reflector {
    const custom = kc.makeApiClient(CustomObjectsApi);
    reflector = reflect<Obj>({
      name: 'things',
      kubeConfig: kc,
      path: PATH,
      list: async ({ limit, continue: _continue }) =>
        (await custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, limit, _continue })) as KubernetesListObject<Obj>,
      pageSize,
      onUpsert: (obj) => upserts.push(obj),
      onDelete: (obj) => deletes.push(obj),
      logger: silentLogger,
      minBackoffMs: 20,
      maxBackoffMs: 50,
    });
    return reflector;
  }

  const names = (objs: KubernetesObject[]) => objs.map((o) => o.metadata?.name);

  it('lists every page, upserts all items, becomes synced and watches from the list resourceVersion', async () => {
    for (const n of ['a', 'b', 'c', 'd', 'e']) api.put(n);
    const listRv = String(api.rv);
    const r = start(2);
    await synced(r);
    assert.equal(r.isSynced(), true);
    assert.deepEqual(names(upserts), ['a', 'b', 'c', 'd', 'e']);
    assert.deepEqual(
      api.lists.map((q) => [q.get('limit'), q.get('continue')]),
      [['2', null], ['2', '2'], ['2', '4']],
    );
    assert.equal(api.watches.length, 1);
    assert.equal(api.watches[0]?.get('resourceVersion'), listRv);
    assert.equal(api.watches[0]?.get('allowWatchBookmarks'), 'true');
    assert.deepEqual(deletes, []);
  });

  it('hands ADDED, MODIFIED and DELETED watch events to onUpsert and onDelete, skipping unchanged ones', async () => {
    api.put('a');
    const r = start();
    await synced(r);
    assert.deepEqual(names(upserts), ['a']);

    const b = api.put('b');
    api.send('ADDED', b);
    const a2 = api.put('a');
    api.send('MODIFIED', a2);
    api.send('MODIFIED', a2); // the same resourceVersion again: not handed on twice
    api.send('DELETED', b);
    api.send('BOOKMARK', { kind: 'Thing', metadata: { resourceVersion: String(++api.rv) } });
    await waitFor('the DELETED event', () => deletes.length === 1);
    await sleep(20);

    assert.deepEqual(
      upserts.map((o) => [o.metadata.name, o.metadata.resourceVersion]),
      [['a', '2'], ['b', b.metadata.resourceVersion], ['a', a2.metadata.resourceVersion]],
    );
    assert.deepEqual(names(deletes), ['b']);
    assert.equal(api.lists.length, 1, 'no relist');
  });

  for (const how of ['an ERROR event with code 410', 'HTTP 410 on the resumed watch'] as const) {
    it(`relists after ${how} and deletes what the relist no longer returns`, async () => {
      api.put('a');
      api.put('b');
      const r = start();
      await synced(r);
      assert.deepEqual(names(upserts), ['a', 'b']);
      upserts = [];

      // Meanwhile (events the watch missed): b is gone, c is new.
      api.objects.delete('b');
      api.put('c');
      const relistRv = String(api.rv);
      if (how === 'an ERROR event with code 410') {
        api.send('ERROR', { kind: 'Status', status: 'Failure', reason: 'Expired', code: 410, message: 'too old resource version' });
      } else {
        api.watchPlans.push({ status: 410 }); // the resumed watch is refused
      }
      api.endWatch();

      await waitFor('the watch after the relist', () => api.watches.length === (how === 'an ERROR event with code 410' ? 2 : 3));
      await waitFor('the deletion', () => deletes.length === 1);
      assert.equal(api.lists.length, 2, 'listed again');
      assert.deepEqual(deletes, [{ metadata: { namespace: 'ns', name: 'b' } }]);
      assert.deepEqual(names(upserts), ['c'], 'a is unchanged and not handed on again');
      assert.equal(api.watches.at(-1)?.get('resourceVersion'), relistRv);
      assert.equal(r.isSynced(), true);
    });
  }

  it('retries a watch that failed with HTTP 500 from the last resourceVersion, without relisting', async () => {
    api.put('a');
    const r = start();
    await synced(r);
    const listRv = api.watches[0]?.get('resourceVersion');

    const a2 = api.put('a');
    const seenRv = a2.metadata.resourceVersion;
    assert.notEqual(seenRv, listRv);
    api.send('MODIFIED', a2);
    await waitFor('the MODIFIED event', () => upserts.length === 2);

    api.watchPlans.push({ status: 500 }); // the resumed watch fails
    api.endWatch(); // the server closes the first watch: resumed at once
    await waitFor('the retried watch', () => api.watches.length === 3);

    assert.deepEqual(
      api.watches.map((q) => q.get('resourceVersion')),
      [listRv, seenRv, seenRv],
    );
    assert.equal(api.lists.length, 1, 'no relist after a 500');

    // The retried watch works: events still arrive.
    const b = api.put('b');
    api.send('ADDED', b);
    await waitFor('the ADDED event on the retried watch', () => upserts.length === 3);
    assert.deepEqual(names(upserts), ['a', 'a', 'b']);
    assert.deepEqual(deletes, []);
  });
});
