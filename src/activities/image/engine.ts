/**
 * The Docker engine's part of buildImage: one build with the legacy builder and one push, each
 * read from the engine's JSON progress stream, and the verdict on a failure — a Dockerfile step
 * that failed (BuildFailed: retrying cannot fix it) or an engine or registry that went away
 * (retryable: the next attempt, once they are back, succeeds).
 */
import { CancelledFailure } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type Docker from 'dockerode';
import { FailureType } from '../../errors';
import { RegistryUnavailable, type Credentials } from './registry';

/** Type of the retryable failure thrown when the Docker engine cannot be reached or drops a build or push. */
export const DockerUnavailable = 'DockerUnavailable';

const LOG_LINES = 10;

/**
 * Failure messages that come from the engine or the network, not from the Dockerfile: the engine
 * shutting down or losing containerd, a registry (of a FROM image) that cannot be reached.
 */
const ENGINE_TROUBLE =
  /context canceled|shutting down|connection reset|connection refused|broken pipe|transport is closing|rpc error: code = (unavailable|canceled|deadlineexceeded)|unexpected eof|i\/o timeout|tls handshake timeout|no space left|cannot connect to the docker daemon|\b50[234]\b|toomanyrequests/i;

/** Exit codes of a step killed by SIGKILL or SIGTERM: what an engine that stops does to its containers. */
const KILLED = new Set([137, 143]);

export function cancelled(signal: AbortSignal): CancelledFailure {
  return signal.reason instanceof CancelledFailure ? signal.reason : new CancelledFailure('image build cancelled');
}

export function throwIfCancelled(signal: AbortSignal): void {
  if (signal.aborted) throw cancelled(signal);
}

/** Throws a retryable DockerUnavailable failure when the engine does not answer a ping within 10 s. */
export async function ping(docker: Docker): Promise<void> {
  try {
    await docker.ping({ abortSignal: AbortSignal.timeout(10_000) } as never);
  } catch (err) {
    throw ApplicationFailure.retryable(`Docker engine unreachable: ${(err as Error).message}`, DockerUnavailable);
  }
}

/** True when the engine answers a ping within a few seconds. */
async function engineAlive(docker: Docker): Promise<boolean> {
  try {
    await docker.ping({ abortSignal: AbortSignal.timeout(3_000) } as never);
    return true;
  } catch {
    return false;
  }
}

/** Splits a Docker JSON-lines progress stream into messages; transport errors are thrown. */
async function* messages(stream: NodeJS.ReadableStream): AsyncGenerator<Record<string, unknown>> {
  let buffered = '';
  const parse = (line: string): Record<string, unknown> => {
    try {
      return JSON.parse(line) as Record<string, unknown>;
    } catch {
      return { stream: line };
    }
  };
  for await (const chunk of stream) {
    buffered += chunk.toString();
    let newline: number;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, newline).trim();
      buffered = buffered.slice(newline + 1);
      if (line) yield parse(line);
    }
  }
  if (buffered.trim()) yield parse(buffered);
}

function statusOf(err: unknown): number | undefined {
  return (err as { statusCode?: number }).statusCode;
}

export interface BuildOptions {
  t: string;
  buildargs: Record<string, string>;
  labels: Record<string, string>;
  signal: AbortSignal;
  onStep: (step: number, of: number) => void;
}

interface Step {
  n: number;
  of: number;
  instruction: string;
  /** the container the builder runs the step in (" ---> Running in <id>"), for RUN steps */
  container?: string;
}

/**
 * Runs one build with the legacy builder (its JSON stream names each "Step n/m"), returns the
 * image id. Throws BuildFailed (non-retryable) when a Dockerfile step fails on its own or the
 * engine refuses the request (4xx). Throws DockerUnavailable (retryable) when the engine cannot be
 * reached, answers 5xx, drops the stream, ends it without a result, reports trouble of its own
 * (shutting down, context canceled, a registry it cannot reach), or when the failing step's
 * container was killed from outside the build (an engine that stops kills the build's container).
 */
export async function build(docker: Docker, context: NodeJS.ReadableStream, opts: BuildOptions): Promise<string> {
  const since = Math.floor(Date.now() / 1000) - 1;
  const log: string[] = [];
  let step: Step | undefined;
  let imageId: string | undefined;
  let failure: string | undefined;
  const at = (word: string) => (step ? ` ${word} step ${step.n}/${step.of}` : '');
  try {
    const stream = await docker.buildImage(context, {
      t: opts.t,
      buildargs: opts.buildargs,
      labels: opts.labels,
      rm: true,
      forcerm: true,
      abortSignal: opts.signal,
    });
    for await (const msg of messages(stream)) {
      if (typeof msg.stream === 'string') {
        for (const line of msg.stream.split('\n')) {
          const text = line.replace(/\x1b\[[0-9;]*m/g, '').trimEnd();
          const running = /^ ---> Running in ([0-9a-f]+)/.exec(text);
          if (running && step) step.container = running[1];
          if (!text || text.startsWith(' ---> ') || text.startsWith('Removing intermediate container')) continue;
          log.push(text);
          if (log.length > LOG_LINES) log.shift();
          const m = /^Step (\d+)\/(\d+) : (.*)$/.exec(text);
          if (m) {
            step = { n: Number(m[1]), of: Number(m[2]), instruction: m[3]! };
            opts.onStep(step.n, step.of);
          }
          const built = /^Successfully built ([0-9a-f]+)/.exec(text);
          if (built) imageId = built[1];
        }
      }
      const aux = msg.aux as { ID?: string } | undefined;
      if (aux?.ID) imageId = aux.ID;
      if (msg.error || msg.errorDetail) failure = String((msg.errorDetail as { message?: string } | undefined)?.message ?? msg.error);
    }
  } catch (err) {
    if (opts.signal.aborted) throw cancelled(opts.signal);
    const status = statusOf(err);
    if (status !== undefined && status >= 400 && status < 500) {
      throw ApplicationFailure.nonRetryable(`the Docker engine refused the build: ${(err as Error).message}`, FailureType.BuildFailed);
    }
    throw ApplicationFailure.retryable(`Docker engine dropped the build${at('at')}: ${(err as Error).message}`, DockerUnavailable);
  }
  if (opts.signal.aborted) throw cancelled(opts.signal);
  if (failure) {
    const exit = /returned a non-zero code: (\d+)/.exec(failure);
    const exitCode = exit ? Number(exit[1]) : undefined;
    const verdict = await judgeFailure(docker, failure, exitCode, step?.container, since);
    if (verdict.engine) {
      throw ApplicationFailure.retryable(`Docker engine failed the build${at('at')}: ${failure} (${verdict.engine})`, DockerUnavailable);
    }
    const what = exitCode === undefined ? failure : `exit code ${exitCode}${verdict.oom ? ' (out of memory)' : ''}`;
    const where = step ? `step ${step.n}/${step.of} "${step.instruction}"` : 'the build';
    throw ApplicationFailure.nonRetryable(`${where} failed: ${what}${log.length ? `\n${log.join('\n')}` : ''}`, FailureType.BuildFailed, {
      step: step?.n,
      of: step?.of,
      instruction: step?.instruction,
      exitCode,
      log,
    });
  }
  if (!imageId) {
    throw ApplicationFailure.retryable(`Docker engine ended the build without a final status${at('after')}`, DockerUnavailable);
  }
  return imageId;
}

/**
 * Whether a failure the build stream reported is the engine's (`engine` says why) or the
 * Dockerfile's. The engine's: a message of engine or network trouble, an engine that no longer
 * answers, or a step container that got a `kill` event (an engine that shuts down stops its
 * containers, and the step then fails with whatever exit code the signal left) or was killed by
 * SIGKILL/SIGTERM without running out of memory. A step that ran out of memory is the Dockerfile's.
 */
async function judgeFailure(
  docker: Docker,
  message: string,
  exitCode: number | undefined,
  container: string | undefined,
  since: number,
): Promise<{ engine?: string; oom?: boolean }> {
  // A failed RUN step's message quotes the command, which may say anything: judge it by what happened instead.
  if (exitCode === undefined && ENGINE_TROUBLE.test(message)) return { engine: 'engine or network trouble' };
  if (!(await engineAlive(docker))) return { engine: 'the engine no longer answers' };
  if (exitCode === undefined) return {};
  let events: DockerEvent[] = [];
  if (container) {
    try {
      events = await containerEvents(docker, container, since);
    } catch (err) {
      return { engine: `the engine's events cannot be read: ${(err as Error).message}` };
    }
  }
  if (events.some((e) => e.Action === 'oom')) return { oom: true };
  const kill = events.find((e) => e.Action === 'kill');
  if (kill) return { engine: `the step's container got signal ${kill.Actor?.Attributes?.signal ?? '?'} from outside the build: the engine was stopping or someone killed it` };
  if (KILLED.has(exitCode)) return { engine: `the step was killed by signal ${exitCode - 128}` };
  return {};
}

interface DockerEvent {
  Action?: string;
  Actor?: { Attributes?: Record<string, string> };
}

/** The engine's `kill` and `oom` events of one container since `since` (seconds). */
async function containerEvents(docker: Docker, container: string, since: number): Promise<DockerEvent[]> {
  const stream = (await docker.getEvents({
    since,
    until: Math.ceil(Date.now() / 1000),
    filters: { container: [container], event: ['kill', 'oom'] },
    abortSignal: AbortSignal.timeout(5_000),
  } as never)) as unknown as NodeJS.ReadableStream;
  const events: DockerEvent[] = [];
  for await (const event of messages(stream)) events.push(event as DockerEvent);
  return events;
}

/**
 * Pushes `<repo>:<tag>` and returns the manifest digest the engine reports. Throws a
 * non-retryable PermissionDenied failure when the registry refuses the credentials; retryable
 * DockerUnavailable / RegistryUnavailable failures for everything else.
 */
export async function push(docker: Docker, repo: string, tag: string, credentials: Credentials | undefined, serveraddress: string, signal: AbortSignal): Promise<string> {
  const authconfig = credentials ? { username: credentials.username, password: credentials.password, serveraddress } : {};
  let digest: string | undefined;
  let failure: string | undefined;
  try {
    const stream = await docker.getImage(repo).push({ tag, authconfig, abortSignal: signal } as never);
    for await (const msg of messages(stream as unknown as NodeJS.ReadableStream)) {
      const aux = msg.aux as { Digest?: string } | undefined;
      if (aux?.Digest) digest = aux.Digest;
      if (msg.error || msg.errorDetail) failure = String((msg.errorDetail as { message?: string } | undefined)?.message ?? msg.error);
    }
  } catch (err) {
    if (signal.aborted) throw cancelled(signal);
    throw ApplicationFailure.retryable(`Docker engine dropped the push of ${repo}:${tag}: ${(err as Error).message}`, DockerUnavailable);
  }
  if (failure) {
    if (/unauthorized|denied|authentication required/i.test(failure)) {
      throw ApplicationFailure.nonRetryable(`the registry refused the push of ${repo}:${tag}: ${failure}`, FailureType.PermissionDenied);
    }
    throw ApplicationFailure.retryable(`push of ${repo}:${tag} failed: ${failure}`, RegistryUnavailable);
  }
  if (!digest) throw ApplicationFailure.retryable(`push of ${repo}:${tag} ended without a digest`, RegistryUnavailable);
  return digest;
}
