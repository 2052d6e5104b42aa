/**
 * `isolation: namespace` against the real control plane (scripts/k8s-up.sh, KWOK nodes), run as a
 * ServiceAccount bound by deploy/rbac-namespace-isolation.yaml with a TokenRequest token: each
 * version gets its own namespace with ResourceQuota, LimitRange, RoleBinding, Deployment, Service
 * and ReferenceGrant; the model's HTTPRoute stays in the environment namespace and references the
 * Services across namespaces; list, scale, endpoint, retire. Also what the RBAC and the admission
 * policy refuse. Cluster-scoped objects of the manifest get this run's suffix.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { parseAllDocuments } from 'yaml';
import { KubernetesTarget } from '../../src/activities/kubernetes/target';
import { type ReferenceGrantSpec, quotaHard, referenceGrantAllows } from '../../src/activities/kubernetes/version-namespace';
import type { VersionWorkload } from '../../src/activities/target';
import { GatewayApiRouter } from '../../src/activities/traffic/gateway-api-router';
import { FailureType } from '../../src/errors';
import { versionNamespace, workloadName } from '../../src/naming/kubernetes';
import { applyTestGatewayClass, createTestGateway, createTestNamespace, eventually, startControlPlane } from '../helpers/kubernetes';

const ROOT = path.resolve(__dirname, '../..');
const RUN = Date.now().toString(36);
const ENV_NS = `tandem-nsi-${RUN}`;
const WORKER_NS = `tandem-nsw-${RUN}`;
const VICTIM_NS = `tandem-nsv-${RUN}`;
const MODEL = 'fraud-detector';
const GATEWAY = 'tandem-test-gateway';
const DIGEST = `sha256:${'cd'.repeat(32)}`;
const VERSION_ROLE = `tandem-worker-version-${RUN}`;
const RESOURCES = { cpu: '100m', memory: '64Mi' };

function workload(version: string, replicas = 2): VersionWorkload {
  return {
    model: MODEL,
    version,
    commit: `c0ffee${version.replace(/\W/g, '')}`,
    image: `127.0.0.1:5000/${MODEL}:${version}`,
    digest: DIGEST,
    releaseId: `release/test/${MODEL}/${version}`,
    spec: { port: 8080, replicas, resources: RESOURCES, health: { path: '/healthz', timeout: '2s' } },
  };
}

/** deploy/rbac-namespace-isolation.yaml for this run: environment namespace, worker namespace and cluster-scoped names replaced. */
function manifestsForRun(): Array<k8s.KubernetesObject & Record<string, unknown>> {
  const text = readFileSync(path.join(ROOT, 'deploy/rbac-namespace-isolation.yaml'), 'utf8')
    .replace(/\bmodels\b/g, ENV_NS)
    .replace(/system:serviceaccount:tandem:/g, `system:serviceaccount:${WORKER_NS}:`)
    .replace(/namespace: tandem$/gm, `namespace: ${WORKER_NS}`)
    .replace(/tandem-worker-(version|namespaces|namespace-isolation)\b/g, (name) => `${name}-${RUN}`);
  return parseAllDocuments(text).map((d) => d.toJSON() as k8s.KubernetesObject & Record<string, unknown>);
}

const isForbidden = (error: unknown) => (error as { code?: number }).code === 403;

describe('isolation: namespace on a real control plane, as the ServiceAccount of deploy/rbac-namespace-isolation.yaml', () => {
  let kc: k8s.KubeConfig;
  let sa: k8s.KubeConfig;
  let core: k8s.CoreV1Api;
  let apps: k8s.AppsV1Api;
  let custom: k8s.CustomObjectsApi;
  let target: KubernetesTarget;
  let router: GatewayApiRouter;
  const manifests = manifestsForRun();
  const ns = (version: string) => versionNamespace(ENV_NS, MODEL, version);

  before(async () => {
    ({ kc } = startControlPlane());
    core = kc.makeApiClient(k8s.CoreV1Api);
    apps = kc.makeApiClient(k8s.AppsV1Api);
    custom = kc.makeApiClient(k8s.CustomObjectsApi);
    for (const name of [ENV_NS, WORKER_NS, VICTIM_NS]) await createTestNamespace(kc, name, RUN);
    await applyTestGatewayClass(kc);
    await createTestGateway(kc, ENV_NS, GATEWAY);
    await core.createNamespacedServiceAccount({ namespace: WORKER_NS, body: { metadata: { name: 'tandem-worker' } } });
    const objects = k8s.KubernetesObjectApi.makeApiClient(kc);
    for (const object of manifests) await objects.create(object);
    const token = await core.createNamespacedServiceAccountToken({ name: 'tandem-worker', namespace: WORKER_NS, body: { spec: { audiences: [], expirationSeconds: 3600 } } });
    const cluster = kc.getCurrentCluster()!;
    sa = new k8s.KubeConfig();
    sa.loadFromOptions({
      clusters: [{ name: 'tandem-dev', server: cluster.server, caData: cluster.caData }],
      users: [{ name: 'tandem-worker', token: token.status!.token }],
      contexts: [{ name: 'worker', cluster: 'tandem-dev', user: 'tandem-worker' }],
      currentContext: 'worker',
    });
    target = new KubernetesTarget(sa, { namespace: ENV_NS, isolation: 'namespace', versionRole: VERSION_ROLE, progressEveryMs: 1000 });
    router = new GatewayApiRouter(sa, { namespace: ENV_NS, gateway: GATEWAY, isolation: 'namespace' });
  });

  after(async () => {
    const versionNamespaces = await core.listNamespace({ labelSelector: `tandem.dev/environment-namespace=${ENV_NS}` });
    for (const name of [ENV_NS, WORKER_NS, VICTIM_NS, ...versionNamespaces.items.map((n) => n.metadata!.name!)]) await core.deleteNamespace({ name }).catch(() => undefined);
    const objects = k8s.KubernetesObjectApi.makeApiClient(kc);
    for (const object of manifests) if (!object.metadata?.namespace) await objects.delete(object).catch(() => undefined);
  });

  it('deploys two versions, each in its own namespace with quota, limit range, role binding, Deployment, Service and ReferenceGrant', async () => {
    for (const version of ['v1.0.0', 'v1.1.0']) {
      await target.apply(workload(version));
      assert.deepEqual(await target.waitReady(MODEL, version, 60_000, () => undefined), { version, replicas: 2, readyReplicas: 2 });
      const namespace = ns(version);
      const n = await core.readNamespace({ name: namespace });
      assert.equal(n.metadata?.labels?.['app.kubernetes.io/managed-by'], 'tandem');
      assert.equal(n.metadata?.labels?.['tandem.dev/model'], MODEL);
      assert.equal(n.metadata?.labels?.['tandem.dev/version'], version);
      assert.equal(n.metadata?.labels?.['tandem.dev/environment-namespace'], ENV_NS);
      const quota = await core.readNamespacedResourceQuota({ name: 'tandem-version', namespace });
      assert.deepEqual({ ...quota.spec?.hard }, quotaHard({ replicas: 2, resources: RESOURCES }));
      assert.deepEqual({ ...quota.spec?.hard }, { pods: '3', services: '1', 'count/deployments.apps': '1', 'requests.cpu': '300m', 'limits.cpu': '300m', 'requests.memory': '192Mi', 'limits.memory': '192Mi' });
      await eventually('the quota counts the two pods', async () => ((await core.readNamespacedResourceQuota({ name: 'tandem-version', namespace })).status?.used?.pods === '2' ? true : undefined));
      const limits = await core.readNamespacedLimitRange({ name: 'tandem-version', namespace });
      assert.deepEqual({ ...limits.spec?.limits[0]?._default }, RESOURCES);
      assert.deepEqual({ ...limits.spec?.limits[0]?.defaultRequest }, RESOURCES);
      const binding = await kc.makeApiClient(k8s.RbacAuthorizationV1Api).readNamespacedRoleBinding({ name: 'tandem-version', namespace });
      assert.deepEqual({ ...binding.roleRef }, { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: VERSION_ROLE });
      assert.deepEqual(binding.subjects?.map((x) => ({ ...x })), [{ kind: 'ServiceAccount', name: 'tandem-worker', namespace: WORKER_NS }]);
      const d = await apps.readNamespacedDeployment({ name: workloadName(MODEL, version), namespace });
      assert.equal(d.metadata?.annotations?.['tandem.dev/version'], version);
      const pods = await core.listNamespacedPod({ namespace });
      assert.equal(pods.items.length, 2);
      for (const pod of pods.items) assert.match(pod.spec?.nodeName ?? '', /^kwok-node-/);
      const grant = (await custom.getNamespacedCustomObject({ group: 'gateway.networking.k8s.io', version: 'v1beta1', namespace, plural: 'referencegrants', name: 'tandem-version' })) as { spec: ReferenceGrantSpec };
      assert.deepEqual(grant.spec, { from: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: ENV_NS }], to: [{ group: '', kind: 'Service', name: workloadName(MODEL, version) }] });
      // A ready pod of the version in its namespace, by its address.
      const podUrls = pods.items.filter((p) => p.status?.podIP).map((p) => `http://${p.status?.podIP}:8080`);
      assert.ok(podUrls.includes(await target.endpoint(MODEL, version)), `${await target.endpoint(MODEL, version)} is not one of ${podUrls.join(', ')}`);
    }
    assert.notEqual(ns('v1.0.0'), ns('v1.1.0'));
    const nothingShared = await apps.listNamespacedDeployment({ namespace: ENV_NS });
    assert.equal(nothingShared.items.length, 0, 'no Deployment in the environment namespace');
    assert.deepEqual((await target.list(MODEL)).map((v) => [v.version, v.replicas, v.readyReplicas, v.commit]), [
      ['v1.0.0', 2, 2, 'c0ffeev100'],
      ['v1.1.0', 2, 2, 'c0ffeev110'],
    ]);
    // Applying again changes nothing.
    const before = await apps.readNamespacedDeployment({ name: workloadName(MODEL, 'v1.0.0'), namespace: ns('v1.0.0') });
    await target.apply(workload('v1.0.0'));
    const again = await apps.readNamespacedDeployment({ name: workloadName(MODEL, 'v1.0.0'), namespace: ns('v1.0.0') });
    assert.equal(again.metadata?.resourceVersion, before.metadata?.resourceVersion);
  });

  it('routes from the HTTPRoute in the environment namespace to Services in the version namespaces, allowed by their ReferenceGrants', async () => {
    const state = { weights: { 'v1.0.0': 90, 'v1.1.0': 10 }, pinned: ['v1.1.0'], stable: 'v1.0.0' };
    await router.setState(MODEL, state);
    assert.deepEqual(await router.getState(MODEL), state);
    const route = (await custom.getNamespacedCustomObject({ group: 'gateway.networking.k8s.io', version: 'v1', namespace: ENV_NS, plural: 'httproutes', name: MODEL })) as {
      spec: { rules: Array<{ backendRefs: Array<{ name: string; namespace?: string; port: number; weight: number }> }> };
    };
    const refs = route.spec.rules.flatMap((r) => r.backendRefs);
    assert.deepEqual(
      route.spec.rules[1]!.backendRefs.map((b) => [b.namespace, b.name, b.port, b.weight]),
      [
        [ns('v1.0.0'), workloadName(MODEL, 'v1.0.0'), 8080, 90],
        [ns('v1.1.0'), workloadName(MODEL, 'v1.1.0'), 8080, 10],
      ],
    );
    for (const ref of refs) {
      assert.ok(ref.namespace && ref.namespace !== ENV_NS, 'every backendRef crosses namespaces');
      const grant = (await custom.getNamespacedCustomObject({ group: 'gateway.networking.k8s.io', version: 'v1beta1', namespace: ref.namespace, plural: 'referencegrants', name: 'tandem-version' })) as { spec: ReferenceGrantSpec };
      assert.ok(referenceGrantAllows(grant, ENV_NS, ref.name), `${ref.namespace}/${ref.name} granted to HTTPRoutes of ${ENV_NS}`);
      assert.ok(!referenceGrantAllows(grant, VICTIM_NS, ref.name), 'and to no other namespace');
    }
  });

  it('scales in the version namespace; the quota caps a version at its spec plus one surge', async () => {
    await target.scale(MODEL, 'v1.0.0', 0);
    await eventually('v1.0.0 at 0', async () => ((await target.list(MODEL)).find((v) => v.version === 'v1.0.0')?.replicas === 0 ? true : undefined));
    await assert.rejects(target.endpoint(MODEL, 'v1.0.0'), (e: Error) => e instanceof ApplicationFailure && e.type === FailureType.VersionNotRunning);
    await target.scale(MODEL, 'v1.0.0', 2);
    assert.deepEqual(await target.waitReady(MODEL, 'v1.0.0', 60_000, () => undefined), { version: 'v1.0.0', replicas: 2, readyReplicas: 2 });

    await target.scale(MODEL, 'v1.1.0', 6);
    const namespace = ns('v1.1.0');
    await eventually('FailedCreate: exceeded quota', async () => {
      const events = await core.listNamespacedEvent({ namespace, fieldSelector: 'reason=FailedCreate' });
      return events.items.some((e) => /exceeded quota/.test(e.message ?? '')) ? true : undefined;
    });
    assert.equal((await core.listNamespacedPod({ namespace })).items.length, 3, '2 + 1 surge pods, no more');
    await target.scale(MODEL, 'v1.1.0', 2);
    await target.waitReady(MODEL, 'v1.1.0', 60_000, () => undefined);
  });

  it('retires a version by deleting its namespace; again while it terminates and once it is gone is fine', async () => {
    await router.setState(MODEL, { weights: { 'v1.1.0': 100 }, pinned: [], stable: 'v1.1.0' });
    await target.remove(MODEL, 'v1.0.0');
    const n = await core.readNamespace({ name: ns('v1.0.0') }).catch(() => undefined);
    assert.ok(!n || n.metadata?.deletionTimestamp || n.status?.phase === 'Terminating', 'namespace being deleted');
    assert.deepEqual((await target.list(MODEL)).map((v) => v.version), ['v1.1.0'], 'a terminating namespace is a retired version');
    await target.remove(MODEL, 'v1.0.0');
    await eventually(
      `namespace ${ns('v1.0.0')} gone`,
      () => core.readNamespace({ name: ns('v1.0.0') }).then(() => undefined, (e: { code?: number }) => (e.code === 404 ? true : undefined)),
      90_000,
    );
    await target.remove(MODEL, 'v1.0.0');
    await router.remove(MODEL);
    await target.remove(MODEL, 'v1.1.0');
    await target.remove(MODEL, 'never-deployed');
    assert.deepEqual(await target.list(MODEL), []);
    // A version without a namespace is not running (not a permission problem, though the worker has no rights there).
    await target.scale(MODEL, 'v1.0.0', 0);
    await assert.rejects(target.scale(MODEL, 'v1.0.0', 1), (e: Error) => e instanceof ApplicationFailure && e.type === FailureType.VersionNotRunning);
    await assert.rejects(router.setState(MODEL, { weights: { 'v1.0.0': 100 }, pinned: [] }), (e: Error) => e instanceof ApplicationFailure && e.type === FailureType.VersionNotRunning);
  });

  it('grants nothing outside the version namespaces: RBAC and the admission policy refuse the rest', async () => {
    const saCore = sa.makeApiClient(k8s.CoreV1Api);
    const saApps = sa.makeApiClient(k8s.AppsV1Api);
    const saRbac = sa.makeApiClient(k8s.RbacAuthorizationV1Api);
    // RBAC: no namespaced rights where tandem did not create the namespace.
    await assert.rejects(saApps.listNamespacedDeployment({ namespace: VICTIM_NS }), isForbidden);
    await assert.rejects(saCore.listNamespacedPod({ namespace: 'kube-system' }), isForbidden);
    await assert.rejects(
      saRbac.createNamespacedRoleBinding({
        namespace: VICTIM_NS,
        body: { metadata: { name: 'x' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'admin' }, subjects: [{ kind: 'ServiceAccount', name: 'tandem-worker', namespace: WORKER_NS }] },
      }),
      isForbidden,
      'no bind on other roles',
    );
    // The admission policy: only tandem's labelled version namespaces may be created, deleted, or get a RoleBinding.
    await eventually('the admission policy refuses an unlabelled namespace', () =>
      saCore.createNamespace({ body: { metadata: { name: `${ENV_NS}-unlabelled` } } }).then(
        async () => {
          await core.deleteNamespace({ name: `${ENV_NS}-unlabelled` });
          return undefined;
        },
        (e: unknown) => (isForbidden(e) ? true : assert.fail(String(e))),
      ),
    );
    await assert.rejects(saCore.deleteNamespace({ name: VICTIM_NS }), (e: { code?: number; body?: unknown }) => isForbidden(e) && /version namespaces/.test(String(e.body)));
    await assert.rejects(
      saRbac.createNamespacedRoleBinding({
        namespace: VICTIM_NS,
        body: { metadata: { name: 'x' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: VERSION_ROLE }, subjects: [{ kind: 'ServiceAccount', name: 'tandem-worker', namespace: WORKER_NS }] },
      }),
      (e: { code?: number; body?: unknown }) => isForbidden(e) && /version namespaces/.test(String(e.body)),
    );
    assert.equal((await core.readNamespace({ name: VICTIM_NS })).status?.phase, 'Active');
  });
});
