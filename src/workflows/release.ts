/**
 * The release workflow: resolve tag -> build image -> deploy version -> verify health -> rollout
 * steps -> promote; any failure, abort, failed analysis or approval timeout -> rollback. Holds no
 * I/O: every effect is an activity. Rollback runs in a non-cancellable scope, so neither an abort
 * nor a workflow cancellation can skip it.
 */
import {
  ApplicationFailure,
  CancellationScope,
  ParentClosePolicy,
  startChild,
  condition,
  isCancellation,
  metricMeter,
  patched,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
  setCurrentDetails,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { ModelState, NextPathStep, ReleaseActivities, TrafficState } from '../activities/types';
import { describeVerification, promotionWorkflowId, summarizeVerification, type PromotedFrom, type PromotionArtifact } from '../rollout/promotion';
import { FailureType, UNTYPED_FAILURE } from '../errors';
import { backgroundPlan, describeStep, formatMs, rolloutPlan, type BackgroundPlan, type PlanStep } from '../rollout/plan';
import { analysisMeasurements, shadowMeasurements, type RecordedMeasurement } from '../rollout/measurements';
import { canaryWeights, promotedState, stableOf, versionsToRetire, withPin, withoutVersions } from '../rollout/traffic';
import type { Spec } from '../model-spec/schema';
import { activities, pathConfig, rethrowUnregistered, timedActivities, rollbackActivities } from './activity-presets';
import { announce } from './notify';
import type { NotificationEvent } from '../naming/notifications';
import {
  signals,
  updates,
  statusQuery,
  parseOperatorRequest,
  describePayload,
  type OperatorAction,
  type OperatorActionName,
  type OperatorChannel,
  type OperatorRequest,
  type ReleaseInput,
  type ReleaseStatus,
  type Stage,
} from './messages';
import { environmentKey, modelKey, stageKey, versionKey } from './search-attributes';
import { ReleaseMetric } from '../naming/metrics';
import { describePolicy, evaluate } from '../policy/evaluate';
import { describeChannel, identify } from '../policy/identity';
import type { ResolvedPolicy } from '../policy/resolve';
import { describeWindows, nextOpening } from '../policy/deploy-windows';

export async function release(input: ReleaseInput): Promise<ReleaseStatus> {
  const { model, environment, tag: version } = input;
  const ref = { model, environment };
  const now = () => new Date().toISOString();

  const status: ReleaseStatus = {
    releaseId: `${workflowInfo().workflowId}/${workflowInfo().runId}`,
    model,
    environment,
    version,
    requestedBy: input.requestedBy,
    stage: 'resolving',
    weights: {},
    paused: false,
    steps: [],
    checks: [],
    actions: [],
    history: [],
    startedAt: now(),
  };
  const note = (message: string) => {
    status.history.push({ at: now(), message });
    // A flood of messages (refused signals, blocked rollback retries) must not grow the status
    // without bound: keep the first entries (how it started) and the latest ones.
    if (status.history.length > MAX_RECORDS) status.history.splice(MAX_RECORDS / 2, 1);
    setCurrentDetails(`**${model} ${version} → ${environment}**: ${message}`);
  };
  const record = (action: OperatorAction) => {
    status.actions.push(action);
    if (status.actions.length > MAX_RECORDS) status.actions.splice(MAX_RECORDS / 2, 1);
  };
  const recordMeasurements = (records: RecordedMeasurement[]) => {
    const all = [...(status.measurements ?? []), ...records];
    // Bounded like the history: the first windows and the latest.
    status.measurements = all.length > MAX_RECORDS ? [...all.slice(0, MAX_RECORDS / 2), ...all.slice(-MAX_RECORDS / 2)] : all;
  };
  // Metrics go through the SDK's meter: not emitted again when a history is replayed.
  const tags = { model, environment };
  let stageStartedAt = Date.now();
  const stageDuration = metricMeter.createHistogram(ReleaseMetric.stageDuration, 'float', 's', 'Time a release spent in each stage');
  const enter = (stage: Stage, message: string) => {
    stageDuration.record((Date.now() - stageStartedAt) / 1000, { ...tags, stage: status.stage });
    stageStartedAt = Date.now();
    status.stage = stage;
    upsertSearchAttributes([{ key: stageKey, value: stage }]);
    note(message);
  };

  upsertSearchAttributes([
    { key: modelKey, value: model },
    { key: versionKey, value: version },
    { key: environmentKey, value: environment },
    { key: stageKey, value: status.stage },
  ]);
  metricMeter.createCounter(ReleaseMetric.started, undefined, 'Releases started').add(1, tags);
  const countOutcome = (outcome: string) => metricMeter.createCounter(ReleaseMetric.finished, undefined, 'Releases ended, by outcome').add(1, { ...tags, outcome });

  // Notifications (./notify.ts) run beside the release: the approval gate does not wait for them.
  // The release waits for them only as it ends (their retries are bounded), so each is recorded.
  const notifications: Promise<void>[] = [];
  const notify = (event: NotificationEvent, actor?: string) => {
    if (!patched(PATCH_NOTIFICATIONS)) return;
    const reason = status.reason?.split('\n')[0];
    notifications.push(
      announce(
        { event, model, environment, version, stage: status.stage, weights: { ...status.weights }, ...(status.outcome ? { outcome: status.outcome } : {}), ...(reason ? { reason } : {}), ...(actor ? { actor } : {}), ...(input.requestedBy ? { requestedBy: input.requestedBy } : {}), ...(status.previousStable ? { previousStable: status.previousStable } : {}) },
        note,
      ),
    );
  };

  // Operator state, changed only by message handlers.
  let approvedFor = -1; // index of the approval step that was approved
  let approvalTakenFor = -1; // index of the approval step the release has passed
  let promoteRequested = false;
  let abort: OperatorRequest | undefined;
  let resumeCount = 0;
  let currentStep = -1;
  let windowOverridden = false;
  const pipeline = new CancellationScope();
  // Set when the background analysis failed: it cancels the pipeline, and this is the reason.
  let backgroundFailure: { message: string; type: string } | undefined;

  // Approval policy (src/policy), read from the worker's configuration as the release starts and
  // checked in every message handler. Releases started before it keep one approval by anyone.
  const policyEnforced = patched(PATCH_APPROVAL_POLICY);
  let policy: ResolvedPolicy | undefined;
  let gate: { index: number; by: string[] } = { index: -1, by: [] }; // distinct approvers of the waiting gate
  let planKinds: PlanStep['kind'][] = [];
  type Decision = { ok: true; via?: OperatorChannel; groups?: string[]; rule?: string } | { ok: false; why: string; via?: OperatorChannel };
  /** Whether the policy lets this request apply: who it is (verified or self-declared), and the rule. */
  const decide = (action: OperatorActionName, request: OperatorRequest): Decision => {
    if (!policyEnforced) return { ok: true };
    if (!policy) return { ok: false, why: `${action} refused: the release has not read its approval policy yet; try again in a moment` };
    const id = identify(policy.verifyKey, workflowInfo().workflowId, action, request, Date.now());
    if (!id.ok) return { ok: false, via: id.via, why: `${action} refused: ${id.why}` };
    const verdict = evaluate(policy.policy, action, id.actor, {
      startedBy: status.requestedBy,
      approvedBy: gate.index === currentStep ? gate.by : [],
      approvalAhead: planKinds.some((kind, i) => kind === 'approval' && i >= currentStep && i > approvalTakenFor),
    });
    if (!verdict.allowed) return { ok: false, via: id.via, why: verdict.message };
    return { ok: true, via: id.via, rule: verdict.rule, ...(id.via === 'api' ? { groups: id.actor.groups } : {}) };
  };
  const channel = (via: OperatorChannel | undefined) => (via ? ` (${describeChannel(via)})` : '');

  const finished = () => status.outcome !== undefined || status.stage === 'rolling-back';
  const refusal = (action: OperatorActionName, request?: OperatorRequest): string | undefined => {
    if (finished()) return `the release is ${status.outcome ?? status.stage}; nothing to ${action}`;
    if (abort) return `the release is being aborted by ${abort.who}`;
    switch (action) {
      case 'override-window':
        if (status.waitingFor !== 'deploy-window') return `nothing waits for a deploy window (stage: ${status.stage}${status.waitingFor ? `, waiting for ${status.waitingFor}` : ''})`;
        return request && !request.text ? 'override-window needs a reason (--reason TEXT): it is recorded with who overrode the window' : undefined;
      case 'approve':
        return status.waitingFor === 'approval' ? undefined : `nothing awaits approval (stage: ${status.stage}${status.waitingFor ? `, waiting for ${status.waitingFor}` : ''})`;
      case 'pause':
        return status.paused ? 'the release is already paused' : undefined;
      case 'resume':
        return status.paused || status.waitingFor === 'resume' ? undefined : 'the release is not paused';
      case 'promote':
        return status.stage === 'rolling-out' ? undefined : `promote skips rollout steps; the release is still ${status.stage}`;
      case 'abort':
        return undefined;
    }
  };
  const apply = (action: OperatorActionName, request: OperatorRequest, decision: Decision = { ok: true }): OperatorAction => {
    const entry: OperatorAction = { action, who: request.who, text: request.text, at: now(), accepted: true };
    if (decision.ok && decision.via) Object.assign(entry, { via: decision.via, rule: decision.rule }, decision.groups ? { groups: decision.groups } : {});
    switch (action) {
      case 'approve':
        if (policy) {
          // The gate passes once enough distinct people approved (the policy refuses a second approval by the same one).
          if (gate.index !== currentStep) gate = { index: currentStep, by: [] };
          gate.by.push(request.who);
          const required = policy.policy.approvals;
          status.approvals = { required, by: [...gate.by] };
          entry.rule = `${entry.rule ?? 'approvers'} (${gate.by.length} of ${required})`;
          if (gate.by.length >= required) approvedFor = currentStep;
        } else {
          approvedFor = currentStep;
        }
        break;
      case 'pause':
        status.paused = true;
        break;
      case 'resume':
        status.paused = false;
        resumeCount++;
        break;
      case 'promote':
        promoteRequested = true;
        break;
      case 'abort':
        abort = request;
        pipeline.cancel();
        break;
      case 'override-window':
        windowOverridden = true;
        break;
    }
    record(entry);
    note(`${action} by ${request.who}${channel(entry.via)}${request.text ? `: ${request.text}` : ''}${entry.rule ? ` [${entry.rule}]` : ''}`);
    return entry;
  };
  const ignore = (action: OperatorActionName, who: string, text: string | undefined, why: string, via?: OperatorChannel) => {
    record({ action, who, text, at: now(), accepted: false, note: why, ...(via ? { via } : {}) });
    note(`${action} by ${who}${channel(via)} ignored: ${why}`);
  };
  for (const action of Object.keys(signals) as OperatorActionName[]) {
    // A signal cannot be refused to its sender, and a handler that throws would fail every
    // workflow task from then on (nobody could abort). So: parse, never throw, record what
    // could not apply with the reason.
    setHandler(signals[action], (payload: unknown) => {
      const parsed = parseOperatorRequest(payload);
      if (!parsed.ok) return ignore(action, '(unknown)', describePayload(payload), parsed.why);
      const why = refusal(action, parsed.request);
      if (why) return ignore(action, parsed.request.who, parsed.request.text, why);
      const decided = decide(action, parsed.request);
      if (!decided.ok) return ignore(action, parsed.request.who, parsed.request.text, decided.why, decided.via);
      apply(action, parsed.request, decided);
    });
    setHandler(
      updates[action],
      async (payload: unknown) => {
        const parsed = parseOperatorRequest(payload);
        if (!parsed.ok) throw ApplicationFailure.nonRetryable(parsed.why, FailureType.MalformedRequest);
        // The policy decides here, not in the validator: a refusal is then in history and in the
        // release's record (who tried what, and why it was refused), as a refused signal is.
        const decided = decide(action, parsed.request);
        if (!decided.ok) {
          ignore(action, parsed.request.who, parsed.request.text, decided.why, decided.via);
          throw ApplicationFailure.nonRetryable(decided.why, FailureType.PolicyRefused);
        }
        const entry = apply(action, parsed.request, decided);
        // An approval that leaves the gate waiting for more approvers is answered at once.
        if (action === 'approve' && approvedFor === currentStep && patched(PATCH_APPROVAL_ANSWERED_AFTER_EFFECT)) {
          // Answer only once the approval took effect: an abort that lands at the same moment
          // wins (it is the safe one), and this approval is then refused, not "accepted".
          const step = approvedFor;
          await condition(() => approvalTakenFor >= step || abort !== undefined || finished());
          if (approvalTakenFor < step) {
            entry.accepted = false;
            entry.note = abort ? `aborted by ${abort.who} before the approval took effect` : `the release is ${status.outcome ?? status.stage}`;
            throw ApplicationFailure.nonRetryable(`${entry.note}; the release rolls back`, FailureType.Refused);
          }
        }
        return entry;
      },
      {
        validator: (payload: unknown) => {
          const parsed = parseOperatorRequest(payload);
          if (!parsed.ok) throw new Error(parsed.why);
          const why = refusal(action, parsed.request);
          if (why) throw new Error(why);
          if (policyEnforced && !policy) throw new Error(`${action} refused: the release has not read its approval policy yet; try again in a moment`);
        },
      },
    );
  }
  setHandler(statusQuery, () => status);

  let before: ModelState | undefined;
  let stable: string | undefined;
  let wasRunning = false;
  let deployStarted = false;
  let trafficTouched = false;
  let spec: Spec | undefined;

  try {
    await pipeline.run(async () => {
      if (policyEnforced) await readPolicy();
      // A promoted version carries its commit and spec: the tag is not read again (it may have moved).
      const promoted = input.promotedFrom;
      if (!promoted && patched(PATCH_PATH_ENTRY)) await refuseOffPath();
      const resolved = promoted ? { commit: promoted.commit, spec: promoted.spec } : await activities('git', `resolve ${model} tag ${version}`).resolveTag({ repoUrl: input.repoUrl, tag: version, model });
      spec = resolved.spec;
      status.commit = resolved.commit;
      if (promoted) {
        status.promotedFrom = promotedRecord(promoted);
        note(`promoted from ${promoted.environment} (release ${promoted.releaseId}): commit ${promoted.commit.slice(0, 12)}, ${promoted.image}@${promoted.digest}; ${describeVerification(promoted.verification)}`);
      } else note(`tag ${version} is commit ${resolved.commit.slice(0, 12)}`);

      before = await activities('short', `read what runs of ${model} in ${environment}`).describeModel(ref);
      stable = stableOf(before.traffic);
      status.previousStable = stable;
      status.weights = { ...before.traffic.weights };
      wasRunning = before.running.some((v) => v.version === version);
      const same = before.running.find((v) => v.version === version && v.commit === resolved.commit);
      if (stable === version && same) {
        throw ApplicationFailure.nonRetryable(
          `${version} (commit ${resolved.commit.slice(0, 12)}) is already the stable version of ${model} in ${environment}; nothing to release. ` +
            'To serve an older version again use `tandem rollback --to VERSION`; to release new code push a new tag.',
          FailureType.AlreadyStable,
        );
      }

      enter('building', promoted ? `checking that the registry has ${promoted.image}@${promoted.digest} (promoted: not rebuilt)` : `building image of ${model} ${version}`);
      const image = promoted
        ? await checkPromotedImage(promoted)
        : await activities('build', `build and push image of ${model} ${version}`).buildImage({
            ...ref,
            repoUrl: input.repoUrl,
            version,
            commit: resolved.commit,
            releaseId: status.releaseId,
          });
      status.image = image.image;
      status.digest = image.digest;
      note(promoted ? `deploying ${image.image}@${image.digest} as promoted, not rebuilt` : image.built ? `built ${image.image}@${image.digest}` : `reused ${image.image}@${image.digest} (same commit)`);

      enter('deploying', stable ? `deploying ${version} beside ${stable}` : `deploying ${version} (no version serves ${model} here yet)`);
      deployStarted = true;
      const deployed = await timedActivities('deploy', spec, `deploy ${model} ${version} to ${environment}`).deployVersion({
        ...ref,
        version,
        commit: resolved.commit,
        image: image.image,
        digest: image.digest,
        spec,
        releaseId: status.releaseId,
      });
      note(`${deployed.readyReplicas}/${deployed.replicas} replicas of ${version} ready`);

      enter('verifying', `verifying ${version}: health and ${spec.smoke.length} smoke tests`);
      const verified = await timedActivities('verify', spec, `health and smoke checks of ${model} ${version}`).verifyVersion({ ...ref, version, spec });
      status.checks = verified.checks;
      const failed = verified.checks.find((c) => !c.ok);
      if (failed) {
        throw ApplicationFailure.nonRetryable(`check "${failed.check}" failed: ${failed.observed}`, FailureType.VerificationFailed);
      }
      note(`all ${verified.checks.length} checks passed`);

      // The candidate is reachable when pinned before it takes any unpinned traffic.
      await setTraffic({ weights: before.traffic.weights, pinned: withPin(before.traffic.pinned, version), stable });

      // With no stable version there is nothing to compare against or fall back to: like Argo
      // Rollouts, the first release of a model skips the canary steps.
      const plan: PlanStep[] = stable ? rolloutPlan(spec.rollout) : [{ kind: 'promote' }];
      enter('rolling-out', stable ? `rolling out ${version} (${spec.rollout.strategy})` : `first release of ${model} here: promoting ${version} directly`);
      status.steps = plan.map((step, index) => ({ index, description: describeStep(step, version), status: 'pending' }));
      planKinds = plan.map((step) => step.kind);
      await awaitDeployWindow();
      const background = stable ? backgroundPlan(spec.rollout) : undefined;
      // It starts once the new version serves callers: after the first setWeight above 0.
      const backgroundFrom = plan.findIndex((step) => step.kind === 'setWeight' && step.weight > 0);
      let stopBackground: (() => Promise<void>) | undefined;
      for (const [index, step] of plan.entries()) {
        currentStep = index;
        if (step.kind === 'promote' && stopBackground) await stopBackground();
        const state = status.steps[index]!;
        if (promoteRequested && step.kind !== 'promote') {
          state.status = 'skipped';
          state.detail = 'skipped by promote';
          continue;
        }
        await condition(() => !status.paused || promoteRequested);
        state.status = 'running';
        state.startedAt = now();
        if (step.kind === 'promote') enter('promoting', `promoting ${version}`);
        else note(`step ${index + 1}/${plan.length}: ${state.description}`);
        state.detail = await runStep(step, index, spec);
        state.status = 'done';
        state.finishedAt = now();
        if (background && index === backgroundFrom && !stopBackground) stopBackground = startBackground(background, spec);
      }
    });
  } catch (err) {
    rethrowUnregistered(err); // fails the workflow task, not the release (see activity-presets.ts)
    const reason = backgroundFailure ?? describeFailure(err, abort);
    status.reason = reason.message;
    status.failureType = reason.type;
    // Nothing waits any more: the release is ending.
    status.waitingFor = undefined;
    status.paused = false;
    if (approvedFor > approvalTakenFor) {
      // An approval (by signal) that arrived with the abort never took effect: say so in the record.
      const approval = status.actions.findLast((a) => a.action === 'approve' && a.accepted);
      if (approval) Object.assign(approval, { accepted: false, note: `${reason.message.split('\n')[0]} before the approval took effect` });
    }
    const runningStep = status.steps.find((s) => s.status === 'running');
    if (runningStep) {
      runningStep.status = 'failed';
      runningStep.detail = reason.message;
      runningStep.finishedAt = now();
    }
    await CancellationScope.nonCancellable(() => rollBack(reason.message));
    notify(status.outcome === 'failed' ? 'failed' : 'rolled-back', abort?.who);
    await Promise.all(notifications);
    countOutcome(status.outcome ?? 'failed');
    if (status.outcome === 'rolled-back') metricMeter.createCounter(ReleaseMetric.rollbacks, undefined, 'Releases rolled back, by cause').add(1, { ...tags, cause: reason.type });
    throw ApplicationFailure.create({ message: reason.message, type: status.outcome === 'failed' ? FailureType.ReleaseFailed : FailureType.RolledBack, nonRetryable: true, details: [status] });
  }

  status.outcome = 'promoted';
  status.finishedAt = now();
  enter('promoted', `${version} is stable with 100% of traffic`);
  notify('promoted', status.actions.filter((a) => a.accepted && (a.action === 'approve' || a.action === 'promote')).at(-1)?.who);
  if (patched(PATCH_PROMOTION_PATH)) await handOn();
  await Promise.all(notifications);
  countOutcome('promoted');
  return status;

  /**
   * An environment a model's path leads to takes only the artifact the previous environment
   * promoted: a release without it (started through the API, a webhook, an old CLI) is refused
   * before anything is built or deployed.
   */
  async function refuseOffPath() {
    let step: NextPathStep | undefined;
    try {
      step = await pathConfig(`is ${environment} on the path of ${model}`).stepIntoPath(ref);
    } catch (err) {
      rethrowUnregistered(err);
      return; // the model is not in the worker's configuration: no path to enforce
    }
    if (!step) return;
    throw ApplicationFailure.nonRetryable(
      `${environment} takes versions of ${model} from ${step.from} only (models.${model}.path): \`tandem release start ${model} ${version} --env ${environment}\` releases the artifact ${step.from} promoted, once it is eligible`,
      FailureType.NotOnPath,
    );
  }

  /** A promoted version's image, checked in this environment's registry by its digest. */
  async function checkPromotedImage(promoted: NonNullable<ReleaseInput['promotedFrom']>) {
    await activities('short', `check ${promoted.image}@${promoted.digest} in the registry of ${environment}`).checkImage({ ...ref, image: promoted.image, digest: promoted.digest });
    return { image: promoted.image, digest: promoted.digest, built: false };
  }

  /**
   * On a model's path, starts the promotion of this version to the next environment (./promotion.ts):
   * its soak, conditions and, with auto, the next release. Its id is derived, so it starts once.
   */
  async function handOn() {
    let next: NextPathStep | undefined;
    try {
      next = await pathConfig(`next environment of ${model} after ${environment}`).nextInPath(ref);
    } catch (err) {
      rethrowUnregistered(err);
      note(`the model's path could not be read (${describeFailure(err, undefined).message.split('\n')[0]}); no promotion started`);
      return;
    }
    if (!next || !spec || !status.digest || !status.image || !status.commit) return;
    const workflowId = promotionWorkflowId(model, environment, version);
    const artifact: PromotionArtifact = {
      environment,
      releaseId: status.releaseId,
      version,
      image: status.image,
      digest: status.digest,
      commit: status.commit,
      verification: summarizeVerification(status),
      spec,
      repoUrl: input.repoUrl,
      promotedAt: status.finishedAt ?? now(),
    };
    try {
      await startChild('promoteVersion', {
        workflowId,
        args: [{ model, version, artifact, to: next }],
        parentClosePolicy: ParentClosePolicy.ABANDON,
        staticSummary: `promote ${model} ${version}: ${environment} → ${next.environment}`,
      });
      status.promotion = { to: next.environment, workflowId };
      note(`promotion to ${next.environment} started (${workflowId}): ${next.requireAnalysis ? 'analysis must have passed, ' : ''}soak ${formatMs(next.soakMs)}${next.auto ? ', then released automatically' : ', then eligible'}`);
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      status.promotion = { to: next.environment, workflowId };
      note(`a promotion of ${version} to ${next.environment} already runs (${workflowId})`);
    }
  }

  /**
   * Reads the policy this release runs under and checks that whoever started it may: verified
   * when serve signed the start (input.identity), else the self-declared requestedBy.
   */
  async function readPolicy() {
    const resolved = await activities('short', `read the approval policy of ${model} in ${environment}`).resolvePolicy(ref);
    policy = resolved;
    status.policy = { summary: describePolicy(resolved.policy), source: resolved.source };
    const starter = identify(resolved.verifyKey, workflowInfo().workflowId, 'start', input.identity ?? { who: input.requestedBy ?? '(unknown)' }, Date.now());
    status.requestedVia = starter.via;
    if (!starter.ok) throw ApplicationFailure.nonRetryable(`start refused: ${starter.why}`, FailureType.PolicyRefused);
    status.requestedBy = starter.actor.who;
    const verdict = evaluate(resolved.policy, 'start', starter.actor);
    if (!verdict.allowed) throw ApplicationFailure.nonRetryable(verdict.message, FailureType.PolicyRefused);
    note(`started by ${starter.actor.who} (${describeChannel(starter.via)}) [${verdict.rule}]; policy: ${status.policy.summary} — from ${resolved.source}`);
    const override = input.promotedFrom?.override;
    if (override) {
      // Overriding the path's conditions is promoting early: the target environment's promote rule decides.
      const allowed = evaluate(resolved.policy, 'promote', starter.actor);
      if (!allowed.allowed) throw ApplicationFailure.nonRetryable(`override refused: ${allowed.message}`, FailureType.PolicyRefused);
      note(`path condition overridden by ${starter.actor.who} [${allowed.rule}]: ${override.unmet}; reason: ${override.reason}`);
    }
  }

  /**
   * Outside every deploy window of the environment, waits (a durable timer on workflow time) until
   * the next one opens, or until an allowed person overrides. Nothing changes without windows.
   */
  async function awaitDeployWindow() {
    const windows = policy?.deployWindows;
    if (!windows?.length || !patched(PATCH_DEPLOY_WINDOWS)) return;
    const opens = nextOpening(windows, Date.now());
    if (opens === undefined || opens <= Date.now()) return;
    const opensAt = new Date(opens).toISOString();
    status.waitingFor = 'deploy-window';
    status.deployWindow = { opensAt, windows: describeWindows(windows) };
    note(`outside the deploy windows (${status.deployWindow.windows}): waiting until ${opensAt} before moving traffic`);
    const overridden = await condition(() => windowOverridden, opens - Date.now(), { summary: `deploy window opens ${opensAt}` });
    status.waitingFor = undefined;
    status.deployWindow = undefined;
    if (!overridden) note(`deploy window open (${opensAt}): moving traffic`);
  }

  async function setTraffic(state: TrafficState, via: (summary: string) => ReleaseActivities = (summary) => activities('short', summary)) {
    trafficTouched = true;
    const applied = await via(`route ${model}: ${formatWeights(state.weights)}`).setTraffic({ ...ref, ...state });
    status.weights = { ...applied.weights };
    note(`traffic ${formatWeights(applied.weights)}${Object.keys(applied.weights).length ? '' : `; pinned only: ${applied.pinned.join(', ')}`}`);
  }

  async function runStep(step: PlanStep, index: number, spec: Spec): Promise<string> {
    switch (step.kind) {
      case 'setWeight': {
        const weights = canaryWeights(version, stable, step.weight);
        await setTraffic({ weights, pinned: withPin(before!.traffic.pinned, version), stable });
        return stable ? `${formatWeights(weights)}` : `no stable version: ${version} takes all traffic`;
      }
      case 'pause': {
        const resumedAt = resumeCount;
        status.waitingFor = step.durationMs === undefined ? 'resume' : undefined;
        setCurrentDetails(`paused: ${describeStep(step, version)}`);
        const done = () => resumeCount > resumedAt || promoteRequested;
        if (step.durationMs === undefined) await condition(done);
        else await condition(done, step.durationMs, { summary: `pause ${formatMs(step.durationMs)}` });
        status.waitingFor = undefined;
        return resumeCount > resumedAt ? 'resumed' : promoteRequested ? 'ended by promote' : 'elapsed';
      }
      case 'approval': {
        status.waitingFor = 'approval';
        if (policy) {
          gate = { index, by: [] };
          status.approvals = { required: policy.policy.approvals, by: [] };
        }
        note(`waiting for approval of ${version}${policy && policy.policy.approvals > 1 ? ` by ${policy.policy.approvals} distinct approvers` : ''}`);
        notify('approval');
        const approved = () => approvedFor === index || promoteRequested;
        const ok =
          step.timeoutMs === undefined
            ? (await condition(approved), true)
            : await condition(approved, step.timeoutMs, { summary: `approval of ${version} (timeout ${formatMs(step.timeoutMs)})` });
        status.waitingFor = undefined;
        if (!ok) throw ApplicationFailure.nonRetryable(`no approval within ${formatMs(step.timeoutMs!)}`, FailureType.ApprovalTimeout);
        // An abort in the same instant wins: the scope is cancelled and the next await throws.
        if (!abort) approvalTakenFor = index;
        if (policy && policy.policy.approvals > 1 && approvedFor === index) return `approved by ${gate.by.join(', ')}`;
        const by = status.actions.filter((a) => a.accepted && (a.action === 'approve' || a.action === 'promote')).at(-1);
        return by ? `${by.action === 'approve' ? 'approved' : 'promoted'} by ${by.who}${by.text ? `: ${by.text}` : ''}` : 'approved';
      }
      case 'analysis': {
        const results: string[] = [];
        for (let round = 1; round <= step.count; round++) {
          const from = now();
          const result = await timedActivities('analysis', spec, `analyse ${version} for ${formatMs(step.intervalMs)} (${round}/${step.count})`, step.intervalMs).analyzeVersion({
            ...ref,
            version,
            rule: step.rule,
            windowMs: step.intervalMs,
            // Only when it compares, so rounds without comparisons send what they always sent.
            ...(step.rule.compare && stable ? { stable } : {}),
          });
          recordMeasurements(analysisMeasurements({ step: index, round, window: { from, to: now() } }, result, step.rule));
          results.push(`${round}: ${result.outcome} (${result.detail})`);
          note(`analysis ${round}/${step.count} of ${version}: ${result.outcome} — ${result.detail}`);
          if (result.outcome === 'fail') {
            throw ApplicationFailure.nonRetryable(`analysis failed: ${result.detail}`, FailureType.AnalysisFailed);
          }
          if (result.outcome === 'inconclusive') await awaitResumeAfterInconclusive('analysis', result.detail);
          if (promoteRequested) break;
        }
        return results.join('; ');
      }
      case 'shadow': {
        // Callers keep stable's answers; the new version gets copies, on top of its pinned access.
        const serving = { weights: canaryWeights(version, stable, 0), pinned: withPin(before!.traffic.pinned, version), stable };
        await setTraffic({ ...serving, mirror: { version, percent: step.percent, ...(step.agreement ? { compare: step.agreement.compare } : {}) } });
        const results: string[] = [];
        const agreement = step.agreement;
        if (!agreement) {
          await condition(() => promoteRequested, step.durationMs, { summary: `copy requests to ${version} for ${formatMs(step.durationMs)}` });
          results.push(promoteRequested ? 'ended by promote' : `copied ${step.percent}% of requests for ${formatMs(step.durationMs)}`);
        }
        for (let round = 1; agreement && round <= step.count; round++) {
          const windowMs = Math.min(step.intervalMs, step.durationMs - (round - 1) * step.intervalMs);
          const from = now();
          const result = await timedActivities('analysis', spec, `compare ${version}'s predictions with ${stable} for ${formatMs(windowMs)} (${round}/${step.count})`, windowMs).analyzeShadow({
            ...ref,
            version,
            stable: stable!,
            rule: agreement.rule,
            windowMs,
          });
          recordMeasurements(shadowMeasurements({ step: index, round, window: { from, to: now() } }, result, agreement.rule.min));
          status.shadow = { version, stable: stable!, ...(result.agreement === undefined ? {} : { agreement: result.agreement }), pairs: result.pairs, samples: result.samples.slice(-(agreement.compare.samples ?? result.samples.length)) };
          results.push(`${round}: ${result.outcome} (${result.detail})`);
          note(`shadow ${round}/${step.count} of ${version}: ${result.outcome} — ${result.detail}`);
          if (result.outcome === 'fail') throw ApplicationFailure.nonRetryable(`shadow analysis failed: ${result.detail}`, FailureType.AnalysisFailed);
          if (result.outcome === 'inconclusive') await awaitResumeAfterInconclusive('shadow analysis', result.detail);
          if (promoteRequested) break;
        }
        // The copies stop with the step: from the next one the new version answers callers itself.
        await setTraffic(serving);
        return results.join('; ');
      }
      case 'promote': {
        const after = await activities('short', `read what runs of ${model} in ${environment}`).describeModel(ref);
        // Candidates scaled down by earlier rollbacks are retired too: they hold no traffic.
        const retire = [...versionsToRetire(after.running, version, spec.retention.keepPrevious), ...(after.scaledDown ?? []).filter((v) => v !== version)];
        const warm = after.running.map((v) => v.version).filter((v) => v !== version && !retire.includes(v));
        await setTraffic(promotedState(version, warm));
        if (retire.length) {
          await activities('short', `retire ${retire.join(', ')}`).retireVersions({ ...ref, versions: retire });
          note(`retired ${retire.join(', ')}; kept warm: ${warm.join(', ') || 'none'}`);
        }
        return `${version} 100%${warm.length ? `, warm: ${warm.join(', ')}` : ''}`;
      }
    }
  }

  /** Like a failed gate that a person can overrule: waits for resume (or abort, or promote). */
  async function awaitResumeAfterInconclusive(what: string, detail: string) {
    status.paused = true;
    status.waitingFor = 'resume';
    note(`${what} inconclusive (${detail}); resume to continue or abort to roll back`);
    await condition(() => !status.paused || promoteRequested);
    status.waitingFor = undefined;
  }

  /**
   * Starts the spec's background analysis: window after window while the steps run, in a scope of
   * its own inside the pipeline. A failing window (or one that cannot be measured after retries)
   * records the reason and cancels the pipeline, which rolls back whatever step was running; an
   * inconclusive one is recorded and the next window begins. Returns what stops it (before promotion).
   */
  function startBackground(plan: BackgroundPlan, spec: Spec): () => Promise<void> {
    const scope = new CancellationScope();
    status.background = { state: 'running', rounds: 0 };
    note(`background analysis of ${version} started: a window every ${formatMs(plan.intervalMs)} until promotion`);
    const running = scope
      .run(async () => {
        for (let round = 1; ; round++) {
          const from = now();
          const result = await timedActivities('analysis', spec, `background analysis of ${version} for ${formatMs(plan.intervalMs)} (${round})`, plan.intervalMs).analyzeVersion({
            ...ref,
            version,
            rule: plan.rule,
            windowMs: plan.intervalMs,
            ...(plan.rule.compare && stable ? { stable } : {}),
          });
          recordMeasurements(analysisMeasurements({ step: 'background', round, window: { from, to: now() } }, result, plan.rule));
          status.background = { state: 'running', rounds: round, last: `${result.outcome}: ${result.detail}` };
          note(`background analysis ${round} of ${version}: ${result.outcome} — ${result.detail}`);
          if (result.outcome === 'fail') throw ApplicationFailure.nonRetryable(`background analysis failed: ${result.detail}`, FailureType.AnalysisFailed);
        }
      })
      .catch((err: unknown) => {
        if (isCancellation(err)) return;
        backgroundFailure = describeFailure(err, undefined);
        status.background = { ...status.background!, state: 'failed' };
        pipeline.cancel();
      });
    return async () => {
      scope.cancel();
      await running;
      if (status.background?.state === 'running') {
        status.background.state = 'stopped';
        note(`background analysis of ${version} stopped after ${status.background.rounds} window${status.background.rounds === 1 ? '' : 's'}: promoting`);
      }
    };
  }

  async function rollBack(fullReason: string) {
    // History lines stay one line; the full reason (e.g. a build log tail) is in status.reason.
    const reason = fullReason.split('\n')[0]!;
    if (!deployStarted) {
      // Nothing was deployed and no traffic moved: the release simply failed, with its reason.
      status.outcome = 'failed';
      status.finishedAt = now();
      enter('failed', `failed before deploying anything: ${reason}`);
      return;
    }
    enter('rolling-back', `rolling back: ${reason}`);
    // Each part is retried until it is done: a rollback that gives up would leave traffic split.
    // The original reason stays in status.reason; every failed attempt is recorded beside it.
    if (before && trafficTouched) await untilDone('restore traffic', restoreTraffic);
    if (!wasRunning) {
      await untilDone(`scale down ${version}`, () => rollbackActivities(`scale down ${model} ${version}`).scaleDownVersion({ ...ref, version }));
      note(`${version} scaled down`);
    }
    status.outcome = 'rolled-back';
    status.finishedAt = now();
    enter('rolled-back', `rolled back${stable ? ` to ${stable}` : ''}: ${reason}`);
  }

  /**
   * Puts the traffic back as it was before the release. When the previous stable version lost its
   * replicas (an engine restart), it is scaled up again first; while it cannot serve, traffic
   * stays on the versions that are ready, so as many requests as possible succeed meanwhile.
   */
  async function restoreTraffic(attempt: number) {
    const wanted = before!.traffic;
    const pinned = wanted.pinned.filter((v) => v !== version || wasRunning);
    if (attempt > 1) {
      const now = await rollbackActivities(`read what runs of ${model} in ${environment}`).describeModel(ref);
      const ready = new Set(now.running.filter((v) => v.readyReplicas > 0).map((v) => v.version));
      const lost = Object.keys(wanted.weights).filter((v) => wanted.weights[v]! > 0 && !ready.has(v));
      if (lost.length) {
        const fallback = withoutVersions(now.traffic.weights, lost);
        if (Object.keys(fallback).length && JSON.stringify(fallback) !== JSON.stringify(now.traffic.weights)) {
          await setTraffic({ weights: fallback, pinned: now.traffic.pinned.filter((v) => ready.has(v)), stable: now.traffic.stable }, rollbackActivities);
          note(`meanwhile traffic stays on what is ready: ${formatWeights(fallback)}`);
        }
        for (const v of lost) {
          const replicas = before!.running.find((r) => r.version === v)?.replicas ?? 1;
          note(`bringing ${v} back to ${replicas} replica${replicas === 1 ? '' : 's'}`);
          await rollbackActivities(`restore ${model} ${v} (${replicas} replicas)`).restoreVersion({ ...ref, version: v, replicas });
        }
      }
    }
    await setTraffic({ weights: wanted.weights, pinned, stable: wanted.stable }, rollbackActivities);
  }

  /** Runs a rollback part until it succeeds, backing off, with every failure in status and history. */
  async function untilDone(what: string, part: (attempt: number) => Promise<unknown>) {
    for (let attempt = 1; ; attempt++) {
      try {
        await part(attempt);
        if (status.blocked) note(`rollback unblocked: ${what} done`);
        status.blocked = undefined;
        return;
      } catch (err) {
        const failure = describeFailure(err, undefined).message.split('\n')[0]!;
        status.blocked = `rollback blocked: ${what}: ${failure}`;
        status.rollbackFailures = [...(status.rollbackFailures ?? []), { at: now(), part: what, error: failure }].slice(-MAX_RECORDS);
        note(`${status.blocked} (attempt ${attempt}; retrying)`);
        await sleep(Math.min(ROLLBACK_BACKOFF_MS * 2 ** Math.min(attempt - 1, 8), ROLLBACK_MAX_BACKOFF_MS), { summary: `rollback blocked, retry ${what}` });
      }
    }
  }
}

/**
 * Versioning of running releases (releases wait days for approval, so a new worker must replay
 * what an older one recorded): every change to the commands or message answers of this workflow
 * is behind a `patched()` id listed here, and test/histories keeps one history per shipped
 * version (the replay test). Remove a patch's old branch only when no release started before it runs.
 */
/** approve answers once the approval took effect (an abort at the same moment wins); was: at once. */
const PATCH_APPROVAL_ANSWERED_AFTER_EFFECT = 'approve-answered-after-effect';
/** the approval policy: a resolvePolicy activity first, then every message checked against it; was: anyone, one approval. */
const PATCH_APPROVAL_POLICY = 'approval-policy';

/** a release waits for the environment's deploy windows before its first traffic change; was: no windows. */
const PATCH_DEPLOY_WINDOWS = 'deploy-windows';

/** a release sends notifications (./notify.ts) as it waits for approval and as it ends; was: none. */
const PATCH_NOTIFICATIONS = 'release-notifications';

/** a promoted release on a model's path starts the promotion to the next environment (./promotion.ts); was: none. */
const PATCH_PROMOTION_PATH = 'promotion-path';

/** a release into an environment a model's path leads to must carry the previous environment's artifact; was: any release. */
const PATCH_PATH_ENTRY = 'path-entry-by-artifact';

/** The record of where a promoted version's artifact came from (without the spec it carries). */
function promotedRecord(promoted: NonNullable<ReleaseInput['promotedFrom']>): PromotedFrom {
  const { environment, releaseId, version, image, digest, commit, verification, override } = promoted;
  return { environment, releaseId, version, image, digest, commit, verification, ...(override ? { override } : {}) };
}

/** How many history lines and operator actions a release keeps (first half and latest). */
const MAX_RECORDS = 200;
const ROLLBACK_BACKOFF_MS = 5_000;
const ROLLBACK_MAX_BACKOFF_MS = 5 * 60_000;

function formatWeights(weights: Record<string, number>): string {
  const parts = Object.entries(weights).map(([v, w]) => `${v} ${w}%`);
  return parts.length ? parts.join(', ') : 'no unpinned routes';
}

/** The recorded reason for a rollback: who aborted, or which failure, with its type. */
function describeFailure(err: unknown, abort: OperatorRequest | undefined): { message: string; type: string } {
  if (abort && isCancellation(err)) {
    return { message: `aborted by ${abort.who}${abort.text ? `: ${abort.text}` : ''}`, type: FailureType.Aborted };
  }
  if (isCancellation(err)) return { message: 'the release workflow was cancelled', type: FailureType.Cancelled };
  let failure: unknown = err;
  // Activity failures wrap the ApplicationFailure thrown by the activity.
  while (failure && typeof failure === 'object' && 'cause' in failure && (failure as { cause?: unknown }).cause && !(failure instanceof ApplicationFailure)) {
    failure = (failure as { cause: unknown }).cause;
  }
  if (failure instanceof ApplicationFailure) return { message: failure.message, type: failure.type ?? UNTYPED_FAILURE };
  return { message: err instanceof Error ? err.message : String(err), type: UNTYPED_FAILURE };
}
