import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { difference, measuresOf, parseMetricsJson, snapshotOf, type TrafficSnapshot } from '../../src/activities/analysis/gateway/snapshot';
import { createMetrics } from '../../src/gateway/metrics';

/** The gateway's metrics as GET /_tandem/metrics.json sends them: prom-client's JSON, through the wire. */
async function readBack(metrics: ReturnType<typeof createMetrics>): Promise<unknown> {
  return JSON.parse(JSON.stringify(await metrics.registry.getMetricsAsJSON())) as unknown;
}

describe("reading the gateway's metrics JSON", () => {
  it('takes the counters and latency buckets of one model and version only', async () => {
    const metrics = createMetrics();
    for (const code of ['200', '200', '200', '503']) metrics.requests.inc({ model: 'fraud', version: 'v2', code });
    metrics.requests.inc({ model: 'fraud', version: 'v1', code: '500' });
    metrics.requests.inc({ model: 'other', version: 'v2', code: '500' });
    metrics.duration.observe({ model: 'fraud', version: 'v2' }, 0.03);
    metrics.duration.observe({ model: 'fraud', version: 'v2' }, 0.3);
    metrics.duration.observe({ model: 'fraud', version: 'v2' }, 20);
    metrics.duration.observe({ model: 'other', version: 'v2' }, 0.001);
    metrics.weight.set({ model: 'fraud', version: 'v2' }, 10);

    const snapshot = snapshotOf(parseMetricsJson(await readBack(metrics)), 'fraud', 'v2');
    assert.deepEqual(snapshot.byCode, { '200': 3, '503': 1 });
    const count = (le: number): number | undefined => snapshot.buckets.find((b) => b.le === le)?.count;
    assert.equal(count(0.025), 0);
    assert.equal(count(0.05), 1);
    assert.equal(count(0.3), 2);
    assert.equal(count(10), 2);
    assert.equal(count(Infinity), 3);
    assert.deepEqual(
      snapshot.buckets.map((b) => b.le),
      [...snapshot.buckets.map((b) => b.le)].sort((a, b) => a - b),
    );
    assert.equal(snapshot.buckets.at(-1)!.le, Infinity);
  });

  it('reads nothing for a version the gateway has not counted', async () => {
    const metrics = createMetrics();
    metrics.requests.inc({ model: 'fraud', version: 'v1', code: '200' });
    assert.deepEqual(snapshotOf(parseMetricsJson(await readBack(metrics)), 'fraud', 'v9'), { byCode: {}, buckets: [] });
  });

  it('refuses an answer that is not prom-client JSON, naming the field', () => {
    assert.throws(() => parseMetricsJson({ metrics: [] }), /not prom-client's JSON: \(root\)/);
    assert.throws(() => parseMetricsJson([{ name: 'x', values: [{ value: '1', labels: {} }] }]), /not prom-client's JSON: 0\.values\.0\.value/);
  });
});

describe("a window's traffic from two readings", () => {
  const reading = (ok: number, failed: number, fast: number, all: number): TrafficSnapshot => ({
    byCode: { '200': ok, '500': failed },
    buckets: [
      { le: 0.1, count: fast },
      { le: Infinity, count: all },
    ],
  });

  it('subtracts the start from the end', () => {
    assert.deepEqual(difference(reading(10, 1, 11, 11), reading(30, 1, 25, 31)), reading(20, 0, 14, 20));
  });

  it('takes the end as the increase when the gateway restarted in between', () => {
    assert.deepEqual(difference(reading(100, 5, 105, 105), reading(3, 1, 4, 4)), reading(3, 1, 4, 4));
  });

  it('counts a status code first seen at the end whole', () => {
    const start: TrafficSnapshot = { byCode: { '200': 5 }, buckets: [] };
    assert.deepEqual(difference(start, { byCode: { '200': 7, '502': 2 }, buckets: [] }).byCode, { '200': 2, '502': 2 });
  });

  it('measures requests, the share of 5xx and the p95', () => {
    const measures = measuresOf({ byCode: { '200': 15, '404': 3, '500': 1, '503': 1 }, buckets: [{ le: 0.1, count: 20 }, { le: Infinity, count: 20 }] });
    assert.equal(measures.requests, 20);
    assert.equal(measures.errorRate, 0.1); // 4xx are the caller's, not the version's
    assert.ok(Math.abs(measures.p95LatencyMs! - 95) < 1e-9);
    assert.deepEqual(measuresOf({ byCode: {}, buckets: [] }), { requests: 0, errorRate: 0, p95LatencyMs: undefined });
  });
});
