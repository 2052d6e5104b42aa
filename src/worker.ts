/**
 * The tandem worker: connects to Temporal, builds the real clients for every configured
 * environment (and refuses to start for one it cannot serve), and runs the workflows with the
 * activities wired to them. Only this file creates real clients; activities receive them.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Duration } from '@temporalio/common';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from './activities';
import { createNotifyActivities } from './activities/notify';
import type { Config } from './config/schema';
import { buildEnvironments } from './environments';
import { policyDeps } from './policy/from-config';
import { temporalTarget } from './temporal-connection';
import { freeLoopbackPort, installRuntime, startHealthServer, type LogFormat } from './worker-health';

/** The workflow bundle `npm run build` writes next to the compiled worker. */
const WORKFLOW_BUNDLE = join(__dirname, 'workflow-bundle.js');

export interface WorkerHandle {
  worker: Worker;
  /** resolves when the worker has stopped */
  done: Promise<void>;
  stop(): Promise<void>;
}

/** Starts a worker for the configuration; throws ConfigError for an environment it cannot serve. */
export async function startWorker(
  config: Config,
  options: { cacheDir?: string; namespace?: string; address?: string; shutdownGraceTime?: Duration; identity?: string } = {},
): Promise<WorkerHandle> {
  const cacheDir = options.cacheDir ?? process.env.TANDEM_CACHE ?? join(homedir(), '.cache', 'tandem', 'worker');
  const environments = buildEnvironments(config, cacheDir);
  const policies = policyDeps(config);
  const notifications = createNotifyActivities(config);
  const target = temporalTarget(options);
  const connection = await NativeConnection.connect(target.connection);
  const worker = await Worker.create({
    connection,
    namespace: target.namespace,
    taskQueue: config.taskQueue,
    // The SDK's default is <pid>@<hostname>: two containers on the host's network are both 1@host.
    ...(options.identity ? { identity: options.identity } : {}),
    // `npm run build` bundles the workflows once (dist/workflow-bundle.js); from sources, bundle at start.
    ...(existsSync(WORKFLOW_BUNDLE) ? { workflowBundle: { codePath: WORKFLOW_BUNDLE } } : { workflowsPath: require.resolve('./workflows') }),
    activities: createActivities({ environments, gitCacheDir: join(cacheDir, 'git'), notifications, policies, models: config.models }),
    // Heartbeats carry cancellation back to a running build or deploy: flush them at least every
    // 2 s (the default waits up to 80% of the heartbeat timeout), so an abort stops work promptly.
    maxHeartbeatThrottleInterval: '2s',
    // On SIGTERM the worker stops polling at once; running activities get this long to finish
    // (builds and waits heartbeat, so they see the cancellation and stop cleanly) before they
    // are cancelled. Their releases resume on another worker.
    shutdownGraceTime: options.shutdownGraceTime ?? '20s',
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

export interface RunWorkerOptions {
  /** where /healthz, /readyz and /metrics are served; port 0 picks a free one */
  healthHost: string;
  healthPort: number;
  logFormat: LogFormat;
  /** the worker's identity in Temporal (pollers, activity attempts); the SDK's <pid>@<host> when absent */
  identity?: string;
}

/**
 * `tandem worker`: serves health and metrics, runs until SIGINT or SIGTERM, then drains (the SDK
 * stops polling, lets running activities finish within the grace time) and resolves.
 */
export async function runWorker(config: Config & { path?: string }, options: RunWorkerOptions): Promise<void> {
  const exporter = `127.0.0.1:${await freeLoopbackPort()}`;
  installRuntime(exporter, options.logFormat);
  let handle: WorkerHandle | undefined;
  const health = await startHealthServer(() => handle?.worker, `http://${exporter}`, options.healthHost, options.healthPort);
  try {
    handle = await startWorker(config, { identity: options.identity });
    const ready = {
      message: 'tandem worker: ready',
      taskQueue: config.taskQueue,
      environments: Object.keys(config.environments),
      config: config.path,
      health: health.url,
      identity: handle.worker.options.identity,
    };
    process.stdout.write(
      options.logFormat === 'json'
        ? JSON.stringify({ time: new Date().toISOString(), level: 'info', ...ready }) + '\n'
        : `tandem worker: task queue "${config.taskQueue}", environments ${ready.environments.join(', ')}${config.path ? ` (${config.path})` : ''}; health and metrics at ${health.url}/healthz, /readyz, /metrics\n`,
    );
    await handle.done;
  } finally {
    await health.close();
  }
}
