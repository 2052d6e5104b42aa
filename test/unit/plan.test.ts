import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { describeStep, rolloutPlan } from '../../src/rollout/plan';
import { canaryWeights, promotedState, stableOf, versionsToRetire, withPin, withoutVersions } from '../../src/rollout/traffic';
import { durationMs } from '../../src/shared/duration';
import { runningVersion } from '../doubles/world';

describe('rollout plan', () => {
  it('direct is a single promote', () => {
    assert.deepEqual(rolloutPlan({ strategy: 'direct' }), [{ kind: 'promote' }]);
  });

  it('canary keeps the spec order and ends with promote', () => {
    const plan = rolloutPlan({
      strategy: 'canary',
      steps: [
        { setWeight: 10 },
        { pause: { duration: '30s' } },
        { analysis: { maxErrorRate: 0.01, interval: '1m', count: 3, minRequests: 20 } },
        { approval: {} },
        { pause: {} },
      ],
    });
    assert.deepEqual(plan, [
      { kind: 'setWeight', weight: 10 },
      { kind: 'pause', durationMs: 30_000 },
      { kind: 'analysis', intervalMs: 60_000, count: 3, rule: { maxErrorRate: 0.01, maxP95LatencyMs: undefined, minRequests: 20 } },
      { kind: 'approval', timeoutMs: undefined },
      { kind: 'pause', durationMs: undefined },
      { kind: 'promote' },
    ]);
  });

  it('blue-green previews, gates, then switches', () => {
    assert.deepEqual(rolloutPlan({ strategy: 'blue-green', previewDuration: '5m', approval: { timeout: '1h' } }), [
      { kind: 'pause', durationMs: 300_000 },
      { kind: 'approval', timeoutMs: 3_600_000 },
      { kind: 'promote' },
    ]);
  });

  it('describes steps as sentences', () => {
    assert.equal(describeStep({ kind: 'setWeight', weight: 25 }, 'v2'), 'send 25% of traffic to v2');
    assert.equal(describeStep({ kind: 'approval', timeoutMs: 600_000 }, 'v2'), 'wait for approval (timeout 10m)');
    assert.equal(describeStep({ kind: 'pause' }, 'v2'), 'pause until resumed');
  });
});

describe('traffic arithmetic', () => {
  it('splits between candidate and stable', () => {
    assert.deepEqual(canaryWeights('v2', 'v1', 20), { v2: 20, v1: 80 });
    assert.deepEqual(canaryWeights('v2', 'v1', 100), { v2: 100 });
    assert.deepEqual(canaryWeights('v2', 'v1', 0), { v1: 100 });
    assert.deepEqual(canaryWeights('v2', undefined, 20), { v2: 100 }, 'no stable: the candidate takes all');
  });

  it('finds the stable version', () => {
    assert.equal(stableOf({ weights: { v1: 100 }, pinned: [] }), 'v1');
    assert.equal(stableOf({ weights: { v1: 80, v2: 20 }, pinned: [], stable: 'v1' }), 'v1');
    assert.equal(stableOf({ weights: {}, pinned: [] }), undefined);
  });

  it('pins once', () => {
    assert.deepEqual(withPin(['v1'], 'v2'), ['v1', 'v2']);
    assert.deepEqual(withPin(['v1', 'v2'], 'v2'), ['v1', 'v2']);
  });

  it('retention keeps the most recent previous versions warm', () => {
    const running = [runningVersion('v1', '2026-01-01T00:00:00Z'), runningVersion('v2', '2026-02-01T00:00:00Z'), runningVersion('v3', '2026-03-01T00:00:00Z'), runningVersion('v4', '2026-04-01T00:00:00Z')];
    assert.deepEqual(versionsToRetire(running, 'v4', 1), ['v2', 'v1']);
    assert.deepEqual(versionsToRetire(running, 'v4', 0), ['v3', 'v2', 'v1']);
    assert.deepEqual(versionsToRetire(running, 'v4', 5), []);
    assert.deepEqual(promotedState('v4', ['v3']), { weights: { v4: 100 }, pinned: ['v4', 'v3'], stable: 'v4' });
  });

  it('parses durations', () => {
    assert.equal(durationMs('500ms'), 500);
    assert.equal(durationMs('1.5s'), 1500);
    assert.equal(durationMs('2h'), 7_200_000);
    assert.throws(() => durationMs('soon'), /not a duration/);
  });
});

describe('withoutVersions', () => {
  it('drops versions that cannot serve and scales the rest back to 100 in whole percents', () => {
    assert.deepEqual(withoutVersions({ a: 20, b: 80 }, ['b']), { a: 100 });
    assert.deepEqual(withoutVersions({ a: 10, b: 20, c: 70 }, ['c']), { a: 33, b: 67 });
    assert.deepEqual(withoutVersions({ a: 1, b: 1, c: 1, d: 97 }, ['d']), { a: 34, b: 33, c: 33 });
    assert.deepEqual(withoutVersions({ a: 100 }, ['a']), {});
    assert.deepEqual(withoutVersions({ a: 0, b: 100 }, ['b']), {});
  });
});
