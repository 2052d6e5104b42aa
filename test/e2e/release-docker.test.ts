/**
 * The embedded default end to end, as the demo runs it: real Temporal, Docker engine, registry,
 * gateway and worker; the example model's tags released one after another under live traffic.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RefusedError } from '../../src/client';
import type { ReleaseStatus } from '../../src/workflows/messages';
import { ENV, removeModelContainers, sample, sendTraffic, startStack, type Stack } from '../../scripts/stack';
import { releaseFails, share, untilStatus } from '../helpers/release-story';

const MODEL = `fd-e2e-${Date.now().toString(36).slice(-5)}`;
const NAMESPACE = 'tandem-test';
const SAMPLES = 400;
/** ±8 points around the weight: more than 3 standard deviations of a binomial share at n = 400. */
const TOLERANCE = 8;

describe('release on the embedded default (Docker target + gateway)', { timeout: 15 * 60_000 }, () => {
  let stack: Stack;
  let workDir: string;
  let traffic: ReturnType<typeof sendTraffic>;

  const until = (pred: (s: ReleaseStatus) => boolean, what: string) => untilStatus(stack.client, MODEL, ENV, pred, what, 120_000);
  const release = async (tag: string) => stack.client.start({ model: MODEL, tag, environment: ENV, repoUrl: stack.repo, requestedBy: 'e2e' });

  before(async () => {
    workDir = mkdtempSync(join(tmpdir(), 'tandem-e2e-'));
    stack = await startStack({ model: MODEL, workDir, namespace: NAMESPACE });
  });

  after(async () => {
    await traffic?.stop();
    await removeModelContainers(stack.docker, MODEL);
    await stack.stop();
  });

  // One story, the demo's: each step starts from what the steps before it left (which versions run,
  // which is stable, the live traffic), so the steps are subtests of one test, run in order.
  it("the example's tags released one after another under live traffic", { timeout: 15 * 60_000 }, async (t) => {
    await t.test('v1.0.0, the first release, is promoted directly and serves all traffic', async () => {
      const status = await stack.client.wait(await release('v1.0.0'));
      assert.equal(status.outcome, 'promoted');
      assert.match(status.digest ?? '', /^sha256:[0-9a-f]{64}$/);
      assert.deepEqual(await sample(stack.gateway.url, MODEL, 20), { 'v1.0.0': 20 });
      traffic = sendTraffic(stack.gateway.url, MODEL, 30);
    });

    await t.test('v1.1.0 as a canary: observed splits at 20% and 50%, pinned requests, approval, promotion', async () => {
      const handle = await release('v1.1.0');
      await until((s) => s.steps[0]?.status === 'done', 'the 20% step');
      await stack.client.act(MODEL, ENV, 'pause', { who: 'e2e', text: 'measure the split' });
      const at20 = await sample(stack.gateway.url, MODEL, SAMPLES);
      assert.ok(Math.abs(share(at20, 'v1.1.0') - 20) <= TOLERANCE, `20% canary served ${JSON.stringify(at20)}`);
      await stack.client.act(MODEL, ENV, 'resume', { who: 'e2e' });

      const waiting = await until((s) => s.waitingFor === 'approval', 'the approval gate');
      assert.deepEqual(waiting.weights, { 'v1.1.0': 50, 'v1.0.0': 50 });
      assert.match(waiting.steps.find((s) => s.description.startsWith('analyse'))?.detail ?? '', /pass/);
      const at50 = await sample(stack.gateway.url, MODEL, SAMPLES);
      assert.ok(Math.abs(share(at50, 'v1.1.0') - 50) <= TOLERANCE, `50% canary served ${JSON.stringify(at50)}`);
      assert.deepEqual(await sample(stack.gateway.url, MODEL, 30, { 'X-Model-Version': 'v1.0.0' }), { 'v1.0.0': 30 });
      assert.deepEqual(await sample(stack.gateway.url, MODEL, 30, { 'X-Model-Version': 'v1.1.0' }), { 'v1.1.0': 30 });

      await stack.client.act(MODEL, ENV, 'approve', { who: 'e2e', text: 'split and analysis look right' });
      const status = await stack.client.wait(handle);
      assert.equal(status.outcome, 'promoted');
      const state = await stack.client.versions(MODEL, ENV);
      assert.equal(state.traffic.stable, 'v1.1.0');
      assert.deepEqual(state.traffic.weights, { 'v1.1.0': 100 });
      assert.deepEqual(state.running.map((v) => v.version).sort(), ['v1.0.0', 'v1.1.0'], 'the previous stable stays warm');
    });

    await t.test('v1.2.0 is caught by its smoke tests and rolled back; it never took unpinned traffic', async () => {
      const err = await releaseFails(stack.client, await release('v1.2.0'), 'VerificationFailed', 'v1.2.0 must not be promoted');
      assert.match(err.message, /check ".*" failed: status 500/);
      const state = await stack.client.versions(MODEL, ENV);
      assert.deepEqual(state.traffic.weights, { 'v1.1.0': 100 });
      assert.ok(!state.running.some((v) => v.version === 'v1.2.0'), 'v1.2.0 scaled down');
      assert.deepEqual(await sample(stack.gateway.url, MODEL, 50), { 'v1.1.0': 50 });
    });

    await t.test('an abort mid-canary sends all unpinned traffic back to stable, and keeps a version that was already warm', async () => {
      const handle = await release('v1.0.0');
      await until((s) => s.waitingFor === 'approval', 'the approval gate');
      await stack.client.act(MODEL, ENV, 'abort', { who: 'e2e', text: 'changed my mind' });
      await assert.rejects(stack.client.wait(handle), /aborted by e2e: changed my mind/);
      assert.deepEqual(await sample(stack.gateway.url, MODEL, 50), { 'v1.1.0': 50 });
      const state = await stack.client.versions(MODEL, ENV);
      assert.ok(state.running.some((v) => v.version === 'v1.0.0'), 'v1.0.0 was running before this release, so it stays');
    });

    await t.test('rollback --to an older running version is a traffic switch; a version that is not running is refused', async () => {
      const result = await stack.client.rollback({ model: MODEL, environment: ENV, to: 'v1.0.0', requestedBy: 'e2e' });
      // Unsigned (the client talks to Temporal directly): the record says so, and which policy rule let it.
      assert.deepEqual(result, { from: 'v1.1.0', to: 'v1.0.0', weights: { 'v1.0.0': 100 }, by: 'e2e', via: 'temporal', rule: 'may rollback: anyone' });
      assert.deepEqual(await sample(stack.gateway.url, MODEL, 50), { 'v1.0.0': 50 });
      await assert.rejects(stack.client.rollback({ model: MODEL, environment: ENV, to: 'v1.2.0' }), (e: Error) => e instanceof RefusedError && /v1\.2\.0 is not running/.test(e.message));
    });

    await t.test('v1.3.0 fails to build: the failing step is named and nothing changes', async () => {
      const err = await releaseFails(stack.client, await release('v1.3.0'), 'BuildFailed', 'v1.3.0 must not build');
      assert.match(err.message, /step \d+\/\d+/);
      assert.equal((err.status as ReleaseStatus).outcome, 'failed');
      assert.deepEqual((await stack.client.versions(MODEL, ENV)).traffic.weights, { 'v1.0.0': 100 });
    });

    await t.test('no client request failed during all of the above', async () => {
      const tally = await traffic.stop();
      assert.ok(tally.total > 100, `sent ${tally.total} requests`);
      assert.equal(tally.failed, 0, `failed requests: ${tally.errors.join('; ')}`);
    });

    await t.test('a restarted gateway keeps its routes, and the worker drives it with the new admin token', async () => {
      await stack.restartGateway();
      assert.deepEqual(await sample(stack.gateway.url, MODEL, 30), { 'v1.0.0': 30 });
      assert.deepEqual(await sample(stack.gateway.url, MODEL, 10, { 'X-Model-Version': 'v1.1.0' }), { 'v1.1.0': 10 });
      // The restart generated a new token into the state directory; the worker reads it from there.
      const result = await stack.client.rollback({ model: MODEL, environment: ENV, to: 'v1.1.0', requestedBy: 'e2e' });
      assert.deepEqual(result, { from: 'v1.0.0', to: 'v1.1.0', weights: { 'v1.1.0': 100 }, by: 'e2e', via: 'temporal', rule: 'may rollback: anyone' });
      assert.deepEqual(await sample(stack.gateway.url, MODEL, 20), { 'v1.1.0': 20 });
    });
  });
});
