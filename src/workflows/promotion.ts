/**
 * A promotion: what happens to a version after its release was promoted in one environment of
 * its model's path. It waits out the soak on a durable timer (workflow time: a worker killed
 * meanwhile resumes it), ends early when the version is rolled back there, then marks the version
 * eligible for the next environment and, with `auto`, starts that release under the model's lock
 * (once: the promotion's own id is derived from model, environment and version). The release it
 * starts carries the artifact — image digest, commit, spec — and is never rebuilt or re-resolved.
 */
import { ParentClosePolicy, condition, setHandler, startChild, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { modelWorkflowId, triggeredReleaseWorkflowId } from '../naming/ids';
import { formatMs } from '../rollout/plan';
import { promotionTrigger } from '../rollout/promotion';
import type { ModelOperation } from './model';
import type { ReleaseInput } from './messages';
import { promotionStatusQuery, promotionTakenSignal, sourceRolledBackSignal, type PromotionInput, type PromotionStatus, type PromotionTaken, type SourceRolledBack } from './promotion-messages';
import { environmentKey, modelKey, stageKey, versionKey } from './search-attributes';

/** How long an automatic promotion waits before trying again while another release holds the lock. */
const LOCK_RETRY_MS = 60_000;
/** Who starts an automatic promotion's release, as its record and the approval policy see it. */
export const PROMOTION_ACTOR = (from: string) => `tandem (promotion from ${from})`;

export async function promoteVersion(input: PromotionInput): Promise<PromotionStatus> {
  const { model, version, artifact, to } = input;
  const now = () => new Date().toISOString();
  const startedMs = Date.now();
  const soakEnds = Math.max(startedMs, Date.parse(artifact.promotedAt) + to.soakMs);
  const status: PromotionStatus = {
    model,
    version,
    from: to.from,
    to: to.environment,
    state: 'soaking',
    conditions: { soakMs: to.soakMs, requireAnalysis: to.requireAnalysis, auto: to.auto },
    soakUntil: new Date(soakEnds).toISOString(),
    artifact,
    history: [],
  };
  const note = (message: string) => status.history.push({ at: now(), message });
  const setState = (state: PromotionStatus['state'], message: string) => {
    status.state = state;
    upsertSearchAttributes([{ key: stageKey, value: `promotion-${state}` }]);
    note(message);
  };
  let rolledBack: SourceRolledBack | undefined;
  let taken: PromotionTaken | undefined;
  const open = () => status.state === 'soaking' || status.state === 'eligible';
  setHandler(promotionStatusQuery, () => status);
  setHandler(sourceRolledBackSignal, (payload) => {
    if (open() && !rolledBack) rolledBack = { who: String(payload?.who ?? '(unknown)'), rollbackId: String(payload?.rollbackId ?? ''), to: String(payload?.to ?? '') };
  });
  setHandler(promotionTakenSignal, (payload) => {
    if (open() && !taken) taken = { workflowId: String(payload?.workflowId ?? ''), by: String(payload?.by ?? '(unknown)') };
  });
  upsertSearchAttributes([
    { key: modelKey, value: model },
    { key: versionKey, value: version },
    { key: environmentKey, value: to.environment },
    { key: stageKey, value: 'promotion-soaking' },
  ]);
  note(`${version} promoted in ${to.from} (release ${artifact.releaseId}, ${artifact.image}@${artifact.digest}, commit ${artifact.commit.slice(0, 12)})`);

  if (to.requireAnalysis && !artifact.verification.analysisPassed) {
    setState('blocked', `not eligible for ${to.environment}: requireAnalysis, and in ${to.from} ${artifact.verification.analysisWhy ?? 'analysis did not pass'}`);
    status.reason = `analysis did not pass in ${to.from}: ${artifact.verification.analysisWhy ?? 'unknown'}`;
    return status;
  }

  const ended = () => rolledBack !== undefined || taken !== undefined;
  if (soakEnds > Date.now()) {
    note(`soaking in ${to.from} until ${status.soakUntil} (${formatMs(to.soakMs)} as stable with no rollback)`);
    await condition(ended, soakEnds - Date.now(), { summary: `soak ${version} in ${to.from} until ${status.soakUntil}` });
  }
  if (!ended()) {
    setState('eligible', `${version} is eligible for ${to.environment}${to.auto ? ': starting its release' : '; start it with `tandem release start ' + model + ' ' + version + ' --env ' + to.environment + '`'}`);
    if (to.auto) await startRelease();
    else await condition(ended);
  }
  if (taken && status.state !== 'released') {
    status.release = { workflowId: taken.workflowId, by: taken.by, auto: false };
    setState('released', `released to ${to.environment} by ${taken.by} (${taken.workflowId})`);
  } else if (rolledBack && status.state !== 'released') {
    status.reason = `rolled back in ${to.from} by ${rolledBack.who}${rolledBack.to ? ` (to ${rolledBack.to})` : ''}`;
    setState('cancelled', `promotion to ${to.environment} cancelled: ${status.reason}`);
  }
  return status;

  /** Starts the next environment's release under its model lock, waiting while another release holds it. */
  async function startRelease() {
    const workflowId = triggeredReleaseWorkflowId(model, to.environment, version, promotionTrigger(to.from));
    const release: ReleaseInput = {
      model,
      tag: version,
      environment: to.environment,
      repoUrl: artifact.repoUrl,
      requestedBy: PROMOTION_ACTOR(to.from),
      promotedFrom: artifact,
    };
    const op: ModelOperation = { kind: 'release', workflowId, release };
    for (;;) {
      if (ended()) return;
      try {
        await startChild('modelOperation', {
          workflowId: modelWorkflowId(model, to.environment),
          args: [op],
          memo: { operation: 'release', workflowId, lastRelease: workflowId },
          parentClosePolicy: ParentClosePolicy.ABANDON,
          staticSummary: `${model} ${version} → ${to.environment} (promoted from ${to.from})`,
          taskQueue: workflowInfo().taskQueue,
        });
        status.release = { workflowId, by: release.requestedBy!, auto: true };
        setState('released', `release of ${version} to ${to.environment} started (${workflowId}); it waits for ${to.environment}'s approval policy as any release`);
        return;
      } catch (err) {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
        note(`another release or rollback of ${model} runs in ${to.environment}; trying again in ${formatMs(LOCK_RETRY_MS)}`);
        await condition(ended, LOCK_RETRY_MS, { summary: `wait for ${model}'s lock in ${to.environment}` });
      }
    }
  }
}
