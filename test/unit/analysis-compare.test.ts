import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { judgeWithStable } from '../../src/activities/analysis/compare';
import { parseSpec } from '../../src/model-spec/parse';
import { rolloutPlan } from '../../src/rollout/plan';
import { readmeSection } from '../helpers/readme';

const compare = { errorRate: { maxIncrease: 0.01 }, p95: { maxRatio: 1.2 } };
const rule = { maxErrorRate: 0.5, minRequests: 10, compare };
const stable = (measures: { requests: number; errorRate: number; p95LatencyMs?: number }) => ({ version: 'v1', measures });

describe('analysis compared with stable in the same window', () => {
  it('passes a candidate within both conditions, recording each comparison with both numbers', () => {
    const result = judgeWithStable({ requests: 100, errorRate: 0.015, p95LatencyMs: 288 }, stable({ requests: 80, errorRate: 0.005, p95LatencyMs: 240 }), rule);
    assert.equal(result.outcome, 'pass', result.detail);
    assert.deepEqual(result.stable, { version: 'v1', requests: 80, errorRate: 0.005, p95LatencyMs: 240 });
    assert.deepEqual(result.comparisons, [
      { metric: 'errorRate', candidate: 0.015, stable: 0.005, condition: '≤ stable + 1 point', limit: 0.01, verdict: 'pass' },
      { metric: 'p95LatencyMs', candidate: 288, stable: 240, condition: '≤ 1.2 × stable', limit: 1.2, verdict: 'pass' },
    ]);
    assert.equal(
      result.detail,
      '100 requests, error rate 1.5% (max 50.0%), p95 288 ms; vs stable v1 (80 requests): error rate 1.5% ≤ stable 0.5% + 1 point, p95 288 ms ≤ 1.2 × stable 240 ms',
    );
  });

  it('fails on the p95 ratio with both numbers in the reason', () => {
    const result = judgeWithStable({ requests: 100, errorRate: 0, p95LatencyMs: 312 }, stable({ requests: 100, errorRate: 0, p95LatencyMs: 240 }), rule);
    assert.equal(result.outcome, 'fail');
    assert.equal(result.detail, 'p95 312 ms > 1.2 × stable 240 ms (100 requests, error rate 0.0% (max 50.0%), p95 312 ms; stable v1: 100 requests)');
    assert.deepEqual(result.comparisons?.map((c) => c.verdict), ['pass', 'fail']);
  });

  it('fails on the error-rate increase with both rates in the reason, though within maxErrorRate', () => {
    const result = judgeWithStable({ requests: 100, errorRate: 0.03, p95LatencyMs: 100 }, stable({ requests: 100, errorRate: 0.01, p95LatencyMs: 100 }), rule);
    assert.equal(result.outcome, 'fail');
    assert.match(result.detail, /^error rate 3\.0% > stable 1\.0% \+ 1 point \(/);
  });

  it('names both failing comparisons; the fixed limits keep failing on their own', () => {
    const both = judgeWithStable({ requests: 100, errorRate: 0.2, p95LatencyMs: 500 }, stable({ requests: 100, errorRate: 0, p95LatencyMs: 100 }), rule);
    assert.match(both.detail, /^error rate 20\.0% > stable 0\.0% \+ 1 point; p95 500 ms > 1\.2 × stable 100 ms/);
    const fixed = judgeWithStable({ requests: 100, errorRate: 0.6, p95LatencyMs: 100 }, stable({ requests: 100, errorRate: 0.6, p95LatencyMs: 100 }), rule);
    assert.equal(fixed.outcome, 'fail');
    assert.match(fixed.detail, /^error rate 60\.0% above 50\.0%.*vs stable v1 \(100 requests\): error rate 60\.0% ≤ stable 60\.0% \+ 1 point/);
  });

  it('compares at the limits: equal passes (0.01 + 0.01 is not above 0.02), after rounding p95 to 0.1 ms', () => {
    assert.equal(judgeWithStable({ requests: 10, errorRate: 0.02 }, stable({ requests: 10, errorRate: 0.01 }), { ...rule, compare: { errorRate: { maxIncrease: 0.01 } } }).outcome, 'pass');
    const p95 = (candidate: number) =>
      judgeWithStable({ requests: 10, errorRate: 0, p95LatencyMs: candidate }, stable({ requests: 10, errorRate: 0, p95LatencyMs: 240 }), { ...rule, compare: { p95: { maxRatio: 1.2 } } }).outcome;
    assert.equal(p95(288.04), 'pass');
    assert.equal(p95(288.06), 'fail');
  });

  it('is inconclusive with too few requests on stable, naming it; too few on the candidate stays as before', () => {
    const starved = judgeWithStable({ requests: 100, errorRate: 0, p95LatencyMs: 100 }, stable({ requests: 3, errorRate: 0, p95LatencyMs: 100 }), rule);
    assert.equal(starved.outcome, 'inconclusive');
    assert.match(starved.detail, /; stable v1: 3 requests, fewer than the 10 needed to compare$/);
    assert.equal(starved.comparisons, undefined);
    const candidate = judgeWithStable({ requests: 9, errorRate: 0 }, stable({ requests: 100, errorRate: 0 }), rule);
    assert.equal(candidate.outcome, 'inconclusive');
    assert.match(candidate.detail, /fewer than the 10 needed to judge$/);
  });

  it('is inconclusive when a p95 it must compare was not measured', () => {
    const result = judgeWithStable({ requests: 100, errorRate: 0, p95LatencyMs: 100 }, stable({ requests: 100, errorRate: 0 }), rule);
    assert.equal(result.outcome, 'inconclusive');
    assert.match(result.detail, /p95 100 ms vs stable n\/a: not compared/);
  });

  it('skips the comparison with a note when there is no stable version, judging the fixed limits alone', () => {
    const result = judgeWithStable({ requests: 100, errorRate: 0, p95LatencyMs: 100 }, undefined, rule);
    assert.equal(result.outcome, 'pass');
    assert.match(result.detail, /; comparison with stable skipped: no stable version$/);
    assert.equal(result.comparisons, undefined);
  });

  it('without compare is the fixed-limit verdict, stable or not', () => {
    const plain = { maxErrorRate: 0.05, minRequests: 10 };
    assert.equal(judgeWithStable({ requests: 100, errorRate: 0 }, stable({ requests: 1, errorRate: 1 }), plain).detail, '100 requests, error rate 0.0% (max 5.0%), p95 n/a');
  });
});

describe('compare in tandem.yaml', () => {
  const spec = (analysis: string) =>
    parseSpec(`port: 8080\nhealth: { path: /healthz }\nrollout:\n  strategy: canary\n  steps:\n    - setWeight: 20\n    - analysis: ${analysis}\n`);

  it('reaches the analysis round of the rollout plan, and only when given', () => {
    const plan = rolloutPlan(spec('{ interval: 30s, compare: { errorRate: { maxIncrease: 0.01 }, p95: { maxRatio: 1.2 } } }').rollout);
    assert.deepEqual(plan[1], {
      kind: 'analysis',
      intervalMs: 30_000,
      count: 3,
      rule: { maxErrorRate: 0.05, maxP95LatencyMs: undefined, minRequests: 10, compare: { errorRate: { maxIncrease: 0.01 }, p95: { maxRatio: 1.2 } } },
    });
    assert.equal('compare' in (rolloutPlan(spec('{ interval: 30s }').rollout)[1] as { rule: object }).rule, false);
  });

  it('refuses an empty compare, an unknown metric and out-of-range limits, naming the field', () => {
    assert.throws(() => spec('{ compare: {} }'), /rollout\.steps\[1\]\.analysis\.compare: names no comparison/s);
    assert.throws(() => spec('{ compare: { p99: { maxRatio: 2 } } }'), /compare.*p99/s);
    assert.throws(() => spec('{ compare: { errorRate: { maxIncrease: 2 } } }'), /compare\.errorRate\.maxIncrease/);
    assert.throws(() => spec('{ compare: { p95: { maxRatio: 0 } } }'), /compare\.p95\.maxRatio/);
  });
});

describe('compare in the README\'s spec reference', () => {
  it('is the example as written, and it parses into the plan', () => {
    const yaml = readmeSection("## The model's spec", '## Configuration').yaml(/compare:/);
    const analysis = rolloutPlan(parseSpec(yaml).rollout).find((s) => s.kind === 'analysis');
    assert.deepEqual(analysis && 'rule' in analysis ? analysis.rule.compare : undefined, { errorRate: { maxIncrease: 0.01 }, p95: { maxRatio: 1.2 } });
  });
});
