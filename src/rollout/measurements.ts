/**
 * Every number an analysis window judged, as one record each — metric, value, condition, verdict
 * and window — for the release's status and history (what Kayenta's and Argo Rollouts'
 * AnalysisRun keep per measurement). Pure: the workflow records them from the activities' results.
 */
import type { AnalysisInput, AnalysisResult, ShadowResult } from '../activities/types';

export interface RecordedMeasurement {
  /** the rollout step's index, or `background` for the spec's backgroundAnalysis */
  step: number | 'background';
  /** the window's number within its step (1-based) */
  round: number;
  window: { from: string; to: string };
  /** errorRate, p95LatencyMs, errorRate vs stable, p95LatencyMs vs stable, agreement, or a web metric's name */
  metric: string;
  /** undefined when it could not be measured (too few requests, no number at a path) */
  value?: number;
  /** stable's value in the same window, for comparisons */
  stable?: number;
  /** e.g. `≤ 0.05`, `≤ 1.2 × stable`, `≥ 0.98` */
  condition: string;
  verdict: 'pass' | 'fail' | 'inconclusive';
}

type Where = Pick<RecordedMeasurement, 'step' | 'round' | 'window'>;

/** The measurements of one analysis window: error rate and p95 against the rule, comparisons with stable, web metrics. */
export function analysisMeasurements(where: Where, result: AnalysisResult, rule: AnalysisInput['rule']): RecordedMeasurement[] {
  const measured = result.requests >= rule.minRequests;
  const judge = (value: number | undefined, max: number): RecordedMeasurement['verdict'] => (!measured || value === undefined ? 'inconclusive' : value > max ? 'fail' : 'pass');
  const records: RecordedMeasurement[] = [
    { ...where, metric: 'errorRate', value: result.errorRate, condition: `≤ ${rule.maxErrorRate} (${result.requests} requests, min ${rule.minRequests})`, verdict: judge(result.errorRate, rule.maxErrorRate) },
  ];
  if (rule.maxP95LatencyMs !== undefined) {
    records.push({ ...where, metric: 'p95LatencyMs', ...(result.p95LatencyMs === undefined ? {} : { value: result.p95LatencyMs }), condition: `≤ ${rule.maxP95LatencyMs}`, verdict: judge(result.p95LatencyMs, rule.maxP95LatencyMs) });
  }
  for (const c of result.comparisons ?? []) {
    records.push({ ...where, metric: `${c.metric} vs stable`, ...(c.candidate === undefined ? {} : { value: c.candidate }), ...(c.stable === undefined ? {} : { stable: c.stable }), condition: c.condition, verdict: c.verdict });
  }
  for (const m of result.measurements ?? []) {
    records.push({ ...where, metric: m.metric, ...(m.value === undefined ? {} : { value: m.value }), condition: m.condition, verdict: m.verdict });
  }
  return records;
}

/** The measurement of one shadow window: the share of compared requests whose predictions agreed. */
export function shadowMeasurements(where: Where, result: ShadowResult, min: number): RecordedMeasurement[] {
  const compared = result.pairs.agree + result.pairs.disagree;
  return [
    {
      ...where,
      metric: 'agreement',
      ...(result.agreement === undefined ? {} : { value: Math.round(result.agreement * 10_000) / 10_000 }),
      condition: `≥ ${min} (${compared} compared)`,
      verdict: result.outcome,
    },
  ];
}
