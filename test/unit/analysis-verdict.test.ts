import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { judgeMeasures } from '../../src/activities/analysis/verdict';

const rule = { maxErrorRate: 0.05, maxP95LatencyMs: 200, minRequests: 10 };

describe('analysis verdict', () => {
  it('passes traffic within the rule, rounding p95 to 0.1 ms', () => {
    assert.deepEqual(judgeMeasures({ requests: 100, errorRate: 0.01, p95LatencyMs: 120.04 }, rule), {
      outcome: 'pass',
      requests: 100,
      errorRate: 0.01,
      p95LatencyMs: 120,
      detail: '100 requests, error rate 1.0% (max 5.0%), p95 120 ms (max 200 ms)',
    });
  });

  it('fails on the error rate, naming the p95 too', () => {
    assert.deepEqual(judgeMeasures({ requests: 100, errorRate: 0.1, p95LatencyMs: 120 }, rule), {
      outcome: 'fail',
      requests: 100,
      errorRate: 0.1,
      p95LatencyMs: 120,
      detail: 'error rate 10.0% above 5.0% (100 requests, p95 120 ms (max 200 ms))',
    });
  });

  it('fails on the p95 latency', () => {
    const result = judgeMeasures({ requests: 100, errorRate: 0, p95LatencyMs: 250 }, rule);
    assert.equal(result.outcome, 'fail');
    assert.equal(result.detail, 'p95 latency 250 ms above 200 ms (100 requests)');
  });

  it('names both failures when both fail', () => {
    assert.equal(
      judgeMeasures({ requests: 100, errorRate: 0.5, p95LatencyMs: 250 }, rule).detail,
      'error rate 50.0% above 5.0%; p95 latency 250 ms above 200 ms (100 requests)',
    );
  });

  it('is inconclusive below minRequests, whatever the rest measured', () => {
    assert.deepEqual(judgeMeasures({ requests: 9, errorRate: 1 }, rule), {
      outcome: 'inconclusive',
      requests: 9,
      errorRate: 1,
      detail: '9 requests, error rate 100.0% (max 5.0%), p95 n/a: fewer than the 10 needed to judge',
    });
    assert.equal(judgeMeasures({ requests: 1, errorRate: 0, p95LatencyMs: 1 }, rule).detail.startsWith('1 request,'), true);
    assert.equal(judgeMeasures({ requests: 10, errorRate: 0 }, rule).outcome, 'pass');
  });

  it('compares at the limits: equal passes, above fails, after rounding', () => {
    assert.equal(judgeMeasures({ requests: 100, errorRate: 0.05, p95LatencyMs: 200 }, rule).outcome, 'pass');
    assert.equal(judgeMeasures({ requests: 100, errorRate: 0.0501, p95LatencyMs: 200 }, rule).outcome, 'fail');
    assert.equal(judgeMeasures({ requests: 100, errorRate: 0, p95LatencyMs: 200.04 }, rule).outcome, 'pass');
    assert.equal(judgeMeasures({ requests: 100, errorRate: 0, p95LatencyMs: 200.06 }, rule).outcome, 'fail');
  });

  it('does not judge latency without a p95 limit or without a p95', () => {
    const noLimit = { maxErrorRate: 0.05, minRequests: 10 };
    assert.deepEqual(judgeMeasures({ requests: 20, errorRate: 0, p95LatencyMs: 9000 }, noLimit), {
      outcome: 'pass',
      requests: 20,
      errorRate: 0,
      p95LatencyMs: 9000,
      detail: '20 requests, error rate 0.0% (max 5.0%), p95 9000 ms',
    });
    assert.equal(judgeMeasures({ requests: 20, errorRate: 0 }, rule).outcome, 'pass');
  });
});
