/**
 * Workflow ids. Every change to a model's traffic in an environment (a release, a rollback) runs
 * as a child of one workflow whose id is the model's lock, `model/<env>/<model>`: Temporal itself
 * refuses a second one while it runs, so traffic changes of a model never overlap. The children's
 * ids name what they do, so the Web UI's list reads as the model's story. Pure.
 */
export function modelWorkflowId(model: string, environment: string): string {
  return `model/${environment}/${model}`;
}

/** `release/<env>/<model>/<version>/<start time>`: unique per release, readable in the Web UI. */
export function releaseWorkflowId(model: string, environment: string, version: string, startedAt: Date): string {
  return `release/${environment}/${model}/${version}/${startedAt.toISOString()}`;
}

/** `rollback/<env>/<model>/<to or "previous">/<start time>`. */
export function rollbackWorkflowId(model: string, environment: string, to: string | undefined, startedAt: Date): string {
  return `rollback/${environment}/${model}/${to ?? 'previous'}/${startedAt.toISOString()}`;
}

/** What names a trigger in a workflow id: a webhook's delivery id, e.g. `github-<GUID>`. */
export const TRIGGER_ID = /^[A-Za-z0-9._-]{1,160}$/;

/**
 * `release/<env>/<model>/<version>/<trigger>`: the release one trigger (a webhook delivery) starts.
 * The same trigger always names the same workflow, so a redelivery finds the release it started.
 */
export function triggeredReleaseWorkflowId(model: string, environment: string, version: string, trigger: string): string {
  return `release/${environment}/${model}/${version}/${trigger}`;
}
