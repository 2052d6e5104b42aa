/** The bench's workflow bundle: tandem's workflows plus a bare baseline. */
import { proxyActivities } from '@temporalio/workflow';
export * from '../src/workflows';

const { noop } = proxyActivities<{ noop(): Promise<void> }>({ startToCloseTimeout: '30s' });

/** Baseline: the same number of activity calls as a release, with no orchestration around them. */
export async function bareActivities(count: number): Promise<void> {
  for (let i = 0; i < count; i++) await noop();
}
