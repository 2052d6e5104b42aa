/**
 * Release notifications from the workflow's side: ask the worker which receivers want the event,
 * then send to each. A notification never fails the release: a receiver that does not accept within
 * its retries is recorded in the release's history, and the release goes on. Workflow code: no I/O.
 */
import { CancellationScope } from '@temporalio/workflow';
import type { NotificationSinkRef, ReleaseNotice } from '../activities/types';
import { notificationConfig, notifyActivities, rethrowUnregistered } from './activity-presets';

/**
 * Sends `notice` to every receiver of its environment that wants its event and records what could
 * not be delivered with `note`. Never throws; runs to the end even when the release is aborted or
 * cancelled meanwhile (so a rollback is announced too).
 */
export async function announce(notice: ReleaseNotice, note: (message: string) => void): Promise<void> {
  const what = `${notice.event} notification`;
  await CancellationScope.nonCancellable(async () => {
    let sinks: NotificationSinkRef[];
    try {
      sinks = await notificationConfig(`receivers of ${what}s in ${notice.environment}`).notificationSinks({ environment: notice.environment, event: notice.event });
    } catch (err) {
      rethrowUnregistered(err);
      note(`${what} not sent: the receivers could not be read: ${innermost(err)}`);
      return;
    }
    await Promise.all(
      sinks.map(async (sink) => {
        const receiver = `${sink.kind} ${sink.id}`;
        try {
          const sent = await notifyActivities(`send ${what} to ${receiver}`).sendNotification({ sink: sink.id, notice });
          note(`${what} delivered to ${receiver}${sent.attempt > 1 ? ` at attempt ${sent.attempt}` : ''}`);
        } catch (err) {
          note(`${what} could not be delivered to ${receiver}: ${innermost(err)}; the release goes on`);
        }
      }),
    );
  });
}

/** The message of the innermost cause: an activity failure wraps what the activity threw, or its timeout. */
function innermost(err: unknown): string {
  let failure = err as { message?: string; cause?: unknown } | undefined;
  while (failure?.cause && typeof failure.cause === 'object') failure = failure.cause as { message?: string; cause?: unknown };
  return (failure?.message ?? String(err)).split('\n')[0]!;
}
