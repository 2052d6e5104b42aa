/**
 * What every notification format shares: the facts of one delivery and the one-line headline a
 * person reads first. One module per receiver kind turns them into its body (webhook.ts, slack.ts).
 */
import type { ReleaseNotice } from '../types';

/** Where a person sees the release. */
export interface ReleaseLinks {
  /** the release's workflow in the Temporal Web UI */
  webUi: string;
  /** the release in tandem's console, when its address is configured */
  console?: string;
}

/** One notification as a format sees it. */
export interface Delivery {
  notice: ReleaseNotice;
  links: ReleaseLinks;
  workflowId: string;
  runId: string;
  /** the same on every attempt of this notification */
  deliveryId: string;
  sentAt: string;
}

/** A kind of receiver: how it wants the notification written. */
export interface NotificationFormat {
  /** the JSON body POSTed to the receiver */
  body(delivery: Delivery): unknown;
}

/** `fraud-detector v1.1.0 waits for approval in prod`: the notification in one sentence. */
export function headline(notice: ReleaseNotice): string {
  const what = `${notice.model} ${notice.version}`;
  const where = `in ${notice.environment}`;
  switch (notice.event) {
    case 'approval':
      return `${what} waits for approval ${where}${notice.requestedBy ? ` (started by ${notice.requestedBy})` : ''}`;
    case 'promoted':
      return `${what} is promoted ${where}${notice.actor ? ` (approved by ${notice.actor})` : ''}`;
    case 'rolled-back':
      return `${what} was rolled back ${where}${notice.previousStable ? ` to ${notice.previousStable}` : ''}${notice.reason ? `: ${notice.reason}` : ''}`;
    case 'failed':
      return `${what} failed ${where}${notice.reason ? `: ${notice.reason}` : ''}`;
  }
}
