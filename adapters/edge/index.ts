// The edge adapter: the Hono app as a fetch/scheduled worker with a fetch-based Kubernetes backend.
export { createEdgeWorker, type EdgeContext, type EdgeRuntime, type EdgeWorker } from './worker.ts';
export { EdgeConfigError, edgeSettings, type EdgeEnv, type EdgeSettings, type FieldSelectorMode } from './settings.ts';
export {
  KubernetesApiError,
  cleanupOnce,
  fetchEffects,
  fetchLookup,
  kubernetesClient,
  type CleanupResult,
  type KubernetesClient,
} from './kubernetes.ts';
