// Fallback load generator when h2load is missing: keep-alive TLS over HTTP/1.1 (node:https with a
// keep-alive agent) or HTTP/2 (one node:http2 session per client). Prints one JSON LoadResult.
// It spends more CPU per request than h2load, so on a saturated run it can be the bottleneck:
// bench/run.ts labels every row measured with it.
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import https from 'node:https';
import { parseArgs } from 'node:util';
import { latencySummary } from './stats.ts';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    'body-file': { type: 'string' },
    proto: { type: 'string', default: 'h1' },
    clients: { type: 'string', default: '8' },
    streams: { type: 'string', default: '1' },
    duration: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    rps: { type: 'string' },
    requests: { type: 'string' },
    header: { type: 'string', multiple: true },
  },
});

const url = new URL(values.url!);
const body = readFileSync(values['body-file']!);
const headers: Record<string, string> = { 'content-type': 'application/json' };
for (const line of values.header ?? []) {
  const at = line.indexOf(':');
  headers[line.slice(0, at).trim().toLowerCase()] = line.slice(at + 1).trim();
}
const clients = Number(values.clients);
const streams = values.proto === 'h2' ? Number(values.streams) : 1;
const interval = values.rps ? 1000 / Number(values.rps) : 0;
const totalRequests = values.requests ? Number(values.requests) : undefined;
const warmupMs = totalRequests === undefined ? Number(values.warmup) * 1000 : 0;
const durationMs = totalRequests === undefined ? Number(values.duration) * 1000 : Number.POSITIVE_INFINITY;

type Send = () => Promise<number>;

function h1Sender(): Send {
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1, rejectUnauthorized: false });
  return () =>
    new Promise((resolve, reject) => {
      const req = https.request(
        url,
        { method: 'POST', agent, headers: { ...headers, 'content-length': body.length } },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
}

function h2Sender(): Send {
  const session = http2.connect(url.origin, { rejectUnauthorized: false });
  session.on('error', () => {});
  return () =>
    new Promise((resolve, reject) => {
      const stream = session.request({ ':method': 'POST', ':path': url.pathname + url.search, ...headers });
      let status = 0;
      stream.on('response', (h) => (status = Number(h[':status'])));
      stream.on('data', () => {});
      stream.on('end', () => resolve(status));
      stream.on('error', reject);
      stream.end(body);
    });
}

const started = performance.now();
const measureFrom = started + warmupMs;
const stopAt = measureFrom + durationMs;
const micros: number[] = [];
const statuses: Record<number, number> = {};
let failures = 0;
let issued = 0;

async function loop(send: Send, offset: number): Promise<void> {
  let nextAt = performance.now() + offset;
  for (;;) {
    if (totalRequests !== undefined && issued >= totalRequests) return;
    if (performance.now() >= stopAt) return;
    if (interval) {
      const wait = nextAt - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      nextAt += interval;
    }
    issued++;
    const t0 = performance.now();
    try {
      const status = await send();
      if (t0 >= measureFrom) {
        micros.push((performance.now() - t0) * 1000);
        statuses[status] = (statuses[status] ?? 0) + 1;
      }
    } catch {
      if (t0 >= measureFrom) failures++;
    }
  }
}

const loops: Promise<void>[] = [];
for (let c = 0; c < clients; c++) {
  const send = values.proto === 'h2' ? h2Sender() : h1Sender();
  for (let s = 0; s < streams; s++)
    loops.push(loop(send, interval ? (interval * (c * streams + s)) / (clients * streams) : 0));
}
await Promise.all(loops);
const elapsedS = (performance.now() - Math.max(measureFrom, started)) / 1000;
process.stdout.write(
  `${JSON.stringify({ rps: micros.length / elapsedS, ...latencySummary(micros), statuses, failures })}\n`,
);
process.exit(0);
