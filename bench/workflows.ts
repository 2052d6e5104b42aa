/** The bench's workflow bundle: tandem's workflows plus the bare baselines. */
export * from '../src/workflows';
export * from './bare-workflows';
