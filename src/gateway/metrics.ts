/**
 * The gateway's Prometheus metrics, in a registry of its own (several gateways can live in one
 * process, as in tests). Their names are in src/naming/metrics.ts, where analysis reads them.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { GatewayMetric } from '../naming/metrics';

/** Latency buckets in seconds: fine below a second, where model servers answer. */
export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2.5, 5, 10];

export interface GatewayMetrics {
  registry: Registry;
  requests: Counter<'model' | 'version' | 'code'>;
  duration: Histogram<'model' | 'version'>;
  errors: Counter<'model' | 'version' | 'kind'>;
  weight: Gauge<'model' | 'version'>;
  endpoints: Gauge<'model' | 'version'>;
  mirrored: Counter<'model' | 'version' | 'result'>;
  shadowComparisons: Counter<'model' | 'version' | 'result'>;
}

/** A fresh registry with the gateway's metrics. */
export function createMetrics(): GatewayMetrics {
  const registry = new Registry();
  const byVersion = ['model', 'version'] as const;
  // Every metric is registered in this registry only, never prom-client's global one.
  const own = { registers: [registry] };
  return {
    registry,
    requests: new Counter({
      ...own,
      name: GatewayMetric.requests,
      help: 'Requests answered by the gateway, by model, version and HTTP status code (version "" when no version was chosen).',
      labelNames: [...byVersion, 'code'],
    }),
    duration: new Histogram({ ...own, name: GatewayMetric.duration, help: 'Time from request to the end of the response, by model and version.', labelNames: byVersion, buckets: DURATION_BUCKETS }),
    errors: new Counter({
      ...own,
      name: GatewayMetric.errors,
      help:
        'Failed requests: kind="upstream_5xx" (the version answered 5xx), kind="proxy" (the version could not be reached) or kind="timeout" (the version sent nothing for the upstream timeout; answered 504).',
      labelNames: [...byVersion, 'kind'],
    }),
    weight: new Gauge({ ...own, name: GatewayMetric.weight, help: 'Percent of unpinned traffic routed to the version.', labelNames: byVersion }),
    endpoints: new Gauge({ ...own, name: GatewayMetric.endpoints, help: 'Replica endpoints the gateway knows for the version.', labelNames: byVersion }),
    mirrored: new Counter({
      ...own,
      name: GatewayMetric.mirrored,
      help:
        'Copies of requests sent to the mirror version, by result: its HTTP status code, "error" (not reached), "timeout", or "dropped" (not sent: too many copies in flight, body too large, or no replica).',
      labelNames: [...byVersion, 'result'],
    }),
    shadowComparisons: new Counter({
      ...own,
      name: GatewayMetric.shadowComparisons,
      help:
        'Mirrored requests whose answers were compared (mirror.compare), by mirror version and result: "agree", "disagree" (a field differs, or the mirror did not answer 2xx JSON), or "not_compared" (the caller\'s answer was no basis: not 2xx JSON, a field missing, or an answer over 64 KiB).',
      labelNames: [...byVersion, 'result'],
    }),
  };
}
