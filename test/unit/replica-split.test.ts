/** Replica arithmetic of the replica-ratio environment: exact splits, rounding, sums, and which versions keep their pods. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { replicaPlan, replicaSplit, soleVersion } from '../../src/activities/kubernetes/replica-split';

const sum = (counts: Record<string, number>): number => Object.values(counts).reduce((a, b) => a + b, 0);

describe('replicaSplit', () => {
  it('splits exactly when the weights divide the total', () => {
    assert.deepEqual(replicaSplit({ v1: 90, v2: 10 }, 10), { v1: 9, v2: 1 });
    assert.deepEqual(replicaSplit({ v1: 50, v2: 50 }, 4), { v1: 2, v2: 2 });
    assert.deepEqual(replicaSplit({ v1: 100 }, 3), { v1: 3 });
  });

  it('rounds by largest remainder, giving every positive weight at least one replica', () => {
    assert.deepEqual(replicaSplit({ v1: 90, v2: 10 }, 4), { v1: 3, v2: 1 });
    assert.deepEqual(replicaSplit({ v1: 99, v2: 1 }, 2), { v1: 1, v2: 1 });
    assert.deepEqual(replicaSplit({ v1: 60, v2: 40 }, 3), { v1: 2, v2: 1 });
    assert.deepEqual(replicaSplit({ a: 34, b: 33, c: 33 }, 4), { a: 2, b: 1, c: 1 });
  });

  it('breaks equal remainders by version name, whatever the key order', () => {
    assert.deepEqual(replicaSplit({ b: 50, a: 50 }, 3), { a: 2, b: 1 });
    assert.deepEqual(replicaSplit({ a: 50, b: 50 }, 3), { a: 2, b: 1 });
  });

  it('gives weight 0 no replica', () => {
    assert.deepEqual(replicaSplit({ v1: 100, v2: 0 }, 4), { v1: 4, v2: 0 });
  });

  it('adds up to the total, or to the number of positive weights when that is larger', () => {
    for (const total of [1, 2, 3, 4, 5, 7, 10, 13, 100]) {
      for (const weights of [{ v1: 90, v2: 10 }, { v1: 1, v2: 99 }, { a: 20, b: 30, c: 50 }, { a: 1, b: 1, c: 98 }, { v1: 100, v2: 0 }] as Array<Record<string, number>>) {
        const positive = Object.values(weights).filter((w) => w > 0).length;
        assert.equal(sum(replicaSplit(weights, total)), Math.max(total, positive), `${JSON.stringify(weights)} over ${total}`);
      }
    }
    assert.deepEqual(replicaSplit({ a: 1, b: 1, c: 98 }, 1), { a: 1, b: 1, c: 1 });
  });
});

describe('soleVersion', () => {
  it('names the version with all the traffic, and nothing while traffic is split or absent', () => {
    assert.equal(soleVersion({ v1: 100 }), 'v1');
    assert.equal(soleVersion({ v1: 100, v0: 0 }), 'v1');
    assert.equal(soleVersion({ v1: 90, v2: 10 }), undefined);
    assert.equal(soleVersion({}), undefined);
  });
});

describe('replicaPlan', () => {
  const versions = [
    { version: 'v0', replicas: 2, specReplicas: 2 },
    { version: 'v1', replicas: 4, specReplicas: 4 },
    { version: 'v2', replicas: 2, specReplicas: 2 },
  ];

  it('splits the largest spec count among weighted versions and parks the others while traffic is split', () => {
    assert.deepEqual(replicaPlan({ v1: 90, v2: 10 }, versions), [
      { version: 'v0', from: 2, to: 0 },
      { version: 'v1', from: 4, to: 3 },
      { version: 'v2', from: 2, to: 1 },
    ]);
  });

  it('keeps warm versions as they are when one version takes all traffic', () => {
    const after = [
      { version: 'v0', replicas: 2, specReplicas: 2 },
      { version: 'v1', replicas: 3, specReplicas: 4 },
      { version: 'v2', replicas: 1, specReplicas: 2 },
    ];
    assert.deepEqual(replicaPlan({ v2: 100 }, after), [{ version: 'v2', from: 1, to: 2 }]);
    assert.deepEqual(replicaPlan({ v2: 100, v1: 0 }, after), [{ version: 'v2', from: 1, to: 2 }]);
  });

  it('lists increases before decreases, so capacity never dips', () => {
    const plan = replicaPlan({ v1: 10, v2: 90 }, [
      { version: 'v1', replicas: 4, specReplicas: 4 },
      { version: 'v2', replicas: 1, specReplicas: 2 },
    ]);
    assert.deepEqual(plan, [
      { version: 'v2', from: 1, to: 3 },
      { version: 'v1', from: 4, to: 1 },
    ]);
  });

  it('changes nothing without weights, or when the counts are already right', () => {
    assert.deepEqual(replicaPlan({}, versions), []);
    assert.deepEqual(replicaPlan({ v1: 100 }, versions), []);
  });

  it('scales a weighted version back to its spec when it has no pods', () => {
    assert.deepEqual(replicaPlan({ v0: 100 }, [{ version: 'v0', replicas: 0, specReplicas: 2 }]), [{ version: 'v0', from: 0, to: 2 }]);
  });
});
