/**
 * Analysis: one Analyzer per environment, chosen by its configuration, one folder per metrics
 * provider (as Argo Rollouts' metricproviders/): prometheus/ (queries to a Prometheus), gateway/
 * (the tandem gateway's own counters), and unmeasured.ts where tandem has nothing to read. All
 * judge with verdict.ts. web/ reads the numbers a spec's analysis step names from the model team's
 * own service, on top of whichever of them measures the traffic.
 */
import type { EnvironmentConfig } from '../../config/schema';
import type { GatewayToken } from '../../shared/gateway-token';
import type { AgreementAnalyzer, Analyzer } from '../target';
import { GatewayAgreementAnalyzer } from './gateway/agreement';
import { GatewayAnalyzer } from './gateway/analyzer';
import { PrometheusAnalyzer } from './prometheus/analyzer';
import { WebMetricsAnalyzer } from './web/analyzer';

/**
 * The Analyzer of environment `name`: Prometheus when `analysis.prometheus` is configured (with
 * `{{namespace}}` the Kubernetes namespace, empty for Docker); the tandem gateway at
 * `analysis.gateway.url` when that is configured (a Kubernetes environment whose Gateway
 * `tandem gateway --kubernetes` serves); else the tandem gateway's metrics when the gateway routes
 * its traffic; else nothing measures traffic (unmeasured.ts answers `inconclusive`). Web metrics,
 * when a step names them, are read on top (web/). The gateway's metrics are read with
 * `gatewayToken`; throws when it is needed and not given (a wiring mistake: environments.ts
 * resolves it from the configuration).
 */
export function createAnalyzer(name: string, env: EnvironmentConfig, clients: { gatewayToken?: GatewayToken } = {}): WebMetricsAnalyzer {
  return new WebMetricsAnalyzer(createTrafficAnalyzer(name, env, clients), { environment: name, headers: env.analysis?.web?.headers });
}

/** The analyzer of the environment's live traffic (see createAnalyzer); undefined where nothing measures it. */
function createTrafficAnalyzer(name: string, env: EnvironmentConfig, clients: { gatewayToken?: GatewayToken }): Analyzer | undefined {
  if (env.analysis?.prometheus) {
    const namespace = env.target.kind === 'kubernetes' ? env.target.namespace : undefined;
    return new PrometheusAnalyzer({ ...env.analysis.prometheus, ...(namespace === undefined ? {} : { namespace }) });
  }
  if (env.analysis?.gateway) {
    if (!clients.gatewayToken) throw new Error(`environments.${name}.analysis.gateway: the gateway analyzer needs the gateway's admin token`);
    return new GatewayAnalyzer(env.analysis.gateway.url, clients.gatewayToken);
  }
  if (env.traffic.router === 'gateway') {
    if (!clients.gatewayToken) throw new Error(`environments.${name}: the gateway analyzer needs the gateway's admin token`);
    return new GatewayAnalyzer(env.traffic.url, clients.gatewayToken);
  }
  return undefined;
}

/**
 * The agreement of mirrored answers in environment `name`: tandem's gateway compares them, so
 * only where it routes the traffic (a Docker environment, or `analysis.gateway.url` for
 * `tandem gateway --kubernetes`); undefined elsewhere (a shadow step with agreement then fails,
 * saying so).
 */
export function createAgreementAnalyzer(env: EnvironmentConfig, clients: { gatewayToken?: GatewayToken }): AgreementAnalyzer | undefined {
  const url = env.analysis?.gateway?.url ?? (env.traffic.router === 'gateway' ? env.traffic.url : undefined);
  return url && clients.gatewayToken ? new GatewayAgreementAnalyzer(url, clients.gatewayToken) : undefined;
}
