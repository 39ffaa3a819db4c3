// List + watch, our own reflector on the watch of our Kubernetes client (client.ts): the objects live only in
// the caller's store (through onUpsert/onDelete); to skip unchanged objects and to tell which ones
// a relist no longer returns, the reflector asks that store which names it holds, at which
// resourceVersion (`held`: no second map of every name, issue #16), or, without one, keeps each
// name and resourceVersion itself. Like client-go's reflector it reads
// the initial state as a stream ("watch-list", KEP-3157: a watch with sendInitialEvents=true,
// resourceVersionMatch=NotOlderThan and no resourceVersion, a consistent read served from the API
// server's watch cache, every object an ADDED event and then a BOOKMARK annotated
// k8s.io/initial-events-end), or, where the server does not offer that, lists in pages; then it
// watches from that resourceVersion, resumes a watch the server closed from the last
// resourceVersion seen, and reads the whole state again (stream or list) on 410 Gone; unlike it,
// after any other error it restarts with a short, jittered backoff (resuming, so no event is lost).
//
// The stream counts as read only at its end bookmark: then what it did not bring is removed (as
// after a relist), the stream is closed and the watch opened from the bookmark's resourceVersion,
// so the watch after it is the same as after a list. A server that refuses the stream (400 or 422:
// WatchList off or an older apiserver), answers it with an ERROR event, sends a plain bookmark
// first, or ends it or goes silent before the end bookmark, makes this reflector list in pages from
// then on (each fallback logged; the list is always correct, only slower); a 410 restarts the
// stream, and a failed connection or another status (401, 403, 429, 5xx) retries it after the backoff.
//
// It also knows when its cache is stale, because a cache that silently stops following the API
// server keeps allowing what was revoked meanwhile:
// - every watch asks the server to end it after `watchTimeoutSeconds` (the initial stream after
//   STREAM_TIMEOUT_SECONDS, ended by us at its end bookmark), and a list, stream or watch that
//   shows no sign of life (no page, no event, no bookmark, no end) for `idleTimeoutMs` is torn
//   down and started again: a hung connection cannot keep it "synced", and a stream that stalls
//   before its end bookmark never makes it synced (it is listed instead);
// - the backoff is reset whenever a watch opens and capped at `maxBackoffMs`, so it reconnects
//   within about that long once the server answers again;
// - it tracks how far behind the server it may be: current while a watch is following, else as of
//   the moment its watch was lost (or its last list or stream started: both are consistent reads
//   as of their start); once that is more than `staleAfterMs` ago it reports not synced (and says
//   why) until a relist or a resumed watch brings what it missed. A watch resumed after a failure
//   counts as following once it delivers an event or has stayed open for a second (a server that
//   no longer has our resourceVersion answers 410 at once, and then the cache is still as old as
//   before, not fresh); one that resumes a following watch the server closed (its timeout)
//   follows from the start.
import { statusOf } from '../errors.ts';
import type { Logger } from '../ports.ts';
import type { NodeKubernetesClient } from './client.ts';

/** What the reflector reads of an object: its metadata. */
export interface KubernetesObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    namespace?: string;
    name?: string;
    uid?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    managedFields?: unknown[];
    [key: string]: unknown;
  };
}

/** One page of a list: its items, and where the next page starts (`continue`). */
export interface KubernetesListObject<T> {
  metadata?: { resourceVersion?: string; continue?: string };
  items: T[];
}

export interface Reflector {
  readonly name: string;
  /** The initial state is in, and the watch is open or was lost no longer than `staleAfterMs` ago. */
  isSynced(): boolean;
  /** Why it is not synced, as the end of a sentence naming the cache; undefined while synced. */
  staleReason(): string | undefined;
  /** How far behind the API server it may be, in seconds: 0 while its watch delivers; undefined before the first list. */
  lagSeconds(): number | undefined;
  /** Resolves once the initial state is in (streamed or listed) and the watch is open (or rejects when `stop` comes first). */
  synced(): Promise<void>;
  /** How its last full read of the collection came: streamed (watch-list) or listed in pages; undefined before the first. */
  syncedBy(): 'stream' | 'list' | undefined;
  stop(): Promise<void>;
}

/**
 * What the caller's store holds of the reflector's collection: the resourceVersion of an object it
 * was given (undefined if it holds none of that name: never given, deleted, or not kept, e.g.
 * malformed: given again on the next full read), and the namespace and name of each one it holds.
 */
export interface Held {
  version(namespace: string, name: string): string | undefined;
  names(): Iterable<readonly [namespace: string, name: string]>;
}

export interface ListPage {
  limit: number;
  continue?: string;
}

export interface ReflectorTimings {
  /** First retry delay after a failure (default 250 ms); doubles per failure, reset when a watch opens. */
  minBackoffMs?: number;
  /** Cap of the retry delay (default 2 s): how long after the server is back it is asked again, at most. */
  maxBackoffMs?: number;
  /** Asked of the server (`timeoutSeconds`): it ends each watch after this long (default 10 s). */
  watchTimeoutSeconds?: number;
  /**
   * A list or watch with no sign of life for this long is torn down and restarted (default: the
   * watch timeout + 5 s; the server sends a bookmark 2 s before a watch's timeout and then ends it,
   * so a healthy watch is never silent that long).
   */
  idleTimeoutMs?: number;
  /** How long the watch may be down before the cache is stale: not synced, nothing read from it (default 5 s). */
  staleAfterMs?: number;
  /**
   * Read the whole state as a watch stream where the server offers it (default true); false: list
   * in pages only (for comparisons; a server without the stream makes it fall back by itself).
   */
  streamInitialState?: boolean;
}

const DEFAULT_TIMINGS = {
  minBackoffMs: 250,
  maxBackoffMs: 2_000,
  watchTimeoutSeconds: 10,
  staleAfterMs: 5_000,
} as const;

export function reflect<T extends KubernetesObject>(
  options: {
    name: string;
    /** How messages name it, e.g. "the AccessRequest cache" (default `the ${name} cache`). */
    label?: string;
    /** Opens the watches (list goes through `list`). */
    client: Pick<NodeKubernetesClient, 'watch'>;
    /** The collection path, e.g. `/apis/kube-request-access.io/v1/accessrequests`. */
    path: string;
    /** One page of the collection: at most `limit` items, from `continue` on (absent: the first). */
    list: (page: ListPage) => Promise<KubernetesListObject<T>>;
    /** Items per list page (default 500): no single huge response is read and parsed at once. */
    pageSize?: number;
    labelSelector?: string;
    /** An object added or changed, slimmed (see `slim`); the caller's store is the only copy. */
    onUpsert: (obj: T) => void;
    /** What `onUpsert` and `onDelete` keep, by name (see `Held`); absent: the reflector keeps a record of names and versions itself. */
    held?: Held;
    /** An object deleted; after a relist that no longer returns it, only its namespace and name. */
    onDelete: (obj: KubernetesObject) => void;
    /** Called after every batch of events settles (coalesced), e.g. to trigger a reconcile; also when it is synced again after being stale. */
    onChange?: () => void;
    logger: Logger;
  } & ReflectorTimings,
): Reflector {
  const { name, logger } = options;
  const label = options.label ?? `the ${name} cache`;
  const minBackoff = options.minBackoffMs ?? DEFAULT_TIMINGS.minBackoffMs;
  const maxBackoff = Math.max(minBackoff, options.maxBackoffMs ?? DEFAULT_TIMINGS.maxBackoffMs);
  const watchTimeoutSeconds = options.watchTimeoutSeconds ?? DEFAULT_TIMINGS.watchTimeoutSeconds;
  const idleTimeout = options.idleTimeoutMs ?? watchTimeoutSeconds * 1000 + 5_000;
  const staleAfter = options.staleAfterMs ?? DEFAULT_TIMINGS.staleAfterMs;
  const pageSize = options.pageSize ?? 500;
  /** Whether the next full read is a stream; false once the server showed it does not offer one. */
  let streams = options.streamInitialState ?? true;
  let syncedBy: 'stream' | 'list' | undefined;
  /** Without `held`: namespace ('' for cluster-scoped) → name → resourceVersion of what the caller was given. */
  const own = options.held ? undefined : new Map<string, Map<string, string>>();
  const held: Held = options.held ?? ownRecord(own!);
  let resourceVersion = '';
  let request: { abort(): void } | undefined;
  /** Bumped whenever a list or watch is left behind; its late pages, events and end are then ignored. */
  let attempt = 0;
  let backoff = minBackoff;
  let stopped = false;
  /** The first list is applied and a watch was opened once. */
  let listed = false;
  /** Up to when (`now()` ms) the cache is known to hold every change, whatever a watch does now. */
  let currentAsOf = now();
  /** The open watch: since when, and whether it delivered an event (or bookmark) yet. */
  let watching: { since: number; delivered: boolean } | undefined;
  let lastListAt = 0;
  let restartTimer: NodeJS.Timeout | undefined;
  let idleTimer: NodeJS.Timeout | undefined;
  let resolveSynced!: () => void;
  let rejectSynced!: (err: Error) => void;
  const syncedPromise = new Promise<void>((resolve, reject) => {
    resolveSynced = resolve;
    rejectSynced = reject;
  });
  syncedPromise.catch(() => {});

  const changed = () => options.onChange?.();
  const call = <A>(fn: (obj: A) => void, obj: A) => {
    try {
      fn(obj);
    } catch (err) {
      logger.error('informer handler failed', { informer: name, error: err });
    }
    changed();
  };

  // (No error text here: it ends up in denials users read; the log has the details.)
  function staleReason(): string | undefined {
    if (!listed) return `${label} is not synced yet (its first list and watch of the API server have not completed)`;
    const at = now();
    if (following(at)) return undefined;
    const behind = at - currentAsOf;
    if (behind <= staleAfter) return undefined;
    return `${label} lost its watch of the API server ${Math.round(behind / 1000)} s ago`;
  }

  /** A watch is open and known to deliver: it brought an event, or no 410 came in its first second. */
  function following(at: number): boolean {
    return watching !== undefined && (watching.delivered || at - watching.since >= CONFIRM_MS);
  }

  /** The watch is gone (ended, failed, hung): the cache is current as of `at` if it was following until then. */
  function lost(at = now()): void {
    if (following(at)) currentAsOf = Math.max(currentAsOf, at);
    watching = undefined;
  }

  /**
   * The hang guard of one attempt: `alive()` says the server answered (a list page, the watch
   * opening, an event, a bookmark); with no answer for `idleTimeout` the attempt is torn down.
   * One timer per attempt that re-arms itself, not one per event.
   */
  function guard(mine: number, hung?: (err: Error) => void): () => void {
    let aliveAt = now();
    if (idleTimer) clearTimeout(idleTimer);
    const check = () => {
      idleTimer = undefined;
      if (mine !== attempt || stopped) return;
      const idle = now() - aliveAt;
      if (idle < idleTimeout) {
        idleTimer = setTimeout(check, idleTimeout - idle);
        idleTimer.unref?.();
        return;
      }
      // Nothing, not even a bookmark or the end the server owes us: the connection is hung, and
      // the cache current only as of the last sign of life.
      attempt++;
      request?.abort();
      request = undefined;
      lost(aliveAt);
      const err = new Error(`no answer from the API server for ${idleTimeout} ms`);
      if (hung) hung(err);
      else failed(err, 'list or watch hung');
    };
    idleTimer = setTimeout(check, idleTimeout);
    idleTimer.unref?.();
    return () => {
      aliveAt = now();
    };
  }

  /** Hands a listed or watched object to the caller unless it has that version already. */
  function upsert(obj: T): void {
    const meta = obj.metadata ?? {};
    const namespace = meta.namespace || '';
    const objName = meta.name || '';
    const version = meta.resourceVersion || '';
    const had = held.version(namespace, objName);
    if (had !== undefined && version && had === version) return;
    if (own) {
      let names = own.get(namespace);
      if (!names) own.set(namespace, (names = new Map()));
      names.set(objName, version);
    }
    call(options.onUpsert, slim(obj));
  }

  function remove(namespace: string, objName: string, obj?: KubernetesObject): void {
    if (held.version(namespace, objName) === undefined) return;
    if (own) {
      const names = own.get(namespace)!;
      names.delete(objName);
      if (names.size === 0) own.delete(namespace);
    }
    call(options.onDelete, obj ?? { metadata: { namespace: namespace || undefined, name: objName } });
  }

  /**
   * Lists every page, applying each as it comes; then drops what the list no longer holds: what
   * was deleted while no watch was open goes here. False when the attempt was left behind meanwhile.
   */
  async function relist(mine: number, alive: () => void): Promise<boolean> {
    // Every page is served from the first one's snapshot: the cache is current as of this moment.
    const startedAt = now();
    const seen = new Map<string, Set<string>>();
    let page: ListPage = { limit: pageSize };
    let last: KubernetesListObject<T>;
    for (;;) {
      last = await options.list(page);
      if (stopped || mine !== attempt) return false;
      alive();
      for (const item of last.items ?? []) {
        const namespace = item.metadata?.namespace || '';
        let names = seen.get(namespace);
        if (!names) seen.set(namespace, (names = new Set()));
        names.add(item.metadata?.name || '');
        upsert(item);
      }
      const next = last.metadata?.continue;
      if (!next) break;
      page = { limit: pageSize, continue: next };
    }
    sweep(seen);
    resourceVersion = last.metadata?.resourceVersion || '';
    lastListAt = now();
    currentAsOf = Math.max(currentAsOf, startedAt);
    syncedBy = 'list';
    return true;
  }

  /** Drops what a full read (list or stream) did not bring: what was deleted while no watch was open. */
  function sweep(seen: Map<string, Set<string>>): void {
    const gone = [...held.names()].filter(([namespace, objName]) => !seen.get(namespace)?.has(objName));
    for (const [namespace, objName] of gone) remove(namespace, objName);
  }

  function onEvent(type: string, obj: T & { code?: number; message?: string }): WatchError | undefined {
    switch (type) {
      case 'ADDED':
      case 'MODIFIED':
        upsert(obj);
        break;
      case 'DELETED':
        remove(obj.metadata?.namespace || '', obj.metadata?.name || '', obj);
        break;
      case 'BOOKMARK':
        break;
      case 'ERROR':
        // A Status: 410 when resourceVersion is too old (relist), anything else a failed watch.
        return Object.assign(new Error(obj.message || `watch error ${obj.code ?? ''}`), { statusCode: obj.code });
      default:
        return undefined;
    }
    if (obj.metadata?.resourceVersion) resourceVersion = obj.metadata.resourceVersion;
    return undefined;
  }

  function failed(err: unknown, what: string): void {
    if (stopped) return;
    const retryInMs = scheduleRestart();
    logger.warn(`${what}; restarting`, { informer: name, error: describe(err), retryInMs });
  }

  /** Runs again after the (jittered) backoff, and doubles it; returns the delay. */
  function scheduleRestart(): number | undefined {
    if (restartTimer || stopped) return undefined;
    const delay = retryDelay(backoff);
    backoff = Math.min(backoff * 2, maxBackoff);
    restartTimer = setTimeout(() => {
      restartTimer = undefined;
      void run();
    }, delay);
    restartTimer.unref?.();
    return delay;
  }

  /**
   * Reads the whole state as one watch stream (see the header), applying each object as it comes.
   * At the end bookmark it drops what the stream did not bring, closes the stream and lets `run`
   * open the watch from the bookmark's resourceVersion; until then nothing counts as synced. A
   * stream the server does not offer makes this reflector list from then on.
   */
  async function stream(mine: number): Promise<void> {
    const startedAt = now();
    // The names streamed, to drop the others at the end; none to drop (nor to track) on a first read.
    const seen = holdsAny(held) ? new Map<string, Set<string>>() : undefined;
    const see = (obj: KubernetesObject, present: boolean) => {
      if (!seen) return;
      const namespace = obj.metadata?.namespace || '';
      let names = seen.get(namespace);
      if (!names) seen.set(namespace, (names = new Set()));
      if (present) names.add(obj.metadata?.name || '');
      else names.delete(obj.metadata?.name || '');
    };
    /** Leaves this attempt behind (its late events and end are ignored); false if it already was. */
    const leave = (): boolean => {
      if (mine !== attempt) return false;
      attempt++;
      const open = request;
      request = undefined;
      open?.abort();
      return true;
    };
    const fallBack = (reason: string, error?: unknown) => {
      streams = false;
      logger.warn('the API server does not stream the initial state (watch-list); listing in pages from now on', {
        informer: name,
        reason,
        ...(error === undefined ? {} : { error: describe(error) }),
      });
      if (!stopped) void run();
    };
    const gone = () => {
      // A fresh read's resourceVersion expiring at once would make a busy loop: back off then.
      if (now() - lastListAt < 1_000) scheduleRestart();
      else void run();
    };
    // A stream that stalls before its end bookmark is torn down (the guard left the attempt behind).
    const alive = guard(mine, (err) => fallBack('no end bookmark: the stream went silent', err));

    const onEvent = (type: string, obj: T & { code?: number; message?: string }) => {
      if (mine !== attempt || stopped) return;
      alive();
      switch (type) {
        case 'ADDED':
        case 'MODIFIED':
          see(obj, true);
          upsert(obj);
          return;
        case 'DELETED':
          see(obj, false);
          remove(obj.metadata?.namespace || '', obj.metadata?.name || '', obj);
          return;
        case 'BOOKMARK': {
          const version = obj.metadata?.resourceVersion || '';
          leave();
          // A plain bookmark first: the server ignored sendInitialEvents (and streams no end).
          if (obj.metadata?.annotations?.[INITIAL_EVENTS_END] !== 'true' || !version) {
            fallBack('a bookmark without the initial-events-end annotation');
            return;
          }
          if (seen) sweep(seen);
          resourceVersion = version;
          lastListAt = now();
          currentAsOf = Math.max(currentAsOf, startedAt); // a consistent read as of the stream's start
          syncedBy = 'stream';
          void run(); // the watch from the bookmark's resourceVersion, as after a list
          return;
        }
        case 'ERROR':
          leave();
          if (obj.code === 410) gone();
          else fallBack(`an ERROR event before the end bookmark (${obj.code ?? 'no code'})`, obj);
          return;
        default:
          return;
      }
    };
    const ended = (err: unknown) => {
      if (!leave() || stopped) return;
      const status = statusOf(err);
      if (err === undefined || err === null) fallBack('the server ended the stream before its end bookmark');
      else if (status === 410) gone();
      else if (status !== undefined && status !== 401 && status !== 403 && status !== 429 && status < 500)
        fallBack(`the stream was refused with HTTP ${status}`, err); // 400, 422: WatchList off, or an older server
      else failed(err, 'stream failed'); // the connection, or the server: the stream is tried again
    };

    const params: Record<string, string> = {
      sendInitialEvents: 'true',
      resourceVersionMatch: 'NotOlderThan',
      allowWatchBookmarks: 'true',
      timeoutSeconds: String(Math.max(watchTimeoutSeconds, STREAM_TIMEOUT_SECONDS)),
    };
    if (options.labelSelector !== undefined) params.labelSelector = options.labelSelector;
    try {
      const handle = await options.client.watch(
        options.path,
        params,
        (type, obj) => onEvent(type, obj as T & { code?: number; message?: string }),
        ended,
      );
      // It resolves once the headers are in; on an error it has called `ended`.
      if (mine !== attempt || stopped) {
        handle.abort();
        return;
      }
      request = handle;
      alive();
    } catch (err) {
      if (!leave()) return;
      failed(err, 'stream failed');
    }
  }

  /**
   * Reads the whole state (a stream, or a list) if there is no resourceVersion to resume from,
   * then opens the watch. `continuing`: it resumes a watch that was following until the server
   * closed it, so it follows from the start.
   */
  async function run(continuing = false): Promise<void> {
    if (stopped) return;
    const mine = ++attempt;
    if (!resourceVersion && streams) return stream(mine);
    const alive = guard(mine);
    let watchError: WatchError | undefined;
    let openedAt = 0;
    let events = 0;
    const ended = (err: unknown) => {
      if (mine !== attempt) return;
      attempt++;
      request = undefined;
      const wasFollowing = following(now());
      lost();
      if (stopped) return;
      const cause = (err as WatchError | null) ?? watchError;
      if (cause && statusOf(cause) === 410) {
        resourceVersion = '';
        // A fresh list's resourceVersion expiring at once would make a busy loop: back off then.
        if (now() - lastListAt < 1_000) scheduleRestart();
        else void run();
      } else if (cause) {
        failed(cause, 'watch failed');
      } else if (openedAt && events === 0 && now() - openedAt < 1_000) {
        failed(new Error('the server ended the watch at once'), 'watch ended'); // no busy loop either
      } else {
        void run(wasFollowing); // the server closed the watch (its timeout): resume from the last resourceVersion at once
      }
    };
    try {
      if (!resourceVersion && !(await relist(mine, alive))) return;
      if (stopped || mine !== attempt) return;
      const params: Record<string, string> = {
        resourceVersion,
        allowWatchBookmarks: 'true',
        timeoutSeconds: String(watchTimeoutSeconds),
      };
      if (options.labelSelector !== undefined) params.labelSelector = options.labelSelector;
      const controller = await options.client.watch(
        options.path,
        params,
        (type, obj) => {
          if (mine !== attempt || stopped) return;
          events++;
          alive();
          if (watching && type !== 'ERROR') watching.delivered = true;
          watchError = onEvent(type, obj as T & { code?: number; message?: string }) ?? watchError;
        },
        ended,
      );
      // The watch resolves once the response headers are in; on an error it has called `ended`.
      if (mine !== attempt || stopped) {
        controller.abort(); // ended, hung or stopped meanwhile
        return;
      }
      request = controller;
    } catch (err) {
      if (mine !== attempt) return; // left behind (hang guard, stop): whoever did that restarts it
      attempt++;
      lost();
      failed(err, listed ? 'relist failed' : 'list failed');
      return;
    }
    // The watch is open: following once it delivers (or no 410 came within a second).
    alive();
    openedAt = now();
    const wasStale = listed && staleReason() !== undefined;
    watching = { since: openedAt, delivered: continuing };
    backoff = minBackoff;
    if (!listed) {
      listed = true;
      logger.info('cache synced', { informer: name, by: syncedBy });
      resolveSynced();
    } else if (wasStale) {
      logger.info('watching again after the cache was stale', { informer: name });
      // e.g. the reconciler skipped its passes while stale (a resumed watch may take CONFIRM_MS more)
      changed();
      if (staleReason() !== undefined) setTimeout(changed, CONFIRM_MS).unref?.();
    }
  }
  void run();

  return {
    name,
    isSynced: () => staleReason() === undefined,
    staleReason,
    lagSeconds: () => {
      if (!listed) return undefined;
      const at = now();
      return following(at) ? 0 : Math.max(0, at - currentAsOf) / 1000;
    },
    synced: () => syncedPromise,
    syncedBy: () => syncedBy,
    async stop() {
      stopped = true;
      attempt++;
      if (restartTimer) clearTimeout(restartTimer);
      if (idleTimer) clearTimeout(idleTimer);
      rejectSynced(new Error(`informer ${name} stopped`));
      request?.abort();
      request = undefined;
    },
  };
}

/** A reflector's own record of what it gave (without the caller's `held`): namespace → name → resourceVersion. */
function ownRecord(own: Map<string, Map<string, string>>): Held {
  return {
    version: (namespace, name) => own.get(namespace)?.get(name),
    *names() {
      for (const [namespace, names] of own) for (const name of names.keys()) yield [namespace, name] as const;
    },
  };
}

function holdsAny(held: Held): boolean {
  for (const _ of held.names()) return true;
  return false;
}

/** A delay between half of `backoff` and all of it: replicas that lost the server together do not retry in step. */
export function retryDelay(backoff: number, random: () => number = Math.random): number {
  return Math.round(backoff / 2 + (backoff / 2) * random());
}

/** Monotonic milliseconds: a step of the wall clock must not make a stale cache look fresh. */
const now = () => performance.now();

/** How long a resumed watch must stay open without a 410 to count as following (see the header). */
const CONFIRM_MS = 1_000;

/** Asked of the server for the initial stream, which we end at its end bookmark: long enough for any collection. */
const STREAM_TIMEOUT_SECONDS = 300;

/** The annotation of the bookmark that ends a stream's initial events (metav1.InitialEventsAnnotationKey). */
const INITIAL_EVENTS_END = 'k8s.io/initial-events-end';

type WatchError = Error & { statusCode?: number };

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/**
 * Drops, in place, what no reader of the caches needs and what costs the most memory per object:
 * `metadata.managedFields` (about 1 KB of a ~1.5 KB AccessRequest) and kubectl's copy of the
 * whole object in the last-applied-configuration annotation.
 */
export function slim<T extends KubernetesObject>(obj: T): T {
  const metadata = obj?.metadata;
  if (!metadata) return obj;
  if ('managedFields' in metadata) delete metadata.managedFields;
  const annotations = metadata.annotations;
  if (annotations && LAST_APPLIED in annotations) {
    delete annotations[LAST_APPLIED];
    if (Object.keys(annotations).length === 0) delete metadata.annotations;
  }
  return obj;
}

function describe(err: unknown): string {
  if (err instanceof Error) return err.message.split('\n')[0] ?? err.name;
  if (err && typeof err === 'object' && 'message' in err) return String((err as { message: unknown }).message);
  return String(err);
}
