/**
 * Steps shared by the end-to-end release stories (Docker and Kubernetes): wait for a release's
 * status to reach a point, the share a version got of sampled requests, and a release that must fail.
 */
import assert from 'node:assert/strict';
import type { WorkflowHandle } from '@temporalio/client';
import { ReleaseFailedError, type TandemClient } from '../../src/client';
import type { ReleaseStatus } from '../../src/workflows/messages';

/** Polls the latest release's status until `pred` holds; fails when the release ends first or after `withinMs`. */
export async function untilStatus(client: TandemClient, model: string, env: string, pred: (s: ReleaseStatus) => boolean, what: string, withinMs: number): Promise<ReleaseStatus> {
  const deadline = Date.now() + withinMs;
  while (Date.now() < deadline) {
    const s = await client.status(model, env).catch(() => undefined);
    if (s && pred(s)) return s;
    if (s?.outcome) assert.fail(`release ended (${s.outcome}: ${s.reason}) before ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Percent of the sampled requests that `version` answered. */
export function share(counts: Record<string, number>, version: string): number {
  return (100 * (counts[version] ?? 0)) / Object.values(counts).reduce((a, b) => a + b, 0);
}

/** Waits for a release that must not be promoted; returns its failure, checked to be of `failureType`. */
export async function releaseFails(client: TandemClient, handle: WorkflowHandle, failureType: string, why: string): Promise<ReleaseFailedError> {
  const err = await client.wait(handle).then(
    () => assert.fail(why),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ReleaseFailedError, String(err));
  assert.equal(err.failureType, failureType, err.message);
  return err;
}
