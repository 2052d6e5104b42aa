/**
 * Whose fault a failed build step is: the Dockerfile's (BuildFailed, retrying cannot fix it) or
 * the engine's (it was stopping, lost its network, or killed the step's container from outside).
 */
import type Docker from 'dockerode';
import { followStream } from '../docker/engine';

/**
 * Failure messages that come from the engine or the network, not from the Dockerfile: the engine
 * shutting down or losing containerd, a registry (of a FROM image) that cannot be reached.
 */
const ENGINE_TROUBLE =
  /context canceled|shutting down|connection reset|connection refused|broken pipe|transport is closing|rpc error: code = (unavailable|canceled|deadlineexceeded)|unexpected eof|i\/o timeout|tls handshake timeout|no space left|cannot connect to the docker daemon|\b50[234]\b|toomanyrequests/i;

/** Exit codes of a step killed by SIGKILL or SIGTERM: what an engine that stops does to its containers. */
const KILLED = new Set([137, 143]);

/** True when the engine answers a ping within `timeoutMs`. */
export async function engineAlive(docker: Docker, timeoutMs: number): Promise<boolean> {
  try {
    await docker.ping({ abortSignal: AbortSignal.timeout(timeoutMs) } as never);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether a failure the build stream reported is the engine's (`engine` says why) or the
 * Dockerfile's. The engine's: a message of engine or network trouble, an engine that no longer
 * answers, or a step container that got a `kill` event (an engine that shuts down stops its
 * containers, and the step then fails with whatever exit code the signal left) or was killed by
 * SIGKILL/SIGTERM without running out of memory. A step that ran out of memory is the Dockerfile's.
 */
export async function judgeFailure(
  docker: Docker,
  message: string,
  exitCode: number | undefined,
  container: string | undefined,
  since: number,
): Promise<{ engine?: string; oom?: boolean }> {
  // A failed RUN step's message quotes the command, which may say anything: judge it by what happened instead.
  if (exitCode === undefined && ENGINE_TROUBLE.test(message)) return { engine: 'engine or network trouble' };
  if (!(await engineAlive(docker, 3_000))) return { engine: 'the engine no longer answers' };
  if (exitCode === undefined) return {};
  let events: DockerEvent[] = [];
  if (container) {
    try {
      events = await containerEvents(docker, container, since);
    } catch (err) {
      return { engine: `the engine's events cannot be read: ${(err as Error).message}` };
    }
  }
  return judgeStepEvents(exitCode, events);
}

/** An engine event, as much of it as the verdict reads. */
export interface DockerEvent {
  Action?: string;
  Actor?: { Attributes?: Record<string, string> };
}

/** The verdict on a step that exited with `exitCode`, from its container's `kill` and `oom` events. Pure. */
export function judgeStepEvents(exitCode: number, events: readonly DockerEvent[]): { engine?: string; oom?: boolean } {
  if (events.some((e) => e.Action === 'oom')) return { oom: true };
  const kill = events.find((e) => e.Action === 'kill');
  if (kill) return { engine: `the step's container got signal ${kill.Actor?.Attributes?.signal ?? '?'} from outside the build: the engine was stopping or someone killed it` };
  if (KILLED.has(exitCode)) return { engine: `the step was killed by signal ${exitCode - 128}` };
  return {};
}

/** The engine's `kill` and `oom` events of one container since `since` (seconds). */
async function containerEvents(docker: Docker, container: string, since: number): Promise<DockerEvent[]> {
  const stream = (await docker.getEvents({
    since,
    until: Math.ceil(Date.now() / 1000),
    filters: { container: [container], event: ['kill', 'oom'] },
    abortSignal: AbortSignal.timeout(5_000),
  } as never)) as unknown as NodeJS.ReadableStream;
  return (await followStream(docker, stream)) as DockerEvent[];
}
