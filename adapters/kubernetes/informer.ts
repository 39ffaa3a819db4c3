// List + watch with @kubernetes/client-node's informer, made robust: the library relists on
// 410 Gone and resumes a watch the server closed, but after any other error it stops and only
// reports. We restart it with backoff; a restart resumes from the last resourceVersion (no event
// lost) and relists when that version is too old. Ready once the first list has been applied.
import {
  makeInformer,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
} from '@kubernetes/client-node';
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
  onUpsert: (obj: T) => void;
  onDelete: (obj: T) => void;
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
  // Paged, and slimmed before the library caches anything: its cache holds the very objects our
  // handlers get. The pages of one list are one consistent snapshot; the last one carries its
  // resourceVersion. An expired continue token fails the list (410), and the restart relists.
  const list = async (): Promise<KubernetesListObject<T>> => {
    const items: T[] = [];
    let page: ListPage = { limit: pageSize };
    for (;;) {
      const result = await options.list(page);
      for (const item of result.items ?? []) items.push(slim(item));
      // Typed lists (client-node's V1ListMeta) say `_continue`; custom objects come as plain JSON.
      const meta = result.metadata as { _continue?: string; continue?: string } | undefined;
      const next = meta?._continue || meta?.continue;
      if (!next) return { ...result, items };
      page = { limit: pageSize, continue: next };
    }
  };
  const informer = makeInformer<T>(options.kubeConfig, options.path, list, options.labelSelector);
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
  const guard = (fn: (obj: T) => void) => (obj: T) => {
    try {
      fn(slim(obj));
    } catch (err) {
      logger.error('informer handler failed', { informer: name, error: err });
    }
    changed();
  };
  informer.on('add', guard(options.onUpsert));
  informer.on('update', guard(options.onUpsert));
  informer.on('delete', guard(options.onDelete));
  informer.on('error', (err: unknown) => {
    failedSinceStart = true;
    if (stopped) return;
    logger.warn('watch failed; restarting', { informer: name, error: describe(err), retryInMs: backoff });
    scheduleRestart();
  });

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

  async function run(): Promise<void> {
    if (stopped) return;
    failedSinceStart = false;
    try {
      await informer.start();
    } catch (err) {
      failedSinceStart = true;
      logger.warn('watch start failed; restarting', { informer: name, error: describe(err) });
      scheduleRestart();
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
      if (restartTimer) clearTimeout(restartTimer);
      rejectSynced(new Error(`informer ${name} stopped`));
      await informer.stop();
    },
  };
}

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
