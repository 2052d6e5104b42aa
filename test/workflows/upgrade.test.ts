/**
 * Upgrading tandem with releases in flight, for real: a release is started and waits for its
 * approval on a worker running the workflow code tandem 0.1.0 shipped (its bundle is kept in
 * test/upgrades/0.1.0/, built from that version's sources), the worker is replaced by one running
 * today's code, the approval is sent, and the release completes. Today's code answers the old
 * history through its patch branches (see the versioning note in src/workflows/release.ts).
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createWorld, runningVersion, specs } from '../doubles/world';
import { ADDRESS, NAMESPACE, connectClient, ensureTemporal, quietRuntime, startWorker, uniqueQueue } from '../helpers/temporal';
import type { ReleaseStatus } from '../../src/workflows/messages';

const OLD_BUNDLE = join(__dirname, '..', 'upgrades', '0.1.0', 'workflow-bundle.js');

describe('upgrade with a release waiting for approval', () => {
  before(() => ensureTemporal());

  it('a release started by tandem 0.1.0 is approved after the worker runs today\'s code, and promoted', async () => {
    const queue = uniqueQueue('upgrade');
    const world = createWorld({ specs: { 'v2.0.0': specs.canary }, running: [runningVersion('v1.0.0')], traffic: { weights: { 'v1.0.0': 100 }, pinned: ['v1.0.0'], stable: 'v1.0.0' } });
    quietRuntime();
    const connection = await NativeConnection.connect({ address: ADDRESS });
    const old = await Worker.create({ connection, namespace: NAMESPACE, taskQueue: queue, workflowBundle: { codePath: OLD_BUNDLE }, activities: world.activities });
    const oldRun = old.run();
    const client = await connectClient(queue);
    let current;
    try {
      // 0.1.0 started releases directly, one workflow id per model and environment.
      const handle = await client.temporal.workflow.start('release', {
        workflowId: `release/test/${queue}`,
        taskQueue: queue,
        args: [{ model: queue, tag: 'v2.0.0', environment: 'test', repoUrl: '/nowhere', requestedBy: 'upgrade-test' }],
      });
      let status: ReleaseStatus | undefined;
      for (let i = 0; i < 300 && status?.waitingFor !== 'approval'; i++) {
        status = await handle.query<ReleaseStatus>('status').catch(() => undefined);
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(status?.waitingFor, 'approval', 'the old worker brought the release to its approval gate');

      old.shutdown();
      await oldRun;
      current = await startWorker(queue, world.activities);
      // Today's worker replays the old history (its cache is empty), then takes the approval,
      // through the update the CLI sends and which today's validator checks.
      const accepted = await handle.executeUpdate('approve-now', { args: [{ who: 'alice', text: 'after the upgrade' }] });
      assert.equal((accepted as { accepted: boolean }).accepted, true);
      const final = (await handle.result()) as ReleaseStatus;
      assert.equal(final.outcome, 'promoted');
      assert.deepEqual(world.traffic().weights, { 'v2.0.0': 100 });
      assert.ok(final.actions.some((a) => a.action === 'approve' && a.who === 'alice'));
    } finally {
      await client.close();
      await current?.stop();
      await connection.close();
    }
  });
});
