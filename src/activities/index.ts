/**
 * createActivities: every activity the workflows call, wired to the environments the worker
 * built (each with its target, router, analyzer and image builder).
 */
import { createGitActivities } from './git/resolve-tag';
import { verifyVersion as healthChecks } from './health/verify';
import { createEnvironmentActivities } from './release';
import type { Environment } from './target';
import type { ReleaseActivities } from './types';

export interface ActivityDeps {
  environments: Record<string, Environment>;
  gitCacheDir: string;
}

export function createActivities(deps: ActivityDeps): ReleaseActivities {
  return {
    ...createGitActivities({ cacheDir: deps.gitCacheDir }),
    ...createEnvironmentActivities(deps.environments, healthChecks),
  };
}
