/**
 * Bounds of a spec, in one place: what the schema accepts, what the activities and their
 * timeouts are sized for, and what fits in workflow history (a spec travels in several activity
 * inputs, each limited to 2 MB by Temporal). A spec that validates can run. Pure.
 */
/** Largest tandem.yaml read from a tagged commit. */
export const MAX_SPEC_BYTES = 256 * 1024;
/** Largest smoke-test request body and expected answer (as JSON). */
export const MAX_SMOKE_BODY_BYTES = 64 * 1024;
/** Most smoke tests per spec. */
export const MAX_SMOKE_TESTS = 50;
/** Most rollout steps per canary. */
export const MAX_ROLLOUT_STEPS = 50;
/** Most replicas per version (the schema and the targets agree on it). */
export const MAX_REPLICAS = 100;
/** Highest port a model server may listen on (the schema and the Kubernetes manifests agree on it). */
export const MAX_PORT = 65535;
/** How long one smoke request may take; inference can be slower than a health check. */
export const SMOKE_REQUEST_TIMEOUT_MS = 30_000;

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Longest value of each duration in the spec, with the reason a person reads on refusal. */
export const DURATION_BOUNDS = {
  /** a pause step, a blue-green preview */
  pause: { maxMs: 30 * DAY, text: '30d' },
  /** an approval gate's timeout */
  approval: { maxMs: 30 * DAY, text: '30d' },
  /** how long a new version may take to become ready */
  readyTimeout: { maxMs: 1 * HOUR, text: '1h' },
  /** the health check's timeout */
  healthTimeout: { maxMs: 1 * MINUTE, text: '1m' },
  /** one analysis measurement window */
  analysisInterval: { maxMs: 1 * HOUR, text: '1h' },
} as const;

/** Most measurements in one analysis step. */
export const MAX_ANALYSIS_COUNT = 100;
