/**
 * Two worlds of activity doubles, staging and prod, behind one set of activities (each call goes to
 * the world its input names) and one registry: the setting of a model's path in workflow tests.
 */
import type { ReleaseActivities } from '../../src/activities/types';
import { pathSchema } from '../../src/config/path-schema';
import { createWorld, runningVersion, type WorldOptions } from '../doubles/world';

/** A spec with one analysis window, so a release with a stable version has measurements to pass. */
export const ANALYSED_SPEC = 'port: 8080\nrollout:\n  strategy: canary\n  steps:\n    - setWeight: 50\n    - analysis: { interval: 100ms, count: 1 }\n';

export function twoEnvironments(options: { specs: Record<string, string>; path: unknown; staging?: Partial<WorldOptions>; prod?: Partial<WorldOptions> }) {
  const registry = new Set<string>();
  const path = pathSchema.parse(options.path);
  const serving = { running: [runningVersion('v0')], traffic: { weights: { v0: 100 }, pinned: ['v0'], stable: 'v0' } };
  const staging = createWorld({ specs: options.specs, path, registry, ...serving, ...options.staging });
  const prod = createWorld({ specs: options.specs, path, registry, ...serving, ...options.prod });
  const worlds = { staging, prod };
  const activities = Object.fromEntries(
    Object.keys(staging.activities).map((name) => [
      name,
      (input: { environment?: string }) => {
        const world = input?.environment === 'prod' ? prod : staging;
        return (world.activities[name as keyof ReleaseActivities] as (i: unknown) => Promise<unknown>)(input);
      },
    ]),
  ) as unknown as ReleaseActivities;
  return { activities, worlds, registry };
}
