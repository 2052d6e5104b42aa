/**
 * Whether a replica serves: the HTTP health check waitReady and endpoint use, and the cheaper
 * engine-state-plus-TCP check list uses.
 */
import { Socket } from 'node:net';
import { describeNetworkError, fetchText } from '../../shared/http';
import { Label } from '../../naming/docker';
import type { Replica } from './replicas';

/** How long readyByState waits for a replica's port to accept a TCP connection before trusting the engine's state. */
const CONNECT_TIMEOUT_MS = 500;

/** HTTP GET of the replica's health path through its published port; `detail` says what answered. */
export async function probeReplica(replica: Replica, timeoutMs: number): Promise<{ ok: boolean; detail: string }> {
  if (replica.state !== 'running') return { ok: false, detail: `${replica.name} is ${replica.state}` };
  if (!replica.hostPort) return { ok: false, detail: `${replica.name} has no published port yet` };
  const path = replica.labels[Label.healthPath] ?? '/healthz';
  const url = `http://127.0.0.1:${replica.hostPort}${path}`;
  try {
    const { response } = await fetchText(url, timeoutMs);
    if (response.ok) return { ok: true, detail: `${replica.name}: GET ${path} → ${response.status}` };
    return { ok: false, detail: `${replica.name}: GET ${path} → status ${response.status}` };
  } catch (error) {
    return { ok: false, detail: `${replica.name}: GET ${path} → ${describeNetworkError(error)}` };
  }
}

/**
 * Whether a replica is ready by the engine's account plus a cheap check: running, not failing or
 * still starting a Docker health check, and its model port not refusing TCP connections on the
 * network. An address that does not answer within CONNECT_TIMEOUT_MS (not reachable from here)
 * leaves the engine's state to decide.
 */
export async function readyByState(replica: Replica): Promise<boolean> {
  if (replica.state !== 'running' || /\((unhealthy|health: starting)\)/.test(replica.status)) return false;
  const port = Number(replica.labels[Label.port]);
  if (!replica.address || !port) return true;
  return (await connect(replica.address, port, CONNECT_TIMEOUT_MS)) !== 'refused';
}

/** Opens and closes one TCP connection: `open`, `refused`, or `unknown` (timeout, unreachable). */
function connect(host: string, port: number, timeoutMs: number): Promise<'open' | 'refused' | 'unknown'> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (result: 'open' | 'refused' | 'unknown') => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(timeoutMs, () => done('unknown'));
    socket.once('connect', () => done('open'));
    socket.once('error', (error: NodeJS.ErrnoException) => done(error.code === 'ECONNREFUSED' ? 'refused' : 'unknown'));
    socket.connect(port, host);
  });
}
