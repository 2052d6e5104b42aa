/**
 * The verdict of an analysis window, whichever provider measured it: the same rule and the same
 * wording for the gateway's counters and for Prometheus queries. Pure.
 */
import type { AnalysisInput, AnalysisResult } from '../types';

export type AnalysisRule = AnalysisInput['rule'];

/** What a window measured, however it was measured (gateway counters, a Prometheus query). */
export interface WindowMeasures {
  requests: number;
  /** errors / requests, 0..1 */
  errorRate: number;
  /** undefined when nothing was observed */
  p95LatencyMs?: number | undefined;
}

/**
 * Judges measured traffic against the rule: `inconclusive` when fewer than rule.minRequests,
 * `fail` when the error rate or p95 latency exceeds the rule, else `pass`. The p95 is rounded to
 * 0.1 ms before it is compared, so the verdict agrees with the number the detail shows. Pure.
 */
export function judgeMeasures(measures: WindowMeasures, rule: AnalysisRule): AnalysisResult {
  const { requests, errorRate } = measures;
  const p95 = measures.p95LatencyMs;
  const p95LatencyMs = p95 === undefined ? undefined : Math.round(p95 * 10) / 10;
  const percent = (x: number): string => `${(x * 100).toFixed(1)}%`;
  const parts = [
    `${requests} request${requests === 1 ? '' : 's'}`,
    `error rate ${percent(errorRate)} (max ${percent(rule.maxErrorRate)})`,
    p95LatencyMs === undefined ? 'p95 n/a' : `p95 ${p95LatencyMs} ms${rule.maxP95LatencyMs !== undefined ? ` (max ${rule.maxP95LatencyMs} ms)` : ''}`,
  ];
  const base = { requests, errorRate, ...(p95LatencyMs === undefined ? {} : { p95LatencyMs }) };
  if (requests < rule.minRequests) {
    return { outcome: 'inconclusive', ...base, detail: `${parts.join(', ')}: fewer than the ${rule.minRequests} needed to judge` };
  }
  const failures: string[] = [];
  if (errorRate > rule.maxErrorRate) failures.push(`error rate ${percent(errorRate)} above ${percent(rule.maxErrorRate)}`);
  if (rule.maxP95LatencyMs !== undefined && p95LatencyMs !== undefined && p95LatencyMs > rule.maxP95LatencyMs) {
    failures.push(`p95 latency ${p95LatencyMs} ms above ${rule.maxP95LatencyMs} ms`);
  }
  if (failures.length > 0) {
    // The failures already name the error rate (and p95 when it failed); add only what they do not.
    const context = [parts[0]!, ...(failures.some((f) => f.startsWith('p95')) ? [] : [parts[2]!])];
    return { outcome: 'fail', ...base, detail: `${failures.join('; ')} (${context.join(', ')})` };
  }
  return { outcome: 'pass', ...base, detail: parts.join(', ') };
}
