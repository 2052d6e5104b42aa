/**
 * A release harness for workflow tests: a world of activity doubles, a worker on its own task
 * queue running the real workflows, and a client; the model is named after the queue, so tests
 * never share a model's lock or releases.
 */
import assert from 'node:assert/strict';
import type { TandemClient } from '../../src/client';
import { ReleaseFailedError } from '../../src/client';
import type { ReleaseStatus } from '../../src/workflows/messages';
import { createWorld, type WorldOptions } from '../doubles/world';
import { connectClient, startWorker, uniqueQueue, type RunningWorker } from './temporal';

export interface Harness {
  client: TandemClient;
  world: ReturnType<typeof createWorld>;
  worker: RunningWorker;
  model: string;
  start(tag: string): ReturnType<TandemClient['start']>;
  until(pred: (s: ReleaseStatus) => boolean): Promise<ReleaseStatus>;
  close(): Promise<void>;
}

export async function harness(options: WorldOptions): Promise<Harness> {
  const queue = uniqueQueue('release');
  const world = createWorld(options);
  const worker = await startWorker(queue, world.activities);
  const client = await connectClient(queue);
  const model = queue;
  return {
    client,
    world,
    worker,
    model,
    start: (tag) => client.start({ model, tag, environment: 'test', repoUrl: '/nowhere', requestedBy: 'test' }),
    async until(pred) {
      for (let i = 0; i < 200; i++) {
        const s = await client.status(model, 'test').catch(() => undefined);
        if (s && pred(s)) return s;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error('condition not reached in 20s');
    },
    async close() {
      await client.close();
      await worker.stop();
    },
  };
}

export async function failure(promise: Promise<unknown>): Promise<ReleaseFailedError> {
  const err = await promise.then(
    () => assert.fail('expected the release to fail'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ReleaseFailedError, `expected ReleaseFailedError, got ${String(err)}`);
  return err;
}

