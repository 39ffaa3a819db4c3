// The real Cluster, backed by @kubernetes/client-node 1.x. The only CLI module that loads the
// client; commands reach it through runtime().connect, so `--help` never does.
import {
  AppsV1Api,
  AuthenticationV1Api,
  AuthorizationV1Api,
  BatchV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  ServerConfiguration,
  createConfiguration,
  type Configuration,
} from '@kubernetes/client-node';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { GROUP, VERSION, type AccessGrant, type AccessRequest } from '../../functions/schemas.ts';
import type { WorkloadKind } from './args.ts';
import type { AccessCheck, Cluster, ConnectionOptions, PodLike, UserIdentity, WorkloadLike } from './cluster.ts';
import { DEFAULT_REQUEST_TIMEOUT_MS } from './args.ts';
import { CliError, requestTimedOut } from './errors.ts';

const REQUESTS = 'accessrequests';
const GRANTS = 'accessgrants';
const POLICIES = 'accesspolicies';

/** Loads the kubeconfig the way kubectl does: --kubeconfig, else $KUBECONFIG, else ~/.kube/config. */
export function loadKubeConfig(options: ConnectionOptions): { config: KubeConfig; namespace: string } {
  const config = new KubeConfig();
  const home = process.env.HOME ?? process.env.USERPROFILE ?? '';
  if (
    !options.kubeconfig &&
    !process.env.KUBECONFIG &&
    !process.env.KUBERNETES_SERVICE_HOST &&
    !existsSync(join(home, '.kube', 'config'))
  ) {
    // client-node would quietly fall back to http://localhost:8080; say what is missing instead.
    throw new CliError('no kubeconfig found: pass --kubeconfig, set KUBECONFIG, or create ~/.kube/config');
  }
  try {
    if (options.kubeconfig) config.loadFromFile(options.kubeconfig);
    else config.loadFromDefault();
  } catch (error) {
    const where = options.kubeconfig ?? process.env.KUBECONFIG ?? '~/.kube/config';
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new CliError(`cannot read kubeconfig ${where}: ${reason}; pass --kubeconfig or set KUBECONFIG`);
  }
  if (options.context) {
    if (!config.getContextObject(options.context)) {
      const known = config.getContexts().map((c) => c.name);
      throw new CliError(
        `context "${options.context}" not found in the kubeconfig; known contexts: ${known.join(', ') || '(none)'}`,
      );
    }
    config.setCurrentContext(options.context);
  }
  if (!config.getCurrentCluster()) {
    throw new CliError('no current context in the kubeconfig; pass --context or run "kubectl config use-context NAME"');
  }
  const contextNamespace = config.getContextObject(config.getCurrentContext())?.namespace;
  return { config, namespace: options.namespace || contextNamespace || 'default' };
}

/** KubeConfig.makeApiClient, plus an abort signal on every request after `timeoutMs` (0 = none). */
function apiClient<T>(config: KubeConfig, Api: new (configuration: Configuration) => T, timeoutMs: number): T {
  const timeout = {
    pre: async (context: { setSignal(signal: AbortSignal): void }) => {
      context.setSignal(AbortSignal.timeout(timeoutMs));
      return context;
    },
    post: async <R>(response: R) => response,
  };
  return new Api(
    createConfiguration({
      baseServer: new ServerConfiguration(config.getCurrentCluster()!.server, {}),
      authMethods: { default: config },
      ...(timeoutMs > 0 ? { promiseMiddleware: [timeout as never] } : {}),
    }),
  );
}

function isAbort(error: unknown): boolean {
  const e = error as { name?: unknown; type?: unknown } | undefined;
  return e?.name === 'AbortError' || e?.type === 'aborted' || e?.name === 'TimeoutError';
}

/** An apiserver that accepts and never answers fails the call in one line, as kubectl's does. */
function withTimeoutErrors(cluster: Cluster, timeoutMs: number): Cluster {
  const wrapped: Record<string, unknown> = { ...cluster };
  for (const [key, value] of Object.entries(cluster)) {
    if (typeof value !== 'function') continue;
    wrapped[key] = async (...args: unknown[]) => {
      try {
        return await (value as (...a: unknown[]) => Promise<unknown>)(...args);
      } catch (error) {
        throw isAbort(error) ? requestTimedOut(cluster.server, timeoutMs) : error;
      }
    };
  }
  return wrapped as unknown as Cluster;
}

export async function connect(options: ConnectionOptions): Promise<Cluster> {
  const { config, namespace } = loadKubeConfig(options);
  const timeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const core = apiClient(config, CoreV1Api, timeoutMs);
  const apps = apiClient(config, AppsV1Api, timeoutMs);
  const batch = apiClient(config, BatchV1Api, timeoutMs);
  const custom = apiClient(config, CustomObjectsApi, timeoutMs);
  const authn = apiClient(config, AuthenticationV1Api, timeoutMs);
  const authz = apiClient(config, AuthorizationV1Api, timeoutMs);
  const crd = { group: GROUP, version: VERSION };

  return withTimeoutErrors(
    {
      namespace,
      server: config.getCurrentCluster()?.server ?? '',

      async whoAmI(): Promise<UserIdentity> {
        const review = await authn.createSelfSubjectReview({
          body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
        });
        const user = review.status?.userInfo;
        if (!user?.username)
          throw new CliError('the cluster did not say who you are (SelfSubjectReview returned no user)');
        return { username: user.username, groups: user.groups ?? [] };
      },

      readPod: async (ns, name) => (await core.readNamespacedPod({ namespace: ns, name })) as PodLike,

      async readWorkload(kind: Exclude<WorkloadKind, 'pod'>, ns: string, name: string): Promise<WorkloadLike> {
        const params = { namespace: ns, name };
        switch (kind) {
          case 'deployment':
            return apps.readNamespacedDeployment(params);
          case 'statefulset':
            return apps.readNamespacedStatefulSet(params);
          case 'daemonset':
            return apps.readNamespacedDaemonSet(params);
          case 'replicaset':
            return apps.readNamespacedReplicaSet(params);
          case 'job':
            return batch.readNamespacedJob(params);
        }
      },

      listPods: async (ns, labelSelector) =>
        (await core.listNamespacedPod({ namespace: ns, labelSelector })).items as PodLike[],

      createAccessRequest: async (ns, body) =>
        (await custom.createNamespacedCustomObject({ ...crd, namespace: ns, plural: REQUESTS, body })) as AccessRequest,

      getAccessRequest: async (ns, name) =>
        (await custom.getNamespacedCustomObject({ ...crd, namespace: ns, plural: REQUESTS, name })) as AccessRequest,

      async listAccessRequests(ns, labelSelector) {
        const selector = labelSelector ? { labelSelector } : {};
        const list = ns
          ? await custom.listNamespacedCustomObject({ ...crd, namespace: ns, plural: REQUESTS, ...selector })
          : await custom.listClusterCustomObject({ ...crd, plural: REQUESTS, ...selector });
        return (list as { items?: AccessRequest[] }).items ?? [];
      },

      async deleteAccessRequest(ns, name, uid) {
        await custom.deleteNamespacedCustomObject({
          ...crd,
          namespace: ns,
          plural: REQUESTS,
          name,
          ...(uid ? { body: { preconditions: { uid } } } : {}),
        });
      },

      async listAccessGrants(ns) {
        const list = ns
          ? await custom.listNamespacedCustomObject({ ...crd, namespace: ns, plural: GRANTS })
          : await custom.listClusterCustomObject({ ...crd, plural: GRANTS });
        return (list as { items?: AccessGrant[] }).items ?? [];
      },

      async listAccessPolicies(ns) {
        try {
          const list = ns
            ? await custom.listNamespacedCustomObject({ ...crd, namespace: ns, plural: POLICIES })
            : await custom.listClusterCustomObject({ ...crd, plural: POLICIES });
          return (list as { items?: unknown[] }).items ?? [];
        } catch (error) {
          const code = (error as { code?: unknown }).code;
          if (code === 404 || code === 403) return [];
          throw error;
        }
      },

      createAccessGrant: async (ns, body) =>
        (await custom.createNamespacedCustomObject({ ...crd, namespace: ns, plural: GRANTS, body })) as AccessGrant,

      async deleteAccessGrant(ns, name, uid) {
        await custom.deleteNamespacedCustomObject({
          ...crd,
          namespace: ns,
          plural: GRANTS,
          name,
          ...(uid ? { body: { preconditions: { uid } } } : {}),
        });
      },

      async canI(check: AccessCheck): Promise<boolean> {
        const review = await authz.createSelfSubjectAccessReview({
          body: {
            apiVersion: 'authorization.k8s.io/v1',
            kind: 'SelfSubjectAccessReview',
            spec: { resourceAttributes: { ...check } },
          },
        });
        return review.status?.allowed === true;
      },
    },
    timeoutMs,
  );
}
