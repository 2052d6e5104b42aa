/**
 * The cluster connection of a Kubernetes environment, built once by the worker and handed to the
 * target and router (they never read configuration themselves).
 */
import * as k8s from '@kubernetes/client-node';

export interface KubeConnection {
  /** path of a kubeconfig file; default: KUBECONFIG, then ~/.kube/config, then the in-cluster service account */
  kubeconfig?: string;
  /** context of the kubeconfig to use; default: its current context */
  context?: string;
}

/** Request options of a server-side apply patch. */
export const SSA = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.ServerSideApply);
/** Request options of a JSON merge patch. */
export const MERGE = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

/**
 * Loads the kubeconfig the environment names. Throws an Error that says what is missing: an
 * unreadable or invalid file, an unknown context, or a configuration without a cluster.
 * Reads files only; no request is sent to the cluster.
 */
export function loadKubeConfig(connection: KubeConnection): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  if (connection.kubeconfig) kc.loadFromFile(connection.kubeconfig);
  else kc.loadFromDefault();
  if (connection.context) {
    if (!kc.getContextObject(connection.context)) {
      throw new Error(`context "${connection.context}" is not in the kubeconfig (known: ${kc.getContexts().map((c) => c.name).join(', ') || 'none'})`);
    }
    kc.setCurrentContext(connection.context);
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster?.server) throw new Error('the kubeconfig has no current cluster; set its current-context or name a context');
  return kc;
}

/** The API groups the routers call, made from one kubeconfig. */
export interface KubeApis {
  core: k8s.CoreV1Api;
  apps: k8s.AppsV1Api;
  custom: k8s.CustomObjectsApi;
}

export function kubeApis(kubeConfig: k8s.KubeConfig): KubeApis {
  return { core: kubeConfig.makeApiClient(k8s.CoreV1Api), apps: kubeConfig.makeApiClient(k8s.AppsV1Api), custom: kubeConfig.makeApiClient(k8s.CustomObjectsApi) };
}
