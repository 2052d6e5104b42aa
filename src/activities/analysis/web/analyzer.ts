/**
 * Web metrics: numbers a model team keeps in its own service (precision, drift, calibration),
 * read over HTTP at the end of each analysis window and held to the bounds the spec gives. They
 * come on top of the environment's traffic analyzer (gateway counters or Prometheus), or alone
 * where the environment measures no traffic. Request headers (a token) come from the worker's
 * configuration (headers.ts). Read-only, so repeating a window is harmless.
 */
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../../errors';
import type { WebMetricRule } from '../../../model-spec/schema';
import { describeNetworkError, fetchText } from '../../../shared/http';
import type { Analyzer } from '../../target';
import type { AnalysisInput, AnalysisResult } from '../../types';
import { waitWindow } from '../../wait';
import { createUnmeasuredAnalyzer } from '../unmeasured';
import { readWebHeaders, redact, type WebHeadersConfig } from './headers';
import { InvalidJsonPathError, numberAt } from './json-value';
import { renderWebUrl } from './url';
import { judgeWebMetric, type WebReading, withWebResults } from './verdict';

export interface WebMetricsOptions {
  /** the environment's name: `{environment}` in URLs, and the key in errors */
  environment: string;
  /** `analysis.web.headers` of the environment; none when not configured */
  headers?: WebHeadersConfig | undefined;
  /** where the worker reads header values; process.env by default */
  env?: NodeJS.ProcessEnv;
  /** default 5000 ms (only used when there is no traffic analyzer to wait the window) */
  heartbeatEveryMs?: number | undefined;
}

export class WebMetricsAnalyzer implements Analyzer {
  /** `traffic` judges the version's live traffic; undefined where the environment has no metrics source. */
  constructor(
    readonly traffic: Analyzer | undefined,
    private readonly options: WebMetricsOptions,
  ) {}

  /**
   * Without web metrics in the rule: the traffic analyzer's answer (or `inconclusive` where there
   * is none). With them: reads each once at the start (so an unreachable service fails before the
   * window, not after it), lets the traffic analyzer measure the window (or waits it), reads them
   * again and judges (verdict.ts): a value outside its bound fails, a path that matches no number
   * is inconclusive. Throws a plain (retryable) Error naming the metric, its URL and the reason
   * when the service cannot be reached, times out, answers non-2xx or non-JSON, or a header's
   * secret is missing; a non-retryable InvalidAnalysisQuery ApplicationFailure when a JSONPath
   * cannot be evaluated; the signal's reason when aborted.
   */
  async analyze(input: AnalysisInput, heartbeat: (details?: unknown) => void, signal: AbortSignal): Promise<AnalysisResult> {
    const metrics = input.rule.web ?? [];
    if (metrics.length === 0) return (this.traffic ?? createUnmeasuredAnalyzer(this.options.environment)).analyze(input, heartbeat, signal);
    await this.readAll(metrics, input, signal);
    let traffic: AnalysisResult;
    if (this.traffic) {
      traffic = await this.traffic.analyze(input, heartbeat, signal);
    } else {
      await waitWindow(Date.now(), input.windowMs, this.options.heartbeatEveryMs ?? 5000, heartbeat, signal);
      traffic = { outcome: 'pass', requests: 0, errorRate: 0, detail: `traffic not measured (environment ${this.options.environment} has no metrics source)` };
    }
    const readings = await this.readAll(metrics, input, signal);
    return withWebResults(traffic, metrics.map((metric, i) => judgeWebMetric(metric, readings[i]!)));
  }

  private readAll(metrics: WebMetricRule[], input: AnalysisInput, signal: AbortSignal): Promise<WebReading[]> {
    const headers = readWebHeaders(this.options.headers ?? {}, `environments.${this.options.environment}.analysis.web.headers`, this.options.env);
    const url = (metric: WebMetricRule): string => renderWebUrl(metric.url, { model: input.model, version: input.version, environment: this.options.environment });
    return Promise.all(metrics.map((metric) => this.read(metric, url(metric), headers, signal)));
  }

  private async read(metric: WebMetricRule, url: string, headers: Record<string, string>, signal: AbortSignal): Promise<WebReading> {
    const cannot = (why: string): Error => new Error(`cannot read web metric ${metric.name} at ${url}: ${redact(why, headers)}`);
    let status: number;
    let text: string;
    try {
      const read = await fetchText(url, metric.timeoutMs, { headers: { accept: 'application/json', ...headers } }, signal);
      status = read.response.status;
      text = read.text;
    } catch (error) {
      signal.throwIfAborted();
      throw cannot(describeNetworkError(error, metric.timeoutMs));
    }
    if (status < 200 || status > 299) throw cannot(`answered ${status}${text.trim() ? `: ${text.trim().slice(0, 200)}` : ''}`);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw cannot(`the answer is not JSON: ${text.slice(0, 200)}`);
    }
    try {
      const reading = numberAt(json, metric.jsonPath);
      return 'problem' in reading ? { problem: `${reading.problem} from ${url}` } : reading;
    } catch (error) {
      if (!(error instanceof InvalidJsonPathError)) throw error;
      throw ApplicationFailure.nonRetryable(`web metric ${metric.name}: jsonPath ${error.message}`, FailureType.InvalidAnalysisQuery);
    }
  }
}
