/**
 * `tandem gateway`: one reverse proxy in front of every model on a single host, and its admin API.
 * The two listen on separate ports and share only the routing table:
 *   proxy.ts  the traffic port: `/<model>/<rest>` to a replica of a version, by weight or pin;
 *   admin.ts  the admin port: `/_tandem/...` behind a bearer token, `/metrics`;
 *   table.ts  the routing table, persisted to `<stateDir>/gateway-state.json` and swapped whole
 *             on every change, so in-flight requests finish on the replica they were sent to.
 * Replica endpoints come from a discovery (discovery.ts): the Docker engine's labels (docker/),
 * or from the admin API for versions that do not run on the engine. In Kubernetes mode
 * (kubernetes/) the gateway is a Gateway API data plane: routes and endpoints both come from the
 * cluster (HTTPRoutes, EndpointSlices), nothing is kept in the state file, and the admin API
 * only reads routes.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type Docker from 'dockerode';
import { GatewayDefaults } from '../naming/gateway';
import { durationMs } from '../shared/duration';
import { createAdminApi } from './admin';
import { bearerChecker } from './admin-token';
import { type EndpointDiscovery, isRouteDiscovery } from './discovery';
import { DockerDiscovery } from './docker/discovery';
import { sendJson } from './http-json';
import { createMetrics } from './metrics';
import { createModelProxy } from './proxy';
import { createAgreementBook } from './shadow-agreement';
import { loadState } from './state-file';
import { createDiscoveredRoutingTable, createRoutingTable } from './table';

export interface GatewayOptions {
  /** proxy port; 0 picks a free one */
  port: number;
  /** admin API and /metrics port; 0 picks a free one */
  adminPort: number;
  /** address the proxy listens on; default 127.0.0.1 */
  host?: string;
  /** address the admin API listens on; default 127.0.0.1 */
  adminHost?: string;
  /** bearer token every admin route but healthz requires (see admin-token.ts) */
  adminToken: string;
  /** how long a proxied request may wait for data from its upstream; default 60 s */
  upstreamTimeoutMs?: number;
  /** folder of gateway-state.json */
  stateDir: string;
  /** engine to discover replica endpoints from; without one only admin-given endpoints are used */
  docker?: Docker;
  /**
   * another source of endpoints (instead of `docker`); when it also gives routes (Kubernetes'
   * HTTPRoutes) those are routed and the state file is not used
   */
  discovery?: EndpointDiscovery;
  /** periodic discovery refresh; default 5000 ms */
  refreshIntervalMs?: number;
  log?: (message: string) => void;
  /** the weighted pick's random value in [0, 1); default Math.random (tests make the split exact) */
  random?: () => number;
  /** copies of requests in flight to mirror versions at once, over all models; more are dropped (default 64) */
  maxMirrorsInFlight?: number;
}

export interface Gateway {
  /** Stops listening and discovery; waits up to 2 s for in-flight requests. */
  close(): Promise<void>;
  /** `http://host:port` of the proxy */
  url: string;
  /** `http://host:port` of the admin API */
  adminUrl: string;
}

/**
 * Starts the gateway in this process: reads the state file, reads endpoints from the engine,
 * then listens. Throws when the state file is unreadable or a port is taken.
 */
export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const log = options.log ?? ((message: string) => console.error(message));
  const host = options.host ?? GatewayDefaults.host;
  const adminHost = options.adminHost ?? GatewayDefaults.adminHost;
  if (!options.adminToken) throw new Error('the gateway needs an admin token');
  const upstreamTimeoutMs = options.upstreamTimeoutMs ?? durationMs(GatewayDefaults.upstreamTimeout);
  const discovery =
    options.discovery ?? (options.docker ? new DockerDiscovery(options.docker, { refreshIntervalMs: options.refreshIntervalMs, log }) : undefined);
  const routed = isRouteDiscovery(discovery) ? discovery : undefined;
  const initial = routed ? undefined : await loadState(options.stateDir);
  if (discovery) await discovery.start();

  const table = routed ? createDiscoveredRoutingTable(routed) : createRoutingTable(initial!, options.stateDir, discovery);
  const metrics = createMetrics();
  const agreement = createAgreementBook({ metrics });
  const proxy = createModelProxy({ table, metrics, upstreamTimeoutMs, random: options.random, maxMirrorsInFlight: options.maxMirrorsInFlight, agreement });
  const admin = createAdminApi({ table, metrics, checkBearer: bearerChecker(options.adminToken), discovery, routesFrom: routed?.routesFrom, agreement, log });

  const guard =
    (handler: (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>) =>
    (req: http.IncomingMessage, res: http.ServerResponse): void => {
      handler(req, res).catch((error: unknown) => {
        log(`gateway: ${req.method} ${req.url} failed: ${(error as Error).stack ?? String(error)}`);
        if (!res.headersSent) sendJson(res, 500, { error: (error as Error).message });
        else res.destroy();
      });
    };

  const proxyServer = http.createServer(guard(proxy.handle));
  const adminServer = http.createServer(guard(admin));

  const listen = (server: http.Server, port: number, host: string): Promise<string> =>
    new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        const address = server.address() as AddressInfo;
        resolve(`http://${host.includes(':') ? `[${host}]` : host}:${address.port}`);
      });
    });

  let url: string;
  let adminUrl: string;
  try {
    url = await listen(proxyServer, options.port, host);
    adminUrl = await listen(adminServer, options.adminPort, adminHost);
  } catch (error) {
    discovery?.stop();
    proxyServer.close();
    adminServer.close();
    proxy.close();
    throw error;
  }

  return {
    url,
    adminUrl,
    async close() {
      discovery?.stop();
      const servers = [proxyServer, adminServer];
      const closed = Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
      for (const s of servers) s.closeIdleConnections();
      const grace = setTimeout(() => servers.forEach((s) => s.closeAllConnections()), 2000);
      await closed;
      clearTimeout(grace);
      proxy.close();
    },
  };
}
