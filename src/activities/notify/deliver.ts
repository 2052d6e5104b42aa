/**
 * POSTs a notification body to a receiver. What retrying can fix (no connection, a timeout, 408,
 * 429, 5xx) is a retryable failure; any other refusal is non-retryable (NotificationRejected).
 * Failure messages carry the status and a short, redacted excerpt of the answer: never the URL or
 * the token, since failures are recorded in the workflow's history.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { FailureType } from '../../errors';
import { NOTIFICATION_ATTEMPT_HEADER, NOTIFICATION_DELIVERY_HEADER, NOTIFICATION_EVENT_HEADER, type NotificationEvent } from '../../naming/notifications';
import { describeNetworkError, fetchText } from '../../shared/http';
import type { SinkSecrets } from './secrets';

/** How long one attempt waits for the receiver's answer. */
export const DELIVERY_TIMEOUT_MS = 10_000;
/** Type of the retryable failure: a receiver that did not accept (yet). Not a FailureType, which are all non-retryable. */
export const NOT_DELIVERED = 'NotificationNotDelivered';

export interface Post {
  body: unknown;
  event: NotificationEvent;
  deliveryId: string;
  attempt: number;
  signal?: AbortSignal;
}

/** Sends the body; resolves with the receiver's status when it answered 2xx, throws ApplicationFailure otherwise. */
export async function postNotification(secrets: SinkSecrets, post: Post): Promise<number> {
  let response: Response;
  let text: string;
  try {
    ({ response, text } = await fetchText(
      secrets.url,
      DELIVERY_TIMEOUT_MS,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'tandem',
          [NOTIFICATION_EVENT_HEADER]: post.event,
          [NOTIFICATION_DELIVERY_HEADER]: post.deliveryId,
          [NOTIFICATION_ATTEMPT_HEADER]: String(post.attempt),
          ...(secrets.token ? { authorization: `Bearer ${secrets.token}` } : {}),
        },
        body: JSON.stringify(post.body),
        redirect: 'error',
      },
      post.signal,
    ));
  } catch (err) {
    throw ApplicationFailure.retryable(`receiver not reached: ${redact(describeNetworkError(err, DELIVERY_TIMEOUT_MS), secrets)}`, NOT_DELIVERED);
  }
  if (response.ok) return response.status;
  const answer = redact(text.trim().replace(/\s+/g, ' ').slice(0, 120), secrets);
  const message = `receiver answered ${response.status}${answer ? ` (${answer})` : ''}`;
  if (response.status === 408 || response.status === 429 || response.status >= 500) throw ApplicationFailure.retryable(message, NOT_DELIVERED);
  throw ApplicationFailure.nonRetryable(`${message}; check the receiver's URL and token`, FailureType.NotificationRejected);
}

/** A receiver or network error that echoes the URL or token must not carry it into the history. */
function redact(text: string, secrets: SinkSecrets): string {
  let out = text;
  for (const secret of [secrets.url, secrets.token]) if (secret) out = out.split(secret).join('***');
  return out;
}
