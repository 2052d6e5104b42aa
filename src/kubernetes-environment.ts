/**
 * The target and router of a Kubernetes environment, built from its configuration. A module of
 * its own so that only workers with a Kubernetes environment load the Kubernetes client
 * (environments.ts requires it on demand).
 */
import { loadKubeConfig } from './activities/kubernetes/client';
import { KubernetesTarget } from './activities/kubernetes/target';
import type { Environment } from './activities/target';
import { GatewayApiRouter } from './activities/traffic/gateway-api-router';
import { ReplicaRatioRouter } from './activities/traffic/replica-ratio-router';
import { ConfigError } from './config/load';
import type { EnvironmentConfig } from './config/schema';

type KubernetesTargetConfig = Extract<EnvironmentConfig['target'], { kind: 'kubernetes' }>;
type KubernetesTrafficConfig = Exclude<EnvironmentConfig['traffic'], { router: 'gateway' }>;

export function kubernetesTargetAndRouter(name: string, target: KubernetesTargetConfig, traffic: KubernetesTrafficConfig): Pick<Environment, 'target' | 'router'> {
  let kubeConfig;
  try {
    kubeConfig = loadKubeConfig({ kubeconfig: target.kubeconfig, context: target.context });
  } catch (error) {
    throw new ConfigError(`environments.${name}.target: cannot load the kubeconfig${target.kubeconfig ? ` ${target.kubeconfig}` : ''}: ${(error as Error).message}`);
  }
  const namespace = target.namespace;
  return {
    target: new KubernetesTarget(kubeConfig, { namespace, isolation: target.isolation, pod: { nodeSelector: target.nodeSelector, tolerations: target.tolerations } }),
    router:
      traffic.router === 'gateway-api'
        ? new GatewayApiRouter(kubeConfig, { namespace, gateway: traffic.gateway, gatewayNamespace: traffic.gatewayNamespace, isolation: target.isolation })
        : new ReplicaRatioRouter(kubeConfig, { namespace }),
  };
}
