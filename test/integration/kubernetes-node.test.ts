/**
 * tandem's Kubernetes path on a node that really runs containers (scripts/k8s-node-up.sh: kubelet,
 * containerd, kube-proxy beside the control plane's KWOK nodes). The environment comes from
 * tandem.config.yaml's schema with the node's nodeSelector and toleration, and the REAL activities
 * (createEnvironmentActivities with verifyVersion) build the example model, deploy it, verify it
 * against real pods through the endpoint the target gives (the Service's ClusterIP, answered by
 * kube-proxy on this host) and route traffic with the replica-ratio router. Images that crash,
 * never pass their health check or exceed their memory limit fail deployVersion with the
 * kubelet's reason, and the rollback's scale-down leaves nothing of them serving.
 *
 * Skips, naming the reason, only when scripts/k8s-node-up.sh says this machine cannot run a node
 * (exit 3: not root, no memory cgroup, no bridge support); any other failure to start fails.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { simpleGit } from 'simple-git';
import { verifyVersion } from '../../src/activities/health/verify';
import { RegistryClient } from '../../src/activities/image';
import { createEnvironmentActivities } from '../../src/activities/release';
import type { DeployVersionInput } from '../../src/activities/types';
import { configSchema } from '../../src/config/schema';
import { buildEnvironments } from '../../src/environments';
import { FailureType } from '../../src/errors';
import { parseSpec } from '../../src/model-spec/parse';
import type { Spec } from '../../src/model-spec/schema';
import { labelSelector, modelObjectName, selectorLabels, workloadName } from '../../src/naming/kubernetes';
import { createExampleRepo } from '../../scripts/example-repo';
import { createTestNamespace, eventually, startRealNode } from '../helpers/kubernetes';

const RUN = Date.now().toString(36);
const NS = `tandem-node-${RUN}`;
const MODEL = `fdn-${RUN}`;
const REGISTRY = '127.0.0.1:5000';
const NODE_LABEL = 'tandem.dev/node';
const POD_CIDR = /^10\.89\.0\.\d+$/;

const node = startRealNode();
if (node.skip) console.warn(`kubernetes-node.test.ts: skipped: ${node.skip}`);

type Activities = ReturnType<typeof createEnvironmentActivities>;

/** Runs one activity in a fresh activity context (deployVersion heartbeats; buildImage too). */
function run<I, O>(fn: (input: I) => Promise<O>, input: I): Promise<O> {
  return new MockActivityEnvironment({ heartbeatTimeoutMs: 120_000 }).run(fn, input);
}

/** POSTs one prediction to `base` on a new connection (so kube-proxy picks a pod for each); returns the answering version. */
function predict(base: string): Promise<{ status: number; version?: string }> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ amount: 40, country_risk: 0.1, velocity: 1, new_device: 0 });
    const req = http.request(
      `${base}/predict`,
      { method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }, timeout: 5000 },
      (res) => {
        let text = '';
        res.on('data', (d) => (text += d)).on('end', () => {
          try {
            resolve({ status: res.statusCode ?? 0, version: (JSON.parse(text) as { version?: string }).version });
          } catch {
            resolve({ status: res.statusCode ?? 0 });
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer from ${base} in 5s`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** Expects `promise` to reject with a non-retryable DeployFailed ApplicationFailure; returns its message. */
async function deployFailure(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(error)}`);
    assert.equal(error.type, FailureType.DeployFailed, error.message);
    assert.equal(error.nonRetryable, true);
    return error.message;
  }
  assert.fail('expected deployVersion to fail');
}

describe('tandem on a real Kubernetes node (kubelet, containerd, kube-proxy)', { skip: node.skip }, () => {
  const exampleDir = mkdtempSync(path.join(os.tmpdir(), 'tandem-node-example-'));
  const cacheDir = mkdtempSync(path.join(os.tmpdir(), 'tandem-node-cache-'));
  const registry = new RegistryClient({ url: REGISTRY, insecure: true }, undefined);
  const repos: string[] = [];
  let kc: k8s.KubeConfig;
  let core: k8s.CoreV1Api;
  let activities: Activities;
  let repoUrl: string;
  let nodeName: string;

  before(async () => {
    if (!('kc' in node)) return;
    ({ kc, nodeName } = node);
    core = kc.makeApiClient(k8s.CoreV1Api);
    await createTestNamespace(kc, NS, RUN);
    repoUrl = (await createExampleRepo(path.join(exampleDir, 'fraud-detector'))).path;
    const config = configSchema.parse({
      environments: {
        node: {
          target: {
            kind: 'kubernetes',
            kubeconfig: node.kubeconfig,
            namespace: NS,
            nodeSelector: { [NODE_LABEL]: 'real' },
            tolerations: [{ key: NODE_LABEL, value: 'real', effect: 'NoSchedule' }],
          },
          registry: { url: REGISTRY, insecure: true },
          build: { buildArgs: { BASE_IMAGE: 'tandem/node-base:20' } },
          traffic: { router: 'replica-ratio' },
        },
      },
    });
    activities = createEnvironmentActivities(buildEnvironments(config, cacheDir), verifyVersion);
  });

  after(async () => {
    if (node.skip) return;
    await core.deleteNamespace({ name: NS }).catch(() => undefined);
    for (const repo of repos) {
      for (const tag of await registry.tags(repo).catch(() => [] as string[])) await registry.deleteTag(repo, tag).catch(() => undefined);
    }
    rmSync(exampleDir, { recursive: true, force: true });
    rmSync(cacheDir, { recursive: true, force: true });
  });

  /** The example's spec at `tag`, read from the tagged commit as a release does, with test-sized replicas and timeout. */
  async function specAt(tag: string, overrides: Partial<Spec> = {}): Promise<Spec> {
    const text = await simpleGit(repoUrl).show([`${tag}:tandem.yaml`]);
    return { ...parseSpec(text), ...overrides };
  }

  async function pods(model: string, version: string): Promise<k8s.V1Pod[]> {
    const list = await core.listNamespacedPod({ namespace: NS, labelSelector: labelSelector(selectorLabels(model, version)) });
    return list.items.filter((p) => !p.metadata?.deletionTimestamp);
  }

  /** Runs what a release does after a failed deploy (rollback: scale the new version down), then checks nothing of it is left serving. */
  async function rolledBackAndGone(model: string, version: string): Promise<void> {
    await run(activities.scaleDownVersion, { model, environment: 'node', version });
    await eventually(`no pod of ${model} ${version} left`, async () => ((await core.listNamespacedPod({ namespace: NS, labelSelector: labelSelector(selectorLabels(model, version)) })).items.length === 0 ? true : undefined), 90_000);
    const slices = await kc.makeApiClient(k8s.DiscoveryV1Api).listNamespacedEndpointSlice({ namespace: NS, labelSelector: `kubernetes.io/service-name=${workloadName(model, version)}` });
    assert.deepEqual(slices.items.flatMap((s) => s.endpoints ?? []), [], 'the version\'s Service has no endpoints');
    assert.deepEqual((await activities.describeModel({ model, environment: 'node' })).running, []);
  }

  /** Builds `FROM tandem/node-base:20` running `script` with node, pushes it, and returns a deploy input for it. */
  async function brokenVersion(kind: string, script: string, overrides: Partial<Spec>): Promise<DeployVersionInput> {
    const model = `${kind}-${RUN}`;
    const image = `${REGISTRY}/${model}:v9.0.0`;
    repos.push(model);
    const dockerfile = `FROM tandem/node-base:20\nENV PORT=8080\nCMD ["node", "-e", ${JSON.stringify(script)}]\n`;
    execFileSync('docker', ['build', '-q', '-t', image, '-'], { input: dockerfile, stdio: ['pipe', 'ignore', 'inherit'] });
    execFileSync('docker', ['push', '-q', image], { stdio: ['ignore', 'ignore', 'inherit'] });
    const digest = await registry.manifestDigest(model, 'v9.0.0');
    assert.ok(digest, `pushed ${image}`);
    return { model, environment: 'node', version: 'v9.0.0', commit: `broken-${kind}`, image, digest, releaseId: `release/${model}/v9.0.0`, spec: await specAt('v1.0.0', { replicas: 1, ...overrides }) };
  }

  it('runs v1.0.0 and v1.1.0 of the example model on the node: ready, verified through the ClusterIP, traffic split by the model Service', async (t) => {
    repos.push(MODEL);
    const specs: Record<string, Spec> = {};
    const commits: Record<string, string> = {};

    await t.test('builds both versions and deploys them onto the real node, Ready through their readiness probe', async (t) => {
      for (const version of ['v1.0.0', 'v1.1.0']) {
        commits[version] = (await simpleGit(repoUrl).revparse([`${version}^{commit}`])).trim();
        specs[version] = await specAt(version, { readyTimeout: '3m' });
        const built = await run(activities.buildImage, { model: MODEL, environment: 'node', repoUrl, version, commit: commits[version]!, releaseId: `release/${MODEL}/${version}` });
        const started = Date.now();
        const deployed = await run(activities.deployVersion, {
          model: MODEL,
          environment: 'node',
          version,
          commit: commits[version]!,
          image: built.image,
          digest: built.digest,
          releaseId: `release/${MODEL}/${version}`,
          spec: specs[version]!,
        });
        t.diagnostic(`${version}: ${deployed.readyReplicas}/${deployed.replicas} ready in ${Date.now() - started} ms`);
        assert.deepEqual(deployed, { version, replicas: 2, readyReplicas: 2 });
        const running = await pods(MODEL, version);
        assert.equal(running.length, 2);
        for (const pod of running) {
          assert.equal(pod.spec?.nodeName, nodeName, `${pod.metadata?.name} runs on the real node`);
          assert.equal(pod.status?.phase, 'Running');
          assert.match(pod.status?.podIP ?? '', POD_CIDR);
          assert.equal(pod.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'True');
          assert.equal(pod.spec?.containers[0]?.readinessProbe?.httpGet?.path, '/healthz');
          assert.equal(pod.status?.containerStatuses?.[0]?.imageID, `${REGISTRY}/${MODEL}@${built.digest}`);
          assert.deepEqual(pod.spec?.nodeSelector, { [NODE_LABEL]: 'real' });
        }
      }
    });

    await t.test('verifyVersion passes its health and smoke checks against the real pods, through the Service ClusterIP', async (t) => {
      for (const version of ['v1.0.0', 'v1.1.0']) {
        const result = await run(activities.verifyVersion, { model: MODEL, environment: 'node', version, spec: specs[version]! });
        t.diagnostic(`${version}: ${result.checks.map((c) => `${c.check}: ${c.observed}`).join('; ')}`);
        assert.ok(result.checks.length >= 3);
        for (const check of result.checks) assert.ok(check.ok, `${version} ${check.check}: ${check.observed}`);
      }
    });

    await t.test('the replica-ratio router\'s Service splits real requests between the versions, then sends all to one', async (t) => {
      await run(activities.setTraffic, { model: MODEL, environment: 'node', weights: { 'v1.0.0': 50, 'v1.1.0': 50 }, pinned: [], stable: 'v1.0.0' });
      const model = await core.readNamespacedService({ name: modelObjectName(MODEL), namespace: NS });
      const base = `http://${model.spec!.clusterIP}:${model.spec!.ports![0]!.port}`;
      // kube-proxy programs the endpoints a moment after the EndpointSlice changes.
      await eventually('both versions answering through the model Service', async () => {
        const seen = new Set<string | undefined>();
        for (let i = 0; i < 20; i++) seen.add((await predict(base)).version);
        return seen.has('v1.0.0') && seen.has('v1.1.0') ? true : undefined;
      }, 60_000);
      const REQUESTS = 300;
      const counts: Record<string, number> = {};
      for (let i = 0; i < REQUESTS; i++) {
        const answer = await predict(base);
        assert.equal(answer.status, 200);
        counts[answer.version ?? '?'] = (counts[answer.version ?? '?'] ?? 0) + 1;
      }
      const share = (counts['v1.1.0'] ?? 0) / REQUESTS;
      t.diagnostic(`50/50 through ${base} (1 + 1 pods): ${JSON.stringify(counts)} of ${REQUESTS}, v1.1.0 ${(share * 100).toFixed(1)}%`);
      assert.deepEqual(Object.keys(counts).sort(), ['v1.0.0', 'v1.1.0']);
      assert.ok(share > 0.35 && share < 0.65, `v1.1.0 took ${(share * 100).toFixed(1)}% of the requests, expected about 50%`);

      await run(activities.setTraffic, { model: MODEL, environment: 'node', weights: { 'v1.1.0': 100 }, pinned: [], stable: 'v1.1.0' });
      await eventually('only v1.1.0 answering', async () => {
        for (let i = 0; i < 20; i++) if ((await predict(base)).version !== 'v1.1.0') return undefined;
        return true;
      }, 60_000);
      const all: Record<string, number> = {};
      for (let i = 0; i < 100; i++) {
        const v = (await predict(base)).version ?? '?';
        all[v] = (all[v] ?? 0) + 1;
      }
      t.diagnostic(`100/0: ${JSON.stringify(all)}`);
      assert.deepEqual(all, { 'v1.1.0': 100 });
      // The version outside the weights stays warm: its pods keep running, ready for a rollback.
      const warm = await pods(MODEL, 'v1.0.0');
      assert.ok(warm.length >= 1 && warm.every((p) => p.status?.phase === 'Running'), 'v1.0.0 keeps its pods');
    });
  });

  it('a model server that exits fails deployVersion with CrashLoopBackOff and its exit code; nothing of it serves', async (t) => {
    const input = await brokenVersion('crash', 'console.error("cannot load model weights: model/weights.json is missing"); process.exit(3)', { readyTimeout: '2m' });
    const message = await deployFailure(run(activities.deployVersion, input));
    t.diagnostic(message);
    assert.match(message, /CrashLoopBackOff/);
    assert.match(message, /exited with code 3/);
    assert.match(message, /cannot load model weights/);
    await rolledBackAndGone(input.model, input.version);
  });

  it('a model server whose health check never passes fails deployVersion at its ready timeout with the readiness failures; nothing of it serves', async (t) => {
    const script = 'require("http").createServer((q, r) => { r.statusCode = 503; r.end("model still loading"); }).listen(process.env.PORT)';
    const input = await brokenVersion('unready', script, { readyTimeout: '25s' });
    const started = Date.now();
    const message = await deployFailure(run(activities.deployVersion, input));
    t.diagnostic(`after ${Date.now() - started} ms: ${message}`);
    assert.match(message, /not ready after 25s|ProgressDeadlineExceeded/);
    assert.match(message, /runs but is not ready \(readiness probe\)/);
    assert.match(message, /Readiness probe failed: HTTP probe failed with statuscode: 503/);
    await rolledBackAndGone(input.model, input.version);
  });

  it('a model server that exceeds its memory limit fails deployVersion as OOMKilled; nothing of it serves', async (t) => {
    const script = 'const held = []; console.log("loading weights"); setInterval(() => held.push(Buffer.alloc(16 * 1024 * 1024, 1)), 50)';
    const input = await brokenVersion('oom', script, { readyTimeout: '2m', resources: { cpu: '250m', memory: '96Mi' } });
    const message = await deployFailure(run(activities.deployVersion, input));
    t.diagnostic(message);
    assert.match(message, /OOMKilled, exit code 137/);
    assert.match(message, /killed for using too much memory/);
    await rolledBackAndGone(input.model, input.version);
  });
});
