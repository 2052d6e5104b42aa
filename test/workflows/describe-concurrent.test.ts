/**
 * `tandem versions` and serve's GET versions read the environment through a short describe
 * workflow. Many callers at once (a dashboard, the API under load) must each get an answer: two
 * reads in the same millisecond once shared a workflow id, and the second failed (500 in serve).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { TandemClient } from '../../src/client';
import { createWorld, runningVersion, WORLD_ENVIRONMENT } from '../doubles/world';
import { connectClient, ensureTemporal, startWorker, uniqueQueue, type RunningWorker } from '../helpers/temporal';

describe('reading the running versions', () => {
  const model = uniqueQueue('describe');
  let worker: RunningWorker;
  let client: TandemClient;
  before(async () => {
    ensureTemporal();
    const world = createWorld({ specs: {}, running: [runningVersion('v1.0.0')], traffic: { weights: { 'v1.0.0': 100 }, pinned: ['v1.0.0'], stable: 'v1.0.0' } });
    worker = await startWorker(model, world.activities);
    client = await connectClient(model);
  });
  after(async () => {
    await client?.close();
    await worker?.stop();
  });

  it('answers 40 reads started at once, each with the running version', async () => {
    const states = await Promise.all(Array.from({ length: 40 }, () => client.versions(model, WORLD_ENVIRONMENT)));
    assert.equal(states.length, 40);
    for (const state of states) assert.deepEqual(state.running.map((v) => v.version), ['v1.0.0']);
  });
});
