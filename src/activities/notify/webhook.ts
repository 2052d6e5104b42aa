/**
 * The generic webhook: one JSON document per notification, the same fields for every event
 * (README, "Notifications"). A receiver tells repeats apart by `deliveryId`.
 */
import type { NotificationEvent } from '../../naming/notifications';
import type { Weights } from '../types';
import { headline, type Delivery, type NotificationFormat, type ReleaseLinks } from './message';

/** The body tandem POSTs to a `kind: webhook` receiver. */
export interface WebhookNotification {
  event: NotificationEvent;
  /** the notification in one sentence */
  summary: string;
  model: string;
  environment: string;
  version: string;
  /** the release's stage when it was sent */
  stage: string;
  /** promoted, rolled-back or failed; null while the release runs (approval) */
  outcome: string | null;
  reason: string | null;
  /** who approved, promoted or aborted; null when tandem decided */
  actor: string | null;
  requestedBy: string | null;
  previousStable: string | null;
  weights: Weights;
  release: { workflowId: string; runId: string };
  links: ReleaseLinks;
  deliveryId: string;
  sentAt: string;
}

export const webhookFormat: NotificationFormat = {
  body({ notice, links, workflowId, runId, deliveryId, sentAt }: Delivery): WebhookNotification {
    return {
      event: notice.event,
      summary: headline(notice),
      model: notice.model,
      environment: notice.environment,
      version: notice.version,
      stage: notice.stage,
      outcome: notice.outcome ?? null,
      reason: notice.reason ?? null,
      actor: notice.actor ?? null,
      requestedBy: notice.requestedBy ?? null,
      previousStable: notice.previousStable ?? null,
      weights: notice.weights,
      release: { workflowId, runId },
      links,
      deliveryId,
      sentAt,
    };
  },
};
