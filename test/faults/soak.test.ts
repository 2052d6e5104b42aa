/**
 * Fault suite, soak (issue #8): many releases across many models on TWO worker processes that
 * share one task queue — real OS processes running tandem's real workflow code with the activity
 * doubles, whose world is shared through one locked file per model — while one worker after the
 * other is SIGKILLed and restarted. A share of the releases is broken on purpose (failing smoke
 * check, non-retryable build failure) or aborted by an operator during a pause; some wait at an
 * approval gate that the soak approves.
 *
 * Checks: every release ends with a recorded outcome, the one planned for it; nothing is stuck (a
 * bounded deadline, and no lock workflow of the soak's models still runs); after each model's
 * last release its traffic is exactly one stable version at 100% (the last one promoted), and no
 * setTraffic ever weighted more than two versions; no release deployed more often than once plus
 * once per deploy attempt a kill interrupted; the workers' memory stays flat.
 *
 * Environment: SOAK_RELEASES (300), SOAK_MODELS (20: that many releases run at once, one per
 * model), SOAK_KILL_EVERY_MS (mean time between kills, 5000), SOAK_RESTART_MS (mean delay before
 * a killed worker is restarted, 1000), SOAK_DEADLINE_MS (600000), SOAK_SEED (random), and, for
 * the worker processes, SOAK_DEPLOY_MS / SOAK_BUILD_MS (how long a deploy waits for readiness and
 * a build takes; 300 / 100) and SOAK_STICKY_TIMEOUT (2s); SOAK_KEEP keeps the temporary folder
 * (worlds, worker log) and the workflows. It prints one line `soak summary {...}`.
 *
 * Memory is sampled per worker slot (A, B) across the processes that slot runs over time, after
 * each process's warm-up: with a kill every few seconds a process lives tens of seconds, so the
 * check bounds what a worker holds under this load rather than a slow leak of one long process.
 * An activity that a kill interrupts is retried only after its heartbeat timeout (15 s; deploy
 * 30 s, build 60 s: src/workflows/activity-presets.ts), which is what makes the slowest releases
 * slow.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { RefusedError, ReleaseFailedError, type TandemClient } from '../../src/client';
import type { ReleaseStatus } from '../../src/workflows/messages';
import { connectClient, ensureTemporal, ROOT, uniqueQueue, workflowBundle } from '../helpers/temporal';
import { cleanStale } from './helpers/file-lock';
import { expected, lockFile, readWorld, tagOf, type Kind, type ModelWorld } from './helpers/soak-world';

const num = (name: string, fallback: number) => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a number`);
  return value;
};
const RELEASES = num('SOAK_RELEASES', 300);
const MODELS = Math.max(1, Math.min(num('SOAK_MODELS', 20), RELEASES));
const KILL_EVERY_MS = num('SOAK_KILL_EVERY_MS', 5000);
const RESTART_MS = num('SOAK_RESTART_MS', 1000);
const DEADLINE_MS = num('SOAK_DEADLINE_MS', 600_000);
const SEED = num('SOAK_SEED', Math.floor(Math.random() * 2 ** 31));
const SAMPLE_MS = 2000;
/** RSS samples taken in a process's first seconds (start-up, first replays) are not compared. */
const WARM_UP_MS = 4000;
const ENV = 'soak';
const OPERATOR = { who: 'soak-operator' };

/** mulberry32: the plan and the kill times follow from SOAK_SEED, printed with the results. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = rng(SEED);
const around = (mean: number) => mean * (0.5 + random());
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
/** The promise's value, or undefined when it takes longer than `ms` (no timer left behind). */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Shares of the planned kinds; the rest are good releases without help (direct, canary, blue-green). */
const SHARES: [Kind, number][] = [
  ['smoke', 0.15],
  ['build', 0.1],
  ['abort', 0.08],
  ['approve', 0.12],
];
function pickKind(): Kind {
  let x = random();
  for (const [kind, share] of SHARES) {
    if (x < share) return kind;
    x -= share;
  }
  return (['direct', 'canary', 'blue-green'] as const)[Math.floor(random() * 3)]!;
}

interface Planned {
  index: number;
  model: string;
  tag: string;
  kind: Kind;
}
interface Result extends Planned {
  outcome: string;
  failureType?: string;
  reason?: string;
  releaseId?: string;
  refusals: number;
  ms: number;
}

interface Slot {
  name: string;
  child?: ChildProcess;
  pid?: number;
  readyAt?: number;
  starts: number;
  /** set just before we kill it: any other exit is a crash */
  killing?: boolean;
}

describe('soak: releases on two workers with random SIGKILLs', () => {
  const run = randomUUID().slice(0, 6);
  const queue = uniqueQueue('soak');
  const dir = mkdtempSync(join(tmpdir(), 'tandem-soak-'));
  const worlds = join(dir, 'worlds');
  const bundleFile = join(dir, 'workflows.js');
  const logFile = join(dir, 'workers.log');
  const slots: Slot[] = [
    { name: 'A', starts: 0 },
    { name: 'B', starts: 0 },
  ];
  const crashes: string[] = [];
  let client: TandemClient;

  before(async () => {
    ensureTemporal();
    mkdirSync(worlds);
    // Built once here; each worker (re)start loads the file instead of running webpack again.
    writeFileSync(bundleFile, (await workflowBundle()).code);
    client = await connectClient(queue);
  });

  after(async () => {
    for (const slot of slots) {
      if (!slot.child || slot.child.exitCode !== null || slot.child.signalCode !== null) continue;
      slot.killing = true;
      slot.child.kill('SIGKILL');
    }
    if (client && !process.env.SOAK_KEEP) {
      // A failed soak leaves no release waiting for ever on a task queue nobody polls any more.
      const query = `WorkflowType = 'modelOperation' AND ExecutionStatus = 'Running' AND WorkflowId STARTS_WITH 'model/${ENV}/soak-${run}-'`;
      for await (const wf of client.temporal.workflow.list({ query })) {
        await client.temporal.workflow
          .getHandle(wf.workflowId)
          .terminate('soak ended; its workers are gone')
          .catch(() => undefined);
      }
    }
    await client?.close();
    if (!process.env.SOAK_KEEP) rmSync(dir, { recursive: true, force: true });
  });

  let stopping = false;

  /** Starts the slot's worker process; resolves once it polls. */
  function launch(slot: Slot): Promise<void> {
    const log = openSync(logFile, 'a');
    const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'helpers/soak-worker.ts'), queue, worlds, bundleFile], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', log],
    });
    closeSync(log);
    slot.child = child;
    slot.pid = child.pid;
    slot.readyAt = undefined;
    slot.killing = false;
    slot.starts++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        slot.killing = true;
        child.kill('SIGKILL');
        reject(new Error(`worker ${slot.name} not ready within 90 s; see ${logFile}`));
      }, 90_000);
      child.stdout!.on('data', (chunk: Buffer) => {
        if (!chunk.toString().includes('ready') || slot.readyAt) return;
        clearTimeout(timer);
        slot.readyAt = Date.now();
        resolve();
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        const wasReady = slot.readyAt !== undefined;
        slot.readyAt = undefined;
        if (slot.killing) return;
        crashes.push(`worker ${slot.name} (pid ${child.pid}) exited by itself (${signal ?? code}) ${wasReady ? 'while running' : 'while starting'}; see ${logFile}`);
        if (!wasReady) reject(new Error(crashes.at(-1)));
        // A worker that dies by itself is replaced like a killed one (and the soak fails).
        else if (!stopping) void bringUp(slot).catch((err: Error) => crashes.push(err.message));
      });
    });
  }

  async function bringUp(slot: Slot): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await launch(slot);
      } catch (err) {
        if (attempt >= 3 || stopping) throw err;
        await sleep(1000);
      }
    }
  }

  it(`${RELEASES} releases across ${MODELS} models end as planned`, { timeout: DEADLINE_MS + 120_000 }, async () => {
    const started = Date.now();
    const models = Array.from({ length: MODELS }, (_, i) => `soak-${run}-m${String(i + 1).padStart(2, '0')}`);
    // Release i goes to model i mod MODELS; a model's first release is a plain good one (later
    // ones need a stable version to canary against, abort back to, or approve beside).
    const plan: Planned[][] = models.map(() => []);
    for (let i = 0; i < RELEASES; i++) {
      const chain = plan[i % MODELS]!;
      const kind = chain.length === 0 ? 'direct' : pickKind();
      chain.push({ index: i, model: models[i % MODELS]!, tag: tagOf(chain.length + 1, kind), kind });
    }

    await Promise.all(slots.map((slot) => bringUp(slot)));

    // Kills: one worker at a time, alternating, only while the other one is up; restarted after a
    // short delay.
    let stopKilling = false;
    let wake: () => void = () => undefined;
    const stopped = new Promise<void>((r) => (wake = r));
    let kills = 0;
    const killer = (async () => {
      for (let turn = 0; !stopKilling; ) {
        let nap: NodeJS.Timeout | undefined;
        await Promise.race([new Promise((r) => (nap = setTimeout(r, around(KILL_EVERY_MS)))), stopped]);
        clearTimeout(nap);
        const target = slots[turn % 2]!;
        const other = slots[(turn + 1) % 2]!;
        if (stopKilling || !target.readyAt || !other.readyAt) continue;
        target.killing = true;
        const exited = new Promise((r) => target.child!.once('exit', r));
        target.child!.kill('SIGKILL');
        await exited;
        kills++;
        turn++;
        await sleep(around(RESTART_MS));
        await bringUp(target).catch((err: Error) => crashes.push(err.message));
      }
    })();

    // Memory: each worker's RSS every few seconds.
    const rss: { slot: string; pid: number; t: number; age: number; kB: number }[] = [];
    const sampler = setInterval(() => {
      for (const slot of slots) {
        if (!slot.readyAt || !slot.pid) continue;
        try {
          const kB = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${slot.pid}/status`, 'utf8'))?.[1]);
          if (kB) rss.push({ slot: slot.name, pid: slot.pid, t: Date.now() - started, age: Date.now() - slot.readyAt, kB });
        } catch {
          // killed between the check and the read
        }
      }
    }, SAMPLE_MS);

    const operatorActions = { approve: 0, abort: 0 };
    const startErrors: string[] = [];
    const waitErrors: string[] = [];
    const results: Result[] = [];
    const deadline = started + DEADLINE_MS;

    async function release(p: Planned): Promise<Result> {
      const t0 = Date.now();
      let refusals = 0;
      let handle: WorkflowHandle | undefined;
      while (!handle) {
        if (Date.now() > deadline) throw new Error(`${p.model} ${p.tag}: could not start before the deadline (refused ${refusals} times)`);
        try {
          handle = await client.start({ model: p.model, tag: p.tag, environment: ENV, repoUrl: '/soak/nowhere', requestedBy: 'soak' });
        } catch (err) {
          // The lock refuses a second active release of the model (the previous one's lock closes
          // moments after it ended, later when its worker was just killed): wait for the model.
          // Any other error (the shared server restarting) is retried; a start that did start
          // before its answer was lost is adopted (tags are unique per model: the id names it).
          if (err instanceof RefusedError) refusals++;
          else startErrors.push(`${p.model} ${p.tag}: ${(err as Error).message}`);
          const latest = await client.releaseHandle(p.model, ENV).catch(() => undefined);
          if (latest?.workflowId.startsWith(`release/${ENV}/${p.model}/${p.tag}/`)) handle = latest;
          else await sleep(500);
        }
      }
      const outcome = waitFor(handle);
      if (p.kind === 'approve' || p.kind === 'abort') await operate(p, handle, outcome);
      return { ...p, ...(await outcome), refusals, ms: Date.now() - t0 };
    }

    /** The release's final status: resolves for every outcome (promoted, rolled back, failed). */
    async function waitFor(handle: WorkflowHandle): Promise<{ outcome: string; failureType?: string; reason?: string; releaseId?: string }> {
      for (let attempt = 1; ; attempt++) {
        try {
          const status = await client.wait(handle);
          return { outcome: status.outcome ?? `no outcome (${status.stage})`, releaseId: status.releaseId };
        } catch (err) {
          if (err instanceof ReleaseFailedError) {
            const status = err.status as ReleaseStatus | undefined;
            return { outcome: status?.outcome ?? `no outcome (${status?.stage})`, failureType: err.failureType, reason: err.message, releaseId: status?.releaseId };
          }
          // Terminated, timed out, or a failure that is not a release's: recorded as it is.
          if (err instanceof WorkflowFailedError || Date.now() > deadline) return { outcome: `unexpected error: ${(err as Error).message}` };
          // The connection (the shared server restarting): follow it again.
          waitErrors.push(`attempt ${attempt}: ${(err as Error).message}`);
          await sleep(2000);
        }
      }
    }

    /** The operator: approves at the approval gate, or aborts during the pause. */
    async function operate(p: Planned, handle: WorkflowHandle, outcome: Promise<unknown>): Promise<void> {
      let ended = false;
      void outcome.then(() => (ended = true));
      const action = p.kind === 'approve' ? 'approve' : 'abort';
      const awaited = p.kind === 'approve' ? 'approval' : 'resume';
      while (!ended && Date.now() < deadline) {
        const status = await client.status(p.model, ENV).catch(() => undefined);
        if (status?.releaseId.startsWith(`${handle.workflowId}/`) && !status.outcome && status.waitingFor === awaited) {
          try {
            // An update: a worker must take it; if the one holding the release was just killed,
            // give up waiting and ask again (a repeat is refused or finds it already applied).
            const answer = await within(client.act(p.model, ENV, action, { ...OPERATOR, text: `soak: planned ${action}` }), 20_000);
            if (answer?.accepted) {
              operatorActions[action]++;
              return;
            }
          } catch (err) {
            // Refused (not awaited any more, or applied by the attempt before): look again.
            if (!(err instanceof RefusedError)) waitErrors.push(`${action}: ${(err as Error).message}`);
          }
        }
        await within(outcome, 700);
      }
    }

    const current = new Map<string, Planned>();
    let overdue = false;
    const chains = plan.map(async (chain) => {
      for (const p of chain) {
        if (overdue || Date.now() > deadline) return;
        current.set(p.model, p);
        const t0 = Date.now();
        results.push(await release(p).catch((err: Error) => ({ ...p, outcome: `error: ${err.message}`, refusals: 0, ms: Date.now() - t0 })));
        current.delete(p.model);
      }
    });
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([Promise.all(chains), new Promise<void>((r) => (timer = setTimeout(r, DEADLINE_MS)))]);
    } finally {
      overdue = results.length < RELEASES;
      clearTimeout(timer);
      stopKilling = true;
      stopping = true;
      wake();
      clearInterval(sampler);
    }
    await killer;
    const wallMs = Date.now() - started;
    // Past the deadline: where the releases still in flight are.
    const pending: string[] = [];
    for (const p of current.values()) {
      const status = (await within(client.status(p.model, ENV).catch((err: Error) => err.message), 5000)) ?? 'no answer';
      const last = typeof status === 'string' ? undefined : status.history.at(-1);
      const where =
        typeof status === 'string'
          ? status
          : `${status.stage}${status.waitingFor ? ` waiting for ${status.waitingFor}` : ''}${status.blocked ? ` (${status.blocked})` : ''}; ` +
            `last: "${last?.message}" ${last ? Math.round((Date.now() - Date.parse(last.at)) / 1000) : '?'} s ago; operator actions: ${JSON.stringify(status.actions.map((a) => [a.action, a.accepted]))}`;
      pending.push(`${p.model} ${p.tag}: ${where}`);
    }

    // Nothing stuck: no lock workflow of the soak's models still runs (visibility lags a little).
    const query = `WorkflowType = 'modelOperation' AND ExecutionStatus = 'Running' AND WorkflowId STARTS_WITH 'model/${ENV}/soak-${run}-'`;
    let stuck: string[] = [];
    for (let i = 0; i < 20; i++) {
      stuck = [];
      for await (const wf of client.temporal.workflow.list({ query })) stuck.push(wf.workflowId);
      if (!stuck.length) break;
      await sleep(1000);
    }

    // Outcomes as planned.
    const wrong = results
      .filter((r) => r.outcome !== expected[r.kind].outcome || (expected[r.kind].failureType && r.failureType !== expected[r.kind].failureType))
      .map((r) => `${r.model} ${r.tag}: ${r.outcome}${r.failureType ? ` (${r.failureType})` : ''}${r.reason ? `: ${r.reason.split('\n')[0]}` : ''}`);

    // The world: traffic, versions weighted at once, deploys per release.
    const problems: string[] = [];
    const world = new Map<string, ModelWorld>(models.map((m) => [m, readWorld(worlds, m)]));
    let deploysTwice = 0;
    let completedTwice = 0;
    let retried = 0;
    let brokenLocks = 0;
    for (const model of models) {
      const w = world.get(model)!;
      brokenLocks += cleanStale(lockFile(worlds, model));
      const promoted = results.filter((r) => r.model === model && r.outcome === 'promoted').sort((a, b) => a.index - b.index);
      const last = promoted.at(-1)?.tag;
      const weighted = Object.entries(w.traffic.weights).filter(([, pct]) => pct > 0);
      if (weighted.length !== 1 || weighted[0]![1] !== 100 || w.traffic.stable !== weighted[0]![0] || weighted[0]![0] !== last) {
        problems.push(`${model}: traffic ${JSON.stringify(w.traffic)} at the end, expected ${last} alone at 100% as stable`);
      }
      if (!w.running.some((v) => v.version === last && v.readyReplicas > 0)) problems.push(`${model}: stable ${last} is not running`);
      for (const entry of w.trafficLog) {
        const n = Object.values(entry.weights).filter((pct) => pct > 0).length;
        if (n > 2) problems.push(`${model}: ${n} versions weighted at once at ${entry.at}: ${JSON.stringify(entry.weights)}`);
      }
      for (const [releaseId, n] of Object.entries(w.deploys)) {
        // One deploy, and one more for each attempt a kill interrupted (its retry reached the world
        // with attempt > 1): two kills can hit the same release's deploy.
        const retries = w.retried.filter((r) => r.activity === 'deployVersion' && releaseId.startsWith(`${r.workflowId}/`)).length;
        if (n > 1 + retries) problems.push(`${model}: release ${releaseId} deployed ${n} times, with ${retries} retried deploy attempt(s)`);
        if (n === 2) deploysTwice++;
      }
      completedTwice += Object.values(w.completions).filter((n) => n > 1).length;
      retried += w.retried.length;
    }
    for (const r of results.filter((r) => r.kind === 'build' && r.releaseId)) {
      if (world.get(r.model)!.deploys[r.releaseId!]) problems.push(`${r.model} ${r.tag}: a release whose build failed deployed`);
    }

    // Memory: per worker slot, the median RSS of the last third of the samples (taken after each
    // process's warm-up) against the first third's.
    const memory: Record<string, { samples: number; firstMB: number; lastMB: number; ratio: number; maxMB: number }> = {};
    for (const slot of slots) {
      const kB = rss.filter((s) => s.slot === slot.name && s.age >= WARM_UP_MS).map((s) => s.kB);
      if (kB.length < 3) continue;
      const third = Math.floor(kB.length / 3);
      const first = median(kB.slice(0, third));
      const last = median(kB.slice(-third));
      memory[slot.name] = { samples: kB.length, firstMB: mb(first), lastMB: mb(last), ratio: round(last / first), maxMB: mb(Math.max(...kB)) };
    }

    const count = <T extends string>(values: T[]) => values.reduce<Record<string, number>>((acc, v) => ((acc[v] = (acc[v] ?? 0) + 1), acc), {});
    const summary = {
      releases: results.length,
      models: MODELS,
      seed: SEED,
      outcomes: count(results.map((r) => r.outcome)),
      planned: count(results.map((r) => r.kind)),
      operator: operatorActions,
      kills,
      workerStarts: slots.reduce((n, s) => n + s.starts, 0),
      crashes: crashes.length,
      refusals: results.reduce((n, r) => n + r.refusals, 0),
      clientErrors: startErrors.length + waitErrors.length,
      wallS: round(wallMs / 1000),
      releaseS: { median: round(median(results.map((r) => r.ms)) / 1000), max: round(Math.max(...results.map((r) => r.ms)) / 1000) },
      reRuns: { completedActivitiesRunAgain: completedTwice, completedOnRetry: retried, releasesDeployedTwice: deploysTwice, locksBrokenAfterKill: brokenLocks },
      rss: memory,
      ...(pending.length ? { pending: pending.length } : {}),
    };
    console.log(`soak summary ${JSON.stringify(summary)}`);

    assert.deepEqual(crashes, [], 'no worker exited by itself');
    assert.deepEqual(pending, [], `every release ended within ${DEADLINE_MS / 1000} s`);
    assert.equal(results.length, RELEASES, 'every release ended');
    assert.deepEqual(stuck, [], 'no lock workflow of the soak still runs');
    assert.deepEqual(wrong, [], 'every release ended as planned');
    assert.deepEqual(problems, [], 'traffic and deploys in the world');
    assert.ok(kills > 0 || KILL_EVERY_MS * 1.5 > wallMs, 'workers were killed');
    for (const [slot, m] of Object.entries(memory)) {
      assert.ok(m.ratio <= 1.5, `worker ${slot}: RSS median of the last third ${m.lastMB} MB is more than 1.5× the first third's ${m.firstMB} MB`);
    }
  });
});

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
const round = (x: number) => Math.round(x * 100) / 100;
const mb = (kB: number) => Math.round(kB / 1024);
