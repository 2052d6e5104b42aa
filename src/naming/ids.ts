/** Workflow ids. One id per (model, environment) makes Temporal itself refuse a second active release. Pure. */
export function releaseWorkflowId(model: string, environment: string): string {
  return `release/${environment}/${model}`;
}

export function rollbackWorkflowId(model: string, environment: string): string {
  return `rollback/${environment}/${model}`;
}
