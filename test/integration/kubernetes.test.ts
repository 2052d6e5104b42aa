/**
 * KubernetesTarget and the Gateway API / replica-ratio routers against a real control plane
 * (scripts/k8s-up.sh: kube-apiserver, controller-manager, scheduler, etcd, KWOK fake nodes).
 * Deployments roll out through the real controllers onto KWOK nodes; images are never pulled.
 * Each run works in namespaces of its own.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { parseAllDocuments } from 'yaml';
import { KubernetesTarget } from '../../src/activities/kubernetes/target';
import type { VersionWorkload } from '../../src/activities/target';
import { GatewayApiRouter } from '../../src/activities/traffic/gateway-api-router';
import { ReplicaRatioRouter } from '../../src/activities/traffic/replica-ratio-router';
import { createEnvironmentActivities } from '../../src/activities/release';
import { configSchema } from '../../src/config/schema';
import { buildEnvironments } from '../../src/environments';
import { FailureType } from '../../src/errors';
import { isDns1035Label, workloadName } from '../../src/naming/kubernetes';
import { applyTestGatewayClass, createTestGateway, createTestNamespace, eventually, startControlPlane } from '../helpers/kubernetes';

const ROOT = path.resolve(__dirname, '../..');
const RUN = Date.now().toString(36);
const NS = `tandem-it-${RUN}`;
const RBAC_NS = `tandem-rbac-${RUN}`;
const MODEL = 'fraud-detector';
const GATEWAY = 'tandem-test-gateway';
const DIGEST = `sha256:${'ab'.repeat(32)}`;

function workload(version: string, overrides: Partial<VersionWorkload['spec']> & { readyTimeout?: string } = {}, model = MODEL): VersionWorkload {
  return {
    model,
    version,
    commit: `c0ffee${version.replace(/\W/g, '')}`,
    image: `127.0.0.1:5000/${model}:${version}`,
    digest: DIGEST,
    releaseId: `release/test/${model}/${version}`,
    spec: { port: 8080, replicas: 2, resources: { cpu: '100m', memory: '64Mi' }, health: { path: '/healthz', timeout: '2s' }, ...overrides },
  };
}

/** Expects `promise` to reject with a non-retryable ApplicationFailure of `type`; returns its message. */
async function failure(promise: Promise<unknown>, type: string): Promise<string> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(error)}`);
    assert.equal(error.type, type, error.message);
    assert.equal(error.nonRetryable, true);
    return error.message;
  }
  assert.fail(`expected a ${type} failure`);
}

describe('Kubernetes target and routers on a real control plane', () => {
  let kc: k8s.KubeConfig;
  let kubeconfig: string;
  let core: k8s.CoreV1Api;
  let apps: k8s.AppsV1Api;
  let custom: k8s.CustomObjectsApi;
  let target: KubernetesTarget;

  before(async () => {
    ({ kc, kubeconfig } = startControlPlane());
    core = kc.makeApiClient(k8s.CoreV1Api);
    apps = kc.makeApiClient(k8s.AppsV1Api);
    custom = kc.makeApiClient(k8s.CustomObjectsApi);
    for (const name of [NS, RBAC_NS]) await createTestNamespace(kc, name, RUN);
    await applyTestGatewayClass(kc);
    for (const namespace of [NS, RBAC_NS]) await createTestGateway(kc, namespace, GATEWAY);
    target = new KubernetesTarget(kc, { namespace: NS, progressEveryMs: 1000 });
  });

  after(async () => {
    for (const name of [NS, RBAC_NS]) await core.deleteNamespace({ name }).catch(() => undefined);
  });

  async function deployment(version: string, namespace = NS, model = MODEL): Promise<k8s.V1Deployment> {
    return apps.readNamespacedDeployment({ name: workloadName(model, version), namespace });
  }

  /** Deploys `versions` (2 replicas each) of a model of the case's own and waits until they are ready, so no case relies on what another deployed. */
  async function deployed(model: string, ...versions: string[]): Promise<void> {
    for (const version of versions) {
      await target.apply(workload(version, {}, model));
      await target.waitReady(model, version, 60_000, () => undefined);
    }
  }

  it('deploys v1.0.0 and v1.1.0 side by side through the real controllers and lists both', async () => {
    for (const version of ['v1.0.0', 'v1.1.0']) {
      const progress: string[] = [];
      await target.apply(workload(version));
      const deployed = await target.waitReady(MODEL, version, 60_000, (ready, desired) => progress.push(`${ready}/${desired}`));
      assert.deepEqual(deployed, { version, replicas: 2, readyReplicas: 2 });
      assert.ok(progress.length > 0);
      const pods = await core.listNamespacedPod({ namespace: NS, labelSelector: `tandem.dev/version=${version}` });
      assert.equal(pods.items.length, 2);
      for (const pod of pods.items) {
        assert.match(pod.spec?.nodeName ?? '', /^kwok-node-/, 'scheduled onto a KWOK node');
        assert.ok(pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
        assert.equal(pod.spec?.containers[0]?.image, `127.0.0.1:5000/${MODEL}@${DIGEST}`);
      }
    }
    const listed = await target.list(MODEL);
    assert.deepEqual(
      listed.map((v) => [v.version, v.replicas, v.readyReplicas, v.commit, v.digest]),
      [
        ['v1.0.0', 2, 2, 'c0ffeev100', DIGEST],
        ['v1.1.0', 2, 2, 'c0ffeev110', DIGEST],
      ],
    );
    assert.equal(listed[0]!.releaseId, `release/test/${MODEL}/v1.0.0`);

    const d = await deployment('v1.0.0');
    assert.equal(d.metadata?.name, 'fraud-detector-v1-0-0');
    assert.equal(d.metadata?.labels?.['app.kubernetes.io/name'], MODEL);
    assert.equal(d.metadata?.labels?.['tandem.dev/version'], 'v1.0.0');
    assert.equal(d.metadata?.annotations?.['tandem.dev/image-digest'], DIGEST);
    assert.equal(d.spec?.template.spec?.containers[0]?.readinessProbe?.httpGet?.path, '/healthz');
    assert.deepEqual(d.spec?.template.spec?.containers[0]?.resources?.requests, { cpu: '100m', memory: '64Mi' });
    assert.ok(d.metadata?.managedFields?.some((f) => f.manager === 'tandem' && f.operation === 'Apply'));
    // A ready pod of the version by its address (answers as soon as the pod is ready, unlike a
    // Service address that waits for kube-proxy), on the model's port.
    const svc = await core.readNamespacedService({ name: 'fraud-detector-v1-0-0', namespace: NS });
    assert.match(svc.spec?.clusterIP ?? '', /^10\.96\./);
    const pods = await core.listNamespacedPod({ namespace: NS, labelSelector: 'tandem.dev/model=fraud-detector,tandem.dev/version=v1.0.0' });
    const podUrls = pods.items.filter((p) => p.status?.podIP).map((p) => `http://${p.status?.podIP}:8080`);
    assert.ok(podUrls.includes(await target.endpoint(MODEL, 'v1.0.0')), `${await target.endpoint(MODEL, 'v1.0.0')} is not one of ${podUrls.join(', ')}`);
  });

  it('applying the same version again changes nothing', async () => {
    const model = `same-${RUN}`;
    await deployed(model, 'v1.0.0');
    const before = await deployment('v1.0.0', NS, model);
    const service = await core.readNamespacedService({ name: workloadName(model, 'v1.0.0'), namespace: NS });
    await target.apply(workload('v1.0.0', {}, model));
    await target.apply(workload('v1.0.0', {}, model));
    assert.equal((await deployment('v1.0.0', NS, model)).metadata?.resourceVersion, before.metadata?.resourceVersion);
    const again = await core.readNamespacedService({ name: workloadName(model, 'v1.0.0'), namespace: NS });
    assert.equal(again.metadata?.resourceVersion, service.metadata?.resourceVersion);
  });

  it('gives odd and long tags valid names and keeps the raw tag in an annotation', async () => {
    const version = `Release/2024_05_01+build.${'x'.repeat(70)}`;
    await target.apply(workload(version, { replicas: 1 }));
    await target.waitReady(MODEL, version, 60_000, () => undefined);
    const name = workloadName(MODEL, version);
    assert.ok(isDns1035Label(name), name);
    assert.equal((await apps.readNamespacedDeployment({ name, namespace: NS })).metadata?.annotations?.['tandem.dev/version'], version);
    assert.ok((await target.list(MODEL)).some((v) => v.version === version));
    await target.remove(MODEL, version);
  });

  it('refuses invalid input before anything is applied', async () => {
    const bad: Array<[string, VersionWorkload]> = [
      ['replicas', workload('v9.0.0', { replicas: -1 })],
      ['resources.cpu', workload('v9.0.0', { resources: { cpu: 'lots' } })],
      ['resources.memory', workload('v9.0.0', { resources: { memory: '1 GB' } })],
      ['port', workload('v9.0.0', { port: 70000 })],
    ];
    for (const [field, w] of bad) {
      const message = await failure(target.apply(w), FailureType.InvalidSpec);
      assert.match(message, new RegExp(field.replace('.', '\\.')));
    }
    await failure(target.scale(MODEL, 'v1.0.0', 1.5), FailureType.InvalidSpec);
    const list = await apps.listNamespacedDeployment({ namespace: NS, labelSelector: 'tandem.dev/version=v9.0.0' });
    assert.equal(list.items.length, 0, 'nothing was applied');
  });

  it('names the pod, reason and message of a version whose pods crash-loop (KWOK stage)', async () => {
    const failing = new KubernetesTarget(kc, {
      namespace: NS,
      pod: { labels: { 'tandem.dev/kwok-fail': 'crash-loop' }, annotations: { 'tandem.dev/kwok-fail-message': 'loading weights: file is corrupt', 'tandem.dev/kwok-fail-exit-code': '3' } },
    });
    await failing.apply(workload('v1.2.0-broken', { replicas: 1 }));
    const message = await failure(failing.waitReady(MODEL, 'v1.2.0-broken', 60_000, () => undefined), FailureType.DeployFailed);
    assert.match(message, /pod fraud-detector-v1-2-0-broken-[0-9a-f]+-[a-z0-9]+-[a-z0-9]+/);
    assert.match(message, /CrashLoopBackOff/);
    assert.match(message, /exited with code 3 \(Error\): loading weights: file is corrupt/);
    assert.doesNotMatch(message, /not ready after/, 'fails on the crash loop, not at the timeout');
    await failing.remove(MODEL, 'v1.2.0-broken');
  });

  it('ends a rollout that cannot progress with ProgressDeadlineExceeded and the scheduler events', async () => {
    const w = workload('v1.3.0-huge', { replicas: 1, resources: { cpu: '5000' }, readyTimeout: '3s' });
    await target.apply(w);
    assert.equal((await deployment('v1.3.0-huge')).spec?.progressDeadlineSeconds, 3);
    const message = await failure(target.waitReady(MODEL, 'v1.3.0-huge', 60_000, () => undefined), FailureType.DeployFailed);
    assert.match(message, /ProgressDeadlineExceeded/);
    assert.match(message, /not scheduled|FailedScheduling|Insufficient cpu/);
    await target.remove(MODEL, 'v1.3.0-huge');
  });

  it('fails with the other field manager named when it owns a field tandem applies', async () => {
    await target.apply(workload('v1.4.0', { replicas: 1 }));
    const name = workloadName(MODEL, 'v1.4.0');
    await apps.patchNamespacedDeployment(
      {
        name,
        namespace: NS,
        fieldManager: 'kubectl-edit',
        body: [{ op: 'replace', path: '/spec/template/spec/containers/0/image', value: 'somebody/else:1' }],
      },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch),
    );
    const message = await failure(target.apply(workload('v1.4.0', { replicas: 1 })), FailureType.DeployFailed);
    assert.match(message, /"kubectl-edit"/);
    assert.match(message, /image/);
    const forced = new KubernetesTarget(kc, { namespace: NS, force: true });
    await forced.apply(workload('v1.4.0', { replicas: 1 }));
    assert.equal((await deployment('v1.4.0')).spec?.template.spec?.containers[0]?.image, `127.0.0.1:5000/${MODEL}@${DIGEST}`);
    await target.remove(MODEL, 'v1.4.0');
  });

  it('scales a version to 0 and back, keeping its definition', async () => {
    const model = `scale-${RUN}`;
    await deployed(model, 'v1.1.0');
    await target.scale(model, 'v1.1.0', 0);
    await eventually('v1.1.0 at 0 replicas', async () => ((await target.list(model)).find((v) => v.version === 'v1.1.0')?.replicas === 0 ? true : undefined));
    await failure(target.endpoint(model, 'v1.1.0'), FailureType.VersionNotRunning);
    await failure(target.waitReady(model, 'v1.1.0', 10_000, () => undefined), FailureType.DeployFailed);
    await target.scale(model, 'v1.1.0', 2);
    assert.deepEqual(await target.waitReady(model, 'v1.1.0', 60_000, () => undefined), { version: 'v1.1.0', replicas: 2, readyReplicas: 2 });
    await target.scale(model, 'v-never-deployed', 0);
    await failure(target.scale(model, 'v-never-deployed', 1), FailureType.VersionNotRunning);
  });

  it('routes by Gateway API: weighted default rule and per-version header rules, read back from the HTTPRoute', async () => {
    const model = `route-${RUN}`;
    await deployed(model, 'v1.0.0', 'v1.1.0');
    const router = new GatewayApiRouter(kc, { namespace: NS, gateway: GATEWAY });
    const state = { weights: { 'v1.0.0': 90, 'v1.1.0': 10 }, pinned: ['v1.1.0'], stable: 'v1.0.0' };
    await router.setState(model, state);
    assert.deepEqual(await router.getState(model), state);
    const route = (await custom.getNamespacedCustomObject({ group: 'gateway.networking.k8s.io', version: 'v1', namespace: NS, plural: 'httproutes', name: model })) as {
      metadata: { resourceVersion: string; annotations: Record<string, string> };
      spec: { parentRefs: Array<{ name: string }>; rules: Array<{ matches: Array<{ headers?: Array<{ name: string; value: string }> }>; backendRefs: Array<{ name: string; port: number; weight: number }> }> };
    };
    assert.equal(route.spec.parentRefs[0]!.name, GATEWAY);
    assert.equal(route.metadata.annotations['tandem.dev/stable'], 'v1.0.0');
    assert.deepEqual(route.spec.rules[0]!.matches[0]!.headers, [{ type: 'Exact', name: 'X-Model-Version', value: 'v1.1.0' }]);
    assert.deepEqual(
      route.spec.rules[1]!.backendRefs.map((b) => [b.name, b.port, b.weight]),
      [
        [workloadName(model, 'v1.0.0'), 8080, 90],
        [workloadName(model, 'v1.1.0'), 8080, 10],
      ],
    );
    await router.setState(model, state);
    const again = (await custom.getNamespacedCustomObject({ group: 'gateway.networking.k8s.io', version: 'v1', namespace: NS, plural: 'httproutes', name: model })) as typeof route;
    assert.equal(again.metadata.resourceVersion, route.metadata.resourceVersion, 'the same state twice changes nothing');

    await router.setState(model, { weights: { 'v1.1.0': 100 }, pinned: [], stable: 'v1.1.0' });
    assert.deepEqual(await router.getState(model), { weights: { 'v1.1.0': 100 }, pinned: [], stable: 'v1.1.0' });
    await failure(router.setState(model, { weights: { 'v1.0.0': 50, 'v1.1.0': 40 }, pinned: [] }), 'InvalidTraffic');
    await failure(router.setState(model, { weights: { 'v7.0.0': 100 }, pinned: [] }), FailureType.VersionNotRunning);
    await router.remove(model);
    await router.remove(model);
    assert.deepEqual(await router.getState(model), { weights: {}, pinned: [] });
  });

  it('approximates weights by replica counts behind one Service per model: the target scales, the router routes, warm versions keep their pods', async () => {
    const router = new ReplicaRatioRouter(kc, { namespace: NS });
    const { setTraffic } = createEnvironmentActivities({ k8s: { target, router, analyzer: undefined as never, builder: undefined as never } }, () => Promise.reject(new Error('no health checks here')));
    const selector = async () => (await core.readNamespacedService({ name: MODEL, namespace: NS })).spec?.selector;
    for (const version of ['v1.0.0', 'v1.1.0']) {
      await target.apply(workload(version, { replicas: version === 'v1.0.0' ? 4 : 2 }));
      await target.waitReady(MODEL, version, 60_000, () => undefined);
    }

    // The router alone changes no replica count.
    await router.setState(MODEL, { weights: { 'v1.0.0': 90, 'v1.1.0': 10 }, pinned: [] });
    assert.equal((await deployment('v1.0.0')).spec?.replicas, 4);
    assert.equal((await deployment('v1.1.0')).spec?.replicas, 2);

    await setTraffic({ environment: 'k8s', model: MODEL, weights: { 'v1.0.0': 90, 'v1.1.0': 10 }, pinned: ['v1.1.0'], stable: 'v1.0.0' });
    assert.equal((await deployment('v1.0.0')).spec?.replicas, 3);
    assert.equal((await deployment('v1.1.0')).spec?.replicas, 1);
    assert.deepEqual(await router.getState(MODEL), { weights: { 'v1.0.0': 90, 'v1.1.0': 10 }, pinned: ['v1.1.0'], stable: 'v1.0.0' });
    assert.deepEqual(await selector(), { 'tandem.dev/model': MODEL });
    await target.waitReady(MODEL, 'v1.0.0', 60_000, () => undefined);
    await target.waitReady(MODEL, 'v1.1.0', 60_000, () => undefined);

    // Promotion: v1.1.0 takes all traffic, the Service selects it alone, and v1.0.0 stays warm.
    await setTraffic({ environment: 'k8s', model: MODEL, weights: { 'v1.1.0': 100 }, pinned: ['v1.1.0', 'v1.0.0'], stable: 'v1.1.0' });
    assert.equal((await deployment('v1.0.0')).spec?.replicas, 3);
    assert.equal((await deployment('v1.1.0')).spec?.replicas, 2);
    assert.deepEqual(await selector(), { 'tandem.dev/model': MODEL, 'tandem.dev/version': 'v1.1.0' });
    await target.waitReady(MODEL, 'v1.1.0', 60_000, () => undefined);

    // Rollback to the warm version needs no restore: it still runs.
    await setTraffic({ environment: 'k8s', model: MODEL, weights: { 'v1.0.0': 100 }, pinned: ['v1.0.0', 'v1.1.0'], stable: 'v1.0.0' });
    assert.equal((await deployment('v1.0.0')).spec?.replicas, 4);
    assert.equal((await deployment('v1.1.0')).spec?.replicas, 2);
    assert.deepEqual(await selector(), { 'tandem.dev/model': MODEL, 'tandem.dev/version': 'v1.0.0' });

    await router.remove(MODEL);
    assert.deepEqual(await router.getState(MODEL), { weights: {}, pinned: [] });
    await target.apply(workload('v1.0.0'));
    await target.waitReady(MODEL, 'v1.0.0', 60_000, () => undefined);
  });

  it('is wired from tandem.config.yaml: kubernetes target, gateway-api router, inconclusive analyzer', async () => {
    const config = (router: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
      configSchema.parse({
        environments: { k8s: { target: { kind: 'kubernetes', kubeconfig, namespace: NS, ...extra }, registry: { url: '127.0.0.1:5000', insecure: true }, traffic: router } },
      });
    const envs = buildEnvironments(config({ router: 'gateway-api', gateway: GATEWAY }), os.tmpdir());
    assert.ok(envs.k8s!.target instanceof KubernetesTarget);
    assert.ok(envs.k8s!.router instanceof GatewayApiRouter);
    assert.ok(buildEnvironments(config({ router: 'replica-ratio' }), os.tmpdir()).k8s!.router instanceof ReplicaRatioRouter);
    assert.throws(() => buildEnvironments(config({ router: 'gateway' }), os.tmpdir()), /gateway-api or replica-ratio/);
    assert.throws(() => buildEnvironments(config({ router: 'replica-ratio' }, { context: 'nope' }), os.tmpdir()), /context "nope"/);

    const model = `wired-${RUN}`;
    await deployed(model, 'v1.0.0', 'v1.1.0');
    const activities = createEnvironmentActivities(envs, () => Promise.reject(new Error('no health checks here')));
    const state = await activities.setTraffic({ model, environment: 'k8s', weights: { 'v1.0.0': 80, 'v1.1.0': 20 }, pinned: ['v1.1.0'], stable: 'v1.0.0' });
    assert.deepEqual(state, { weights: { 'v1.0.0': 80, 'v1.1.0': 20 }, pinned: ['v1.1.0'], stable: 'v1.0.0' });
    const described = await activities.describeModel({ model, environment: 'k8s' });
    assert.deepEqual(described.running.map((v) => v.version), ['v1.0.0', 'v1.1.0']);
    assert.deepEqual(described.traffic, state);
    const analysis = await envs.k8s!.analyzer.analyze(
      { model, environment: 'k8s', version: 'v1.1.0', rule: { maxErrorRate: 0.05, minRequests: 1 }, windowMs: 1000 },
      () => undefined,
      new AbortController().signal,
    );
    assert.equal(analysis.outcome, 'inconclusive');
    assert.match(analysis.detail, /no metrics source/);
    await envs.k8s!.router.remove(model);
  });

  it('treats an unreachable API server as retryable', async () => {
    const broken = new k8s.KubeConfig();
    broken.loadFromOptions({
      clusters: [{ name: 'nowhere', server: 'https://127.0.0.1:1', skipTLSVerify: true }],
      users: [{ name: 'nobody', token: 'x' }],
      contexts: [{ name: 'nowhere', cluster: 'nowhere', user: 'nobody' }],
      currentContext: 'nowhere',
    });
    const t = new KubernetesTarget(broken, { namespace: NS });
    for (const call of [t.apply(workload('v1.0.0')), t.list(MODEL), t.remove(MODEL, 'v1.0.0')]) {
      await assert.rejects(call, (error: Error) => {
        assert.ok(!(error instanceof ApplicationFailure), `retryable, got ${error.message}`);
        assert.match(error.message, /unreachable/);
        return true;
      });
    }
  });

  it('runs a deploy, traffic and remove cycle as a service account bound to deploy/rbac.yaml, and names a missing permission', async () => {
    const rbac = parseAllDocuments(readFileSync(path.join(ROOT, 'deploy/rbac.yaml'), 'utf8')).map((d) => d.toJSON() as k8s.KubernetesObject & Record<string, unknown>);
    const objects = k8s.KubernetesObjectApi.makeApiClient(kc);
    for (const object of rbac) {
      object.metadata = { ...object.metadata, namespace: RBAC_NS };
      if (object.kind === 'RoleBinding') (object as unknown as k8s.V1RoleBinding).subjects![0]!.namespace = RBAC_NS;
      await objects.create(object);
    }
    const sa = await workerKubeConfig('tandem-worker');
    const t = new KubernetesTarget(sa, { namespace: RBAC_NS, progressEveryMs: 1000 });
    const router = new GatewayApiRouter(sa, { namespace: RBAC_NS, gateway: GATEWAY });
    const ratio = new ReplicaRatioRouter(sa, { namespace: RBAC_NS });
    for (const version of ['v1.0.0', 'v1.1.0']) {
      await t.apply(workload(version, { replicas: 1 }));
      await t.waitReady(MODEL, version, 60_000, () => undefined);
    }
    assert.deepEqual((await t.list(MODEL)).map((v) => v.version), ['v1.0.0', 'v1.1.0']);
    assert.match(await t.endpoint(MODEL, 'v1.0.0'), /^http:\/\/\d+\.\d+\.\d+\.\d+:8080$/);
    await router.setState(MODEL, { weights: { 'v1.0.0': 50, 'v1.1.0': 50 }, pinned: ['v1.1.0'], stable: 'v1.0.0' });
    assert.deepEqual((await router.getState(MODEL)).weights, { 'v1.0.0': 50, 'v1.1.0': 50 });
    await ratio.setState(MODEL, { weights: { 'v1.0.0': 50, 'v1.1.0': 50 }, pinned: [] });
    assert.deepEqual((await ratio.getState(MODEL)).weights, { 'v1.0.0': 50, 'v1.1.0': 50 });
    await t.scale(MODEL, 'v1.0.0', 0);
    await router.remove(MODEL);
    await ratio.remove(MODEL);
    for (const version of ['v1.0.0', 'v1.1.0']) await t.remove(MODEL, version);
    assert.deepEqual(await t.list(MODEL), []);

    // The same Role without `patch` on deployments: the apply names the verb and the resource.
    const role = rbac.find((o) => o.kind === 'Role') as unknown as k8s.V1Role;
    const limited: k8s.V1Role = {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'tandem-worker-no-patch', namespace: RBAC_NS },
      rules: role.rules!.map((r) => (r.resources?.includes('deployments') ? { ...r, verbs: r.verbs.filter((v) => v !== 'patch') } : r)),
    };
    await objects.create(limited);
    await objects.create({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'tandem-limited', namespace: RBAC_NS } });
    await objects.create({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'tandem-limited', namespace: RBAC_NS },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'tandem-worker-no-patch' },
      subjects: [{ kind: 'ServiceAccount', name: 'tandem-limited', namespace: RBAC_NS }],
    } as k8s.V1RoleBinding);
    const limitedTarget = new KubernetesTarget(await workerKubeConfig('tandem-limited'), { namespace: RBAC_NS });
    const message = await failure(limitedTarget.apply(workload('v2.0.0', { replicas: 1 })), FailureType.PermissionDenied);
    assert.match(message, /may not patch deployments\.apps/);
  });

  it('removes everything a version owns; a missing version is fine', async () => {
    const model = `remove-${RUN}`;
    await deployed(model, 'v1.0.0', 'v1.1.0');
    const router = new GatewayApiRouter(kc, { namespace: NS, gateway: GATEWAY });
    await router.setState(model, { weights: { 'v1.0.0': 100 }, pinned: [] });
    for (const version of ['v1.0.0', 'v1.1.0']) await target.remove(model, version);
    await router.remove(model);
    await target.remove(model, 'v1.0.0');
    assert.deepEqual(await target.list(model), []);
    const selector = `tandem.dev/model=${model}`;
    await eventually('no pods, ReplicaSets, Services or routes of the model', async () => {
      const [pods, sets, services, deployments] = await Promise.all([
        core.listNamespacedPod({ namespace: NS, labelSelector: selector }),
        apps.listNamespacedReplicaSet({ namespace: NS, labelSelector: selector }),
        core.listNamespacedService({ namespace: NS, labelSelector: selector }),
        apps.listNamespacedDeployment({ namespace: NS, labelSelector: selector }),
      ]);
      const routes = (await custom.listNamespacedCustomObject({ group: 'gateway.networking.k8s.io', version: 'v1', namespace: NS, plural: 'httproutes' })) as { items: { metadata: { name: string } }[] };
      const left = pods.items.length + sets.items.length + services.items.length + deployments.items.length + routes.items.filter((r) => r.metadata.name === model).length;
      return left === 0 ? true : undefined;
    });
  });

  /** A kubeconfig that authenticates with a TokenRequest token of `serviceAccount` in RBAC_NS. */
  async function workerKubeConfig(serviceAccount: string): Promise<k8s.KubeConfig> {
    const token = await core.createNamespacedServiceAccountToken({
      name: serviceAccount,
      namespace: RBAC_NS,
      body: { spec: { audiences: [], expirationSeconds: 3600 } },
    });
    const cluster = kc.getCurrentCluster()!;
    const config = new k8s.KubeConfig();
    config.loadFromOptions({
      clusters: [{ name: 'tandem-dev', server: cluster.server, caData: cluster.caData }],
      users: [{ name: serviceAccount, token: token.status!.token }],
      contexts: [{ name: 'worker', cluster: 'tandem-dev', user: serviceAccount, namespace: RBAC_NS }],
      currentContext: 'worker',
    });
    return config;
  }
});
