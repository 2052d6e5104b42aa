/**
 * Named timeout and retry presets for activities, so each call site says what kind of work it is
 * instead of repeating options. Failures whose type is listed in NON_RETRYABLE are never retried.
 */
import { ActivityCancellationType, proxyActivities, proxyLocalActivities, type ActivityOptions, type RetryPolicy } from '@temporalio/workflow';
import type { ReleaseActivities } from '../activities/types';
import type { Duration } from '@temporalio/common';
import { FailureType } from '../errors';
import { durationMs } from '../shared/duration';
import { SMOKE_REQUEST_TIMEOUT_MS } from '../model-spec/limits';
import type { Spec } from '../model-spec/schema';

const NON_RETRYABLE = Object.values(FailureType);

/** Retry policy with backoff; `maximumAttempts` 0 means no limit (another timeout bounds it). */
const retry = (maximumAttempts: number, maximumInterval: Duration = '30s'): RetryPolicy => ({
  initialInterval: '1s',
  backoffCoefficient: 2,
  maximumInterval,
  ...(maximumAttempts > 0 ? { maximumAttempts } : {}),
  nonRetryableErrorTypes: NON_RETRYABLE,
});

export const presets = {
  /** reads and small writes against a target, router or registry */
  short: { startToCloseTimeout: '30s', heartbeatTimeout: '15s', retry: retry(20) },
  /** git fetch of a model repository (heartbeating: a dead worker's fetch is retried within seconds) */
  git: { startToCloseTimeout: '3m', heartbeatTimeout: '15s', retry: retry(5) },
  /**
   * image build and push: long, heartbeating, stops when cancelled. An engine or registry that
   * restarts is waited for (retries with backoff, 45 minutes in all), a Dockerfile error is not.
   */
  build: {
    startToCloseTimeout: '30m',
    scheduleToCloseTimeout: '45m',
    heartbeatTimeout: '60s',
    retry: retry(0, '1m'),
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  },
  /** apply and wait for readiness: heartbeating while replicas come up; outlasts an engine or API server restart (≈ 2.5 min of retries) */
  deploy: {
    startToCloseTimeout: '15m',
    heartbeatTimeout: '30s',
    retry: retry(10),
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  },
  /** health and smoke checks */
  verify: { startToCloseTimeout: '2m', heartbeatTimeout: '15s', retry: retry(3, '5s') },
  /** a measurement window: heartbeating while it waits */
  analysis: { startToCloseTimeout: '30m', heartbeatTimeout: '30s', retry: retry(3, '5s') },
} satisfies Record<string, ActivityOptions>;

export type Preset = keyof typeof presets;

/** Activities with a preset and a one-line summary that the Web UI shows for the call. */
export function activities(preset: Preset, summary: string): ReleaseActivities {
  return proxyActivities<ReleaseActivities>({ ...presets[preset], summary });
}

/**
 * Notifications: one POST per attempt, retried with backoff for at most 3 minutes; a receiver that
 * is still down then is recorded in the release's history and the release goes on.
 */
export function notifyActivities(summary: string): ReleaseActivities {
  return proxyActivities<ReleaseActivities>({ startToCloseTimeout: '30s', scheduleToCloseTimeout: '3m', retry: retry(0, '30s'), summary });
}

/**
 * The SDK refuses a local activity the worker has not registered by throwing at once, and only when
 * not replaying (it schedules it on replay): such an error, caught and passed over, makes the first
 * run schedule nothing and a replay schedule the local activity — a nondeterminism error that stalls
 * the workflow on the next worker. Rethrown, it fails the workflow task, naming the activity, until a
 * worker that has it takes the task. Every catch around a local activity calls this first.
 */
export function rethrowUnregistered(err: unknown): void {
  if (err instanceof ReferenceError && /not registered on worker/.test(err.message)) throw err;
}

/**
 * Reads the worker's own configuration, so it runs as a local activity (no task-queue round trip). A
 * worker whose configuration lacks what is asked (NotFoundError) is not retried: nothing is sent.
 */
export function notificationConfig(summary: string): ReleaseActivities {
  return proxyLocalActivities<ReleaseActivities>({
    startToCloseTimeout: '10s',
    retry: { initialInterval: '1s', maximumAttempts: 3, nonRetryableErrorTypes: [...NON_RETRYABLE, 'NotFoundError'] },
    summary,
  });
}

/**
 * The model's path from the worker's configuration, as a local activity. A worker without it
 * (NotFoundError) is not retried: the release then starts no promotion.
 */
export function pathConfig(summary: string): ReleaseActivities {
  return proxyLocalActivities<ReleaseActivities>({
    startToCloseTimeout: '10s',
    retry: { initialInterval: '1s', maximumAttempts: 3, nonRetryableErrorTypes: [...NON_RETRYABLE, 'NotFoundError'] },
    summary,
  });
}

/** Slack added to a duration the spec sets, for the work around it (apply, connect, report). */
const SLACK_MS = 2 * 60_000;

/**
 * Activities whose run time the spec decides: a deploy waits up to `readyTimeout`, verification
 * sends the health check and every smoke request, an analysis round waits its interval. Their
 * timeouts follow the spec (never below the preset), so a spec that validates can always run.
 */
export function timedActivities(preset: 'deploy' | 'verify' | 'analysis', spec: Spec, summary: string, windowMs = 0): ReleaseActivities {
  const base = presets[preset];
  const needed =
    preset === 'deploy'
      ? durationMs(spec.readyTimeout)
      : preset === 'verify'
        ? durationMs(spec.health.timeout) + spec.smoke.length * SMOKE_REQUEST_TIMEOUT_MS
        : windowMs;
  const startToCloseTimeout = Math.max(durationMs(String(base.startToCloseTimeout)), needed + SLACK_MS);
  return proxyActivities<ReleaseActivities>({ ...base, startToCloseTimeout, summary });
}

/**
 * Activities of a rollback: each call retries briefly; the workflow then records the failure and
 * tries again after a backoff, for as long as it takes (a rollback must not give up half-way).
 */
export function rollbackActivities(summary: string): ReleaseActivities {
  return proxyActivities<ReleaseActivities>({ startToCloseTimeout: '2m', heartbeatTimeout: '15s', retry: retry(5, '10s'), summary });
}
