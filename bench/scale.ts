/**
 * tandem at scale on the real Temporal dev server, its worker in a process of its own
 * (bench/scale-worker.ts: real workflows, activity doubles that return at once):
 * - throughput: N releases of a full canary at once (N = 10, 100, 500) against N bare workflows
 *   making the same number of no-op activity calls (Temporal's floor), releases/s and the ratio;
 * - waiting releases: the worker's resident memory with 1, 100 and 1 000 releases waiting for
 *   approval, with the workflow cache at the SDK's default and at a tuned size, and approve →
 *   promoted for all of them (p50/p99);
 * - reaction under load: approve → next activity and abort → first rollback activity while 100
 *   other releases run;
 * - fleet reads: `tandem versions` and `release status` (what the CLI calls) over 20 models with
 *   10 running versions each.
 * `--quick` (or BENCH_QUICK=1) runs smaller sizes. Prints JSON lines.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { WorkflowHandle } from '@temporalio/client';
import type { TandemClient } from '../src/client';
import { connectClient, ensureTemporal, uniqueQueue } from '../test/helpers/temporal';
import { emit, quantile, round } from './stats';

const QUICK = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1';
const SIZES = process.env.BENCH_SIZES ? process.env.BENCH_SIZES.split(',').map(Number) : QUICK ? [10, 50] : [10, 100, 500];
const WAITING = QUICK ? [1, 50, 200] : [1, 100, 1000];
const TUNED_CACHE = QUICK ? 30 : 50;
/** Temporal's floor is measured from 1 to this many bare workflows waiting. */
const FLOOR_TO = QUICK ? 200 : 500;
/** Approvals in flight at once when all waiting releases are approved. */
const APPROVALS = 50;
/** Temporal's floor, once measured (bareWaiting): MB per bare waiting workflow. */
let floorMbPerWorkflow: number | undefined;
const BACKGROUND = QUICK ? 30 : 100;
const FLEET_MODELS = 20;
const FLEET_READS = QUICK ? 2 : 5;
const ENV = 'bench';
/** BENCH_ONLY=throughput,reaction,fleet,floor,waiting,tuned runs only those parts, BENCH_SIZES=100,500 other throughput sizes (for development). */
const runs = (part: string) => !process.env.BENCH_ONLY || process.env.BENCH_ONLY.split(',').includes(part);
const RUN = Date.now().toString(36);
/** The workflow bundles, made by the run's first worker of each kind and reused by the others. */
const BUNDLE_DIR = mkdtempSync(join(tmpdir(), 'tandem-bench-bundles-'));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs `fn` over items, `width` at a time. */
async function pool<T, R>(items: T[], width: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await fn(items[i]!);
      }
    }),
  );
  return results;
}

/** The worker process and what it reports. */
class BenchWorker {
  waiting = 0;
  noops = 0;
  gcDone: (() => void) | undefined;
  readonly activityStarts = new Map<string, { name: string; at: number }[]>();
  private constructor(private readonly child: ChildProcess) {}

  static async start(queue: string, cache?: number, bare = false): Promise<BenchWorker> {
    // BENCH_PROFILE=<dir>: the worker writes CPU profiles there, one per thread (the workflow thread's among them).
    const profile = process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
    const child = spawn(process.execPath, [...profile, '--import', 'tsx', join(__dirname, 'scale-worker.ts')], {
      env: { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --expose-gc`, BENCH_QUEUE: queue, BENCH_BUNDLE_DIR: BUNDLE_DIR, ...(cache === undefined ? {} : { BENCH_CACHE: String(cache) }), ...(bare ? { BENCH_BARE: '1' } : {}) },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const worker = new BenchWorker(child);
    const ready = new Promise<void>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`the bench worker exited (${code}) before it was ready`)));
      createInterface({ input: child.stdout! }).on('line', (line) => {
        const ev = JSON.parse(line) as { ev: string; model?: string; name?: string; at?: number };
        if (ev.ev === 'ready') resolve();
        else if (ev.ev === 'gc-done') worker.gcDone?.();
        else if (ev.ev === 'waiting') worker.waiting++;
        else if (ev.ev === 'noop') worker.noops++;
        else if (ev.ev === 'activity') {
          const list = worker.activityStarts.get(ev.model!) ?? [];
          list.push({ name: ev.name!, at: ev.at! });
          worker.activityStarts.set(ev.model!, list);
        }
      });
    });
    await ready;
    return worker;
  }

  /**
   * Resident memory of the worker process (and the tsx wrapper that started it), in MB, after a
   * garbage collection of its main thread; the median of five readings 200 ms apart.
   */
  async rssMb(): Promise<number> {
    await new Promise<void>((resolve) => {
      this.gcDone = resolve;
      this.child.stdin!.write('gc\n');
    });
    const readings: number[] = [];
    for (let i = 0; i < 5; i++) {
      await sleep(200);
      readings.push(this.rssNowMb());
    }
    return quantile(readings, 0.5);
  }

  private rssNowMb(): number {
    const pids = [this.child.pid!, ...descendants(this.child.pid!)];
    return round(pids.map((pid) => vmRssKb(pid)).reduce((a, b) => a + b, 0) / 1024);
  }

  /**
   * SIGTERM to the worker and the wrappers that started it (the worker shuts down), then SIGKILL
   * to whatever still runs after 10 s. Watches the processes themselves, not the wrapper's exit event.
   */
  async stop(): Promise<void> {
    const pids = [...descendants(this.child.pid!), this.child.pid!].reverse();
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    const signal = (name: NodeJS.Signals) => pids.filter(alive).forEach((pid) => process.kill(pid, name));
    signal('SIGTERM');
    for (let i = 0; i < 100 && pids.some(alive); i++) await sleep(100);
    signal('SIGKILL');
    for (let i = 0; i < 50 && pids.some(alive); i++) await sleep(100);
  }
}

function vmRssKb(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

function descendants(pid: number): number[] {
  let children: number[] = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
  return children.flatMap((c) => [c, ...descendants(c)]);
}

const start = (client: TandemClient, model: string) => client.start({ model, tag: 'v2.0.0', environment: ENV, repoUrl: '/bench', requestedBy: 'bench' });

async function until(pred: () => boolean, what: string, withinMs: number): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Releases and bare workflows completed per second, N at once. */
async function throughput(client: TandemClient, queue: string, worker: BenchWorker) {
  // warm both paths; the warm-up release tells how many activities a release of this plan calls
  await client.wait(await start(client, `tp-${RUN}-warm`));
  const activities = worker.activityStarts.get(`tp-${RUN}-warm`)?.length ?? 0;
  await client.temporal.workflow.execute('bareActivities', { taskQueue: queue, workflowId: `bare-${RUN}-warm`, args: [activities] });
  for (const n of SIZES) {
    const models = Array.from({ length: n }, (_, i) => `tp-${RUN}-${n}-${i}`);
    let t0 = performance.now();
    const handles = await pool(models, 50, (m) => start(client, m));
    await Promise.all(handles.map((h) => client.wait(h)));
    const tandemS = (performance.now() - t0) / 1000;
    t0 = performance.now();
    await pool(models, 50, (m) => client.temporal.workflow.start('bareActivities', { taskQueue: queue, workflowId: `bare-${m}`, args: [activities] }).then((h) => h.result()));
    const bareS = (performance.now() - t0) / 1000;
    emit({ name: `throughput_releases_per_s_n${n}`, value: round(n / tandemS, 2), unit: 'releases/s', baseline: round(n / bareS, 2), ratio: round(tandemS / bareS, 2), concurrent: n, activitiesPerRelease: activities, note: 'baseline: bare workflows with the same no-op activity calls, same N' });
  }
}

/**
 * Worker memory with 1, 100 and 1 000 releases waiting at their gate (SDK default cache), then
 * approve → promoted for all of them on that worker.
 */
async function waiting() {
  const queue = uniqueQueue('bench-wait');
  const worker = await BenchWorker.start(queue);
  const scoped = await connectClient(queue);
  try {
    const models: string[] = [];
    const handles: WorkflowHandle[] = [];
    const rss: Record<number, number> = {};
    for (const count of WAITING) {
      const more = Array.from({ length: count - models.length }, (_, i) => `wait-${RUN}-${models.length + i}`);
      handles.push(...(await pool(more, 50, (m) => start(scoped, m))));
      models.push(...more);
      await until(() => worker.waiting >= count, `${count} releases at their gate`, 15 * 60_000);
      await sleep(2000); // let the worker settle (workflow tasks done)
      rss[count] = await worker.rssMb();
      emit({ name: `worker_rss_waiting_${count}`, value: rss[count], unit: 'MB', waiting: count, maxCachedWorkflows: 'SDK default' });
    }
    const [first, , last] = WAITING as [number, number, number];
    const perRelease = round((rss[last]! - rss[first]!) / (last - first), 3);
    const floor = floorMbPerWorkflow === undefined ? {} : { baseline: floorMbPerWorkflow, ratio: round(perRelease / Math.max(floorMbPerWorkflow, 0.001), 1) };
    emit({ name: 'worker_mb_per_waiting_release', value: perRelease, unit: 'MB', ...floor, from: first, to: last, maxCachedWorkflows: 'SDK default', note: "baseline: a bare workflow waiting for a signal in a bundle of its own (Temporal's floor)" });

    // approve all, APPROVALS at a time: approve sent → release promoted, per release
    const t0 = performance.now();
    const times = await pool(
      models.map((model, i) => ({ model, handle: handles[i]! })),
      APPROVALS,
      async ({ model, handle }) => {
        const sent = performance.now();
        await scoped.act(model, ENV, 'approve', { who: 'bench' });
        await handle.result();
        return performance.now() - sent;
      },
    );
    emit({ name: `approve_all_${last}_to_promoted_p50`, value: round(quantile(times, 0.5)), unit: 'ms', p99: round(quantile(times, 0.99)), allSeconds: round((performance.now() - t0) / 1000), releases: models.length, concurrency: APPROVALS });
  } finally {
    await scoped.close();
    await worker.stop();
  }
}

/** Worker memory with 3 × TUNED_CACHE releases waiting on a worker whose cache holds TUNED_CACHE. */
async function waitingTuned() {
  const queue = uniqueQueue('bench-wait-tuned');
  const worker = await BenchWorker.start(queue, TUNED_CACHE);
  const scoped = await connectClient(queue);
  const count = 3 * TUNED_CACHE;
  try {
    const empty = await worker.rssMb();
    const models = Array.from({ length: count }, (_, i) => `wait-${RUN}-t-${i}`);
    await pool(models, 50, (m) => start(scoped, m));
    await until(() => worker.waiting >= count, `${count} releases at their gate`, 15 * 60_000);
    await sleep(2000);
    const rss = await worker.rssMb();
    emit({ name: `worker_mb_per_waiting_release_cache_${TUNED_CACHE}`, value: round((rss - empty) / count, 3), unit: 'MB', rss, rssEmpty: empty, waiting: count, maxCachedWorkflows: TUNED_CACHE, note: 'at most the cache size stay in memory; the others are replayed when they resume' });
    await pool(models, 20, (m) => scoped.act(m, ENV, 'abort', { who: 'bench', text: 'benchmark done' }).catch(() => undefined));
  } finally {
    await scoped.close();
    await worker.stop();
  }
}

/**
 * Temporal's floor: the worker's memory per workflow waiting for a signal, in a bundle of bare
 * workflows only (nothing of tandem in it).
 */
async function bareWaiting() {
  const queue = uniqueQueue('bench-bare-wait');
  const worker = await BenchWorker.start(queue, undefined, true);
  const client = await connectClient(queue);
  const [first, last] = [1, FLOOR_TO];
  try {
    const ids = Array.from({ length: last }, (_, i) => `bare-wait-${RUN}-${i}`);
    const handles = await pool(ids.slice(0, first), 50, (id) => client.temporal.workflow.start('bareWaiting', { taskQueue: queue, workflowId: id }));
    await until(() => worker.noops >= first, 'the first bare workflow waiting', 60_000);
    await sleep(3000);
    const low = await worker.rssMb();
    handles.push(...(await pool(ids.slice(first), 50, (id) => client.temporal.workflow.start('bareWaiting', { taskQueue: queue, workflowId: id }))));
    await until(() => worker.noops >= last, `${last} bare workflows waiting`, 10 * 60_000);
    await sleep(3000);
    const high = await worker.rssMb();
    floorMbPerWorkflow = round((high - low) / (last - first), 3);
    emit({ name: 'worker_mb_per_bare_waiting_workflow_floor', value: floorMbPerWorkflow, unit: 'MB', rssAt1: low, [`rssAt${last}`]: high, note: "Temporal's floor: a workflow waiting for a signal in a bundle of its own" });
    await pool(handles, 50, (h) => h.signal('done'));
  } finally {
    await client.close();
    await worker.stop();
  }
}

/** approve → next activity and abort → first rollback activity, while BACKGROUND releases run. */
async function reaction(client: TandemClient, worker: BenchWorker) {
  const busy = Array.from({ length: BACKGROUND }, (_, i) => `busy-${RUN}-${i}`);
  const handles = await pool(busy, 50, (m) => start(client, m));
  const approve: number[] = [];
  const abort: number[] = [];
  const rounds = QUICK ? 3 : 10;
  for (let r = 0; r < rounds; r++) {
    const model = `react-${RUN}-${r}`;
    const handle = await start(client, model);
    for (let gate = 0; gate < 2; gate++) {
      const startsBefore = () => worker.activityStarts.get(model)?.length ?? 0;
      for (;;) {
        const s = await client.status(model, ENV).catch(() => undefined);
        if (s?.waitingFor === 'approval') break;
        await sleep(20);
      }
      const before = startsBefore();
      await client.act(model, ENV, 'approve', { who: 'bench' });
      const returned = Date.now();
      await until(() => startsBefore() > before, 'the next activity', 60_000);
      approve.push(worker.activityStarts.get(model)![before]!.at - returned);
    }
    for (;;) {
      const s = await client.status(model, ENV).catch(() => undefined);
      if (s?.waitingFor === 'approval') break;
      await sleep(20);
    }
    const before = worker.activityStarts.get(model)!.length;
    await client.act(model, ENV, 'abort', { who: 'bench' });
    const returned = Date.now();
    await until(() => worker.activityStarts.get(model)!.length > before, 'the first rollback activity', 60_000);
    abort.push(worker.activityStarts.get(model)![before]!.at - returned);
    await handle.result().catch(() => undefined);
  }
  emit({ name: 'approve_to_next_activity_under_load_p50', value: quantile(approve, 0.5), unit: 'ms', p99: quantile(approve, 0.99), samples: approve.length, background: BACKGROUND });
  emit({ name: 'abort_to_rollback_start_under_load_p50', value: quantile(abort, 0.5), unit: 'ms', p99: quantile(abort, 0.99), samples: abort.length, background: BACKGROUND });
  await Promise.all(handles.map((h) => h.result().catch(() => undefined)));
}

/** `tandem versions` and `release status` over 20 models × 10 running versions. */
async function fleet(client: TandemClient, worker: BenchWorker) {
  const models = Array.from({ length: FLEET_MODELS }, (_, i) => `fleet-${RUN}-${i}`);
  const before = worker.waiting;
  await pool(models, 20, (m) => start(client, m));
  await until(() => worker.waiting >= before + models.length, 'fleet releases at their gate', 5 * 60_000);
  const versions: number[] = [];
  const status: number[] = [];
  for (let r = 0; r < FLEET_READS; r++) {
    for (const model of models) {
      let t = performance.now();
      const state = await client.versions(model, ENV);
      versions.push(performance.now() - t);
      if (state.running.length < 10) throw new Error(`${model}: ${state.running.length} running versions, expected 10 and the candidate`);
      t = performance.now();
      await client.status(model, ENV);
      status.push(performance.now() - t);
    }
  }
  emit({ name: 'fleet_versions_read_p50', value: round(quantile(versions, 0.5)), unit: 'ms', p99: round(quantile(versions, 0.99)), reads: versions.length, models: FLEET_MODELS, versionsPerModel: 10 });
  emit({ name: 'fleet_release_status_read_p50', value: round(quantile(status, 0.5)), unit: 'ms', p99: round(quantile(status, 0.99)), reads: status.length, models: FLEET_MODELS });
  const t = performance.now();
  const listed = await client.releases({});
  emit({ name: 'fleet_release_list', value: round(performance.now() - t), unit: 'ms', releases: listed.length });
  await pool(models, 20, (m) => client.act(m, ENV, 'abort', { who: 'bench' }).catch(() => undefined));
}

/** Seconds each part took, for scale_bench_seconds. */
const partSeconds: Record<string, number> = {};
async function part(name: string, fn: () => Promise<void>): Promise<void> {
  if (!runs(name)) return;
  const t0 = performance.now();
  await fn();
  partSeconds[name] = round((performance.now() - t0) / 1000);
}

async function main() {
  ensureTemporal();
  const started = performance.now();
  const queue = uniqueQueue('bench-scale');
  const worker = await BenchWorker.start(queue);
  const client = await connectClient(queue);
  try {
    await part('throughput', () => throughput(client, queue, worker));
    await part('reaction', () => reaction(client, worker));
    await part('fleet', () => fleet(client, worker));
  } finally {
    await client.close();
    await worker.stop();
  }
  await part('floor', bareWaiting);
  await part('waiting', waiting);
  await part('tuned', waitingTuned);
  emit({ name: 'scale_bench_seconds', value: round((performance.now() - started) / 1000), unit: 's', quick: QUICK, parts: partSeconds });
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
