/**
 * The Docker engine's part of buildImage: one build with the legacy builder and one push, each
 * read from the engine's JSON progress stream (build-stream.ts reads a build's), and the verdict
 * on a failure (verdict.ts) — a Dockerfile step that failed (BuildFailed: retrying cannot fix it)
 * or an engine or registry that went away (retryable: the next attempt, once they are back,
 * succeeds).
 */
import { CancelledFailure } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type Docker from 'dockerode';
import { FailureType } from '../../errors';
import { followStream, statusOf } from '../docker/engine';
import { BuildStream, errorOf, exitCodeOf, stepFailureMessage } from './build-stream';
import { RegistryUnavailable, type Credentials } from './registry';
import { judgeFailure } from './verdict';

/** Type of the retryable failure thrown when the Docker engine cannot be reached or drops a build or push. */
export const DockerUnavailable = 'DockerUnavailable';

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

export interface BuildOptions {
  t: string;
  buildargs: Record<string, string>;
  labels: Record<string, string>;
  /** build every step again, without the engine's layer cache */
  nocache?: boolean;
  signal: AbortSignal;
  onStep: (step: number, of: number) => void;
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
  const progress = new BuildStream();
  const at = (word: string) => (progress.step ? ` ${word} step ${progress.step.n}/${progress.step.of}` : '');
  try {
    const stream = await docker.buildImage(context, {
      t: opts.t,
      buildargs: opts.buildargs,
      labels: opts.labels,
      rm: true,
      forcerm: true,
      ...(opts.nocache ? { nocache: true } : {}),
      abortSignal: opts.signal,
    });
    await followStream(
      docker,
      stream,
      (message) => {
        const started = progress.read(message);
        if (started) opts.onStep(started.n, started.of);
      },
      opts.signal,
    );
  } catch (err) {
    if (opts.signal.aborted) throw cancelled(opts.signal);
    const status = statusOf(err);
    if (status !== undefined && status >= 400 && status < 500) {
      throw ApplicationFailure.nonRetryable(`the Docker engine refused the build: ${(err as Error).message}`, FailureType.BuildFailed);
    }
    throw ApplicationFailure.retryable(`Docker engine dropped the build${at('at')}: ${(err as Error).message}`, DockerUnavailable);
  }
  if (opts.signal.aborted) throw cancelled(opts.signal);
  const { step, failure, log } = progress;
  if (failure) {
    const exitCode = exitCodeOf(failure);
    const verdict = await judgeFailure(docker, failure, exitCode, step?.container, since);
    if (verdict.engine) {
      throw ApplicationFailure.retryable(`Docker engine failed the build${at('at')}: ${failure} (${verdict.engine})`, DockerUnavailable);
    }
    throw ApplicationFailure.nonRetryable(stepFailureMessage(progress, failure, exitCode, verdict.oom ?? false), FailureType.BuildFailed, {
      step: step?.n,
      of: step?.of,
      instruction: step?.instruction,
      exitCode,
      log,
    });
  }
  if (!progress.imageId) {
    throw ApplicationFailure.retryable(`Docker engine ended the build without a final status${at('after')}`, DockerUnavailable);
  }
  return progress.imageId;
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
    for (const message of await followStream(docker, stream as unknown as NodeJS.ReadableStream, undefined, signal)) {
      const aux = message.aux as { Digest?: string } | undefined;
      if (aux?.Digest) digest = aux.Digest;
      if (message.error || message.errorDetail) failure = errorOf(message);
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
