/**
 * Notification bodies (generic webhook, Slack incoming webhook), their links, and the
 * configuration of receivers: validation naming the key, secrets read by the worker only.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNotifyActivities } from '../../src/activities/notify';
import { releaseLinks } from '../../src/activities/notify/links';
import { headline, type Delivery } from '../../src/activities/notify/message';
import { escapeMrkdwn, slackFormat } from '../../src/activities/notify/slack';
import { webhookFormat } from '../../src/activities/notify/webhook';
import type { ReleaseNotice } from '../../src/activities/types';
import { ConfigError, parseConfig } from '../../src/config/load';

const notice = (over: Partial<ReleaseNotice> = {}): ReleaseNotice => ({
  event: 'approval',
  model: 'fraud-detector',
  environment: 'prod',
  version: 'v1.1.0',
  stage: 'rolling-out',
  weights: { 'v1.0.0': 50, 'v1.1.0': 50 },
  requestedBy: 'ci',
  previousStable: 'v1.0.0',
  ...over,
});
const delivery = (n: ReleaseNotice, console?: string): Delivery => {
  const release = { namespace: 'default', workflowId: 'release/prod/fraud-detector/v1.1.0/2026-11-29T10:00:00.000Z', runId: 'run-1', model: n.model, environment: n.environment };
  return { notice: n, links: releaseLinks({ webUi: 'http://127.0.0.1:8233/', console }, release), workflowId: release.workflowId, runId: 'run-1', deliveryId: 'd-1', sentAt: '2026-11-29T10:00:01.000Z' };
};

describe('notification messages', () => {
  it('headline: one sentence per event, with who acted and why', () => {
    assert.equal(headline(notice()), 'fraud-detector v1.1.0 waits for approval in prod (started by ci)');
    assert.equal(headline(notice({ event: 'promoted', outcome: 'promoted', actor: 'alice' })), 'fraud-detector v1.1.0 is promoted in prod (approved by alice)');
    assert.equal(headline(notice({ event: 'promoted', outcome: 'promoted' })), 'fraud-detector v1.1.0 is promoted in prod');
    assert.equal(
      headline(notice({ event: 'rolled-back', outcome: 'rolled-back', reason: 'aborted by bob: latency' })),
      'fraud-detector v1.1.0 was rolled back in prod to v1.0.0: aborted by bob: latency',
    );
    assert.equal(headline(notice({ event: 'failed', outcome: 'failed', reason: 'tag "v9" not found' })), 'fraud-detector v1.1.0 failed in prod: tag "v9" not found');
  });

  it('Web UI link: the workflow by its escaped id and run; console link only when configured', () => {
    const links = delivery(notice()).links;
    assert.equal(links.webUi, 'http://127.0.0.1:8233/namespaces/default/workflows/release%2Fprod%2Ffraud-detector%2Fv1.1.0%2F2026-11-29T10%3A00%3A00.000Z/run-1/history');
    assert.equal(links.console, undefined);
    assert.equal(delivery(notice(), 'https://tandem.example.com/').links.console, 'https://tandem.example.com/releases/fraud-detector/prod');
  });

  it('webhook: the documented fields, null where a fact is absent', () => {
    assert.deepEqual(webhookFormat.body(delivery(notice())), {
      event: 'approval',
      summary: 'fraud-detector v1.1.0 waits for approval in prod (started by ci)',
      model: 'fraud-detector',
      environment: 'prod',
      version: 'v1.1.0',
      stage: 'rolling-out',
      outcome: null,
      reason: null,
      actor: null,
      requestedBy: 'ci',
      previousStable: 'v1.0.0',
      weights: { 'v1.0.0': 50, 'v1.1.0': 50 },
      release: { workflowId: 'release/prod/fraud-detector/v1.1.0/2026-11-29T10:00:00.000Z', runId: 'run-1' },
      links: { webUi: delivery(notice()).links.webUi },
      deliveryId: 'd-1',
      sentAt: '2026-11-29T10:00:01.000Z',
    });
    const rolledBack = webhookFormat.body(delivery(notice({ event: 'rolled-back', stage: 'rolled-back', outcome: 'rolled-back', reason: 'no approval within 1h', actor: 'bob' }))) as Record<string, unknown>;
    assert.deepEqual([rolledBack.outcome, rolledBack.reason, rolledBack.actor], ['rolled-back', 'no approval within 1h', 'bob']);
  });

  it('Slack: text and blocks with the headline, the facts and links to the release', () => {
    const body = slackFormat.body(delivery(notice({ event: 'promoted', outcome: 'promoted', stage: 'promoted', actor: 'alice' }), 'https://tandem.example.com')) as {
      text: string;
      blocks: { type: string; text?: { type: string; text: string }; elements?: { type: string; text: string }[] }[];
    };
    assert.equal(body.text, ':white_check_mark: fraud-detector v1.1.0 is promoted in prod (approved by alice) — https://tandem.example.com/releases/fraud-detector/prod');
    assert.deepEqual(body.blocks.map((b) => b.type), ['section', 'context', 'context']);
    assert.equal(body.blocks[0]!.text!.type, 'mrkdwn');
    assert.match(body.blocks[1]!.elements![0]!.text, /\*Model\* fraud-detector.*\*Version\* v1\.1\.0.*\*Environment\* prod.*\*Started by\* ci.*\*By\* alice/);
    const links = body.blocks[2]!.elements![0]!.text;
    assert.match(links, /^<http:\/\/127\.0\.0\.1:8233\/namespaces\/default\/workflows\/release%2F[^|]+\/run-1\/history\|Temporal Web UI> · <https:\/\/tandem\.example\.com\/releases\/fraud-detector\/prod\|tandem console>$/);
  });

  it('Slack: a tag or reason cannot make a link or a mention', () => {
    assert.equal(escapeMrkdwn('<!channel> & <http://evil|x>'), '&lt;!channel&gt; &amp; &lt;http://evil|x&gt;');
    const body = slackFormat.body(delivery(notice({ event: 'failed', reason: 'bad <!here>' }))) as { text: string; blocks: { text?: { text: string } }[] };
    assert.ok(!body.text.includes('<!here>'));
    assert.ok(!body.blocks[0]!.text!.text.includes('<!here>'));
  });
});

const CONFIG = (notifications: string, top = '') => `${top}
environments:
  prod:
    target: { kind: docker }
    registry: { url: 127.0.0.1:5000 }
${notifications}
`;

describe('notification configuration', () => {
  const invalid = (text: string, pattern: RegExp) => assert.throws(() => parseConfig(text), (err: Error) => err instanceof ConfigError && pattern.test(err.message));

  it('a receiver needs urlEnv or urlFile, not both; the error names the key and the fix', () => {
    invalid(CONFIG('    notifications: [{ kind: slack }]'), /environments\.prod\.notifications\[0\]\.urlEnv: is required: name the environment variable \(urlEnv\) or file \(urlFile\)/);
    invalid(CONFIG('    notifications: [{ kind: slack, urlEnv: A, urlFile: /b }]'), /notifications\[0\]\.urlEnv: give urlEnv or urlFile, not both/);
    invalid(CONFIG('', 'notifications: [{ kind: webhook, urlEnv: A, tokenEnv: T, tokenFile: /t }]'), /^.*notifications\[0\]\.tokenEnv: give tokenEnv or tokenFile, not both/);
  });

  it('kind, events and variable names are checked, naming the field', () => {
    invalid(CONFIG('    notifications: [{ kind: teams, urlEnv: A }]'), /environments\.prod\.notifications\[0\]\.kind: .*"webhook"\|"slack"/);
    invalid(CONFIG('    notifications: [{ kind: slack, urlEnv: A, events: [approved] }]'), /notifications\[0\]\.events\[0\]: .*"approval"\|"promoted"\|"rolled-back"\|"failed"/);
    invalid(CONFIG('    notifications: [{ kind: slack, urlEnv: A, events: [] }]'), /notifications\[0\]\.events: lists no event; leave events out to get all/);
    invalid(CONFIG('    notifications: [{ kind: slack, urlEnv: "https://hooks.slack.com/x" }]'), /notifications\[0\]\.urlEnv: an environment variable name/);
    invalid(CONFIG('    notifications: [{ kind: slack, url: "https://hooks.slack.com/x" }]'), /notifications\[0\]: Unrecognized key: "url"/);
  });

  it('an unset URL variable is a start-up error naming the key, never a value', () => {
    const config = parseConfig(CONFIG('    notifications: [{ kind: slack, urlEnv: SLACK_URL }]'));
    assert.throws(() => createNotifyActivities(config, {}), (err: Error) => err instanceof ConfigError && /^environments\.prod\.notifications\[0\]\.urlEnv: \$SLACK_URL is not set in the worker's environment; set it to the receiver's URL/.test(err.message));
    const secret = 'not-a-url-but-secret';
    assert.throws(
      () => createNotifyActivities(config, { SLACK_URL: secret }),
      (err: Error) => err instanceof ConfigError && /urlEnv: \$SLACK_URL does not hold an http\(s\) URL/.test(err.message) && !err.message.includes(secret),
    );
    const token = parseConfig(CONFIG('', 'notifications: [{ kind: webhook, urlEnv: HOOK, tokenFile: /nonexistent/token }]'));
    assert.throws(() => createNotifyActivities(token, { HOOK: 'https://hooks.example.com/t' }), /^ConfigError: notifications\[0\]\.tokenFile: cannot read \/nonexistent\/token \(ENOENT\)/);
    assert.doesNotThrow(() => createNotifyActivities(config, { SLACK_URL: 'https://hooks.slack.com/services/T/B/x' }));
  });

  it("which receivers get an event: the environment's own list replaces the top-level one; events filter", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tandem-notify-'));
    writeFileSync(join(dir, 'url'), 'https://hooks.example.com/x\n');
    const config = parseConfig(`
notifications:
  - { kind: webhook, urlFile: ${join(dir, 'url')} }
  - { kind: slack, urlEnv: SLACK_URL, events: [approval, failed] }
environments:
  prod:
    target: { kind: docker }
    registry: { url: 127.0.0.1:5000 }
  staging:
    target: { kind: docker }
    registry: { url: 127.0.0.1:5000 }
    notifications: [{ kind: slack, urlEnv: SLACK_URL, events: [promoted] }]
  dev:
    target: { kind: docker }
    registry: { url: 127.0.0.1:5000 }
    notifications: []
`);
    const { notificationSinks } = createNotifyActivities(config, { SLACK_URL: 'https://hooks.slack.com/services/T/B/x' });
    assert.deepEqual(await notificationSinks({ environment: 'prod', event: 'approval' }), [
      { id: 'notifications[0]', kind: 'webhook' },
      { id: 'notifications[1]', kind: 'slack' },
    ]);
    assert.deepEqual(await notificationSinks({ environment: 'prod', event: 'promoted' }), [{ id: 'notifications[0]', kind: 'webhook' }]);
    assert.deepEqual(await notificationSinks({ environment: 'staging', event: 'promoted' }), [{ id: 'environments.staging.notifications[0]', kind: 'slack' }]);
    assert.deepEqual(await notificationSinks({ environment: 'staging', event: 'approval' }), []);
    assert.deepEqual(await notificationSinks({ environment: 'dev', event: 'failed' }), []);
  });
});

describe("the README's Notifications section", () => {
  const section = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8').split('### Notifications\n')[1]!.split('\n### ')[0]!;
  const block = (lang: string) => section.split('```' + lang + '\n')[1]!.split('```')[0]!;

  it('its configuration example is valid; the worker refuses it until the secrets it names are there', () => {
    const config = parseConfig(block('yaml'), 'README example');
    assert.equal(config.links.webUi, 'https://temporal.example.com');
    assert.deepEqual(config.notifications, [{ kind: 'slack', urlEnv: 'TANDEM_SLACK_URL', events: ['approval', 'rolled-back', 'failed'] }]);
    assert.deepEqual(config.environments.prod!.notifications, [
      { kind: 'webhook', urlFile: '/run/secrets/release-hook-url', tokenEnv: 'RELEASE_HOOK_TOKEN', events: ['approval', 'promoted', 'rolled-back', 'failed'] },
    ]);
    assert.throws(() => createNotifyActivities(config, {}), /^ConfigError: notifications\[0\]\.urlEnv: \$TANDEM_SLACK_URL is not set/);
    assert.throws(() => createNotifyActivities(config, { TANDEM_SLACK_URL: 'https://hooks.slack.com/services/T/B/x' }), /^ConfigError: environments\.prod\.notifications\[0\]\.urlFile: cannot read \/run\/secrets\/release-hook-url/);
  });

  it('its webhook body example has exactly the fields tandem sends', () => {
    const example = JSON.parse(block('json').replace(/…/g, '')) as Record<string, unknown>;
    assert.deepEqual(Object.keys(example), Object.keys(webhookFormat.body(delivery(notice())) as object));
    assert.equal(example.summary, headline(notice({ environment: 'prod' })));
  });
});
