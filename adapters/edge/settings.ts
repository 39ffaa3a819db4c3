// Configuration of the edge worker, read from the runtime's environment bindings (wrangler.toml
// [vars] and secrets on workerd, environment variables on Deno and Bun). Every binding is a string;
// a missing or malformed one is a one-line error naming the binding.
import { parseDuration } from '../../functions/duration.ts';
import { DEFAULT_CONFIG, DEFAULT_UNGATED_NAMESPACES, type Config } from '../../functions/types.ts';
import type { LogLevel } from '../ports.ts';

/** The bindings the edge worker reads. Values other than strings (service bindings, KV) are ignored. */
export type EdgeEnv = Record<string, unknown>;

export type FieldSelectorMode = 'auto' | 'on' | 'off';

export interface EdgeSettings {
  /** `KUBERNETES_API_URL`: the API server (or the TLS proxy in front of it), https: unless loopback. */
  apiServer: URL;
  /** `KUBERNETES_TOKEN`: bearer token of the webhook's service account (a secret). */
  token: string;
  /** `KUBERNETES_CA`: PEM the API server's certificate must chain to (Deno, Bun; workerd pins it in its config). */
  caBundle?: string;
  /** `KUBERNETES_TIMEOUT`: deadline of one API call (default 2s: a review makes up to three). */
  kubernetesTimeoutMs: number;
  /**
   * `FIELD_SELECTORS`: narrow lists by `spec.forObject.name` / `spec.grantFor` on the server. `auto`
   * (default) tries and falls back to listing the namespace when the CRD declares no selectableFields.
   */
  fieldSelectors: FieldSelectorMode;
  /** `ADMISSION_TOKEN`: when set, every call but /healthz must carry `Authorization: Bearer <it>`. */
  admissionToken?: string;
  /** `ALWAYS_ALLOWED_GROUPS`, `ALWAYS_ALLOWED_USERS`, `USERNAME_PREFIX`, `MAX_VALID_FOR`, `UNGATED_NAMESPACES`. */
  config: Config;
  /** `AUDIT_WEBHOOK_URL`, `EXTENDED_VALIDATION_WEBHOOK_URL` (https:), `WEBHOOK_TIMEOUT` (default 3s). */
  auditWebhookUrl?: string;
  validationWebhookUrl?: string;
  /** `WEBHOOK_CA`: PEM the extension webhooks' certificates must chain to (Deno, Bun; workerd: its config). */
  webhookCaBundle?: string;
  webhookTimeoutMs: number;
  /** `NAMESPACES`: where the scheduled cleanup looks (default: all namespaces). */
  namespaces: string[];
  /** `DELETE_AFTER`: unused one-shot, pending and denied requests are deleted this long after creation (24h). */
  deleteAfterMs: number;
  /** `LOG_LEVEL`: debug, info (default), warn, error. */
  logLevel: LogLevel;
}

export class EdgeConfigError extends Error {
  override name = 'EdgeConfigError';
}

const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

function text(env: EdgeEnv, name: string): string | undefined {
  const value = env[name];
  if (typeof value !== 'string') return undefined;
  const trimmed = value.trim();
  return trimmed === '' ? undefined : trimmed;
}

function list(env: EdgeEnv, name: string): string[] {
  return (text(env, name) ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

function duration(env: EdgeEnv, name: string, fallback: string): number {
  const value = text(env, name) ?? fallback;
  const ms = parseDuration(value);
  if (ms === undefined || ms <= 0) {
    throw new EdgeConfigError(`binding ${name}="${value}" is not a positive duration (examples: 500ms, 3s, 12h)`);
  }
  return ms;
}

function pem(env: EdgeEnv, name: string): string | undefined {
  const value = text(env, name);
  if (value !== undefined && !value.includes('-----BEGIN CERTIFICATE-----')) {
    throw new EdgeConfigError(`binding ${name} contains no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  }
  return value;
}

function isLoopback(url: URL): boolean {
  return url.hostname === 'localhost' || url.hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(url.hostname);
}

function url(env: EdgeEnv, name: string, options: { allowLoopbackHttp: boolean }): URL | undefined {
  const value = text(env, name);
  if (value === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new EdgeConfigError(`binding ${name} is not a URL: ${JSON.stringify(value)}`);
  }
  const plainOk = options.allowLoopbackHttp && parsed.protocol === 'http:' && isLoopback(parsed);
  if (parsed.protocol !== 'https:' && !plainOk) {
    throw new EdgeConfigError(`binding ${name} must be an https: URL, got ${JSON.stringify(value)}`);
  }
  return parsed;
}

/** Reads and checks every binding; throws EdgeConfigError naming the first problem. */
export function edgeSettings(env: EdgeEnv): EdgeSettings {
  // Plain http only to a TLS-terminating sidecar on loopback (Deno/Bun next to a local proxy).
  const apiServer = url(env, 'KUBERNETES_API_URL', { allowLoopbackHttp: true });
  if (!apiServer)
    throw new EdgeConfigError(
      'binding KUBERNETES_API_URL is missing: the https URL of the API server or of the TLS proxy in front of it',
    );
  const token = text(env, 'KUBERNETES_TOKEN');
  if (!token)
    throw new EdgeConfigError(
      'binding KUBERNETES_TOKEN is missing: a service account token allowed to get, list and delete accessrequests and accessgrants',
    );
  const caBundle = pem(env, 'KUBERNETES_CA');
  const webhookCaBundle = pem(env, 'WEBHOOK_CA');
  const fieldSelectors = (text(env, 'FIELD_SELECTORS') ?? 'auto') as FieldSelectorMode;
  if (!['auto', 'on', 'off'].includes(fieldSelectors)) {
    throw new EdgeConfigError(`binding FIELD_SELECTORS must be auto, on or off, got "${fieldSelectors}"`);
  }
  const logLevel = (text(env, 'LOG_LEVEL') ?? 'info') as LogLevel;
  if (!LEVELS.includes(logLevel))
    throw new EdgeConfigError(`binding LOG_LEVEL must be one of ${LEVELS.join(', ')}, got "${logLevel}"`);
  const auditWebhookUrl = url(env, 'AUDIT_WEBHOOK_URL', { allowLoopbackHttp: false })?.toString();
  const validationWebhookUrl = url(env, 'EXTENDED_VALIDATION_WEBHOOK_URL', { allowLoopbackHttp: false })?.toString();
  const admissionToken = text(env, 'ADMISSION_TOKEN');
  return {
    apiServer,
    token,
    ...(caBundle ? { caBundle } : {}),
    kubernetesTimeoutMs: duration(env, 'KUBERNETES_TIMEOUT', '2s'),
    fieldSelectors,
    ...(admissionToken ? { admissionToken } : {}),
    config: {
      ...DEFAULT_CONFIG,
      alwaysAllowedGroups: list(env, 'ALWAYS_ALLOWED_GROUPS'),
      alwaysAllowedUsers: list(env, 'ALWAYS_ALLOWED_USERS'),
      usernamePrefix: text(env, 'USERNAME_PREFIX') ?? '',
      maxValidForMs: duration(env, 'MAX_VALID_FOR', '12h'),
      ungatedNamespaces:
        text(env, 'UNGATED_NAMESPACES') === undefined ? DEFAULT_UNGATED_NAMESPACES : list(env, 'UNGATED_NAMESPACES'),
    },
    ...(auditWebhookUrl ? { auditWebhookUrl } : {}),
    ...(webhookCaBundle ? { webhookCaBundle } : {}),
    ...(validationWebhookUrl ? { validationWebhookUrl } : {}),
    webhookTimeoutMs: duration(env, 'WEBHOOK_TIMEOUT', '3s'),
    namespaces: list(env, 'NAMESPACES'),
    deleteAfterMs: duration(env, 'DELETE_AFTER', '24h'),
    logLevel,
  };
}
