// The `baseline` row: a bare Node TLS server that reads the same AdmissionReview, parses it, and
// answers a fixed verdict with the uid echoed. No framework, no validation, no lookup, no logs:
// the limit of Node's TLS and HTTP on one core. `--proto h1` is node:https (HTTP/1.1 keep-alive),
// `--proto h2` node:http2 (HTTP/2, HTTP/1.1 allowed), what the kube-apiserver speaks to webhooks.
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    proto: { type: 'string', default: 'h1' },
    port: { type: 'string' },
    'cert-file': { type: 'string' },
    'key-file': { type: 'string' },
  },
});

const tls = { cert: readFileSync(values['cert-file']!), key: readFileSync(values['key-file']!) };

function handle(
  req: IncomingMessage | http2.Http2ServerRequest,
  res: ServerResponse | http2.Http2ServerResponse,
): void {
  if (req.method !== 'POST') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok');
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    let uid = '';
    try {
      uid = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { request: { uid: string } }).request.uid;
    } catch {
      res.writeHead(400);
      res.end();
      return;
    }
    const body = JSON.stringify({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid, allowed: true },
    });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
}

const server =
  values.proto === 'h2'
    ? http2.createSecureServer({ ...tls, allowHTTP1: true }, handle)
    : https.createServer({ ...tls }, handle);
if (server instanceof https.Server) server.keepAliveTimeout = 65_000;
server.listen(Number(values.port), '127.0.0.1');
const stop = () => server.close(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
