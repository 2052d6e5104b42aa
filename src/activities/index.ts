/**
 * createActivities: every activity the workflows call, wired to the environments the worker
 * built (each with its target, router, analyzer and image builder).
 */
import { Context } from '@temporalio/activity';
import { createGitActivities } from './git/resolve-tag';
import { verifyVersion as healthChecks } from './health/verify';
import { createPolicyActivities, type PolicyDeps } from './policy/resolve-policy';
import { createPathActivities } from './path/next-in-path';
import type { PathInput } from '../config/path-schema';
import type { NotifyActivities } from './notify';
import { createEnvironmentActivities } from './release';
import type { Environment } from './target';
import type { ReleaseActivities } from './types';

export interface ActivityDeps {
  environments: Record<string, Environment>;
  gitCacheDir: string;
  /** approval policies of the worker's configuration and serve's verify key (createPolicyActivities) */
  policies: PolicyDeps;
  /** notification receivers of the worker's configuration (createNotifyActivities) */
  notifications: NotifyActivities;
  /** the models of the worker's configuration, for their paths (createPathActivities) */
  models?: Record<string, { path?: PathInput }>;
}

export function createActivities(deps: ActivityDeps): ReleaseActivities {
  const all: ReleaseActivities = {
    ...createGitActivities({ cacheDir: deps.gitCacheDir }),
    ...createEnvironmentActivities(deps.environments, healthChecks),
    ...createPolicyActivities(deps.policies),
    ...deps.notifications,
    ...createPathActivities(deps.models ?? {}),
  };
  for (const name of SILENT) all[name] = keepAlive(all[name] as (input: unknown) => Promise<unknown>) as never;
  return all;
}

/**
 * Activities that report no progress of their own. They heartbeat while they run, so that when
 * the worker running one dies, its heartbeat timeout (seconds) rather than its whole
 * start-to-close timeout (minutes) decides when another worker takes it over.
 */
const SILENT = ['resolveTag', 'verifyVersion', 'describeModel', 'setTraffic', 'scaleDownVersion', 'retireVersions'] as const satisfies (keyof ReleaseActivities)[];

/** Wraps an activity so it heartbeats every few seconds until it settles. */
export function keepAlive<A extends unknown[], R>(fn: (...args: A) => Promise<R>, everyMs = KEEP_ALIVE_MS): (...args: A) => Promise<R> {
  return async (...args: A) => {
    const ctx = Context.current();
    // No heartbeat up front: the heartbeat timeout counts from the start, the first beat at everyMs is in time.
    const timer = setInterval(() => ctx.heartbeat(), everyMs);
    try {
      return await fn(...args);
    } finally {
      clearInterval(timer);
    }
  };
}

const KEEP_ALIVE_MS = 3_000;
