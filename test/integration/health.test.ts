/**
 * Health verification and traffic analysis against real running versions of the example model
 * (built from scripts/example-repo.ts on tandem/node-base:20, run by DockerTarget) and a real
 * tandem gateway in front of them.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, execSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Docker from 'dockerode';
import { createExampleRepo } from '../../scripts/example-repo';
import { DockerTarget } from '../../src/activities/docker/target';
import { GatewayAnalyzer } from '../../src/activities/analysis/gateway/analyzer';
import { verifyVersion } from '../../src/activities/health/verify';
import { type Gateway, startGateway } from '../../src/gateway';
import { parseSpec } from '../../src/model-spec/parse';
import type { Spec } from '../../src/model-spec/schema';

const docker = new Docker();
const RUN = Date.now().toString(36);
const MODEL = `hc-${RUN}`;
const IMAGE = (version: string): string => `tandem-test/fraud-detector:${version}`;
const VERSIONS = ['v1.0.0', 'v1.2.0'] as const;

describe('health verification and analysis of real versions', () => {
  const target = new DockerTarget(docker, { network: 'tandem-test', pollIntervalMs: 200 });
  const specs: Record<string, Spec> = {};
  const endpoints: Record<string, string> = {};
  let tmp: string;
  let gateway: Gateway;

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'tandem-health-'));
    const repo = await createExampleRepo(path.join(tmp, 'fraud-detector'));
    for (const tag of [...VERSIONS, 'v1.1.0']) {
      specs[tag] = parseSpec(execFileSync('git', ['-C', repo.path, 'show', `${tag}:tandem.yaml`], { encoding: 'utf8' }));
    }
    for (const tag of VERSIONS) {
      execSync(
        `git -C ${repo.path} archive ${tag} | docker build -q -t ${IMAGE(tag)} --build-arg BASE_IMAGE=tandem/node-base:20 --build-arg TANDEM_VERSION=${tag} -`,
        { stdio: ['ignore', 'ignore', 'pipe'], timeout: 180_000 },
      );
      const spec = { ...specs[tag]!, replicas: 1 };
      await target.apply({ model: MODEL, version: tag, commit: tag, image: IMAGE(tag), digest: '', releaseId: 'test', spec });
    }
    for (const tag of VERSIONS) {
      await target.waitReady(MODEL, tag, 60_000, () => undefined);
      endpoints[tag] = await target.endpoint(MODEL, tag);
    }
    gateway = await startGateway({ port: 0, adminPort: 0, adminToken: 'health-test', stateDir: path.join(tmp, 'gateway'), docker, log: () => undefined });
  });

  after(async () => {
    await gateway?.close();
    for (const tag of VERSIONS) await target.remove(MODEL, tag);
    await rm(tmp, { recursive: true, force: true });
  });

  it('passes every check of a good version', async () => {
    const result = await verifyVersion(endpoints['v1.0.0']!, specs['v1.0.0']!);
    assert.deepEqual(
      result.checks.map((c) => [c.check, c.ok]),
      [
        ['health', true],
        ['smoke: small domestic purchase is ok', true],
        ['smoke: large risky purchase on a new device is fraud', true],
      ],
    );
    assert.equal(result.checks[0]!.observed, 'status 200');
    assert.match(result.checks[1]!.observed, /^score=0\.005\d*, label=ok$/);
  });

  it('fails the smoke tests of a version whose /predict answers 500, observing the status', async () => {
    const result = await verifyVersion(endpoints['v1.2.0']!, specs['v1.2.0']!);
    assert.equal(result.checks[0]!.ok, true, 'its health endpoint is fine');
    const smoke = result.checks.slice(1);
    assert.equal(smoke.length, 2);
    for (const check of smoke) {
      assert.equal(check.ok, false);
      assert.match(check.observed, /^status 500 \(expected 200\)/);
    }
  });

  it('reports a numeric answer outside the tolerance with the expected value', async () => {
    // v1.0.0 against v1.1.0's expectations: the retrained model answers differently.
    const result = await verifyVersion(endpoints['v1.0.0']!, specs['v1.1.0']!);
    assert.equal(result.checks[1]!.ok, false);
    assert.equal(result.checks[1]!.observed, 'score=0.005117 (expected 0.009565 ± 0.001000), label=ok');
  });

  it('turns a network error into a failed check', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const result = await verifyVersion(`http://127.0.0.1:${port}`, specs['v1.0.0']!);
    assert.deepEqual(result.checks[0], { check: 'health', ok: false, observed: 'connection refused' });
    assert.ok(result.checks.slice(1).every((c) => !c.ok && /not sent/.test(c.observed)));
  });

  it('judges each version from the gateway metrics of a window with traffic', async () => {
    const admin = `${gateway.adminUrl}/_tandem/models/${MODEL}/traffic`;
    const put = await fetch(admin, {
      method: 'PUT',
      headers: { authorization: 'Bearer health-test' },
      body: JSON.stringify({ weights: { 'v1.0.0': 50, 'v1.2.0': 50 }, pinned: [] }),
    });
    assert.equal(put.status, 200, await put.text());

    let sending = true;
    const traffic = (async () => {
      let sent = 0;
      while (sending) {
        const response = await fetch(`${gateway.url}/${MODEL}/predict`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ amount: 40, country_risk: 0.1, velocity: 1, new_device: 0 }),
        });
        await response.arrayBuffer();
        sent++;
        await sleep(10);
      }
      return sent;
    })();

    const rule = { maxErrorRate: 0.05, maxP95LatencyMs: 2000, minRequests: 10 };
    const heartbeats: unknown[] = [];
    const analyzer = new GatewayAnalyzer(gateway.adminUrl, { token: 'health-test' }, { heartbeatEveryMs: 500 });
    const window = (version: string, windowMs: number, minRequests = rule.minRequests) =>
      ({ model: MODEL, environment: 'test', version, rule: { ...rule, minRequests }, windowMs });
    const signal = new AbortController().signal;
    const [good, bad, starved] = await Promise.all([
      analyzer.analyze(window('v1.0.0', 2500), (d) => heartbeats.push(d), signal),
      analyzer.analyze(window('v1.2.0', 2500), () => undefined, signal),
      analyzer.analyze(window('v1.0.0', 1000, 100_000), () => undefined, signal),
    ]);
    sending = false;
    const sent = await traffic;
    assert.ok(sent >= 40, `sent ${sent} requests`);

    assert.equal(good.outcome, 'pass', good.detail);
    assert.ok(good.requests >= 10, good.detail);
    assert.equal(good.errorRate, 0);
    assert.ok(good.p95LatencyMs !== undefined && good.p95LatencyMs < 2000, good.detail);
    assert.ok(heartbeats.length >= 3, `heartbeats: ${heartbeats.length}`);

    assert.equal(bad.outcome, 'fail', bad.detail);
    assert.equal(bad.errorRate, 1);
    assert.match(bad.detail, /error rate 100\.0% above 5\.0%/);

    assert.equal(starved.outcome, 'inconclusive', starved.detail);
    assert.match(starved.detail, /fewer than the 100000 needed/);
  });

  // The window is 10 minutes, the test's own timeout 30 s: only the abort can end it in time.
  it('stops waiting when the signal aborts', { timeout: 30_000 }, async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('release aborted')), 200);
    await assert.rejects(
      new GatewayAnalyzer(gateway.adminUrl, { token: 'health-test' }).analyze(
        { model: MODEL, environment: 'test', version: 'v1.0.0', rule: { maxErrorRate: 0.05, minRequests: 1 }, windowMs: 600_000 },
        () => undefined,
        controller.signal,
      ),
      /release aborted/,
    );
  });

  it('reads the metrics only with the admin token, and says which token was refused', async () => {
    assert.equal((await fetch(`${gateway.adminUrl}/_tandem/metrics.json`)).status, 401);
    const tokenFile = path.join(tmp, 'stale-token');
    await writeFile(tokenFile, 'not-the-token\n');
    await assert.rejects(
      new GatewayAnalyzer(gateway.adminUrl, { tokenFile }).readSnapshot(MODEL, 'v1.0.0'),
      (error: Error) => error.message.includes(`refused the token in ${tokenFile}`) && !error.message.includes('not-the-token'),
    );
    // Traffic of its own to v1.0.0, so the snapshot has requests to show.
    const put = await fetch(`${gateway.adminUrl}/_tandem/models/${MODEL}/traffic`, {
      method: 'PUT',
      headers: { authorization: 'Bearer health-test' },
      body: JSON.stringify({ weights: { 'v1.0.0': 100 }, pinned: [] }),
    });
    assert.equal(put.status, 200, await put.text());
    for (let i = 0; i < 5; i++) {
      const response = await fetch(`${gateway.url}/${MODEL}/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ amount: 40, country_risk: 0.1, velocity: 1, new_device: 0 }),
      });
      assert.equal(response.status, 200);
      await response.arrayBuffer();
    }
    const analyzer = new GatewayAnalyzer(gateway.adminUrl, { token: 'health-test' });
    // Counters are updated when each response closes: read until they are in (bounded).
    let snapshot = await analyzer.readSnapshot(MODEL, 'v1.0.0');
    for (let i = 0; i < 50 && (snapshot.byCode['200'] ?? 0) < 5; i++) {
      await sleep(100);
      snapshot = await analyzer.readSnapshot(MODEL, 'v1.0.0');
    }
    assert.ok((snapshot.byCode['200'] ?? 0) >= 5, JSON.stringify(snapshot.byCode));
    assert.equal(snapshot.buckets.at(-1)?.le, Infinity);
  });
});
