/**
 * Rolls a model back to a version that is still running: a traffic switch, never a redeploy.
 * Refused (non-retryable VersionNotRunning) when the version has no ready replicas.
 */
import { ApplicationFailure, getExternalWorkflowHandle, patched, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { promotionWorkflowId } from '../rollout/promotion';
import { sourceRolledBackSignal } from './promotion-messages';
import { FailureType } from '../errors';
import { evaluate } from '../policy/evaluate';
import { identify } from '../policy/identity';
import { promotedState, stableOf } from '../rollout/traffic';
import { activities } from './activity-presets';
import type { RollbackInput, RollbackResult } from './messages';
import { environmentKey, modelKey, stageKey, versionKey } from './search-attributes';

export async function rollbackModel(input: RollbackInput): Promise<RollbackResult> {
  const ref = { model: input.model, environment: input.environment };
  const allowed = patched(PATCH_APPROVAL_POLICY) ? await checkPolicy(input) : undefined;
  const state = await activities('short', `read what runs of ${input.model} in ${input.environment}`).describeModel(ref);
  const from = stableOf(state.traffic);
  const ready = state.running.filter((v) => v.readyReplicas > 0);
  const to =
    input.to ??
    ready.filter((v) => v.version !== from).sort((a, b) => (a.deployedAt < b.deployedAt ? 1 : -1))[0]?.version;
  if (!to) {
    throw ApplicationFailure.nonRetryable(
      `no other running version of ${input.model} to roll back to (running: ${state.running.map((v) => v.version).join(', ') || 'none'})`,
      FailureType.VersionNotRunning,
    );
  }
  if (!ready.some((v) => v.version === to)) {
    throw ApplicationFailure.nonRetryable(
      `${to} is not running in ${input.environment} (running: ${ready.map((v) => v.version).join(', ') || 'none'}); rollback only switches traffic to a warm version`,
      FailureType.VersionNotRunning,
    );
  }
  upsertSearchAttributes([
    { key: modelKey, value: input.model },
    { key: versionKey, value: to },
    { key: environmentKey, value: input.environment },
    { key: stageKey, value: 'rolled-back' },
  ]);
  const warm = state.running.map((v) => v.version).filter((v) => v !== to);
  const applied = await activities('short', `switch ${input.model} traffic to ${to}`).setTraffic({ ...ref, ...promotedState(to, warm) });
  if (from && from !== to && patched(PATCH_CANCEL_PROMOTION)) await cancelPromotion(input, from, to, allowed?.by);
  return { from, to, weights: applied.weights, ...allowed };
}

/** rollbacks check the approval policy (who may roll back) before anything; was: anyone. */
const PATCH_APPROVAL_POLICY = 'approval-policy';

/** a rollback ends the pending promotion of the version it rolls back from (./promotion.ts); was: none. */
const PATCH_CANCEL_PROMOTION = 'rollback-cancels-promotion';

/** Tells the promotion of `from` out of this environment, if one is pending, that it was rolled back here. */
async function cancelPromotion(input: RollbackInput, from: string, to: string, by: string | undefined): Promise<void> {
  const handle = getExternalWorkflowHandle(promotionWorkflowId(input.model, input.environment, from));
  // No promotion (no path, the last environment, or already ended): nothing to cancel.
  await handle.signal(sourceRolledBackSignal, { who: by ?? input.requestedBy ?? '(unknown)', rollbackId: workflowInfo().workflowId, to }).catch(() => undefined);
}

/** Who asks (verified when serve signed it) and whether the policy lets them; PolicyRefused otherwise. */
async function checkPolicy(input: RollbackInput): Promise<Pick<RollbackResult, 'by' | 'via' | 'rule'>> {
  const ref = { model: input.model, environment: input.environment };
  const resolved = await activities('short', `read the approval policy of ${input.model} in ${input.environment}`).resolvePolicy(ref);
  const request = input.identity ? { ...input.identity, text: input.reason } : { who: input.requestedBy ?? '(unknown)' };
  const id = identify(resolved.verifyKey, workflowInfo().workflowId, 'rollback', request, Date.now());
  if (!id.ok) throw ApplicationFailure.nonRetryable(`rollback refused: ${id.why}`, FailureType.PolicyRefused);
  const verdict = evaluate(resolved.policy, 'rollback', id.actor);
  if (!verdict.allowed) throw ApplicationFailure.nonRetryable(verdict.message, FailureType.PolicyRefused);
  return { by: id.actor.who, via: id.via, rule: verdict.rule };
}
