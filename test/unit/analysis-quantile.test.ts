import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { quantileMs } from '../../src/activities/analysis/gateway/quantile';

const near = (actual: number | undefined, expected: number): void => {
  assert.ok(actual !== undefined && Math.abs(actual - expected) < 1e-9, `${actual} is not ${expected}`);
};

describe('quantiles from cumulative histogram buckets', () => {
  it('has no quantile without observations', () => {
    assert.equal(quantileMs([], 0.95), undefined);
    assert.equal(quantileMs([{ le: 0.1, count: 0 }, { le: Infinity, count: 0 }], 0.95), undefined);
  });

  it('interpolates linearly inside the bucket the rank falls in, as histogram_quantile() does', () => {
    const buckets = [
      { le: 0.1, count: 50 },
      { le: 0.2, count: 90 },
      { le: 0.5, count: 100 },
      { le: Infinity, count: 100 },
    ];
    near(quantileMs(buckets, 0.95), 350); // rank 95: half-way through (0.2, 0.5]
    near(quantileMs(buckets, 0.5), 100); // rank 50: the top of the first bucket
    near(quantileMs(buckets, 0.25), 50); // the first bucket starts at 0
  });

  it('answers the highest finite bound when the rank falls in +Inf', () => {
    near(quantileMs([{ le: 0.1, count: 0 }, { le: 1, count: 0 }, { le: Infinity, count: 5 }], 0.95), 1000);
    near(quantileMs([{ le: 0.1, count: 90 }, { le: Infinity, count: 100 }], 0.95), 100);
  });

  it('answers 0 when only +Inf exists, since no finite bound is known', () => {
    near(quantileMs([{ le: Infinity, count: 3 }], 0.95), 0);
  });

  it('works with one finite bucket, with or without +Inf', () => {
    near(quantileMs([{ le: 0.5, count: 4 }, { le: Infinity, count: 4 }], 0.95), 475);
    near(quantileMs([{ le: 0.2, count: 10 }], 0.95), 190); // the total is then the last bucket's count
  });

  it('skips empty buckets below the rank', () => {
    near(quantileMs([{ le: 0.1, count: 0 }, { le: 0.2, count: 0 }, { le: 0.4, count: 10 }, { le: Infinity, count: 10 }], 0.5), 300);
  });
});
