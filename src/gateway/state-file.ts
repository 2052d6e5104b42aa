/**
 * The gateway's routing table on disk: `<stateDir>/gateway-state.json`. Written before a change
 * takes effect (write to a temporary file, then rename), read at start, so a restarted gateway
 * routes exactly as before. Endpoints discovered from the engine are not stored: they are read
 * again from the engine's labels.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type TrafficState, formatTrafficIssues, parseTrafficState } from '../shared/traffic-state';

export interface GatewayState {
  /** model → the routing in force */
  models: Record<string, TrafficState>;
  /** model → version → base URLs given through the admin API (for versions not on the Docker engine) */
  staticEndpoints: Record<string, Record<string, string[]>>;
}

const FILE = 'gateway-state.json';
const FORMAT = 1;

/** Path of the state file in `stateDir`. */
export function stateFilePath(stateDir: string): string {
  return path.join(stateDir, FILE);
}

/** Reads the state; an absent file is an empty state. Throws when the file exists but is not a gateway state or routes a model as a PUT would refuse. */
export async function loadState(stateDir: string): Promise<GatewayState> {
  let text: string;
  try {
    text = await readFile(stateFilePath(stateDir), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { models: {}, staticEndpoints: {} };
    throw error;
  }
  const parsed = JSON.parse(text) as { format?: number; models?: Record<string, unknown>; staticEndpoints?: GatewayState['staticEndpoints'] };
  if (parsed.format !== FORMAT || typeof parsed.models !== 'object') {
    throw new Error(`${stateFilePath(stateDir)} is not a tandem gateway state (format ${FORMAT}); move it away to start empty`);
  }
  // Checked with the admin API's own schema: a hand-edited file must not route what a PUT would refuse.
  const models: Record<string, TrafficState> = {};
  for (const [model, traffic] of Object.entries(parsed.models ?? {})) {
    const result = parseTrafficState(traffic);
    if (!result.state) throw new Error(`${stateFilePath(stateDir)}: models.${model}: ${formatTrafficIssues(result.issues)}`);
    models[model] = result.state;
  }
  return { models, staticEndpoints: parsed.staticEndpoints ?? {} };
}

/** Writes the state atomically (temporary file + rename), creating `stateDir` when needed. */
export async function saveState(stateDir: string, state: GatewayState): Promise<void> {
  await mkdir(stateDir, { recursive: true });
  const target = stateFilePath(stateDir);
  const temporary = `${target}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify({ format: FORMAT, ...state }, null, 2)}\n`);
  await rename(temporary, target);
}
