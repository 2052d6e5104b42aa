/**
 * The approval policy enforced inside the release and rollback workflows, on the real Temporal
 * dev server with activity doubles and the real resolvePolicy. Given a policy, when people act
 * (signed by serve's key, or self-declared straight to Temporal), then check what passes, what is
 * refused with which rule, and what the release records.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { PolicyRefusedError, RefusedError } from '../../src/client';
import { publicKeyHex, signerFor, signOperatorRequest } from '../../src/policy/sign';
import { signals, updates, type ReleaseStatus } from '../../src/workflows/messages';
import { runningVersion, specs, type WorldOptions } from '../doubles/world';
import { failure, harness, type Harness } from '../helpers/release-harness';
import { ensureTemporal } from '../helpers/temporal';

const serveKey = generateKeyPairSync('ed25519').privateKey;
const forgerKey = generateKeyPairSync('ed25519').privateKey;
const verifyKey = publicKeyHex(serveKey);
const stableV1: Pick<WorldOptions, 'running' | 'traffic'> = { running: [runningVersion('v1.0.0')], traffic: { weights: { 'v1.0.0': 100 }, pinned: ['v1.0.0'], stable: 'v1.0.0' } };

/** Starts v2.0.0 (canary with an approval gate) as `who` and waits at the gate. */
async function atGate(h: Harness, who = 'ci-job'): Promise<ReleaseStatus> {
  await h.client.start({ model: h.model, tag: 'v2.0.0', environment: 'test', repoUrl: '/nowhere', requestedBy: who });
  return h.until((s) => s.waitingFor === 'approval');
}

async function refusal(promise: Promise<unknown>): Promise<string> {
  const err = await promise.then(
    () => assert.fail('expected a refusal'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof RefusedError, `expected RefusedError, got ${String(err)}`);
  return err.message;
}

describe('approval policy inside the workflows (real Temporal, activity doubles)', () => {
  before(() => ensureTemporal());

  it('two approvals: the gate passes once two distinct people approved; the same one twice counts once', async () => {
    const h = await harness({ specs: { 'v2.0.0': specs.canary }, ...stableV1, policy: { policy: { approvals: 2 } } });
    try {
      const waiting = await atGate(h);
      assert.deepEqual(waiting.approvals, { required: 2, by: [] });
      assert.match(waiting.policy!.summary, /^2 distinct approvers \(anyone\)/);
      const first = await h.client.act(h.model, 'test', 'approve', { who: 'alice', text: 'metrics fine' });
      assert.equal(first.accepted, true);
      assert.equal(first.via, 'temporal');
      assert.equal(first.rule, 'approvers: anyone (1 of 2)');
      const still = await h.client.status(h.model, 'test');
      assert.equal(still.waitingFor, 'approval', 'one approval of two: still waiting');
      assert.deepEqual(still.approvals, { required: 2, by: ['alice'] });

      const again = await refusal(h.client.act(h.model, 'test', 'approve', { who: 'Alice' }));
      assert.equal(again, 'approve refused: distinct approvers — Alice already approved (1 of 2); approvers: anyone, except alice');

      await h.client.act(h.model, 'test', 'approve', { who: 'bob' });
      const status = await h.client.wait(await h.client.releaseHandle(h.model, 'test'));
      assert.equal(status.outcome, 'promoted');
      assert.deepEqual(status.approvals, { required: 2, by: ['alice', 'bob'] });
      assert.match(status.steps.find((s) => s.description.startsWith('wait for approval'))!.detail!, /^approved by alice, bob$/);
      const refused = status.actions.find((a) => !a.accepted);
      assert.equal(refused?.who, 'Alice');
      assert.match(refused!.note!, /distinct approvers/);
      assert.ok(status.history.some((e) => e.message.startsWith('approve by Alice (via temporal (self-declared)) ignored: approve refused: distinct approvers')));
    } finally {
      await h.close();
    }
  });

  it('four-eyes in a production environment: whoever started the release cannot approve it; another person can', async () => {
    const h = await harness({ specs: { 'v2.0.0': specs.canary }, ...stableV1, policy: { production: true } });
    try {
      const waiting = await atGate(h, 'carol');
      assert.equal(waiting.requestedBy, 'carol');
      assert.equal(waiting.requestedVia, 'temporal');
      assert.match(waiting.policy!.source, /environments\.staging\.production/);
      const message = await refusal(h.client.act(h.model, 'test', 'approve', { who: 'carol' }));
      assert.equal(message, 'approve refused: four-eyes — carol started this release; approvers: anyone, except carol');
      const promote = await refusal(h.client.act(h.model, 'test', 'promote', { who: 'carol' }));
      assert.match(promote, /^promote refused: four-eyes — carol started this release/);
      await h.client.act(h.model, 'test', 'approve', { who: 'dave' });
      const status = await h.client.wait(await h.client.releaseHandle(h.model, 'test'));
      assert.equal(status.outcome, 'promoted');
      assert.deepEqual(
        status.actions.map((a) => [a.action, a.who, a.accepted]),
        [
          ['approve', 'carol', false],
          ['promote', 'carol', false],
          ['approve', 'dave', true],
        ],
      );
    } finally {
      await h.close();
    }
  });

  it('group approvers: a member signed by serve approves via api; the same name self-declared, claiming the group, is refused', async () => {
    const h = await harness({ specs: { 'v2.0.0': specs.canary }, ...stableV1, policy: { policy: { approvers: { groups: ['ml-leads'] } }, verifyKey } });
    try {
      await atGate(h);
      await assert.rejects(h.client.act(h.model, 'test', 'approve', { who: 'bob', groups: ['ml-leads'] }), PolicyRefusedError, 'a policy refusal is told apart (serve answers 403)');
      const claimed = await refusal(h.client.act(h.model, 'test', 'approve', { who: 'bob', groups: ['ml-leads'] }));
      assert.equal(claimed, 'approve refused: approvers — bob (groups: none) is not listed; approvers: group ml-leads');
      const accepted = await h.client.act(h.model, 'test', 'approve', { who: 'anything the body says', text: 'ship it' }, signerFor(serveKey, { who: 'bob', groups: ['ml-leads'] }));
      assert.equal(accepted.who, 'bob', 'who comes from the signer');
      assert.equal(accepted.via, 'api');
      assert.deepEqual(accepted.groups, ['ml-leads']);
      assert.equal(accepted.rule, 'approvers: group ml-leads (1 of 1)');
      const status = await h.client.wait(await h.client.releaseHandle(h.model, 'test'));
      assert.equal(status.outcome, 'promoted');
      assert.ok(status.history.some((e) => e.message === 'approve by bob (via api): ship it [approvers: group ml-leads (1 of 1)]'));
    } finally {
      await h.close();
    }
  });

  it('a forged signature is refused and recorded; a payload cannot declare itself via api', async () => {
    const h = await harness({ specs: { 'v2.0.0': specs.canary }, ...stableV1, policy: { policy: { approvers: { groups: ['ml-leads'] } }, verifyKey } });
    try {
      await atGate(h);
      const handle = await h.client.releaseHandle(h.model, 'test');
      const forged = await refusal(h.client.act(h.model, 'test', 'approve', { who: 'mallory' }, signerFor(forgerKey, { who: 'mallory', groups: ['ml-leads'] })));
      assert.equal(forged, 'approve refused: identity not verified: the signature does not verify with the configured serve key');
      // A signature serve made for bob's approval, replayed under another name.
      const bobs = signOperatorRequest(serveKey, handle.workflowId, 'approve', { who: 'bob', groups: ['ml-leads'] });
      await refusal(h.client.act(h.model, 'test', 'approve', { ...bobs, who: 'mallory' }));
      // What `--by` or a raw update can put in a payload: the workflow decides the channel, not the sender.
      await assert.rejects(handle.executeUpdate(updates.approve, { args: [{ who: 'bob', via: 'api', groups: ['ml-leads'] } as never] }), (err: Error) =>
        /approvers — bob \(groups: none\) is not listed/.test(String((err.cause as Error | undefined)?.message)),
      );
      const status = await h.client.status(h.model, 'test');
      assert.equal(status.waitingFor, 'approval', 'nothing passed the gate');
      assert.deepEqual(
        status.actions.map((a) => [a.who, a.accepted, a.via]),
        [
          ['mallory', false, 'temporal'],
          ['mallory', false, 'temporal'],
          ['bob', false, 'temporal'],
        ],
      );
      assert.match(status.actions[0]!.note!, /identity not verified/);
      assert.ok(status.actions.every((a) => a.via !== 'api'));
    } finally {
      await h.close();
    }
  });

  it('signals (Web UI, `temporal workflow signal`) obey the same policy: a refused one is recorded, not applied', async () => {
    const h = await harness({ specs: { 'v2.0.0': specs.canary }, ...stableV1, policy: { policy: { abort: { groups: ['sre'] }, approvers: { users: ['dave'] } } } });
    try {
      await atGate(h);
      const handle = await h.client.releaseHandle(h.model, 'test');
      await handle.signal(signals.abort, { who: 'web-ui-user', text: 'nope' });
      await handle.signal(signals.approve, { who: 'dave' });
      const status = await h.client.wait(handle);
      assert.equal(status.outcome, 'promoted', 'the refused abort did not apply');
      assert.deepEqual(status.actions.map((a) => [a.action, a.who, a.accepted, a.via]), [
        ['abort', 'web-ui-user', false, 'temporal'],
        ['approve', 'dave', true, 'temporal'],
      ]);
      assert.equal(status.actions[0]!.note, 'abort refused: may abort — web-ui-user (groups: none) is not listed; may abort: group sre');
    } finally {
      await h.close();
    }
  });

  it('start: signed by serve it is recorded via api; someone the policy does not let start fails the release before anything runs', async () => {
    const h = await harness({ specs: { 'v2.0.0': specs.direct }, ...stableV1, policy: { policy: { start: { groups: ['ci'] } }, verifyKey } });
    try {
      const refused = await failure(h.client.wait(await h.client.start({ model: h.model, tag: 'v2.0.0', environment: 'test', repoUrl: '/nowhere', requestedBy: 'alice' })));
      assert.equal(refused.failureType, 'PolicyRefused');
      assert.match(refused.message, /^start refused: may start — alice \(groups: none\) is not listed; may start: group ci/);
      assert.equal(h.world.count('resolveTag'), 0, 'nothing ran');

      const handle = await h.client.start({ model: h.model, tag: 'v2.0.0', environment: 'test', repoUrl: '/nowhere', requestedBy: 'mallory' }, signerFor(serveKey, { who: 'gh-actions', groups: ['ci'] }));
      const status = await h.client.wait(handle);
      assert.equal(status.outcome, 'promoted');
      assert.equal(status.requestedBy, 'gh-actions');
      assert.equal(status.requestedVia, 'api');
      assert.ok(status.history.some((e) => e.message.startsWith('started by gh-actions (via api) [may start: group ci]; policy: 1 distinct approver (anyone); start: group ci')));
    } finally {
      await h.close();
    }
  });

  it('rollback: refused naming the rule unless the policy allows who asks; recorded with the channel', async () => {
    const h = await harness({
      specs: {},
      running: [runningVersion('v1.0.0', '2026-01-01T00:00:00.000Z'), runningVersion('v0.9.0', '2025-12-01T00:00:00.000Z')],
      traffic: { weights: { 'v1.0.0': 100 }, pinned: ['v1.0.0'], stable: 'v1.0.0' },
      policy: { policy: { rollback: { groups: ['sre'] } }, verifyKey },
    });
    try {
      await assert.rejects(h.client.rollback({ model: h.model, environment: 'test', to: 'v0.9.0', requestedBy: 'alice' }), PolicyRefusedError);
      const message = await refusal(h.client.rollback({ model: h.model, environment: 'test', to: 'v0.9.0', requestedBy: 'alice' }));
      assert.equal(message, 'rollback refused: may rollback — alice (groups: none) is not listed; may rollback: group sre');
      assert.deepEqual(h.world.traffic().weights, { 'v1.0.0': 100 }, 'traffic untouched');
      const result = await h.client.rollback({ model: h.model, environment: 'test', to: 'v0.9.0', reason: 'p95 up' }, signerFor(serveKey, { who: 'carol', groups: ['sre'] }));
      assert.deepEqual(result.weights, { 'v0.9.0': 100 });
      assert.deepEqual([result.by, result.via, result.rule], ['carol', 'api', 'may rollback: group sre']);
    } finally {
      await h.close();
    }
  });
});
