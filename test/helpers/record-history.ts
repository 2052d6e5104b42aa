/**
 * Records the event history of full releases (canary with approval, promoted; canary aborted,
 * rolled back) into test/histories/, for the replay test. Run after a deliberate change to the
 * workflow's commands, never to silence a replay failure:
 *   tsx test/helpers/record-history.ts
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createWorld, runningVersion, specs } from '../doubles/world';
import { connectClient, ensureTemporal, startWorker, uniqueQueue } from './temporal';

async function record(name: string, run: (model: string, client: Awaited<ReturnType<typeof connectClient>>) => Promise<void>) {
  const queue = uniqueQueue('history');
  const world = createWorld({ specs: { 'v2.0.0': specs.canary }, running: [runningVersion('v1.0.0')], traffic: { weights: { 'v1.0.0': 100 }, pinned: ['v1.0.0'], stable: 'v1.0.0' } });
  const worker = await startWorker(queue, world.activities);
  const client = await connectClient(queue);
  try {
    await run(queue, client);
    const history = await (await client.releaseHandle(queue, 'test')).fetchHistory();
    writeFileSync(join(__dirname, '..', 'histories', `${name}.json`), JSON.stringify(history, null, 1));
    console.log(`recorded ${name}: ${history.events?.length} events`);
  } finally {
    await client.close();
    await worker.stop();
  }
}

async function waitFor(client: Awaited<ReturnType<typeof connectClient>>, model: string, pred: (s: { waitingFor?: string }) => boolean) {
  for (let i = 0; i < 200; i++) {
    const s = await client.status(model, 'test').catch(() => undefined);
    if (s && pred(s)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('timed out');
}

async function main() {
  ensureTemporal();
  await record('canary-approved', async (model, client) => {
    const handle = await client.start({ model, tag: 'v2.0.0', environment: 'test', repoUrl: '/nowhere', requestedBy: 'recorder' });
    await waitFor(client, model, (s) => s.waitingFor === 'approval');
    await client.act(model, 'test', 'approve', { who: 'alice', text: 'ok' });
    await client.wait(handle);
  });
  await record('canary-aborted', async (model, client) => {
    const handle = await client.start({ model, tag: 'v2.0.0', environment: 'test', repoUrl: '/nowhere', requestedBy: 'recorder' });
    await waitFor(client, model, (s) => s.waitingFor === 'approval');
    await client.act(model, 'test', 'abort', { who: 'bob', text: 'error budget' });
    await client.wait(handle).catch(() => undefined);
  });
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
