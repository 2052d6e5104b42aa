/**
 * Release notifications from the workflow (real Temporal, activity doubles): the four events are
 * sent with who acted and why; a receiver that refuses everything changes no outcome and is
 * recorded; a notification that hangs does not hold up the approval gate.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ReleaseNotice } from '../../src/activities/types';
import { createWorld, runningVersion, specs, type WorldOptions } from '../doubles/world';
import { failure, harness } from '../helpers/release-harness';
import { connectClient, ensureTemporal, startWorker, uniqueQueue } from '../helpers/temporal';

const stableV1: Pick<WorldOptions, 'running' | 'traffic'> = { running: [runningVersion('v1.0.0')], traffic: { weights: { 'v1.0.0': 100 }, pinned: ['v1.0.0'], stable: 'v1.0.0' } };
const webhook = { kind: 'webhook' as const };
const events = (notified: { notice: ReleaseNotice }[]) => notified.map((n) => n.notice.event);

describe('release notifications (real Temporal, activity doubles)', () => {
  before(() => ensureTemporal());

  it('approval, then promoted: sent as the release waits and as it ends, naming who approved', async () => {
    const h = await harness({ specs: { 'v2.0.0': specs.canary }, ...stableV1, notifications: [webhook] });
    try {
      const handle = await h.start('v2.0.0');
      await h.until((s) => s.waitingFor === 'approval' && h.world.notified.length === 1);
      const approval = h.world.notified[0]!.notice;
      assert.deepEqual(
        { event: approval.event, model: approval.model, version: approval.version, stage: approval.stage, requestedBy: approval.requestedBy, previousStable: approval.previousStable, weights: approval.weights },
        { event: 'approval', model: h.model, version: 'v2.0.0', stage: 'rolling-out', requestedBy: 'test', previousStable: 'v1.0.0', weights: { 'v1.0.0': 50, 'v2.0.0': 50 } },
      );
      await h.client.act(h.model, 'test', 'approve', { who: 'alice', text: 'fine' });
      assert.equal((await h.client.wait(handle)).outcome, 'promoted');
      assert.deepEqual(events(h.world.notified), ['approval', 'promoted']);
      const promoted = h.world.notified[1]!.notice;
      assert.deepEqual([promoted.outcome, promoted.stage, promoted.actor], ['promoted', 'promoted', 'alice']);
    } finally {
      await h.close();
    }
  });

  it('rolled back: after an approval timeout with the reason; after an abort naming who aborted', async () => {
    const timeout = await harness({ specs: { 'v2.0.0': specs.approvalTimeout }, ...stableV1, notifications: [webhook] });
    try {
      await failure(timeout.client.wait(await timeout.start('v2.0.0')));
      assert.deepEqual(events(timeout.world.notified), ['approval', 'rolled-back']);
      const n = timeout.world.notified[1]!.notice;
      assert.deepEqual([n.outcome, n.stage, n.reason, n.actor], ['rolled-back', 'rolled-back', 'no approval within 1s', undefined]);
    } finally {
      await timeout.close();
    }
    const aborted = await harness({ specs: { 'v2.0.0': specs.pauseForever }, ...stableV1, notifications: [webhook] });
    try {
      const handle = await aborted.start('v2.0.0');
      await aborted.until((s) => s.waitingFor === 'resume');
      await aborted.client.act(aborted.model, 'test', 'abort', { who: 'bob', text: 'latency' });
      await failure(aborted.client.wait(handle));
      assert.deepEqual(events(aborted.world.notified), ['rolled-back'], 'a pause is not an approval: only the end is sent');
      const n = aborted.world.notified[0]!.notice;
      assert.deepEqual([n.reason, n.actor], ['aborted by bob: latency', 'bob']);
    } finally {
      await aborted.close();
    }
  });

  it('failed: a release that deployed nothing sends failed with the reason; events filter what a receiver gets', async () => {
    const h = await harness({ specs: {}, notifications: [webhook, { kind: 'slack', events: ['promoted'] }] });
    try {
      await failure(h.client.wait(await h.start('v9.9.9')));
      assert.deepEqual(h.world.notified.map((n) => [n.sink, n.notice.event, n.notice.outcome, n.notice.reason]), [['notifications[0]', 'failed', 'failed', 'tag "v9.9.9" not found']]);
    } finally {
      await h.close();
    }
  });

  it('a receiver that refuses every notification changes no outcome: recorded, and the other receiver still gets them', async () => {
    const h = await harness({ specs: { 'v2.0.0': specs.canary }, ...stableV1, notifications: [{ kind: 'slack', refuses: true }, webhook] });
    try {
      const handle = await h.start('v2.0.0');
      await h.until((s) => s.waitingFor === 'approval');
      await h.client.act(h.model, 'test', 'approve', { who: 'alice' });
      const status = await h.client.wait(handle);
      assert.equal(status.outcome, 'promoted');
      assert.deepEqual(h.world.traffic().weights, { 'v2.0.0': 100 });
      assert.deepEqual(h.world.notified.map((n) => `${n.sink} ${n.notice.event}`), ['notifications[1] approval', 'notifications[1] promoted']);
      const undelivered = status.history.filter((e) => e.message.includes('could not be delivered')).map((e) => e.message);
      assert.deepEqual(undelivered, [
        'approval notification could not be delivered to slack notifications[0]: receiver answered 404 (no such hook); the release goes on',
        'promoted notification could not be delivered to slack notifications[0]: receiver answered 404 (no such hook); the release goes on',
      ]);
    } finally {
      await h.close();
    }
  });

  it('a notification that hangs does not hold up the approval gate; the release ends once it settles', async () => {
    const queue = uniqueQueue('notify-hang');
    const world = createWorld({ specs: { 'v2.0.0': specs.canary }, ...stableV1, notifications: [webhook] });
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let pending = 0;
    const worker = await startWorker(queue, {
      ...world.activities,
      sendNotification: async (input: Parameters<typeof world.activities.sendNotification>[0]) => {
        pending++;
        await held;
        return world.activities.sendNotification(input);
      },
    });
    const client = await connectClient(queue);
    try {
      const handle = await client.start({ model: queue, tag: 'v2.0.0', environment: 'test', repoUrl: '/nowhere', requestedBy: 'test' });
      for (let i = 0; i < 200 && !((await client.status(queue, 'test').catch(() => undefined))?.waitingFor === 'approval' && pending === 1); i++) await new Promise((r) => setTimeout(r, 100));
      assert.equal(pending, 1, 'the approval notification is being sent');
      const approved = await client.act(queue, 'test', 'approve', { who: 'alice' });
      assert.equal(approved.accepted, true, 'approved while the notification still hangs');
      let status = await client.status(queue, 'test');
      for (let i = 0; i < 200 && status.outcome === undefined; i++) {
        await new Promise((r) => setTimeout(r, 100));
        status = await client.status(queue, 'test');
      }
      assert.equal(status.outcome, 'promoted', 'promoted while the approval notification still hangs');
      assert.equal(world.notified.length, 0);
      release();
      assert.equal((await client.wait(handle)).outcome, 'promoted');
      assert.deepEqual(events(world.notified).sort(), ['approval', 'promoted']);
    } finally {
      release();
      await client.close();
      await worker.stop();
    }
  });
});
