/**
 * The gateway as a process of its own:
 *   tsx src/gateway/main.ts [--port 7070] [--admin-port PORT] [--host 127.0.0.1] [--state-dir DIR]
 * Without --admin-port the admin API (/_tandem/...) and /metrics share the proxy port. The Docker
 * engine is DOCKER_HOST or the local socket. The state directory defaults to
 * $TANDEM_HOME/gateway (TANDEM_HOME defaults to ~/.cache/tandem). Stops on SIGINT/SIGTERM.
 */
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import Docker from 'dockerode';
import { type Gateway, startGateway } from './server';

export interface RunGatewayOptions {
  port: number;
  adminPort?: number;
  host?: string;
  stateDir: string;
}

/**
 * Starts the gateway against the engine at DOCKER_HOST (dockerode reads it; else the local
 * socket), prints where it listens, and closes it on SIGINT/SIGTERM (then exits the process).
 * Used by `tandem gateway` and by this file's command line. Throws when a port is taken or the
 * state file is unreadable.
 */
export async function runGateway(options: RunGatewayOptions): Promise<Gateway> {
  const gateway = await startGateway({ ...options, docker: new Docker() });
  console.log(
    `tandem gateway: models at ${gateway.url}/<model>/..., admin API ${gateway.adminUrl}/_tandem/, metrics ${gateway.adminUrl}/metrics, state in ${options.stateDir}`,
  );
  const stop = (): void => {
    gateway.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return gateway;
}

function portOption(name: string, text: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`${name}: "${text}" is not a port number (0-65535)`);
    process.exit(2);
  }
  return port;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '7070' },
      'admin-port': { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      'state-dir': { type: 'string' },
    },
  });
  const home = process.env.TANDEM_HOME ?? path.join(os.homedir(), '.cache', 'tandem');
  await runGateway({
    port: portOption('--port', values.port!),
    adminPort: values['admin-port'] === undefined ? undefined : portOption('--admin-port', values['admin-port']),
    host: values.host,
    stateDir: values['state-dir'] ?? path.join(home, 'gateway'),
  });
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(`tandem gateway: ${(error as Error).message}`);
    process.exit(1);
  });
}
