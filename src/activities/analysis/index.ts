/**
 * Analysis: one Analyzer per environment, chosen by its configuration, one folder per metrics
 * provider (as Argo Rollouts' metricproviders/): prometheus/ (queries to a Prometheus), gateway/
 * (the tandem gateway's own counters), and unmeasured.ts where tandem has nothing to read. All
 * judge with verdict.ts.
 */
import type { EnvironmentConfig } from '../../config/schema';
import type { GatewayToken } from '../../shared/gateway-token';
import type { Analyzer } from '../target';
import { GatewayAnalyzer } from './gateway/analyzer';
import { PrometheusAnalyzer } from './prometheus/analyzer';
import { createUnmeasuredAnalyzer } from './unmeasured';

/**
 * The Analyzer of environment `name`: Prometheus when `analysis.prometheus` is configured (with
 * `{{namespace}}` the Kubernetes namespace, empty for Docker); else the tandem gateway's metrics
 * when the gateway routes its traffic, read with `gatewayToken`; else one that answers
 * `inconclusive`. Throws when the gateway routes the traffic and no token is given (a wiring
 * mistake: the router needs the same token).
 */
export function createAnalyzer(name: string, env: EnvironmentConfig, clients: { gatewayToken?: GatewayToken } = {}): Analyzer {
  if (env.analysis) {
    const namespace = env.target.kind === 'kubernetes' ? env.target.namespace : undefined;
    return new PrometheusAnalyzer({ ...env.analysis.prometheus, ...(namespace === undefined ? {} : { namespace }) });
  }
  if (env.traffic.router === 'gateway') {
    if (!clients.gatewayToken) throw new Error(`environments.${name}: the gateway analyzer needs the gateway's admin token`);
    return new GatewayAnalyzer(env.traffic.url, clients.gatewayToken);
  }
  return createUnmeasuredAnalyzer(name);
}
