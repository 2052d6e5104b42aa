/** Waiting inside activities: cancellable sleeps and heartbeating measurement windows. */
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Sleeps `ms`; when `signal` aborts, throws the signal's own reason (a CancelledFailure inside an
 * activity), not a generic AbortError.
 */
export async function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  await sleep(ms, undefined, { signal }).catch((error: unknown) => {
    signal?.throwIfAborted();
    throw error;
  });
}

/**
 * Waits until `windowMs` after `startedAt`, heartbeating `{ phase: 'window', … }` at the start and
 * every `everyMs` (at least 100 ms). Throws the signal's reason when aborted.
 */
export async function waitWindow(
  startedAt: number,
  windowMs: number,
  everyMs: number,
  heartbeat: ((details?: unknown) => void) | undefined,
  signal?: AbortSignal,
): Promise<void> {
  const every = Math.max(100, everyMs);
  heartbeat?.({ phase: 'window', startedAt, windowMs });
  for (;;) {
    const left = startedAt + windowMs - Date.now();
    if (left <= 0) return;
    await abortableSleep(Math.min(every, left), signal);
    heartbeat?.({ phase: 'window', startedAt, windowMs, elapsedMs: Date.now() - startedAt });
  }
}
