/**
 * Records the event histories of this version of the workflows into test/histories/<version>/
 * (the package version), for the replay test: a canary approved and promoted, a canary aborted,
 * a rollback that had to bring a lost stable version back, and the model's lock workflow. Run once
 * per shipped change to the workflows' commands; it never overwrites a stored history (those are
 * what releases started by older workers look like):
 *   tsx test/helpers/record-history.ts
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { modelWorkflowId } from '../../src/naming/ids';
import { createWorld, runningVersion, specs } from '../doubles/world';
import { connectClient, ensureTemporal, startWorker, uniqueQueue } from './temporal';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const VERSION = (require('../../package.json') as { version: string }).version;
const DIR = join(__dirname, '..', 'histories', VERSION);

type Client = Awaited<ReturnType<typeof connectClient>>;

async function record(names: string[], run: (model: string, client: Client, world: ReturnType<typeof createWorld>) => Promise<WorkflowHandle[]>, spec = specs.canary) {
  const queue = uniqueQueue('history');
  const world = createWorld({ specs: { 'v2.0.0': spec }, running: [runningVersion('v1.0.0')], traffic: { weights: { 'v1.0.0': 100 }, pinned: ['v1.0.0'], stable: 'v1.0.0' } });
  const worker = await startWorker(queue, world.activities);
  const client = await connectClient(queue);
  try {
    const handles = await run(queue, client, world);
    for (const [i, handle] of handles.entries()) {
      const file = join(DIR, `${names[i]}.json`);
      const history = await handle.fetchHistory();
      writeFileSync(file, JSON.stringify(history, null, 1));
      console.log(`recorded ${file}: ${history.events?.length} events`);
    }
  } finally {
    await client.close();
    await worker.stop();
  }
}

async function waitFor(client: Client, model: string, pred: (s: { waitingFor?: string; rollbackFailures?: unknown[] }) => boolean) {
  for (let i = 0; i < 600; i++) {
    const s = await client.status(model, 'test').catch(() => undefined);
    if (s && pred(s)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('timed out');
}

async function main() {
  if (existsSync(DIR)) throw new Error(`${DIR} exists: histories of a shipped version are never re-recorded; bump the package version first`);
  mkdirSync(DIR, { recursive: true });
  ensureTemporal();
  await record(['canary-approved', 'model-operation'], async (model, client) => {
    const handle = await client.start({ model, tag: 'v2.0.0', environment: 'test', repoUrl: '/nowhere', requestedBy: 'recorder' });
    await waitFor(client, model, (s) => s.waitingFor === 'approval');
    await client.act(model, 'test', 'approve', { who: 'alice', text: 'ok' });
    await client.wait(handle);
    const lock = client.temporal.workflow.getHandle(modelWorkflowId(model, 'test'));
    await lock.result();
    return [handle, lock];
  });
  await record(['canary-aborted'], async (model, client) => {
    const handle = await client.start({ model, tag: 'v2.0.0', environment: 'test', repoUrl: '/nowhere', requestedBy: 'recorder' });
    await waitFor(client, model, (s) => s.waitingFor === 'approval');
    await handle.signal('approve', null as never);
    await client.act(model, 'test', 'abort', { who: 'bob', text: 'error budget' });
    await client.wait(handle).catch(() => undefined);
    return [handle];
  });
  await record(
    ['rollback-restores-stable'],
    async (model, client, world) => {
      const handle = await client.start({ model, tag: 'v2.0.0', environment: 'test', repoUrl: '/nowhere', requestedBy: 'recorder' });
      await waitFor(client, model, (s) => s.waitingFor === 'resume');
      world.lose('v1.0.0');
      await client.act(model, 'test', 'abort', { who: 'bob', text: 'engine restarted' });
      await client.wait(handle).catch(() => undefined);
      return [handle];
    },
    specs.pauseForever,
  );
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
