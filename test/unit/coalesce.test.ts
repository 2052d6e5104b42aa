/** coalesced(): one run at a time; calls during a run share it and cause exactly one more. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { coalesced } from '../../src/shared/coalesce';

/** A task whose runs the test finishes by hand. */
function manualTask() {
  const finishers: (() => void)[] = [];
  let runs = 0;
  const task = () =>
    new Promise<void>((resolve) => {
      runs++;
      finishers.push(resolve);
    });
  const finishNext = async () => {
    finishers.shift()?.();
    await new Promise((r) => setImmediate(r));
  };
  return { task, finishNext, runs: () => runs };
}

describe('coalesced', () => {
  it('runs once for a lone call', async () => {
    const m = manualTask();
    const run = coalesced(m.task);
    const done = run();
    await m.finishNext();
    await done;
    assert.equal(m.runs(), 1);
  });

  it('answers calls during a run with that run, and runs exactly once more after it', async () => {
    const m = manualTask();
    const run = coalesced(m.task);
    const first = run();
    const second = run();
    const third = run();
    assert.equal(second, first, 'a call during a run gets the same promise');
    assert.equal(third, first);
    assert.equal(m.runs(), 1);
    await m.finishNext();
    assert.equal(m.runs(), 2, 'one more run for the calls that came meanwhile, not two');
    await m.finishNext();
    await first;
    assert.equal(m.runs(), 2);
    const later = run();
    assert.notEqual(later, first, 'after it settles a call starts a new run');
    await m.finishNext();
    await later;
    assert.equal(m.runs(), 3);
  });

  it('stops re-running once stopped() says so, and a failed run rejects its callers', async () => {
    let stopped = false;
    const m = manualTask();
    const run = coalesced(m.task, () => stopped);
    const first = run();
    void run();
    stopped = true;
    await m.finishNext();
    await first;
    assert.equal(m.runs(), 1);
    const failing = coalesced(async () => {
      throw new Error('boom');
    });
    await assert.rejects(failing(), /boom/);
  });
});
