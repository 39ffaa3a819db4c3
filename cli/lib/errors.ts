// Every failure the user sees is one line that says what to do next, with a documented exit code.
// No client-node import here: API errors are recognised by shape (`code` + `body`), so help and
// unit tests never load the Kubernetes client.

export const ExitCode = {
  OK: 0,
  /** The cluster could not be reached, an API call failed, something was not found. */
  ERROR: 1,
  /** Bad flags or arguments, or a confirmation that cannot be asked. */
  USAGE: 2,
  /** Not allowed: an approver denied the request, the admission webhook or RBAC refused. */
  DENIED: 3,
  /** `--wait` ran out of time. */
  TIMEOUT: 4,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: ExitCode = ExitCode.ERROR,
  ) {
    super(message);
  }
}

export function usageError(message: string): CliError {
  return new CliError(message, ExitCode.USAGE);
}

/** A Kubernetes `Status` body, as far as we read it. */
interface StatusBody {
  message?: string;
  reason?: string;
  details?: { name?: string; group?: string; kind?: string };
}

/** What the caller was doing, so the message can name it. */
export interface ErrorContext {
  /** e.g. "create the access request", "grant alice-web-x2kqp". */
  action: string;
  /** The AccessRequest the command is about, for "not found" messages. */
  requestName?: string;
  namespace?: string;
  /** The API server URL, for "cannot reach" messages. */
  server?: string;
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** TLS failures: the cluster answered, but it is not the one the kubeconfig trusts (or names). */
const TLS_CODES: Record<string, string> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "its certificate is not signed by the kubeconfig's certificate-authority",
  UNABLE_TO_GET_ISSUER_CERT: "its certificate is not signed by the kubeconfig's certificate-authority",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "its certificate is not signed by the kubeconfig's certificate-authority",
  SELF_SIGNED_CERT_IN_CHAIN: 'its certificate chain ends in a CA the kubeconfig does not trust',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'it presents a self-signed certificate the kubeconfig does not trust',
  CERT_SIGNATURE_FAILURE: "its certificate is not signed by the kubeconfig's certificate-authority",
  CERT_HAS_EXPIRED: 'its certificate has expired',
  CERT_NOT_YET_VALID: 'its certificate is not valid yet (check the clock)',
  ERR_TLS_CERT_ALTNAME_INVALID: 'its certificate does not name this address',
};

function parseStatus(body: unknown): StatusBody | undefined {
  if (typeof body === 'string') {
    try {
      return parseStatus(JSON.parse(body));
    } catch {
      return body.trim() ? { message: body.trim() } : undefined;
    }
  }
  if (body && typeof body === 'object') return body as StatusBody;
  return undefined;
}

/** The first `code` of an error or of any error in its `cause` chain (undici, node-fetch) that `known` has. */
function errorCode(error: unknown, known: (code: string) => boolean): string | undefined {
  for (let e: unknown = error, depth = 0; e && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && known(code)) return code;
    const errno = (e as { errno?: unknown }).errno;
    if (typeof errno === 'string' && known(errno)) return errno;
    e = (e as { cause?: unknown }).cause;
  }
  const text = error instanceof Error ? error.message : '';
  return text.match(/\b[A-Z][A-Z0-9_]{4,}\b/g)?.find(known);
}

/** kubectl's "Unable to connect to the server: net/http: request canceled (Client.Timeout exceeded)". */
export function requestTimedOut(server: string, ms: number): CliError {
  const where = server ? ` at ${server}` : '';
  return new CliError(
    `the cluster${where} did not answer within ${formatMs(ms)} (--request-timeout); check that the cluster is healthy, or raise --request-timeout`,
  );
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

const WEBHOOK_DENIAL = /admission webhook "([^"]+)" denied the request:\s*([\s\S]*)$/;

/** Turns anything thrown while talking to the cluster into a one-line CliError. */
export function explainError(error: unknown, context: ErrorContext): CliError {
  if (error instanceof CliError) return error;
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code === 'number' && code >= 300) {
    return explainStatus(code, parseStatus((error as { body?: unknown }).body), context);
  }
  const tls = errorCode(error, (c) => c in TLS_CODES);
  if (tls) {
    const where = context.server ? ` at ${context.server}` : '';
    return new CliError(
      `the cluster${where} is not trusted (${tls}): ${TLS_CODES[tls]}; check the cluster's certificate-authority(-data) in your kubeconfig, or --context`,
    );
  }
  const network = errorCode(error, (c) => NETWORK_CODES.has(c));
  if (network) {
    const where = context.server ? ` at ${context.server}` : '';
    return new CliError(
      `cannot reach the cluster${where} (${network}); check --context/--kubeconfig and that the cluster is up`,
    );
  }
  const message = error instanceof Error ? error.message : String(error);
  return new CliError(`could not ${context.action}: ${firstLine(message)}`);
}

function explainStatus(code: number, status: StatusBody | undefined, context: ErrorContext): CliError {
  const message = firstLine(status?.message ?? '');
  const webhook = WEBHOOK_DENIAL.exec(status?.message ?? '');
  if (webhook) {
    return new CliError(`denied by the ${webhook[1]} webhook: ${firstLine(webhook[2]!)}`, ExitCode.DENIED);
  }
  if (/failed calling webhook/.test(message)) {
    return new CliError(
      `the kube-request-access webhook is not answering (${message}); ask a cluster admin to check its deployment`,
    );
  }
  switch (code) {
    case 401:
      return new CliError(
        'the cluster rejected your credentials (401 Unauthorized); log in again or check --context/--kubeconfig',
      );
    case 403:
      return new CliError(
        `not allowed to ${context.action}: ${message || 'forbidden'}; ask a cluster admin for the role you need`,
        ExitCode.DENIED,
      );
    case 404: {
      // A named object that is missing has `details.name`; a missing API answers a bare 404.
      if (status?.details?.name || (status?.reason === 'NotFound' && /"[^"]+" not found/.test(message))) {
        if (context.requestName && /accessrequests?/.test(status?.details?.kind ?? message)) {
          return requestNotFound(context.requestName, context.namespace);
        }
        return new CliError(`could not ${context.action}: ${message}`);
      }
      return new CliError(
        'the kube-request-access API (kube-request-access.io/v1) is not installed on this cluster; ' +
          'ask a cluster admin to apply its manifests (kubectl apply -k manifests/)',
      );
    }
    case 409:
      return new CliError(`could not ${context.action}: it already exists (${message})`);
    case 422:
    case 400:
      return new CliError(`could not ${context.action}: ${message || `HTTP ${code}`}`);
    default:
      return new CliError(`could not ${context.action}: ${message || `HTTP ${code}`}`);
  }
}

export function requestNotFound(name: string, namespace?: string): CliError {
  const where = namespace ? ` in namespace ${namespace}` : '';
  return new CliError(
    `access request ${name} not found${where}; run "kubectl request list --all" to see the requests there`,
  );
}

function firstLine(text: string): string {
  return text.split('\n')[0]!.trim();
}
