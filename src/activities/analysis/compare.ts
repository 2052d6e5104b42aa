/**
 * The verdict of a window that also compares the candidate with the stable version measured in
 * the same window (Kayenta's canary judgement, without a separate service): an error rate or a
 * p95 is judged against what stable did under the same traffic at the same time, not only against
 * fixed limits. Both providers measure the two versions and judge here. Pure.
 */
import type { AnalysisResult, ComparisonResult, StableComparison } from '../types';
import { type AnalysisRule, judgeMeasures, type WindowMeasures } from './verdict';

/** Measures closer than this are equal: 0.01 + 0.01 must not exceed 0.02. */
const EPSILON = 1e-9;

const percent = (x: number): string => `${(x * 100).toFixed(1)}%`;
const roundP95 = (ms: number | undefined): number | undefined => (ms === undefined ? undefined : Math.round(ms * 10) / 10);
const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

const points = (maxIncrease: number): string => {
  const n = Number((maxIncrease * 100).toFixed(2));
  return `${n} point${n === 1 ? '' : 's'}`;
};

/**
 * The rule.compare conditions, judged on two windows that both have enough requests: error rate
 * candidate ≤ stable + maxIncrease; p95 candidate ≤ maxRatio × stable (both rounded to 0.1 ms
 * first, as the detail shows them), `inconclusive` when either p95 is missing. Pure.
 */
export function compareWithStable(candidate: WindowMeasures, stable: WindowMeasures, compare: StableComparison): ComparisonResult[] {
  const results: ComparisonResult[] = [];
  if (compare.errorRate) {
    const ok = candidate.errorRate <= stable.errorRate + compare.errorRate.maxIncrease + EPSILON;
    results.push({
      metric: 'errorRate',
      candidate: candidate.errorRate,
      stable: stable.errorRate,
      condition: `≤ stable + ${points(compare.errorRate.maxIncrease)}`,
      limit: compare.errorRate.maxIncrease,
      verdict: ok ? 'pass' : 'fail',
    });
  }
  if (compare.p95) {
    const mine = roundP95(candidate.p95LatencyMs);
    const theirs = roundP95(stable.p95LatencyMs);
    const verdict = mine === undefined || theirs === undefined ? 'inconclusive' : mine <= compare.p95.maxRatio * theirs + EPSILON ? 'pass' : 'fail';
    results.push({
      metric: 'p95LatencyMs',
      ...(mine === undefined ? {} : { candidate: mine }),
      ...(theirs === undefined ? {} : { stable: theirs }),
      condition: `≤ ${compare.p95.maxRatio} × stable`,
      limit: compare.p95.maxRatio,
      verdict,
    });
  }
  return results;
}

/**
 * One comparison in words, with both numbers: `p95 312 ms > 1.2 × stable 240 ms`,
 * `error rate 0.5% ≤ stable 0.2% + 1 point`. Pure.
 */
export function describeComparison(c: ComparisonResult): string {
  const sign = c.verdict === 'fail' ? '>' : '≤';
  if (c.metric === 'errorRate') {
    return `error rate ${percent(c.candidate!)} ${sign} stable ${percent(c.stable!)} + ${points(c.limit)}`;
  }
  const ms = (x: number | undefined): string => (x === undefined ? 'n/a' : `${x} ms`);
  if (c.verdict === 'inconclusive') return `p95 ${ms(c.candidate)} vs stable ${ms(c.stable)}: not compared (no p95 measured)`;
  return `p95 ${ms(c.candidate)} ${sign} ${c.limit} × stable ${ms(c.stable)}`;
}

/**
 * Judges the candidate's window against the rule (verdict.ts) and, when rule.compare is set,
 * against the stable version's window of the same time:
 * - no rule.compare: the fixed-limit verdict alone;
 * - no stable version: the fixed-limit verdict, the comparison skipped with a note (a first
 *   release has no canary steps, so this is rare: a workflow that did not say which is stable);
 * - fewer than rule.minRequests on the candidate: `inconclusive`, as without comparisons;
 * - fewer on stable: `inconclusive` (unless the fixed limits already failed: that stands);
 * - a failing comparison fails the window, its numbers first in the detail; one that could not
 *   be measured makes it `inconclusive`.
 * Every comparison is recorded in `comparisons`, stable's side in `stable`. Pure.
 */
export function judgeWithStable(candidate: WindowMeasures, stable: { version: string; measures: WindowMeasures } | undefined, rule: AnalysisRule): AnalysisResult {
  const base = judgeMeasures(candidate, rule);
  const compare = rule.compare;
  if (!compare || (!compare.errorRate && !compare.p95)) return base;
  if (!stable) return { ...base, detail: `${base.detail}; comparison with stable skipped: no stable version` };
  if (base.outcome === 'inconclusive') return base;

  const { requests, errorRate } = stable.measures;
  const p95LatencyMs = roundP95(stable.measures.p95LatencyMs);
  const side = { version: stable.version, requests, errorRate, ...(p95LatencyMs === undefined ? {} : { p95LatencyMs }) };
  if (requests < rule.minRequests) {
    const why = `stable ${stable.version}: ${plural(requests, 'request')}, fewer than the ${rule.minRequests} needed to compare`;
    return { ...base, outcome: base.outcome === 'fail' ? 'fail' : 'inconclusive', stable: side, detail: `${base.detail}; ${why}` };
  }

  const comparisons = compareWithStable(candidate, stable.measures, compare);
  const vsStable = `vs stable ${stable.version} (${plural(requests, 'request')}): ${comparisons.map(describeComparison).join(', ')}`;
  const failed = comparisons.filter((c) => c.verdict === 'fail');
  const recorded = { stable: side, comparisons };
  if (base.outcome === 'fail') return { ...base, ...recorded, detail: `${base.detail}; ${vsStable}` };
  if (failed.length > 0) {
    return {
      ...base,
      ...recorded,
      outcome: 'fail',
      detail: `${failed.map(describeComparison).join('; ')} (${base.detail}; stable ${stable.version}: ${plural(requests, 'request')})`,
    };
  }
  if (comparisons.some((c) => c.verdict === 'inconclusive')) return { ...base, ...recorded, outcome: 'inconclusive', detail: `${base.detail}; ${vsStable}` };
  return { ...base, ...recorded, detail: `${base.detail}; ${vsStable}` };
}
