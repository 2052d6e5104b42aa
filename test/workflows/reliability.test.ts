/**
 * Nothing stalls, nothing half-way (issue #8), on the real Temporal dev server with activity
 * doubles: malformed messages never wedge a release, an abort leaves nothing waiting, an abort
 * racing an approval wins and the approval is refused, a rollback whose stable version lost its
 * replicas brings it back (and records every blocked attempt), and every traffic change of a
 * model goes through one lock: two starts at once, rollback during a release.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RefusedError } from '../../src/client';
import { statusText } from '../../src/cli/format';
import { runningVersion, specs, type WorldOptions } from '../doubles/world';
import { failure, harness } from '../helpers/release-harness';
import { ensureTemporal, startWorker } from '../helpers/temporal';

const stableV1: Pick<WorldOptions, 'running' | 'traffic'> = { running: [runningVersion('v1.0.0')], traffic: { weights: { 'v1.0.0': 100 }, pinned: ['v1.0.0'], stable: 'v1.0.0' } };
const approvalGate = 'port: 8080\nrollout:\n  strategy: canary\n  steps:\n    - setWeight: 20\n    - approval: {}\n';
const failingCanary = 'port: 8080\nrollout:\n  strategy: canary\n  steps:\n    - setWeight: 20\n    - pause: {}\n    - analysis: { interval: 100ms, count: 1 }\n';

describe('nothing stalls (real Temporal, activity doubles)', () => {
  before(() => ensureTemporal());

  it('malformed signals (null, a number, a string, none, wrong fields, oversized) are recorded as refused and the release can still be aborted', async () => {
    const h = await harness({ specs: { 'v2.0.0': specs.pauseForever }, ...stableV1 });
    try {
      const handle = await h.start('v2.0.0');
      await h.until((s) => s.waitingFor === 'resume');
      const payloads: unknown[] = [null, 42, 'approve it', undefined, {}, { who: '' }, { who: 5 }, { who: 'x'.repeat(201) }, { who: 'ann', text: 'y'.repeat(2001) }, [{ who: 'ann' }]];
      for (const payload of payloads) await handle.signal('approve', payload as never);
      await handle.signal('abort', null as never);
      await handle.signal('resume', 7 as never);
      const status = await h.until((s) => s.actions.length >= payloads.length + 2);
      assert.equal(status.actions.length, payloads.length + 2);
      for (const action of status.actions) {
        assert.equal(action.accepted, false, JSON.stringify(action));
        assert.match(action.note ?? '', /malformed payload/);
      }
      assert.equal(status.stage, 'rolling-out', 'a malformed abort changes nothing');
      // The update path refuses with the same reason, before anything is recorded.
      await assert.rejects(h.client.act(h.model, 'test', 'abort', { who: 7 } as never), (err: Error) => err instanceof RefusedError && /who/.test(err.message));
      await h.client.act(h.model, 'test', 'abort', { who: 'bob', text: 'stop' });
      const err = await failure(h.client.wait(handle));
      assert.equal(err.failureType, 'Aborted');
      assert.deepEqual(h.world.traffic().weights, { 'v1.0.0': 100 });
    } finally {
      await h.close();
    }
  });

  it('a flood of refused signals keeps the status bounded', async () => {
    const h = await harness({ specs: { 'v2.0.0': specs.pauseForever }, ...stableV1 });
    try {
      const handle = await h.start('v2.0.0');
      await h.until((s) => s.waitingFor === 'resume');
      for (let i = 0; i < 5; i++) await Promise.all(Array.from({ length: 50 }, (_, j) => handle.signal('approve', { who: `spammer-${i}-${j}` })));
      const status = await h.until((s) => s.actions.length >= 200 && s.actions.at(-1)!.who.startsWith('spammer-4'));
      assert.ok(status.actions.length <= 200, `${status.actions.length} actions kept`);
      assert.ok(status.history.length <= 200, `${status.history.length} history lines kept`);
      assert.match(status.history[0]!.message, /^started by test /, 'the beginning of the story is kept: who started it, under which policy');
      assert.equal(status.history[1]!.message.includes('tag v2.0.0'), true, 'and which commit the tag is');
      await h.client.act(h.model, 'test', 'promote', { who: 'carol' });
      assert.equal((await h.client.wait(handle)).outcome, 'promoted');
    } finally {
      await h.close();
    }
  });

  it('an abort during an approval wait leaves nothing waiting', async () => {
    const h = await harness({ specs: { 'v2.0.0': approvalGate }, ...stableV1 });
    try {
      const handle = await h.start('v2.0.0');
      await h.until((s) => s.waitingFor === 'approval');
      await h.client.act(h.model, 'test', 'abort', { who: 'bob' });
      await failure(h.client.wait(handle));
      const status = await h.client.status(h.model, 'test');
      assert.equal(status.outcome, 'rolled-back');
      assert.equal(status.waitingFor, undefined);
      assert.equal(status.paused, false);
      assert.doesNotMatch(statusText(status), /waiting for/);
    } finally {
      await h.close();
    }
  });

  it('approve and abort arriving together: the abort wins and the approval is refused, not "accepted"', async () => {
    const h = await harness({ specs: { 'v2.0.0': approvalGate }, ...stableV1 });
    let second;
    try {
      const handle = await h.start('v2.0.0');
      await h.until((s) => s.waitingFor === 'approval');
      // With no worker, both requests wait for the next one, which sees them in one workflow task.
      await h.worker.stop();
      const approve = h.client.act(h.model, 'test', 'approve', { who: 'alice' });
      const abort = h.client.act(h.model, 'test', 'abort', { who: 'bob', text: 'error budget' });
      await new Promise((r) => setTimeout(r, 500));
      second = await startWorker(h.model, h.world.activities);
      const [approved, aborted] = await Promise.allSettled([approve, abort]);
      assert.equal(aborted.status, 'fulfilled');
      assert.equal(approved.status, 'rejected');
      assert.match(String((approved as PromiseRejectedResult).reason.message), /approve refused: .*aborted by bob/);
      const err = await failure(h.client.wait(handle));
      assert.equal(err.failureType, 'Aborted');
      const status = await h.client.status(h.model, 'test');
      assert.equal(status.actions.filter((a) => a.accepted).length, 1, JSON.stringify(status.actions));
      assert.deepEqual(h.world.traffic().weights, { 'v1.0.0': 100 });
    } finally {
      await h.client.close();
      await second?.stop();
    }
  });

  it('rollback when the previous stable lost its replicas: traffic stays on what serves, stable is brought back, then gets all traffic', async () => {
    const h = await harness({ specs: { 'v2.0.0': failingCanary }, ...stableV1, analysis: 'fail' });
    try {
      const handle = await h.start('v2.0.0');
      await h.until((s) => s.waitingFor === 'resume');
      // The engine lost v1.0.0's replicas, and cannot bring them back for now.
      h.world.lose('v1.0.0');
      h.world.blockRestore('v1.0.0');
      await h.client.act(h.model, 'test', 'resume', { who: 'dan' });
      const blocked = await h.until((s) => (s.rollbackFailures?.length ?? 0) >= 2);
      assert.equal(blocked.stage, 'rolling-back');
      assert.match(blocked.blocked ?? '', /rollback blocked: restore traffic: .*v1\.0\.0/);
      assert.match(blocked.reason ?? '', /analysis failed/, 'the original reason is kept');
      assert.deepEqual(h.world.traffic().weights, { 'v2.0.0': 100 }, 'meanwhile traffic is on the version that is ready');
      h.world.blockRestore('v1.0.0', false);
      const err = await failure(h.client.wait(handle));
      assert.equal(err.failureType, 'AnalysisFailed');
      assert.match(err.message, /analysis failed/);
      const final = await h.client.status(h.model, 'test');
      assert.equal(final.outcome, 'rolled-back');
      assert.equal(final.blocked, undefined);
      assert.deepEqual(h.world.traffic().weights, { 'v1.0.0': 100 });
      assert.deepEqual(h.world.running(), ['v1.0.0']);
      assert.equal(h.world.count('restoreVersion'), 1);
      assert.ok(final.history.some((e) => /rollback unblocked/.test(e.message)));
    } finally {
      await h.close();
    }
  });

  it('re-releasing the stable version (same commit) is refused: nothing deployed, traffic untouched', async () => {
    const commit = 'c0ffeev100'.padEnd(40, '0');
    const h = await harness({ specs: { 'v1.0.0': specs.canary }, running: [{ ...runningVersion('v1.0.0'), commit }], traffic: stableV1.traffic });
    try {
      const err = await failure(h.client.wait(await h.start('v1.0.0')));
      assert.equal(err.failureType, 'AlreadyStable');
      assert.match(err.message, /already the stable version.*rollback --to/);
      assert.equal(h.world.count('deployVersion'), 0);
      assert.equal(h.world.count('setTraffic'), 0);
    } finally {
      await h.close();
    }
  });

  it('one lock per model: of two starts at once exactly one runs; a rollback during a release is refused; afterwards it runs and is in history', async () => {
    const h = await harness({ specs: { 'v2.0.0': specs.pauseForever, 'v3.0.0': specs.pauseForever }, ...stableV1 });
    try {
      const results = await Promise.allSettled([h.start('v2.0.0'), h.start('v3.0.0')]);
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
      const refused = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
      assert.ok(refused.reason instanceof RefusedError);
      const handle = (results.find((r) => r.status === 'fulfilled') as PromiseFulfilledResult<Awaited<ReturnType<typeof h.start>>>).value;
      await h.until((s) => s.waitingFor === 'resume');
      await assert.rejects(h.client.rollback({ model: h.model, environment: 'test', to: 'v1.0.0' }), (err: Error) => {
        assert.ok(err instanceof RefusedError);
        assert.match(err.message, /active release in test: v[23]\.0\.0 .*waiting for resume.*cannot roll back/);
        return true;
      });
      await h.client.act(h.model, 'test', 'promote', { who: 'carol' });
      const promoted = await h.client.wait(handle);
      const rolled = await h.client.rollback({ model: h.model, environment: 'test', to: 'v1.0.0' });
      assert.equal(rolled.to, 'v1.0.0');
      assert.equal(rolled.from, promoted.version);
      assert.deepEqual(h.world.traffic().weights, { 'v1.0.0': 100 });
      // status still reads the latest release, not the rollback
      assert.equal((await h.client.status(h.model, 'test')).version, promoted.version);
      const history = await h.client.history(h.model, 'test');
      assert.deepEqual(
        history.map((e) => e.kind),
        ['rollback', 'release'],
      );
      assert.match(history[1]!.workflowId, new RegExp(`^release/test/${h.model}/${promoted.version.replace(/\./g, '\\.')}/`));
    } finally {
      await h.close();
    }
  });
});
