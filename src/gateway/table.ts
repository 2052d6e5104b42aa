/**
 * The routing table both servers share: the state in force (persisted in gateway-state.json) and
 * where each version's replicas are. The proxy only reads it; the admin API changes it one change
 * at a time, persisting before swapping it whole, so in-flight requests finish on the replica
 * they were sent to.
 */
import type { DockerDiscovery } from './discovery';
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
export function createRoutingTable(initial: GatewayState, stateDir: string, discovery: DockerDiscovery | undefined): RoutingTable {
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
