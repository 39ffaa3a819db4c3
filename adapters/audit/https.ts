// node:https Transport for the extension webhooks: the peer certificate must chain to the
// configured CA bundle and nothing else (`ca` replaces Node's built-in root store), or be one of
// its certificates exactly (the seed's bundles pin the webhook's own leaf); the whole exchange has
// one deadline, and answers are size-capped.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { DEFAULT_TIMEOUT_MS, MAX_RESPONSE_BYTES, describeError, requireHttpsUrl, type Transport } from './transport.ts';

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/;
const PEM_CERTIFICATES = new RegExp(PEM_CERTIFICATE.source, 'g');
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const ANY_EXTENDED_KEY_USAGE = '2.5.29.37.0';

/** Every certificate of a PEM bundle, parsed. Throws on one that does not parse. */
export function bundleCertificates(caBundle: string): X509Certificate[] {
  return (caBundle.match(PEM_CERTIFICATES) ?? []).map((pem) => new X509Certificate(pem));
}

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
    bundleCertificates(caBundle);
  } catch (error) {
    throw new Error(`${owner}: CA bundle is not valid PEM: ${describeError(error)}`);
  }
}

/**
 * Whether the TLS peer of `socket` is the one configured, given Node's own verification against
 * the bundle (done with `rejectUnauthorized: false`, so it is reported and not yet acted on):
 *
 * - chained to a bundle certificate, with the host name checked: trusted, as a CA bundle always was;
 * - otherwise only if the certificate the peer presents is byte for byte one of the bundle's (the
 *   seed pins the webhook's own leaf; Go takes a root that is the leaf itself, OpenSSL without
 *   partial chains does not), currently valid, naming `host`, and not restricted away from
 *   serverAuth. The TLS handshake has already proved the peer holds that certificate's key.
 *
 * Returns the reason for refusing, with the OpenSSL code where there is one, or undefined.
 */
export function verifyPeer(
  socket: tls.TLSSocket,
  host: string,
  pinned: readonly X509Certificate[],
  now = new Date(),
): (Error & { code?: string }) | undefined {
  if (socket.authorized) return undefined;
  const chainError = Object.assign(
    new Error(String(socket.authorizationError ?? 'the server certificate was not verified')),
    {
      code: String(socket.authorizationError ?? ''),
    },
  );
  // (Not getPeerX509Certificate: on Node 20 a later getPeerCertificate then answers {}.)
  const peer = socket.getPeerCertificate();
  const raw = peer?.raw;
  if (!raw || !pinned.some((certificate) => certificate.raw.equals(raw))) return chainError;
  if (!(now.getTime() >= Date.parse(peer.valid_from)))
    return Object.assign(new Error('certificate is not yet valid'), { code: 'CERT_NOT_YET_VALID' });
  if (!(now.getTime() <= Date.parse(peer.valid_to)))
    return Object.assign(new Error('certificate has expired'), { code: 'CERT_HAS_EXPIRED' });
  const usages = peer.ext_key_usage;
  if (usages && usages.length && !usages.includes(SERVER_AUTH) && !usages.includes(ANY_EXTENDED_KEY_USAGE)) {
    return Object.assign(new Error('the pinned certificate is not for serverAuth'), { code: 'INVALID_PURPOSE' });
  }
  return tls.checkServerIdentity(host, peer) as (Error & { code?: string }) | undefined;
}

/**
 * Hands a socket to a request only once its peer passed `verifyPeer`: nothing of the request is
 * written before. No TLS session is resumed (a resumed session is not verified again).
 */
class PinningAgent extends https.Agent {
  readonly #pinned: readonly X509Certificate[];

  constructor(options: https.AgentOptions & { caBundle: string }) {
    const { caBundle, ...agentOptions } = options;
    super({ ...agentOptions, ca: caBundle });
    this.#pinned = bundleCertificates(caBundle);
  }

  override createConnection(
    options: https.RequestOptions,
    callback?: (err: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    if (!callback) throw new Error('PinningAgent needs the callback form of createConnection');
    const host = (options as tls.ConnectionOptions).servername || options.hostname || options.host || 'localhost';
    const socket = tls.connect({
      ...(options as tls.ConnectionOptions),
      ...(this.options.ca ? { ca: this.options.ca } : {}),
      rejectUnauthorized: false,
      session: undefined,
    });
    const onError = (error: Error) => callback(error, socket);
    socket.once('error', onError);
    socket.once('secureConnect', () => {
      socket.off('error', onError);
      const refused = verifyPeer(socket, host, this.#pinned);
      if (refused) {
        socket.destroy();
        callback(refused, socket);
        return;
      }
      callback(null, socket);
    });
    return undefined;
  }
}

/** A webhook over node:https, checked first: an https: URL and a usable CA bundle, or a one-line error naming `owner`. */
export function httpsEndpoint(
  options: { url: string; caBundle: string; timeoutMs?: number },
  owner: string,
): { url: string; transport: Transport } {
  requireHttpsUrl(options.url, owner);
  checkCaBundle(options.caBundle, owner);
  return {
    url: options.url,
    transport: httpsTransport({
      caBundle: options.caBundle,
      ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
    }),
  };
}

export function httpsTransport(options: { caBundle: string; timeoutMs?: number }): Transport {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  // One agent per webhook: keep-alive across calls, its own trust store, and the peer verified
  // (chain or exact pin) before any byte of a request is written.
  const agent = new PinningAgent({
    caBundle: options.caBundle,
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
