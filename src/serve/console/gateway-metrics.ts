/**
 * Reads an environment's per-version counters from the tandem gateway that routes its traffic
 * (GET <url>/_tandem/metrics.json with the admin token), as the gateway analyzer does. Read-only.
 */
import type { EnvironmentConfig } from '../../config/schema';
import { adminTokenPath, defaultStateDir } from '../../gateway/admin-token';
import { ADMIN_METRICS_JSON } from '../../naming/gateway';
import { readGatewayToken, type GatewayToken } from '../../shared/gateway-token';
import { parseMetricsJson, type MetricsJson } from '../../activities/analysis/gateway/snapshot';

export interface GatewayMetricsSource {
  url: string;
  credentials: GatewayToken;
}

/**
 * Where the environment's gateway counters are, if it has them:
 * a Docker environment routed by the gateway, or any environment with analysis.gateway. The token
 * is found as the worker finds it: <key>.tokenEnv, else <key>.tokenFile (default: the gateway's
 * default state directory).
 */
export function gatewayMetricsSource(env: EnvironmentConfig): GatewayMetricsSource | undefined {
  const gateway = env.analysis?.gateway ?? (env.target.kind === 'docker' && env.traffic.router === 'gateway' ? env.traffic : undefined);
  if (!gateway) return undefined;
  const token = process.env[gateway.tokenEnv];
  return { url: gateway.url.replace(/\/+$/, ''), credentials: token ? { token } : { tokenFile: gateway.tokenFile ?? adminTokenPath(defaultStateDir()) } };
}

/** One reading of the gateway's metrics. Throws a plain Error naming the gateway when it cannot be read. */
export async function readGatewayMetrics(source: GatewayMetricsSource, timeoutMs = 3000): Promise<MetricsJson> {
  const url = `${source.url}${ADMIN_METRICS_JSON}`;
  const response = await fetch(url, {
    headers: { authorization: `Bearer ${await readGatewayToken(source.credentials)}` },
    signal: AbortSignal.timeout(timeoutMs),
  }).catch((error: Error) => {
    throw new Error(`cannot read the gateway's metrics at ${url}: ${error.message}`);
  });
  if (response.status === 401) throw new Error(`the gateway at ${source.url} refused serve's admin token (traffic.tokenEnv or traffic.tokenFile)`);
  if (!response.ok) throw new Error(`cannot read the gateway's metrics at ${url}: answered ${response.status}`);
  return parseMetricsJson(await response.json());
}
