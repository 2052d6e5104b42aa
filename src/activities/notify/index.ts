/**
 * The notification activities: which receivers want a release event (from the worker's
 * configuration), and one send to one receiver. Receivers are configured per environment, or
 * for all of them at the top level; the workflow knows them only by their configuration key.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import { ConfigError } from '../../config/load';
import type { Config, NotificationSinkConfig } from '../../config/schema';
import { FailureType } from '../../errors';
import type { NotificationEvent } from '../../naming/notifications';
import type { NotificationDelivery, NotificationSinkRef, ReleaseActivities, ReleaseNotice } from '../types';
import { NOT_DELIVERED, postNotification } from './deliver';
import { releaseLinks } from './links';
import type { NotificationFormat } from './message';
import { readSinkSecrets, SinkSecretError } from './secrets';
import { slackFormat } from './slack';
import { webhookFormat } from './webhook';

export type NotifyActivities = Pick<ReleaseActivities, 'notificationSinks' | 'sendNotification'>;
type NotifyConfig = Pick<Config, 'notifications' | 'links'> & { environments: Record<string, { notifications?: NotificationSinkConfig[] | undefined }> };

const FORMATS: Record<NotificationSinkConfig['kind'], NotificationFormat> = { webhook: webhookFormat, slack: slackFormat };

/** Every configured receiver by its key: `notifications[i]` (all environments) and `environments.<env>.notifications[i]`. */
export function configuredSinks(config: NotifyConfig): Map<string, NotificationSinkConfig> {
  const sinks = new Map<string, NotificationSinkConfig>();
  config.notifications.forEach((sink, i) => sinks.set(`notifications[${i}]`, sink));
  for (const [name, env] of Object.entries(config.environments)) env.notifications?.forEach((sink, i) => sinks.set(`environments.${name}.notifications[${i}]`, sink));
  return sinks;
}

/**
 * Throws SinkSecretError, naming the key, for the first receiver whose URL or token cannot be read
 * now: the worker refuses to start rather than find out at a release's first notification.
 */
export function checkNotificationSecrets(config: NotifyConfig, env: NodeJS.ProcessEnv = process.env): void {
  for (const [key, sink] of configuredSinks(config)) readSinkSecrets(sink, key, env);
}

/**
 * The activities. Throws ConfigError (the worker refuses to start), naming the key, when a
 * receiver's URL or token cannot be read now. Sending is idempotent for a receiver that honours
 * the X-Tandem-Delivery header (the same on every attempt).
 */
export function createNotifyActivities(config: NotifyConfig, env: NodeJS.ProcessEnv = process.env): NotifyActivities {
  try {
    checkNotificationSecrets(config, env);
  } catch (err) {
    if (err instanceof SinkSecretError) throw new ConfigError(err.message);
    throw err;
  }
  const sinks = configuredSinks(config);
  return {
    async notificationSinks({ environment, event }: { environment: string; event: NotificationEvent }): Promise<NotificationSinkRef[]> {
      const own = config.environments[environment]?.notifications;
      const prefix = own ? `environments.${environment}.notifications` : 'notifications';
      return (own ?? config.notifications).flatMap((sink, i) => (sink.events.includes(event) ? [{ id: `${prefix}[${i}]`, kind: sink.kind }] : []));
    },

    async sendNotification({ sink: key, notice }: { sink: string; notice: ReleaseNotice }): Promise<NotificationDelivery> {
      const sink = sinks.get(key);
      if (!sink) throw ApplicationFailure.nonRetryable(`${key} is not in this worker's configuration (was it removed?)`, FailureType.NotificationRejected);
      const ctx = Context.current();
      const { workflowExecution, workflowNamespace, activityNamespace, activityId, attempt } = ctx.info;
      let secrets;
      try {
        secrets = readSinkSecrets(sink, key, env);
      } catch (err) {
        if (err instanceof SinkSecretError) throw ApplicationFailure.retryable(err.message, NOT_DELIVERED);
        throw err;
      }
      const release = {
        namespace: workflowNamespace ?? activityNamespace,
        workflowId: workflowExecution?.workflowId ?? '',
        runId: workflowExecution?.runId ?? '',
        model: notice.model,
        environment: notice.environment,
      };
      const deliveryId = `${release.workflowId}/${release.runId}/${activityId}`;
      const body = FORMATS[sink.kind].body({
        notice,
        links: releaseLinks(config.links, release),
        workflowId: release.workflowId,
        runId: release.runId,
        deliveryId,
        sentAt: new Date().toISOString(),
      });
      const status = await postNotification(secrets, { body, event: notice.event, deliveryId, attempt, signal: ctx.cancellationSignal });
      return { status, attempt };
    },
  };
}
