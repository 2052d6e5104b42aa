/**
 * The API's request and answer shapes, as zod schemas: Fastify validates requests with them and
 * @fastify/swagger publishes them in /openapi.json, so the document and the checks cannot drift.
 * Answers are loose objects: a field the workflow adds later is passed through, not dropped.
 */
import { z } from 'zod';
import { MODEL_NAME, MODEL_NAME_RULE } from '../naming/model';
import { MAX_TEXT_LENGTH } from '../workflows/messages';

export const modelParams = z
  .object({
    model: z.string().regex(MODEL_NAME, `a model name is ${MODEL_NAME_RULE}`).describe('model name, as in tandem.config.yaml'),
    env: z.string().regex(/^[a-z0-9-]+$/, 'an environment name is lowercase letters, digits and "-"').describe('environment name, as in tandem.config.yaml'),
  })
  .strict();

/**
 * A body object that refuses unknown fields (so a typo or a `who` is reported, not ignored). The
 * message for an unknown field is written by the error handler (errors.ts), which names it.
 */
const body = <T extends z.core.$ZodLooseShape>(shape: T) => z.strictObject(shape, { error: (issue) => (issue.code === 'invalid_type' ? 'must be a JSON object' : undefined) });

const text = (what: string) =>
  z.string({ error: `${what} must be a string` }).max(MAX_TEXT_LENGTH, `${what} is longer than ${MAX_TEXT_LENGTH} characters`).optional().describe(`${what}, recorded with the action`);

const TAG_REQUIRED = 'tag is required: the Git tag to release, e.g. "v1.2.0"';

export const startBody = body({
  tag: z
    .string({ error: (issue) => (issue.input === undefined ? TAG_REQUIRED : 'tag must be a string, the Git tag to release, e.g. "v1.2.0"') })
    .min(1, TAG_REQUIRED)
    .describe('Git tag of the model repository'),
  repo: z
    .string({ error: 'repo must be a string' })
    .min(1)
    .optional()
    .describe('Git URL or path of the model repository; default, and the only one accepted when set: models.<model>.repo in tandem.config.yaml'),
  overrideReason: z
    .string({ error: 'overrideReason must be a string' })
    .min(1)
    .max(MAX_TEXT_LENGTH, `overrideReason is longer than ${MAX_TEXT_LENGTH} characters`)
    .optional()
    .describe("Start a version that is not eligible on the model's path (README, \"Environments in sequence\"); recorded with who; the environment's promote rule decides who may"),
});
export const commentBody = body({ comment: text('comment') }).prefault({});
export const reasonBody = body({ reason: text('reason') }).prefault({});
export const rollbackBody = body({
  to: z.string({ error: 'to must be a version name' }).min(1).optional().describe('running version to switch to; default: the most recent warm one'),
  reason: text('reason'),
}).prefault({});

export const releasesQuery = z
  .object({
    model: z.string().regex(MODEL_NAME, `a model name is ${MODEL_NAME_RULE}`).optional(),
    env: z.string().regex(/^[a-z0-9-]+$/).optional(),
    state: z.enum(['running', 'all']).default('running').describe('running (default): active releases only; all: finished ones too'),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
  })
  .strict();
export const releaseQuery = z
  .object({ id: z.string().min(1).optional().describe('workflowId of a past release of this model here (GET .../history); default: the latest') })
  .strict();
export const historyQuery = z.object({ limit: z.coerce.number().int().min(1).max(1000).default(20) }).strict();

/**
 * An answer object that passes through fields its schema does not name (a field the workflow adds
 * later reaches the caller), typed by the fields it names.
 */
const open = <S extends z.core.$ZodLooseShape>(shape: S) => z.looseObject(shape) as unknown as z.ZodObject<S>;

const weights = z.record(z.string(), z.number()).describe('percent of unpinned traffic per version');

export const releaseSummarySchema = open({
  workflowId: z.string(),
  model: z.string(),
  environment: z.string(),
  version: z.string(),
  stage: z.string(),
  status: z.string().describe("Temporal's execution status: RUNNING, COMPLETED (promoted), FAILED (rolled back or failed), ..."),
  startTime: z.string(),
  closeTime: z.string().optional(),
  waitingFor: z.enum(['approval', 'resume', 'deploy-window']).optional(),
  paused: z.boolean().optional(),
}).describe('ReleaseSummary');

const operatorActionSchema = open({
  action: z.enum(['approve', 'abort', 'pause', 'resume', 'promote', 'override-window']),
  who: z.string(),
  text: z.string().optional(),
  at: z.string(),
  accepted: z.boolean(),
  note: z.string().optional(),
}).describe('OperatorAction');
export { operatorActionSchema };

export const releaseStatusSchema = open({
  releaseId: z.string(),
  model: z.string(),
  environment: z.string(),
  version: z.string(),
  requestedBy: z.string().optional(),
  stage: z.string(),
  outcome: z.enum(['promoted', 'rolled-back', 'failed']).optional(),
  reason: z.string().optional(),
  failureType: z.string().optional(),
  commit: z.string().optional(),
  image: z.string().optional(),
  digest: z.string().optional(),
  previousStable: z.string().optional(),
  weights,
  paused: z.boolean(),
  waitingFor: z.enum(['approval', 'resume', 'deploy-window']).optional(),
  blocked: z.string().optional(),
  steps: z.array(open({ index: z.number(), description: z.string(), status: z.string(), detail: z.string().optional() })),
  checks: z.array(open({ check: z.string(), ok: z.boolean(), observed: z.string() })),
  actions: z.array(operatorActionSchema),
  history: z.array(open({ at: z.string(), message: z.string() })),
  startedAt: z.string(),
  finishedAt: z.string().optional(),
}).describe('ReleaseStatus');

export const startedSchema = z
  .object({ workflowId: z.string(), model: z.string(), environment: z.string(), tag: z.string(), requestedBy: z.string() }).describe('StartedRelease');

export const historyEntrySchema = open({
  kind: z.enum(['release', 'rollback']),
  workflowId: z.string(),
  runId: z.string(),
  version: z.string(),
  stage: z.string(),
  status: z.string(),
  startTime: z.string(),
  closeTime: z.string().optional(),
}).describe('HistoryEntry');

export const modelStateSchema = open({
  running: z.array(
    open({
      version: z.string(),
      commit: z.string(),
      image: z.string(),
      digest: z.string(),
      replicas: z.number(),
      readyReplicas: z.number(),
      releaseId: z.string(),
      deployedAt: z.string(),
    }),
  ),
  scaledDown: z.array(z.string()),
  traffic: open({ weights, pinned: z.array(z.string()), stable: z.string().optional() }),
}).describe('ModelState');

export const rollbackResultSchema = open({ from: z.string().optional(), to: z.string(), weights }).describe('RollbackResult');
