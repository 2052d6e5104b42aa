/**
 * Every message a release understands, defined once and shared by the workflow, the client, the
 * CLI and the tests. Each operator action exists twice: as a signal (so the Temporal Web UI and
 * `temporal workflow signal` can send it) and as an update with a validator (so the CLI gets
 * immediate feedback: an approval when nothing awaits one is refused, not dropped).
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { DisagreementSample, ShadowResult, Weights } from '../activities/types';
import type { RecordedMeasurement } from '../rollout/measurements';
import type { Channel, SignedIdentity } from '../policy/identity';
import type { PromotedFrom, PromotionArtifact } from '../rollout/promotion';

export interface ReleaseInput {
  model: string;
  tag: string;
  environment: string;
  repoUrl: string;
  /** who or what started it: a CI job URL, a user name */
  requestedBy?: string;
  /** who started it as `tandem serve` authenticated and signed it (verified by the workflow) */
  identity?: SignedIdentity;
  /**
   * Set when the version comes from the previous environment of the model's path: the release
   * deploys this artifact (image digest, commit, spec) and neither resolves the tag nor builds.
   */
  promotedFrom?: PromotionArtifact & { override?: PromotedFrom['override'] };
}

export type Stage =
  | 'resolving'
  | 'building'
  | 'deploying'
  | 'verifying'
  | 'rolling-out'
  | 'promoting'
  | 'promoted'
  | 'rolling-back'
  | 'rolled-back'
  | 'failed';

/** promoted; rolled-back (something was deployed and has been undone); failed (nothing was deployed). */
export type Outcome = 'promoted' | 'rolled-back' | 'failed';

/** Longest `who` and `text` a release records; longer ones are refused, so history stays small. */
export const MAX_WHO_LENGTH = 200;
export const MAX_TEXT_LENGTH = 2000;
/** Most groups a signed request may carry. */
export const MAX_GROUPS = 100;

/**
 * The payload of every operator message. Signals come from anywhere (the Web UI's Send signal
 * sends `null` for an empty field, `temporal workflow signal --input 42` sends a number), so
 * signal handlers and update validators check payloads against this one schema.
 *
 * Built at the first message, with zod required then: a worker evaluates its workflow bundle's
 * modules once per workflow it holds, and zod at the top would cost every release about 0.3 MB
 * (bench/scale.ts, worker_mb_per_waiting_release), though most never receive a message.
 */
function operatorRequestSchema() {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { z } = require('zod') as typeof import('zod');
  return z
    .object({
      who: z
        .string({ error: 'who is required: a JSON object such as {"who": "alice", "text": "why"}' })
        .trim()
        .min(1, 'who must name the person or job making the request')
        .max(MAX_WHO_LENGTH, `who is longer than ${MAX_WHO_LENGTH} characters`),
      text: z.string({ error: 'text must be a string' }).max(MAX_TEXT_LENGTH, `text is longer than ${MAX_TEXT_LENGTH} characters`).nullish(),
      // Added by `tandem serve` when it signs the request (src/policy/identity.ts); the workflow verifies them.
      groups: z.array(z.string().max(MAX_WHO_LENGTH), { error: 'groups must be a list of names' }).max(MAX_GROUPS, `groups lists more than ${MAX_GROUPS} names`).nullish(),
      issuedAt: z.string({ error: 'issuedAt must be an ISO time' }).max(40).nullish(),
      signature: z.string({ error: 'signature must be a hex string' }).max(200).nullish(),
    })
    .strip()
    .refine((r) => !r.signature || r.issuedAt, { message: 'issuedAt is required with a signature', path: ['issuedAt'] });
}
let requestSchema: ReturnType<typeof operatorRequestSchema> | undefined;

export interface OperatorRequest {
  who: string;
  /** comment for approve, reason for abort and override-window */
  text?: string;
  /** set by `tandem serve` with issuedAt and signature; ignored (never trusted) without a valid signature */
  groups?: string[];
  issuedAt?: string;
  /** Ed25519 signature by serve's key (src/policy/identity.ts); without it the request is self-declared */
  signature?: string;
}

/** The request, or why it is malformed (names the field and the expected shape). Never throws. */
export function parseOperatorRequest(payload: unknown): { ok: true; request: OperatorRequest } | { ok: false; why: string } {
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) {
    return { ok: false, why: `malformed payload ${describePayload(payload)}: send a JSON object such as {"who": "alice", "text": "why"}` };
  }
  const parsed = (requestSchema ??= operatorRequestSchema()).safeParse(payload);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return { ok: false, why: `malformed payload: ${issue.path.length ? `${issue.path.join('.')}: ` : ''}${issue.message}` };
  }
  const { who, text, groups, issuedAt, signature } = parsed.data;
  return { ok: true, request: { who, ...(text ? { text } : {}), ...(signature && issuedAt ? { groups: groups ?? [], issuedAt, signature } : {}) } };
}

/** A short, bounded description of what a sender put in a payload, for the record. */
export function describePayload(payload: unknown): string {
  if (payload === undefined) return '(none)';
  let text: string;
  try {
    text = JSON.stringify(payload) ?? String(payload);
  } catch {
    text = typeof payload;
  }
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

export interface OperatorAction extends OperatorRequest {
  action: OperatorActionName;
  at: string;
  /** false when the request arrived as a signal that could not apply (kept, so nothing is silently lost) */
  accepted: boolean;
  note?: string;
  /**
   * How `who` is known. api: `tandem serve` authenticated it and signed it, the workflow verified
   * the signature. temporal: sent straight to Temporal (CLI, Web UI, `temporal workflow signal`),
   * the name is self-declared. Absent in releases started before the approval policy.
   */
  via?: OperatorChannel;
  /** the verified groups (via api only) */
  groups?: string[];
  /** the policy rule under which it was accepted, e.g. `approvers: group ml-leads; four-eyes (2 of 2)` */
  rule?: string;
}

export type OperatorChannel = Channel;

export interface StepState {
  index: number;
  description: string;
  status: 'pending' | 'running' | 'done' | 'failed' | 'skipped';
  detail?: string;
  startedAt?: string;
  finishedAt?: string;
}

export interface HistoryEntry {
  at: string;
  message: string;
}

export interface ReleaseStatus {
  releaseId: string;
  model: string;
  environment: string;
  version: string;
  requestedBy?: string;
  /** how requestedBy is known (see OperatorAction.via) */
  requestedVia?: OperatorChannel;
  /** the approval policy in force and where in the configuration it comes from */
  policy?: { summary: string; source: string };
  /** the approval gate now waiting (or last passed): distinct approvers so far and how many it needs */
  approvals?: { required: number; by: string[] };
  stage: Stage;
  outcome?: Outcome;
  /** why the release was rolled back */
  reason?: string;
  failureType?: string;
  commit?: string;
  image?: string;
  digest?: string;
  /** where the artifact came from when the version was promoted along the model's path */
  promotedFrom?: PromotedFrom;
  /** the promotion to the next environment of the path this release started once promoted */
  promotion?: { to: string; workflowId: string };
  /** the stable version when the release started */
  previousStable?: string;
  weights: Weights;
  paused: boolean;
  waitingFor?: 'approval' | 'resume' | 'deploy-window';
  /** while waitingFor is deploy-window: when the next window opens (ISO) and the environment's windows */
  deployWindow?: { opensAt: string; windows: string };
  /** while a rollback part keeps failing: what and why (it is retried until it succeeds) */
  blocked?: string;
  /** every failed attempt of a rollback part, latest last */
  rollbackFailures?: { at: string; part: string; error: string }[];
  steps: StepState[];
  /** every number analysis judged, window by window (rollout steps, shadow steps, background analysis); the first and latest kept */
  measurements?: RecordedMeasurement[];
  /** the latest shadow window: how the new version's predictions agreed with stable's, and the disagreements kept (input and both answers, redacted by the gateway) */
  shadow?: { version: string; stable: string; agreement?: number; pairs: ShadowResult['pairs']; samples: DisagreementSample[] };
  /** the spec's backgroundAnalysis: windows measured so far and the latest verdict */
  background?: { state: 'running' | 'stopped' | 'failed'; rounds: number; last?: string };
  checks: { check: string; ok: boolean; observed: string }[];
  actions: OperatorAction[];
  history: HistoryEntry[];
  startedAt: string;
  finishedAt?: string;
}

export interface RollbackInput {
  model: string;
  environment: string;
  /** version to switch to; default: the most recently deployed running version that is not stable */
  to?: string;
  requestedBy?: string;
  reason?: string;
  /** who asked, as `tandem serve` authenticated and signed it (signed text: the reason) */
  identity?: SignedIdentity;
}

export interface RollbackResult {
  from?: string;
  to: string;
  weights: Weights;
  /** who rolled back, how that is known, and the policy rule that allowed it (absent before the approval policy) */
  by?: string;
  via?: OperatorChannel;
  rule?: string;
}

export const approveSignal = defineSignal<[OperatorRequest]>('approve');
export const abortSignal = defineSignal<[OperatorRequest]>('abort');
export const pauseSignal = defineSignal<[OperatorRequest]>('pause');
export const resumeSignal = defineSignal<[OperatorRequest]>('resume');
export const promoteSignal = defineSignal<[OperatorRequest]>('promote');
export const overrideWindowSignal = defineSignal<[OperatorRequest]>('override-window');

/** Updates return the accepted action; their validators reject what cannot apply. */
export const approveUpdate = defineUpdate<OperatorAction, [OperatorRequest]>('approve-now');
export const abortUpdate = defineUpdate<OperatorAction, [OperatorRequest]>('abort-now');
export const pauseUpdate = defineUpdate<OperatorAction, [OperatorRequest]>('pause-now');
export const resumeUpdate = defineUpdate<OperatorAction, [OperatorRequest]>('resume-now');
export const promoteUpdate = defineUpdate<OperatorAction, [OperatorRequest]>('promote-now');
export const overrideWindowUpdate = defineUpdate<OperatorAction, [OperatorRequest]>('override-window-now');

export const statusQuery = defineQuery<ReleaseStatus>('status');

export const operatorActions = ['approve', 'abort', 'pause', 'resume', 'promote', 'override-window'] as const;
export type OperatorActionName = (typeof operatorActions)[number];

export const signals = {
  approve: approveSignal,
  abort: abortSignal,
  pause: pauseSignal,
  resume: resumeSignal,
  promote: promoteSignal,
  'override-window': overrideWindowSignal,
} as const;
export const updates = {
  approve: approveUpdate,
  abort: abortUpdate,
  pause: pauseUpdate,
  resume: resumeUpdate,
  promote: promoteUpdate,
  'override-window': overrideWindowUpdate,
} as const;
