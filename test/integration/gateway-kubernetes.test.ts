/**
 * `tandem gateway --kubernetes` as the Gateway API data plane of the real control plane
 * (scripts/k8s-up.sh), run as a separate process exactly as the README documents it, with the
 * token of a ServiceAccount bound to deploy/gateway-rbac.yaml (so that file is proven enough).
 * deploy/gateway-class.yaml gives the GatewayClass and Gateway. The versions are small HTTP
 * servers of this test on a non-loopback address of the host, behind Services without selectors
 * and EndpointSlices written here (no pod runs on the KWOK nodes). The routes are written by the
 * REAL GatewayApiRouter the worker uses; the gateway serves what they say and writes statuses.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as k8s from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { SSA } from '../../src/activities/kubernetes/client';
import { GatewayApiRouter } from '../../src/activities/traffic/gateway-api-router';
import { adminAgreementPath, GATEWAY_CONTROLLER_NAME } from '../../src/naming/gateway';
import { workloadName } from '../../src/naming/kubernetes';
import { createTestNamespace, eventually, startControlPlane } from '../helpers/kubernetes';

const ROOT = path.resolve(__dirname, '../..');
const TANDEM = path.join(ROOT, 'bin/tandem.js');
const RUN = Date.now().toString(36);
const NS = `tandem-gw-${RUN}`;
const SYSTEM_NS = `tandem-gw-sys-${RUN}`;
const CLASS = `tandem-${RUN}`;
const GATEWAY = 'public';
const MODEL = 'fraud-detector';
const TOKEN = `gw-token-${RUN}`;
const GROUP = 'gateway.networking.k8s.io';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- API objects are checked field by field
type Json = any;

/** A non-loopback IPv4 address of this host (EndpointSlices refuse loopback): docker0's when there is one. */
function hostAddress(): string {
  const all = Object.entries(os.networkInterfaces()).flatMap(([name, list]) => (list ?? []).map((a) => ({ name, ...a })));
  const v4 = all.filter((a) => a.family === 'IPv4' && !a.internal);
  const chosen = v4.find((a) => a.name === 'docker0') ?? v4[0];
  assert.ok(chosen, 'the host has a non-loopback IPv4 address');
  return chosen.address;
}

interface VersionServer {
  version: string;
  port: number;
  /** requests that came as mirrored copies: the X-Tandem-Mirror-Of header of each */
  copies: string[];
  close: () => Promise<void>;
}

async function versionServer(version: string, host: string): Promise<VersionServer> {
  const copies: string[] = [];
  const server = http.createServer((req, res) => {
    const mirrorOf = req.headers['x-tandem-mirror-of'];
    if (typeof mirrorOf === 'string') copies.push(mirrorOf);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ version, path: req.url }));
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return {
    version,
    port: (server.address() as AddressInfo).port,
    copies,
    close: () => new Promise<void>((resolve) => server.close(() => resolve()).closeAllConnections()),
  };
}

/** Every document of a deploy/ file, moved into this run's names (namespaces, class, cluster-wide objects). */
function manifests(file: string): Json[] {
  const text = readFileSync(path.join(ROOT, file), 'utf8');
  return parseAllDocuments(text, { version: '1.1' })
    .filter((d) => d.contents !== null)
    .map((d) => {
      const o = d.toJSON() as Json;
      if (o.metadata.namespace === 'tandem') o.metadata.namespace = SYSTEM_NS;
      if (o.metadata.namespace === 'models') o.metadata.namespace = NS;
      if (o.kind === 'ClusterRole' || o.kind === 'ClusterRoleBinding') o.metadata.name = `${o.metadata.name}-${RUN}`;
      if (o.kind === 'ClusterRoleBinding') {
        o.roleRef.name = `${o.roleRef.name}-${RUN}`;
        for (const s of o.subjects) s.namespace = SYSTEM_NS;
      }
      if (o.kind === 'GatewayClass') o.metadata.name = CLASS;
      if (o.kind === 'Gateway') o.spec.gatewayClassName = CLASS;
      return o;
    });
}

interface Running {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startGatewayProcess(args: string[]): Running {
  const env: NodeJS.ProcessEnv = { ...process.env, TANDEM_GATEWAY_TOKEN: TOKEN };
  delete env.KUBECONFIG;
  const child = spawn(process.execPath, [TANDEM, 'gateway', ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { child, output: () => output, exited };
}

const LISTENING = /models at (http:\/\/127\.0\.0\.1:\d+)\/<model>\/\.\.\.; admin API (http:\/\/127\.0\.0\.1:\d+)\/_tandem\//;

/** `n` requests to the model, `concurrency` at a time: versions that answered, and failures. */
async function send(url: string, n: number, concurrency = 16, headers: Record<string, string> = {}): Promise<{ served: Record<string, number>; failed: string[] }> {
  const served: Record<string, number> = {};
  const failed: string[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      next += 1;
      try {
        const response = await fetch(`${url}/${MODEL}/predict`, { headers });
        const body = (await response.json()) as Json;
        if (response.status !== 200) failed.push(`${response.status} ${JSON.stringify(body)}`);
        else served[body.version] = (served[body.version] ?? 0) + 1;
      } catch (error) {
        failed.push(String(error));
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { served, failed };
}

describe('tandem gateway --kubernetes: the Gateway API data plane on a real API server', () => {
  let kc: k8s.KubeConfig;
  let core: k8s.CoreV1Api;
  let custom: k8s.CustomObjectsApi;
  let router: GatewayApiRouter;
  let gateway: Running | undefined;
  let url = '';
  let adminUrl = '';
  const servers: VersionServer[] = [];
  const dirs: string[] = [];
  const host = hostAddress();

  const route = (): Promise<Json> => custom.getNamespacedCustomObject({ group: GROUP, version: 'v1', namespace: NS, plural: 'httproutes', name: MODEL });
  const adminModels = async (): Promise<Json> => (await (await fetch(`${adminUrl}/_tandem/models`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as Json;
  /** ms from now until the gateway's admin API shows `check` true of the model's traffic. */
  const pickedUp = async (what: string, check: (traffic: Json | undefined) => boolean): Promise<number> => {
    const started = performance.now();
    for (;;) {
      const models = (await adminModels()).models;
      if (check(models[MODEL]?.traffic === undefined ? undefined : models[MODEL])) return Math.round(performance.now() - started);
      if (performance.now() - started > 10_000) assert.fail(`the gateway did not pick up ${what} within 10 s: ${JSON.stringify(models)}`);
      await sleep(10);
    }
  };

  /** Service (no selector) of a version, and one EndpointSlice per replica server. */
  async function backend(version: string, replicas: VersionServer[]): Promise<void> {
    const name = workloadName(MODEL, version);
    await core.createNamespacedService({
      namespace: NS,
      body: { metadata: { name, annotations: { 'tandem.dev/version': version } }, spec: { ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }] } },
    });
    for (const [i, server] of replicas.entries()) await slice(name, i, server, true);
  }

  async function slice(service: string, i: number, server: VersionServer, ready: boolean): Promise<void> {
    await kc.makeApiClient(k8s.DiscoveryV1Api).patchNamespacedEndpointSlice(
      {
        namespace: NS,
        name: `${service}-${i}`,
        fieldManager: 'tandem-test',
        body: {
          apiVersion: 'discovery.k8s.io/v1',
          kind: 'EndpointSlice',
          metadata: { name: `${service}-${i}`, labels: { 'kubernetes.io/service-name': service, 'endpointslice.kubernetes.io/managed-by': 'tandem-test' } },
          addressType: 'IPv4',
          ports: [{ name: 'http', port: server.port, protocol: 'TCP' }],
          endpoints: [{ addresses: [host], conditions: { ready } }],
        },
      },
      SSA,
    );
  }

  before(async () => {
    ({ kc } = startControlPlane());
    core = kc.makeApiClient(k8s.CoreV1Api);
    custom = kc.makeApiClient(k8s.CustomObjectsApi);
    for (const name of [NS, SYSTEM_NS]) await createTestNamespace(kc, name, RUN);
    const objects = k8s.KubernetesObjectApi.makeApiClient(kc);
    for (const object of [...manifests('deploy/gateway-rbac.yaml'), ...manifests('deploy/gateway-class.yaml')]) {
      await objects.patch(object, undefined, undefined, 'tandem-test', undefined, k8s.PatchStrategy.ServerSideApply);
    }
    // The gateway runs with the token of the ServiceAccount bound to deploy/gateway-rbac.yaml's ClusterRole.
    const token = await core.createNamespacedServiceAccountToken({ name: 'tandem-gateway', namespace: SYSTEM_NS, body: { spec: { audiences: [], expirationSeconds: 3600 } } });
    const cluster = kc.getCurrentCluster()!;
    const gatewayKc = new k8s.KubeConfig();
    gatewayKc.loadFromOptions({
      clusters: [{ name: 'tandem-dev', server: cluster.server, caData: cluster.caData }],
      users: [{ name: 'tandem-gateway', token: token.status!.token }],
      contexts: [{ name: 'gateway', cluster: 'tandem-dev', user: 'tandem-gateway' }],
      currentContext: 'gateway',
    });
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tandem-gw-k8s-'));
    dirs.push(dir);
    writeFileSync(path.join(dir, 'gateway.kubeconfig'), gatewayKc.exportConfig(), { mode: 0o600 });

    const [v1a, v1b, v2] = await Promise.all([versionServer('v1.0.0', host), versionServer('v1.0.0', host), versionServer('v1.1.0', host)]);
    servers.push(v1a!, v1b!, v2!);
    await backend('v1.0.0', [v1a!, v1b!]);
    await backend('v1.1.0', [v2!]);
    router = new GatewayApiRouter(kc, { namespace: NS, gateway: GATEWAY });

    // As the README says: tandem gateway --kubernetes <kubeconfig> --gateway-class <class>
    gateway = startGatewayProcess([
      '--kubernetes', path.join(dir, 'gateway.kubeconfig'), '--gateway-class', CLASS,
      '--port', '0', '--admin-port', '0', '--state-dir', path.join(dir, 'state'),
    ]);
    const deadline = Date.now() + 120_000;
    let match: RegExpExecArray | null = null;
    while (!(match = LISTENING.exec(gateway.output()))) {
      if (gateway.child.exitCode !== null || Date.now() > deadline) assert.fail(`the gateway did not start:\n${gateway.output()}`);
      await sleep(50);
    }
    url = match[1]!;
    adminUrl = match[2]!;
  });

  after(async () => {
    if (gateway && gateway.child.exitCode === null && gateway.child.signalCode === null) gateway.child.kill('SIGKILL');
    await Promise.all(servers.map((s) => s.close()));
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
    await rbac.deleteClusterRoleBinding({ name: `tandem-gateway-${RUN}` }).catch(() => undefined);
    await rbac.deleteClusterRole({ name: `tandem-gateway-${RUN}` }).catch(() => undefined);
    await custom.deleteClusterCustomObject({ group: GROUP, version: 'v1', plural: 'gatewayclasses', name: CLASS }).catch(() => undefined);
    for (const name of [NS, SYSTEM_NS]) await core.deleteNamespace({ name }).catch(() => undefined);
  });

  it('accepts its GatewayClass and programs the Gateway, with the least privilege of deploy/gateway-rbac.yaml', async () => {
    const cls: Json = await eventually('GatewayClass Accepted', async () => {
      const c: Json = await custom.getClusterCustomObject({ group: GROUP, version: 'v1', plural: 'gatewayclasses', name: CLASS });
      return c.status?.conditions?.find((x: Json) => x.type === 'Accepted' && x.status === 'True') ? c : undefined;
    });
    assert.equal(cls.spec.controllerName, GATEWAY_CONTROLLER_NAME);
    const gw: Json = await eventually('Gateway Programmed', async () => {
      const g: Json = await custom.getNamespacedCustomObject({ group: GROUP, version: 'v1', namespace: NS, plural: 'gateways', name: GATEWAY });
      return g.status?.conditions?.find((x: Json) => x.type === 'Programmed' && x.status === 'True') ? g : undefined;
    });
    assert.deepEqual(gw.status.conditions.map((c: Json) => `${c.type}=${c.status}/${c.reason}`), ['Accepted=True/Accepted', 'Programmed=True/Programmed']);
    assert.equal(gw.status.listeners[0].name, 'http');
    assert.deepEqual(gw.status.listeners[0].supportedKinds, [{ group: GROUP, kind: 'HTTPRoute' }]);
    assert.doesNotMatch(gateway!.output(), /cannot|forbidden|failed/i, 'no permission is missing');
  });

  it('splits 90/10 as the router\'s HTTPRoute says, pins X-Model-Version, counts per version in /metrics', async () => {
    const started = performance.now();
    await router.setState(MODEL, { weights: { 'v1.0.0': 90, 'v1.1.0': 10 }, pinned: ['v1.1.0'], stable: 'v1.0.0' });
    const applied = Math.round(performance.now() - started);
    const latency = await pickedUp('the 90/10 route', (m) => m?.traffic.weights['v1.0.0'] === 90);
    console.log(`route created: setState took ${applied} ms, then the gateway routed it after ${latency} ms`);
    assert.ok(latency < 2000, `picked up within 2 s (${latency} ms)`);
    const models = await adminModels();
    assert.deepEqual(models.models[MODEL].endpoints['v1.0.0'].length, 2, 'both ready replicas of v1.0.0');

    const n = 400;
    const { served, failed } = await send(url, n);
    assert.deepEqual(failed, []);
    const share = ((served['v1.1.0'] ?? 0) * 100) / n;
    console.log(`measured split over ${n} requests: v1.0.0 ${served['v1.0.0']} (${100 - share}%), v1.1.0 ${served['v1.1.0']} (${share}%)`);
    assert.ok(Math.abs(share - 10) <= 4, `v1.1.0 got ${share}% (10% asked)`);

    const pinned = await send(url, 20, 4, { 'X-Model-Version': 'v1.1.0' });
    assert.deepEqual(pinned, { served: { 'v1.1.0': 20 }, failed: [] });
    const notPinned = await fetch(`${url}/${MODEL}/predict`, { headers: { 'X-Model-Version': 'v1.0.0' } });
    assert.equal(notPinned.status, 404, 'only pinned versions are reachable by header');

    const metrics = await (await fetch(`${adminUrl}/metrics`)).text();
    const count = (version: string): number =>
      Number(new RegExp(`tandem_gateway_requests_total\\{model="${MODEL}",version="${version.replace(/\./g, '\\.')}",code="200"\\} (\\d+)`).exec(metrics)?.[1] ?? 0);
    assert.equal(count('v1.0.0'), served['v1.0.0']);
    assert.equal(count('v1.1.0'), (served['v1.1.0'] ?? 0) + 20);
    assert.match(metrics, new RegExp(`tandem_gateway_route_weight\\{model="${MODEL}",version="v1\\.1\\.0"\\} 10`));

    const status: Json = await eventually('HTTPRoute Accepted', async () => {
      const r = await route();
      return r.status?.parents?.length ? r.status : undefined;
    });
    assert.equal(status.parents[0].controllerName, GATEWAY_CONTROLLER_NAME);
    assert.deepEqual(status.parents[0].conditions.map((c: Json) => `${c.type}=${c.status}`), ['Accepted=True', 'ResolvedRefs=True']);
    const put = await fetch(`${adminUrl}/_tandem/models/${MODEL}/traffic`, { method: 'PUT', headers: { authorization: `Bearer ${TOKEN}` }, body: '{"weights":{"v1.0.0":100}}' });
    assert.equal(put.status, 409, 'routes are the HTTPRoute\'s, not the admin API\'s');
  });

  it('changes weights under load without a failed request, and picks the change up within a second or two', async () => {
    let stop = false;
    const load = (async () => {
      const all: { served: Record<string, number>; failed: string[] } = { served: {}, failed: [] };
      while (!stop) {
        const batch = await send(url, 40, 8);
        all.failed.push(...batch.failed);
        for (const [v, c] of Object.entries(batch.served)) all.served[v] = (all.served[v] ?? 0) + c;
      }
      return all;
    })();
    await sleep(500);
    const started = performance.now();
    await router.setState(MODEL, { weights: { 'v1.0.0': 50, 'v1.1.0': 50 }, pinned: ['v1.1.0'], stable: 'v1.0.0' });
    const applied = Math.round(performance.now() - started);
    const latency = await pickedUp('the 50/50 route', (m) => m?.traffic.weights['v1.0.0'] === 50);
    console.log(`weight change 90/10 → 50/50 under load: setState took ${applied} ms, then the gateway routed it after ${latency} ms`);
    assert.ok(latency < 2000, `picked up within 2 s (${latency} ms)`);
    await sleep(1000);
    stop = true;
    const during = await load;
    const total = Object.values(during.served).reduce((a, b) => a + b, 0);
    console.log(`during the change: ${total} requests, ${during.failed.length} failed`);
    assert.deepEqual(during.failed, []);
    assert.ok(total > 50, `load was sent (${total})`);

    const { served, failed } = await send(url, 400);
    assert.deepEqual(failed, []);
    console.log(`after the change, 400 requests: v1.0.0 ${served['v1.0.0']}, v1.1.0 ${served['v1.1.0']}`);
    assert.ok(Math.abs((served['v1.1.0'] ?? 0) / 4 - 50) <= 8, `about half to v1.1.0 (${served['v1.1.0']})`);
  });

  it('a replica whose EndpointSlice says not ready gets no traffic', async () => {
    await slice(workloadName(MODEL, 'v1.0.0'), 1, servers[1]!, false);
    await pickedUp('the unready replica', (m) => m?.endpoints['v1.0.0']?.length === 1);
    await slice(workloadName(MODEL, 'v1.0.0'), 1, servers[1]!, true);
    await pickedUp('the ready replica again', (m) => m?.endpoints['v1.0.0']?.length === 2);
  });

  it('mirrors with the router\'s RequestMirror filter: the mirror version gets a copy of each request, callers the weighted answer', async () => {
    const shadow = await versionServer('v1.2.0', host);
    servers.push(shadow);
    await backend('v1.2.0', [shadow]);
    const state = { weights: { 'v1.0.0': 100 }, pinned: [], stable: 'v1.0.0', mirror: { version: 'v1.2.0', percent: 100 } };
    await router.setState(MODEL, state);
    const filters = (await route()).spec.rules.at(-1).filters;
    assert.deepEqual(filters, [{ type: 'RequestMirror', requestMirror: { backendRef: { group: '', kind: 'Service', name: workloadName(MODEL, 'v1.2.0'), port: 80 }, percent: 100 } }]);
    assert.deepEqual(await router.getState(MODEL), state, 'the router reads the mirror back from the route');
    await pickedUp('the mirror', (m) => m?.traffic.mirror?.version === 'v1.2.0' && m.endpoints['v1.2.0']?.length === 1);
    const { served, failed } = await send(url, 50, 4);
    assert.deepEqual({ served, failed }, { served: { 'v1.0.0': 50 }, failed: [] }, 'callers are answered by v1.0.0 only');
    await eventually('50 copies at v1.2.0', async () => (shadow.copies.length >= 50 ? true : undefined));
    assert.deepEqual(new Set(shadow.copies), new Set(['v1.0.0']));
    const parents = (await route()).status.parents;
    assert.deepEqual(parents[0].conditions.map((c: Json) => `${c.type}=${c.status}`), ['Accepted=True', 'ResolvedRefs=True']);
    await router.setState(MODEL, { weights: { 'v1.0.0': 90, 'v1.1.0': 10 }, pinned: ['v1.1.0'], stable: 'v1.0.0' });
    await pickedUp('the route without mirror', (m) => m?.traffic.mirror === undefined && m?.traffic.weights['v1.1.0'] === 10);
  });

  it('compares the mirror\'s answers with the callers\' when the router writes mirror.compare (annotation tandem.dev/mirror-compare)', async () => {
    const compare = { fields: [{ path: '$.version' }], redact: ['$.path'], samples: 2 };
    const state = { weights: { 'v1.0.0': 100 }, pinned: [], stable: 'v1.0.0', mirror: { version: 'v1.2.0', percent: 100, compare } };
    await router.setState(MODEL, state);
    assert.deepEqual(JSON.parse((await route()).metadata.annotations['tandem.dev/mirror-compare']), compare);
    assert.deepEqual(await router.getState(MODEL), state, 'the router reads the compare back from the route');
    await pickedUp('the compare', (m) => m?.traffic.mirror?.compare?.samples === 2);
    const { served, failed } = await send(url, 20, 4);
    assert.deepEqual({ served, failed }, { served: { 'v1.0.0': 20 }, failed: [] });
    const agreement = adminAgreementPath(MODEL, 'v1.2.0');
    const reading: Json = await eventually('20 pairs compared', async () => {
      const r = (await (await fetch(`${adminUrl}${agreement}`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as Json;
      return r.disagree >= 20 ? r : undefined;
    });
    assert.deepEqual([reading.agree, reading.disagree, reading.notCompared, reading.samples.length], [0, 20, 0, 2]);
    assert.deepEqual(reading.samples[1].differences, ['$.version: stable "v1.0.0", candidate "v1.2.0"']);
    assert.deepEqual(reading.samples[1].candidate.body, { version: 'v1.2.0', path: '[redacted]' });
    await router.setState(MODEL, { weights: { 'v1.0.0': 90, 'v1.1.0': 10 }, pinned: ['v1.1.0'], stable: 'v1.0.0' });
    assert.equal((await route()).metadata.annotations['tandem.dev/mirror-compare'], undefined, 'no mirror, no compare annotation');
    await pickedUp('the route without mirror', (m) => m?.traffic.mirror === undefined && m?.traffic.weights['v1.1.0'] === 10);
  });

  it('a backend Service that is missing: ResolvedRefs False, BackendNotFound', async () => {
    await core.deleteNamespacedService({ name: workloadName(MODEL, 'v1.1.0'), namespace: NS });
    const resolved: Json = await eventually('ResolvedRefs False', async () => {
      const c = (await route()).status?.parents?.[0]?.conditions?.find((x: Json) => x.type === 'ResolvedRefs');
      return c?.status === 'False' ? c : undefined;
    });
    assert.equal(resolved.reason, 'BackendNotFound');
    assert.match(resolved.message, new RegExp(`Service ${NS}/${workloadName(MODEL, 'v1.1.0')} not found`));
    const pinned = await fetch(`${url}/${MODEL}/predict`, { headers: { 'X-Model-Version': 'v1.1.0' } });
    assert.equal(pinned.status, 503);
  });

  it('a backendRef to a Service in another namespace is served once a ReferenceGrant there allows it', async () => {
    const other = `${NS}-v`;
    await createTestNamespace(kc, other, RUN);
    const service = 'scorer-v1';
    await core.createNamespacedService({ namespace: other, body: { metadata: { name: service }, spec: { ports: [{ name: 'http', port: 80, targetPort: 8080 }] } } });
    await kc.makeApiClient(k8s.DiscoveryV1Api).createNamespacedEndpointSlice({
      namespace: other,
      body: {
        metadata: { name: `${service}-0`, labels: { 'kubernetes.io/service-name': service, 'endpointslice.kubernetes.io/managed-by': 'tandem-test' } },
        addressType: 'IPv4',
        ports: [{ name: 'http', port: servers[2]!.port }],
        endpoints: [{ addresses: [host], conditions: { ready: true } }],
      },
    });
    await custom.createNamespacedCustomObject({
      group: GROUP, version: 'v1', namespace: NS, plural: 'httproutes',
      body: { apiVersion: `${GROUP}/v1`, kind: 'HTTPRoute', metadata: { name: 'scorer' }, spec: { parentRefs: [{ name: GATEWAY }], rules: [{ backendRefs: [{ name: service, namespace: other, port: 80 }] }] } },
    });
    const scorerResolved = async (): Promise<Json> =>
      (await custom.getNamespacedCustomObject({ group: GROUP, version: 'v1', namespace: NS, plural: 'httproutes', name: 'scorer' }) as Json).status?.parents?.[0]?.conditions?.find((c: Json) => c.type === 'ResolvedRefs');
    const refused = await eventually('RefNotPermitted', async () => ((await scorerResolved())?.reason === 'RefNotPermitted' ? true : undefined));
    assert.ok(refused);
    await custom.createNamespacedCustomObject({
      group: GROUP, version: 'v1beta1', namespace: other, plural: 'referencegrants',
      body: { apiVersion: `${GROUP}/v1beta1`, kind: 'ReferenceGrant', metadata: { name: 'routes-of-models' }, spec: { from: [{ group: GROUP, kind: 'HTTPRoute', namespace: NS }], to: [{ group: '', kind: 'Service' }] } },
    });
    await eventually('ResolvedRefs True', async () => ((await scorerResolved())?.status === 'True' ? true : undefined));
    const response = await fetch(`${url}/scorer/predict`);
    assert.equal(response.status, 200);
    assert.equal(((await response.json()) as Json).version, 'v1.1.0', 'the server behind the other namespace\'s Service');
    await core.deleteNamespace({ name: other }).catch(() => undefined);
  });

  it('a deleted HTTPRoute stops serving the model (404)', async () => {
    const started = performance.now();
    await router.remove(MODEL);
    const latency = await pickedUp('the deleted route', (m) => m === undefined);
    console.log(`route deleted: the gateway stopped serving it after ${Math.round(performance.now() - started)} ms (${latency} ms after the delete returned)`);
    const response = await fetch(`${url}/${MODEL}/predict`);
    assert.equal(response.status, 404);
  });

  it('stops on SIGTERM and exits 0', async () => {
    gateway!.child.kill('SIGTERM');
    assert.deepEqual(await gateway!.exited, { code: 0, signal: null }, gateway!.output());
  });
});
