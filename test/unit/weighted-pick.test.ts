import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pickWeighted } from '../../src/gateway/routes';

/** How `pickWeighted` splits `n` random values spread evenly over [0, 1). */
function split(weights: Record<string, number>, n: number): Record<string, number> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const version = pickWeighted(weights, (i + 0.5) / n) ?? '(none)';
    counts[version] = (counts[version] ?? 0) + 1;
  }
  return counts;
}

describe('weighted pick', () => {
  it('splits evenly spread random values exactly by weight', () => {
    assert.deepEqual(split({ v1: 10, v2: 90 }, 100), { v1: 10, v2: 90 });
    assert.deepEqual(split({ v1: 50, v2: 50 }, 1000), { v1: 500, v2: 500 });
    assert.deepEqual(split({ a: 33, b: 33, c: 34 }, 100), { a: 33, b: 33, c: 34 });
    assert.deepEqual(split({ v1: 1, v2: 99 }, 100), { v1: 1, v2: 99 });
  });

  it('gives each version the interval of its weight, in the order of the weights', () => {
    const weights = { v1: 10, v2: 90 };
    assert.equal(pickWeighted(weights, 0), 'v1');
    assert.equal(pickWeighted(weights, 0.0999), 'v1');
    assert.equal(pickWeighted(weights, 0.1), 'v2');
    assert.equal(pickWeighted(weights, 0.999999), 'v2');
  });

  it('never picks a version at weight 0', () => {
    assert.deepEqual(split({ v0: 0, v1: 100, v2: 0 }, 100), { v1: 100 });
  });

  it('picks nothing when no version has weight', () => {
    assert.equal(pickWeighted({}, 0.5), undefined);
    assert.equal(pickWeighted({ v1: 0 }, 0.5), undefined);
  });

  it('scales weights that do not sum to 100', () => {
    assert.deepEqual(split({ v1: 1, v2: 3 }, 100), { v1: 25, v2: 75 });
  });
});
