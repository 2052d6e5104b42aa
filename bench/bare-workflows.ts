/**
 * Temporal's floor, in a bundle of its own: workflows with nothing of tandem in them (a worker
 * evaluates every module of its bundle again for each workflow it holds, so a floor measured
 * inside tandem's bundle would carry tandem's modules).
 */
import { condition, defineSignal, proxyActivities, setHandler } from '@temporalio/workflow';

const { noop } = proxyActivities<{ noop(): Promise<void> }>({ startToCloseTimeout: '30s' });

export const doneSignal = defineSignal('done');

/** Baseline: the same number of activity calls as a release, with no orchestration around them. */
export async function bareActivities(count: number): Promise<void> {
  for (let i = 0; i < count; i++) await noop();
}

/** Baseline of a waiting release: one activity, then wait for a signal. */
export async function bareWaiting(): Promise<void> {
  let done = false;
  setHandler(doneSignal, () => {
    done = true;
  });
  await noop();
  await condition(() => done);
}
