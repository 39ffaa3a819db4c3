// Heap cost per cached object, the evidence behind the RSS figures of BENCHMARKS.md:
//   node --expose-gc --import tsx bench/memory.ts [N]
// Objects shaped as the kube-apiserver lists them (uid, resourceVersion, managedFields of a
// server-side create), held four ways: as parsed JSON (what @kubernetes/client-node's ListWatch
// cache held before adapters/kubernetes/informer.ts got its own reflector), as valibot-parsed
// copies beside it (what adapters/kubernetes/store.ts indexed on top), as parsed JSON slimmed like
// informer.ts's `slim` (no managedFields), as valibot-parsed copies of slimmed objects with
// nothing else holding the JSON (one copy per object, what the server kept until the compact
// cache), and compacted (adapters/kubernetes/compact.ts): what the server keeps now.
import * as v from 'valibot';
import { AccessGrant, AccessRequest } from '../functions/schemas.ts';
import { slim } from '../adapters/kubernetes/informer.ts';
import { compact } from '../adapters/kubernetes/compact.ts';
import { accessGrant, accessRequest } from './objects.ts';

type Obj = { kind: string; metadata: Record<string, unknown> };

const N = Number(process.argv[2] ?? 20_000);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  process.stderr.write('run with node --expose-gc --import tsx bench/memory.ts\n');
  process.exit(2);
}

function managedFields(kind: string): object[] {
  const fieldsV1 =
    kind === 'AccessRequest'
      ? {
          'f:metadata': { 'f:labels': { '.': {}, 'f:bench.kube-request-access.io/filler': {} } },
          'f:spec': {
            '.': {},
            'f:execOptions': { '.': {}, 'f:command': {}, 'f:container': {}, 'f:stderr': {}, 'f:stdout': {} },
            'f:forObject': {
              '.': {},
              'f:name': {},
              'f:namespace': {},
              'f:resource': { '.': {}, 'f:group': {}, 'f:resource': {}, 'f:version': {} },
              'f:subResource': {},
            },
            'f:userInfo': { '.': {}, 'f:username': {} },
            'f:validFor': {},
          },
        }
      : { 'f:spec': { '.': {}, 'f:grantFor': {}, 'f:grantedBy': { '.': {}, 'f:username': {} } }, 'f:status': {} };
  return [
    {
      manager: 'node',
      operation: 'Update',
      apiVersion: 'kube-request-access.io/v1',
      time: '2026-11-28T21:00:00Z',
      fieldsType: 'FieldsV1',
      fieldsV1,
    },
  ];
}

function asListed(object: object, i: number): Obj {
  const o = object as Obj;
  return {
    ...o,
    metadata: {
      ...o.metadata,
      uid: `6f1c6a57-4a0e-4f7e-9b51-${String(i).padStart(12, '0')}`,
      resourceVersion: String(100_000 + i),
      generation: 1,
      creationTimestamp: '2026-11-28T21:00:00Z',
      managedFields: managedFields(o.kind),
    },
  };
}

const heap = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

const json: string[] = [];
for (let i = 0; i < N; i++)
  json.push(
    JSON.stringify(asListed(accessRequest(i), i)),
    JSON.stringify(asListed(accessGrant(i, `6f1c6a57-4a0e-4f7e-9b51-${String(i).padStart(12, '0')}`), i)),
  );
const h0 = heap();
const raw = json.map((text) => JSON.parse(text) as Obj);
const h1 = heap();
const parsed = raw.map((o) => (o.kind === 'AccessRequest' ? v.parse(AccessRequest, o) : v.parse(AccessGrant, o)));
const h2 = heap();
const stripped = json.map((text) => slim(JSON.parse(text) as Obj));
const h3 = heap();
const single = json.map((text) => {
  const o = slim(JSON.parse(text) as Obj);
  return o.kind === 'AccessRequest' ? v.parse(AccessRequest, o) : v.parse(AccessGrant, o);
});
const h4 = heap();
const compacted = json.map((text) => {
  const o = slim(JSON.parse(text) as Obj);
  return o.kind === 'AccessRequest'
    ? compact(v.parse(AccessRequest, o), 'AccessRequest')
    : compact(v.parse(AccessGrant, o), 'AccessGrant');
});
const h5 = heap();

const per = (bytes: number) =>
  `${Math.round(bytes / (2 * N))} B per object, ${Math.round(((bytes / 2 ** 20) * 100_000) / N)} MB for 100,000 requests + 100,000 grants`;
process.stdout.write(
  [
    `N = ${N} AccessRequests + ${N} AccessGrants; JSON ${Math.round(json.reduce((s, t) => s + t.length, 0) / json.length)} bytes per object on average`,
    `parsed JSON (the client-node informer cache):  ${per(h1 - h0)}`,
    `valibot-parsed copies (our IndexedStore):       ${per(h2 - h1)}`,
    `parsed JSON, slimmed (no managedFields):        ${per(h3 - h2)}`,
    `valibot-parsed slimmed objects, the only copy:  ${per(h4 - h3)}`,
    `compacted (adapters/kubernetes/compact.ts):     ${per(h5 - h4)}`,
    '',
  ].join('\n'),
);
void [raw, parsed, stripped, single, compacted];
