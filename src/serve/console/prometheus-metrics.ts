/**
 * Live points of a version from Prometheus, for environments whose analysis reads Prometheus
 * (analysis.prometheus): the same query templates analysis steps use, over the last
 * WINDOW_MS, as instant queries. Read-only.
 */
import { PROMETHEUS_DEFAULT_QUERIES, type EnvironmentConfig } from '../../config/schema';
import { promDuration, renderQuery, sampleValue } from '../../activities/analysis/prometheus/query';
import type { Point } from './metrics-ring';

/** The window each point covers: long enough for Prometheus' rate() to see two scrapes. */
export const WINDOW_MS = 30_000;

export type PrometheusConfig = NonNullable<NonNullable<EnvironmentConfig['analysis']>['prometheus']>;

/** One number of an instant query, or undefined for an empty answer. Throws naming Prometheus when it does not answer. */
async function instant(url: string, promql: string, timeoutMs: number): Promise<number | undefined> {
  const endpoint = `${url.replace(/\/+$/, '')}/api/v1/query?query=${encodeURIComponent(promql)}`;
  const response = await fetch(endpoint, { signal: AbortSignal.timeout(timeoutMs) }).catch((error: Error) => {
    throw new Error(`cannot read Prometheus at ${url}: ${error.message}`);
  });
  const body = (await response.json().catch(() => undefined)) as { status?: string; error?: string; data?: { result?: { value?: [number, string] }[] } } | undefined;
  if (!response.ok || body?.status !== 'success') throw new Error(`Prometheus at ${url} refused ${promql}: ${body?.error ?? response.status}`);
  const text = body.data?.result?.[0]?.value?.[1];
  return text === undefined ? undefined : sampleValue(text);
}

/** The version's request rate, error rate and p95 over the last WINDOW_MS. */
export async function readPrometheusPoint(prometheus: PrometheusConfig, vars: { model: string; version: string; namespace: string }, timeoutMs = 3000): Promise<Point> {
  const all = { ...vars, window: promDuration(WINDOW_MS) };
  const [requests, errorRate, p95] = await Promise.all([
    instant(prometheus.url, renderQuery(prometheus.requestsQuery ?? PROMETHEUS_DEFAULT_QUERIES.requests, all), timeoutMs),
    instant(prometheus.url, renderQuery(prometheus.errorRateQuery ?? PROMETHEUS_DEFAULT_QUERIES.errorRate, all), timeoutMs),
    instant(prometheus.url, renderQuery(prometheus.latencyP95Query ?? PROMETHEUS_DEFAULT_QUERIES.latencyP95, all), timeoutMs),
  ]);
  const finite = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? null : v);
  return { rps: (requests ?? 0) / (WINDOW_MS / 1000), errorRate: finite(errorRate), p95Ms: finite(p95) };
}
