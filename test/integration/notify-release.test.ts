/**
 * Notifications end to end: a real worker (startWorker with the configuration, secrets in its
 * environment) on real Temporal releases the example model on the Docker target; a real HTTP
 * receiver gets the approval notification while the release waits (with the Web UI link to that
 * release), then the rollback after an abort. The release's history holds no receiver URL or token.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WebhookNotification } from '../../src/activities/notify/webhook';
import type { ReleaseStatus } from '../../src/workflows/messages';
import { ENV, removeModelContainers, sendTraffic, startStack, type Stack } from '../../scripts/stack';
import { releaseFails, untilStatus } from '../helpers/release-story';
import { startReceiver, type Receiver } from '../helpers/receiver';

const MODEL = `fd-notify-${Date.now().toString(36).slice(-5)}`;
const NAMESPACE = 'tandem-test';
const TOKEN = 'it-token-5b2e81c0';

describe('notifications from a release on the Docker target', { timeout: 10 * 60_000 }, () => {
  let stack: Stack;
  let receiver: Receiver;
  let slack: Receiver;
  let traffic: ReturnType<typeof sendTraffic> | undefined;

  before(async () => {
    receiver = await startReceiver();
    slack = await startReceiver();
    const workDir = mkdtempSync(join(tmpdir(), 'tandem-notify-e2e-'));
    writeFileSync(join(workDir, 'slack-url'), `${slack.url}/services/T1/B2/slack-secret-path\n`);
    process.env.TANDEM_IT_HOOK_URL = `${receiver.url}/hooks/it-secret-path`;
    process.env.TANDEM_IT_HOOK_TOKEN = TOKEN;
    stack = await startStack({
      model: MODEL,
      workDir,
      namespace: NAMESPACE,
      notifications: [
        { kind: 'webhook', urlEnv: 'TANDEM_IT_HOOK_URL', tokenEnv: 'TANDEM_IT_HOOK_TOKEN' },
        { kind: 'slack', urlFile: join(workDir, 'slack-url'), events: ['approval'] },
      ],
    });
  });

  after(async () => {
    await traffic?.stop();
    if (stack) {
      await removeModelContainers(stack.docker, MODEL);
      await stack.stop();
    }
    await receiver?.close();
    await slack?.close();
  });

  it('approval is announced while the release waits; the abort is announced as a rollback', async () => {
    const release = (tag: string) => stack.client.start({ model: MODEL, tag, environment: ENV, repoUrl: stack.repo, requestedBy: 'ci-job-17' });
    assert.equal((await stack.client.wait(await release('v1.0.0'))).outcome, 'promoted');
    assert.deepEqual(receiver.received.map((r) => (r.body as WebhookNotification).event), ['promoted']);
    traffic = sendTraffic(stack.gateway.url, MODEL, 20);

    const handle = await release('v1.1.0');
    await untilStatus(stack.client, MODEL, ENV, (s) => s.waitingFor === 'approval', 'the approval gate', 180_000);
    await receiver.waitFor(2, 'the approval notification');
    await slack.waitFor(1, 'the Slack approval message');
    const approval = receiver.received[1]!;
    const body = approval.body as WebhookNotification;
    const { runId } = await handle.describe();
    assert.equal(approval.headers.authorization, `Bearer ${TOKEN}`);
    assert.deepEqual([body.event, body.model, body.environment, body.version, body.requestedBy, body.previousStable], ['approval', MODEL, ENV, 'v1.1.0', 'ci-job-17', 'v1.0.0']);
    assert.deepEqual(body.release, { workflowId: handle.workflowId, runId });
    assert.equal(body.links.webUi, `http://127.0.0.1:8233/namespaces/${NAMESPACE}/workflows/${encodeURIComponent(handle.workflowId)}/${runId}/history`);
    const slackBody = slack.received[0]!.body as { text: string };
    assert.equal(slack.received[0]!.path, '/services/T1/B2/slack-secret-path');
    assert.match(slackBody.text, new RegExp(`waits for approval in ${ENV} \\(started by ci-job-17\\)`));

    await stack.client.act(MODEL, ENV, 'abort', { who: 'oncall', text: 'not today' });
    const err = await releaseFails(stack.client, handle, 'Aborted', 'v1.1.0 must be rolled back');
    const final = err.status as ReleaseStatus;
    assert.equal(final.outcome, 'rolled-back');
    const rolledBack = receiver.received.at(-1)!.body as WebhookNotification;
    assert.deepEqual([rolledBack.event, rolledBack.outcome, rolledBack.actor, rolledBack.reason], ['rolled-back', 'rolled-back', 'oncall', 'aborted by oncall: not today']);
    assert.equal(slack.received.length, 1, 'the Slack receiver wants approvals only');
    assert.ok(final.history.some((h) => h.message === `rolled-back notification delivered to webhook environments.${ENV}.notifications[0]`), JSON.stringify(final.history.slice(-6), null, 1));

    const history = JSON.stringify((await handle.fetchHistory()).events);
    assert.ok(history.includes('sendNotification'));
    for (const secret of [receiver.url.slice('http://'.length), slack.url.slice('http://'.length), 'it-secret-path', 'slack-secret-path', TOKEN]) {
      assert.ok(!history.includes(secret), `the release's history must not hold ${secret}`);
    }
  });
});
