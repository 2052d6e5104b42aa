/**
 * The buildImage activity: builds a version's image on a Docker engine from exactly the files of
 * its commit, pushes it to the environment's registry under `<model>:<image tag of the version>`
 * (imageTag in src/naming/docker.ts: the Git tag itself when Docker accepts it, else a cleaned-up
 * form with a hash, so no two Git tags share an image) and `<model>:commit-<sha12>`, and returns
 * the digest the registry serves. An image already in the registry for the same commit is reused,
 * not rebuilt.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type Docker from 'dockerode';
import { commitTag, imageTag } from '../../naming/docker';
import { repositoryOf } from '../../naming/image';
import type { BuildImageInput, BuiltImage } from '../types';
import { buildContext, type BuildContext } from './context';
import { build, cancelled, DockerUnavailable, ping, push, throwIfCancelled } from './engine';
import { RegistryClient, registryCredentials, RegistryUnavailable, type RegistrySettings } from './registry';

export { RegistryClient, registryCredentials, type RegistrySettings } from './registry';

export interface ImageActivityDeps {
  /** The Docker engine that builds and pushes. */
  docker: Docker;
  /** The environment's registry (tandem.config.yaml `environments.<env>.registry`). */
  registry: RegistrySettings;
  /** Build arguments for every build (`environments.<env>.build.buildArgs`), e.g. BASE_IMAGE. */
  buildArgs: Record<string, string>;
  /** Cache folder for the bare mirrors of model repositories. */
  workDir: string;
  /** Build without the engine's layer cache (bench/image-build.ts measures a cold build with it). */
  noCache?: boolean;
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
     * Builds and pushes the image of `input.commit` and returns `<registry>/<model>:<image tag>`
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
     * Throws non-retryable failures: BuildFailed when a Dockerfile step fails on its own (the
     * message names the step and ends with the last lines of the build log), RepositoryUnreadable
     * when the commit cannot be read, PermissionDenied when the registry refuses the credentials.
     * Throws retryable DockerUnavailable / RegistryUnavailable failures when the engine or the
     * registry cannot be reached, answer 5xx, drop the connection, or stop mid-build (a step the
     * stopping engine killed is not a Dockerfile failure; see engine.ts). The build context and
     * `git archive` are disposed whatever the outcome. Credentials never appear in messages, logs
     * or the result.
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
      const repo = repositoryOf(image);

      let progress: BuildProgress = { phase: 'check' };
      const beat = (next?: BuildProgress) => {
        if (next) progress = next;
        ctx.heartbeat(progress);
      };
      beat();
      const ticker = setInterval(() => beat(), HEARTBEAT_EVERY_MS);
      let context: BuildContext | undefined;
      try {
        const existing = await registry.manifestDigest(model, markerTag, signal);
        if (existing) {
          const current = await registry.manifestDigest(model, versionTag, signal);
          if (current !== existing) await registry.copyTag(model, markerTag, versionTag, signal);
          ctx.log.info(`image for ${model} ${input.version} (commit ${commit.slice(0, 12)}) already in the registry: ${image}@${existing}`);
          return { image, digest: existing, built: false };
        }

        await ping(deps.docker);
        context = await buildContext(input.repoUrl, commit, deps.workDir, signal);
        ctx.log.info(`building ${image} from ${publicUrl(input.repoUrl)} at ${commit.slice(0, 12)}`);
        const imageId = await build(deps.docker, context.tar, {
          t: `${repo}:${markerTag}`,
          ...(deps.noCache ? { nocache: true } : {}),
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
        context.dispose();
        throwIfCancelled(signal);
        await deps.docker
          .getImage(imageId)
          .tag({ repo, tag: versionTag })
          .catch((err: Error) => {
            throw ApplicationFailure.retryable(`Docker engine could not tag ${imageId} as ${repo}:${versionTag}: ${err.message}`, DockerUnavailable);
          });

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
        context?.dispose();
        clearInterval(ticker);
      }
    },

    /**
     * Whether the environment's registry serves the manifest `digest` in `model`'s repository: a
     * promoted version is deployed by that digest, never rebuilt. Read-only.
     */
    async hasImage(model: string, digest: string): Promise<boolean> {
      const registry = new RegistryClient(deps.registry, registryCredentials(deps.registry));
      return (await registry.manifestDigest(model, digest)) === digest;
    },
  };
}

