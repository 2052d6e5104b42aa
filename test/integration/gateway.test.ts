/**
 * The tandem gateway against real HTTP: local servers stand for versions (the gateway's job is
 * HTTP routing), plus one real container on the Docker engine to prove endpoint discovery from
 * labels. Needs the engine and tandem/node-base:20 from scripts/docker-up.sh.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Docker from 'dockerode';
import { ApplicationFailure } from '@temporalio/common';
import { DockerTarget } from '../../src/activities/docker/target';
import { GatewayRouter } from '../../src/activities/traffic/gateway-router';
import { ConfigError } from '../../src/config/load';
import { configSchema } from '../../src/config/schema';
import { buildEnvironments } from '../../src/environments';
import { adminTokenPath, type Gateway, resolveAdminToken, startGateway } from '../../src/gateway';

const docker = new Docker();
const RUN = Date.now().toString(36);
const ECHO_IMAGE = 'tandem-test/echo:1';
const TOKEN = `test-token-${RUN}`;

/** A local HTTP server standing for one replica of a version: answers its name, `/slow?ms=` waits, `/fail` answers 500. */
interface VersionServer {
  url: string;
  /** requests received so far, by path */
  received: Map<string, number>;
  close: () => Promise<void>;
}

async function versionServer(version: string, replica = 0): Promise<VersionServer> {
  const received = new Map<string, number>();
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    received.set(url.pathname, (received.get(url.pathname) ?? 0) + 1);
    const answer = (status: number): void => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ version, replica, path: url.pathname }));
    };
    if (url.pathname === '/slow') setTimeout(() => answer(200), Number(url.searchParams.get('ms') ?? 500));
    else answer(url.pathname === '/fail' ? 500 : 200);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve()).closeAllConnections()),
  };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON answers are checked field by field
type Json = any;

async function admin(gateway: Gateway, method: string, route: string, body?: unknown, token: string | null = TOKEN): Promise<{ status: number; json: Json }> {
  const headers: Record<string, string> = {};
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${gateway.adminUrl}/_tandem/${route}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : undefined };
}

/** Sends `count` requests, `parallel` at a time; returns the versions that served them. */
async function servedBy(url: string, count: number, headers: Record<string, string> = {}, parallel = 20): Promise<string[]> {
  const served: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < count) {
        next++;
        const response = await fetch(url, { headers });
        await response.arrayBuffer();
        served.push(`${response.status}:${response.headers.get('x-served-by-version')}`);
      }
    }),
  );
  return served;
}

function share(served: string[], version: string): number {
  return (100 * served.filter((s) => s === `200:${version}`).length) / served.length;
}

describe('tandem gateway', () => {
  const model = `gw-${RUN}`;
  let stateDir: string;
  let gateway: Gateway;
  const servers: Array<VersionServer & { version: string }> = [];
  // The weighted pick's random values sweep [0, 1) evenly, 100 to a cycle, so a split is exact:
  // a test that counts a split restarts the sweep and sends whole cycles.
  let sweep = 0;
  const random = (): number => ((sweep++ % 100) + 0.5) / 100;

  before(async () => {
    stateDir = await mkdtemp(path.join(os.tmpdir(), 'tandem-gateway-'));
    gateway = await startGateway({ port: 0, adminPort: 0, adminToken: TOKEN, stateDir, docker, log: () => undefined, random });
    for (const [version, replicas] of [['v1', 2], ['v2', 1], ['v3', 1]] as const) {
      const urls: string[] = [];
      for (let i = 0; i < replicas; i++) {
        const server = await versionServer(version, i);
        servers.push({ ...server, version });
        urls.push(server.url);
      }
      const put = await admin(gateway, 'PUT', `models/${model}/versions/${version}/endpoints`, { urls });
      assert.equal(put.status, 200);
    }
  });

  after(async () => {
    await gateway?.close();
    await Promise.all(servers.map((s) => s.close()));
    await rm(stateDir, { recursive: true, force: true });
  });

  it('splits 10/90 and 50/50 by weight exactly over a sweep of the random value', async () => {
    const put = await admin(gateway, 'PUT', `models/${model}/traffic`, { weights: { v1: 10, v2: 90 }, pinned: [] });
    assert.equal(put.status, 200, JSON.stringify(put.json));
    sweep = 0;
    let served = await servedBy(`${gateway.url}/${model}/predict`, 200);
    assert.equal(served.filter((s) => !s.startsWith('200:')).length, 0, 'every request answered 200');
    assert.equal(share(served, 'v1'), 10);
    assert.equal(share(served, 'v2'), 90);

    await admin(gateway, 'PUT', `models/${model}/traffic`, { weights: { v1: 50, v2: 50 }, pinned: [] });
    sweep = 0;
    served = await servedBy(`${gateway.url}/${model}/predict`, 200);
    assert.equal(share(served, 'v1'), 50);
    assert.equal(share(served, 'v2'), 50);
  });

  it('strips the model prefix and uses every replica of a version in turn', async () => {
    await admin(gateway, 'PUT', `models/${model}/traffic`, { weights: { v1: 100 }, pinned: [] });
    const seen = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const response = await fetch(`${gateway.url}/${model}/predict?x=1`);
      const body = (await response.json()) as { version: string; replica: number; path: string };
      assert.equal(body.path, '/predict');
      seen.add(`${body.version}/${body.replica}`);
    }
    assert.deepEqual(seen, new Set(['v1/0', 'v1/1']));
    const state = await admin(gateway, 'GET', 'models');
    assert.equal(state.json.models[model].endpoints.v1.length, 2);
  });

  it('routes pinned requests to each pinned version and answers 404 to any other pin', async () => {
    await admin(gateway, 'PUT', `models/${model}/traffic`, { weights: { v1: 100 }, pinned: ['v1', 'v2', 'v3'], stable: 'v1' });
    for (const version of ['v1', 'v2', 'v3']) {
      const served = await servedBy(`${gateway.url}/${model}/predict`, 10, { 'X-Model-Version': version }, 2);
      assert.deepEqual(new Set(served), new Set([`200:${version}`]));
    }
    const unknown = await fetch(`${gateway.url}/${model}/predict`, { headers: { 'X-Model-Version': 'v9.9.9' } });
    assert.equal(unknown.status, 404);
    const body = (await unknown.json()) as { error: string };
    assert.match(body.error, /no pinned version "v9.9.9"/);
    assert.match(body.error, /v1, v2, v3/);

    const noRoutes = await fetch(`${gateway.url}/nobody-${RUN}/predict`);
    assert.equal(noRoutes.status, 404);
  });

  it('refuses bad traffic with 400 naming the field, through the admin API and GatewayRouter', async () => {
    const sum = await admin(gateway, 'PUT', `models/${model}/traffic`, { weights: { v1: 50, v2: 40 }, pinned: [] });
    assert.equal(sum.status, 400);
    assert.match(sum.json.error, /^weights: must sum to 100 \(got 90\)/);
    const missing = await admin(gateway, 'PUT', `models/${model}/traffic`, { weights: { v1: 50, 'v7.0.0': 50 }, pinned: ['v8'] });
    assert.equal(missing.status, 400);
    assert.match(missing.json.error, /weights\.v7\.0\.0: .* has no running replica/);
    assert.match(missing.json.error, /pinned\.0: .*v8 has no running replica/);

    const router = new GatewayRouter(gateway.adminUrl, { token: TOKEN });
    await router.setState(model, { weights: { v2: 100 }, pinned: ['v1'], stable: 'v2' });
    assert.deepEqual(await router.getState(model), { weights: { v2: 100 }, pinned: ['v1'], stable: 'v2' });
    // A shadow step's mirror goes through the router and reads back as it was set.
    const mirror = { version: 'v1', percent: 40, compare: { fields: [{ path: '$.label' }], redact: ['$.amount'], samples: 3 } };
    await router.setState(model, { weights: { v2: 100 }, pinned: ['v1'], stable: 'v2', mirror });
    assert.deepEqual((await router.getState(model)).mirror, mirror);
    await router.setState(model, { weights: { v2: 100 }, pinned: ['v1'], stable: 'v2' });
    assert.equal((await router.getState(model)).mirror, undefined, 'a state without a mirror ends the copies');
    await assert.rejects(router.setState(model, { weights: { v2: 99 }, pinned: [] }), (error: unknown) => {
      assert.ok(error instanceof ApplicationFailure);
      assert.equal(error.type, 'InvalidTraffic');
      assert.equal(error.nonRetryable, true);
      assert.match(error.message, /weights: must sum to 100/);
      return true;
    });
    const gone = await versionServer('gone');
    await gone.close();
    const unreachable = new GatewayRouter(gone.url, { token: TOKEN });
    await assert.rejects(unreachable.getState(model), (error: unknown) => {
      assert.ok(!(error instanceof ApplicationFailure), 'unreachable is retryable');
      assert.match((error as Error).message, /unreachable \(ECONNREFUSED\)/);
      return true;
    });
    const other = `gw-removed-${RUN}`;
    await router.remove(other); // a model without routes is fine
    assert.deepEqual(await router.getState(other), { weights: {}, pinned: [] });
  });

  it('drops no in-flight request when the routes switch', async () => {
    await admin(gateway, 'PUT', `models/${model}/traffic`, { weights: { v1: 100 }, pinned: [] });
    const inFlight = Array.from({ length: 30 }, () =>
      fetch(`${gateway.url}/${model}/slow?ms=800`).then(async (r) => ({ status: r.status, version: ((await r.json()) as { version: string }).version })),
    );
    // Switch only once every slow request has reached v1 (no clock involved).
    const slowAtV1 = () => servers.filter((s) => s.version === 'v1').reduce((n, s) => n + (s.received.get('/slow') ?? 0), 0);
    for (let i = 0; i < 500 && slowAtV1() < 30; i++) await sleep(10);
    assert.equal(slowAtV1(), 30, 'all 30 slow requests reached v1 before the switch');
    const switched = await admin(gateway, 'PUT', `models/${model}/traffic`, { weights: { v2: 100 }, pinned: [] });
    assert.equal(switched.status, 200);
    const after = await servedBy(`${gateway.url}/${model}/predict`, 20);
    assert.deepEqual(new Set(after), new Set(['200:v2']), 'new requests follow the new routes');
    const results = await Promise.all(inFlight);
    assert.deepEqual(
      results.map((r) => `${r.status}:${r.version}`),
      Array(30).fill('200:v1'),
      'requests sent before the switch finish on the old version',
    );
  });

  it('counts requests, latency and errors in its metrics', async () => {
    await admin(gateway, 'PUT', `models/${model}/traffic`, { weights: { v3: 100 }, pinned: [] });
    const read = async (): Promise<string> => (await fetch(`${gateway.adminUrl}/metrics`)).text();
    const value = (text: string, series: string): number => {
      const line = text.split('\n').find((l) => l.startsWith(series + ' '));
      return line ? Number(line.split(' ')[1]) : 0;
    };
    const ok = `tandem_gateway_requests_total{model="${model}",version="v3",code="200"}`;
    const failed = `tandem_gateway_requests_total{model="${model}",version="v3",code="500"}`;
    const upstreamErrors = `tandem_gateway_errors_total{model="${model}",version="v3",kind="upstream_5xx"}`;
    const count = `tandem_gateway_request_duration_seconds_count{model="${model}",version="v3"}`;
    const before = await read();
    await servedBy(`${gateway.url}/${model}/predict`, 25);
    await servedBy(`${gateway.url}/${model}/fail`, 5);
    // Counters are updated when each response closes: read until all 30 are in (bounded).
    let afterText = await read();
    for (let i = 0; i < 100 && value(afterText, count) - value(before, count) < 30; i++) afterText = await read();
    assert.equal(value(afterText, ok) - value(before, ok), 25);
    assert.equal(value(afterText, failed) - value(before, failed), 5);
    assert.equal(value(afterText, upstreamErrors) - value(before, upstreamErrors), 5);
    assert.equal(value(afterText, count) - value(before, count), 30);
    assert.match(afterText, new RegExp(`tandem_gateway_route_weight\\{model="${model}",version="v3"\\} 100`));
  });

  it('answers 502 JSON when a version does not answer, and counts it as a proxy error', async () => {
    const dead = await versionServer('v4');
    await dead.close();
    await admin(gateway, 'PUT', `models/${model}/versions/v4/endpoints`, { urls: [dead.url] });
    await admin(gateway, 'PUT', `models/${model}/traffic`, { weights: { v4: 100 }, pinned: [] });
    const response = await fetch(`${gateway.url}/${model}/predict`);
    assert.equal(response.status, 502);
    assert.match(((await response.json()) as { error: string }).error, /v4 at http:\/\/127\.0\.0\.1:\d+ did not answer/);
    const metrics = await (await fetch(`${gateway.adminUrl}/metrics`)).text();
    assert.match(metrics, new RegExp(`tandem_gateway_errors_total\\{model="${model}",version="v4",kind="proxy"\\} 1`));
    await admin(gateway, 'DELETE', `models/${model}/versions/v4/endpoints`);
  });

  it('serves the admin API on the admin port only, with the bearer token; healthz and /metrics need none', async () => {
    assert.notEqual(gateway.adminUrl, gateway.url);
    const missing = await admin(gateway, 'GET', `models/${model}/traffic`, undefined, null);
    assert.equal(missing.status, 401);
    assert.match(missing.json.error, /missing the Authorization header; send "Authorization: Bearer <admin token>"/);
    const wrong = await admin(gateway, 'PUT', `models/${model}/traffic`, { weights: { v2: 100 }, pinned: [] }, `${TOKEN}x`);
    assert.equal(wrong.status, 401);
    assert.match(wrong.json.error, /not this gateway's admin token/);
    const basic = await fetch(`${gateway.adminUrl}/_tandem/models`, { headers: { authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}` } });
    assert.equal(basic.status, 401);
    assert.equal(basic.headers.get('www-authenticate'), 'Bearer realm="tandem gateway admin"');
    const unknownRoute = await admin(gateway, 'GET', 'nothing-here', undefined, null);
    assert.equal(unknownRoute.status, 401, 'routes are not revealed without the token');

    const put = await admin(gateway, 'PUT', `models/${model}/traffic`, { weights: { v2: 100 }, pinned: [] });
    assert.equal(put.status, 200, JSON.stringify(put.json));
    assert.deepEqual(new Set(await servedBy(`${gateway.url}/${model}/predict`, 10)), new Set(['200:v2']), 'the refused PUT changed nothing, the accepted one routes');
    assert.equal((await admin(gateway, 'GET', 'healthz', undefined, null)).status, 200);
    assert.equal((await fetch(`${gateway.adminUrl}/metrics`)).status, 200);

    const badRouter = new GatewayRouter(gateway.adminUrl, { token: 'not-the-token' });
    await assert.rejects(badRouter.getState(model), (error: unknown) => {
      assert.ok(!(error instanceof ApplicationFailure), 'a refused token is retryable (the operator fixes the configuration)');
      assert.match((error as Error).message, /refused the configured token: .*not this gateway's admin token/);
      return true;
    });
  });

  it('answers 404 to every admin route on the traffic port, with or without the token', async () => {
    assert.equal((await admin(gateway, 'PUT', `models/${model}/traffic`, { weights: { v2: 100 }, pinned: [] })).status, 200);
    for (const route of ['healthz', 'models', `models/${model}/traffic`]) {
      const response = await fetch(`${gateway.url}/_tandem/${route}`, { headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(response.status, 404, route);
      assert.match(((await response.json()) as { error: string }).error, /not served on the traffic port/);
    }
    const put = await fetch(`${gateway.url}/_tandem/models/${model}/traffic`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ weights: { v1: 100 }, pinned: [] }),
    });
    assert.equal(put.status, 404);
    assert.deepEqual((await admin(gateway, 'GET', `models/${model}/traffic`)).json.weights, { v2: 100 }, 'routes unchanged');
  });

  it('restores its routes from the state file after a restart', async () => {
    await admin(gateway, 'PUT', `models/${model}/traffic`, { weights: { v1: 30, v3: 70 }, pinned: ['v2'], stable: 'v3' });
    await gateway.close();
    gateway = await startGateway({ port: 0, adminPort: 0, adminToken: TOKEN, stateDir, docker, log: () => undefined });
    const state = await admin(gateway, 'GET', `models/${model}/traffic`);
    assert.deepEqual(state.json, { weights: { v1: 30, v3: 70 }, pinned: ['v2'], stable: 'v3' });
    const pinned = await fetch(`${gateway.url}/${model}/predict`, { headers: { 'X-Model-Version': 'v2' } });
    assert.equal(pinned.headers.get('x-served-by-version'), 'v2');
    const served = await servedBy(`${gateway.url}/${model}/predict`, 50);
    assert.ok(served.every((s) => s === '200:v1' || s === '200:v3'), served.join(' '));

    const removed = await admin(gateway, 'DELETE', `models/${model}/traffic`);
    assert.equal(removed.status, 204);
    assert.equal((await fetch(`${gateway.url}/${model}/predict`)).status, 404);
  });
});

describe('tandem gateway with the Docker engine', () => {
  const model = `gwd-${RUN}`;
  const target = new DockerTarget(docker, { network: 'tandem-test' });
  let stateDir: string;
  let gateway: Gateway;

  before(async () => {
    buildEchoImage();
    stateDir = await mkdtemp(path.join(os.tmpdir(), 'tandem-gateway-'));
    gateway = await startGateway({ port: 0, adminPort: 0, adminToken: TOKEN, stateDir, docker, log: () => undefined });
  });

  after(async () => {
    await gateway?.close();
    await target.remove(model, 'v1.0.0');
    await rm(stateDir, { recursive: true, force: true });
  });

  it('finds replica endpoints from container labels and follows them as containers come and go', async () => {
    const spec = { port: 8080, replicas: 2, resources: {}, health: { path: '/healthz', timeout: '5s' } };
    await target.apply({ model, version: 'v1.0.0', commit: 'c0ffee', image: ECHO_IMAGE, digest: '', releaseId: 'test', spec });
    await target.waitReady(model, 'v1.0.0', 30_000, () => undefined);

    const put = await admin(gateway, 'PUT', `models/${model}/traffic`, { weights: { 'v1.0.0': 100 }, pinned: ['v1.0.0'] });
    assert.equal(put.status, 200, JSON.stringify(put.json));
    const listing = await admin(gateway, 'GET', 'models');
    assert.equal(listing.json.models[model].endpoints['v1.0.0'].length, 2);
    const response = await fetch(`${gateway.url}/${model}/predict`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('x-served-by-version'), 'v1.0.0');
    assert.equal(((await response.json()) as { version: string }).version, 'v1.0.0');

    await target.scale(model, 'v1.0.0', 0);
    let status = 0;
    for (let i = 0; i < 40 && status !== 503; i++) {
      await sleep(250);
      status = (await fetch(`${gateway.url}/${model}/predict`)).status;
    }
    assert.equal(status, 503, 'routes to a stopped version answer 503 once the engine reports it');
  });
});

/** A version server that records what it receives and holds every answer while `hold` is set. */
interface MirrorServer {
  url: string;
  received: Array<{ method: string; path: string; body: string; mirrorOf: string | undefined }>;
  hold: boolean;
  release: () => void;
  close: () => Promise<void>;
}

async function mirrorServer(): Promise<MirrorServer> {
  const held: Array<() => void> = [];
  const state: MirrorServer = {
    url: '',
    received: [],
    hold: false,
    release: () => held.splice(0).forEach((answer) => answer()),
    close: async () => undefined,
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      state.received.push({ method: req.method ?? '', path: req.url ?? '', body: Buffer.concat(chunks).toString(), mirrorOf: req.headers['x-tandem-mirror-of'] as string | undefined });
      const answer = () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ version: 'mirror' }));
      if (state.hold) held.push(answer);
      else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () => new Promise<void>((resolve) => server.close(() => resolve()).closeAllConnections());
  return state;
}

describe('tandem gateway request mirroring', () => {
  const model = `gwm-${RUN}`;
  const MAX_IN_FLIGHT = 3;
  let stateDir: string;
  let gateway: Gateway;
  let primary: VersionServer;
  let mirror: MirrorServer;
  let sweep = 0;
  const random = (): number => ((sweep++ % 100) + 0.5) / 100;
  const metric = async (result: string): Promise<number> => {
    const text = await (await fetch(`${gateway.adminUrl}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`tandem_gateway_mirrored_requests_total{model="${model}",version="v2",result="${result}"} `));
    return line ? Number(line.split(' ')[1]) : 0;
  };
  /** Waits (bounded) until the mirror server has received `count` copies in all. */
  const copies = async (count: number): Promise<number> => {
    for (let i = 0; i < 200 && mirror.received.length < count; i++) await sleep(20);
    return mirror.received.length;
  };

  before(async () => {
    stateDir = await mkdtemp(path.join(os.tmpdir(), 'tandem-gateway-'));
    gateway = await startGateway({ port: 0, adminPort: 0, adminToken: TOKEN, stateDir, log: () => undefined, random, maxMirrorsInFlight: MAX_IN_FLIGHT });
    primary = await versionServer('v1');
    mirror = await mirrorServer();
    assert.equal((await admin(gateway, 'PUT', `models/${model}/versions/v1/endpoints`, { urls: [primary.url] })).status, 200);
    assert.equal((await admin(gateway, 'PUT', `models/${model}/versions/v2/endpoints`, { urls: [mirror.url] })).status, 200);
  });

  after(async () => {
    mirror?.release();
    await gateway?.close();
    await primary?.close();
    await mirror?.close();
    await rm(stateDir, { recursive: true, force: true });
  });

  it('copies every unpinned request, body and all, to the mirror version; callers get the weighted version\'s answer', async () => {
    const put = await admin(gateway, 'PUT', `models/${model}/traffic`, { weights: { v1: 100 }, pinned: ['v1'], mirror: { version: 'v2' } });
    assert.equal(put.status, 200, JSON.stringify(put.json));
    assert.deepEqual((await admin(gateway, 'GET', `models/${model}/traffic`)).json.mirror, { version: 'v2', percent: 100 });
    for (let i = 0; i < 10; i++) {
      const response = await fetch(`${gateway.url}/${model}/predict?i=${i}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ amount: i }) });
      assert.equal(response.headers.get('x-served-by-version'), 'v1');
      assert.equal(((await response.json()) as Json).version, 'v1');
    }
    // A pinned request answers the caller's pin only: it is not copied.
    const pinned = await fetch(`${gateway.url}/${model}/predict`, { headers: { 'x-model-version': 'v1' } });
    assert.equal(pinned.status, 200);
    await pinned.arrayBuffer();
    assert.equal(await copies(10), 10);
    await sleep(100); // a copy of the pinned request would have arrived by now
    assert.equal(mirror.received.length, 10, 'the pinned request was not copied');
    assert.deepEqual(
      mirror.received.map((r) => [r.method, r.path, r.body, r.mirrorOf]),
      Array.from({ length: 10 }, (_, i) => ['POST', `/predict?i=${i}`, JSON.stringify({ amount: i }), 'v1']),
    );
    for (let i = 0; i < 100 && (await metric('200')) < 10; i++) await sleep(20);
    assert.equal(await metric('200'), 10);
  });

  it('copies the configured percent of requests', async () => {
    assert.equal((await admin(gateway, 'PUT', `models/${model}/traffic`, { weights: { v1: 100 }, mirror: { version: 'v2', percent: 50 } })).status, 200);
    const before = mirror.received.length;
    sweep = 0;
    // One random value picks the version, the next decides the copy: over 200 values the copy's are 1.5, 3.5 ... 99.5 %.
    await servedBy(`${gateway.url}/${model}/predict`, 100, {}, 1);
    assert.equal(await copies(before + 50), before + 50);
    await sleep(100);
    assert.equal(mirror.received.length - before, 50);
  });

  it('never makes a caller wait for a copy: beyond the copies in flight they are dropped and counted', async () => {
    assert.equal((await admin(gateway, 'PUT', `models/${model}/traffic`, { weights: { v1: 100 }, mirror: { version: 'v2' } })).status, 200);
    const before = mirror.received.length;
    const droppedBefore = await metric('dropped');
    mirror.hold = true;
    // The mirror answers none of these while they are sent, yet every caller is answered.
    const served = await servedBy(`${gateway.url}/${model}/predict`, 10, {}, 1);
    assert.deepEqual(served, Array(10).fill('200:v1'));
    assert.equal(await copies(before + MAX_IN_FLIGHT), before + MAX_IN_FLIGHT);
    assert.equal((await metric('dropped')) - droppedBefore, 10 - MAX_IN_FLIGHT);
    mirror.hold = false;
    mirror.release();
  });

  it('refuses a mirror it cannot reach, or one that already has weight, naming the field; traffic unchanged', async () => {
    const was = (await admin(gateway, 'GET', `models/${model}/traffic`)).json;
    const unreachable = await admin(gateway, 'PUT', `models/${model}/traffic`, { weights: { v1: 100 }, mirror: { version: 'v9' } });
    assert.equal(unreachable.status, 400);
    assert.match(unreachable.json.error, /mirror\.version: .*v9 has no running replica/);
    const weighted = await admin(gateway, 'PUT', `models/${model}/traffic`, { weights: { v1: 50, v2: 50 }, mirror: { version: 'v2' } });
    assert.equal(weighted.status, 400);
    assert.match(weighted.json.error, /mirror\.version: v2 already has traffic weight/);
    assert.deepEqual((await admin(gateway, 'GET', `models/${model}/traffic`)).json, was);
  });
});

describe('tandem gateway upstream timeout', () => {
  const model = `gwt-${RUN}`;
  let stateDir: string;
  let gateway: Gateway;
  let server: VersionServer;

  before(async () => {
    stateDir = await mkdtemp(path.join(os.tmpdir(), 'tandem-gateway-'));
    gateway = await startGateway({ port: 0, adminPort: 0, adminToken: TOKEN, stateDir, upstreamTimeoutMs: 400, log: () => undefined });
    server = await versionServer('v1');
    assert.equal((await admin(gateway, 'PUT', `models/${model}/versions/v1/endpoints`, { urls: [server.url] })).status, 200);
    assert.equal((await admin(gateway, 'PUT', `models/${model}/traffic`, { weights: { v1: 100 }, pinned: [] })).status, 200);
  });

  after(async () => {
    await gateway?.close();
    await server?.close();
    await rm(stateDir, { recursive: true, force: true });
  });

  it('answers 504 when a version sends nothing for the timeout, and counts it as an error of the version', async () => {
    const slow = await fetch(`${gateway.url}/${model}/slow?ms=1500`);
    assert.equal(slow.status, 504);
    assert.equal(slow.headers.get('x-served-by-version'), 'v1');
    assert.match(((await slow.json()) as { error: string }).error, /v1 at http:\/\/127\.0\.0\.1:\d+ sent nothing for 400 ms \(upstream timeout\)/);
    const metrics = await (await fetch(`${gateway.adminUrl}/metrics`)).text();
    assert.match(metrics, new RegExp(`tandem_gateway_requests_total\\{model="${model}",version="v1",code="504"\\} 1`));
    assert.match(metrics, new RegExp(`tandem_gateway_errors_total\\{model="${model}",version="v1",kind="timeout"\\} 1`));
  });

  it('lets answers within the timeout through, also on kept-alive connections idle for longer than it', async () => {
    assert.deepEqual(await servedBy(`${gateway.url}/${model}/slow?ms=150`, 4, {}, 2), Array(4).fill('200:v1'));
    await sleep(600); // the gateway's pooled upstream connections sit idle beyond the timeout
    assert.deepEqual(await servedBy(`${gateway.url}/${model}/predict`, 10, {}, 2), Array(10).fill('200:v1'));
  });
});

describe('the gateway\'s upstream connections', () => {
  it('closes a kept-alive connection it has not used for 4 s, before the model server\'s 5 s keep-alive timeout can race a request', async () => {
    const stateDir = await mkdtemp(path.join(os.tmpdir(), 'tandem-gateway-'));
    const gateway = await startGateway({ port: 0, adminPort: 0, adminToken: TOKEN, stateDir, log: () => undefined });
    // The server would keep connections for 60 s: any close within the test comes from the gateway.
    const closedByPeer: number[] = [];
    const server = http.createServer((_req, res) => res.end('{}'));
    server.keepAliveTimeout = 60_000;
    server.on('connection', (socket) => {
      const opened = Date.now();
      socket.once('end', () => closedByPeer.push(Date.now() - opened));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const model = `gwk-${RUN}`;
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      assert.equal((await admin(gateway, 'PUT', `models/${model}/versions/v1/endpoints`, { urls: [url] })).status, 200);
      assert.equal((await admin(gateway, 'PUT', `models/${model}/traffic`, { weights: { v1: 100 } })).status, 200);
      assert.deepEqual(await servedBy(`${gateway.url}/${model}/predict`, 1), ['200:v1']);
      await sleep(2_000);
      assert.deepEqual(closedByPeer, [], 'kept for reuse while recently used');
      for (let i = 0; i < 40 && closedByPeer.length === 0; i++) await sleep(250);
      assert.equal(closedByPeer.length, 1, 'the gateway closed its idle connection');
    } finally {
      await gateway.close();
      await new Promise<void>((resolve) => server.close(() => resolve()).closeAllConnections());
      await rm(stateDir, { recursive: true, force: true });
    }
  });
});

describe('the gateway admin token', () => {
  it('is taken from the environment variable, else generated at each start into <state-dir>/admin-token (0600)', async () => {
    const stateDir = await mkdtemp(path.join(os.tmpdir(), 'tandem-gateway-'));
    const variable = `TANDEM_TEST_TOKEN_${RUN.toUpperCase()}`;
    try {
      const first = await resolveAdminToken(stateDir, variable);
      assert.equal(first.source, adminTokenPath(stateDir));
      assert.ok(first.token.length >= 40);
      assert.equal((await readFile(first.source, 'utf8')).trim(), first.token);
      assert.equal((await stat(first.source)).mode & 0o777, 0o600);
      const second = await resolveAdminToken(stateDir, variable);
      assert.notEqual(second.token, first.token, 'a new token at every start');

      // The router reads the file at every call, so it follows a restarted gateway.
      const gateway = await startGateway({ port: 0, adminPort: 0, adminToken: second.token, stateDir, log: () => undefined });
      try {
        const router = new GatewayRouter(gateway.adminUrl, { tokenFile: second.source });
        assert.deepEqual(await router.getState('nothing'), { weights: {}, pinned: [] });
      } finally {
        await gateway.close();
      }

      process.env[variable] = 'from-the-environment';
      assert.deepEqual(await resolveAdminToken(stateDir, variable), { token: 'from-the-environment', source: `$${variable}` });
      await assert.rejects(stat(adminTokenPath(stateDir)), /ENOENT/, 'no stale generated token left behind');
    } finally {
      delete process.env[variable];
      await rm(stateDir, { recursive: true, force: true });
    }
  });

  it('must be available to the worker: without the variable or the file it refuses to start, naming the key', () => {
    const config = (traffic: Record<string, string>) =>
      configSchema.parse({
        environments: { local: { target: { kind: 'docker' }, registry: { url: '127.0.0.1:5000', insecure: true }, traffic: { router: 'gateway', ...traffic } } },
      });
    const tokenEnv = `TANDEM_TEST_UNSET_${RUN.toUpperCase()}`;
    assert.equal(config({}).environments.local!.traffic.router, 'gateway');
    assert.deepEqual(configSchema.parse({ environments: { local: { target: { kind: 'docker' }, registry: { url: 'r' } } } }).environments.local!.traffic, {
      router: 'gateway',
      url: 'http://127.0.0.1:7071',
      tokenEnv: 'TANDEM_GATEWAY_TOKEN',
    });
    assert.throws(
      () => buildEnvironments(config({ tokenEnv, tokenFile: '/nonexistent/admin-token' }), os.tmpdir()),
      (error: unknown) =>
        error instanceof ConfigError &&
        /^environments\.local\.traffic\.tokenFile: no admin token for the gateway at http:\/\/127\.0\.0\.1:7071: \$TANDEM_TEST_UNSET_\w+ is not set and \/nonexistent\/admin-token does not exist/.test(error.message),
    );
    process.env[tokenEnv] = 'set';
    try {
      assert.ok(buildEnvironments(config({ tokenEnv, tokenFile: '/nonexistent/admin-token' }), os.tmpdir()).local!.router instanceof GatewayRouter);
    } finally {
      delete process.env[tokenEnv];
    }
  });
});

/** A tiny image whose server answers its version (TANDEM_VERSION, set by the target) as JSON. */
function buildEchoImage(): void {
  const server =
    "require('http').createServer((q,s)=>{s.setHeader('content-type','application/json');" +
    "s.end(JSON.stringify({version:process.env.TANDEM_VERSION,path:q.url}))}).listen(Number(process.env.PORT||8080))";
  const dockerfile = `FROM tandem/node-base:20\nCMD ["node", "-e", ${JSON.stringify(server)}]\n`;
  execFileSync('docker', ['build', '-q', '-t', ECHO_IMAGE, '-'], { input: dockerfile, stdio: ['pipe', 'ignore', 'pipe'], timeout: 180_000 });
}
