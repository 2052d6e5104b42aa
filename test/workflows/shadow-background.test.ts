/**
 * Shadow steps and background analysis in the release workflow, on the real Temporal dev server
 * with activity doubles (the agreement double is judged by the real verdict): what traffic the
 * release asks for, when it stops, what it records. The gateway's side (copies, comparison) is
 * tested against real HTTP in test/integration/gateway-shadow.test.ts, and the whole story with
 * the example model in test/e2e/shadow-docker.test.ts.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { DisagreementSample } from '../../src/activities/types';
import type { ReleaseStatus } from '../../src/workflows/messages';
import { runningVersion, type WorldOptions } from '../doubles/world';
import { failure, harness } from '../helpers/release-harness';
import { ensureTemporal } from '../helpers/temporal';

const stableV1: Pick<WorldOptions, 'running' | 'traffic'> = { running: [runningVersion('v1.0.0')], traffic: { weights: { 'v1.0.0': 100 }, pinned: ['v1.0.0'], stable: 'v1.0.0' } };

const spec = (steps: string[], extra: string[] = []) => ['port: 8080', 'rollout:', '  strategy: canary', '  steps:', ...steps.map((s) => `    - ${s}`), ...extra, ''].join('\n');
const SHADOW = 'shadow: { percent: 100, duration: 400ms, interval: 200ms, agreement: { min: 0.98, minSamples: 20, fields: [{ path: $.label }, { path: $.score, tolerance: 0.05 }], redact: [$.amount], samples: 2 } }';

const sample: DisagreementSample = {
  at: new Date().toISOString(),
  request: { method: 'POST', path: '/predict', body: { amount: '[redacted]', velocity: 6 } },
  stable: { status: 200, body: { label: 'ok', score: 0.31 } },
  candidate: { status: 200, body: { label: 'fraud', score: 0.64 } },
  differences: ['$.label: stable "ok", candidate "fraud"', '$.score: stable 0.31, candidate 0.64 (tolerance 0.05)'],
};

/** The traffic states the release asked for, in order. */
const trafficCalls = (h: { world: { calls: { name: string; input: unknown }[] } }) =>
  h.world.calls.filter((c) => c.name === 'setTraffic').map((c) => c.input as { weights: Record<string, number>; mirror?: { version: string; percent: number; compare?: unknown } });

describe('shadow steps and background analysis (real Temporal, activity doubles)', () => {
  before(() => ensureTemporal());

  it('an agreeing version: copies go to it while stable answers everyone, then the copies stop and the canary goes on', async () => {
    const h = await harness({ specs: { 'v2.0.0': spec([SHADOW, 'setWeight: 50']) }, ...stableV1, shadow: [{ agree: 60, disagree: 0 }] });
    try {
      const status = await h.client.wait(await h.start('v2.0.0'));
      assert.equal(status.outcome, 'promoted');
      const calls = trafficCalls(h);
      const shadowing = calls.filter((c) => c.mirror);
      assert.equal(shadowing.length, 1, 'one traffic change starts the copies');
      assert.deepEqual(shadowing[0]!.weights, { 'v1.0.0': 100 }, 'callers are all answered by stable while copies go to the new version');
      assert.deepEqual(shadowing[0]!.mirror, { version: 'v2.0.0', percent: 100, compare: { fields: [{ path: '$.label' }, { path: '$.score', tolerance: 0.05 }], redact: ['$.amount'], samples: 2 } });
      const after = calls[calls.indexOf(shadowing[0]!) + 1]!;
      assert.equal(after.mirror, undefined, 'the copies stop with the shadow step');
      assert.deepEqual(after.weights, { 'v1.0.0': 100 });
      assert.equal(h.world.calls.filter((c) => c.name === 'analyzeShadow').length, 2, 'two windows of 200 ms in 400 ms');
      const agreement = (status.measurements ?? []).filter((m) => m.metric === 'agreement');
      assert.deepEqual(
        agreement.map((m) => [m.step, m.round, m.value, m.condition, m.verdict]),
        [
          [0, 1, 1, '≥ 0.98 (60 compared)', 'pass'],
          [0, 2, 1, '≥ 0.98 (60 compared)', 'pass'],
        ],
      );
      assert.ok(agreement.every((m) => m.window.from <= m.window.to));
      assert.deepEqual(status.shadow, { version: 'v2.0.0', stable: 'v1.0.0', agreement: 1, pairs: { agree: 60, disagree: 0, notCompared: 0 }, samples: [] });
      assert.ok(status.history.some((e) => e.message.startsWith('shadow 1/2 of v2.0.0: pass — prediction agreement 100.0% (≥ 98.0%; 60 requests compared with v1.0.0)')));
      assert.match(status.steps[0]!.description, /^copy 100% of requests to v2\.0\.0 for 400ms, predictions agree ≥ 98% with stable/);
    } finally {
      await h.close();
    }
  });

  it('a drifting version is rolled back from the shadow step with the agreement and a sample in the reason, having answered no caller', async () => {
    const h = await harness({ specs: { 'v2.0.0': spec([SHADOW, 'setWeight: 50']) }, ...stableV1, shadow: [{ agree: 35, disagree: 15, samples: [sample, sample, sample] }] });
    try {
      const err = await failure(h.client.wait(await h.start('v2.0.0')));
      assert.match(err.message, /^shadow analysis failed: prediction agreement 70\.0% below 98\.0% \(50 requests compared with v1\.0\.0, 15 disagree\); e\.g\. POST \/predict \{"amount":"\[redacted\]","velocity":6\}: \$\.label: stable "ok", candidate "fraud"/);
      assert.equal(err.failureType, 'AnalysisFailed');
      assert.ok(trafficCalls(h).every((c) => !c.weights['v2.0.0']), 'no traffic change ever gave v2.0.0 a weight');
      assert.deepEqual(h.world.traffic(), stableV1.traffic, 'traffic as before: stable only, no copies');
      const status = err.status as ReleaseStatus;
      assert.equal(status.shadow?.samples.length, 2, 'the samples the step asked for, no more');
      assert.deepEqual(status.shadow?.samples[0], sample);
      assert.equal(status.measurements?.at(-1)?.verdict, 'fail');
      assert.equal(status.measurements?.at(-1)?.value, 0.7);
      assert.equal(h.world.calls.filter((c) => c.name === 'analyzeShadow').length, 1, 'stopped at the first failing window');
    } finally {
      await h.close();
    }
  });

  it('too few compared requests pause the release for a person; resume goes on', async () => {
    const h = await harness({ specs: { 'v2.0.0': spec([SHADOW.replace('interval: 200ms, ', ''), 'setWeight: 50']) }, ...stableV1, shadow: [{ agree: 3, disagree: 0, notCompared: 9 }] });
    try {
      const handle = await h.start('v2.0.0');
      const waiting = await h.until((s) => s.waitingFor === 'resume');
      assert.ok(waiting.history.some((e) => /shadow analysis inconclusive \(3 requests compared with v1\.0\.0, 9 not comparable: fewer than the 20 needed/.test(e.message)));
      assert.equal(waiting.measurements?.at(-1)?.verdict, 'inconclusive');
      await h.client.act(h.model, 'test', 'resume', { who: 'carol', text: 'low traffic at night' });
      assert.equal((await h.client.wait(handle)).outcome, 'promoted');
    } finally {
      await h.close();
    }
  });

  it('a shadow step without agreement copies for its duration and judges nothing', async () => {
    const h = await harness({ specs: { 'v2.0.0': spec(['shadow: { percent: 25, duration: 300ms }', 'setWeight: 50']) }, ...stableV1 });
    try {
      const status = await h.client.wait(await h.start('v2.0.0'));
      assert.equal(status.outcome, 'promoted');
      assert.deepEqual(trafficCalls(h).find((c) => c.mirror)?.mirror, { version: 'v2.0.0', percent: 25 });
      assert.equal(h.world.calls.filter((c) => c.name === 'analyzeShadow').length, 0);
      assert.equal(status.steps[0]!.detail, 'copied 25% of requests for 300ms');
    } finally {
      await h.close();
    }
  });

  it('background analysis fails a canary in the middle of a pause that would last an hour, and rolls back', async () => {
    const h = await harness({
      specs: { 'v2.0.0': spec(['setWeight: 20', 'pause: { duration: 1h }', 'setWeight: 50'], ['  backgroundAnalysis: { interval: 100ms, maxErrorRate: 0.05 }']) },
      ...stableV1,
      analysis: ['pass', 'pass', 'fail'],
    });
    try {
      const err = await failure(h.client.wait(await h.start('v2.0.0')));
      assert.match(err.message, /^background analysis failed: error rate 50%/);
      const status = err.status as ReleaseStatus;
      assert.equal(status.steps[1]!.status, 'failed', 'the pause was running when it failed');
      assert.equal(status.background?.state, 'failed');
      assert.equal(status.background?.rounds, 3);
      assert.deepEqual(
        (status.measurements ?? []).filter((m) => m.step === 'background').map((m) => [m.round, m.metric, m.verdict]),
        [
          [1, 'errorRate', 'pass'],
          [2, 'errorRate', 'pass'],
          [3, 'errorRate', 'fail'],
        ],
      );
      assert.deepEqual(h.world.traffic().weights, { 'v1.0.0': 100 });
      assert.equal(status.outcome, 'rolled-back');
    } finally {
      await h.close();
    }
  });

  it('background analysis starts with the first traffic and stops before promotion', async () => {
    const h = await harness({
      specs: { 'v2.0.0': spec(['pause: { duration: 300ms }', 'setWeight: 20', 'pause: { duration: 500ms }'], ['  backgroundAnalysis: { interval: 100ms }']) },
      ...stableV1,
    });
    try {
      const status = await h.client.wait(await h.start('v2.0.0'));
      assert.equal(status.outcome, 'promoted');
      assert.equal(status.background?.state, 'stopped');
      assert.ok(status.background!.rounds >= 2, `windows measured while the canary ran: ${status.background!.rounds}`);
      const calls = h.world.calls.map((c) => c.name);
      const firstWindow = calls.indexOf('analyzeVersion');
      const firstWeight = trafficCalls(h).findIndex((c) => c.weights['v2.0.0']);
      assert.ok(firstWeight >= 0 && firstWindow > calls.indexOf('setTraffic'), 'no window before the new version had traffic');
      const promoted = status.history.findIndex((e) => e.message.startsWith('promoting v2.0.0'));
      const stopped = status.history.findIndex((e) => e.message.startsWith('background analysis of v2.0.0 stopped'));
      assert.ok(stopped >= 0 && stopped < promoted, 'stopped before promotion');
    } finally {
      await h.close();
    }
  });
});
