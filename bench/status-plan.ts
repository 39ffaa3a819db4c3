// What one pass of the status writer costs: N AccessRequests with their AccessGrants, each request's
// status at rest (bench/fake-api.ts listedRequest: nothing to write), planned as a full
// planStatuses pass, as the writer's full pass (StatusSchedule over the caches, in chunks of 1,000
// requests: the whole and one chunk), and as the
// writer's pass after one change (a grant for one request, which plans that one request).
// Prints the time and the heap allocated by a pass.
//
//   node --expose-gc --max-semi-space-size=1024 --import tsx bench/status-plan.ts [N ...]
//
// The large semi-space keeps scavenges out of a pass, so the heap growth over it is what it
// allocated (a pass during which a GC ran is flagged: its figure is a lower bound).
import { PerformanceObserver } from 'node:perf_hooks';
import * as v from 'valibot';
import { ObservedStore } from '../adapters/kubernetes/observed.ts';
import { AccessGrant, AccessRequest } from '../functions/schemas.ts';
import { planStatuses } from '../functions/status/index.ts';
import { StatusSchedule } from '../adapters/kubernetes/status-schedule.ts';
import { asListed, listedRequest, uid } from './fake-api.ts';
import { accessGrant } from './objects.ts';

/** Every pass plans at one moment, right after fake-api.ts's START: the statuses are at rest then. */
const NOW = new Date();

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

/** When each collection started (performance.now()), heard a tick after it ran. */
const collections: number[] = [];
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) collections.push(entry.startTime);
}).observe({ entryTypes: ['gc'] });

interface Figure {
  ms: number;
  allocatedMB: number;
  collected: boolean;
}

/** The median time of `runs` calls of `pass`, and the heap the median one allocated. */
async function measure(pass: () => unknown, runs: number): Promise<Figure> {
  const figures: Figure[] = [];
  for (let i = 0; i < runs; i++) {
    gc!();
    const before = process.memoryUsage().heapUsed;
    const start = performance.now();
    const kept = pass();
    const ms = performance.now() - start;
    const allocatedMB = (process.memoryUsage().heapUsed - before) / 1e6;
    // The observer hears of a collection a tick later.
    await new Promise((resolve) => setImmediate(resolve));
    figures.push({ ms, allocatedMB, collected: collections.some((at) => at >= start) });
    void kept;
  }
  figures.sort((a, b) => a.ms - b.ms);
  return figures[Math.floor(figures.length / 2)]!;
}

/** The caches as adapters/kubernetes/caches.ts has them, feeding the status writer's schedule. */
function caches(n: number) {
  const schedule = new StatusSchedule(Number.POSITIVE_INFINITY);
  const requests = new ObservedStore<AccessRequest, never>({}, (before, after) =>
    schedule.note({ kind: 'AccessRequest', before, after }),
  );
  const grants = new ObservedStore<AccessGrant, 'grantFor'>({ grantFor: (g) => [g.spec.grantFor] }, (before, after) =>
    schedule.note({ kind: 'AccessGrant', before, after }),
  );
  for (let i = 0; i < n; i++) {
    requests.upsert(v.parse(AccessRequest, listedRequest(i)));
    grants.upsert(v.parse(AccessGrant, asListed(accessGrant(i, uid('AccessRequest', i)), i)));
  }
  const pass = () =>
    schedule.plan({
      requests,
      grantsOf: (namespace, name) => grants.byIndex('grantFor', namespace, name),
      policies: [],
      now: NOW,
      usernamePrefix: '',
    });
  return { requests, grants, schedule, pass };
}

const show = (f: Figure) =>
  `${f.ms.toFixed(2).padStart(9)} ms ${f.allocatedMB.toFixed(2).padStart(8)} MB` +
  (f.collected ? ' (GC ran: lower bound)' : '');

const sizes = process.argv.slice(2).map(Number).filter(Boolean);
for (const n of sizes.length ? sizes : [1_000, 10_000, 100_000]) {
  const { requests, grants, schedule, pass } = caches(n);
  const runs = n >= 100_000 ? 5 : 11;
  const atRest = <T extends { writes: readonly unknown[] }>(plan: T): T => {
    if (plan.writes.length) throw new Error(`statuses not at rest: ${JSON.stringify(plan.writes[0])}`);
    return plan;
  };
  const full = await measure(
    () =>
      atRest(
        planStatuses({
          requests: requests.values(),
          grants: grants.values(),
          policies: [],
          now: NOW,
          usernamePrefix: '',
        }),
      ),
    runs,
  );
  console.log(`N = ${String(n).padStart(7)}  full planStatuses pass:      ${show(full)}`);
  // The writer's full pass runs in chunks of 1,000 requests, each a pass of its own (the event loop
  // answers reviews in between): the whole of it, and one chunk (the longest the loop is held).
  const sweep = () => {
    schedule.planAll();
    let plan = atRest(pass());
    while (schedule.sweeping) plan = atRest(pass());
    return plan;
  };
  const writerFull = await measure(sweep, runs);
  console.log(`N = ${String(n).padStart(7)}  writer's full pass:          ${show(writerFull)}`);
  const chunk = await measure(() => {
    schedule.planAll();
    return atRest(pass());
  }, runs);
  console.log(`N = ${String(n).padStart(7)}  one chunk of it:             ${show(chunk)}`);
  sweep();
  // One change: a second grant for request 1 (the cache's upsert notes it), then the pass.
  const second = v.parse(AccessGrant, asListed(accessGrant(1, uid('AccessRequest', 1)), 1));
  second.metadata.name = 'r-000001-again';
  const one = await measure(() => {
    grants.upsert(second);
    const plan = pass();
    if (plan.writes.length !== 0) throw new Error('a second grant by the same approver changes nothing');
    return plan;
  }, runs);
  console.log(`N = ${String(n).padStart(7)}  writer's pass after a change: ${show(one)}`);
  const none = await measure(() => atRest(pass()), runs);
  console.log(`N = ${String(n).padStart(7)}  writer's pass, no change:     ${show(none)}`);
  // What the schedule keeps between passes: when each granted time-bound request's window ends.
  gc();
  gc();
  const before = process.memoryUsage().heapUsed;
  const kept = new StatusSchedule(Number.POSITIVE_INFINITY);
  const keptPass = () =>
    kept.plan({ requests, grantsOf: (ns, name) => grants.byIndex('grantFor', ns, name), now: NOW });
  let windows = keptPass();
  while (kept.sweeping) windows = keptPass();
  gc();
  gc();
  const retainedMB = (process.memoryUsage().heapUsed - before) / 1e6;
  console.log(
    `N = ${String(n).padStart(7)}  the schedule retains ${retainedMB.toFixed(2)} MB` +
      ` (next change ${windows.nextChangeAt?.toISOString()})`,
  );
  void kept;
}
