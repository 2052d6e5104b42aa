/**
 * Analysis of a version's live traffic from Prometheus, as Flagger and Argo Rollouts do it: wait
 * the window, then ask Prometheus (HTTP API, instant queries) for the version's request count,
 * error rate and p95 latency over that window, and judge them against the spec's rule. Works for
 * any environment whose model servers Prometheus scrapes, Docker or Kubernetes, whatever routes
 * the traffic. Read-only, so repeating a window is harmless.
 *
 * The queries are templates (config: environments.<name>.analysis.prometheus); the defaults fit a
 * model server exporting the example's metrics (requests_total, errors_total,
 * request_duration_seconds, labelled `version`).
 */
import { ApplicationFailure } from '@temporalio/common';
import { PROMETHEUS_DEFAULT_QUERIES } from '../../../config/schema';
import { FailureType } from '../../../errors';
import { fetchText } from '../../../shared/http';
import type { Analyzer } from '../../target';
import type { AnalysisInput, AnalysisResult } from '../../types';
import { waitWindow } from '../../wait';
import { judgeWithStable } from '../compare';
import { judgeMeasures } from '../verdict';
import { promDuration, renderQuery, sampleValue } from './query';

export interface PrometheusAnalyzerOptions {
  /** Prometheus base URL, e.g. http://127.0.0.1:9090 */
  url: string;
  errorRateQuery?: string | undefined;
  requestsQuery?: string | undefined;
  latencyP95Query?: string | undefined;
  /** what `{{namespace}}` becomes: the Kubernetes namespace; '' by default */
  namespace?: string | undefined;
  /** default 5000 ms */
  heartbeatEveryMs?: number | undefined;
  /** deadline of one query; default 10000 ms */
  queryTimeoutMs?: number | undefined;
}

type QueryName = 'requests' | 'errorRate' | 'latencyP95';
const CONFIG_KEY: Record<QueryName, string> = { requests: 'requestsQuery', errorRate: 'errorRateQuery', latencyP95: 'latencyP95Query' };

/** A query's single number, or undefined when Prometheus returned an empty vector. */
type Reading = { value: number | undefined; promql: string };

export class PrometheusAnalyzer implements Analyzer {
  private readonly apiUrl: string;
  private readonly templates: Record<QueryName, string>;

  constructor(private readonly options: PrometheusAnalyzerOptions) {
    this.apiUrl = `${options.url.replace(/\/+$/, '')}/api/v1/query`;
    this.templates = {
      requests: options.requestsQuery ?? PROMETHEUS_DEFAULT_QUERIES.requests,
      errorRate: options.errorRateQuery ?? PROMETHEUS_DEFAULT_QUERIES.errorRate,
      latencyP95: options.latencyP95Query ?? PROMETHEUS_DEFAULT_QUERIES.latencyP95,
    };
  }

  /**
   * Runs the queries once at the start (so a bad query or an unreachable Prometheus fails before
   * the window, not after it), waits `input.windowMs` heartbeating every few seconds, then runs
   * them at the window's end and judges: `inconclusive` when the request count is below
   * rule.minRequests or a query the rule needs returned nothing; `fail` when the error rate or the
   * p95 latency exceeds the rule; else `pass`. With rule.compare the same queries run for the
   * stable version at the same instants, over the same range, and the candidate is also judged
   * against it (compare.ts; a stable version without series counts as one without requests).
   * Throws a plain (retryable) Error when Prometheus cannot be reached or answers 5xx, a
   * non-retryable InvalidAnalysisQuery ApplicationFailure naming the query when Prometheus refuses
   * it, and the signal's reason when aborted.
   */
  async analyze(input: AnalysisInput, heartbeat: (details?: unknown) => void, signal: AbortSignal): Promise<AnalysisResult> {
    const stable = input.rule.compare ? input.stable : undefined;
    const versions = stable === undefined ? [input.version] : [input.version, stable];
    const startedAt = Date.now();
    await Promise.all(versions.map((version) => this.readAll(input, version, startedAt, signal)));
    await waitWindow(startedAt, input.windowMs, this.options.heartbeatEveryMs ?? 5000, heartbeat, signal);
    const at = Date.now();
    const [candidate, stableReadings] = await Promise.all(versions.map((version) => this.readAll(input, version, at, signal)));
    return this.judge(candidate!, stable === undefined ? undefined : { version: stable, readings: stableReadings! }, input);
  }

  private judge(readings: Record<QueryName, Reading>, stable: { version: string; readings: Record<QueryName, Reading> } | undefined, input: AnalysisInput): AnalysisResult {
    const { requests, errorRate, latencyP95 } = readings;
    const nothing = (name: QueryName, version = input.version, of = readings): AnalysisResult => ({
      outcome: 'inconclusive',
      requests: Math.round(requests.value ?? 0),
      errorRate: 0,
      detail:
        `the ${CONFIG_KEY[name]} returned nothing for ${input.model} ${version} (no series, or no data in the window): ${of[name].promql}` +
        ' — check that Prometheus scrapes the version and that the query selects its metrics',
    });
    if (requests.value === undefined) return nothing('requests');
    const count = Math.round(requests.value);
    // Without requests the default error rate is 0/0 (NaN, read as nothing): no errors either.
    const rate = errorRate.value ?? (count === 0 ? 0 : undefined);
    const measures = { requests: count, errorRate: rate ?? 0, p95LatencyMs: latencyP95.value };
    if (count < input.rule.minRequests) return judgeMeasures(measures, input.rule); // inconclusive whatever the rest says
    if (rate === undefined) return nothing('errorRate');
    const needsP95 = input.rule.maxP95LatencyMs !== undefined || input.rule.compare?.p95 !== undefined;
    if (needsP95 && latencyP95.value === undefined && count > 0) return nothing('latencyP95');
    if (!stable) return judgeWithStable(measures, undefined, input.rule);
    const theirs = stable.readings;
    const stableCount = Math.round(theirs.requests.value ?? 0);
    const stableRate = theirs.errorRate.value ?? (stableCount === 0 ? 0 : undefined);
    if (stableRate === undefined && stableCount >= input.rule.minRequests) return nothing('errorRate', stable.version, theirs);
    const stableMeasures = { requests: stableCount, errorRate: stableRate ?? 0, p95LatencyMs: theirs.latencyP95.value };
    return judgeWithStable(measures, { version: stable.version, measures: stableMeasures }, input.rule);
  }

  private async readAll(input: AnalysisInput, version: string, at: number, signal: AbortSignal): Promise<Record<QueryName, Reading>> {
    const vars = { model: input.model, version, namespace: this.options.namespace ?? '', window: promDuration(input.windowMs) };
    const names: QueryName[] = ['requests', 'errorRate', 'latencyP95'];
    const values = await Promise.all(names.map((name) => this.query(name, renderQuery(this.templates[name], vars), at, signal)));
    return Object.fromEntries(names.map((name, i) => [name, values[i]!])) as Record<QueryName, Reading>;
  }

  /** One instant query evaluated at `at` (ms since the epoch). */
  private async query(name: QueryName, promql: string, at: number, signal: AbortSignal): Promise<Reading> {
    const body = new URLSearchParams({ query: promql, time: (at / 1000).toFixed(3) });
    let status: number;
    let text: string;
    try {
      const read = await fetchText(this.apiUrl, this.options.queryTimeoutMs ?? 10_000, { method: 'POST', body }, signal);
      status = read.response.status;
      text = read.text;
    } catch (error) {
      signal.throwIfAborted();
      throw new Error(`cannot query Prometheus at ${this.apiUrl}: ${(error as Error).message}`);
    }
    let answer: PrometheusAnswer | undefined;
    try {
      answer = JSON.parse(text) as PrometheusAnswer;
    } catch {
      answer = undefined;
    }
    const invalid = (why: string): ApplicationFailure =>
      ApplicationFailure.nonRetryable(`the ${CONFIG_KEY[name]} ${why}: ${promql}`, FailureType.InvalidAnalysisQuery);
    if (status === 400 && answer?.errorType === 'bad_data') throw invalid(`is not valid PromQL (${answer.error ?? 'bad_data'})`);
    if (!answer || answer.status !== 'success' || !answer.data) {
      throw new Error(`Prometheus at ${this.apiUrl} answered ${status}${answer?.error ? `: ${answer.error}` : `: ${text.slice(0, 200)}`}`);
    }
    const { resultType, result } = answer.data;
    if (resultType === 'scalar') return { value: sampleValue((result as [number, string])[1]), promql };
    if (resultType !== 'vector') throw invalid(`returns a ${resultType}, not one number (an instant vector or scalar)`);
    const samples = result as Array<{ metric: Record<string, string>; value: [number, string] }>;
    if (samples.length === 0) return { value: undefined, promql };
    if (samples.length > 1) throw invalid(`returns ${samples.length} series, not one number; aggregate it, e.g. sum(...)`);
    return { value: sampleValue(samples[0]!.value[1]), promql };
  }
}

interface PrometheusAnswer {
  status?: string;
  errorType?: string;
  error?: string;
  data?: { resultType: string; result: unknown };
}
