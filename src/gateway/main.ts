/**
 * The gateway as a long-running process: `tandem gateway` (src/cli/program.ts parses the options).
 * The Docker engine is DOCKER_HOST or the local socket.
 */
import Docker from 'dockerode';
import { resolveAdminToken } from './admin-token';
import { startGateway } from './server';

export interface RunGatewayOptions {
  port: number;
  adminPort: number;
  host: string;
  adminHost: string;
  /** environment variable holding the admin token; unset: a token is generated into the state directory */
  adminTokenEnv: string;
  stateDir: string;
  upstreamTimeoutMs: number;
}

/**
 * Starts the gateway against the engine at DOCKER_HOST (dockerode reads it; else the local
 * socket), prints where it listens and where its admin token is (never the token), serves until
 * SIGINT or SIGTERM, then closes gracefully (in-flight requests get up to 2 s) and resolves.
 * Throws when a port is taken or the state file is unreadable.
 */
export async function runGateway(options: RunGatewayOptions): Promise<void> {
  const { token, source } = await resolveAdminToken(options.stateDir, options.adminTokenEnv);
  const gateway = await startGateway({ ...options, adminToken: token, docker: new Docker() });
  process.stdout.write(
    `tandem gateway: models at ${gateway.url}/<model>/...; admin API ${gateway.adminUrl}/_tandem/ (bearer token in ${source}); ` +
      `metrics ${gateway.adminUrl}/metrics; state in ${options.stateDir}\n`,
  );
  const signal = await untilSignal('SIGINT', 'SIGTERM');
  process.stdout.write(`tandem gateway: ${signal}, closing\n`);
  await gateway.close();
}

/** Resolves with the first of `signals` this process receives (and stops listening for the others). */
function untilSignal(...signals: NodeJS.Signals[]): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals): void => {
      for (const s of signals) process.off(s, on);
      resolve(signal);
    };
    for (const s of signals) process.on(s, on);
  });
}
