/**
 * Analysis of a version's live traffic from the tandem gateway's Prometheus metrics: read the
 * counters at the start and at the end of a window, and judge the difference against the
 * spec's rule (error rate, p95 latency, minimum requests). Read-only, so repeating a window is
 * harmless.
 */
import { waitWindow } from '../wait';
import { GatewayMetric } from '../../naming/metrics';
import type { Analyzer } from '../target';
import type { AnalysisInput, AnalysisResult } from '../types';
import { fetchText } from '../../shared/http';
import { parsePrometheusText, type Sample } from './prometheus-text';

const REQUESTS = GatewayMetric.requests;
const DURATION_BUCKET = `${GatewayMetric.duration}_bucket`;

export type AnalysisRule = AnalysisInput['rule'];

/** One reading of a version's counters. */
export interface TrafficSnapshot {
  /** requests by status code */
  byCode: Record<string, number>;
  /** cumulative latency buckets: upper bound in seconds → count */
  buckets: Array<{ le: number; count: number }>;
}

export interface AnalyzeOptions {
  /** called about every `heartbeatEveryMs` while the window runs */
  heartbeat?: (details?: unknown) => void;
  /** aborts the wait; the signal's reason is thrown */
  signal?: AbortSignal;
  /** default 5000 ms */
  heartbeatEveryMs?: number;
}

/**
 * Reads the gateway's metrics at `metricsUrl` (e.g. http://127.0.0.1:7070/metrics) now and again
 * after `windowMs`, heartbeating meanwhile, and judges the requests `model` `version` received in
 * between: `inconclusive` when fewer than rule.minRequests, `fail` when the share of 5xx answers
 * exceeds rule.maxErrorRate or the p95 latency exceeds rule.maxP95LatencyMs, else `pass`.
 * Throws a plain (retryable) Error when the metrics cannot be read, and the signal's reason when
 * aborted.
 */
export async function analyzeFromGateway(
  metricsUrl: string,
  model: string,
  version: string,
  rule: AnalysisRule,
  windowMs: number,
  options: AnalyzeOptions = {},
): Promise<AnalysisResult> {
  const { heartbeat, signal } = options;
  const startedAt = Date.now();
  const start = await readSnapshot(metricsUrl, model, version, signal);
  await waitWindow(startedAt, windowMs, options.heartbeatEveryMs ?? 5000, heartbeat, signal);
  const end = await readSnapshot(metricsUrl, model, version, signal);
  return judge(difference(start, end), rule);
}

/**
 * The Analyzer of environments routed by the tandem gateway: analyze() is analyzeFromGateway()
 * on `<adminUrl>/metrics`.
 */
export class GatewayAnalyzer implements Analyzer {
  constructor(private readonly adminUrl: string) {}

  analyze(input: AnalysisInput, heartbeat: (details?: unknown) => void, signal: AbortSignal): Promise<AnalysisResult> {
    const metricsUrl = `${this.adminUrl.replace(/\/+$/, '')}/metrics`;
    return analyzeFromGateway(metricsUrl, input.model, input.version, input.rule, input.windowMs, { heartbeat, signal });
  }
}

/** Reads the gateway's counters for one version. Throws a plain Error when the gateway does not answer. */
export async function readSnapshot(metricsUrl: string, model: string, version: string, signal?: AbortSignal): Promise<TrafficSnapshot> {
  let text: string;
  try {
    const read = await fetchText(metricsUrl, 10_000, {}, signal);
    const response = read.response;
    text = read.text;
    if (!response.ok) throw new Error(`answered ${response.status}: ${text.slice(0, 200)}`);
  } catch (error) {
    signal?.throwIfAborted();
    throw new Error(`cannot read gateway metrics at ${metricsUrl}: ${(error as Error).message}`);
  }
  return snapshotOf(parsePrometheusText(text), model, version);
}

/** The version's counters among parsed samples. Pure. */
export function snapshotOf(samples: Sample[], model: string, version: string): TrafficSnapshot {
  const byCode: Record<string, number> = {};
  const buckets = new Map<number, number>();
  for (const sample of samples) {
    if (sample.labels.model !== model || sample.labels.version !== version) continue;
    if (sample.name === REQUESTS) {
      const code = sample.labels.code ?? '';
      byCode[code] = (byCode[code] ?? 0) + sample.value;
    } else if (sample.name === DURATION_BUCKET) {
      const le = sample.labels.le === '+Inf' ? Infinity : Number(sample.labels.le);
      buckets.set(le, (buckets.get(le) ?? 0) + sample.value);
    }
  }
  return { byCode, buckets: [...buckets].map(([le, count]) => ({ le, count })).sort((a, b) => a.le - b.le) };
}

/**
 * What happened between two readings. A counter that went down means the gateway restarted in
 * between; its new value is then the increase (as Prometheus' rate() does). Pure.
 */
export function difference(start: TrafficSnapshot, end: TrafficSnapshot): TrafficSnapshot {
  const delta = (before: number | undefined, after: number): number => (before === undefined || after < before ? after : after - before);
  const byCode: Record<string, number> = {};
  for (const [code, count] of Object.entries(end.byCode)) byCode[code] = delta(start.byCode[code], count);
  const reset = end.buckets.some((b) => b.count < (start.buckets.find((s) => s.le === b.le)?.count ?? 0));
  const buckets = end.buckets.map((b) => ({
    le: b.le,
    count: reset ? b.count : b.count - (start.buckets.find((s) => s.le === b.le)?.count ?? 0),
  }));
  return { byCode, buckets };
}

/**
 * The q-quantile (0..1) in milliseconds from cumulative buckets, interpolating linearly inside
 * the bucket as Prometheus' histogram_quantile() does; the highest finite bound when it falls in
 * +Inf; undefined without observations. Pure.
 */
export function quantileMs(buckets: TrafficSnapshot['buckets'], q: number): number | undefined {
  const total = buckets.find((b) => b.le === Infinity)?.count ?? buckets[buckets.length - 1]?.count ?? 0;
  if (total <= 0) return undefined;
  const rank = q * total;
  let previousLe = 0;
  let previousCount = 0;
  for (const bucket of buckets) {
    if (bucket.count >= rank) {
      if (bucket.le === Infinity) return previousLe * 1000;
      const inBucket = bucket.count - previousCount;
      const fraction = inBucket > 0 ? (rank - previousCount) / inBucket : 1;
      return (previousLe + (bucket.le - previousLe) * fraction) * 1000;
    }
    previousLe = bucket.le;
    previousCount = bucket.count;
  }
  return previousLe * 1000;
}

/** Judges a window's traffic against the rule. Pure. */
export function judge(window: TrafficSnapshot, rule: AnalysisRule): AnalysisResult {
  const requests = Object.values(window.byCode).reduce((a, b) => a + b, 0);
  const errors = Object.entries(window.byCode)
    .filter(([code]) => Number(code) >= 500)
    .reduce((sum, [, count]) => sum + count, 0);
  return judgeMeasures({ requests, errorRate: requests > 0 ? errors / requests : 0, p95LatencyMs: quantileMs(window.buckets, 0.95) }, rule);
}

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
 * `fail` when the error rate or p95 latency exceeds the rule, else `pass`. Pure.
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

/** The Analyzer for an environment routed by the tandem gateway whose admin API is at `adminUrl`. */
export function createGatewayAnalyzer(adminUrl: string): GatewayAnalyzer {
  return new GatewayAnalyzer(adminUrl);
}
