/**
 * The one place through which a model's traffic in an environment changes. The client starts
 * this workflow under the model's lock id (naming/ids.ts) with conflict policy FAIL, so while a
 * release or a rollback of the model runs, Temporal refuses another one atomically: no "check,
 * then start" race. The operation itself runs as a child workflow whose id names it; this
 * workflow only holds the lock for as long as the child runs and ends with the child's outcome.
 */
import { executeChild } from '@temporalio/workflow';
import type { ReleaseInput, ReleaseStatus, RollbackInput, RollbackResult } from './messages';
import { release } from './release';
import { rollbackModel } from './rollback';

export type ModelOperation =
  | { kind: 'release'; workflowId: string; release: ReleaseInput }
  | { kind: 'rollback'; workflowId: string; rollback: RollbackInput };

/** Runs the operation as a child under `op.workflowId`; fails as the child fails. */
export async function modelOperation(op: ModelOperation): Promise<ReleaseStatus | RollbackResult> {
  if (op.kind === 'release') {
    const input = op.release;
    return executeChild(release, {
      workflowId: op.workflowId,
      args: [input],
      staticSummary: `${input.model} ${input.tag} → ${input.environment}`,
      staticDetails: `Release of tag ${input.tag} of ${input.model} from ${input.repoUrl}${input.requestedBy ? `, requested by ${input.requestedBy}` : ''}.`,
    });
  }
  const input = op.rollback;
  return executeChild(rollbackModel, {
    workflowId: op.workflowId,
    args: [input],
    staticSummary: `rollback ${input.model} in ${input.environment}${input.to ? ` to ${input.to}` : ''}`,
  });
}
