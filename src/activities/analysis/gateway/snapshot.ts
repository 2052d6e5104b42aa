/**
 * A version's counters in the gateway's metrics, as prom-client's `registry.getMetricsAsJSON()`
 * returns them (GET /_tandem/metrics.json), and what changed between two readings. Pure.
 */
import { z } from 'zod';
import { GatewayMetric } from '../../../naming/metrics';
import type { WindowMeasures } from '../verdict';
import { type Bucket, quantileMs } from './quantile';

const DURATION_BUCKET = `${GatewayMetric.duration}_bucket`;

/**
 * The part of prom-client's JSON that analysis reads. Other keys (help, type, exemplar, ...) are
 * ignored; a value is null where prom-client held NaN (JSON has no NaN).
 */
const metricsJsonSchema = z.array(
  z.object({
    name: z.string(),
    values: z.array(
      z.object({
        value: z.number().nullable(),
        labels: z.record(z.string(), z.union([z.string(), z.number()])),
        metricName: z.string().optional(),
      }),
    ),
  }),
);

export type MetricsJson = z.infer<typeof metricsJsonSchema>;

/** Validates the gateway's answer. Throws an Error naming the first field that does not fit. */
export function parseMetricsJson(body: unknown): MetricsJson {
  const parsed = metricsJsonSchema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  throw new Error(`the gateway's metrics are not prom-client's JSON: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
}

/** One reading of a version's counters. */
export interface TrafficSnapshot {
  /** requests by status code */
  byCode: Record<string, number>;
  /** cumulative latency buckets sorted by upper bound (seconds) */
  buckets: Bucket[];
}

/** The counters of `model` `version` among the gateway's metrics. Pure. */
export function snapshotOf(metrics: MetricsJson, model: string, version: string): TrafficSnapshot {
  const byCode: Record<string, number> = {};
  const buckets = new Map<number, number>();
  const ofVersion = (name: string) =>
    (metrics.find((m) => m.name === name)?.values ?? []).filter(
      (v) => v.value !== null && String(v.labels.model) === model && String(v.labels.version) === version,
    );
  for (const { labels, value } of ofVersion(GatewayMetric.requests)) {
    const code = String(labels.code ?? '');
    byCode[code] = (byCode[code] ?? 0) + value!;
  }
  for (const { labels, value, metricName } of ofVersion(GatewayMetric.duration)) {
    if (metricName !== DURATION_BUCKET) continue;
    const le = labels.le === '+Inf' ? Infinity : Number(labels.le);
    buckets.set(le, (buckets.get(le) ?? 0) + value!);
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

/** A window's request count, share of 5xx answers and p95 latency. Pure. */
export function measuresOf(window: TrafficSnapshot): WindowMeasures {
  const requests = Object.values(window.byCode).reduce((a, b) => a + b, 0);
  const errors = Object.entries(window.byCode)
    .filter(([code]) => Number(code) >= 500)
    .reduce((sum, [, count]) => sum + count, 0);
  return { requests, errorRate: requests > 0 ? errors / requests : 0, p95LatencyMs: quantileMs(window.buckets, 0.95) };
}
