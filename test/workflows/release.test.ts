/**
 * The release workflow on the real Temporal dev server, with activity doubles.
 * Given a world (what runs, what traffic), when a release runs, then check traffic, calls and status.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RefusedError } from '../../src/client';
import type { ReleaseStatus } from '../../src/workflows/messages';
import { runningVersion, specs, type WorldOptions } from '../doubles/world';
import { failure, harness } from '../helpers/release-harness';
import { ensureTemporal } from '../helpers/temporal';

const admin = { who: 'alice', text: 'looks good' };
const stableV1: Pick<WorldOptions, 'running' | 'traffic'> = { running: [runningVersion('v1.0.0')], traffic: { weights: { 'v1.0.0': 100 }, pinned: ['v1.0.0'], stable: 'v1.0.0' } };

describe('release workflow (real Temporal, activity doubles)', () => {
  before(() => ensureTemporal());

  it('direct release: promoted, 100% to the new version, previous stable kept warm', async () => {
    const h = await harness({ specs: { 'v2.0.0': specs.direct }, running: [runningVersion('v1.0.0')], traffic: { weights: { 'v1.0.0': 100 }, pinned: ['v1.0.0'], stable: 'v1.0.0' } });
    try {
      const status = await h.client.wait(await h.start('v2.0.0'));
      assert.equal(status.outcome, 'promoted');
      assert.deepEqual(h.world.traffic().weights, { 'v2.0.0': 100 });
      assert.equal(h.world.traffic().stable, 'v2.0.0');
      assert.deepEqual(h.world.running().sort(), ['v1.0.0', 'v2.0.0']);
      assert.ok(status.history.some((e) => e.message.includes('v2.0.0 is stable')));
    } finally {
      await h.close();
    }
  });

  it('the Web UI story: search attributes track the stage; each activity and timer has a one-line summary', async () => {
    const h = await harness({ specs: { 'v2.0.0': specs.canary }, ...stableV1 });
    try {
      const handle = await h.start('v2.0.0');
      await h.until((s) => s.waitingFor === 'approval');
      const described = await handle.describe();
      assert.deepEqual(described.searchAttributes.TandemStage, ['rolling-out']);
      assert.deepEqual(described.searchAttributes.TandemModel, [h.model]);
      await h.client.act(h.model, 'test', 'approve', admin);
      await h.client.wait(handle);
      assert.deepEqual((await handle.describe()).searchAttributes.TandemStage, ['promoted']);
      assert.equal(await (await handle.describe()).staticSummary(), `${h.model} v2.0.0 → test`);
      const events = (await handle.fetchHistory()).events ?? [];
      const summaries = events
        .filter((e) => e.activityTaskScheduledEventAttributes || e.timerStartedEventAttributes)
        .map((e) => {
          const data = e.userMetadata?.summary?.data;
          return data ? JSON.parse(Buffer.from(data).toString()) : undefined;
        });
      assert.ok(summaries.length > 5);
      assert.ok(summaries.every((s) => typeof s === 'string' && s.length > 0), `every activity and timer has a summary: ${JSON.stringify(summaries)}`);
      assert.ok(summaries.includes('build and push image of ' + h.model + ' v2.0.0'));
      assert.ok(summaries.includes('approval of v2.0.0 (timeout 1h)'));
    } finally {
      await h.close();
    }
  });

  it('canary with approval: weights step 20 -> 50 -> 100, approval recorded with who and why', async () => {
    const h = await harness({ specs: { 'v2.0.0': specs.canary }, running: [runningVersion('v1.0.0')], traffic: { weights: { 'v1.0.0': 100 }, pinned: ['v1.0.0'], stable: 'v1.0.0' } });
    try {
      const handle = await h.start('v2.0.0');
      await assert.rejects(h.client.act(h.model, 'test', 'approve', admin), RefusedError, 'approval before the gate is refused');
      const waiting = await h.until((s) => s.waitingFor === 'approval');
      assert.deepEqual(waiting.weights, { 'v2.0.0': 50, 'v1.0.0': 50 });
      const accepted = await h.client.act(h.model, 'test', 'approve', admin);
      assert.equal(accepted.who, 'alice');
      const status = await h.client.wait(handle);
      assert.equal(status.outcome, 'promoted');
      const weights = h.world.calls.filter((c) => c.name === 'setTraffic').map((c) => (c.input as { weights: object }).weights);
      assert.deepEqual(weights, [{ 'v1.0.0': 100 }, { 'v2.0.0': 20, 'v1.0.0': 80 }, { 'v2.0.0': 50, 'v1.0.0': 50 }, { 'v2.0.0': 100 }]);
      assert.equal(h.world.count('analyzeVersion'), 2);
      const approval = status.actions.find((a) => a.action === 'approve' && a.accepted);
      assert.equal(approval?.who, 'alice');
      assert.equal(approval?.text, 'looks good');
      assert.match(status.steps.find((s) => s.description.startsWith('wait for approval'))!.detail!, /approved by alice: looks good/);
    } finally {
      await h.close();
    }
  });

  it('abort during a pause rolls back: stable gets all traffic, the canary is scaled down, who and why recorded', async () => {
    const h = await harness({ specs: { 'v2.0.0': specs.pauseForever }, running: [runningVersion('v1.0.0')], traffic: { weights: { 'v1.0.0': 100 }, pinned: ['v1.0.0'], stable: 'v1.0.0' } });
    try {
      const handle = await h.start('v2.0.0');
      await h.until((s) => s.waitingFor === 'resume');
      assert.deepEqual(h.world.traffic().weights, { 'v2.0.0': 10, 'v1.0.0': 90 });
      await h.client.act(h.model, 'test', 'abort', { who: 'bob', text: 'latency spike' });
      const err = await failure(h.client.wait(handle));
      assert.match(err.message, /aborted by bob: latency spike/);
      assert.deepEqual(h.world.traffic().weights, { 'v1.0.0': 100 });
      assert.deepEqual(h.world.traffic().pinned, ['v1.0.0']);
      assert.deepEqual(h.world.running(), ['v1.0.0']);
      const status = err.status as ReleaseStatus;
      assert.equal(status.outcome, 'rolled-back');
      assert.equal(status.reason, 'aborted by bob: latency spike');
      await assert.rejects(h.client.act(h.model, 'test', 'abort', { who: 'bob' }), RefusedError, 'abort of a finished release is refused');
    } finally {
      await h.close();
    }
  });

  it('abort during a long deploy cancels the running activity and rolls back', async () => {
    const h = await harness({ specs: { 'v2.0.0': specs.direct }, deployDelayMs: 60_000, ...stableV1 });
    try {
      const handle = await h.start('v2.0.0');
      await h.until((s) => s.stage === 'deploying');
      await new Promise((r) => setTimeout(r, 300));
      await h.client.act(h.model, 'test', 'abort', { who: 'bob', text: 'wrong tag' });
      const err = await failure(h.client.wait(handle));
      assert.match(err.message, /aborted by bob: wrong tag/);
      assert.equal(h.world.count('deployVersion'), 0, 'the deploy did not complete');
      assert.equal(h.world.count('scaleDownVersion'), 1, 'whatever the deploy started is scaled down');
      assert.deepEqual(h.world.traffic().weights, { 'v1.0.0': 100 });
    } finally {
      await h.close();
    }
  });

  it('approval timeout rolls back with the reason', async () => {
    const h = await harness({ specs: { 'v2.0.0': specs.approvalTimeout }, running: [runningVersion('v1.0.0')], traffic: { weights: { 'v1.0.0': 100 }, pinned: ['v1.0.0'], stable: 'v1.0.0' } });
    try {
      const err = await failure(h.client.wait(await h.start('v2.0.0')));
      assert.match(err.message, /no approval within 1s/);
      assert.deepEqual(h.world.traffic().weights, { 'v1.0.0': 100 });
      assert.deepEqual(h.world.running(), ['v1.0.0']);
    } finally {
      await h.close();
    }
  });

  it('a non-retryable build failure ends the release with the reason, tried once, nothing deployed', async () => {
    const h = await harness({ specs: { 'v2.0.0': specs.direct }, buildFailure: 'non-retryable', running: [runningVersion('v1.0.0')], traffic: { weights: { 'v1.0.0': 100 }, pinned: ['v1.0.0'], stable: 'v1.0.0' } });
    try {
      const err = await failure(h.client.wait(await h.start('v2.0.0')));
      assert.match(err.message, /step 3\/5 "RUN make" failed/);
      assert.equal(err.failureType, 'BuildFailed');
      assert.equal((err.status as ReleaseStatus).outcome, 'failed');
      assert.equal(h.world.count('deployVersion'), 0);
      assert.equal(h.world.count('setTraffic'), 0, 'traffic untouched');
    } finally {
      await h.close();
    }
  });

  it('the first release of a model skips the canary steps: nothing to compare against', async () => {
    const h = await harness({ specs: { 'v1.0.0': specs.canary } });
    try {
      const status = await h.client.wait(await h.start('v1.0.0'));
      assert.equal(status.outcome, 'promoted');
      assert.equal(h.world.count('analyzeVersion'), 0);
      assert.deepEqual(h.world.traffic().weights, { 'v1.0.0': 100 });
      assert.ok(status.history.some((e) => e.message.includes('first release')));
    } finally {
      await h.close();
    }
  });

  it('a transient activity failure is retried and the release succeeds', async () => {
    const h = await harness({ specs: { 'v2.0.0': specs.direct }, buildFailure: { transientFailures: 2 } });
    try {
      const status = await h.client.wait(await h.start('v2.0.0'));
      assert.equal(status.outcome, 'promoted');
      const build = h.world.calls.find((c) => c.name === 'buildImage');
      assert.equal(build?.attempt, 3, 'succeeded on the third attempt');
    } finally {
      await h.close();
    }
  });

  it('a failed smoke test rolls back with the check and the observed value', async () => {
    const h = await harness({ specs: { 'v2.0.0': specs.direct }, failingChecks: ['predicts'], running: [runningVersion('v1.0.0')], traffic: { weights: { 'v1.0.0': 100 }, pinned: ['v1.0.0'], stable: 'v1.0.0' } });
    try {
      const err = await failure(h.client.wait(await h.start('v2.0.0')));
      assert.match(err.message, /check "predicts" failed: status 500/);
      assert.equal(err.failureType, 'VerificationFailed');
      assert.deepEqual(h.world.traffic().weights, { 'v1.0.0': 100 });
      assert.deepEqual(h.world.running(), ['v1.0.0']);
    } finally {
      await h.close();
    }
  });

  it('failed analysis rolls back', async () => {
    const h = await harness({ specs: { 'v2.0.0': specs.canary }, analysis: 'fail', running: [runningVersion('v1.0.0')], traffic: { weights: { 'v1.0.0': 100 }, pinned: ['v1.0.0'], stable: 'v1.0.0' } });
    try {
      const err = await failure(h.client.wait(await h.start('v2.0.0')));
      assert.match(err.message, /analysis failed: error rate 50%/);
      assert.deepEqual(h.world.traffic().weights, { 'v1.0.0': 100 });
    } finally {
      await h.close();
    }
  });

  it('a second start for the same model and environment is refused, naming the running release', async () => {
    const h = await harness({ specs: { 'v2.0.0': specs.pauseForever, 'v3.0.0': specs.direct }, ...stableV1 });
    try {
      const handle = await h.start('v2.0.0');
      await h.until((s) => s.waitingFor === 'resume');
      await assert.rejects(h.start('v3.0.0'), (err: Error) => {
        assert.ok(err instanceof RefusedError);
        assert.match(err.message, /already has an active release in test: v2\.0\.0/);
        assert.match(err.message, /tandem release abort/);
        return true;
      });
      await h.client.act(h.model, 'test', 'promote', { who: 'carol' });
      assert.equal((await h.client.wait(handle)).outcome, 'promoted');
    } finally {
      await h.close();
    }
  });

  it('pause holds the rollout between steps; resume continues; promote skips the rest', async () => {
    const h = await harness({ specs: { 'v2.0.0': specs.canary }, running: [runningVersion('v1.0.0')], traffic: { weights: { 'v1.0.0': 100 }, pinned: ['v1.0.0'], stable: 'v1.0.0' } });
    try {
      const handle = await h.start('v2.0.0');
      await h.until((s) => s.stage === 'verifying' || s.stage === 'rolling-out');
      await h.client.act(h.model, 'test', 'pause', { who: 'dan' });
      await assert.rejects(h.client.act(h.model, 'test', 'pause', { who: 'dan' }), RefusedError);
      await h.client.act(h.model, 'test', 'resume', { who: 'dan' });
      await h.until((s) => s.waitingFor === 'approval');
      await h.client.act(h.model, 'test', 'promote', { who: 'erin', text: 'hotfix' });
      const status = await h.client.wait(handle);
      assert.equal(status.outcome, 'promoted');
      assert.deepEqual(h.world.traffic().weights, { 'v2.0.0': 100 });
    } finally {
      await h.close();
    }
  });

  it('a signal that cannot apply is recorded as ignored, not dropped', async () => {
    const h = await harness({ specs: { 'v2.0.0': specs.pauseForever }, ...stableV1 });
    try {
      const handle = await h.start('v2.0.0');
      await h.until((s) => s.waitingFor === 'resume');
      await handle.signal('approve', { who: 'web-ui-user' });
      const status = await h.until((s) => s.actions.some((a) => !a.accepted));
      assert.match(status.actions.find((a) => !a.accepted)!.note!, /nothing awaits approval/);
      await handle.signal('promote', { who: 'web-ui-user' });
      assert.equal((await h.client.wait(handle)).outcome, 'promoted');
    } finally {
      await h.close();
    }
  });

  it('a missing tag fails fast as bad input and changes nothing', async () => {
    const h = await harness({ specs: {} });
    try {
      const err = await failure(h.client.wait(await h.start('v9.9.9')));
      assert.equal(err.failureType, 'TagNotFound');
      assert.equal(h.world.calls.length, 0);
    } finally {
      await h.close();
    }
  });

  it('blue-green: the new version runs pinned-only during preview, then takes all traffic', async () => {
    const h = await harness({ specs: { 'v2.0.0': specs.blueGreen }, running: [runningVersion('v1.0.0')], traffic: { weights: { 'v1.0.0': 100 }, pinned: ['v1.0.0'], stable: 'v1.0.0' } });
    try {
      const status = await h.client.wait(await h.start('v2.0.0'));
      assert.equal(status.outcome, 'promoted');
      const states = h.world.calls.filter((c) => c.name === 'setTraffic').map((c) => c.input as { weights: object; pinned: string[] });
      assert.deepEqual(states[0], { weights: { 'v1.0.0': 100 }, pinned: ['v1.0.0', 'v2.0.0'], stable: 'v1.0.0' });
      assert.deepEqual(states.at(-1)!.weights, { 'v2.0.0': 100 });
    } finally {
      await h.close();
    }
  });
});
