/**
 * The schema of `tandem.yaml`, the spec a model repository keeps at each tagged commit.
 * It is the single source of truth: the TypeScript types, the validation messages and the
 * published JSON Schema (schema/tandem.schema.json) all come from it.
 * Pure: imported by workflows.
 */
import { z } from 'zod';
import { DURATION_PATTERN, durationMs } from '../shared/duration';
import { DURATION_BOUNDS, MAX_ANALYSIS_COUNT, MAX_PORT, MAX_REPLICAS, MAX_ROLLOUT_STEPS, MAX_SMOKE_BODY_BYTES, MAX_SMOKE_TESTS } from './limits';
import { MODEL_NAME, MODEL_NAME_RULE } from '../naming/model';

/** A duration string at most `bound` long (a spec that validates must be able to run). */
const duration = (bound: { maxMs: number; text: string }) =>
  z
    .string()
    .regex(DURATION_PATTERN, 'must be a duration such as 500ms, 30s, 5m or 2h')
    .refine((text) => !DURATION_PATTERN.test(text.trim()) || durationMs(text) <= bound.maxMs, `must be at most ${bound.text}`)
    .describe(`A duration: a number followed by ms, s, m, h or d; at most ${bound.text}.`);

/** JSON that serializes to at most MAX_SMOKE_BODY_BYTES (a smoke body travels in workflow history). */
const boundedJson = z.unknown().refine((value) => value === undefined || jsonBytes(value) <= MAX_SMOKE_BODY_BYTES, {
  message: `is larger than ${MAX_SMOKE_BODY_BYTES / 1024} KiB as JSON; keep smoke requests small (large inputs belong in the model's own tests)`,
});

function jsonBytes(value: unknown): number {
  const text = JSON.stringify(value) ?? '';
  // UTF-8 length without Node's Buffer (this module is bundled into workflows).
  return new TextEncoder().encode(text).length;
}

const httpPath = z.string().startsWith('/', 'must start with "/"');

export const smokeTestSchema = z
  .object({
    name: z.string().min(1).describe('Shown in status and in the failure reason.'),
    request: z.object({
      method: z.enum(['GET', 'POST', 'PUT']).default('POST'),
      path: httpPath,
      body: boundedJson.optional().describe(`Sent as JSON; at most ${MAX_SMOKE_BODY_BYTES / 1024} KiB.`),
    }),
    expect: z.object({
      status: z.number().int().min(100).max(599).default(200),
      json: z
        .record(z.string(), z.union([z.number(), z.string(), z.boolean(), z.null()]))
        .refine((value) => jsonBytes(value) <= MAX_SMOKE_BODY_BYTES, `is larger than ${MAX_SMOKE_BODY_BYTES / 1024} KiB as JSON`)
        .optional()
        .describe('Expected values by dotted path into the JSON answer, e.g. {"score": 0.12, "label": "ok"}.'),
      tolerance: z.number().min(0).default(0).describe('Allowed absolute difference for numeric values.'),
    }),
  })
  .strict();

const setWeightStep = z
  .object({ setWeight: z.number().int().min(0).max(100).describe('Percent of unpinned traffic sent to the new version.') })
  .strict();
/** A step that waits: `{ <step>: { <field>?: duration } }`. */
const waitStep = <S extends string, F extends string>(step: S, field: F, bound: { maxMs: number; text: string }, description: string) =>
  z.object({ [step]: z.object({ [field]: duration(bound).optional().describe(description) } as Record<F, z.ZodOptional<ReturnType<typeof duration>>>).strict() } as Record<S, z.ZodObject<Record<F, z.ZodOptional<ReturnType<typeof duration>>>>>).strict();
const pauseStep = waitStep('pause', 'duration', DURATION_BOUNDS.pause, 'Without a duration the release waits for `resume`.');
const approvalStep = waitStep('approval', 'timeout', DURATION_BOUNDS.approval, 'Without approval by then the release rolls back.');

/** Placeholders a web metric's URL may hold; each is replaced by its value, URL-encoded. */
export const WEB_METRIC_PLACEHOLDERS = ['model', 'version', 'environment'] as const;
/** Most web metrics per analysis step (each is one request per window). */
export const MAX_WEB_METRICS = 20;

/** A number read from the model team's own service: GET url, take the value at jsonPath, compare with min/max. */
export const webMetricSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z][A-Za-z0-9_.-]{0,62}$/, 'must be a short name such as precision or auc_7d').describe('Shown in status and in the failure reason.'),
    url: z
      .string()
      .refine(onlyKnownPlaceholders, `may hold only the placeholders ${WEB_METRIC_PLACEHOLDERS.map((p) => `{${p}}`).join(', ')}`)
      .refine(isHttpUrlTemplate, 'must be an http(s) URL without credentials, e.g. https://quality.internal/models/{model}/versions/{version}/precision (a token goes in the worker\'s analysis.web.headers)')
      .describe(
        `GET here (with the headers the worker's analysis.web.headers name); ${WEB_METRIC_PLACEHOLDERS.map((p) => `{${p}}`).join(', ')} are replaced. The answer must be JSON.`,
      ),
    jsonPath: z.string().startsWith('$', 'must be a JSONPath starting with "$", e.g. $.value').describe('Where the number is in the JSON answer, e.g. $.value or $.metrics[0].precision.'),
    min: z.number().optional().describe('Lowest accepted value.'),
    max: z.number().optional().describe('Highest accepted value.'),
    timeout: duration(DURATION_BOUNDS.healthTimeout).default('5s').describe('Deadline of the request.'),
  })
  .strict()
  .refine((m) => m.min !== undefined || m.max !== undefined, { message: 'needs min or max (the bound the value must keep)', path: ['min'] })
  .refine((m) => m.min === undefined || m.max === undefined || m.min <= m.max, { message: 'is above max', path: ['min'] });

/** A web metric as an analysis round receives it (rollout plan -> activity input): its timeout in ms. */
export interface WebMetricRule {
  name: string;
  /** the template, placeholders not yet filled */
  url: string;
  jsonPath: string;
  min?: number;
  max?: number;
  timeoutMs: number;
}

function onlyKnownPlaceholders(template: string): boolean {
  return [...template.matchAll(/\{([^{}]*)\}/g)].every((m) => (WEB_METRIC_PLACEHOLDERS as readonly string[]).includes(m[1]!));
}

/** http(s)://host... once the placeholders are filled, with no user:password@ (secrets stay with the worker). */
function isHttpUrlTemplate(template: string): boolean {
  return /^https?:\/\/[^/?#\s@]+(?:[/?#]\S*)?$/.test(template.replace(/\{[^{}]*\}/g, 'x'));
}

/** Conditions on the candidate relative to the stable version, measured in the same window. */
const stableComparison = z
  .object({
    errorRate: z
      .object({ maxIncrease: z.number().min(0).max(1).describe('Highest accepted excess over the stable error rate: 0.01 is one point.') })
      .strict()
      .optional(),
    p95: z.object({ maxRatio: z.number().positive().describe('Highest accepted candidate p95 as a multiple of the stable p95.') }).strict().optional(),
  })
  .strict()
  .refine((c) => c.errorRate !== undefined || c.p95 !== undefined, 'names no comparison; give errorRate: { maxIncrease } or p95: { maxRatio }, or leave compare out')
  .describe('Compare the new version with the stable version measured side by side in the same window (both need minRequests).');

/** What every analysis judges a window by, in a step (`analysis`) or through the canary (`backgroundAnalysis`). */
const analysisConditions = {
  maxErrorRate: z.number().min(0).max(1).default(0.05).describe('Highest accepted share of failed requests to the new version.'),
  maxP95LatencyMs: z.number().positive().optional(),
  interval: duration(DURATION_BOUNDS.analysisInterval).default('10s'),
  minRequests: z.number().int().min(0).default(10).describe('Fewer requests in a window make it inconclusive, not failed.'),
  compare: stableComparison.optional(),
  web: z
    .array(webMetricSchema)
    .min(1, 'lists no metric; leave web out instead')
    .max(MAX_WEB_METRICS, `at most ${MAX_WEB_METRICS} web metrics`)
    .refine((ms) => new Set(ms.map((m) => m.name)).size === ms.length, 'names a metric twice; give each a name of its own')
    .optional()
    .describe('Numbers read from your own service at the end of each window (README, "Web metrics"); one outside its bound fails the analysis.'),
};

const analysisStep = z
  .object({
    analysis: z
      .object({
        ...analysisConditions,
        count: z.number().int().min(1).max(MAX_ANALYSIS_COUNT).default(3).describe('How many measurements, one per interval.'),
      })
      .strict(),
  })
  .strict();

/** Analysis through every canary step from the first that gives the new version traffic until promotion (Argo Rollouts' background analysis). */
export const backgroundAnalysisSchema = z
  .object(analysisConditions)
  .strict()
  .describe('Measured window after window from the first setWeight above 0 until promotion; a failing window rolls back at once, whatever step the release is in.');

/** A JSONPath into a JSON request or answer; `$` alone would compare or hide everything. */
const jsonPath = z.string().regex(/^\$[.[]\S*$/, 'must be a JSONPath into the JSON, starting with "$." or "$[", e.g. $.label or $.scores[0]');

/** Where the stable and candidate answers to the same request are compared. */
export const predictionFieldSchema = z
  .object({
    path: jsonPath.describe('Where the prediction is in the JSON answer, e.g. $.label or $.score.'),
    tolerance: z.number().min(0).optional().describe('Numbers agree within this absolute difference.'),
    relativeTolerance: z.number().min(0).optional().describe("Numbers agree within this share of stable's value (0.05 is 5%)."),
  })
  .strict()
  .describe('Labels (strings, booleans) agree when equal; numbers when equal or within a tolerance.');

/** Most prediction fields compared, and most fields redacted, per shadow step. */
export const MAX_PREDICTION_FIELDS = 20;
/** Most disagreements a release keeps per shadow window (input and both answers). */
export const MAX_DISAGREEMENT_SAMPLES = 20;

const agreementSchema = z
  .object({
    min: z.number().min(0).max(1).describe('Lowest accepted share of compared requests whose predictions agree (agreement >= min).'),
    minSamples: z.number().int().min(1).default(20).describe('Fewer compared requests in a window make it inconclusive, not failed.'),
    fields: z.array(predictionFieldSchema).min(1, 'names no field; give the JSONPath of the prediction, e.g. - path: $.label').max(MAX_PREDICTION_FIELDS, `at most ${MAX_PREDICTION_FIELDS} fields`),
    redact: z
      .array(jsonPath)
      .max(MAX_PREDICTION_FIELDS, `at most ${MAX_PREDICTION_FIELDS} paths`)
      .default([])
      .describe('JSONPaths into the request and the answers replaced by "[redacted]" in the kept samples (e.g. $.customer_id).'),
    samples: z.number().int().min(0).max(MAX_DISAGREEMENT_SAMPLES).default(5).describe('Disagreements kept per window for the operator: input and both answers.'),
  })
  .strict();

const shadowStep = z
  .object({
    shadow: z
      .object({
        percent: z.number().int().min(1).max(100).default(100).describe('Percent of unpinned requests copied to the new version; callers are answered by stable.'),
        duration: duration(DURATION_BOUNDS.pause).describe('How long requests are copied.'),
        interval: duration(DURATION_BOUNDS.analysisInterval).optional().describe('One agreement verdict per interval; default: one for the whole duration.'),
        agreement: agreementSchema.optional().describe("Compare the new version's answers with stable's on the same requests; without it the copies only load the new version."),
      })
      .strict(),
  })
  .strict()
  .describe('Copy live requests to the new version before it serves anyone (README, "Shadow traffic and prediction agreement").');

export const rolloutStepSchema = z.union([setWeightStep, pauseStep, approvalStep, analysisStep, shadowStep]);

/**
 * Shadow steps that can run: before the new version gets traffic (after, it would be copied
 * requests it already answers), and with at most MAX_ANALYSIS_COUNT windows. Checked on the list,
 * not the step, so a step's own errors are reported as they are.
 */
function shadowStepsRunnable(steps: Array<z.output<typeof rolloutStepSchema>>, ctx: z.RefinementCtx): void {
  const served = steps.findIndex((step) => 'setWeight' in step && step.setWeight > 0);
  steps.forEach((step, i) => {
    if (!('shadow' in step)) return;
    if (served >= 0 && i > served) {
      ctx.addIssue({ code: 'custom', path: [i, 'shadow'], message: `comes after step ${served} (setWeight ${(steps[served] as { setWeight: number }).setWeight}): shadow steps must come before the first setWeight above 0, while stable answers every caller` });
    }
    const { duration: total, interval } = step.shadow;
    if (interval && Math.ceil(durationMs(total) / durationMs(interval)) > MAX_ANALYSIS_COUNT) {
      ctx.addIssue({ code: 'custom', path: [i, 'shadow', 'interval'], message: `gives more than ${MAX_ANALYSIS_COUNT} windows in duration ${total}; use a longer interval` });
    }
  });
}

export const rolloutSchema = z.discriminatedUnion('strategy', [
  z.object({ strategy: z.literal('direct') }).strict(),
  z
    .object({
      strategy: z.literal('canary'),
      steps: z
        .array(rolloutStepSchema)
        .min(1, 'a canary needs at least one step')
        .max(MAX_ROLLOUT_STEPS, `at most ${MAX_ROLLOUT_STEPS} steps`)
        .superRefine(shadowStepsRunnable),
      backgroundAnalysis: backgroundAnalysisSchema.optional(),
    })
    .strict(),
  z
    .object({
      strategy: z.literal('blue-green'),
      approval: z.object({ timeout: duration(DURATION_BOUNDS.approval).optional() }).strict().optional().describe('Gate before the switch.'),
      previewDuration: duration(DURATION_BOUNDS.pause).optional().describe('How long the new version runs beside stable before the switch.'),
    })
    .strict(),
]);

export const specSchema = z
  .object({
    model: z
      .string()
      .regex(MODEL_NAME, `must be ${MODEL_NAME_RULE}`)
      .optional()
      .describe('Must match the model name the release is started for, when given.'),
    port: z.number().int().min(1).max(MAX_PORT).describe('Port the model server listens on inside the container.'),
    health: z
      .object({
        path: httpPath.default('/healthz'),
        timeout: duration(DURATION_BOUNDS.healthTimeout).default('5s'),
      })
      .strict()
      .default({ path: '/healthz', timeout: '5s' }),
    smoke: z
      .array(smokeTestSchema)
      .max(MAX_SMOKE_TESTS, `at most ${MAX_SMOKE_TESTS} smoke tests`)
      .default([])
      .describe('Golden requests sent to the new version before it takes traffic.'),
    replicas: z.number().int().min(1).max(MAX_REPLICAS).default(1),
    resources: z
      .object({
        cpu: z.string().regex(/^\d+(\.\d+)?m?$/, 'must be cores ("0.5") or millicores ("500m")').optional(),
        memory: z.string().regex(/^\d+(Ki|Mi|Gi)?$/, 'must be bytes or a quantity like 256Mi').optional(),
      })
      .strict()
      .default({}),
    readyTimeout: duration(DURATION_BOUNDS.readyTimeout).default('2m').describe('How long a new version may take to become ready.'),
    rollout: rolloutSchema.default({ strategy: 'direct' }),
    retention: z
      .object({
        keepPrevious: z.number().int().min(0).max(10).default(1).describe('Previous stable versions kept warm for instant rollback.'),
      })
      .strict()
      .default({ keepPrevious: 1 }),
  })
  .strict();

export type Spec = z.output<typeof specSchema>;
export type SpecInput = z.input<typeof specSchema>;
export type RolloutStep = z.output<typeof rolloutStepSchema>;
export type SmokeTest = z.output<typeof smokeTestSchema>;
export type PredictionField = z.output<typeof predictionFieldSchema>;
