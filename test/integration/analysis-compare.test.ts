/**
 * Comparison with stable in the same window, against a real tandem gateway routing live requests
 * to three local HTTP servers as versions of one model: `fast` (answers at once), `slow` (answers
 * after a fixed 600 ms, so its p95 is in the gateway's 0.5–0.75 s bucket, far above `fast`'s even
 * on a loaded machine) and
 * `flaky` (answers 500 to every fourth request). The latencies and failures are fixed, so each
 * verdict is certain; the GatewayAnalyzer measures candidate and stable from the same snapshots.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { GatewayAnalyzer } from '../../src/activities/analysis/gateway/analyzer';
import type { AnalysisInput } from '../../src/activities/types';
import { type Gateway, startGateway } from '../../src/gateway';

const TOKEN = 'compare-test';
const MODEL = 'compared';
const SLOW_MS = 600;

interface Version {
  url: string;
  close(): Promise<void>;
}

/** A version answering `{version}` after `delayMs`, with 500 to every `failEvery`-th request. */
async function versionServer(version: string, delayMs: number, failEvery = 0): Promise<Version> {
  let served = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      served++;
      const status = failEvery > 0 && served % failEvery === 0 ? 500 : 200;
      setTimeout(() => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ version })), delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

async function admin(gateway: Gateway, method: string, route: string, body: unknown): Promise<void> {
  const response = await fetch(`${gateway.adminUrl}/_tandem/${route}`, { method, headers: { authorization: `Bearer ${TOKEN}` }, body: JSON.stringify(body) });
  assert.equal(response.status, 200, await response.text());
}

describe('GatewayAnalyzer comparing the candidate with stable in the same window (real gateway, live traffic)', () => {
  let tmp: string;
  let gateway: Gateway;
  const versions: Record<string, Version> = {};

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'tandem-compare-'));
    gateway = await startGateway({ port: 0, adminPort: 0, adminToken: TOKEN, stateDir: tmp, log: () => undefined });
    versions.fast = await versionServer('fast', 0);
    versions.slow = await versionServer('slow', SLOW_MS);
    versions.flaky = await versionServer('flaky', 0, 4);
    for (const [version, server] of Object.entries(versions)) await admin(gateway, 'PUT', `models/${MODEL}/versions/${version}/endpoints`, { urls: [server.url] });
    await admin(gateway, 'PUT', `models/${MODEL}/traffic`, { weights: { fast: 34, slow: 33, flaky: 33 }, pinned: [] });
  });

  after(async () => {
    await gateway?.close();
    for (const server of Object.values(versions)) await server.close();
    await rm(tmp, { recursive: true, force: true });
  });

  it('passes a candidate no worse than stable, and fails a slower or more failing one with both numbers in the reason', async () => {
    // Live callers throughout the windows: six at a time, each request going where the weights send it.
    let sending = true;
    const codes: number[] = [];
    const callers = Array.from({ length: 6 }, async () => {
      while (sending) {
        const response = await fetch(`${gateway.url}/${MODEL}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"x":1}' });
        await response.arrayBuffer();
        codes.push(response.status);
      }
    });

    const analyzer = new GatewayAnalyzer(gateway.adminUrl, { token: TOKEN }, { heartbeatEveryMs: 500 });
    const compare = { errorRate: { maxIncrease: 0.01 }, p95: { maxRatio: 1.2 } };
    // maxErrorRate 1: only the comparisons can fail these windows.
    const window = (version: string, stable: string | undefined, only?: keyof typeof compare): AnalysisInput => ({
      model: MODEL,
      environment: 'test',
      version,
      ...(stable === undefined ? {} : { stable }),
      rule: { maxErrorRate: 1, minRequests: 10, compare: only ? { [only]: compare[only] } : compare },
      windowMs: 3000,
    });
    const signal = new AbortController().signal;
    // flaky and fast answer equally fast, so only their error rates are compared: their p95s
    // differ by the machine's load alone.
    const [fasterThanStable, slowerThanStable, failingMore, stableIdle, noStable] = await Promise.all([
      analyzer.analyze(window('fast', 'slow'), () => undefined, signal),
      analyzer.analyze(window('slow', 'fast'), () => undefined, signal),
      analyzer.analyze(window('flaky', 'fast', 'errorRate'), () => undefined, signal),
      analyzer.analyze(window('fast', 'retired'), () => undefined, signal),
      analyzer.analyze(window('fast', undefined), () => undefined, signal),
    ]);
    sending = false;
    await Promise.all(callers);
    assert.ok(codes.length >= 60, `sent ${codes.length} requests`);
    assert.ok(codes.includes(500), 'flaky answered 500 to some callers');

    assert.equal(fasterThanStable.outcome, 'pass', fasterThanStable.detail);
    assert.equal(fasterThanStable.stable?.version, 'slow');
    assert.ok(fasterThanStable.stable!.requests >= 10, fasterThanStable.detail);
    assert.ok(fasterThanStable.stable!.p95LatencyMs! >= 500, fasterThanStable.detail); // the 0.5 s bucket holds every 600 ms answer
    assert.deepEqual(fasterThanStable.comparisons?.map((c) => [c.metric, c.verdict]), [['errorRate', 'pass'], ['p95LatencyMs', 'pass']]);
    assert.match(fasterThanStable.detail, /vs stable slow \(\d+ requests\): error rate 0\.0% ≤ stable 0\.0% \+ 1 point, p95 [\d.]+ ms ≤ 1\.2 × stable [\d.]+ ms$/);

    assert.equal(slowerThanStable.outcome, 'fail', slowerThanStable.detail);
    const p95 = slowerThanStable.comparisons!.find((c) => c.metric === 'p95LatencyMs')!;
    assert.equal(p95.verdict, 'fail');
    assert.ok(p95.candidate! > 1.2 * p95.stable!, JSON.stringify(p95));
    assert.match(slowerThanStable.detail, new RegExp(`^p95 ${p95.candidate} ms > 1\\.2 × stable ${p95.stable} ms \\(`));

    assert.equal(failingMore.outcome, 'fail', failingMore.detail);
    const errors = failingMore.comparisons!.find((c) => c.metric === 'errorRate')!;
    assert.equal(failingMore.comparisons!.length, 1);
    assert.deepEqual([errors.verdict, errors.stable], ['fail', 0]);
    assert.ok(errors.candidate! > 0.15 && errors.candidate! < 0.35, JSON.stringify(errors));
    assert.match(failingMore.detail, new RegExp(`^error rate ${(errors.candidate! * 100).toFixed(1)}% > stable 0\\.0% \\+ 1 point \\(`));

    assert.equal(stableIdle.outcome, 'inconclusive', stableIdle.detail);
    assert.match(stableIdle.detail, /; stable retired: 0 requests, fewer than the 10 needed to compare$/);

    assert.equal(noStable.outcome, 'pass', noStable.detail);
    assert.match(noStable.detail, /; comparison with stable skipped: no stable version$/);
  });
});
