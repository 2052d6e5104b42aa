/**
 * The messages of a promotion (./promotion.ts), defined once for the workflow, the client, the
 * rollback workflow that cancels a pending promotion, and the tests.
 */
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { NextPathStep } from '../activities/types';
import type { PromotionArtifact } from '../rollout/promotion';
import type { HistoryEntry } from './messages';

export interface PromotionInput {
  model: string;
  version: string;
  /** the release promoted in `to.from`: its artifact, spec and verification */
  artifact: PromotionArtifact;
  to: NextPathStep;
}

/**
 * soaking: waiting out the soak in the previous environment. eligible: the conditions hold; an
 * operator may start the release (auto: tandem is starting it). released: the next environment's
 * release started. blocked: a condition can never hold (analysis did not pass). cancelled: the
 * version was rolled back in the previous environment before it was released to the next.
 */
export type PromotionState = 'soaking' | 'eligible' | 'released' | 'blocked' | 'cancelled';

export interface PromotionStatus {
  model: string;
  version: string;
  from: string;
  to: string;
  state: PromotionState;
  conditions: { soakMs: number; requireAnalysis: boolean; auto: boolean };
  /** when the soak ends (ISO, workflow time) */
  soakUntil: string;
  /** why it is blocked or cancelled */
  reason?: string;
  /** the release it started, or that an operator started */
  release?: { workflowId: string; by: string; auto: boolean };
  /** what moves: image digest, commit, spec and the verification recorded in the previous environment */
  artifact: PromotionArtifact;
  history: HistoryEntry[];
}

export interface SourceRolledBack {
  /** who rolled back, and the rollback's workflow id */
  who: string;
  rollbackId: string;
  to: string;
}

export interface PromotionTaken {
  workflowId: string;
  by: string;
}

/** The previous environment rolled the version back: its pending promotion ends (sent by rollbackModel). */
export const sourceRolledBackSignal = defineSignal<[SourceRolledBack]>('source-rolled-back');
/** An operator started the next environment's release of this version (sent by the client). */
export const promotionTakenSignal = defineSignal<[PromotionTaken]>('promotion-taken');
export const promotionStatusQuery = defineQuery<PromotionStatus>('promotion-status');
