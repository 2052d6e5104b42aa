/**
 * A worker process with activity doubles for tests that run several such processes on one task
 * queue (test/integration/temporal-postgres.test.ts). Unlike double-worker.ts, the world is one for
 * all of them: each activity reads it from a file before it runs and writes it back after, so
 * whichever process runs the next activity sees what the previous one did. It connects the way
 * tandem does (@temporalio/envconfig: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_TLS_*), so it
 * works against a server that requires client certificates. Logs, one line per event:
 *   <stateDir>/started.log    "<pid> <activity>" when an attempt starts
 *   <stateDir>/completed.log  "<pid> <activity> <input JSON>" when it completes
 * The build double is slow (heartbeating for <buildMs>) so a test can kill a worker mid-build.
 *   tsx test/helpers/shared-world-worker.ts <taskQueue> <stateDir> <specFile> <tag> [buildMs]
 */
import { appendFileSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Context } from '@temporalio/activity';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import type { ReleaseActivities } from '../../src/activities/types';
import { temporalTarget } from '../../src/temporal-connection';
import { createWorld } from '../doubles/world';
import { workflowBundle } from './temporal';

async function main() {
  const [taskQueue, stateDir, specFile, tag, buildMs = '0'] = process.argv.slice(2) as [string, string, string, string, string?];
  const stateFile = join(stateDir, 'world.json');
  const specs = { [tag]: readFileSync(specFile, 'utf8') };
  const names = Object.keys(createWorld({ specs }).activities) as (keyof ReleaseActivities)[];

  const activities = Object.fromEntries(
    names.map((name) => [
      name,
      async (input: unknown) => {
        appendFileSync(join(stateDir, 'started.log'), `${process.pid} ${name}\n`);
        if (name === 'buildImage') await busy(Number(buildMs));
        const saved = JSON.parse(readFileSync(stateFile, 'utf8'));
        const world = createWorld({ specs, running: saved.running, traffic: saved.traffic });
        const result = await (world.activities[name] as (i: unknown) => Promise<unknown>)(input);
        writeFileSync(`${stateFile}.${process.pid}`, JSON.stringify(world.snapshot()));
        renameSync(`${stateFile}.${process.pid}`, stateFile);
        appendFileSync(join(stateDir, 'completed.log'), `${process.pid} ${name} ${JSON.stringify(input)}\n`);
        return result;
      },
    ]),
  ) as unknown as ReleaseActivities;

  Runtime.install({ logger: new DefaultLogger('WARN') });
  const target = temporalTarget();
  const connection = await NativeConnection.connect(target.connection);
  const worker = await Worker.create({
    connection,
    namespace: target.namespace,
    taskQueue,
    workflowBundle: await workflowBundle(),
    activities,
    maxHeartbeatThrottleInterval: '1s',
  });
  const running = worker.run();
  process.stdout.write(`ready ${process.pid}\n`);
  await running;
  await connection.close();
}

/** Works for `ms`, heartbeating, as an image build does. */
async function busy(ms: number): Promise<void> {
  const ctx = Context.current();
  const until = Date.now() + ms;
  while (Date.now() < until) {
    ctx.heartbeat();
    await ctx.sleep(Math.min(250, until - Date.now()));
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
