/**
 * The gateway's Prometheus metrics, in a registry of its own (several gateways can live in one
 * process, as in tests). Analysis (activities/health/analysis.ts) reads these names.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Metric names shared with the analysis that reads them. */
export const MetricName = {
  requests: 'tandem_gateway_requests_total',
  duration: 'tandem_gateway_request_duration_seconds',
  errors: 'tandem_gateway_errors_total',
  weight: 'tandem_gateway_route_weight',
  endpoints: 'tandem_gateway_endpoints',
} as const;

/** Latency buckets in seconds: fine below a second, where model servers answer. */
export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2.5, 5, 10];

export interface GatewayMetrics {
  registry: Registry;
  requests: Counter<'model' | 'version' | 'code'>;
  duration: Histogram<'model' | 'version'>;
  errors: Counter<'model' | 'version' | 'kind'>;
  weight: Gauge<'model' | 'version'>;
  endpoints: Gauge<'model' | 'version'>;
}

/** A fresh registry with the gateway's metrics. */
export function createMetrics(): GatewayMetrics {
  const registry = new Registry();
  return {
    registry,
    requests: new Counter({
      name: MetricName.requests,
      help: 'Requests answered by the gateway, by model, version and HTTP status code (version "" when no version was chosen).',
      labelNames: ['model', 'version', 'code'],
      registers: [registry],
    }),
    duration: new Histogram({
      name: MetricName.duration,
      help: 'Time from request to the end of the response, by model and version.',
      labelNames: ['model', 'version'],
      buckets: DURATION_BUCKETS,
      registers: [registry],
    }),
    errors: new Counter({
      name: MetricName.errors,
      help:
        'Failed requests: kind="upstream_5xx" (the version answered 5xx), kind="proxy" (the version could not be reached) or kind="timeout" (the version sent nothing for the upstream timeout; answered 504).',
      labelNames: ['model', 'version', 'kind'],
      registers: [registry],
    }),
    weight: new Gauge({
      name: MetricName.weight,
      help: 'Percent of unpinned traffic routed to the version.',
      labelNames: ['model', 'version'],
      registers: [registry],
    }),
    endpoints: new Gauge({
      name: MetricName.endpoints,
      help: 'Replica endpoints the gateway knows for the version.',
      labelNames: ['model', 'version'],
      registers: [registry],
    }),
  };
}
