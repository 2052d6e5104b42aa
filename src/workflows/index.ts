/** The workflows the worker bundles. */
export { modelOperation } from './model';
export { release } from './release';
export { rollbackModel } from './rollback';
export { describeModelWorkflow } from './describe';
export { promoteVersion } from './promotion';
