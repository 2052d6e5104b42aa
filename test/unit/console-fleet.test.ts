/**
 * The console's pure parts: the role of each running version (stable, canary, warm, pinned-only)
 * and the bounded live series computed from the gateway's cumulative counters.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { roleOf } from '../../src/serve/console/roles';
import { MetricsRing } from '../../src/serve/console/metrics-ring';
import type { TrafficSnapshot } from '../../src/activities/analysis/gateway/snapshot';

const v = (version: string, deployedAt: string) => ({ version, deployedAt });

describe('roleOf', () => {
  const running = [v('v1.0.0', '2026-01-01T00:00:00Z'), v('v1.1.0', '2026-01-02T00:00:00Z'), v('v1.2.0', '2026-01-03T00:00:00Z')];

  it('names the stable version, a canary with a share, and the active release\'s version even at 0%', () => {
    assert.equal(roleOf(running[1]!, running, { 'v1.1.0': 80, 'v1.2.0': 20 }, 'v1.1.0', 'v1.2.0'), 'stable');
    assert.equal(roleOf(running[2]!, running, { 'v1.1.0': 80, 'v1.2.0': 20 }, 'v1.1.0', 'v1.2.0'), 'canary');
    assert.equal(roleOf(running[2]!, running, { 'v1.1.0': 100 }, 'v1.1.0', 'v1.2.0'), 'canary');
    assert.equal(roleOf(running[0]!, running, { 'v1.1.0': 80, 'v1.0.0': 20 }, 'v1.1.0', undefined), 'canary');
  });

  it('a version without share is warm when older than stable, pinned-only when newer', () => {
    assert.equal(roleOf(running[0]!, running, { 'v1.1.0': 100 }, 'v1.1.0', undefined), 'warm');
    assert.equal(roleOf(running[2]!, running, { 'v1.1.0': 100 }, 'v1.1.0', undefined), 'pinned-only');
  });

  it('without a stable version (pinned traffic only), every version without share is warm', () => {
    assert.equal(roleOf(running[0]!, running, {}, undefined, undefined), 'warm');
  });
});

describe('MetricsRing', () => {
  const snapshot = (ok: number, failed: number, fast: number): TrafficSnapshot => ({
    byCode: { '200': ok, '500': failed },
    buckets: [
      { le: 0.05, count: fast },
      { le: 0.5, count: ok + failed },
      { le: Infinity, count: ok + failed },
    ],
  });

  it('turns two readings into a point: rate per second, 5xx share and p95', () => {
    const ring = new MetricsRing(10);
    ring.add('k', 10_000, snapshot(100, 0, 100));
    assert.equal(ring.get('k'), undefined, 'one reading is no point yet');
    ring.add('k', 12_000, snapshot(136, 4, 100));
    const series = ring.get('k')!;
    assert.deepEqual(series.t, [12]);
    assert.deepEqual(series.rps, [20]);
    assert.deepEqual(series.errorRate, [0.1]);
    assert.ok(series.p95Ms[0]! > 50 && series.p95Ms[0]! <= 500, `p95 ${series.p95Ms[0]} lies in the slow bucket`);
  });

  it('a window without requests has a rate of 0 and no error rate or p95 (a gap, not a zero)', () => {
    const ring = new MetricsRing(10);
    ring.add('k', 0, snapshot(5, 0, 5));
    ring.add('k', 2000, snapshot(5, 0, 5));
    assert.deepEqual(ring.get('k'), { t: [2], rps: [0], errorRate: [null], p95Ms: [null] });
  });

  it('keeps at most `capacity` points, dropping the oldest, and forgets pruned keys', () => {
    const ring = new MetricsRing(3);
    for (let i = 0; i <= 5; i++) ring.add('k', i * 1000, snapshot(i * 10, 0, i * 10));
    assert.deepEqual(ring.get('k')!.t, [3, 4, 5]);
    ring.prune((key) => key !== 'k');
    assert.equal(ring.get('k'), undefined);
  });

  it('a counter that went down (gateway restarted) counts its new value as the increase', () => {
    const ring = new MetricsRing(10);
    ring.add('k', 0, snapshot(1000, 0, 1000));
    ring.add('k', 1000, snapshot(7, 0, 7));
    assert.deepEqual(ring.get('k')!.rps, [7]);
  });
});
