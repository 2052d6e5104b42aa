/**
 * Orchestration cost of a release on the real dev server: a full canary release whose activities
 * return at once, against a bare workflow making the same number of no-op activity calls; and the
 * time from an approve request returning to the next activity starting. Prints JSON lines.
 */
import { DefaultLogger, NativeConnection, Runtime, Worker, bundleWorkflowCode } from '@temporalio/worker';
import type { ReleaseActivities } from '../src/activities/types';
import { createWorld, runningVersion } from '../test/doubles/world';
import { connectClient, ensureTemporal, NAMESPACE, ADDRESS, uniqueQueue } from '../test/helpers/temporal';
import { emit, quantile } from './stats';

const RELEASES = Number(process.env.BENCH_RELEASES ?? 9);
const APPROVAL_RELEASES = Number(process.env.BENCH_APPROVAL_RELEASES ?? 3);

const CANARY = ['port: 8080', 'rollout:', '  strategy: canary', '  steps:', '    - setWeight: 10', '    - setWeight: 25', '    - setWeight: 50', '    - setWeight: 75', ''].join('\n');
const GATES = 10;
const APPROVALS = ['port: 8080', 'rollout:', '  strategy: canary', '  steps:', ...Array.from({ length: GATES }, (_, i) => [`    - approval: {}`, `    - setWeight: ${(i + 1) * 9}`]).flat(), ''].join('\n');

const median = (xs: number[]) => quantile(xs, 0.5);

async function main() {
  ensureTemporal();
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const queue = uniqueQueue('bench');
  // Model names of this run only: a run that was interrupted leaves its releases waiting on a queue nobody serves.
  const run = Date.now().toString(36);
  let lastActivityStart = 0;
  const worlds = new Map<string, ReturnType<typeof createWorld>>();
  const world = (model: string, spec: string) => {
    if (!worlds.has(model)) worlds.set(model, createWorld({ specs: { 'v2.0.0': spec }, running: [runningVersion('v1.0.0')], traffic: { weights: { 'v1.0.0': 100 }, pinned: ['v1.0.0'], stable: 'v1.0.0' } }));
    return worlds.get(model)!;
  };
  // One activity set that dispatches to the world of the model in the input.
  const specOf = (model: string) => (model.startsWith('approve') ? APPROVALS : CANARY);
  // Every activity the worlds answer (the release calls more than it once did: the policy, notifications, the path).
  const names = Object.keys(createWorld({ specs: {} }).activities) as (keyof ReleaseActivities)[];
  const activities: Record<string, (input: { model: string }) => Promise<unknown>> = {
    noop: async () => undefined,
  };
  let releaseCalls = 0;
  for (const name of names) {
    activities[name] = async (input) => {
      lastActivityStart = Date.now();
      releaseCalls++;
      // The notification lookup names no model: any world answers it (none has receivers).
      const model = input.model ?? 'notifications';
      const w = world(model, specOf(model));
      return (w.activities[name] as (i: unknown) => Promise<unknown>)(input);
    };
  }
  const connection = await NativeConnection.connect({ address: ADDRESS });
  const worker = await Worker.create({
    connection,
    namespace: NAMESPACE,
    taskQueue: queue,
    workflowBundle: await bundleWorkflowCode({ workflowsPath: require.resolve('./workflows'), logger: new DefaultLogger('WARN') }),
    activities,
  });
  const running = worker.run();
  const client = await connectClient(queue);
  try {
    // Warm up both paths once.
    await client.wait(await client.start({ model: `warmup-${run}`, tag: 'v2.0.0', environment: 'bench', repoUrl: '/x' }));
    await client.temporal.workflow.execute('bareActivities', { taskQueue: queue, workflowId: 'bare-warmup-' + queue, args: [3] });

    const releaseMs: number[] = [];
    let callsPerRelease = 0;
    for (let i = 0; i < RELEASES; i++) {
      const before = releaseCalls;
      const t0 = performance.now();
      await client.wait(await client.start({ model: `canary-${run}-${i}`, tag: 'v2.0.0', environment: 'bench', repoUrl: '/x' }));
      releaseMs.push(performance.now() - t0);
      callsPerRelease = releaseCalls - before;
    }
    const bareMs: number[] = [];
    for (let i = 0; i < RELEASES; i++) {
      const t0 = performance.now();
      await client.temporal.workflow.execute('bareActivities', { taskQueue: queue, workflowId: `bare-${queue}-${i}`, args: [callsPerRelease] });
      bareMs.push(performance.now() - t0);
    }
    const r = median(releaseMs);
    const b = median(bareMs);
    emit({ name: 'canary_release_median', value: round(r), unit: 'ms', baseline: round(b), ratio: round(r / b, 2), activities: callsPerRelease, runs: RELEASES });
    emit({ name: 'bare_workflow_median', value: round(b), unit: 'ms', activities: callsPerRelease, runs: RELEASES });

    const latencies: number[] = [];
    for (let i = 0; i < APPROVAL_RELEASES; i++) {
      const model = `approve-${run}-${i}`;
      const handle = await client.start({ model, tag: 'v2.0.0', environment: 'bench', repoUrl: '/x' });
      for (let gate = 0; gate < GATES; gate++) {
        for (;;) {
          // Until a worker picks the release up, status refuses (there is nothing to read yet).
          const s = await client.status(model, 'bench').catch((err: Error) => (err.name === 'RefusedError' ? undefined : Promise.reject(err)));
          if (s?.waitingFor === 'approval') break;
          await new Promise((res) => setTimeout(res, 20));
        }
        const startsBefore = lastActivityStart;
        await client.act(model, 'bench', 'approve', { who: 'bench' });
        const returned = Date.now();
        while (lastActivityStart === startsBefore) await new Promise((res) => setTimeout(res, 1));
        latencies.push(lastActivityStart - returned);
      }
      await client.wait(handle);
    }
    emit({ name: 'approve_to_next_activity_p50', value: quantile(latencies, 0.5), unit: 'ms', samples: latencies.length });
    emit({ name: 'approve_to_next_activity_p99', value: quantile(latencies, 0.99), unit: 'ms', samples: latencies.length });
  } finally {
    await client.close();
    worker.shutdown();
    await running;
    await connection.close();
  }
}

function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
