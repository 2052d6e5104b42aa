/** The workflows the worker bundles. */
export { release } from './release';
export { rollbackModel } from './rollback';
export { describeModelWorkflow } from './describe';
