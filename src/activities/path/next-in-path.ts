/**
 * nextInPath: where a version promoted in an environment may go next (models.<name>.path of the
 * worker's configuration). Read-only, idempotent; its answer goes into workflow history.
 */
import { nextStep, stepInto, type PathInput } from '../../config/path-schema';
import type { ModelRef, NextPathStep } from '../types';

export function createPathActivities(models: Record<string, { path?: PathInput }>) {
  return {
    async nextInPath(input: ModelRef): Promise<NextPathStep | undefined> {
      return nextStep(models[input.model]?.path, input.environment);
    },
    async stepIntoPath(input: ModelRef): Promise<NextPathStep | undefined> {
      return stepInto(models[input.model]?.path, input.environment);
    },
  };
}
