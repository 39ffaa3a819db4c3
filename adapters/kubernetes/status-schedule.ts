// Which requests the status writer must plan, so that a pass after one change costs one request,
// not every request of the cluster. A request's status (functions/status planRequests) depends on
// the request, the grants that name it (spec.grantFor, in its namespace), the AccessPolicies of its
// namespace, and the clock only where a window ends. So a pass plans the requests that a cache
// change concerns and those whose window ended, and every request (a full pass) at the start, on
// `fullIntervalMs` and when asked (after a failed write), spread over passes of `chunk` requests. What a pass writes is exactly what a full
// planStatuses would write at the same moment (tests/unit/kubernetes/status-schedule.test.ts).
// No I/O and no clock: the caches tell it what changed, each pass says when it runs. It keeps state
// between passes, so it lives here with the loop, not in functions/ (pure); the decisions are
// functions/status's.
import type { AccessRequest } from '../../functions/schemas.ts';
import { planRequests, type GrantsOf, type PlanInput, type StatusPlan } from '../../functions/status/index.ts';
import type { CacheChange } from './observed.ts';

/** The requests cache, as a pass reads it. */
export interface RequestsView {
  get(namespace: string, name: string): AccessRequest | undefined;
  inNamespace(namespace: string): Iterable<AccessRequest>;
  values(): Iterable<AccessRequest>;
}

interface Due {
  at: number;
  namespace: string;
  name: string;
}

export class StatusSchedule {
  readonly #fullIntervalMs: number;
  #full = true;
  #lastFullAt = Number.NEGATIVE_INFINITY;
  /** namespace → names of the requests a change concerns. */
  #dirty = new Map<string, Set<string>>();
  /** Namespaces whose every request a change concerns (a policy). */
  #dirtyNamespaces = new Set<string>();
  /** namespace → name → when the request's status changes by the clock (ms), as last planned. */
  readonly #dueAt = new Map<string, Map<string, number>>();
  /** A min-heap by `at` over #dueAt; an entry #dueAt no longer holds is stale and skipped. */
  #heap: Due[] = [];
  /** The requests a full pass still has to plan (a snapshot of the cache when it began), from #cursor. */
  #sweep: AccessRequest[] | undefined;
  #cursor = 0;
  readonly #chunk: number;

  /**
   * `fullIntervalMs`: a full pass at least this often, the safety net for anything missed.
   * `chunk`: how many requests one pass of a full pass plans. A full pass over 100,000 requests
   * takes seconds of CPU, and the webhook answers reviews on the same event loop: it is spread
   * over passes of `chunk` requests, each saying it is due again at once (`nextChangeAt` = now).
   */
  constructor(fullIntervalMs: number, chunk = 1_000) {
    this.#fullIntervalMs = fullIntervalMs;
    this.#chunk = Math.max(1, chunk);
  }

  /** Whether a full pass is under way: the next pass plans its next chunk. */
  get sweeping(): boolean {
    return this.#sweep !== undefined;
  }

  /** Notes which requests a cache change concerns. */
  note(change: CacheChange): void {
    if (this.#full) return;
    switch (change.kind) {
      case 'AccessRequest':
        for (const request of [change.before, change.after])
          if (request) this.#mark(request.metadata.namespace ?? '', request.metadata.name ?? '');
        return;
      case 'AccessGrant':
        for (const grant of [change.before, change.after])
          if (grant) this.#mark(grant.metadata.namespace ?? '', grant.spec.grantFor);
        return;
      case 'AccessPolicy':
        for (const policy of [change.before, change.after])
          if (policy) this.#dirtyNamespaces.add(policy.metadata.namespace ?? '');
        return;
    }
  }

  /** The next pass plans every request (after a failed write: what failed is written again). */
  planAll(): void {
    this.#full = true;
    this.#dirty.clear();
    this.#dirtyNamespaces.clear();
  }

  /**
   * One pass at `now`: the status writes due and when the next status changes by the clock. Takes
   * what is noted so far; what is noted while the writes run belongs to the next pass.
   */
  plan(input: PlanInput & { requests: RequestsView; grantsOf: GrantsOf }): StatusPlan {
    const now = input.now.getTime();
    if (this.#full || now - this.#lastFullAt >= this.#fullIntervalMs) this.#startSweep(input, now);
    const dirty = this.#dirty;
    const namespaces = this.#dirtyNamespaces;
    this.#dirty = new Map();
    this.#dirtyNamespaces = new Set();
    while (this.#heap.length && this.#heap[0]!.at <= now) {
      const due = this.#pop();
      if (this.#dueAt.get(due.namespace)?.get(due.name) !== due.at) continue;
      this.#forget(due.namespace, due.name);
      if (!namespaces.has(due.namespace)) add(dirty, due.namespace, due.name);
    }
    const requests: AccessRequest[] = [];
    for (const namespace of namespaces) {
      // Planned anew, each of them: what is due in it is what this pass records (not a deleted request's).
      this.#dueAt.delete(namespace);
      for (const request of input.requests.inNamespace(namespace)) requests.push(request);
    }
    for (const [namespace, names] of dirty) {
      if (namespaces.has(namespace)) continue;
      for (const name of names) {
        const request = input.requests.get(namespace, name);
        if (request) requests.push(request);
        else this.#forget(namespace, name);
      }
    }
    if (this.#sweep) {
      // The full pass's next chunk, as the cache holds each request now (gone: nothing to plan).
      const planned = new Set(requests);
      const end = Math.min(this.#sweep.length, this.#cursor + this.#chunk);
      for (; this.#cursor < end; this.#cursor++) {
        const { namespace = '', name = '' } = this.#sweep[this.#cursor]!.metadata;
        const request = input.requests.get(namespace, name);
        if (request && !planned.has(request)) requests.push(request);
      }
      if (this.#cursor >= this.#sweep.length) this.#sweep = undefined;
    }
    const plan = planRequests({ ...input, requests, onChangesAt: (request, at) => this.#record(request, at) });
    if (this.#sweep) return { writes: plan.writes, nextChangeAt: input.now };
    const next = this.#next();
    return next === undefined ? { writes: plan.writes } : { writes: plan.writes, nextChangeAt: new Date(next) };
  }

  /** A full pass begins: every request is planned anew, chunk by chunk, from a snapshot of the cache. */
  #startSweep(input: { requests: RequestsView }, now: number): void {
    this.#full = false;
    this.#lastFullAt = now;
    this.#dirty.clear();
    this.#dirtyNamespaces.clear();
    this.#dueAt.clear();
    this.#heap = [];
    this.#sweep = [...input.requests.values()];
    this.#cursor = 0;
  }

  #mark(namespace: string, name: string): void {
    if (!this.#dirtyNamespaces.has(namespace)) add(this.#dirty, namespace, name);
  }

  #record(request: AccessRequest, at: Date | undefined): void {
    const namespace = request.metadata.namespace ?? '';
    const name = request.metadata.name ?? '';
    if (!at) return this.#forget(namespace, name);
    const ms = at.getTime();
    let names = this.#dueAt.get(namespace);
    if (names?.get(name) === ms) return;
    if (!names) this.#dueAt.set(namespace, (names = new Map()));
    names.set(name, ms);
    this.#push({ at: ms, namespace, name });
  }

  #forget(namespace: string, name: string): void {
    const names = this.#dueAt.get(namespace);
    if (!names?.delete(name)) return;
    if (names.size === 0) this.#dueAt.delete(namespace);
  }

  /** The earliest time a status changes by the clock, dropping stale heap entries on the way. */
  #next(): number | undefined {
    while (this.#heap.length) {
      const top = this.#heap[0]!;
      if (this.#dueAt.get(top.namespace)?.get(top.name) === top.at) return top.at;
      this.#pop();
    }
    return undefined;
  }

  #push(entry: Due): void {
    const heap = this.#heap;
    heap.push(entry);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent]!.at <= entry.at) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = entry;
  }

  #pop(): Due {
    const heap = this.#heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length === 0) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && heap[right]!.at < heap[left]!.at ? right : left;
      if (heap[child]!.at >= last.at) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = last;
    return top;
  }
}

function add(map: Map<string, Set<string>>, namespace: string, name: string): void {
  let names = map.get(namespace);
  if (!names) map.set(namespace, (names = new Set()));
  names.add(name);
}
