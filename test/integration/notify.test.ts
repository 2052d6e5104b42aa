/**
 * The notification activities against a real HTTP receiver (node:http): what arrives (body,
 * headers, token), how a refusal or an outage is reported (retryable or not, never with the URL or
 * token), and through real Temporal: a receiver that fails twice and then accepts gets the
 * notification exactly once accepted, at attempt 3, and the workflow's history holds neither URL
 * nor token.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createNotifyActivities } from '../../src/activities/notify';
import type { ReleaseNotice } from '../../src/activities/types';
import { parseConfig } from '../../src/config/load';
import { createWorld, specs } from '../doubles/world';
import { startReceiver, type Receiver } from '../helpers/receiver';
import { connectClient, ensureTemporal, startWorker, uniqueQueue } from '../helpers/temporal';

const TOKEN = 'tok-3c1d9a7f5e';
const notice: ReleaseNotice = { event: 'approval', model: 'fraud-detector', environment: 'prod', version: 'v1.1.0', stage: 'rolling-out', weights: { 'v1.0.0': 50, 'v1.1.0': 50 }, requestedBy: 'ci' };

/** Notification activities for one receiver of `kind` at `url`, its token in a file. */
function activitiesFor(kind: 'webhook' | 'slack', url: string) {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-notify-'));
  writeFileSync(join(dir, 'token'), `${TOKEN}\n`, { mode: 0o600 });
  const config = parseConfig(`
notifications:
  - { kind: ${kind}, urlEnv: NOTIFY_TEST_URL, tokenFile: ${join(dir, 'token')} }
links: { webUi: "http://ui.test:8233", console: "https://tandem.test" }
environments:
  prod: { target: { kind: docker }, registry: { url: 127.0.0.1:5000 } }
`);
  return createNotifyActivities(config, { NOTIFY_TEST_URL: url });
}

const send = (kind: 'webhook' | 'slack', url: string, attempt = 1) =>
  new MockActivityEnvironment({ attempt, activityId: '7', workflowExecution: { workflowId: 'release/prod/fraud-detector/v1.1.0/t', runId: 'run-9' } }).run(activitiesFor(kind, url).sendNotification, { sink: 'notifications[0]', notice });

const failureOf = async (p: Promise<unknown>): Promise<ApplicationFailure> => {
  const err = await p.then(
    () => assert.fail('expected the send to fail'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(err)}`);
  return err;
};

describe('sendNotification against a real receiver', () => {
  let receiver: Receiver;
  afterEachClose();
  function afterEachClose() {
    after(() => receiver?.close());
  }

  it('webhook: POSTs the JSON notification with event, delivery id, attempt and bearer token', async () => {
    receiver = await startReceiver();
    const result = await send('webhook', `${receiver.url}/hooks/tandem?team=ml`, 2);
    assert.deepEqual(result, { status: 200, attempt: 2 });
    const [got] = receiver.received;
    assert.equal(got!.path, '/hooks/tandem?team=ml');
    assert.equal(got!.headers['content-type'], 'application/json');
    assert.equal(got!.headers.authorization, `Bearer ${TOKEN}`);
    assert.equal(got!.headers['x-tandem-event'], 'approval');
    assert.equal(got!.headers['x-tandem-delivery'], 'release/prod/fraud-detector/v1.1.0/t/run-9/7');
    assert.equal(got!.headers['x-tandem-delivery-attempt'], '2');
    const body = got!.body as Record<string, unknown>;
    assert.equal(body.event, 'approval');
    assert.equal(body.summary, 'fraud-detector v1.1.0 waits for approval in prod (started by ci)');
    assert.deepEqual(body.links, {
      webUi: 'http://ui.test:8233/namespaces/default/workflows/release%2Fprod%2Ffraud-detector%2Fv1.1.0%2Ft/run-9/history',
      console: 'https://tandem.test/releases/fraud-detector/prod',
    });
    await receiver.close();
  });

  it('slack: POSTs an incoming-webhook message (text and blocks) to the configured URL', async () => {
    receiver = await startReceiver();
    await send('slack', `${receiver.url}/services/T0/B0/secretpath`);
    const body = receiver.received[0]!.body as { text: string; blocks: unknown[] };
    assert.equal(receiver.received[0]!.path, '/services/T0/B0/secretpath');
    assert.match(body.text, /^:hourglass_flowing_sand: fraud-detector v1\.1\.0 waits for approval in prod/);
    assert.equal(body.blocks.length, 3);
    await receiver.close();
  });

  it('a 5xx answer is a retryable failure; a 4xx is not; neither names the URL or the token', async () => {
    receiver = await startReceiver((n) => (n === 1 ? 503 : 404), `no hook for ${TOKEN}`);
    const url = `${receiver.url}/secret-hook-path`;
    const down = await failureOf(send('webhook', url));
    assert.equal(down.nonRetryable, false);
    assert.equal(down.type, 'NotificationNotDelivered');
    assert.equal(down.message, 'receiver answered 503 (no hook for ***)');
    const refused = await failureOf(send('webhook', url));
    assert.equal(refused.nonRetryable, true);
    assert.equal(refused.type, 'NotificationRejected');
    assert.match(refused.message, /^receiver answered 404 .*; check the receiver's URL and token$/);
    for (const f of [down, refused]) assert.ok(!f.message.includes(TOKEN) && !f.message.includes('secret-hook-path'), f.message);
    await receiver.close();
  });

  it('a receiver that is not listening is a retryable failure', async () => {
    receiver = await startReceiver();
    const url = receiver.url;
    await receiver.close();
    const failure = await failureOf(send('webhook', url));
    assert.equal(failure.nonRetryable, false);
    assert.equal(failure.message, 'receiver not reached: connection refused');
  });
});

describe('notifications through the release workflow on real Temporal', { timeout: 120_000 }, () => {
  before(() => ensureTemporal());

  /** A worker whose release activities are doubles and whose notification activities are the real ones, sending to `url`. */
  async function release(url: string, spec = specs.direct) {
    const queue = uniqueQueue('notify');
    const world = createWorld({ specs: { 'v2.0.0': spec } });
    const worker = await startWorker(queue, { ...world.activities, ...activitiesFor('webhook', url) });
    const client = await connectClient(queue);
    const handle = await client.start({ model: queue, tag: 'v2.0.0', environment: 'prod', repoUrl: '/nowhere', requestedBy: 'ci' });
    const close = async () => {
      await client.close();
      await worker.stop();
    };
    return { client, handle, close };
  }

  it('a receiver that fails twice (500) then accepts gets the notification once, at attempt 3; the history holds no URL or token', async () => {
    const receiver = await startReceiver((n) => (n <= 2 ? 500 : 200));
    const url = `${receiver.url}/hooks/very-secret-path`;
    const r = await release(url);
    try {
      const status = await r.client.wait(r.handle);
      assert.equal(status.outcome, 'promoted');
      assert.deepEqual(receiver.received.map((x) => x.status), [500, 500, 200]);
      assert.equal(receiver.accepted().length, 1);
      assert.deepEqual(receiver.received.map((x) => x.headers['x-tandem-delivery-attempt']), ['1', '2', '3']);
      assert.equal(new Set(receiver.received.map((x) => x.headers['x-tandem-delivery'])).size, 1, 'one delivery id across the retries');
      assert.equal((receiver.accepted()[0]!.body as { event: string }).event, 'promoted');
      assert.ok(status.history.some((h) => h.message === 'promoted notification delivered to webhook notifications[0] at attempt 3'), JSON.stringify(status.history.slice(-3)));
      const history = JSON.stringify((await r.handle.fetchHistory()).events);
      assert.ok(history.includes('sendNotification'), 'the history is the one that sent it');
      assert.ok(!history.includes(receiver.url.replace('http://', '')) && !history.includes('very-secret-path'), 'no receiver address in the history');
      assert.ok(!history.includes(TOKEN), 'no token in the history');
    } finally {
      await r.close();
      await receiver.close();
    }
  });

  it('a receiver that refuses (404) is recorded in the history; the release is promoted all the same', async () => {
    const receiver = await startReceiver(() => 404);
    const r = await release(`${receiver.url}/gone`);
    try {
      const status = await r.client.wait(r.handle);
      assert.equal(status.outcome, 'promoted');
      assert.equal(receiver.received.length, 1, 'a refusal is not retried');
      const line = status.history.find((h) => h.message.startsWith('promoted notification could not be delivered'));
      assert.equal(line?.message, "promoted notification could not be delivered to webhook notifications[0]: receiver answered 404 (try later); check the receiver's URL and token; the release goes on");
    } finally {
      await r.close();
      await receiver.close();
    }
  });
});
