/**
 * The typed API of tandem, used by the CLI, by CI scripts and by the tests: start a release, send
 * operator messages with immediate feedback, read status, wait, list history, read running
 * versions, roll back. Everything goes through Temporal; nothing here touches a cluster.
 */
import {
  Client,
  Connection,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowUpdateFailedError,
  WorkflowNotFoundError,
  type WorkflowExecutionInfo,
  type WorkflowHandle,
} from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { TRIGGER_ID, modelWorkflowId, releaseWorkflowId, rollbackWorkflowId, triggeredReleaseWorkflowId } from '../naming/ids';
import { temporalTarget } from '../temporal-connection';
import type { ModelOperation } from '../workflows/model';
import {
  statusQuery,
  updates,
  type OperatorAction,
  type OperatorActionName,
  type OperatorRequest,
  type ReleaseInput,
  type ReleaseStatus,
  type RollbackInput,
  type RollbackResult,
} from '../workflows/messages';
import type { ModelState } from '../activities/types';
import { BAD_INPUT_FAILURES, FailureType } from '../errors';
import { BadInputError, NotFoundError, PolicyRefusedError, RefusedError, ReleaseFailedError } from './errors';
import { validateReleaseInput } from './validate';
import type { RequestSigner, SignedIdentity } from '../policy/identity';

export { BadInputError, NotFoundError, PolicyRefusedError, RefusedError, ReleaseFailedError };

export interface ClientOptions {
  /** host:port; default: the Temporal profile / TEMPORAL_ADDRESS (src/temporal-connection.ts), else localhost:7233 */
  address?: string;
  /** default: the Temporal profile / TEMPORAL_NAMESPACE, else "default" */
  namespace?: string;
  /** default "tandem" */
  taskQueue?: string;
}

export interface HistoryEntry {
  /** a release, or a rollback to a running version */
  kind: 'release' | 'rollback';
  workflowId: string;
  runId: string;
  version: string;
  stage: string;
  status: string;
  startTime: string;
  closeTime?: string;
}

/** One release as the list of all releases shows it: where it is, and what it waits for while it runs. */
export interface ReleaseSummary {
  workflowId: string;
  model: string;
  environment: string;
  version: string;
  stage: string;
  /** Temporal's execution status: RUNNING, COMPLETED (promoted), FAILED (rolled back or failed), ... */
  status: string;
  startTime: string;
  closeTime?: string;
  /** while running: what it waits for (from its status query; absent when no worker answered in time) */
  waitingFor?: 'approval' | 'resume' | 'deploy-window';
  paused?: boolean;
}

export interface ReleaseFilter {
  model?: string;
  environment?: string;
  /** only releases that are still running (default true) */
  running?: boolean;
}

/** Input-classified failure types: the release failed because of what it was asked to do. */
/** What the model's lock workflow records (its memo): the operation it runs and the latest release. */
interface LockMemo {
  operation: 'release' | 'rollback';
  /** the child workflow running the operation */
  workflowId: string;
  /** the latest release of the model here (this one, or the one before a rollback) */
  lastRelease?: string;
}

export class TandemClient {
  private constructor(
    readonly temporal: Client,
    readonly taskQueue: string,
    private readonly connection: Connection,
  ) {}

  /** Connects to Temporal; throws when the server does not answer. */
  static async connect(options: ClientOptions = {}): Promise<TandemClient> {
    const target = temporalTarget(options);
    const connection = await Connection.connect({ ...target.connection, connectTimeout: '5s' });
    const namespace = target.namespace;
    return new TandemClient(new Client({ connection, namespace }), options.taskQueue ?? 'tandem', connection);
  }

  async close(): Promise<void> {
    await this.connection.close();
  }

  /**
   * Starts a release under the model's lock. Throws BadInputError for malformed input and
   * RefusedError when a release or rollback of the model is already running in that environment
   * (naming it and what to do). Returns the handle of the release workflow, which a worker
   * starts moments later (wait() and status() allow for that).
   */
  async start(input: ReleaseInput, signer?: RequestSigner): Promise<WorkflowHandle> {
    validateReleaseInput(input);
    const workflowId = releaseWorkflowId(input.model, input.environment, input.tag, new Date());
    const op: ModelOperation = { kind: 'release', workflowId, release: signed(input, signer?.(workflowId, 'start')) };
    await this.lock(input.model, input.environment, op, { operation: 'release', workflowId, lastRelease: workflowId });
    return this.temporal.workflow.getHandle(workflowId);
  }

  /**
   * Starts a release at most once per trigger (a webhook's delivery id, see naming/ids.ts
   * TRIGGER_ID): the release's workflow id is derived from `trigger`, so a second call with the
   * same trigger — from another process, or after a restart — starts nothing and answers the
   * release the first call started (`started: false`), for as long as Temporal keeps its record
   * (the namespace's retention). Otherwise as start(): BadInputError, RefusedError.
   */
  async startOnce(input: ReleaseInput, trigger: string, signer?: RequestSigner): Promise<{ workflowId: string; started: boolean }> {
    validateReleaseInput(input);
    if (!TRIGGER_ID.test(trigger)) throw new BadInputError(`trigger "${trigger.slice(0, 40)}" is not an id: use up to 160 letters, digits, ".", "_" and "-"`);
    const workflowId = triggeredReleaseWorkflowId(input.model, input.environment, input.tag, trigger);
    if (await this.startedAlready(input.model, input.environment, workflowId)) return { workflowId, started: false };
    const op: ModelOperation = { kind: 'release', workflowId, release: signed(input, signer?.(workflowId, 'start')) };
    try {
      await this.lock(input.model, input.environment, op, { operation: 'release', workflowId, lastRelease: workflowId });
    } catch (err) {
      // The same trigger delivered twice at once: the other call holds the lock for this very release.
      if (err instanceof RefusedError && (await this.startedAlready(input.model, input.environment, workflowId))) return { workflowId, started: false };
      throw err;
    }
    return { workflowId, started: true };
  }

  /** True when the release `workflowId` exists, or the model's lock is starting it. */
  private async startedAlready(model: string, environment: string, workflowId: string): Promise<boolean> {
    if ((await this.lockMemo(model, environment))?.workflowId === workflowId) return true;
    try {
      await this.temporal.workflow.getHandle(workflowId).describe();
      return true;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return false;
      throw err;
    }
  }

  /** Starts the lock workflow for one operation; RefusedError naming what holds the lock. */
  private async lock(model: string, environment: string, op: ModelOperation, memo: LockMemo, retry = true): Promise<WorkflowHandle> {
    const what = op.kind === 'release' ? `${model} ${op.release.tag} → ${environment}` : `rollback ${model} in ${environment}${op.rollback.to ? ` to ${op.rollback.to}` : ''}`;
    try {
      return await this.temporal.workflow.start('modelOperation', {
        workflowId: modelWorkflowId(model, environment),
        taskQueue: this.taskQueue,
        args: [op],
        memo: memo as unknown as Record<string, unknown>,
        workflowIdReusePolicy: 'ALLOW_DUPLICATE',
        workflowIdConflictPolicy: 'FAIL',
        staticSummary: what,
      });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      if (retry && (await this.lockReleasing(model, environment))) return this.lock(model, environment, op, memo, false);
      throw new RefusedError(await this.busyMessage(model, environment, op.kind));
    }
  }

  /**
   * True when the lock was held by an operation that has just finished and the lock then closed
   * (it closes moments after its child): a start right after `--wait` returned is not refused.
   */
  private async lockReleasing(model: string, environment: string): Promise<boolean> {
    const memo = await this.lockMemo(model, environment).catch(() => undefined);
    if (!memo?.running) return true;
    const child = await this.temporal.workflow
      .getHandle(memo.workflowId)
      .describe()
      .catch(() => undefined);
    if (!child || child.status.name === 'RUNNING') return false;
    const lock = this.temporal.workflow.getHandle(modelWorkflowId(model, environment));
    const closed = lock.result().then(
      () => true,
      () => true,
    );
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), 10_000)));
    return Promise.race([closed, late]).finally(() => clearTimeout(timer));
  }

  /** Why an operation cannot start now: what runs, and what the operator can do about it. */
  private async busyMessage(model: string, environment: string, wanted: ModelOperation['kind']): Promise<string> {
    const memo = await this.lockMemo(model, environment).catch(() => undefined);
    const env = `--env ${environment}`;
    if (memo?.operation === 'rollback') return `a rollback of ${model} in ${environment} is running; wait for it to finish (seconds), then try again`;
    const running = memo ? await this.statusOf(memo.workflowId).catch(() => undefined) : undefined;
    const what = running ? `${running.version} (stage ${running.stage}${running.waitingFor ? `, waiting for ${running.waitingFor}` : ''}${running.blocked ? `; ${running.blocked}` : ''})` : 'a release not yet picked up by a worker';
    const abort = `abort it (rolls back) with \`tandem release abort ${model} ${env} --reason TEXT\``;
    const steer =
      running?.waitingFor === 'approval'
        ? `Approve it with \`tandem release approve ${model} ${env}\`, or ${abort}.`
        : running?.waitingFor === 'resume'
          ? `Resume it with \`tandem release resume ${model} ${env}\`, or ${abort}.`
          : running?.stage === 'rolling-back'
            ? `It is rolling back; follow it with \`tandem release watch ${model} ${env}\`.`
            : `Follow it with \`tandem release watch ${model} ${env}\`, or ${abort}.`;
    const verb = wanted === 'release' ? 'release' : 'roll back';
    return `${model} already has an active release in ${environment}: ${what}; cannot ${verb} now. ${steer}`;
  }

  /** The memo of the model's latest lock run, or undefined when the model never had one here. */
  private async lockMemo(model: string, environment: string): Promise<(LockMemo & { running: boolean }) | undefined> {
    try {
      const description = await this.temporal.workflow.getHandle(modelWorkflowId(model, environment)).describe();
      const memo = description.memo as LockMemo | undefined;
      return memo?.workflowId ? { ...memo, running: description.status.name === 'RUNNING' } : undefined;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    }
  }

  /** Id of the latest release workflow of the model here; RefusedError when there is none. */
  private async latestRelease(model: string, environment: string): Promise<string> {
    const memo = await this.lockMemo(model, environment);
    if (!memo?.lastRelease) throw new NotFoundError(`${model} has no release in ${environment}`);
    return memo.lastRelease;
  }

  /** Whether any worker polled the task queue recently; a release started without one waits for one. */
  async hasWorker(): Promise<boolean> {
    const response = await this.temporal.workflowService.describeTaskQueue({
      namespace: this.temporal.options.namespace,
      taskQueue: { name: this.taskQueue },
      taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    });
    return (response.pollers?.length ?? 0) > 0;
  }

  /** Handle of the latest release of the model in the environment; RefusedError when there is none. */
  async releaseHandle(model: string, environment: string): Promise<WorkflowHandle> {
    return this.temporal.workflow.getHandle(await this.latestRelease(model, environment));
  }

  /**
   * Sends an operator action and returns it once the release accepted it. Throws RefusedError with
   * the release's reason when it cannot apply (nothing awaits approval, release already finished).
   */
  async act(model: string, environment: string, action: OperatorActionName, request: OperatorRequest, signer?: RequestSigner): Promise<OperatorAction> {
    const handle = await this.releaseHandle(model, environment);
    // Signed, `who` and groups are the signer's (the caller serve authenticated), whatever the request says.
    const sent = signer ? { ...request, ...signer(handle.workflowId, action, request.text) } : request;
    try {
      return await handle.executeUpdate(updates[action], { args: [sent] });
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError) {
        const reason = err.cause?.message ?? err.message;
        // Policy refusals already say `<action> refused: <rule> — ...`.
        if (err.cause instanceof ApplicationFailure && err.cause.type === FailureType.PolicyRefused) throw new PolicyRefusedError(reason);
        throw new RefusedError(reason.startsWith(`${action} refused: `) ? reason : `${action} refused: ${reason}`);
      }
      if (err instanceof WorkflowNotFoundError && (await this.lockMemo(model, environment))?.running) {
        throw new RefusedError(`${action} refused: the release of ${model} in ${environment} has not been picked up by a worker yet (is \`tandem worker\` running?)`);
      }
      if (err instanceof WorkflowNotFoundError || isNotRunning(err)) {
        const last = await this.status(model, environment).catch(() => undefined);
        if (!last) throw new NotFoundError(`${action} refused: ${model} has no release in ${environment}`);
        throw new RefusedError(`${action} refused: the last release of ${model} in ${environment} (${last.version}) is ${last.outcome ?? last.stage}; nothing to ${action}`);
      }
      throw err;
    }
  }

  /**
   * Status of the latest release (running or finished); RefusedError when there is none. A
   * finished release's status is its recorded result, so reading it needs no running worker.
   */
  async status(model: string, environment: string): Promise<ReleaseStatus> {
    const workflowId = await this.latestRelease(model, environment);
    try {
      return await this.statusOf(workflowId);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) {
        throw new RefusedError(`the release of ${model} in ${environment} has not been picked up by a worker yet (is \`tandem worker\` running?)`);
      }
      throw err;
    }
  }

  /** Status of one release workflow by its id, running or finished (the console reads past releases with it). */
  async statusOf(workflowId: string): Promise<ReleaseStatus> {
    const handle = this.temporal.workflow.getHandle(workflowId);
    const description = await handle.describe();
    if (description.status.name === 'RUNNING') return await handle.query(statusQuery);
    const final = await finalStatus(handle);
    return final ?? (await handle.query(statusQuery));
  }

  /**
   * Follows a release until it ends, calling onChange with each new status. Resolves with the final
   * status when promoted; throws ReleaseFailedError when rolled back or failed.
   */
  async wait(handle: WorkflowHandle, onChange?: (status: ReleaseStatus) => void, pollMs = 500): Promise<ReleaseStatus> {
    await this.started(handle, pollMs);
    let last = '';
    let done = false;
    const result = handle.result().finally(() => {
      done = true;
    });
    const settled = result.then(
      () => undefined,
      () => undefined,
    );
    const poll = async () => {
      while (!done && onChange) {
        const status = await handle.query(statusQuery).catch(() => undefined);
        if (status && !done) {
          const key = JSON.stringify([status.stage, status.history.length, status.weights, status.waitingFor, status.paused]);
          if (key !== last) {
            last = key;
            onChange(status);
          }
        }
        await Promise.race([new Promise((r) => setTimeout(r, pollMs)), settled]);
      }
    };
    const polling = poll();
    try {
      const final = (await result) as ReleaseStatus;
      await polling;
      onChange?.(final);
      return final;
    } catch (err) {
      await polling;
      if (err instanceof WorkflowFailedError && err.cause instanceof ApplicationFailure) {
        const status = err.cause.details?.[0] as ReleaseStatus | undefined;
        if (status) onChange?.(status);
        throw new ReleaseFailedError(err.cause.message, status, status?.failureType);
      }
      throw err;
    }
  }

  /** Resolves once the workflow exists: a release starts moments after its lock, when a worker picks it up. */
  private async started(handle: WorkflowHandle, pollMs: number): Promise<void> {
    for (;;) {
      try {
        await handle.describe();
        return;
      } catch (err) {
        if (!(err instanceof WorkflowNotFoundError)) throw err;
      }
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }

  /** Past releases and rollbacks of a model in an environment, newest first (needs the Tandem* search attributes). */
  async history(model: string, environment: string, limit = 20): Promise<HistoryEntry[]> {
    const query = `WorkflowType IN ('release', 'rollbackModel') AND TandemModel = '${escapeQuery(model)}' AND TandemEnvironment = '${escapeQuery(environment)}'`;
    const entries: HistoryEntry[] = [];
    for await (const wf of this.temporal.workflow.list({ query })) {
      const { workflowId, version, stage, status, startTime, closeTime } = visibilityRow(wf);
      entries.push({ kind: wf.type === 'rollbackModel' ? 'rollback' : 'release', workflowId, runId: wf.runId, version, stage, status, startTime, closeTime });
      if (entries.length >= limit) break;
    }
    return entries;
  }

  /**
   * Releases of every model and environment, newest first, from Temporal's visibility store (the
   * Tandem* search attributes). For each running one, its status query says what it waits for; a
   * release whose worker does not answer within `queryTimeoutMs` is listed without it.
   */
  async releases(filter: ReleaseFilter = {}, limit = 100, queryTimeoutMs = 3_000): Promise<ReleaseSummary[]> {
    // Only this installation's releases: other task queues belong to other tandem set-ups (and their
    // releases may have no worker, so each status query would wait for its deadline).
    const clauses = ["WorkflowType = 'release'", `TaskQueue = '${escapeQuery(this.taskQueue)}'`];
    if (filter.running ?? true) clauses.push("ExecutionStatus = 'Running'");
    if (filter.model) clauses.push(`TandemModel = '${escapeQuery(filter.model)}'`);
    if (filter.environment) clauses.push(`TandemEnvironment = '${escapeQuery(filter.environment)}'`);
    const summaries: ReleaseSummary[] = [];
    for await (const wf of this.temporal.workflow.list({ query: clauses.join(' AND ') })) {
      summaries.push(visibilityRow(wf));
      if (summaries.length >= limit) break;
    }
    await Promise.all(
      summaries
        .filter((s) => s.status === 'RUNNING')
        .map(async (summary) => {
          const status = await this.temporal
            .withDeadline(Date.now() + queryTimeoutMs, () => this.temporal.workflow.getHandle(summary.workflowId).query(statusQuery))
            .catch(() => undefined);
          if (!status) return;
          summary.stage = status.stage;
          summary.paused = status.paused;
          if (status.waitingFor) summary.waitingFor = status.waitingFor;
        }),
    );
    return summaries;
  }

  /** Running versions and traffic, read from the environment by a worker that serves it. */
  async versions(model: string, environment: string): Promise<ModelState> {
    return this.temporal.workflow.execute('describeModelWorkflow', {
      // Two reads in the same millisecond (concurrent API calls) must not share an id.
      workflowId: `describe/${environment}/${model}/${Date.now()}-${randomUUID().slice(0, 8)}`,
      taskQueue: this.taskQueue,
      args: [{ model, environment }],
      workflowExecutionTimeout: '1m',
    });
  }

  /**
   * Switches a model's traffic to a running version (default: the most recent warm one), under
   * the model's lock. Refused while a release is active (abort it instead: that rolls back) or
   * when the version is not running.
   */
  async rollback(input: RollbackInput, signer?: RequestSigner): Promise<RollbackResult> {
    const previous = await this.lockMemo(input.model, input.environment);
    const workflowId = rollbackWorkflowId(input.model, input.environment, input.to, new Date());
    const op: ModelOperation = { kind: 'rollback', workflowId, rollback: signed(input, signer?.(workflowId, 'rollback', input.reason)) };
    const lock = await this.lock(input.model, input.environment, op, { operation: 'rollback', workflowId, lastRelease: previous?.lastRelease });
    try {
      return (await lock.result()) as RollbackResult;
    } catch (err) {
      const cause = err instanceof WorkflowFailedError ? innermost(err) : undefined;
      if (cause instanceof ApplicationFailure && cause.type === FailureType.VersionNotRunning) throw new RefusedError(`rollback refused: ${cause.message}`);
      if (cause instanceof ApplicationFailure && cause.type === FailureType.PolicyRefused) throw new PolicyRefusedError(cause.message);
      throw err;
    }
  }
}

/** The input with serve's signed identity: requestedBy is then the signed name. */
function signed<T extends { requestedBy?: string }>(input: T, identity: SignedIdentity | undefined): T {
  return identity ? { ...input, requestedBy: identity.who, identity } : input;
}

/** True when a failure type means the release failed because of its input. */
export function isBadInputFailure(type: string | undefined): boolean {
  return type !== undefined && BAD_INPUT_FAILURES.has(type);
}

/** The status a finished release recorded: its result, or the details of its failure. */
async function finalStatus(handle: WorkflowHandle): Promise<ReleaseStatus | undefined> {
  try {
    return (await handle.result()) as ReleaseStatus;
  } catch (err) {
    if (err instanceof WorkflowFailedError && err.cause instanceof ApplicationFailure) return err.cause.details?.[0] as ReleaseStatus | undefined;
    return undefined;
  }
}

/** The failure at the bottom of a chain (a child's ApplicationFailure under a ChildWorkflowFailure). */
function innermost(err: Error): unknown {
  let failure: unknown = err;
  while (failure instanceof Error && failure.cause) failure = failure.cause;
  return failure;
}

function isNotRunning(err: unknown): boolean {
  return err instanceof Error && /workflow execution already completed|not found/i.test(err.message);
}

function escapeQuery(value: string): string {
  return value.replace(/['\\]/g, '');
}

/** A release or rollback as Temporal's visibility store lists it, read from the Tandem* search attributes. */
function visibilityRow(wf: WorkflowExecutionInfo) {
  const attrs = wf.searchAttributes as Record<string, unknown[] | undefined>;
  return {
    workflowId: wf.workflowId,
    model: String(attrs.TandemModel?.[0] ?? ''),
    environment: String(attrs.TandemEnvironment?.[0] ?? ''),
    version: String(attrs.TandemVersion?.[0] ?? ''),
    stage: String(attrs.TandemStage?.[0] ?? ''),
    status: wf.status.name,
    startTime: wf.startTime.toISOString(),
    closeTime: wf.closeTime?.toISOString(),
  };
}
