/**
 * The buildImage activity: builds a version's image on a Docker engine from exactly the files of
 * its commit, pushes it to the environment's registry under `<model>:<version>` and
 * `<model>:commit-<sha12>`, and returns the digest the registry serves. An image already in the
 * registry for the same commit is reused, not rebuilt.
 */
import { CancelledFailure, Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type Docker from 'dockerode';
import { FailureType } from '../../errors';
import { commitTag, imageTag } from '../../naming/docker';
import type { BuildImageInput, BuiltImage } from '../types';
import { buildContext } from './context';
import { RegistryClient, registryCredentials, RegistryUnavailable, type Credentials, type RegistrySettings } from './registry';

export { RegistryClient, registryCredentials, type RegistrySettings } from './registry';

/** Type of the retryable failure thrown when the Docker engine cannot be reached or drops a build or push. */
const DockerUnavailable = 'DockerUnavailable';

export interface ImageActivityDeps {
  /** The Docker engine that builds and pushes. */
  docker: Docker;
  /** The environment's registry (tandem.config.yaml `environments.<env>.registry`). */
  registry: RegistrySettings;
  /** Build arguments for every build (`environments.<env>.build.buildArgs`), e.g. BASE_IMAGE. */
  buildArgs: Record<string, string>;
  /** Cache folder for the bare mirrors of model repositories. */
  workDir: string;
}

/** Heartbeat details of buildImage: the phase, and during the build the Dockerfile step. */
export interface BuildProgress {
  phase: 'check' | 'build' | 'push';
  step?: number;
  of?: number;
  /** during push: the tag being pushed */
  tag?: string;
}

const HEARTBEAT_EVERY_MS = 5_000;
const LOG_LINES = 10;

/** A repository URL without any user:password part, fit for labels and messages. */
function publicUrl(repoUrl: string): string {
  return repoUrl.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1');
}

/**
 * Creates the image activities for one environment. Nothing is contacted until an activity runs.
 */
export function createImageActivities(deps: ImageActivityDeps) {
  return {
    /**
     * Builds and pushes the image of `input.commit` and returns `<registry>/<model>:<version>`
     * with the registry's manifest digest.
     *
     * Idempotent: the registry tag `<model>:commit-<sha12>` marks a finished build (it is pushed
     * last). When it exists, nothing is built: the version tag is pointed at the same manifest
     * (a manifest copy inside the registry) and `built: false` is returned with that digest.
     * A retried attempt after a partial run rebuilds from the engine's layer cache.
     *
     * Heartbeats `{ phase, step, of }` as the Dockerfile steps go by, and every few seconds in
     * between. Cancellation aborts the build request (the engine stops the build) and throws
     * CancelledFailure; nothing is pushed after a cancellation.
     *
     * Throws non-retryable failures: BuildFailed when a Dockerfile step fails (the message names
     * the step and ends with the last lines of the build log), RepositoryUnreadable when the
     * commit cannot be read, PermissionDenied when the registry refuses the credentials.
     * Throws retryable DockerUnavailable / RegistryUnavailable failures when the engine or the
     * registry cannot be reached or drop the connection. Credentials never appear in messages,
     * logs or the result.
     */
    async buildImage(input: BuildImageInput): Promise<BuiltImage> {
      const ctx = Context.current();
      const signal = ctx.cancellationSignal;
      const credentials = registryCredentials(deps.registry);
      const registry = new RegistryClient(deps.registry, credentials);
      const { model, commit } = input;
      const versionTag = imageTag(input.version);
      const markerTag = commitTag(commit);
      const image = registry.reference(model, versionTag);
      const repo = image.slice(0, image.lastIndexOf(':'));

      let progress: BuildProgress = { phase: 'check' };
      const beat = (next?: BuildProgress) => {
        if (next) progress = next;
        ctx.heartbeat(progress);
      };
      beat();
      const ticker = setInterval(() => beat(), HEARTBEAT_EVERY_MS);
      try {
        const existing = await registry.manifestDigest(model, markerTag, signal);
        if (existing) {
          const current = await registry.manifestDigest(model, versionTag, signal);
          if (current !== existing) await registry.copyTag(model, markerTag, versionTag, signal);
          ctx.log.info(`image for ${model} ${input.version} (commit ${commit.slice(0, 12)}) already in the registry: ${image}@${existing}`);
          return { image, digest: existing, built: false };
        }

        await ping(deps.docker);
        const context = await buildContext(input.repoUrl, commit, deps.workDir, signal);
        ctx.log.info(`building ${image} from ${publicUrl(input.repoUrl)} at ${commit.slice(0, 12)}`);
        const imageId = await build(deps.docker, context.tar, {
          t: `${repo}:${markerTag}`,
          buildargs: { ...deps.buildArgs, TANDEM_MODEL: model, TANDEM_VERSION: input.version, TANDEM_COMMIT: commit },
          labels: {
            'tandem.model': model,
            'tandem.version': input.version,
            'tandem.commit': commit,
            'tandem.source': publicUrl(input.repoUrl),
            'tandem.release': input.releaseId,
          },
          signal,
          onStep: (step, of) => beat({ phase: 'build', step, of }),
        });
        throwIfCancelled(signal);
        await deps.docker.getImage(imageId).tag({ repo, tag: versionTag });

        // Version tag first, the commit marker last: the marker means "everything is pushed".
        const pushed: Record<string, string> = {};
        for (const tag of [versionTag, markerTag]) {
          throwIfCancelled(signal);
          beat({ phase: 'push', tag });
          pushed[tag] = await push(deps.docker, repo, tag, credentials, registry.host, signal);
        }
        const served = await registry.manifestDigest(model, versionTag, signal);
        if (!served || served !== pushed[versionTag] || served !== pushed[markerTag]) {
          throw ApplicationFailure.retryable(
            `registry ${registry.host} serves ${served ?? 'nothing'} for ${model}:${versionTag} after pushing ${pushed[versionTag]}`,
            RegistryUnavailable,
          );
        }
        ctx.log.info(`pushed ${image}@${served}`);
        return { image, digest: served, built: true };
      } catch (err) {
        if (signal.aborted) throw cancelled(signal);
        throw err;
      } finally {
        clearInterval(ticker);
      }
    },
  };
}

function cancelled(signal: AbortSignal): CancelledFailure {
  return signal.reason instanceof CancelledFailure ? signal.reason : new CancelledFailure('image build cancelled');
}

function throwIfCancelled(signal: AbortSignal): void {
  if (signal.aborted) throw cancelled(signal);
}

async function ping(docker: Docker): Promise<void> {
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
  for await (const chunk of stream) {
    buffered += chunk.toString();
    let newline: number;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, newline).trim();
      buffered = buffered.slice(newline + 1);
      if (!line) continue;
      try {
        yield JSON.parse(line) as Record<string, unknown>;
      } catch {
        yield { stream: line };
      }
    }
  }
  if (buffered.trim()) {
    try {
      yield JSON.parse(buffered) as Record<string, unknown>;
    } catch {
      yield { stream: buffered };
    }
  }
}

/** Engine messages that mean the engine, not the Dockerfile, gave up. */
const ENGINE_TROUBLE = /context canceled|shutting down|connection reset|broken pipe|transport is closing|no space left|cannot connect to the docker daemon/i;

interface BuildOptions {
  t: string;
  buildargs: Record<string, string>;
  labels: Record<string, string>;
  signal: AbortSignal;
  onStep: (step: number, of: number) => void;
}

/**
 * Runs one build with the legacy builder (its JSON stream names each "Step n/m"), returns the
 * image id. Throws BuildFailed (non-retryable) for a failing Dockerfile step, DockerUnavailable
 * (retryable) when the engine drops the build.
 */
async function build(docker: Docker, context: NodeJS.ReadableStream, opts: BuildOptions): Promise<string> {
  const log: string[] = [];
  let step: { n: number; of: number; instruction: string } | undefined;
  let imageId: string | undefined;
  let failure: { message: string; code?: number } | undefined;
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
      if (msg.error || msg.errorDetail) {
        const detail = (msg.errorDetail ?? {}) as { message?: string; code?: number };
        failure = { message: String(detail.message ?? msg.error), code: detail.code };
      }
    }
  } catch (err) {
    if (opts.signal.aborted) throw cancelled(opts.signal);
    throw ApplicationFailure.retryable(`Docker engine dropped the build${step ? ` at step ${step.n}/${step.of}` : ''}: ${(err as Error).message}`, DockerUnavailable);
  }
  if (opts.signal.aborted) throw cancelled(opts.signal);
  if (failure) {
    if (ENGINE_TROUBLE.test(failure.message) || !(await engineAlive(docker))) {
      throw ApplicationFailure.retryable(`Docker engine failed the build${step ? ` at step ${step.n}/${step.of}` : ''}: ${failure.message}`, DockerUnavailable);
    }
    const exit = /returned a non-zero code: (\d+)/.exec(failure.message);
    const what = exit ? `exit code ${exit[1]}` : failure.message;
    const where = step ? `step ${step.n}/${step.of} "${step.instruction}"` : 'the build';
    throw ApplicationFailure.nonRetryable(`${where} failed: ${what}\n${log.join('\n')}`, FailureType.BuildFailed, {
      step: step?.n,
      of: step?.of,
      instruction: step?.instruction,
      exitCode: exit ? Number(exit[1]) : undefined,
      log,
    });
  }
  if (!imageId) {
    throw ApplicationFailure.retryable(`Docker engine ended the build without an image${step ? ` after step ${step.n}/${step.of}` : ''}`, DockerUnavailable);
  }
  return imageId;
}

/** Pushes `<repo>:<tag>` and returns the manifest digest the engine reports. */
async function push(docker: Docker, repo: string, tag: string, credentials: Credentials | undefined, serveraddress: string, signal: AbortSignal): Promise<string> {
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
