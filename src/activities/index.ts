/**
 * createActivities: every activity the workflows call, wired to the environments the worker
 * built. Image builds go to the registry of the release's environment.
 */
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../errors';
import { createGitActivities } from './git/resolve-tag';
import { verifyVersion as healthChecks } from './health/verify';
import { createEnvironmentActivities } from './release';
import type { Environment } from './target';
import type { BuildImageInput, BuiltImage, ReleaseActivities } from './types';

export interface BuildService {
  buildImage(input: BuildImageInput): Promise<BuiltImage>;
}

export interface ActivityDeps {
  environments: Record<string, Environment & { builder: BuildService }>;
  gitCacheDir: string;
}

export function createActivities(deps: ActivityDeps): ReleaseActivities {
  return {
    ...createGitActivities({ cacheDir: deps.gitCacheDir }),
    ...createEnvironmentActivities(deps.environments, healthChecks),
    async buildImage(input) {
      const env = deps.environments[input.environment];
      if (!env) {
        throw ApplicationFailure.nonRetryable(`environment "${input.environment}" is not served by this worker`, FailureType.UnknownEnvironment);
      }
      return env.builder.buildImage(input);
    },
  };
}
