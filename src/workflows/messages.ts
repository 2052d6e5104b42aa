/**
 * Every message a release understands, defined once and shared by the workflow, the client, the
 * CLI and the tests. Each operator action exists twice: as a signal (so the Temporal Web UI and
 * `temporal workflow signal` can send it) and as an update with a validator (so the CLI gets
 * immediate feedback: an approval when nothing awaits one is refused, not dropped).
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { Weights } from '../activities/types';

export interface ReleaseInput {
  model: string;
  tag: string;
  environment: string;
  repoUrl: string;
  /** who or what started it: a CI job URL, a user name */
  requestedBy?: string;
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

export interface OperatorRequest {
  who: string;
  /** comment for approve, reason for abort */
  text?: string;
}

export interface OperatorAction extends OperatorRequest {
  action: 'approve' | 'abort' | 'pause' | 'resume' | 'promote';
  at: string;
  /** false when the request arrived as a signal that could not apply (kept, so nothing is silently lost) */
  accepted: boolean;
  note?: string;
}

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
  stage: Stage;
  outcome?: Outcome;
  /** why the release was rolled back */
  reason?: string;
  failureType?: string;
  commit?: string;
  image?: string;
  digest?: string;
  /** the stable version when the release started */
  previousStable?: string;
  weights: Weights;
  paused: boolean;
  waitingFor?: 'approval' | 'resume';
  steps: StepState[];
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
}

export interface RollbackResult {
  from?: string;
  to: string;
  weights: Weights;
}

export const approveSignal = defineSignal<[OperatorRequest]>('approve');
export const abortSignal = defineSignal<[OperatorRequest]>('abort');
export const pauseSignal = defineSignal<[OperatorRequest]>('pause');
export const resumeSignal = defineSignal<[OperatorRequest]>('resume');
export const promoteSignal = defineSignal<[OperatorRequest]>('promote');

/** Updates return the accepted action; their validators reject what cannot apply. */
export const approveUpdate = defineUpdate<OperatorAction, [OperatorRequest]>('approve-now');
export const abortUpdate = defineUpdate<OperatorAction, [OperatorRequest]>('abort-now');
export const pauseUpdate = defineUpdate<OperatorAction, [OperatorRequest]>('pause-now');
export const resumeUpdate = defineUpdate<OperatorAction, [OperatorRequest]>('resume-now');
export const promoteUpdate = defineUpdate<OperatorAction, [OperatorRequest]>('promote-now');

export const statusQuery = defineQuery<ReleaseStatus>('status');

export const operatorActions = ['approve', 'abort', 'pause', 'resume', 'promote'] as const;
export type OperatorActionName = (typeof operatorActions)[number];

export const signals = {
  approve: approveSignal,
  abort: abortSignal,
  pause: pauseSignal,
  resume: resumeSignal,
  promote: promoteSignal,
} as const;
export const updates = {
  approve: approveUpdate,
  abort: abortUpdate,
  pause: pauseUpdate,
  resume: resumeUpdate,
  promote: promoteUpdate,
} as const;
