/**
 * The fault tests' own Docker engine and registry (scripts/docker-fault-engine.sh): a second
 * dockerd on its own socket, data root and bridge, and a second registry on its own port, which a
 * test may stop, SIGKILL and restart. The shared engine and registry of scripts/docker-up.sh are
 * never touched.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';

const SCRIPT = join(__dirname, '..', '..', 'scripts', 'docker-fault-engine.sh');
const run = promisify(execFile);

/** Socket of the test-owned engine. */
export const FAULT_SOCKET = '/run/tandem-fault/docker.sock';
/** Address of the test-owned registry. */
export const FAULT_REGISTRY = '127.0.0.1:5055';

export type FaultCommand = 'start' | 'stop' | 'kill' | 'registry-start' | 'registry-stop' | 'down';

/**
 * Runs one command of scripts/docker-fault-engine.sh and resolves when it is done: `start` when
 * the engine answers, `stop` and `kill` when dockerd is gone. `registryRoot` is where the
 * registry keeps its images.
 */
export async function fault(command: FaultCommand, registryRoot?: string): Promise<void> {
  const env = { ...process.env, FAULT_REGISTRY_ADDR: FAULT_REGISTRY, ...(registryRoot ? { FAULT_REGISTRY_ROOT: registryRoot } : {}) };
  await run('bash', [SCRIPT, command], { env, timeout: 180_000 });
}

/** A client of the test-owned engine. */
export function faultDocker(): Docker {
  return new Docker({ socketPath: FAULT_SOCKET });
}

/**
 * Pid of the test-owned registry, for a test that must stop it at an exact moment (a signal from
 * here is immediate; the script is not).
 */
export function faultRegistryPid(): number {
  const home = process.env.TANDEM_HOME ?? join(homedir(), '.cache', 'tandem');
  return Number(readFileSync(join(home, 'fault', 'registry.pid'), 'utf8').trim());
}
