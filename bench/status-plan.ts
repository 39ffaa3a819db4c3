// What one pass of the status writer costs: N AccessRequests with their AccessGrants, each request's
// status at rest (bench/fake-api.ts listedRequest: nothing to write), planned the way
// adapters/kubernetes/index.ts plans it. Prints the time and the heap allocated by a pass.
//
//   node --expose-gc --max-semi-space-size=1024 --import tsx bench/status-plan.ts [N ...]
//
// The large semi-space keeps scavenges out of a pass, so the heap growth over it is what it
// allocated (a pass during which a GC ran is flagged: its figure is a lower bound).
import { PerformanceObserver } from 'node:perf_hooks';
import * as v from 'valibot';
import { IndexedStore } from '../adapters/kubernetes/store.ts';
import { AccessGrant, AccessRequest } from '../functions/schemas.ts';
import { planStatuses } from '../functions/status/index.ts';
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

function caches(n: number) {
  const requests = new IndexedStore<AccessRequest, never>({});
  const grants = new IndexedStore<AccessGrant, 'grantFor'>({ grantFor: (g) => [g.spec.grantFor] });
  for (let i = 0; i < n; i++) {
    requests.upsert(v.parse(AccessRequest, listedRequest(i)));
    grants.upsert(v.parse(AccessGrant, asListed(accessGrant(i, uid('AccessRequest', i)), i)));
  }
  return { requests, grants };
}

const show = (f: Figure) =>
  `${f.ms.toFixed(2).padStart(9)} ms ${f.allocatedMB.toFixed(2).padStart(8)} MB${f.collected ? ' (GC ran: lower bound)' : ''}`;

const sizes = process.argv.slice(2).map(Number).filter(Boolean);
for (const n of sizes.length ? sizes : [1_000, 10_000, 100_000]) {
  const { requests, grants } = caches(n);
  const runs = n >= 100_000 ? 5 : 11;
  const full = await measure(() => {
    const plan = planStatuses({
      requests: requests.values(),
      grants: grants.values(),
      policies: [],
      now: NOW,
      usernamePrefix: '',
    });
    if (plan.writes.length) throw new Error(`statuses not at rest: ${JSON.stringify(plan.writes[0])}`);
    return plan;
  }, runs);
  console.log(`N = ${String(n).padStart(7)}  full planStatuses pass: ${show(full)}`);
}
