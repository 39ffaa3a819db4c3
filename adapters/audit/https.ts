// node:https Transport for the extension webhooks: the peer certificate must chain to the
// configured CA bundle and nothing else (`ca` replaces Node's built-in root store), the whole
// exchange has one deadline, and answers are size-capped.
import { readFileSync } from 'node:fs';
import https from 'node:https';
import tls from 'node:tls';
import {
  DEFAULT_TIMEOUT_MS,
  MAX_RESPONSE_BYTES,
  describeError,
  requireHttpsUrl,
  type Transport,
} from './transport.ts';

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/;

/**
 * Reads a PEM CA bundle (`--audit-webhook-ca-bundle`, `--extended-validation-webhook-ca-bundle`).
 * Errors are one line naming the file, fit to print instead of a stack trace.
 */
export function readCaBundle(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as { code?: string }).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : describeError(error);
    throw new Error(`cannot read CA bundle ${file}: ${why}`);
  }
  if (!PEM_CERTIFICATE.test(text)) {
    throw new Error(`CA bundle ${file} contains no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  }
  return text;
}

/** Throws a one-line error unless `caBundle` is PEM that OpenSSL accepts as trust anchors. */
export function checkCaBundle(caBundle: string, owner: string): void {
  if (!PEM_CERTIFICATE.test(caBundle)) {
    throw new Error(`${owner}: CA bundle contains no PEM certificate`);
  }
  try {
    tls.createSecureContext({ ca: caBundle });
  } catch (error) {
    throw new Error(`${owner}: CA bundle is not valid PEM: ${describeError(error)}`);
  }
}

/** A webhook over node:https, checked first: an https: URL and a usable CA bundle, or a one-line error naming `owner`. */
export function httpsEndpoint(options: { url: string; caBundle: string; timeoutMs?: number }, owner: string): { url: string; transport: Transport } {
  requireHttpsUrl(options.url, owner);
  checkCaBundle(options.caBundle, owner);
  return { url: options.url, transport: httpsTransport({ caBundle: options.caBundle, ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}) }) };
}

export function httpsTransport(options: { caBundle: string; timeoutMs?: number }): Transport {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  // One agent per webhook: keep-alive across calls, and its own pinned trust store.
  const agent = new https.Agent({
    ca: options.caBundle,
    rejectUnauthorized: true,
    keepAlive: true,
    maxSockets: 16,
  });
  return (request) =>
    new Promise((resolve, reject) => {
      let settled = false;
      const fail = (error: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        req.destroy();
        reject(error);
      };
      const req = https.request(
        request.url,
        {
          method: 'POST',
          agent,
          ca: options.caBundle,
          rejectUnauthorized: true,
          headers: { ...request.headers, 'Content-Length': Buffer.byteLength(request.body) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            if (size >= MAX_RESPONSE_BYTES) return;
            chunks.push(chunk);
            size += chunk.length;
          });
          res.on('error', (error) => fail(new Error(`reading the answer failed: ${describeError(error)}`)));
          res.on('end', () => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            resolve({
              status: res.statusCode ?? 0,
              statusText: res.statusMessage ?? '',
              body: Buffer.concat(chunks).subarray(0, MAX_RESPONSE_BYTES).toString('utf8'),
            });
          });
        },
      );
      const timer = setTimeout(() => fail(new Error(`no answer within ${timeoutMs}ms`)), timeoutMs);
      req.on('error', (error) => fail(new Error(describeTlsError(error))));
      req.end(request.body);
    });
}

/** Names the usual TLS failures in words an operator can act on. */
function describeTlsError(error: unknown): string {
  const code = (error as { code?: string }).code ?? '';
  const base = describeError(error);
  if (
    code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' ||
    code === 'SELF_SIGNED_CERT_IN_CHAIN' ||
    code === 'DEPTH_ZERO_SELF_SIGNED_CERT' ||
    code === 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY' ||
    code === 'CERT_SIGNATURE_FAILURE'
  ) {
    return `TLS: the server certificate is not signed by the configured CA bundle (${base})`;
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `TLS: the server certificate does not name this host (${base})`;
  if (code === 'CERT_HAS_EXPIRED') return `TLS: the server certificate has expired (${base})`;
  return base;
}
