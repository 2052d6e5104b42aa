/**
 * Release notifications: the moments a release announces, and the HTTP headers a notification
 * carries so a receiver can tell deliveries apart. Defined once; pure, so workflows import it too.
 */

/** When a release sends a notification: it waits for approval, is promoted, is rolled back, or fails. */
export const NOTIFICATION_EVENTS = ['approval', 'promoted', 'rolled-back', 'failed'] as const;
export type NotificationEvent = (typeof NOTIFICATION_EVENTS)[number];

/** The event of the notification (`approval`, `promoted`, …). */
export const NOTIFICATION_EVENT_HEADER = 'X-Tandem-Event';
/** Same value on every attempt of one notification: a receiver that saw it already can ignore a repeat. */
export const NOTIFICATION_DELIVERY_HEADER = 'X-Tandem-Delivery';
/** 1 on the first attempt, 2 on the first retry, … */
export const NOTIFICATION_ATTEMPT_HEADER = 'X-Tandem-Delivery-Attempt';

/** Where the Temporal dev server's Web UI answers when no other address is configured. */
export const DEFAULT_WEB_UI_URL = 'http://127.0.0.1:8233';
