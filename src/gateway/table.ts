/**
 * The routing table both servers share: the state in force (persisted in gateway-state.json) and
 * where each version's replicas are. The proxy only reads it; the admin API changes it one change
 * at a time, persisting before swapping it whole, so in-flight requests finish on the replica
 * they were sent to.
 */
import type { EndpointDiscovery, RouteDiscovery } from './discovery';
import { type GatewayState, saveState } from './state-file';

export interface RoutingTable {
  /** The state in force; replaced whole by commit(), never changed in place. */
  current(): GatewayState;
  /** Base URLs of a version's replicas: given through the admin API, else discovered on the engine. */
  endpointsOf(model: string, version: string): string[];
  /** Runs `work` after every change queued before it, so changes never interleave. */
  serialized<T>(work: () => Promise<T>): Promise<T>;
  /** Persists `next`, then makes it the state in force. Throws (and keeps the old state) when it cannot be written. */
  commit(next: GatewayState): Promise<void>;
}

/** A table starting at `initial`, persisted in `stateDir`, with replicas from `discovery` when given. */
export function createRoutingTable(initial: GatewayState, stateDir: string, discovery: EndpointDiscovery | undefined): RoutingTable {
  let state = initial;
  let queue: Promise<unknown> = Promise.resolve();
  return {
    current: () => state,
    endpointsOf: (model, version) => state.staticEndpoints[model]?.[version] ?? discovery?.endpoints(model, version) ?? [],
    serialized<T>(work: () => Promise<T>): Promise<T> {
      const run = queue.then(work, work);
      queue = run.catch(() => undefined);
      return run;
    },
    async commit(next) {
      await saveState(stateDir, next);
      state = next;
    },
  };
}

/**
 * A table whose routes and endpoints are the discovery's (Kubernetes: HTTPRoutes and
 * EndpointSlices). Nothing is persisted: the cluster holds the state. commit() throws, since
 * routes are changed in the cluster, not here.
 */
export function createDiscoveredRoutingTable(discovery: RouteDiscovery): RoutingTable {
  const noStaticEndpoints = {};
  let seen: Record<string, GatewayState['models'][string]> | undefined;
  let state: GatewayState = { models: {}, staticEndpoints: noStaticEndpoints };
  let queue: Promise<unknown> = Promise.resolve();
  return {
    current() {
      const models = discovery.routes();
      if (models !== seen) {
        seen = models;
        state = { models, staticEndpoints: noStaticEndpoints };
      }
      return state;
    },
    endpointsOf: (model, version) => discovery.endpoints(model, version),
    serialized<T>(work: () => Promise<T>): Promise<T> {
      const run = queue.then(work, work);
      queue = run.catch(() => undefined);
      return run;
    },
    commit() {
      return Promise.reject(new Error(`routes come from ${discovery.routesFrom}; change them there`));
    },
  };
}
