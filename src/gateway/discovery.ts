/**
 * Where the gateway learns what to route, one implementation per backend:
 *   docker/      the Docker engine's container labels give each version's replica endpoints;
 *                routes are set through the admin API (tandem's gateway router does);
 *   kubernetes/  a Gateway API data plane: HTTPRoutes of the Gateways of one GatewayClass give
 *                the routes, EndpointSlices of their backend Services the endpoints.
 * The proxy and the admin API only see these interfaces.
 */
import type { TrafficState } from '../shared/traffic-state';

/** model → version → base URLs of its running replicas */
export type EndpointTable = Map<string, Map<string, string[]>>;

/** Replica endpoints of every version, kept current by following the backend. */
export interface EndpointDiscovery {
  /** Reads the backend once, then follows it. Rejects when the first read fails for good. */
  start(): Promise<void>;
  stop(): void;
  /** Base URLs of the version's ready replicas (empty when none). */
  endpoints(model: string, version: string): string[];
  /** The whole table, for the admin API and the endpoint gauges. */
  snapshot(): EndpointTable;
  /** Brings the table up to date with the backend now. */
  refresh(): Promise<void>;
}

/**
 * A discovery that also owns the routes (Kubernetes: HTTPRoutes). The gateway then routes what
 * it says and the admin API cannot change routes or endpoints.
 */
export interface RouteDiscovery extends EndpointDiscovery {
  /** model → the routing in force; the same object until the routes change. */
  routes(): Record<string, TrafficState>;
  /** where routes come from, for messages (`HTTPRoutes of GatewayClass "tandem"`) */
  readonly routesFrom: string;
}

export function isRouteDiscovery(discovery: EndpointDiscovery | undefined): discovery is RouteDiscovery {
  return !!discovery && typeof (discovery as Partial<RouteDiscovery>).routes === 'function';
}
