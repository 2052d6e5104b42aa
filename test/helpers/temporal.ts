/**
 * Test access to the real Temporal dev server started by scripts/temporal-up.sh (namespace
 * tandem-test), and workers that run tandem's real workflow code with given activities.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { DefaultLogger, NativeConnection, Runtime, Worker, bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { TandemClient } from '../../src/client';

export const NAMESPACE = 'tandem-test';
export const ADDRESS = process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233';
export const ROOT = join(__dirname, '..', '..');

let runtimeInstalled = false;
/** Worker logs at WARN and above only, so test output stays readable. */
export function quietRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  Runtime.install({ logger: new DefaultLogger('WARN') });
}

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;

/** The workflow bundle, built once per test process. */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({ workflowsPath: require.resolve('../../src/workflows'), logger: quietLogger() });
  return bundle;
}

/** Makes sure the dev server runs (fast when it does). */
export function ensureTemporal(): void {
  execFileSync('bash', [join(ROOT, 'scripts/temporal-up.sh')], { stdio: 'ignore' });
}

export function uniqueQueue(prefix = 'test'): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

export async function connectClient(taskQueue: string): Promise<TandemClient> {
  return TandemClient.connect({ address: ADDRESS, namespace: NAMESPACE, taskQueue });
}

export interface RunningWorker {
  worker: Worker;
  stop(): Promise<void>;
}

/** Starts a worker with the real workflows and the given activities on its own task queue. */
export async function startWorker(taskQueue: string, activities: object): Promise<RunningWorker> {
  quietRuntime();
  const connection = await NativeConnection.connect({ address: ADDRESS });
  const worker = await Worker.create({
    connection,
    namespace: NAMESPACE,
    taskQueue,
    workflowBundle: await workflowBundle(),
    activities,
    maxHeartbeatThrottleInterval: '2s',
  });
  const running = worker.run();
  return {
    worker,
    async stop() {
      worker.shutdown();
      await running;
      await connection.close();
    },
  };
}

function quietLogger() {
  const noop = () => undefined;
  return { log: noop, trace: noop, debug: noop, info: noop, warn: noop, error: console.error };
}
