/**
 * The verdict of web metrics, and of a window that has both traffic and web metrics. Pure.
 */
import { webCondition } from '../../../rollout/plan';
import type { WebMetricRule } from '../../../model-spec/schema';
import type { AnalysisResult, Measurement } from '../../types';

/** What reading one web metric gave: a number, or why there is none (URL without secrets, and the reason). */
export type WebReading = { value: number } | { problem: string };

/** One metric judged: `fail` outside its bound, `inconclusive` without a number, else `pass`; with a line for the detail. */
export function judgeWebMetric(metric: Pick<WebMetricRule, 'name' | 'min' | 'max'>, reading: WebReading): { measurement: Measurement; line: string } {
  const condition = webCondition(metric);
  if ('problem' in reading) {
    return { measurement: { metric: metric.name, condition, verdict: 'inconclusive' }, line: `${metric.name} not measured: ${reading.problem}` };
  }
  const { value } = reading;
  const measurement = (verdict: Measurement['verdict']): Measurement => ({ metric: metric.name, value, condition, verdict });
  if (metric.min !== undefined && value < metric.min) return { measurement: measurement('fail'), line: `${metric.name} ${value} below min ${metric.min}` };
  if (metric.max !== undefined && value > metric.max) return { measurement: measurement('fail'), line: `${metric.name} ${value} above max ${metric.max}` };
  return { measurement: measurement('pass'), line: `${metric.name} ${value} (${condition})` };
}

/**
 * The window's result with its web metrics: `fail` when traffic or any metric failed, else
 * `inconclusive` when either was, else `pass`. The detail keeps the traffic's and adds the
 * metrics' lines, failures first, so a rollback's reason starts with what failed.
 */
export function withWebResults(traffic: AnalysisResult, judged: Array<{ measurement: Measurement; line: string }>): AnalysisResult {
  const verdicts = [traffic.outcome, ...judged.map((j) => j.measurement.verdict)];
  const outcome = verdicts.includes('fail') ? 'fail' : verdicts.includes('inconclusive') ? 'inconclusive' : 'pass';
  const rank = { fail: 0, inconclusive: 1, pass: 2 } as const;
  const lines = [...judged].sort((a, b) => rank[a.measurement.verdict] - rank[b.measurement.verdict]).map((j) => j.line);
  const webFirst = outcome !== traffic.outcome;
  const detail = webFirst ? `${lines.join('; ')}; traffic: ${traffic.detail}` : `${traffic.detail}; ${lines.join('; ')}`;
  return { ...traffic, outcome, detail, measurements: judged.map((j) => j.measurement) };
}
