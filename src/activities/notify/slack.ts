/**
 * A Slack incoming-webhook message: `text` (what notifications and clients without blocks show)
 * and `blocks` (the headline, the release's facts, links to the release). Any receiver that takes
 * Slack's incoming-webhook format (Mattermost, Rocket.Chat, …) reads it too.
 */
import type { NotificationEvent } from '../../naming/notifications';
import { headline, type Delivery, type NotificationFormat } from './message';

const EMOJI: Record<NotificationEvent, string> = {
  approval: ':hourglass_flowing_sand:',
  promoted: ':white_check_mark:',
  'rolled-back': ':leftwards_arrow_with_hook:',
  failed: ':x:',
};

/** Slack's mrkdwn treats `&`, `<` and `>` as markup: a tag or reason must not make a link or mention. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Section text is limited to 3000 characters by Slack. */
const MAX_SECTION = 3000;

export const slackFormat: NotificationFormat = {
  body({ notice, links }: Delivery) {
    const line = `${EMOJI[notice.event]} ${headline(notice)}`;
    const facts = [
      `*Model* ${escapeMrkdwn(notice.model)}`,
      `*Version* ${escapeMrkdwn(notice.version)}`,
      `*Environment* ${escapeMrkdwn(notice.environment)}`,
      `*Stage* ${escapeMrkdwn(notice.stage)}`,
      ...(notice.requestedBy ? [`*Started by* ${escapeMrkdwn(notice.requestedBy)}`] : []),
      ...(notice.actor ? [`*By* ${escapeMrkdwn(notice.actor)}`] : []),
    ];
    const linkText = [`<${links.webUi}|Temporal Web UI>`, ...(links.console ? [`<${links.console}|tandem console>`] : [])].join(' · ');
    return {
      text: `${escapeMrkdwn(line)} — ${links.console ?? links.webUi}`,
      blocks: [
        { type: 'section', text: { type: 'mrkdwn', text: escapeMrkdwn(line).slice(0, MAX_SECTION) } },
        { type: 'context', elements: [{ type: 'mrkdwn', text: facts.join('  ') }] },
        { type: 'context', elements: [{ type: 'mrkdwn', text: linkText }] },
      ],
    };
  },
};
