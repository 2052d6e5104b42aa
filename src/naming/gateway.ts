/**
 * The defaults of `tandem gateway` that its clients must agree on: ports, the admin API's path
 * prefix, and where the admin token is found. Pure (no Node built-ins).
 */
export const GatewayDefaults = {
  /** model traffic */
  port: 7070,
  /** admin API (/_tandem/...) and /metrics */
  adminPort: 7071,
  host: '127.0.0.1',
  adminHost: '127.0.0.1',
  /** environment variable holding the admin token */
  tokenEnv: 'TANDEM_GATEWAY_TOKEN',
  /** how long a proxied request may wait for its upstream */
  upstreamTimeout: '60s',
} as const;

/** Path prefix of the admin API. */
export const ADMIN_PREFIX = '/_tandem/';

/** Admin route that answers without a token (liveness). */
export const ADMIN_HEALTHZ = `${ADMIN_PREFIX}healthz`;

/** Admin route with the gateway's metrics as prom-client's JSON, which the gateway analyzer reads. */
export const ADMIN_METRICS_JSON = `${ADMIN_PREFIX}metrics.json`;

/**
 * Admin route with a mirror version's agreement with the versions answering callers: counts
 * since the gateway started and the latest disagreements (src/gateway/shadow-agreement.ts).
 */
export function adminAgreementPath(model: string, version: string): string {
  return `${ADMIN_PREFIX}models/${encodeURIComponent(model)}/versions/${encodeURIComponent(version)}/agreement`;
}

/** File in the gateway's state directory holding the token it generated (mode 0600). */
export const ADMIN_TOKEN_FILE = 'admin-token';

/**
 * Kubernetes mode (`tandem gateway --kubernetes`): the `controllerName` of the GatewayClasses
 * tandem's gateway serves, and the class it serves by default.
 */
export const GATEWAY_CONTROLLER_NAME = 'tandem.dev/gateway-controller';
export const DEFAULT_GATEWAY_CLASS = 'tandem';
