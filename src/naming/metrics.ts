/**
 * Metric names, each defined once. ReleaseMetric: the metrics tandem's workflows emit through the Temporal SDK's metric meter (so they
 * are replay-safe and exported by the worker's Prometheus endpoint beside the SDK's own). Pure.
 */
export const ReleaseMetric = {
  /** counter, tags model, environment */
  started: 'tandem_releases_started',
  /** counter, tags model, environment, outcome (promoted | rolled-back | failed) */
  finished: 'tandem_releases_finished',
  /** counter, tags model, environment, cause (the failure type: Aborted, AnalysisFailed, ...) */
  rollbacks: 'tandem_rollbacks',
  /** histogram in seconds, tags model, environment, stage */
  stageDuration: 'tandem_release_stage_duration_seconds',
} as const;

/** Names of the gateway's metrics, which analysis reads back (counters, histogram in seconds, gauges). */
export const GatewayMetric = {
  requests: 'tandem_gateway_requests_total',
  duration: 'tandem_gateway_request_duration_seconds',
  errors: 'tandem_gateway_errors_total',
  weight: 'tandem_gateway_route_weight',
  endpoints: 'tandem_gateway_endpoints',
  mirrored: 'tandem_gateway_mirrored_requests_total',
  /** mirrored pairs judged, by result: agree | disagree | not_compared */
  shadowComparisons: 'tandem_gateway_shadow_comparisons_total',
} as const;
