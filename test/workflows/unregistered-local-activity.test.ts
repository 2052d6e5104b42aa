/**
 * A worker that lacks one of the local activities a release calls (the model's path, the receivers
 * of notifications), on the real Temporal dev server. The SDK refuses such a call at once, but only
 * when not replaying: passed over, the release would skip the check the first time and schedule it
 * on replay, a nondeterminism error that stalls it for good (seen in the soak, where worker kills
 * force replays). The release's workflow task fails instead, naming the activity, and nothing is
 * resolved or deployed; a worker that has the activity then takes the release to the end.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ReleaseActivities } from '../../src/activities/types';
import { createWorld, runningVersion, specs } from '../doubles/world';
import { connectClient, ensureTemporal, startWorker, uniqueQueue } from '../helpers/temporal';

describe('a worker without a local activity the release calls', { timeout: 120_000 }, () => {
  it('fails the workflow task naming it, runs nothing, and a complete worker then finishes the release', async () => {
    ensureTemporal();
    const model = uniqueQueue('unregistered');
    const world = createWorld({ specs: { 'v2.0.0': specs.direct }, running: [runningVersion('v1.0.0')], traffic: { weights: { 'v1.0.0': 100 }, pinned: [], stable: 'v1.0.0' } });
    const withoutPath: Partial<ReleaseActivities> = { ...world.activities };
    delete withoutPath.stepIntoPath;
    const client = await connectClient(model);
    let worker = await startWorker(model, withoutPath);
    try {
      const handle = await client.start({ model, tag: 'v2.0.0', environment: 'staging', repoUrl: '/nowhere', requestedBy: 'ci' });
      let failure: string | undefined;
      for (let i = 0; i < 200 && !failure; i++) {
        const events = (await handle.fetchHistory().catch(() => undefined))?.events ?? [];
        failure = events.find((e) => e.workflowTaskFailedEventAttributes)?.workflowTaskFailedEventAttributes?.failure?.message ?? undefined;
        if (!failure) await new Promise((r) => setTimeout(r, 100));
      }
      assert.match(failure ?? '(no failed workflow task)', /stepIntoPath.*not registered/);
      const scheduled = ((await handle.fetchHistory()).events ?? []).flatMap((e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? []);
      assert.ok(!scheduled.includes('resolveTag') && !scheduled.includes('deployVersion'), `scheduled before the path was read: ${scheduled.join(', ')}`);
      assert.deepEqual(world.calls.filter((c) => c.name === 'deployVersion'), []);

      await worker.stop();
      worker = await startWorker(model, world.activities);
      const status = await client.wait(handle);
      assert.equal(status.outcome, 'promoted');
      const failures = ((await handle.fetchHistory()).events ?? []).flatMap((e) => e.workflowTaskFailedEventAttributes?.failure?.message ?? []);
      assert.ok(!failures.some((m) => /nondetermin/i.test(m)), `nondeterminism: ${failures.join('; ')}`);
    } finally {
      await worker.stop();
      await client.close();
    }
  });
});
