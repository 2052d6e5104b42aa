/**
 * The traffic state of one model, defined once: the gateway's admin API parses request bodies
 * with it, the routers check what the workflow asks for and read back what they stored, and the
 * workflow's `TrafficState` type is inferred from it. Pure: no I/O, imported by the gateway and
 * (as a type) by workflows.
 */
import { z } from 'zod';

/** A problem with a traffic state; `field` is the dotted path a person fixes (`weights.v1`, `pinned.0`, `(body)`). */
export interface TrafficIssue {
  field: string;
  message: string;
}

const KNOWN_FIELDS = 'weights, pinned, stable, mirror';
const KNOWN_MIRROR_FIELDS = 'version, percent, compare';
const KNOWN_COMPARE_FIELDS = 'fields, redact, samples';
const KNOWN_COMPARE_FIELD_FIELDS = 'path, tolerance, relativeTolerance';

/** An integer percent 0..100; the message shows the value given, since it is often a string or fraction. */
const Percent = z.number({ error: (issue) => percentMessage(issue.input) }).check((ctx) => {
  const weight = ctx.value;
  if (!Number.isInteger(weight) || weight < 0 || weight > 100) {
    ctx.issues.push({ code: 'custom', input: weight, message: percentMessage(weight) });
  }
});

function percentMessage(input: unknown): string {
  return `must be an integer percent from 0 to 100 (got ${JSON.stringify(input)})`;
}

/** Percent of unpinned traffic per version: sums to 100, or `{}` when only pinned requests are served. */
export const WeightsSchema = z
  .record(z.string(), Percent, { error: 'must be an object mapping versions to percents, e.g. {"v1.0.0": 90, "v1.1.0": 10}' })
  .check((ctx) => {
    const weights = Object.values(ctx.value);
    const sum = weights.reduce((a, b) => a + b, 0);
    // No weights at all is allowed: the model then serves only pinned requests (a first version under test).
    if (weights.length > 0 && sum !== 100) {
      ctx.issues.push({ code: 'custom', input: ctx.value, message: `must sum to 100 (got ${sum}), or be {} to serve pinned requests only` });
    }
  });

const VersionName = z.string({ error: 'must be a version name' }).min(1, { error: 'must be a version name' });

/** Answers of mirrored requests compared per pair; more fields or redactions than this are refused. */
export const MAX_COMPARE_FIELDS = 20;
/** Most disagreements kept per version; the default when `samples` is not given. */
export const MAX_COMPARE_SAMPLES = 20;
export const DEFAULT_COMPARE_SAMPLES = 5;

/** A JSONPath as written in a spec; whether the gateway can evaluate it is checked where jsonpath-plus runs. */
const JsonPathText = z
  .string({ error: 'must be a JSONPath string such as "$.label" or "$.scores[0]"' })
  .check((ctx) => {
    if (!ctx.value.startsWith('$')) ctx.issues.push({ code: 'custom', input: ctx.value, message: `must be a JSONPath starting with "$", such as "$.label" or "$.scores[0]" (got ${JSON.stringify(ctx.value)})` });
  });

const Tolerance = z.number({ error: (issue) => toleranceMessage(issue.input) }).check((ctx) => {
  if (!Number.isFinite(ctx.value) || ctx.value < 0) ctx.issues.push({ code: 'custom', input: ctx.value, message: toleranceMessage(ctx.value) });
});

function toleranceMessage(input: unknown): string {
  return `must be a number >= 0, e.g. 0.05 (got ${JSON.stringify(input)})`;
}

const CompareFieldSchema = z.strictObject(
  { path: JsonPathText, tolerance: Tolerance.optional(), relativeTolerance: Tolerance.optional() },
  { error: (issue) => (issue.code === 'invalid_type' ? 'must be an object {"path": "$.score", "tolerance": 0.05}' : undefined) },
);

/**
 * How the stable and mirror versions' answers to the same request are compared: the JSONPaths
 * whose values must agree (numbers within `tolerance` absolute or `relativeTolerance` × |stable|,
 * exactly when neither is given; other values by deep equality), the JSONPaths replaced by
 * "[redacted]" in the kept disagreements, and how many of the latest disagreements are kept
 * (default 5).
 */
const MirrorCompareSchema = z.strictObject(
  {
    fields: z
      .array(CompareFieldSchema, { error: 'must be a list of fields such as [{"path": "$.label"}, {"path": "$.score", "tolerance": 0.05}]' })
      .min(1, { error: 'must name at least one field to compare, e.g. [{"path": "$.label"}]' })
      .max(MAX_COMPARE_FIELDS, { error: `must name at most ${MAX_COMPARE_FIELDS} fields; compare the ones that decide the prediction` }),
    redact: z
      .array(JsonPathText, { error: 'must be a list of JSONPaths such as ["$.customer.name"]' })
      .max(MAX_COMPARE_FIELDS, { error: `must name at most ${MAX_COMPARE_FIELDS} paths; redact a parent object instead` })
      .optional(),
    samples: z
      .number({ error: (issue) => samplesMessage(issue.input) })
      .check((ctx) => {
        if (!Number.isInteger(ctx.value) || ctx.value < 0 || ctx.value > MAX_COMPARE_SAMPLES) ctx.issues.push({ code: 'custom', input: ctx.value, message: samplesMessage(ctx.value) });
      })
      .optional(),
  },
  { error: (issue) => (issue.code === 'invalid_type' ? 'must be an object {"fields": [{"path": "$.label"}], "redact": [...], "samples": 5}' : undefined) },
);

function samplesMessage(input: unknown): string {
  return `must be an integer from 0 to ${MAX_COMPARE_SAMPLES}, the disagreements kept (got ${JSON.stringify(input)})`;
}

/** How mirrored answers are compared with the caller's (see MirrorCompareSchema). */
export type MirrorCompare = z.output<typeof MirrorCompareSchema>;
/** One compared JSONPath of MirrorCompare. */
export type MirrorCompareField = MirrorCompare['fields'][number];

/**
 * A copy of a share of the unpinned requests sent to one more version: callers are answered by
 * the weighted version only (Gateway API's RequestMirror). Without `compare` the copies' answers
 * are discarded; with it, tandem's gateway compares each with the caller's answer.
 */
const MirrorSchema = z.strictObject(
  {
    version: VersionName,
    percent: Percent.optional().transform((percent) => percent ?? 100),
    compare: z.preprocess((compare) => compare ?? undefined, MirrorCompareSchema.optional()),
  },
  { error: (issue) => (issue.code === 'invalid_type' ? 'must be an object {"version": "v1.1.0", "percent": 100}' : undefined) },
  // A null compare leaves no key, so states compare and serialise the same however they were written.
).transform(({ compare, ...mirror }): { version: string; percent: number; compare?: MirrorCompare } => (compare === undefined ? mirror : { ...mirror, compare }));

const TrafficStateFields = z.strictObject(
  {
    weights: WeightsSchema,
    pinned: z
      .array(VersionName, { error: 'must be a list of version names' })
      .optional()
      .transform((pinned) => [...new Set(pinned ?? [])]),
    stable: z.preprocess((stable) => stable ?? undefined, VersionName.optional()),
    mirror: z.preprocess((mirror) => mirror ?? undefined, MirrorSchema.optional()),
  },
  { error: (issue) => (issue.code === 'invalid_type' ? 'must be a JSON object {"weights": {...}, "pinned": [...], "stable": "...", "mirror": {...}}' : undefined) },
).check((ctx) => {
  // A version that answers callers already sees those requests: a copy would double its load.
  const mirror = ctx.value.mirror;
  if (mirror && (ctx.value.weights[mirror.version] ?? 0) > 0) {
    ctx.issues.push({ code: 'custom', input: mirror, path: ['mirror', 'version'], message: `${mirror.version} already has traffic weight; mirror a version that answers no caller` });
  }
});

/**
 * The routing of one model: weights (version → integer percent, summing to 100, or empty to
 * serve pinned requests only), pinned (versions reachable with `X-Model-Version`; absent means
 * none), stable (the version holding the stable role; absent or null means none), mirror (a
 * version that gets a copy of `percent` of the unpinned requests, and how its answers are
 * compared with the callers' when `compare` is given; absent or null means none).
 */
export type TrafficState = z.output<typeof TrafficStateFields>;

/**
 * TrafficState as parsed: unknown fields are refused so a typo is not silently ignored; pinned
 * is deduplicated; an absent or null stable leaves no `stable` key, so states compare and
 * serialise the same however they were written.
 */
export const TrafficStateSchema = TrafficStateFields.transform(({ weights, pinned, stable, mirror }): TrafficState => ({
  weights,
  pinned,
  ...(stable === undefined ? {} : { stable }),
  ...(mirror === undefined ? {} : { mirror }),
}));

/** What parseTrafficState answers: the normalised state, or every issue found. */
export type TrafficStateResult = { state: TrafficState; issues: [] } | { state?: undefined; issues: TrafficIssue[] };

/**
 * Parses and checks a traffic state (a request body, a stored file, a router's read-back).
 * Returns the normalised state (pinned deduplicated, absent pinned → [], null stable and mirror
 * dropped, mirror percent 100 when not given) or
 * the issues, unknown fields first, each with its dotted field path. Never throws.
 */
export function parseTrafficState(value: unknown): TrafficStateResult {
  const result = TrafficStateSchema.safeParse(value);
  if (result.success) return { state: result.data, issues: [] };
  const unknown: TrafficIssue[] = [];
  const issues: TrafficIssue[] = [];
  for (const issue of result.error.issues) {
    if (issue.code === 'unrecognized_keys') {
      const known = knownFieldsAt(issue.path);
      for (const key of issue.keys) unknown.push({ field: [...issue.path, key].join('.'), message: `is not a known field (${known})` });
    } else {
      issues.push({ field: issue.path.length ? issue.path.map(String).join('.') : '(body)', message: issue.message });
    }
  }
  return { issues: [...unknown, ...issues] };
}

/** The fields an object at `path` may have, for the message on an unknown one. */
function knownFieldsAt(path: readonly PropertyKey[]): string {
  if (path[0] !== 'mirror') return KNOWN_FIELDS;
  if (path[1] !== 'compare') return KNOWN_MIRROR_FIELDS;
  return path[2] === 'fields' ? KNOWN_COMPARE_FIELD_FIELDS : KNOWN_COMPARE_FIELDS;
}

/**
 * The mirror's `compare` stored as JSON text (the HTTPRoute annotation `tandem.dev/mirror-compare`),
 * or why it is none tandem can use. Never throws.
 */
export function parseMirrorCompare(text: string): { compare: MirrorCompare } | { problem: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { problem: `not JSON (${(error as Error).message})` };
  }
  const result = MirrorCompareSchema.safeParse(value);
  if (result.success) return { compare: result.data };
  return { problem: result.error.issues.map((i) => `${['compare', ...i.path.map(String)].join('.')}: ${i.message}`).join('; ') };
}

/** Issues as one line, `field: message; ...`, the form error messages and the admin API's `error` use. */
export function formatTrafficIssues(issues: readonly TrafficIssue[]): string {
  return issues.map((i) => `${i.field}: ${i.message}`).join('; ');
}
