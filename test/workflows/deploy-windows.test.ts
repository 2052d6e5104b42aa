/**
 * Deploy windows inside the release workflow, on the real Temporal dev server with activity
 * doubles and the real resolvePolicy. Given windows that are closed now, a release deploys and
 * verifies, then waits before its first traffic change (status and history say until when); it
 * proceeds by itself when the window opens, or at once when an allowed person overrides.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PolicyRefusedError, RefusedError } from '../../src/client';
import type { DeployWindow } from '../../src/policy/deploy-windows';
import type { ReleaseStatus } from '../../src/workflows/messages';
import { runningVersion, specs, type WorldOptions } from '../doubles/world';
import { harness, type Harness } from '../helpers/release-harness';
import { ensureTemporal } from '../helpers/temporal';

const stableV1: Pick<WorldOptions, 'running' | 'traffic'> = { running: [runningVersion('v1.0.0')], traffic: { weights: { 'v1.0.0': 100 }, pinned: ['v1.0.0'], stable: 'v1.0.0' } };
const everyDay: DeployWindow['days'] = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16);

/** A one-minute window every day (UTC) that opens at the first minute boundary at least 20 s from now. */
function windowSoon(): { window: DeployWindow; opensAt: string } {
  const opens = Math.ceil((Date.now() + 20_000) / 60_000) * 60_000;
  const to = hhmm(opens + 60_000);
  return { window: { days: everyDay, from: hhmm(opens), to: to === '00:00' ? '24:00' : to, timezone: 'UTC' }, opensAt: new Date(opens).toISOString() };
}

/** A window on the day after tomorrow only: closed for at least a day. */
function windowLater(): DeployWindow {
  const day = new Date(Date.now() + 2 * 86_400_000).getUTCDay();
  return { days: [everyDay[day]!], from: '09:00', to: '16:00', timezone: 'UTC' };
}

async function atWindow(h: Harness): Promise<ReleaseStatus> {
  await h.client.start({ model: h.model, tag: 'v2.0.0', environment: 'test', repoUrl: '/nowhere', requestedBy: 'ci-job' });
  return h.until((s) => s.waitingFor === 'deploy-window');
}

async function refusal(promise: Promise<unknown>): Promise<Error> {
  const err = await promise.then(
    () => assert.fail('expected a refusal'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof RefusedError, `expected RefusedError, got ${String(err)}`);
  return err;
}

describe('deploy windows inside the release workflow (real Temporal, activity doubles)', () => {
  before(() => ensureTemporal());

  it('outside the windows: waits after deploy and verify with no traffic share moved, then proceeds when the window opens', async () => {
    const { window, opensAt } = windowSoon();
    const h = await harness({ specs: { 'v2.0.0': specs.blueGreen }, ...stableV1, policy: { deployWindows: [window] } });
    try {
      const waiting = await atWindow(h);
      assert.equal(waiting.stage, 'rolling-out');
      assert.deepEqual(waiting.deployWindow, { opensAt, windows: `sun,mon,tue,wed,thu,fri,sat ${window.from}-${window.to} UTC` });
      assert.deepEqual(waiting.weights, { 'v1.0.0': 100 }, 'no traffic share moved');
      assert.equal(h.world.count('verifyVersion'), 1, 'deployed and verified before waiting');
      assert.ok(waiting.steps.every((s) => s.status === 'pending'));
      assert.ok(waiting.history.some((e) => e.message.includes(`waiting until ${opensAt} before moving traffic`)));

      const status = await h.client.wait(await h.client.releaseHandle(h.model, 'test'));
      assert.equal(status.outcome, 'promoted');
      assert.equal(status.waitingFor, undefined);
      assert.equal(status.deployWindow, undefined);
      const opened = status.history.find((e) => e.message.startsWith('deploy window open'));
      assert.ok(opened && Date.parse(opened.at) >= Date.parse(opensAt), `proceeded at the opening: ${JSON.stringify(opened)}`);
      assert.deepEqual(status.weights, { 'v2.0.0': 100 });
    } finally {
      await h.close();
    }
  });

  it('override: refused without a reason and for someone not allowed (naming the rule); an allowed person proceeds at once, recorded', async () => {
    const h = await harness({
      specs: { 'v2.0.0': specs.blueGreen },
      ...stableV1,
      policy: { policy: { approvers: { users: ['carol'] } }, deployWindows: [windowLater()] },
    });
    try {
      const waiting = await atWindow(h);
      assert.ok(Date.parse(waiting.deployWindow!.opensAt) - Date.now() > 86_400_000 - 60_000, 'closed for about a day');

      const bob = await refusal(h.client.act(h.model, 'test', 'override-window', { who: 'bob', text: 'hotfix' }));
      assert.ok(bob instanceof PolicyRefusedError);
      assert.equal(bob.message, 'override-window refused: approvers — bob (groups: none) is not listed; approvers: user carol');
      const noReason = await refusal(h.client.act(h.model, 'test', 'override-window', { who: 'carol' }));
      assert.match(noReason.message, /override-window refused: override-window needs a reason/);
      assert.equal((await h.client.status(h.model, 'test')).waitingFor, 'deploy-window', 'still waiting after the refusals');

      const accepted = await h.client.act(h.model, 'test', 'override-window', { who: 'carol', text: 'hotfix for incident 42' });
      assert.equal(accepted.accepted, true);
      assert.equal(accepted.rule, 'approvers: user carol');
      const status = await h.client.wait(await h.client.releaseHandle(h.model, 'test'));
      assert.equal(status.outcome, 'promoted');
      const refused = status.actions.find((a) => a.action === 'override-window' && a.who === 'bob');
      assert.equal(refused?.accepted, false);
      const override = status.actions.find((a) => a.action === 'override-window' && a.accepted);
      assert.deepEqual({ who: override?.who, text: override?.text, via: override?.via }, { who: 'carol', text: 'hotfix for incident 42', via: 'temporal' });
      assert.ok(status.history.some((e) => e.message === 'override-window by carol (via temporal (self-declared)): hotfix for incident 42 [approvers: user carol]'));
      assert.ok(!status.history.some((e) => e.message.startsWith('deploy window open')));
    } finally {
      await h.close();
    }
  });

  it('no windows configured: no wait, and override-window has nothing to override', async () => {
    const h = await harness({ specs: { 'v2.0.0': specs.pauseForever }, ...stableV1 });
    try {
      await h.client.start({ model: h.model, tag: 'v2.0.0', environment: 'test', repoUrl: '/nowhere', requestedBy: 'ci-job' });
      const paused = await h.until((s) => s.waitingFor === 'resume');
      assert.ok(!paused.history.some((e) => e.message.includes('deploy window')));
      const err = await refusal(h.client.act(h.model, 'test', 'override-window', { who: 'carol', text: 'why not' }));
      assert.match(err.message, /^override-window refused: nothing waits for a deploy window \(stage: rolling-out, waiting for resume\)$/);
      await h.client.act(h.model, 'test', 'abort', { who: 'carol', text: 'done' });
    } finally {
      await h.close();
    }
  });
});
