// Where the Kubernetes credentials come from: an explicit --kubeconfig, else $KUBECONFIG or
// ~/.kube/config, else the pod's service account (loadFromDefault tries them in that order).
import { KubeConfig } from '@kubernetes/client-node';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';

const NO_CLUSTER =
  'no Kubernetes cluster configured: pass --kubeconfig, set KUBECONFIG, or run in a pod with a service account (or --objects FILE to run from memory)';

export function loadKubeConfig(options: { kubeconfig?: string; context?: string } = {}): KubeConfig {
  const kc = new KubeConfig();
  if (options.kubeconfig) kc.loadFromFile(options.kubeconfig);
  else {
    // loadFromDefault falls back to http://localhost:8080 when it finds nothing: a server that
    // then says "serving" and fails every 30 s. Nothing to load is an error at start instead.
    const home = process.env.HOME ?? homedir();
    const found =
      process.env.KUBECONFIG || existsSync(path.join(home, '.kube', 'config')) || process.env.KUBERNETES_SERVICE_HOST;
    if (!found) throw new Error(NO_CLUSTER);
    kc.loadFromDefault();
  }
  if (options.context) kc.setCurrentContext(options.context);
  if (!kc.getCurrentCluster()) {
    throw new Error(NO_CLUSTER);
  }
  return kc;
}
