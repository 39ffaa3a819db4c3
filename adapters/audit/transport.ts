// The seam between the webhook protocols (audit, validation) and the wire. The protocol code
// builds a request and reads a response; a Transport only moves bytes. Node uses `httpsTransport`
// (node:https, CA pinned); an edge runtime passes `fetchTransport(fetch)` behind its own TLS policy.
// No Node imports here, so this file and the protocol files load in any runtime.

export interface WebhookRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
}

export interface WebhookResponse {
  status: number;
  statusText: string;
  body: string;
}

/** POSTs a request; rejects on any failure to get an HTTP answer (connection, TLS, timeout). */
export type Transport = (request: WebhookRequest) => Promise<WebhookResponse>;

export const USER_AGENT = 'kube-request-access';
/** Answers larger than this are cut: webhook answers are tiny, an endless one must not fill memory. */
export const MAX_RESPONSE_BYTES = 64 * 1024;
export const DEFAULT_TIMEOUT_MS = 3000;

/** Refuses anything but an absolute https: URL; the one-line message names the flag's owner. */
export function requireHttpsUrl(url: string, owner: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`${owner}: invalid URL ${JSON.stringify(url)}`);
  }
  if (parsed.protocol !== 'https:') {
    throw new Error(`${owner}: URL must use https:, got ${JSON.stringify(url)}`);
  }
  return parsed;
}

/** Short description of a transport error: the code and message, without a stack. */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    const cause = error.cause instanceof Error ? `: ${describeError(error.cause)}` : '';
    return `${typeof code === 'string' && !error.message.includes(code) ? `${code} ` : ''}${error.message}${cause}`;
  }
  return String(error);
}

/** A body excerpt for error messages: one line, bounded. */
export function excerpt(body: string, max = 200): string {
  const line = body.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max)}…` : line;
}

/**
 * A Transport over a `fetch` function, for edge runtimes. TLS trust is the runtime's: pin the
 * peer there (or front the webhook with a proxy that does), since fetch cannot take a CA bundle.
 */
export function fetchTransport(fetchFn: typeof fetch, options: { timeoutMs?: number } = {}): Transport {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return async (request) => {
    const signal = AbortSignal.timeout(timeoutMs);
    let response: Response;
    try {
      response = await fetchFn(request.url, {
        method: 'POST',
        headers: request.headers,
        body: request.body,
        signal,
        redirect: 'manual',
      });
    } catch (error) {
      if (signal.aborted) throw new Error(`no answer within ${timeoutMs}ms`);
      throw new Error(describeError(error));
    }
    const text = await response.text();
    return {
      status: response.status,
      statusText: response.statusText,
      body: text.slice(0, MAX_RESPONSE_BYTES),
    };
  };
}
