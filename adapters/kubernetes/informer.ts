// List + watch, our own reflector on @kubernetes/client-node's `Watch`: the objects live only in
// the caller's store (through onUpsert/onDelete); the reflector keeps nothing of them but each
// one's name and resourceVersion (strings the stored objects share), enough to skip unchanged
// objects and to tell which ones a relist no longer returns. Like client-node's ListWatch it lists
// (in pages), then watches from the list's resourceVersion, resumes a watch the server closed from
// the last resourceVersion seen, and relists on 410 Gone; unlike it, after any other error it
// restarts with backoff (resuming, so no event is lost). Ready once the first list is applied and
// the watch is open.
import { Watch, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from '../ports.ts';

export interface Reflector {
  readonly name: string;
  isSynced(): boolean;
  /** Resolves once the initial list is in (or rejects when `stop` comes first). */
  synced(): Promise<void>;
  stop(): Promise<void>;
}

export interface ListPage {
  limit: number;
  continue?: string;
}

export function reflect<T extends KubernetesObject>(options: {
  name: string;
  kubeConfig: KubeConfig;
  /** The collection path, e.g. `/apis/kube-request-access.io/v1/accessrequests`. */
  path: string;
  /** One page of the collection: at most `limit` items, from `continue` on (absent: the first). */
  list: (page: ListPage) => Promise<KubernetesListObject<T>>;
  /** Items per list page (default 500): no single huge response is read and parsed at once. */
  pageSize?: number;
  labelSelector?: string;
  /** An object added or changed, slimmed (see `slim`); the caller's store is the only copy. */
  onUpsert: (obj: T) => void;
  /** An object deleted; after a relist that no longer returns it, only its namespace and name. */
  onDelete: (obj: KubernetesObject) => void;
  /** Called after every batch of events settles (coalesced), e.g. to trigger a reconcile. */
  onChange?: () => void;
  logger: Logger;
  minBackoffMs?: number;
  maxBackoffMs?: number;
}): Reflector {
  const { name, logger } = options;
  const minBackoff = options.minBackoffMs ?? 250;
  const maxBackoff = options.maxBackoffMs ?? 30_000;
  const pageSize = options.pageSize ?? 500;
  const watch = new Watch(options.kubeConfig);
  /** namespace ('' for cluster-scoped) → name → resourceVersion of what the caller was given. */
  const known = new Map<string, Map<string, string>>();
  let resourceVersion = '';
  let request: AbortController | undefined;
  /** Bumped whenever a watch is left behind; its late events and its end are then ignored. */
  let attempt = 0;
  let backoff = minBackoff;
  let stopped = false;
  let synced = false;
  let failedSinceStart = false;
  let restartTimer: NodeJS.Timeout | undefined;
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

  /** Hands a listed or watched object to the caller unless it has that version already. */
  function upsert(obj: T): void {
    const meta = obj.metadata ?? {};
    const namespace = meta.namespace || '';
    const objName = meta.name || '';
    let names = known.get(namespace);
    if (!names) known.set(namespace, (names = new Map()));
    const version = meta.resourceVersion || '';
    const had = names.get(objName);
    if (had !== undefined && version && had === version) return;
    names.set(objName, version);
    call(options.onUpsert, slim(obj));
  }

  function remove(namespace: string, objName: string, obj?: KubernetesObject): void {
    const names = known.get(namespace);
    if (!names?.delete(objName)) return;
    if (names.size === 0) known.delete(namespace);
    call(options.onDelete, obj ?? { metadata: { namespace: namespace || undefined, name: objName } });
  }

  /** Lists every page, applying each as it comes; then drops what the list no longer holds. */
  async function relist(): Promise<void> {
    const seen = new Map<string, Set<string>>();
    let page: ListPage = { limit: pageSize };
    let last: KubernetesListObject<T>;
    for (;;) {
      last = await options.list(page);
      if (stopped) return;
      for (const item of last.items ?? []) {
        const namespace = item.metadata?.namespace || '';
        let names = seen.get(namespace);
        if (!names) seen.set(namespace, (names = new Set()));
        names.add(item.metadata?.name || '');
        upsert(item);
      }
      // Typed lists (client-node's V1ListMeta) say `_continue`; custom objects come as plain JSON.
      const meta = last.metadata as { _continue?: string; continue?: string } | undefined;
      const next = meta?._continue || meta?.continue;
      if (!next) break;
      page = { limit: pageSize, continue: next };
    }
    for (const [namespace, names] of [...known]) {
      const still = seen.get(namespace);
      for (const objName of [...names.keys()]) if (!still?.has(objName)) remove(namespace, objName);
    }
    resourceVersion = last.metadata?.resourceVersion || '';
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
    failedSinceStart = true;
    if (stopped) return;
    logger.warn(`${what}; restarting`, { informer: name, error: describe(err), retryInMs: backoff });
    scheduleRestart();
  }

  function scheduleRestart(): void {
    if (restartTimer || stopped) return;
    const delay = backoff;
    backoff = Math.min(backoff * 2, maxBackoff);
    restartTimer = setTimeout(() => {
      restartTimer = undefined;
      void run();
    }, delay);
    restartTimer.unref?.();
  }

  /** Lists if there is no resourceVersion to resume from, then opens the watch. */
  async function run(): Promise<void> {
    if (stopped) return;
    const mine = ++attempt;
    failedSinceStart = false;
    let watchError: WatchError | undefined;
    const ended = (err: unknown) => {
      if (mine !== attempt) return;
      attempt++;
      request = undefined;
      if (stopped) return;
      const cause = (err as WatchError | null) ?? watchError;
      if (cause && statusOf(cause) === 410) {
        resourceVersion = '';
        void run();
      } else if (cause) {
        failed(cause, 'watch failed');
      } else {
        void run(); // the server closed the watch: resume from the last resourceVersion at once
      }
    };
    try {
      if (!resourceVersion) await relist();
      if (stopped || mine !== attempt) return;
      const params: Record<string, string> = { resourceVersion, allowWatchBookmarks: 'true' };
      if (options.labelSelector !== undefined) params.labelSelector = options.labelSelector;
      const controller = await watch.watch(
        options.path,
        params,
        (type: string, obj: T & { code?: number; message?: string }) => {
          if (mine !== attempt || stopped) return;
          watchError = onEvent(type, obj) ?? watchError;
        },
        ended,
      );
      if (mine !== attempt || stopped) {
        controller.abort(); // ended already, or stopped meanwhile
      } else {
        request = controller;
      }
    } catch (err) {
      if (mine === attempt) attempt++;
      failed(err, 'watch start failed');
      return;
    }
    if (failedSinceStart || stopped) return;
    backoff = minBackoff;
    if (!synced) {
      synced = true;
      logger.info('cache synced', { informer: name });
      resolveSynced();
    }
  }
  void run();

  return {
    name,
    isSynced: () => synced,
    synced: () => syncedPromise,
    async stop() {
      stopped = true;
      attempt++;
      if (restartTimer) clearTimeout(restartTimer);
      rejectSynced(new Error(`informer ${name} stopped`));
      request?.abort();
      request = undefined;
    },
  };
}

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

/** The HTTP status of a client-node ApiException (`code`) or a watch error (`statusCode`). */
export function statusOf(err: unknown): number | undefined {
  if (!err || typeof err !== 'object') return undefined;
  const e = err as { code?: unknown; statusCode?: unknown };
  if (typeof e.code === 'number') return e.code;
  if (typeof e.statusCode === 'number') return e.statusCode;
  return undefined;
}
