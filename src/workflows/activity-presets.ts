/**
 * Named timeout and retry presets for activities, so each call site says what kind of work it is
 * instead of repeating options. Failures whose type is listed in NON_RETRYABLE are never retried.
 */
import { ActivityCancellationType, proxyActivities, type ActivityOptions, type RetryPolicy } from '@temporalio/workflow';
import type { ReleaseActivities } from '../activities/types';
import type { Duration } from '@temporalio/common';
import { FailureType } from '../errors';

const NON_RETRYABLE = Object.values(FailureType);

const retry = (maximumAttempts: number, maximumInterval: Duration = '30s'): RetryPolicy => ({
  initialInterval: '1s',
  backoffCoefficient: 2,
  maximumInterval,
  maximumAttempts,
  nonRetryableErrorTypes: NON_RETRYABLE,
});

export const presets = {
  /** reads and small writes against a target, router or registry */
  short: { startToCloseTimeout: '30s', retry: retry(20) },
  /** git fetch of a model repository */
  git: { startToCloseTimeout: '3m', retry: retry(5) },
  /** image build and push: long, heartbeating, stops when cancelled */
  build: {
    startToCloseTimeout: '30m',
    heartbeatTimeout: '60s',
    retry: retry(5, '1m'),
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  },
  /** apply and wait for readiness: heartbeating while replicas come up */
  deploy: {
    startToCloseTimeout: '15m',
    heartbeatTimeout: '30s',
    retry: retry(5),
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  },
  /** health and smoke checks */
  verify: { startToCloseTimeout: '2m', retry: retry(3, '5s') },
  /** a measurement window: heartbeating while it waits */
  analysis: { startToCloseTimeout: '30m', heartbeatTimeout: '30s', retry: retry(3, '5s') },
} satisfies Record<string, ActivityOptions>;

export type Preset = keyof typeof presets;

/** Activities with a preset and a one-line summary that the Web UI shows for the call. */
export function activities(preset: Preset, summary: string): ReleaseActivities {
  return proxyActivities<ReleaseActivities>({ ...presets[preset], summary });
}
