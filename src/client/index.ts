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
  type WorkflowHandle,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { releaseWorkflowId, rollbackWorkflowId } from '../naming/ids';
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
import { BadInputError, RefusedError, ReleaseFailedError } from './errors';
import { validateReleaseInput } from './validate';

export { BadInputError, RefusedError, ReleaseFailedError };

export interface ClientOptions {
  /** host:port; default TEMPORAL_ADDRESS or localhost:7233 */
  address?: string;
  /** default TEMPORAL_NAMESPACE or "default" */
  namespace?: string;
  /** default "tandem" */
  taskQueue?: string;
}

export interface HistoryEntry {
  workflowId: string;
  runId: string;
  version: string;
  stage: string;
  status: string;
  startTime: string;
  closeTime?: string;
}

/** Input-classified failure types: the release failed because of what it was asked to do. */
const BAD_INPUT_TYPES = new Set(['TagNotFound', 'InvalidSpec', 'RepositoryUnreadable', 'UnknownEnvironment', 'VersionNotRunning']);

export class TandemClient {
  private constructor(
    readonly temporal: Client,
    readonly taskQueue: string,
    private readonly connection: Connection,
  ) {}

  /** Connects to Temporal; throws when the server does not answer. */
  static async connect(options: ClientOptions = {}): Promise<TandemClient> {
    const address = options.address ?? process.env.TEMPORAL_ADDRESS ?? 'localhost:7233';
    const connection = await Connection.connect({ address, connectTimeout: '5s' });
    const namespace = options.namespace ?? process.env.TEMPORAL_NAMESPACE ?? 'default';
    return new TandemClient(new Client({ connection, namespace }), options.taskQueue ?? 'tandem', connection);
  }

  async close(): Promise<void> {
    await this.connection.close();
  }

  /**
   * Starts a release. Throws BadInputError for malformed input and RefusedError when the model
   * already has an active release in that environment (naming it and how to approve or abort it).
   */
  async start(input: ReleaseInput): Promise<WorkflowHandle> {
    validateReleaseInput(input);
    const workflowId = releaseWorkflowId(input.model, input.environment);
    try {
      return await this.temporal.workflow.start('release', {
        workflowId,
        taskQueue: this.taskQueue,
        args: [input],
        workflowIdReusePolicy: 'ALLOW_DUPLICATE',
        workflowIdConflictPolicy: 'FAIL',
        staticSummary: `${input.model} ${input.tag} → ${input.environment}`,
        staticDetails: `Release of tag ${input.tag} of ${input.model} from ${input.repoUrl}${input.requestedBy ? `, requested by ${input.requestedBy}` : ''}.`,
      });
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) {
        const running = await this.status(input.model, input.environment).catch(() => undefined);
        const what = running ? `${running.version} (stage ${running.stage}${running.waitingFor ? `, waiting for ${running.waitingFor}` : ''})` : 'a release';
        const env = `--env ${input.environment}`;
        throw new RefusedError(
          `${input.model} already has an active release in ${input.environment}: ${what}. ` +
            `Approve it with \`tandem release approve ${input.model} ${env}\`, or abort it (rolls back) with \`tandem release abort ${input.model} ${env} --reason TEXT\`.`,
        );
      }
      throw err;
    }
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

  /** Handle of the latest release of the model in the environment. */
  releaseHandle(model: string, environment: string): WorkflowHandle {
    return this.temporal.workflow.getHandle(releaseWorkflowId(model, environment));
  }

  /**
   * Sends an operator action and returns it once the release accepted it. Throws RefusedError with
   * the release's reason when it cannot apply (nothing awaits approval, release already finished).
   */
  async act(model: string, environment: string, action: OperatorActionName, request: OperatorRequest): Promise<OperatorAction> {
    const handle = this.releaseHandle(model, environment);
    try {
      return await handle.executeUpdate(updates[action], { args: [request] });
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError) throw new RefusedError(`${action} refused: ${err.cause?.message ?? err.message}`);
      if (err instanceof WorkflowNotFoundError || isNotRunning(err)) {
        const last = await this.status(model, environment).catch(() => undefined);
        throw new RefusedError(
          last
            ? `${action} refused: the last release of ${model} in ${environment} (${last.version}) is ${last.outcome ?? last.stage}; nothing to ${action}`
            : `${action} refused: ${model} has no release in ${environment}`,
        );
      }
      throw err;
    }
  }

  /**
   * Status of the latest release (running or finished); RefusedError when there is none. A
   * finished release's status is its recorded result, so reading it needs no running worker.
   */
  async status(model: string, environment: string): Promise<ReleaseStatus> {
    const handle = this.releaseHandle(model, environment);
    try {
      const description = await handle.describe();
      if (description.status.name === 'RUNNING') return await handle.query(statusQuery);
      const final = await finalStatus(handle);
      return final ?? (await handle.query(statusQuery));
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new RefusedError(`${model} has no release in ${environment}`);
      throw err;
    }
  }

  /**
   * Follows a release until it ends, calling onChange with each new status. Resolves with the final
   * status when promoted; throws ReleaseFailedError when rolled back or failed.
   */
  async wait(handle: WorkflowHandle, onChange?: (status: ReleaseStatus) => void, pollMs = 500): Promise<ReleaseStatus> {
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

  /** Past releases of a model in an environment, newest first (needs the Tandem* search attributes). */
  async history(model: string, environment: string, limit = 20): Promise<HistoryEntry[]> {
    const query = `WorkflowType = 'release' AND TandemModel = '${escapeQuery(model)}' AND TandemEnvironment = '${escapeQuery(environment)}'`;
    const entries: HistoryEntry[] = [];
    for await (const wf of this.temporal.workflow.list({ query })) {
      const attrs = wf.searchAttributes as Record<string, unknown[] | undefined>;
      entries.push({
        workflowId: wf.workflowId,
        runId: wf.runId,
        version: String(attrs.TandemVersion?.[0] ?? ''),
        stage: String(attrs.TandemStage?.[0] ?? ''),
        status: wf.status.name,
        startTime: wf.startTime.toISOString(),
        closeTime: wf.closeTime?.toISOString(),
      });
      if (entries.length >= limit) break;
    }
    return entries;
  }

  /** Running versions and traffic, read from the environment by a worker that serves it. */
  async versions(model: string, environment: string): Promise<ModelState> {
    return this.temporal.workflow.execute('describeModelWorkflow', {
      workflowId: `describe/${environment}/${model}/${Date.now()}`,
      taskQueue: this.taskQueue,
      args: [{ model, environment }],
      workflowExecutionTimeout: '1m',
    });
  }

  /**
   * Switches a model's traffic to a running version (default: the most recent warm one). Refused
   * while a release is active (abort it instead: that rolls back) or when the version is not running.
   */
  async rollback(input: RollbackInput): Promise<RollbackResult> {
    const active = await this.status(input.model, input.environment).catch(() => undefined);
    if (active && !active.outcome) {
      throw new RefusedError(
        `${input.model} has an active release in ${input.environment} (${active.version}, ${active.stage}); abort it instead — an abort rolls back: tandem release abort ${input.model} --env ${input.environment} --reason TEXT`,
      );
    }
    try {
      return await this.temporal.workflow.execute('rollbackModel', {
        workflowId: rollbackWorkflowId(input.model, input.environment),
        taskQueue: this.taskQueue,
        args: [input],
        workflowIdReusePolicy: 'ALLOW_DUPLICATE',
        workflowIdConflictPolicy: 'FAIL',
        staticSummary: `rollback ${input.model} in ${input.environment}${input.to ? ` to ${input.to}` : ''}`,
      });
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) throw new RefusedError(`a rollback of ${input.model} in ${input.environment} is already running`);
      if (err instanceof WorkflowFailedError && err.cause instanceof ApplicationFailure && err.cause.type === 'VersionNotRunning') {
        throw new RefusedError(`rollback refused: ${err.cause.message}`);
      }
      throw err;
    }
  }
}

/** True when a failure type means the release failed because of its input. */
export function isBadInputFailure(type: string | undefined): boolean {
  return type !== undefined && BAD_INPUT_TYPES.has(type);
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

function isNotRunning(err: unknown): boolean {
  return err instanceof Error && /workflow execution already completed|not found/i.test(err.message);
}

function escapeQuery(value: string): string {
  return value.replace(/['\\]/g, '');
}
