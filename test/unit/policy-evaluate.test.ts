/** The approval policy's verdicts: each rule, and the explanation a refused person reads. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_POLICY, describeAllowlist, describePolicy, evaluate, type Policy } from '../../src/policy/evaluate';

const alice = { who: 'alice', groups: [] };
const bob = { who: 'bob', groups: ['ml-leads'] };
const carol = { who: 'carol', groups: ['sre'] };
const leads: Policy = { approvals: 1, fourEyes: true, approvers: { groups: ['ml-leads'] } };

describe('approval policy evaluation', () => {
  it('the default policy lets anyone do anything, one approval', () => {
    for (const action of ['start', 'approve', 'abort', 'pause', 'resume', 'promote', 'rollback'] as const) {
      assert.equal(evaluate(DEFAULT_POLICY, action, alice, { startedBy: 'alice', approvalAhead: true }).allowed, true, action);
    }
    assert.deepEqual(evaluate(DEFAULT_POLICY, 'approve', alice), { allowed: true, rule: 'approvers: anyone' });
  });

  it('approvers: a group member may approve, others are refused with who may', () => {
    assert.deepEqual(evaluate(leads, 'approve', bob, { startedBy: 'alice' }), { allowed: true, rule: 'approvers: group ml-leads; four-eyes' });
    const refused = evaluate(leads, 'approve', carol, { startedBy: 'alice' });
    assert.equal(refused.allowed, false);
    assert.equal(refused.allowed === false && refused.message, 'approve refused: approvers — carol (groups: sre) is not listed; approvers: group ml-leads');
  });

  it('four-eyes: whoever started the release may not approve it, names compared case-insensitively', () => {
    const refused = evaluate(leads, 'approve', { who: 'Bob', groups: ['ml-leads'] }, { startedBy: 'bob' });
    assert.equal(refused.allowed === false && refused.rule, 'four-eyes');
    assert.equal(refused.allowed === false && refused.message, 'approve refused: four-eyes — Bob started this release; approvers: group ml-leads, except bob');
    assert.equal(evaluate({ ...leads, fourEyes: false }, 'approve', bob, { startedBy: 'bob' }).allowed, true, 'off: the starter may approve');
  });

  it('distinct approvers: the same person approving twice does not count twice', () => {
    const two: Policy = { approvals: 2, fourEyes: false };
    assert.equal(evaluate(two, 'approve', alice, { approvedBy: [] }).allowed, true);
    const again = evaluate(two, 'approve', { who: 'ALICE', groups: [] }, { approvedBy: ['alice'] });
    assert.equal(again.allowed === false && again.message, 'approve refused: distinct approvers — ALICE already approved (1 of 2); approvers: anyone, except alice');
    assert.equal(evaluate(two, 'approve', bob, { approvedBy: ['alice'] }).allowed, true);
  });

  it('users and groups: a listed user is allowed without the group', () => {
    const policy: Policy = { approvals: 1, fourEyes: false, approvers: { users: ['alice'], groups: ['ml-leads'] } };
    assert.equal(evaluate(policy, 'approve', alice).allowed, true);
    assert.equal(evaluate(policy, 'approve', bob).allowed, true);
    const refused = evaluate(policy, 'approve', carol);
    assert.match(refused.allowed === false ? refused.message : '', /approvers: user alice, group ml-leads$/);
  });

  it('each action has its own list: start, abort, pause, resume, promote, rollback', () => {
    const policy: Policy = {
      approvals: 1,
      fourEyes: false,
      start: { groups: ['ci'] },
      abort: { groups: ['sre'] },
      pause: { users: ['alice'] },
      resume: { users: ['alice'] },
      promote: { users: [] },
      rollback: { groups: ['sre'] },
    };
    assert.equal(evaluate(policy, 'abort', carol).allowed, true);
    const abort = evaluate(policy, 'abort', alice);
    assert.equal(abort.allowed === false && abort.message, 'abort refused: may abort — alice (groups: none) is not listed; may abort: group sre');
    assert.equal(evaluate(policy, 'start', { who: 'gh', groups: ['ci'] }).allowed, true);
    assert.equal(evaluate(policy, 'start', alice).allowed, false);
    assert.equal(evaluate(policy, 'pause', alice).allowed, true);
    assert.equal(evaluate(policy, 'resume', bob).allowed, false);
    const promote = evaluate(policy, 'promote', alice);
    assert.equal(promote.allowed === false && promote.message, 'promote refused: may promote — alice (groups: none) is not listed; may promote: nobody');
    assert.equal(evaluate(policy, 'rollback', carol).allowed, true);
    assert.equal(evaluate(policy, 'rollback', bob).allowed, false);
  });

  it('promote past an approval gate obeys the approver rules: approvers, four-eyes and the number of approvals', () => {
    const notApprover = evaluate(leads, 'promote', carol, { approvalAhead: true, startedBy: 'alice' });
    assert.equal(notApprover.allowed === false && notApprover.rule, 'approvers');
    const starter = evaluate(leads, 'promote', bob, { approvalAhead: true, startedBy: 'bob' });
    assert.equal(starter.allowed === false && starter.rule, 'four-eyes');
    assert.equal(evaluate(leads, 'promote', carol, { approvalAhead: false }).allowed, true, 'no gate ahead: only the promote list counts');
    const two: Policy = { approvals: 2, fourEyes: false };
    const early = evaluate(two, 'promote', alice, { approvalAhead: true, approvedBy: [] });
    assert.equal(early.allowed === false && early.message, 'promote refused: approvals — promote skips an approval gate that needs 2 distinct approvers (0 so far); approve instead; approvers: anyone');
    assert.equal(evaluate(two, 'promote', alice, { approvalAhead: true, approvedBy: ['bob'] }).allowed, true, 'bob approved, alice promoting makes two');
    assert.equal(evaluate(two, 'promote', alice, { approvalAhead: true, approvedBy: ['alice'] }).allowed, false, 'alice alone is one');
  });

  it('explains lists and the whole policy in one line', () => {
    assert.equal(describeAllowlist(undefined), 'anyone');
    assert.equal(describeAllowlist({ users: [] }), 'nobody');
    assert.equal(describeAllowlist({ users: ['a', 'b'], groups: ['g'] }), 'users a, b, group g');
    assert.equal(describePolicy({ approvals: 2, fourEyes: true, approvers: { groups: ['ml-leads'] }, abort: { groups: ['sre'] } }), '2 distinct approvers (group ml-leads); four-eyes; abort: group sre');
  });
});
