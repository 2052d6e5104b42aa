/**
 * A worker process of the soak: tandem's real workflow code (a bundle built once by the soak, so
 * a restart takes a second, not a webpack build) with the activity doubles of
 * test/doubles/world.ts, whose world lives in one file per model (soak-world.ts) taken under a
 * file lock on every call: the two worker processes, and any that replace them after a SIGKILL,
 * share it.
 *   node --import tsx test/faults/helpers/soak-worker.ts <taskQueue> <worldDir> <bundleFile>
 *
 * Like the real activities, a deploy applies first and then waits for readiness (heartbeating),
 * and a build takes a moment: a kill in that window makes Temporal run the activity again, which
 * the doubles must absorb (deploying a version twice leaves one version).
 */
import { Context } from '@temporalio/activity';
import type { Duration } from '@temporalio/common';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import type { ReleaseActivities } from '../../../src/activities/types';
import { createWorld } from '../../doubles/world';
import { ADDRESS, NAMESPACE } from '../../helpers/temporal';
import { withFileLock } from './file-lock';
import { kindOf, lockFile, readWorld, specOf, writeWorld } from './soak-world';

const DEPLOY_READY_MS = Number(process.env.SOAK_DEPLOY_MS ?? 300);
const BUILD_MS = Number(process.env.SOAK_BUILD_MS ?? 100);

type Input = { model: string; tag?: string; version?: string; releaseId?: string };

/** Waits `ms` like a real long activity: heartbeating, and stopping when cancelled. */
async function busy(ms: number): Promise<void> {
  const ctx = Context.current();
  const until = Date.now() + ms;
  while (Date.now() < until) {
    ctx.heartbeat();
    await ctx.sleep(Math.min(100, until - Date.now()));
  }
}

function activitiesFor(dir: string): ReleaseActivities {
  /** Runs one double on the model's world, loaded and saved under the model's lock. */
  const onWorld = (name: keyof ReleaseActivities, input: Input) =>
    withFileLock(lockFile(dir, input.model), async () => {
      const state = readWorld(dir, input.model);
      const tag = input.tag ?? input.version;
      const kind = tag ? kindOf(tag) : undefined;
      const world = createWorld({
        specs: tag ? { [tag]: specOf(kind!) } : {},
        running: state.running,
        traffic: state.traffic,
        buildFailure: kind === 'build' ? 'non-retryable' : undefined,
        failingChecks: kind === 'smoke' ? ['predicts'] : [],
      });
      const result = await (world.activities[name] as (i: unknown) => Promise<unknown>)(input);
      const info = Context.current().info;
      const snapshot = world.snapshot();
      state.running = snapshot.running;
      state.traffic = snapshot.traffic;
      state.calls++;
      if (name === 'setTraffic') state.trafficLog.push({ at: new Date().toISOString(), pid: process.pid, weights: { ...snapshot.traffic.weights }, stable: snapshot.traffic.stable });
      if (name === 'deployVersion') state.deploys[input.releaseId!] = (state.deploys[input.releaseId!] ?? 0) + 1;
      if (name === 'buildImage') state.builds[input.releaseId!] = (state.builds[input.releaseId!] ?? 0) + 1;
      const workflowId = info.workflowExecution?.workflowId ?? '?';
      const key = `${workflowId} ${info.activityId}`;
      state.completions[key] = (state.completions[key] ?? 0) + 1;
      if (info.attempt > 1) state.retried.push({ activity: name, workflowId, attempt: info.attempt, pid: process.pid });
      writeWorld(dir, input.model, state);
      return result;
    });

  const names: (keyof ReleaseActivities)[] = [
    'resolveTag',
    'buildImage',
    'deployVersion',
    'verifyVersion',
    'describeModel',
    'setTraffic',
    'analyzeVersion',
    'scaleDownVersion',
    'restoreVersion',
    'retireVersions',
  ];
  // The policy (the default: anyone, one approval), the receivers of notifications (none) and the
  // model's path (none) hold no state of the world: a world without versions answers them, with no lock.
  const { resolvePolicy, notificationSinks, sendNotification, nextInPath, stepIntoPath } = createWorld({ specs: {} }).activities;
  const activities = {
    ...Object.fromEntries(names.map((name) => [name, (input: Input) => onWorld(name, input)])),
    resolvePolicy,
    notificationSinks,
    sendNotification,
    nextInPath,
    stepIntoPath,
  } as unknown as ReleaseActivities;
  activities.buildImage = async (input) => {
    await busy(BUILD_MS);
    return onWorld('buildImage', input) as ReturnType<ReleaseActivities['buildImage']>;
  };
  activities.deployVersion = async (input) => {
    const deployed = await onWorld('deployVersion', input);
    await busy(DEPLOY_READY_MS);
    return deployed as Awaited<ReturnType<ReleaseActivities['deployVersion']>>;
  };
  return activities;
}

async function main() {
  const [taskQueue, dir, bundleFile] = process.argv.slice(2) as [string, string, string];
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const connection = await connect();
  const worker = await Worker.create({
    connection,
    namespace: NAMESPACE,
    taskQueue,
    workflowBundle: { codePath: bundleFile },
    activities: activitiesFor(dir),
    // As src/worker.ts.
    maxHeartbeatThrottleInterval: '2s',
    // Not as src/worker.ts (10 s): after a SIGKILL, the tasks of the releases cached on the dead
    // worker wait this long on its sticky queue before the other worker gets them. With a kill
    // every few seconds and 20 releases at once, 10 s would stall most releases most of the time.
    stickyQueueScheduleToStartTimeout: (process.env.SOAK_STICKY_TIMEOUT ?? '2s') as Duration,
  });
  const running = worker.run();
  process.stdout.write(`ready ${process.pid}\n`);
  await running;
  await connection.close();
}

/** Connects, waiting for a server that is restarting (other tests restart the shared one). */
async function connect(): Promise<NativeConnection> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await NativeConnection.connect({ address: ADDRESS });
    } catch (err) {
      if (attempt >= 60) throw err;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
