// The reflector (adapters/kubernetes/informer.ts) against a small fake API server on 127.0.0.1:
// lists are answered in pages (limit/continue), watches as newline-delimited JSON events that each
// test pushes by hand, so every list, watch, relist and retry is a request the test can inspect.
// A streamed initial state (watch with sendInitialEvents=true) is refused with 422, as by a server
// with WatchList off, unless a test plans otherwise (`streamPlans`): the list tests run through
// that fallback. Every test runs with the reflector's own record of what it gave, and with the
// caller's store answering for it.
// The fake can also go down (every connection reset, as when the apiserver is killed) and hang (a
// watch or list that never answers), for the reflector's backoff, hang guard and staleness.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { nodeKubernetesClient, type NodeKubernetesClient } from '../../../adapters/kubernetes/client.ts';
import { clusterConfig } from '../../../adapters/kubernetes/config.ts';
import { silentLogger } from '../../../adapters/log.ts';
import {
  reflect,
  retryDelay,
  type KubernetesListObject,
  type KubernetesObject,
  type Reflector,
  type ReflectorTimings,
} from '../../../adapters/kubernetes/informer.ts';
import { IndexedStore } from '../../../adapters/kubernetes/store.ts';

const GROUP = 'example.io';
const VERSION = 'v1';
const PLURAL = 'things';
const PATH = `/apis/${GROUP}/${VERSION}/${PLURAL}`;

interface Obj extends KubernetesObject {
  metadata: { namespace: string; name: string; resourceVersion: string; [k: string]: unknown };
}

/** What the fake server answers a watch with, when a test queued something other than "stay open": a status, or never even the headers. */
type WatchPlan = { status: number } | 'hang' | 'gone' | undefined;

/**
 * What it answers a streaming watch (sendInitialEvents=true) with: a status; 'stream': every object
 * as ADDED, then the end bookmark, then held open; 'open': held open, the test sends the events;
 * 'ignore': what a server that ignores sendInitialEvents does (every object as ADDED, held open).
 */
type StreamPlan = { status: number } | 'stream' | 'open' | 'ignore';

class FakeApi {
  /** The server's objects, by name; `rv` is the collection's current resourceVersion. */
  objects = new Map<string, Obj>();
  rv = 1;
  lists: URLSearchParams[] = [];
  watches: URLSearchParams[] = [];
  /** When each watch request came in (Date.now()), for the retry delays. */
  watchTimes: number[] = [];
  /** Per watch request, in order: an HTTP status to fail with, or 'hang'; absent: 200 and held open. */
  watchPlans: WatchPlan[] = [];
  /** The streaming watches (not in `watches`), and what each is answered with; absent: 422. */
  streams: URLSearchParams[] = [];
  streamPlans: StreamPlan[] = [];
  /** How many of the next list requests get no answer at all. */
  listHangs = 0;
  open: ServerResponse[] = [];
  /** Responses the client closed (a watch it tore down, a hung request it gave up). */
  closedByClient = new Set<ServerResponse>();
  /** Down: every connection is reset at once, as when the apiserver process is killed. */
  down = false;
  /**
   * The User-Agent of this test's client (a new one per test): a request an earlier test's
   * reflector had already sent when it was stopped may arrive after `reset()`, and must not count.
   */
  userAgent = 'reflector-test-0';
  #generation = 0;

  reset(): void {
    this.userAgent = `reflector-test-${++this.#generation}`;
    for (const res of this.open) res.destroy();
    this.objects.clear();
    this.rv = 1;
    this.lists = [];
    this.watches = [];
    this.watchTimes = [];
    this.watchPlans = [];
    this.streams = [];
    this.streamPlans = [];
    this.listHangs = 0;
    this.open = [];
    this.closedByClient.clear();
    this.down = false;
  }

  /** Goes down: the open watches are cut and every new connection is reset. */
  kill(): void {
    this.down = true;
    for (const res of this.open) res.socket?.destroy();
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
    if (this.down || req.headers['user-agent'] !== this.userAgent) {
      req.socket.destroy();
      return;
    }
    res.on('close', () => {
      if (!res.writableFinished) this.closedByClient.add(res);
    });
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname !== PATH) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{}');
      return;
    }
    if (url.searchParams.get('watch') === 'true' && url.searchParams.get('sendInitialEvents') === 'true') {
      this.streams.push(url.searchParams);
      const plan = this.streamPlans.shift() ?? { status: 422 };
      if (typeof plan === 'object') {
        // What the kube-apiserver answers with the WatchList feature gate off (an Invalid ListOptions).
        res.writeHead(plan.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ kind: 'Status', status: 'Failure', reason: 'Invalid', code: plan.status }));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
      this.open.push(res);
      if (plan === 'open') return;
      for (const obj of this.objects.values()) res.write(JSON.stringify({ type: 'ADDED', object: obj }) + '\n');
      if (plan === 'stream') res.write(JSON.stringify({ type: 'BOOKMARK', object: this.endBookmark() }) + '\n');
      return;
    }
    if (url.searchParams.get('watch') === 'true') {
      this.watches.push(url.searchParams);
      this.watchTimes.push(Date.now());
      const plan = this.watchPlans.shift();
      if (plan === 'hang') {
        this.open.push(res); // (held, but not even the headers are sent)
        return;
      }
      if (plan === 'gone') {
        // What a restarted apiserver answers a watch from a resourceVersion it no longer has.
        res.writeHead(200, { 'content-type': 'application/json' });
        const status = {
          kind: 'Status',
          status: 'Failure',
          reason: 'Expired',
          code: 410,
          message: 'too old resource version',
        };
        res.end(JSON.stringify({ type: 'ERROR', object: status }) + '\n');
        return;
      }
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
    if (this.listHangs > 0) {
      this.listHangs--;
      this.open.push(res);
      return;
    }
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

  /** The bookmark that ends a stream's initial events, at the collection's resourceVersion. */
  endBookmark(): object {
    return {
      kind: 'Thing',
      apiVersion: `${GROUP}/${VERSION}`,
      metadata: { resourceVersion: String(this.rv), annotations: { 'k8s.io/initial-events-end': 'true' } },
    };
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

// Every test twice: the reflector keeping its own record of names and resourceVersions, and asking
// the caller's store instead (`held`, as the caches do), which must skip and sweep the same.
for (const record of ['its own record', "the caller's store"] as const)
  describe(`reflect (list + watch against a fake API server), with ${record} of what it gave`, () => {
    const api = new FakeApi();
    let server: Server;
    let client: NodeKubernetesClient;
    let reflector: Reflector | undefined;
    let upserts: Obj[];
    let deletes: KubernetesObject[];

    let port: number;
    before(async () => {
      server = createServer((req, res) => api.handle(req, res));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.address() as AddressInfo).port;
    });

    after(async () => {
      api.reset();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    beforeEach(() => {
      api.reset();
      // A client of this test's own, which the fake API tells from an earlier test's stopped one.
      client = nodeKubernetesClient(clusterConfig({ server: `http://127.0.0.1:${port}` }), {
        userAgent: api.userAgent,
      });
      upserts = [];
      deletes = [];
    });

    afterEach(async () => {
      await reflector?.stop();
      reflector = undefined;
    });

    let changes = 0;

    function start(pageSize = 2, timings: ReflectorTimings = {}): Reflector {
      changes = 0;
      const store = record === "the caller's store" ? new IndexedStore<Obj, never>({}) : undefined;
      reflector = reflect<Obj>({
        name: 'things',
        client,
        path: PATH,
        list: async ({ limit, continue: next }) =>
          (await client.get(PATH, { limit: String(limit), continue: next })) as KubernetesListObject<Obj>,
        pageSize,
        onUpsert: (obj) => {
          upserts.push(obj);
          store?.upsert(obj);
        },
        onDelete: (obj) => {
          deletes.push(obj);
          store?.remove(obj.metadata?.namespace, obj.metadata?.name);
        },
        ...(store ? { held: store.held(undefined) } : {}),
        onChange: () => changes++,
        logger: silentLogger,
        minBackoffMs: 20,
        maxBackoffMs: 50,
        ...timings,
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
        [
          ['2', null],
          ['2', '2'],
          ['2', '4'],
        ],
      );
      assert.equal(api.watches.length, 1);
      assert.equal(api.watches[0]?.get('resourceVersion'), listRv);
      assert.equal(api.watches[0]?.get('allowWatchBookmarks'), 'true');
      assert.equal(api.watches[0]?.get('timeoutSeconds'), '10', 'the server is asked to end the watch after 10 s');
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
        [
          ['a', '2'],
          ['b', b.metadata.resourceVersion],
          ['a', a2.metadata.resourceVersion],
        ],
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
          api.send('ERROR', {
            kind: 'Status',
            status: 'Failure',
            reason: 'Expired',
            code: 410,
            message: 'too old resource version',
          });
        } else {
          api.watchPlans.push({ status: 410 }); // the resumed watch is refused
        }
        api.endWatch();

        await waitFor(
          'the watch after the relist',
          () => api.watches.length === (how === 'an ERROR event with code 410' ? 2 : 3),
        );
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

    it('tears down a watch that sends nothing, not even a bookmark, for longer than the idle timeout, and resumes it', async () => {
      api.put('a');
      const r = start(2, { idleTimeoutMs: 300 });
      await synced(r);
      const first = api.current();

      // Bookmarks are signs of life: a watch that sends them is left alone.
      for (let i = 0; i < 6; i++) {
        await sleep(100);
        api.send('BOOKMARK', { kind: 'Thing', metadata: { resourceVersion: String(api.rv) } });
      }
      assert.equal(api.watches.length, 1, 'a watch with bookmarks is not torn down');

      // Then silence: torn down after ~300 ms and resumed from the same resourceVersion, no relist.
      const silentFrom = Date.now();
      await waitFor('the resumed watch', () => api.watches.length === 2, 3000);
      const after = Date.now() - silentFrom;
      assert.ok(after >= 250 && after < 1500, `torn down after ${after} ms`);
      await waitFor('the hung watch closed by the client', () => api.closedByClient.has(first));
      assert.equal(api.watches[1]?.get('resourceVersion'), api.watches[0]?.get('resourceVersion'));
      assert.equal(api.lists.length, 1, 'no relist');

      // The new watch works.
      const b = api.put('b');
      api.send('ADDED', b);
      await waitFor('the ADDED event on the new watch', () => upserts.length === 2);
      assert.equal(r.isSynced(), true);
    });

    it('gives up a watch whose response never starts, and a list that never answers', async () => {
      api.put('a');
      api.listHangs = 1; // the first list hangs
      api.watchPlans.push('hang'); // and then the first watch
      const r = start(2, { idleTimeoutMs: 200 });
      await synced(r);
      assert.equal(api.lists.length, 2, 'listed again after the hung list');
      assert.equal(api.watches.length, 2, 'watched again after the hung watch');
      assert.deepEqual(names(upserts), ['a']);
    });

    it('retries with a growing, capped, jittered backoff, and resets it once a watch opens', async () => {
      api.put('a');
      for (let i = 0; i < 7; i++) api.watchPlans.push({ status: 500 });
      const r = start(2, { minBackoffMs: 20, maxBackoffMs: 800 });
      await waitFor('the watch after 7 failures', () => api.watches.length === 8, 10_000);
      await synced(r);
      const gaps = api.watchTimes.slice(1).map((t, i) => t - api.watchTimes[i]!);
      // 20, 40, … doubling up to the cap of 800 ms, each delay between half and all of it.
      assert.ok(gaps.at(-1)! >= 390, `the backoff grew: gaps ${gaps.join(', ')} ms`);
      assert.ok(Math.max(...gaps) < 800 + 250, `the backoff is capped: gaps ${gaps.join(', ')} ms`);

      // The watch is open: the next failure is retried after the minimum again, not after 800 ms.
      api.send('BOOKMARK', { kind: 'Thing', metadata: { resourceVersion: String(api.rv) } });
      await sleep(20);
      api.watchPlans.push({ status: 500 });
      const before = api.watches.length;
      api.endWatch(); // resumed at once, refused with 500, retried after the (reset) backoff
      await waitFor('the retry after the reset', () => api.watches.length === before + 2, 3000);
      const retry = api.watchTimes.at(-1)! - api.watchTimes.at(-2)!;
      assert.ok(
        retry < 300,
        `retried ${retry} ms after the failure, the backoff was reset (before: ${gaps.at(-1)} ms)`,
      );
    });

    it('spreads retry delays between half of the backoff and all of it', () => {
      assert.equal(
        retryDelay(1000, () => 0),
        500,
      );
      assert.equal(
        retryDelay(1000, () => 0.5),
        750,
      );
      assert.equal(
        retryDelay(1000, () => 1),
        1000,
      );
    });

    it('is not synced while its first list fails, and says so', async () => {
      api.put('a');
      api.kill();
      const r = start(2, { minBackoffMs: 20, maxBackoffMs: 50 });
      await sleep(150);
      assert.equal(r.isSynced(), false);
      assert.match(r.staleReason() ?? '', /^the things cache is not synced yet/);
      api.down = false;
      await synced(r);
      assert.equal(r.isSynced(), true);
      assert.equal(r.staleReason(), undefined);
    });

    it('turns not synced once its watch has been down longer than the bound, and synced again after a relist that drops what was deleted meanwhile', async () => {
      api.put('a');
      api.put('b');
      const r = start(2, { staleAfterMs: 400, minBackoffMs: 20, maxBackoffMs: 100 });
      await synced(r);
      // A bookmark shows the watch delivers: the cache is current until the moment it is lost.
      api.send('BOOKMARK', { kind: 'Thing', metadata: { resourceVersion: String(api.rv) } });
      await sleep(50);
      changes = 0;

      const downAt = Date.now();
      api.kill(); // the apiserver dies: the watch is cut and every retry is refused
      await sleep(200);
      assert.equal(r.isSynced(), true, 'still synced within the bound');
      await waitFor('not synced', () => !r.isSynced(), 2000);
      const staleAfter = Date.now() - downAt;
      assert.ok(staleAfter >= 390 && staleAfter < 1000, `stale ${staleAfter} ms after the watch was lost`);
      assert.match(r.staleReason() ?? '', /^the things cache lost its watch of the API server \d+ s ago$/);

      // Meanwhile b is deleted; the restarted server no longer has our resourceVersion (410): relist.
      api.objects.delete('b');
      api.put('c');
      api.watchPlans.push({ status: 410 });
      const upAt = Date.now();
      api.down = false;
      await waitFor('synced again', () => r.isSynced(), 2000);
      const recovered = Date.now() - upAt;
      assert.ok(recovered < 1000, `synced ${recovered} ms after the server answered again`);
      assert.deepEqual(names(deletes), ['b'], 'the relist removed what was deleted during the outage');
      assert.deepEqual(names(upserts), ['a', 'b', 'c']);
      assert.equal(r.staleReason(), undefined);
      assert.ok(changes > 0, 'onChange after the relist');
    });

    it('stays not synced when a stale cache resumes its watch and is told 410 at once, until the relist is in', async () => {
      api.put('a');
      const r = start(2, { staleAfterMs: 300, idleTimeoutMs: 1_000, minBackoffMs: 20, maxBackoffMs: 50 });
      await synced(r);
      api.kill();
      await waitFor('not synced', () => !r.isSynced(), 2000);

      api.watchPlans.push('gone'); // the resumed watch opens, then says 410 …
      api.listHangs = 1; // … and the relist hangs until the hang guard gives it up
      const watches = api.watches.length;
      api.down = false;
      await waitFor('the resumed watch', () => api.watches.length > watches, 2000);
      const samples: boolean[] = [];
      for (let i = 0; i < 25; i++) {
        samples.push(r.isSynced());
        await sleep(20);
      }
      assert.deepEqual(
        samples.filter(Boolean),
        [],
        'an open watch that answered 410 did not make the old content fresh',
      );
      await waitFor('synced after the second relist', () => r.isSynced(), 3000);
      assert.equal(api.lists.length, 3, 'the first list, the hung relist, the relist');
    });

    it('counts a resumed watch as following once it delivers an event, or after a second without a 410', async () => {
      api.put('a');
      const r = start(2, { staleAfterMs: 300, minBackoffMs: 20, maxBackoffMs: 50 });
      await synced(r);

      for (const how of ['event', 'quiet'] as const) {
        api.kill();
        await waitFor('not synced', () => !r.isSynced(), 2000);
        const watches = api.watches.length;
        api.down = false;
        await waitFor(
          'the resumed watch',
          () => api.watches.length > watches && api.open.at(-1)?.headersSent === true,
          2000,
        );
        const openedAt = Date.now();
        await sleep(50);
        assert.equal(r.isSynced(), false, `${how}: not fresh merely because the watch opened`);
        if (how === 'event') {
          api.send('MODIFIED', api.put('a'));
          await waitFor('synced by the event', () => r.isSynced(), 500);
        } else {
          await waitFor('synced after a second', () => r.isSynced(), 2000);
          const after = Date.now() - openedAt;
          assert.ok(after >= 900, `synced ${after} ms after the watch opened`);
        }
        assert.equal(api.lists.length, 1, 'resumed, not relisted');
      }
    });

    it('follows at once with a watch that resumes one the server closed, so staleness counts from the loss', async () => {
      api.put('a');
      const r = start(2, { staleAfterMs: 400, minBackoffMs: 20, maxBackoffMs: 50 });
      await synced(r);
      api.send('BOOKMARK', { kind: 'Thing', metadata: { resourceVersion: String(api.rv) } });
      await sleep(50);
      api.endWatch(); // the server's timeout: resumed at once
      await waitFor('the resumed watch', () => api.watches.length === 2 && api.open.at(-1)?.headersSent === true);
      await sleep(500); // quiet, less than the second a watch resumed after a failure needs
      assert.equal(r.isSynced(), true, 'a quiet resumed watch keeps the cache current');
      const killedAt = Date.now();
      api.kill();
      await waitFor('not synced', () => !r.isSynced(), 2000);
      const staleAfter = Date.now() - killedAt;
      assert.ok(staleAfter >= 390, `stale ${staleAfter} ms after the loss, not counted from the earlier close`);
    });

    it('streams the initial state: applies each object as it comes, is synced only at the end bookmark, then watches from its resourceVersion without listing', async () => {
      for (const n of ['a', 'b', 'c']) api.put(n);
      api.streamPlans.push('open');
      const r = start();
      await waitFor('the stream', () => api.streams.length === 1 && api.open.at(-1)?.headersSent === true);
      const query = api.streams[0]!;
      assert.equal(query.get('sendInitialEvents'), 'true');
      assert.equal(query.get('resourceVersionMatch'), 'NotOlderThan');
      assert.equal(query.get('allowWatchBookmarks'), 'true');
      assert.equal(query.get('resourceVersion'), null, 'a consistent read: no resourceVersion');
      assert.equal(query.get('timeoutSeconds'), '300', 'long enough for any collection (ended by us at the bookmark)');

      for (const obj of api.objects.values()) api.send('ADDED', obj);
      await waitFor('the streamed objects', () => upserts.length === 3);
      await sleep(50);
      assert.equal(r.isSynced(), false, 'not synced before the end bookmark');
      assert.match(r.staleReason() ?? '', /not synced yet/);
      assert.equal(r.syncedBy(), undefined);
      assert.equal(api.watches.length, 0);

      const stream = api.current();
      api.send('BOOKMARK', api.endBookmark());
      await synced(r);
      assert.equal(r.syncedBy(), 'stream');
      assert.deepEqual(names(upserts), ['a', 'b', 'c']);
      assert.equal(api.lists.length, 0, 'no list');
      assert.equal(api.watches.length, 1);
      assert.equal(
        api.watches[0]?.get('resourceVersion'),
        String(api.rv),
        "the watch starts at the bookmark's resourceVersion",
      );
      assert.equal(api.watches[0]?.get('timeoutSeconds'), '10');
      assert.equal(api.watches[0]?.get('sendInitialEvents'), null);
      await waitFor('the stream closed by the client', () => api.closedByClient.has(stream));

      const d = api.put('d');
      api.send('ADDED', d);
      await waitFor('an event on the watch', () => upserts.length === 4);
      assert.equal(r.isSynced(), true);
      assert.deepEqual(deletes, []);
    });

    it('streams again after a 410 and drops what the new stream no longer brings', async () => {
      for (const n of ['a', 'b']) api.put(n);
      api.streamPlans.push('stream', 'stream');
      const r = start();
      await synced(r);
      assert.deepEqual(names(upserts), ['a', 'b']);
      upserts = [];

      // Meanwhile (events the watch missed): b is gone, c is new.
      api.objects.delete('b');
      api.put('c');
      api.send('ERROR', { kind: 'Status', status: 'Failure', reason: 'Expired', code: 410 });
      api.endWatch();
      await waitFor('the watch after the second stream', () => api.watches.length === 2);
      assert.equal(api.streams.length, 2);
      assert.deepEqual(deletes, [{ metadata: { namespace: 'ns', name: 'b' } }]);
      assert.deepEqual(names(upserts), ['c'], 'a is unchanged and not handed on again');
      assert.equal(api.watches[1]?.get('resourceVersion'), String(api.rv));
      assert.equal(api.lists.length, 0);
      assert.equal(r.syncedBy(), 'stream');
      assert.equal(r.isSynced(), true);
    });

    it('restarts a stream that gets a 410 before its end bookmark, and retries one refused with 500 as a stream', async () => {
      api.put('a');
      api.streamPlans.push('open', { status: 500 }, 'stream');
      const r = start();
      await waitFor('the stream', () => api.streams.length === 1 && api.open.at(-1)?.headersSent === true);
      api.send('ADDED', api.objects.get('a'));
      api.send('ERROR', { kind: 'Status', status: 'Failure', reason: 'Expired', code: 410 });
      await synced(r);
      assert.equal(api.streams.length, 3, 'the 410, the 500, the stream that ended');
      assert.equal(api.lists.length, 0, 'no fallback to the list');
      assert.equal(r.syncedBy(), 'stream');
    });

    const refusals: [string, StreamPlan, (() => void)?][] = [
      ['refused with 422 (WatchList off)', { status: 422 }],
      ['refused with 400', { status: 400 }],
      [
        'answered by a plain bookmark (sendInitialEvents ignored)',
        'ignore',
        () => api.send('BOOKMARK', { kind: 'Thing', metadata: { resourceVersion: String(api.rv) } }),
      ],
      ['ended by the server before its end bookmark', 'ignore', () => api.endWatch()],
      [
        'answered by an ERROR event',
        'open',
        () => api.send('ERROR', { kind: 'Status', status: 'Failure', code: 500, message: 'storage feature missing' }),
      ],
    ];
    for (const [how, plan, then] of refusals) {
      it(`falls back to the paged list when its stream is ${how}, and keeps listing`, async () => {
        for (const n of ['a', 'b', 'c']) api.put(n);
        api.streamPlans.push(plan, 'stream');
        const r = start();
        if (then) {
          await waitFor('the stream', () => api.streams.length === 1 && api.open.at(-1)?.headersSent === true);
          await sleep(20);
          then();
        }
        await synced(r);
        assert.equal(r.syncedBy(), 'list');
        assert.equal(api.streams.length, 1);
        assert.equal(api.lists.length, 2, 'listed in pages of 2');
        assert.equal(new Set(names(upserts)).size, 3);

        // A 410 later: the reflector remembers, and lists again without asking for a stream.
        api.objects.delete('b');
        api.send('ERROR', { kind: 'Status', status: 'Failure', reason: 'Expired', code: 410 });
        api.endWatch();
        await waitFor('the deletion', () => deletes.length === 1);
        await waitFor('the watch after the relist', () => api.watches.length === 2);
        assert.equal(api.streams.length, 1, 'no second stream');
        assert.equal(api.lists.length, 3, 'relisted (one page now)');
      });
    }

    it('tears down a stream that stalls before its end bookmark, is not synced meanwhile, and lists instead', async () => {
      for (const n of ['a', 'b']) api.put(n);
      api.streamPlans.push('ignore'); // the objects, then silence: no end bookmark
      const r = start(2, { idleTimeoutMs: 300 });
      await waitFor('the streamed objects', () => upserts.length === 2);
      const stream = api.current();
      const stalledAt = Date.now();
      const samples: boolean[] = [];
      while (api.lists.length === 0 && Date.now() - stalledAt < 3000) {
        samples.push(r.isSynced());
        await sleep(20);
      }
      const after = Date.now() - stalledAt;
      assert.ok(after >= 250 && after < 1500, `torn down after ${after} ms`);
      assert.deepEqual(samples.filter(Boolean), [], 'never synced by a stream without its end bookmark');
      await waitFor('the stalled stream closed by the client', () => api.closedByClient.has(stream));
      await synced(r);
      assert.equal(r.syncedBy(), 'list');
      assert.deepEqual(deletes, []);
      assert.equal(upserts.length, 2, 'the listed objects were streamed already, unchanged');
    });

    it('lists without trying a stream when streamInitialState is false', async () => {
      api.put('a');
      api.streamPlans.push('stream');
      const r = start(2, { streamInitialState: false });
      await synced(r);
      assert.equal(api.streams.length, 0);
      assert.equal(r.syncedBy(), 'list');
    });
  });
