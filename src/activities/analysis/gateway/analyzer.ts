/**
 * Analysis of a version's live traffic from the tandem gateway's own metrics: read its counters
 * (GET /_tandem/metrics.json, with the admin token) at the start and at the end of a window, and
 * judge the difference. For Docker environments routed by the gateway and without a Prometheus.
 * Read-only, so repeating a window is harmless.
 */
import { ADMIN_METRICS_JSON } from '../../../naming/gateway';
import type { GatewayToken } from '../../../shared/gateway-token';
import type { Analyzer } from '../../target';
import type { AnalysisInput, AnalysisResult } from '../../types';
import { waitWindow } from '../../wait';
import { judgeWithStable } from '../compare';
import { readGatewayJson } from './admin-read';
import { difference, measuresOf, parseMetricsJson, snapshotOf, type TrafficSnapshot } from './snapshot';

export interface GatewayAnalyzerOptions {
  /** default 5000 ms */
  heartbeatEveryMs?: number | undefined;
  /** deadline of one read of the metrics; default 10000 ms */
  readTimeoutMs?: number | undefined;
}

export class GatewayAnalyzer implements Analyzer {
  private readonly metricsUrl: string;

  /** Reads the metrics of the gateway whose admin API is at `adminUrl` (e.g. http://127.0.0.1:7071). */
  constructor(
    adminUrl: string,
    private readonly credentials: GatewayToken,
    private readonly options: GatewayAnalyzerOptions = {},
  ) {
    this.metricsUrl = `${adminUrl.replace(/\/+$/, '')}${ADMIN_METRICS_JSON}`;
  }

  /**
   * Reads the version's counters now and again after `input.windowMs`, heartbeating meanwhile, and
   * judges the requests it received in between (verdict.ts). With rule.compare, the stable
   * version's counters come from the same two readings, so both are measured over the very same
   * window, and the candidate is also judged against them (compare.ts). Throws a plain (retryable)
   * Error when the metrics cannot be read or the gateway refuses the token, and the signal's
   * reason when aborted.
   */
  async analyze(input: AnalysisInput, heartbeat: (details?: unknown) => void, signal: AbortSignal): Promise<AnalysisResult> {
    const stable = input.rule.compare ? input.stable : undefined;
    const versions = stable === undefined ? [input.version] : [input.version, stable];
    const startedAt = Date.now();
    const start = await this.readSnapshots(input.model, versions, signal);
    await waitWindow(startedAt, input.windowMs, this.options.heartbeatEveryMs ?? 5000, heartbeat, signal);
    const end = await this.readSnapshots(input.model, versions, signal);
    const [candidate, stableWindow] = versions.map((_, i) => measuresOf(difference(start[i]!, end[i]!)));
    return judgeWithStable(candidate!, stable === undefined ? undefined : { version: stable, measures: stableWindow! }, input.rule);
  }

  /** The version's counters now. Throws a plain Error when the gateway does not answer them. */
  async readSnapshot(model: string, version: string, signal?: AbortSignal): Promise<TrafficSnapshot> {
    return (await this.readSnapshots(model, [version], signal))[0]!;
  }

  /** The counters of each of `versions`, from one reading of the metrics. Throws as readSnapshot. */
  async readSnapshots(model: string, versions: readonly string[], signal?: AbortSignal): Promise<TrafficSnapshot[]> {
    const body = await readGatewayJson(this.metricsUrl, this.credentials, 'gateway metrics', this.options.readTimeoutMs ?? 10_000, signal);
    const metrics = parseMetricsJson(body);
    return versions.map((version) => snapshotOf(metrics, model, version));
  }
}
