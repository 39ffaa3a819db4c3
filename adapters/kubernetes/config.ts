// Where the Kubernetes credentials come from: an explicit --kubeconfig, else $KUBECONFIG or
// ~/.kube/config, else the pod's service account (loadFromDefault tries them in that order).
import { KubeConfig } from '@kubernetes/client-node';

export function loadKubeConfig(options: { kubeconfig?: string; context?: string } = {}): KubeConfig {
  const kc = new KubeConfig();
  if (options.kubeconfig) kc.loadFromFile(options.kubeconfig);
  else kc.loadFromDefault();
  if (options.context) kc.setCurrentContext(options.context);
  if (!kc.getCurrentCluster()) {
    throw new Error('no Kubernetes cluster configured: pass --kubeconfig, set KUBECONFIG, or run in a pod with a service account');
  }
  return kc;
}
