/**
 * The worker of bench/scale.ts, in its own process so its resident memory is the worker's alone:
 * tandem's workflows (and the bare baseline) with activity doubles, one in-memory world per model,
 * whose spec and running versions follow the model's name prefix. Reports on stdout, one JSON
 * object per line: `ready`, `waiting` (a release reached its approval gate: the notification
 * lookup of the `approval` event), and `activity` starts of `react-` and `-warm` models (with the time).
 *
 * Environment: BENCH_QUEUE (task queue), BENCH_CACHE (maxCachedWorkflows; unset: the SDK default),
 * BENCH_BARE=1 (only the bare baselines in the bundle: Temporal's floor); for tuning experiments,
 * BENCH_THREADS (workflowThreadPoolSize).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { DefaultLogger, NativeConnection, Runtime, Worker, bundleWorkflowCode } from '@temporalio/worker';
import type { ReleaseActivities } from '../src/activities/types';
import { createWorld, runningVersion } from '../test/doubles/world';
import { ADDRESS, NAMESPACE } from '../test/helpers/temporal';

/**
 * The workflow bundle, made once per bench run: BENCH_BUNDLE_DIR keeps it for the run's later
 * workers (webpack takes seconds of each start).
 */
async function workflowBundle(): Promise<{ code: string }> {
  const name = process.env.BENCH_BARE ? 'bare' : 'tandem';
  const file = process.env.BENCH_BUNDLE_DIR ? join(process.env.BENCH_BUNDLE_DIR, `${name}.js`) : undefined;
  if (file && existsSync(file)) return { code: readFileSync(file, 'utf8') };
  const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve(process.env.BENCH_BARE ? './bare-workflows' : './workflows'), logger: new DefaultLogger('WARN') });
  if (file) writeFileSync(file, code);
  return { code };
}

const spec = (steps: string[]) => ['port: 8080', 'rollout:', '  strategy: canary', '  steps:', ...steps.map((s) => `    - ${s}`), ''].join('\n');

/** Spec and running versions per model prefix (see bench/scale.ts). */
const KINDS: Record<string, { spec: string; versions: number }> = {
  // a full canary whose activities return at once
  tp: { spec: spec(['setWeight: 10', 'setWeight: 25', 'setWeight: 50', 'setWeight: 75']), versions: 1 },
  // waits for approval first, then a canary step
  wait: { spec: spec(['approval: {}', 'setWeight: 50']), versions: 1 },
  // approval gates one after another (approve → next activity)
  react: { spec: spec([...Array.from({ length: 5 }, (_, i) => [`approval: {}`, `setWeight: ${(i + 1) * 15}`]).flat()]), versions: 1 },
  // keeps the worker busy: traffic steps with short pauses
  busy: { spec: spec(Array.from({ length: 15 }, (_, i) => [`setWeight: ${5 + i * 5}`, 'pause: { duration: 300ms }']).flat()), versions: 1 },
  // a model with 10 running versions, a release waiting at its gate
  fleet: { spec: spec(['approval: {}', 'setWeight: 50']), versions: 10 },
};

const say = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);

async function main() {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const worlds = new Map<string, ReturnType<typeof createWorld>>();
  const world = (model: string) => {
    let w = worlds.get(model);
    if (!w) {
      const kind = KINDS[model.split('-')[0]!] ?? KINDS.tp!;
      const versions = Array.from({ length: kind.versions }, (_, i) => runningVersion(`v1.${i}.0`));
      const stable = versions.at(-1)!.version;
      w = createWorld({ specs: { 'v2.0.0': kind.spec }, running: versions, traffic: { weights: { [stable]: 100 }, pinned: versions.map((v) => v.version), stable } });
      worlds.set(model, w);
    }
    return w;
  };
  // Every activity the worlds answer; the notification lookup is answered below.
  const names = (Object.keys(createWorld({ specs: {} }).activities) as (keyof ReleaseActivities)[]).filter((n) => n !== 'notificationSinks');
  const activities: Record<string, (input: { model: string }) => Promise<unknown>> = { noop: async () => void say({ ev: 'noop' }) };
  for (const name of names) {
    activities[name] = async (input) => {
      if (input.model.startsWith('react-') || input.model.endsWith('-warm')) say({ ev: 'activity', model: input.model, name, at: Date.now() });
      return (world(input.model).activities[name] as (i: unknown) => Promise<unknown>)(input);
    };
  }
  // No receivers: the lookup of the approval event says the release waits at its gate.
  (activities as Record<string, unknown>).notificationSinks = async (input: { event?: string }) => {
    if (input.event === 'approval') say({ ev: 'waiting' });
    return [];
  };
  const cache = process.env.BENCH_CACHE ? Number(process.env.BENCH_CACHE) : undefined;
  const connection = await NativeConnection.connect({ address: ADDRESS });
  const worker = await Worker.create({
    connection,
    namespace: NAMESPACE,
    taskQueue: process.env.BENCH_QUEUE!,
    workflowBundle: await workflowBundle(),
    activities,
    maxHeartbeatThrottleInterval: '2s',
    ...(cache === undefined ? {} : { maxCachedWorkflows: cache }),
    ...(process.env.BENCH_THREADS ? { workflowThreadPoolSize: Number(process.env.BENCH_THREADS) } : {}),
  });
  // Bundling leaves webpack's garbage behind: collect it, and again whenever the bench asks before
  // it reads the resident memory (it runs this process with --expose-gc).
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  createInterface({ input: process.stdin }).on('line', (line) => {
    if (line === 'gc') {
      gc?.();
      say({ ev: 'gc-done' });
    }
  });
  say({ ev: 'ready', maxCachedWorkflows: cache ?? 'default' });
  process.once('SIGTERM', () => worker.shutdown());
  await worker.run();
  await connection.close();
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
