/**
 * The tandem worker: connects to Temporal, builds the real clients for every configured
 * environment (and refuses to start for one it cannot serve), and runs the workflows with the
 * activities wired to them. Only this file creates real clients; activities receive them.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from './activities';
import type { Config } from './config/schema';
import { buildEnvironments } from './environments';
import { temporalTarget } from './temporal-connection';

/** The workflow bundle `npm run build` writes next to the compiled worker. */
const WORKFLOW_BUNDLE = join(__dirname, 'workflow-bundle.js');

export interface WorkerHandle {
  worker: Worker;
  /** resolves when the worker has stopped */
  done: Promise<void>;
  stop(): Promise<void>;
}

/** Starts a worker for the configuration; throws ConfigError for an environment it cannot serve. */
export async function startWorker(config: Config, options: { cacheDir?: string; namespace?: string; address?: string } = {}): Promise<WorkerHandle> {
  const cacheDir = options.cacheDir ?? process.env.TANDEM_CACHE ?? join(homedir(), '.cache', 'tandem', 'worker');
  const environments = buildEnvironments(config, cacheDir);
  const target = temporalTarget(options);
  const connection = await NativeConnection.connect(target.connection);
  const worker = await Worker.create({
    connection,
    namespace: target.namespace,
    taskQueue: config.taskQueue,
    // `npm run build` bundles the workflows once (dist/workflow-bundle.js); from sources, bundle at start.
    ...(existsSync(WORKFLOW_BUNDLE) ? { workflowBundle: { codePath: WORKFLOW_BUNDLE } } : { workflowsPath: require.resolve('./workflows') }),
    activities: createActivities({ environments, gitCacheDir: join(cacheDir, 'git') }),
    // Heartbeats carry cancellation back to a running build or deploy: flush them at least every
    // 2 s (the default waits up to 80% of the heartbeat timeout), so an abort stops work promptly.
    maxHeartbeatThrottleInterval: '2s',
  });
  const done = worker.run().finally(() => connection.close());
  return {
    worker,
    done,
    async stop() {
      worker.shutdown();
      await done;
    },
  };
}

/** `tandem worker`: runs until SIGINT or SIGTERM (the SDK shuts down gracefully on both). */
export async function runWorker(config: Config & { path?: string }): Promise<void> {
  const handle = await startWorker(config);
  process.stdout.write(
    `tandem worker: task queue "${config.taskQueue}", environments ${Object.keys(config.environments).join(', ')}${config.path ? ` (${config.path})` : ''}\n`,
  );
  await handle.done;
}
