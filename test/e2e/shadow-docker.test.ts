/**
 * Shadow traffic with prediction agreement, end to end on the embedded default: real Temporal,
 * Docker engine, registry, tandem gateway and worker, the example model's containers, live
 * traffic of varied transactions. v1.4.0 (retrained, agrees) is promoted after its shadow step;
 * v1.5.0 (labels flip on a quarter of the inputs, answers 200 fast) is stopped by it, having
 * answered no caller. Background analysis on the same gateway stops a canary in the middle of a step.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simpleGit } from 'simple-git';
import type { ReleaseStatus } from '../../src/workflows/messages';
import { ENV, removeModelContainers, sendTraffic, startStack, type Stack, type TrafficTally } from '../../scripts/stack';
import { releaseFails, untilStatus } from '../helpers/release-story';
import { transactionBodies } from '../helpers/transactions';

const MODEL = `fd-shadow-${Date.now().toString(36).slice(-5)}`;

/** What the callers got between two copies of the tally. */
function served(before: TrafficTally, after: TrafficTally): { byVersion: Record<string, number>; byAnswer: Record<string, number>; failed: number } {
  const minus = (a: Record<string, number>, b: Record<string, number>) => Object.fromEntries(Object.entries(a).map(([k, n]) => [k, n - (b[k] ?? 0)]).filter(([, n]) => (n as number) > 0));
  return { byVersion: minus(after.byVersion, before.byVersion), byAnswer: minus(after.byAnswer, before.byAnswer), failed: after.failed - before.failed };
}

describe('shadow traffic with prediction agreement (Docker target + gateway, example model)', { timeout: 15 * 60_000 }, () => {
  let stack: Stack;
  let traffic: ReturnType<typeof sendTraffic>;

  const until = (pred: (s: ReleaseStatus) => boolean, what: string) => untilStatus(stack.client, MODEL, ENV, pred, what, 180_000);
  const release = (tag: string) => stack.client.start({ model: MODEL, tag, environment: ENV, repoUrl: stack.repo, requestedBy: 'e2e' });
  const snapshot = (): TrafficTally => structuredClone(traffic.tally);

  before(async () => {
    stack = await startStack({ model: MODEL, workDir: mkdtempSync(join(tmpdir(), 'tandem-shadow-')), namespace: 'tandem-test' });
  });

  after(async () => {
    await traffic?.stop();
    await removeModelContainers(stack.docker, MODEL);
    await stack.stop();
  });

  it('an agreeing retrain is promoted on agreement; a drifting one is stopped before it serves anyone', { timeout: 15 * 60_000 }, async (t) => {
    await t.test('v1.0.0 then v1.1.0 (approved) make v1.1.0 stable, under traffic of varied transactions', async () => {
      assert.equal((await stack.client.wait(await release('v1.0.0'))).outcome, 'promoted');
      traffic = sendTraffic(stack.gateway.url, MODEL, 30, {}, transactionBodies());
      const handle = await release('v1.1.0');
      await until((s) => s.waitingFor === 'approval', 'the approval gate of v1.1.0');
      await stack.client.act(MODEL, ENV, 'approve', { who: 'e2e' });
      assert.equal((await stack.client.wait(handle)).outcome, 'promoted');
    });

    await t.test('v1.4.0: copies of live requests agree with v1.1.0; callers all answered by v1.1.0 meanwhile; promoted', async () => {
      const handle = await release('v1.4.0');
      await until((s) => s.steps[0]?.status === 'running', 'the shadow step');
      const atStart = snapshot();
      const shadowed = await until((s) => s.steps[0]?.status === 'done', 'the end of the shadow step');
      const during = served(atStart, snapshot());
      assert.deepEqual(Object.keys(during.byVersion), ['v1.1.0'], `callers during the shadow step: ${JSON.stringify(during)}`);
      assert.deepEqual(Object.keys(during.byAnswer), ['v1.1.0'], 'and the answers they got were v1.1.0\'s');
      assert.equal(during.failed, 0);
      const agreement = (shadowed.measurements ?? []).filter((m) => m.metric === 'agreement');
      assert.equal(agreement.length, 2, 'two windows of 3s');
      assert.ok(agreement.every((m) => m.value === 1 && m.verdict === 'pass'), JSON.stringify(agreement));
      assert.equal(shadowed.shadow?.stable, 'v1.1.0');
      assert.ok((shadowed.shadow?.pairs.agree ?? 0) >= 20, `pairs compared: ${JSON.stringify(shadowed.shadow?.pairs)}`);
      const status = await stack.client.wait(handle);
      assert.equal(status.outcome, 'promoted');
      assert.equal((await stack.client.versions(MODEL, ENV)).traffic.stable, 'v1.4.0');
    });

    await t.test('v1.5.0: stopped by shadow agreement with the rate and a redacted sample in the reason; no caller ever got its answer', async () => {
      const atStart = snapshot();
      const err = await releaseFails(stack.client, await release('v1.5.0'), 'AnalysisFailed', 'v1.5.0 must not be promoted');
      const during = served(atStart, snapshot());
      assert.match(err.message, /^shadow analysis failed: prediction agreement (\d+\.\d)% below 98\.0% \(\d+ requests compared with v1\.4\.0, \d+ disagree/);
      const rate = Number(/agreement (\d+\.\d)%/.exec(err.message)![1]);
      assert.ok(rate < 90, `a quarter of the labels flip: agreement ${rate}%`);
      assert.match(err.message, /e\.g\. POST \/predict \{"amount":"\[redacted\]"/, 'the sample in the reason hides the amount');
      const status = err.status as ReleaseStatus;
      assert.equal(status.outcome, 'rolled-back');
      const samples = status.shadow?.samples ?? [];
      assert.ok(samples.length >= 1 && samples.length <= 5, `samples kept: ${samples.length}`);
      for (const s of samples) {
        assert.equal((s.request.body as { amount: unknown }).amount, '[redacted]');
        assert.ok(s.differences.some((d) => d.startsWith('$.label') || d.startsWith('$.score')), s.differences.join('; '));
      }
      assert.ok(!('v1.5.0' in during.byVersion) && !('v1.5.0' in during.byAnswer), `callers during v1.5.0's release: ${JSON.stringify(during)}`);
      assert.equal(during.failed, 0);
      const state = await stack.client.versions(MODEL, ENV);
      assert.deepEqual(state.traffic.weights, { 'v1.4.0': 100 });
      assert.equal(state.traffic.mirror, undefined, 'the copies stopped with the rollback');
    });

    await t.test('background analysis: a canary whose p95 breaks the bound is rolled back in the middle of a pause that waits for resume', async () => {
      // A tag of this test's own: v1.4.0's code with a rollout that only background analysis can end.
      const repo = simpleGit(stack.repo);
      await repo.checkout(['--detach', 'v1.4.0']);
      const spec = await readFile(join(stack.repo, 'tandem.yaml'), 'utf8');
      const rollout = ['rollout:', '  strategy: canary', '  backgroundAnalysis: { interval: 3s, maxP95LatencyMs: 0.01, minRequests: 5 }', '  steps:', '    - setWeight: 30', '    - pause: {}', 'retention:', '  keepPrevious: 1', ''].join('\n');
      await writeFile(join(stack.repo, 'tandem.yaml'), spec.slice(0, spec.indexOf('rollout:')) + rollout);
      await repo.add('tandem.yaml').commit('p95 bound no model meets, checked in the background').addTag('v1.4.1');
      const err = await releaseFails(stack.client, await release('v1.4.1'), 'AnalysisFailed', 'v1.4.1 must not be promoted');
      assert.match(err.message, /^background analysis failed: p95 latency [\d.]+ ms above 0\.01 ms/);
      const status = err.status as ReleaseStatus;
      assert.equal(status.steps[1]?.status, 'failed', `the pause was running: ${JSON.stringify(status.steps)}`);
      assert.equal(status.background?.state, 'failed');
      assert.ok((status.measurements ?? []).some((m) => m.step === 'background' && m.metric === 'p95LatencyMs' && m.verdict === 'fail'));
      assert.deepEqual((await stack.client.versions(MODEL, ENV)).traffic.weights, { 'v1.4.0': 100 });
    });

    await t.test('no caller request failed', async () => {
      const tally = await traffic.stop();
      assert.ok(tally.total > 100, `sent ${tally.total}`);
      assert.equal(tally.failed, 0, tally.errors.join('; '));
      assert.ok(!tally.byVersion['v1.5.0']);
    });
  });
});
