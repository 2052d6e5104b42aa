/**
 * The gateway as a long-running process: `tandem gateway` (src/cli/program.ts parses the options).
 * Docker mode (default): the Docker engine is DOCKER_HOST or the local socket. Kubernetes mode
 * (`--kubernetes`): a Gateway API data plane for the Gateways of one GatewayClass.
 */
import Docker from 'dockerode';
import { GATEWAY_CONTROLLER_NAME } from '../naming/gateway';
import { resolveAdminToken } from './admin-token';
import type { EndpointDiscovery } from './discovery';
import { startGateway } from './server';
import { untilSignal } from '../shared/signals';

export interface RunGatewayOptions {
  port: number;
  adminPort: number;
  host: string;
  adminHost: string;
  /** environment variable holding the admin token; unset: a token is generated into the state directory */
  adminTokenEnv: string;
  stateDir: string;
  upstreamTimeoutMs: number;
  /**
   * Kubernetes mode: a kubeconfig file, `in-cluster` for the pod's service account, or true for
   * the default loading ($KUBECONFIG, ~/.kube/config, else in-cluster). Unset: Docker mode.
   */
  kubernetes?: string | true;
  /** Kubernetes mode: the GatewayClass whose Gateways are served */
  gatewayClass: string;
}

/**
 * Starts the gateway against the engine at DOCKER_HOST (dockerode reads it; else the local
 * socket), prints where it listens and where its admin token is (never the token), serves until
 * SIGINT or SIGTERM, then closes gracefully (in-flight requests get up to 2 s) and resolves.
 * Throws when a port is taken or the state file is unreadable.
 */
export async function runGateway(options: RunGatewayOptions): Promise<void> {
  const { token, source } = await resolveAdminToken(options.stateDir, options.adminTokenEnv);
  const log = (message: string): void => void process.stderr.write(`${message}\n`);
  let discovery: EndpointDiscovery | undefined;
  let where = `state in ${options.stateDir}`;
  if (options.kubernetes) {
    // Loaded on demand: the Kubernetes client is only needed in this mode.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const k8s = require('@kubernetes/client-node') as typeof import('@kubernetes/client-node');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { KubernetesDiscovery } = require('./kubernetes/discovery') as typeof import('./kubernetes/discovery');
    const kubeConfig = new k8s.KubeConfig();
    if (options.kubernetes === 'in-cluster') kubeConfig.loadFromCluster();
    else if (options.kubernetes === true) kubeConfig.loadFromDefault();
    else kubeConfig.loadFromFile(options.kubernetes);
    discovery = new KubernetesDiscovery(kubeConfig, { gatewayClass: options.gatewayClass, controllerName: GATEWAY_CONTROLLER_NAME, log });
    where = `routes from the HTTPRoutes of Gateways of GatewayClass "${options.gatewayClass}" (controllerName ${GATEWAY_CONTROLLER_NAME}) at ${kubeConfig.getCurrentCluster()?.server ?? 'the cluster'}`;
  }
  const gateway = await startGateway({ ...options, adminToken: token, log, ...(discovery ? { discovery } : { docker: new Docker() }) });
  process.stdout.write(
    `tandem gateway: models at ${gateway.url}/<model>/...; admin API ${gateway.adminUrl}/_tandem/ (bearer token in ${source}); ` +
      `metrics ${gateway.adminUrl}/metrics; ${where}\n`,
  );
  const signal = await untilSignal('SIGINT', 'SIGTERM');
  process.stdout.write(`tandem gateway: ${signal}, closing\n`);
  await gateway.close();
}
