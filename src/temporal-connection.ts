/**
 * How every tandem process finds Temporal, the Temporal way (@temporalio/envconfig): a profile in
 * the TOML configuration file (TEMPORAL_CONFIG_FILE, else the platform default such as
 * ~/.config/temporalio/temporal.toml; TEMPORAL_PROFILE picks one), overridden by TEMPORAL_ADDRESS,
 * TEMPORAL_NAMESPACE, TEMPORAL_API_KEY and the TEMPORAL_TLS_* variables, the same settings the
 * Temporal CLI reads. Explicit options (tests, embedding) win over both.
 */
import { loadClientConnectConfig } from '@temporalio/envconfig';
import type { NativeConnectionOptions } from '@temporalio/worker';

export interface TemporalTarget {
  /** options for Connection.connect (client) and NativeConnection.connect (worker) */
  connection: NativeConnectionOptions & { address: string };
  namespace: string;
}

export const DEFAULT_TEMPORAL_ADDRESS = 'localhost:7233';

/** The connection settings in force; throws when the profile file is unreadable or names a missing profile. */
export function temporalTarget(overrides: { address?: string; namespace?: string } = {}): TemporalTarget {
  const loaded = loadClientConnectConfig();
  const connection = { ...loaded.connectionOptions, address: overrides.address ?? loaded.connectionOptions.address ?? DEFAULT_TEMPORAL_ADDRESS };
  return { connection, namespace: overrides.namespace ?? loaded.namespace ?? 'default' };
}
