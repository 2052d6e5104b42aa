/**
 * Activity doubles whose world survives the worker process: `afterEach` (which writes the world's
 * state to a file) runs after every completed activity, so a worker killed for real (SIGKILL)
 * resumes from what its activities did.
 */
import type { ReleaseActivities } from '../../src/activities/types';

export function persistingActivities(activities: object, afterEach: (name: string, input: unknown) => void): ReleaseActivities {
  return Object.fromEntries(
    Object.entries(activities).map(([name, fn]) => [
      name,
      async (input: unknown) => {
        const result = await (fn as (i: unknown) => Promise<unknown>)(input);
        afterEach(name, input);
        return result;
      },
    ]),
  ) as unknown as ReleaseActivities;
}
