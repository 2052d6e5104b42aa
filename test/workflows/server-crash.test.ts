/**
 * Nothing is lost: the Temporal server itself killed (SIGKILL) while a release waits in a pause,
 * then started again from its database file; the release resumes where it was and completes.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createWorld, runningVersion } from '../doubles/world';
import { killTemporalServer, temporalUp } from '../faults/helpers/infra-processes';
import { connectClient, ensureTemporal, startWorker, uniqueQueue } from '../helpers/temporal';

const SPEC = 'port: 8080\nrollout:\n  strategy: canary\n  steps:\n    - setWeight: 30\n    - pause: { duration: 3s }\n    - setWeight: 60\n';

describe('Temporal server killed mid-release', () => {
  before(() => ensureTemporal());

  it('the release resumes after the server restarts and completes once', async () => {
    const queue = uniqueQueue('server-crash');
    const world = createWorld({ specs: { 'v2.0.0': SPEC }, running: [runningVersion('v1.0.0')], traffic: { weights: { 'v1.0.0': 100 }, pinned: ['v1.0.0'], stable: 'v1.0.0' } });
    const worker = await startWorker(queue, world.activities);
    const client = await connectClient(queue);
    try {
      const handle = await client.start({ model: queue, tag: 'v2.0.0', environment: 'test', repoUrl: '/nowhere' });
      for (let i = 0; i < 200 && !world.calls.some((c) => c.name === 'setTraffic' && JSON.stringify(c.input).includes('"v2.0.0":30')); i++) {
        await new Promise((r) => setTimeout(r, 50));
      }
      // Only the dev server scripts/temporal-up.sh started, checked by its command line, not whatever the pid file names.
      await killTemporalServer();
      await temporalUp();

      const status = await client.wait(handle);
      assert.equal(status.outcome, 'promoted');
      assert.deepEqual(world.traffic().weights, { 'v2.0.0': 100 });
      for (const name of ['resolveTag', 'buildImage', 'deployVersion', 'verifyVersion']) {
        assert.equal(world.count(name), 1, `${name} ran once`);
      }
    } finally {
      await client.close();
      await worker.stop();
    }
  });
});
