/**
 * PrometheusAnalyzer against a real Prometheus (scripts/prometheus-up.sh: Debian's package,
 * 127.0.0.1:9090, scrape interval 1s) scraping real model servers: the example's server.js run
 * with node, once as a good version, once with the v1.2.0 weights (whose /predict answers 500)
 * and once without traffic. The servers are handed to Prometheus at run time through its
 * file-based service discovery. Windows are 2–3 s.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApplicationFailure } from '@temporalio/common';
import { GatewayAnalyzer } from '../../src/activities/analysis/gateway/analyzer';
import { PrometheusAnalyzer } from '../../src/activities/analysis/prometheus/analyzer';
import { promDuration, renderQuery } from '../../src/activities/analysis/prometheus/query';
import type { AnalysisInput } from '../../src/activities/types';
import { ConfigError, parseConfig } from '../../src/config/load';
import { FailureType } from '../../src/errors';
import { buildEnvironments } from '../../src/environments';
import type { WebMetricsAnalyzer } from '../../src/activities/analysis/web/analyzer';

const ROOT = path.join(__dirname, '..', '..');
const EXAMPLE = path.join(ROOT, 'examples', 'fraud-detector');
const TANDEM_HOME = process.env.TANDEM_HOME ?? path.join(os.homedir(), '.cache', 'tandem');
const SD_DIR = path.join(TANDEM_HOME, 'prometheus', 'targets');
const PROMETHEUS = `http://127.0.0.1:${process.env.PROMETHEUS_PORT ?? 9090}`;
const RUN = Date.now().toString(36);
const MODEL = 'fraud-detector';
const VERSION = { good: `v1.0.0-pt${RUN}`, failing: `v1.2.0-pt${RUN}`, idle: `v1.1.0-pt${RUN}`, absent: `v9.9.9-pt${RUN}` };
const RULE: AnalysisInput['rule'] = { maxErrorRate: 0.05, maxP95LatencyMs: 500, minRequests: 10 };
const TRANSACTION = JSON.stringify({ amount: 40, country_risk: 0.1, velocity: 1, new_device: 0 });

async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** One instant query's single value, or undefined for an empty vector. */
async function promValue(query: string): Promise<number | undefined> {
  const response = await fetch(`${PROMETHEUS}/api/v1/query?query=${encodeURIComponent(query)}`);
  const answer = (await response.json()) as { data: { result: Array<{ value: [number, string] }> } };
  const first = answer.data.result[0];
  return first ? Number(first.value[1]) : undefined;
}

/** Posts transactions to `url` until `done` settles; 404/5xx answers are part of the point. */
async function drive(url: string, done: Promise<unknown>): Promise<number> {
  let finished = false;
  void done.finally(() => (finished = true)).catch(() => undefined);
  let sent = 0;
  while (!finished) {
    const response = await fetch(`${url}/predict`, { method: 'POST', body: TRANSACTION, headers: { 'content-type': 'application/json' } });
    await response.arrayBuffer();
    sent += 1;
    await sleep(10);
  }
  return sent;
}

describe('PrometheusAnalyzer against a real Prometheus scraping real model servers', () => {
  const servers: ChildProcess[] = [];
  const urls: Record<string, string> = {};
  const sdFile = path.join(SD_DIR, `test-${RUN}.json`);
  let tmp: string;
  const analyzer = new PrometheusAnalyzer({ url: PROMETHEUS, heartbeatEveryMs: 1000 });
  const input = (version: string, windowMs: number): AnalysisInput => ({ model: MODEL, environment: 'local', version, rule: RULE, windowMs });

  before(async () => {
    execFileSync('bash', [path.join(ROOT, 'scripts', 'prometheus-up.sh')], { stdio: ['ignore', 'ignore', 'inherit'], timeout: 300_000 });
    tmp = await mkdtemp(path.join(os.tmpdir(), 'tandem-prometheus-'));
    // The failing version: the example's server with v1.2.0's weights, which it cannot read at /predict.
    const failingDir = path.join(tmp, 'v1.2.0');
    await mkdir(path.join(failingDir, 'model'), { recursive: true });
    await copyFile(path.join(EXAMPLE, 'server.js'), path.join(failingDir, 'server.js'));
    await copyFile(path.join(ROOT, 'examples', 'fraud-detector-versions', 'v1.2.0', 'model', 'weights.json'), path.join(failingDir, 'model', 'weights.json'));
    const dirs: Record<string, string> = { good: EXAMPLE, failing: failingDir, idle: EXAMPLE };
    for (const [role, dir] of Object.entries(dirs)) {
      const port = await freePort();
      const child = spawn(process.execPath, [path.join(dir, 'server.js')], {
        env: { ...process.env, PORT: String(port), VERSION: VERSION[role as keyof typeof VERSION] },
        stdio: 'ignore',
      });
      servers.push(child);
      urls[role] = `http://127.0.0.1:${port}`;
    }
    for (const url of Object.values(urls)) {
      for (let i = 0; ; i++) {
        if (await fetch(`${url}/healthz`).then((r) => r.ok, () => false)) break;
        if (i > 100) throw new Error(`${url} did not start`);
        await sleep(50);
      }
    }
    // Hand the servers to Prometheus (written whole, then renamed, so it never reads half a file).
    await mkdir(SD_DIR, { recursive: true });
    const targets = [{ targets: Object.values(urls).map((u) => u.replace('http://', '')), labels: { run: RUN } }];
    await writeFile(`${sdFile}.tmp`, JSON.stringify(targets));
    await rename(`${sdFile}.tmp`, sdFile);
    for (let i = 0; ; i++) {
      if ((await promValue(`count(up{run="${RUN}"} == 1)`)) === 3) break;
      if (i > 150) throw new Error(`Prometheus did not scrape the three servers within 15 s (targets file ${sdFile})`);
      await sleep(100);
    }
  });

  after(async () => {
    for (const child of servers) child.kill('SIGTERM');
    await rm(sdFile, { force: true });
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('passes a good version, with its request count, error rate 0 and p95 latency', async () => {
    const beats: unknown[] = [];
    const analysis = analyzer.analyze(input(VERSION.good, 3000), (d) => beats.push(d), new AbortController().signal);
    const sent = await drive(urls.good!, analysis);
    const result = await analysis;
    assert.equal(result.outcome, 'pass', result.detail);
    // increase() extrapolates the samples it has to the window's edges: with a 3 s window and 1 s
    // scrapes it may count up to half as much again as was sent, never an order more.
    assert.ok(result.requests >= RULE.minRequests && result.requests <= sent * 1.5 + 5, `requests ${result.requests}, sent ${sent}`);
    assert.equal(result.errorRate, 0);
    assert.ok(result.p95LatencyMs !== undefined && result.p95LatencyMs < 500, `p95 ${result.p95LatencyMs}`);
    assert.match(result.detail, /^\d+ requests, error rate 0\.0% \(max 5\.0%\), p95 [\d.]+ ms \(max 500 ms\)$/);
    assert.ok(beats.length >= 3, `heartbeats: ${beats.length}`);
  });

  it('fails a version whose /predict answers 500, naming the error rate', async () => {
    const analysis = analyzer.analyze(input(VERSION.failing, 3000), () => undefined, new AbortController().signal);
    await drive(urls.failing!, analysis);
    const result = await analysis;
    assert.equal(result.outcome, 'fail', result.detail);
    assert.ok(result.requests >= RULE.minRequests);
    assert.equal(result.errorRate, 1);
    assert.match(result.detail, /^error rate 100\.0% above 5\.0% \(\d+ requests, p95 /);
    assert.equal(result.detail.match(/error rate/g)?.length, 1, 'the error rate is named once');
  });

  it('is inconclusive for a running version without traffic (window 2500ms)', async () => {
    const result = await analyzer.analyze(input(VERSION.idle, 2500), () => undefined, new AbortController().signal);
    assert.equal(result.outcome, 'inconclusive', result.detail);
    assert.equal(result.requests, 0);
    assert.equal(result.errorRate, 0);
    assert.match(result.detail, /^0 requests, .*fewer than the 10 needed to judge$/);
  });

  it('is inconclusive, naming the query, for a version Prometheus has no series of', async () => {
    const result = await analyzer.analyze(input(VERSION.absent, 2000), () => undefined, new AbortController().signal);
    assert.equal(result.outcome, 'inconclusive');
    assert.equal(result.requests, 0);
    assert.ok(
      result.detail.startsWith(`the requestsQuery returned nothing for ${MODEL} ${VERSION.absent}`) &&
        result.detail.includes(`sum(increase(requests_total{version="${VERSION.absent}"}[2s]))`),
      result.detail,
    );
  });

  it('refuses a broken PromQL template before the window, non-retryable InvalidAnalysisQuery naming the query', async () => {
    const broken = 'sum(increase(errors_total{version="{{version}}"}[{{window}}])';
    let heartbeats = 0;
    await assert.rejects(
      new PrometheusAnalyzer({ url: PROMETHEUS, errorRateQuery: broken }).analyze(input(VERSION.good, 60_000), () => heartbeats++, new AbortController().signal),
      (error: unknown) => {
        assert.ok(error instanceof ApplicationFailure, String(error));
        assert.equal(error.type, FailureType.InvalidAnalysisQuery);
        assert.equal(error.nonRetryable, true);
        assert.ok(error.message.startsWith('the errorRateQuery is not valid PromQL ('), error.message);
        assert.ok(error.message.endsWith(`: sum(increase(errors_total{version="${VERSION.good}"}[60s])`), error.message);
        return true;
      },
    );
    assert.equal(heartbeats, 0, 'refused before the measurement window started');
  });

  it('throws a retryable Error when Prometheus cannot be reached', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    await assert.rejects(
      new PrometheusAnalyzer({ url }).analyze(input(VERSION.good, 60_000), () => undefined, new AbortController().signal),
      (error: unknown) => {
        assert.ok(error instanceof Error && !(error instanceof ApplicationFailure), String(error));
        assert.ok(error.message.startsWith(`cannot query Prometheus at ${url}/api/v1/query: `), error.message);
        return true;
      },
    );
  });

  // The window is 10 minutes, the test's own timeout 30 s: only the abort can end it in time.
  it('stops waiting when the signal aborts, throwing its reason', { timeout: 30_000 }, async () => {
    const controller = new AbortController();
    const reason = new Error('activity cancelled');
    setTimeout(() => controller.abort(reason), 300);
    await assert.rejects(analyzer.analyze(input(VERSION.good, 600_000), () => undefined, controller.signal), (error: unknown) => error === reason);
  });
});

describe('analysis.prometheus in tandem.config.yaml', () => {
  // A Docker environment is built only with the gateway's admin token at hand: a file holding one.
  let tokenDir = '';
  before(async () => {
    tokenDir = await mkdtemp(path.join(os.tmpdir(), 'tandem-token-'));
    await writeFile(path.join(tokenDir, 'admin-token'), 'test-token\n');
  });
  after(() => rm(tokenDir, { recursive: true, force: true }));
  const config = (analysis: string): string => `
environments:
  local:
    target: { kind: docker }
    registry: { url: 127.0.0.1:5000, insecure: true }
    traffic: { router: gateway, tokenFile: ${path.join(tokenDir, 'admin-token')} }
${analysis}
models:
  fraud-detector: { repo: /tmp/x, environment: local }
`;

  it('chooses the PrometheusAnalyzer for an environment that names a Prometheus, the gateway analyzer otherwise', () => {
    const withPrometheus = parseConfig(config('    analysis: { prometheus: { url: "http://127.0.0.1:9090" } }'));
    assert.deepEqual(withPrometheus.environments.local!.analysis, { prometheus: { url: 'http://127.0.0.1:9090' } });
    assert.ok((buildEnvironments(withPrometheus, os.tmpdir()).local!.analyzer as WebMetricsAnalyzer).traffic instanceof PrometheusAnalyzer);
    assert.ok((buildEnvironments(parseConfig(config('')), os.tmpdir()).local!.analyzer as WebMetricsAnalyzer).traffic instanceof GatewayAnalyzer);
  });

  it('names the key of a bad URL or an unknown placeholder', () => {
    assert.throws(
      () => parseConfig(config('    analysis: { prometheus: { url: "not a url" } }')),
      (error: Error) => error instanceof ConfigError && /environments\.local\.analysis\.prometheus\.url: /.test(error.message),
    );
    assert.throws(
      () => parseConfig(config('    analysis: { prometheus: { url: "http://p:9090", errorRateQuery: "rate(x{v=\\"{{tag}}\\"}[{{window}}])" } }')),
      (error: Error) =>
        /environments\.local\.analysis\.prometheus\.errorRateQuery: uses an unknown placeholder; known: \{\{model\}\}, \{\{version\}\}, \{\{namespace\}\}, \{\{window\}\}/.test(
          error.message,
        ),
    );
  });

  it('renders templates: durations, escaped values, spaces inside the braces', () => {
    assert.equal(promDuration(3000), '3s');
    assert.equal(promDuration(2500), '2500ms');
    assert.equal(promDuration(300_000), '300s');
    assert.equal(
      renderQuery('x{model="{{model}}",v="{{ version }}",ns="{{namespace}}"}[{{window}}]', { model: 'm', version: 'v"1\\', namespace: '', window: '5s' }),
      'x{model="m",v="v\\"1\\\\",ns=""}[5s]',
    );
  });
});
