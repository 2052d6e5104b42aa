/**
 * The end to end story on Kubernetes through the data plane: the example model's tags released
 * onto the real node (scripts/k8s-node-up.sh: kubelet, containerd, kube-proxy) under live traffic
 * through `tandem gateway --kubernetes` — the Gateway API data plane serving the HTTPRoute the
 * worker's gateway-api router writes. Gateway and worker run as separate processes as the README
 * documents them (scripts/k8s-stack.ts); the worker's analysis reads the gateway's per-version
 * counters (analysis.gateway). Measured and printed: the split at each canary weight, pinned
 * requests, the time from `tandem release abort` to every client request answered by stable, and
 * the failed client requests over the whole story (none allowed).
 *
 * Skips, naming the reason, only when scripts/k8s-node-up.sh says this machine cannot run a node
 * (exit 3); any other failure to start fails.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { RegistryClient } from '../../src/activities/image';
import type { ReleaseStatus } from '../../src/workflows/messages';
import { K8S_ENV as ENV, observeSwitch, startKubernetesStack, type KubernetesStack } from '../../scripts/k8s-stack';
import { sample, sendTraffic } from '../../scripts/stack';
import { startRealNode } from '../helpers/kubernetes';
import { releaseFails, share, untilStatus } from '../helpers/release-story';

const RUN = Date.now().toString(36);
const MODEL = `fdk-${RUN.slice(-6)}`;
const NS = `tandem-e2e-node-${RUN}`;
const SAMPLES = 400;
/** ±8 points around the weight: more than 3 standard deviations of a binomial share at n = 400. */
const TOLERANCE = 8;

const node = startRealNode();
if (node.skip) console.warn(`release-kubernetes-node.test.ts: skipped: ${node.skip}`);

describe('release on Kubernetes through the data plane (real node, tandem gateway --kubernetes)', { skip: node.skip, timeout: 20 * 60_000 }, () => {
  let stack: KubernetesStack;
  let traffic: ReturnType<typeof sendTraffic> | undefined;
  const workDir = mkdtempSync(join(tmpdir(), 'tandem-e2e-k8s-'));
  const figures: string[] = [];
  const figure = (line: string) => {
    figures.push(line);
    console.log(`figure: ${line}`);
  };

  const until = (pred: (s: ReleaseStatus) => boolean, what: string) => untilStatus(stack.client, MODEL, ENV, pred, what, 300_000);
  const release = (tag: string) => stack.client.start({ model: MODEL, tag, environment: ENV, repoUrl: stack.repo, requestedBy: 'e2e' });
  const cli = async (...args: string[]) => {
    const result = await stack.cli(...args);
    assert.equal(result.code, 0, `tandem ${args.join(' ')}: ${result.out}`);
    return result.out;
  };

  before(async () => {
    if (!('kc' in node)) return;
    stack = await startKubernetesStack({
      kubeconfig: node.kubeconfig,
      model: MODEL,
      workDir,
      namespace: NS,
      gatewayClass: `tandem-e2e-${RUN}`,
      clusterSuffix: `-${RUN}`,
      temporalNamespace: 'tandem-test',
      taskQueue: `tandem-${MODEL}`,
      labels: { 'tandem.dev/test-run': RUN },
    });
  });

  after(async () => {
    if (node.skip) return;
    await traffic?.stop();
    if (stack) {
      await stack.stop();
      await stack.remove();
    }
    const registry = new RegistryClient({ url: '127.0.0.1:5000', insecure: true }, undefined);
    for (const tag of await registry.tags(MODEL).catch(() => [] as string[])) await registry.deleteTag(MODEL, tag).catch(() => undefined);
    rmSync(workDir, { recursive: true, force: true });
    if (figures.length) console.log(`\nrelease-kubernetes-node figures:\n  ${figures.join('\n  ')}\n`);
  });

  it("the example's tags released onto the real node under live traffic through the Gateway data plane", { timeout: 20 * 60_000 }, async (t) => {
    await t.test('v1.0.0, the first release, runs on the real node and serves all traffic through the gateway', async () => {
      const started = Date.now();
      const status = await stack.client.wait(await release('v1.0.0'));
      assert.equal(status.outcome, 'promoted');
      figure(`v1.0.0 first release promoted in ${((Date.now() - started) / 1000).toFixed(1)} s (build, push, deploy, health + smoke checks on real pods)`);
      assert.deepEqual(await sample(stack.gatewayUrl, MODEL, 20), { 'v1.0.0': 20 });
      const pods = await stack.kc.makeApiClient(k8s.CoreV1Api).listNamespacedPod({ namespace: NS });
      assert.ok(pods.items.length >= 2);
      for (const pod of pods.items) assert.equal(pod.spec?.nodeName, 'tandem-node-0', `${pod.metadata?.name} runs on the real node`);
      traffic = sendTraffic(stack.gatewayUrl, MODEL, 30);
    });

    await t.test('v1.1.0 as a canary: measured split at 20% and 50%, analysis from the gateway\'s counters, pinned requests, approval', async () => {
      const handle = await release('v1.1.0');
      await until((s) => s.steps[0]?.status === 'done', 'the 20% step');
      await cli('release', 'pause', MODEL, '--env', ENV);
      const at20 = await sample(stack.gatewayUrl, MODEL, SAMPLES);
      figure(`split at 20%, ${SAMPLES} requests: v1.0.0 ${at20['v1.0.0'] ?? 0}, v1.1.0 ${at20['v1.1.0'] ?? 0} (${share(at20, 'v1.1.0').toFixed(1)}% canary)`);
      assert.ok(Math.abs(share(at20, 'v1.1.0') - 20) <= TOLERANCE, `20% canary served ${JSON.stringify(at20)}`);
      await cli('release', 'resume', MODEL, '--env', ENV);

      const waiting = await until((s) => s.waitingFor === 'approval', 'the approval gate');
      assert.deepEqual(waiting.weights, { 'v1.1.0': 50, 'v1.0.0': 50 });
      const analysis = waiting.steps.find((s) => s.description.startsWith('analyse'));
      figure(`analysis (gateway counters): ${analysis?.detail}`);
      assert.match(analysis?.detail ?? '', /pass/);
      const at50 = await sample(stack.gatewayUrl, MODEL, SAMPLES);
      figure(`split at 50%, ${SAMPLES} requests: v1.0.0 ${at50['v1.0.0'] ?? 0}, v1.1.0 ${at50['v1.1.0'] ?? 0} (${share(at50, 'v1.1.0').toFixed(1)}% canary)`);
      assert.ok(Math.abs(share(at50, 'v1.1.0') - 50) <= TOLERANCE, `50% canary served ${JSON.stringify(at50)}`);
      const pinnedOld = await sample(stack.gatewayUrl, MODEL, 50, { 'X-Model-Version': 'v1.0.0' });
      const pinnedNew = await sample(stack.gatewayUrl, MODEL, 50, { 'X-Model-Version': 'v1.1.0' });
      figure(`pinned X-Model-Version: v1.0.0 → ${JSON.stringify(pinnedOld)}, v1.1.0 → ${JSON.stringify(pinnedNew)}`);
      assert.deepEqual(pinnedOld, { 'v1.0.0': 50 });
      assert.deepEqual(pinnedNew, { 'v1.1.0': 50 });

      await cli('release', 'approve', MODEL, '--env', ENV, '--comment', 'split and analysis look right');
      const status = await stack.client.wait(handle);
      assert.equal(status.outcome, 'promoted');
      const state = await stack.client.versions(MODEL, ENV);
      assert.deepEqual(state.traffic.weights, { 'v1.1.0': 100 });
      assert.deepEqual(state.running.map((v) => v.version).sort(), ['v1.0.0', 'v1.1.0'], 'the previous stable stays warm');
      assert.deepEqual(await sample(stack.gatewayUrl, MODEL, 50), { 'v1.1.0': 50 });
    });

    await t.test('v1.2.0 is stopped by its smoke tests against its real pods before it takes any traffic', async () => {
      const err = await releaseFails(stack.client, await release('v1.2.0'), 'VerificationFailed', 'v1.2.0 must not be promoted');
      assert.match(err.message, /check ".*" failed: status 500/);
      figure(`v1.2.0 stopped: ${err.message.split('\n')[0]}`);
      const state = await stack.client.versions(MODEL, ENV);
      assert.deepEqual(state.traffic.weights, { 'v1.1.0': 100 });
      assert.ok(!state.running.some((v) => v.version === 'v1.2.0'), 'v1.2.0 scaled down');
      assert.equal(traffic!.tally.byVersion['v1.2.0'], undefined, 'no client request reached v1.2.0');
      assert.deepEqual(await sample(stack.gatewayUrl, MODEL, 50), { 'v1.1.0': 50 });
    });

    await t.test('`tandem release abort` at the 50% step puts 100% back on stable, as the client sees it', async () => {
      const handle = await release('v1.0.0');
      await until((s) => s.waitingFor === 'approval', 'the approval gate at 50%');
      assert.deepEqual(await stack.client.versions(MODEL, ENV).then((s) => s.traffic.weights), { 'v1.0.0': 50, 'v1.1.0': 50 });
      const observed = await observeSwitch(stack.gatewayUrl, MODEL, 'v1.1.0', () => cli('release', 'abort', MODEL, '--env', ENV, '--reason', 'changed my mind'));
      figure(
        `abort → 100% stable as the client saw it: ${Math.round(observed.ms)} ms after \`tandem release abort\` started (the CLI took ${Math.round(observed.triggerMs)} ms); ` +
          `${observed.requests} requests meanwhile, ${observed.failed} failed`,
      );
      assert.equal(observed.failed, 0, observed.errors.join('; '));
      await assert.rejects(stack.client.wait(handle), /aborted by .*: changed my mind/);
      assert.deepEqual(await sample(stack.gatewayUrl, MODEL, 50), { 'v1.1.0': 50 });
      const state = await stack.client.versions(MODEL, ENV);
      assert.deepEqual(state.traffic.weights, { 'v1.1.0': 100 });
      assert.ok(state.running.some((v) => v.version === 'v1.0.0'), 'v1.0.0 was running before this release, so it stays');
    });

    await t.test('v1.3.0 fails to build: the failing step is named and nothing changes', async () => {
      await releaseFails(stack.client, await release('v1.3.0'), 'BuildFailed', 'v1.3.0 must not build');
      assert.deepEqual((await stack.client.versions(MODEL, ENV)).traffic.weights, { 'v1.1.0': 100 });
    });

    await t.test('no client request failed during all of the above', async () => {
      const tally = await traffic!.stop();
      traffic = undefined;
      figure(`live traffic (30/s) over the whole story: ${tally.total} requests, ${tally.failed} failed (${Object.entries(tally.byVersion).map(([v, n]) => `${v}: ${n}`).join(', ')})`);
      assert.ok(tally.total > 300, `sent ${tally.total} requests`);
      assert.equal(tally.failed, 0, `failed requests: ${tally.errors.join('; ')}`);
    });
  });
});
