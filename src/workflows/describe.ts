/** Reads what runs of a model: a one-activity workflow, so the CLI needs no cluster credentials. */
import type { ModelRef, ModelState } from '../activities/types';
import { activities } from './activity-presets';

export async function describeModelWorkflow(ref: ModelRef): Promise<ModelState> {
  return activities('short', `read what runs of ${ref.model} in ${ref.environment}`).describeModel(ref);
}
