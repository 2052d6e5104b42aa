/**
 * The fault suite's worker kills (issue #8): `tandem worker`, run as its own process exactly as
 * the README documents, is SIGKILLed at each stage of a real release — resolve, build, push,
 * deploy, verify, pause, approval, analysis, promote, rollback — and a new worker process is
 * started. Everything else is real: the Temporal dev server, the Docker engine and registry, a
 * tandem gateway, and the example model (examples/fraud-detector) in a Git repository served over
 * HTTP. For every stage the release must end as it would have (promoted, or rolled back for the
 * broken v1.2.0), with exactly one image of the version (engine and registry), as many containers
 * of the version ever created as it has replicas (the engine is listed every 250 ms), never more
 * than two versions weighted in the gateway's split (read every 100 ms), and no failed client
 * request through the gateway (live requests all along). The release's own record must show the
 * kill in the stage: its last history line before the kill belongs to the stage, the first after
 * it to the stage's end. How each stage is caught is said where it is caught (reach()).
 *
 * The model repository is the example's, one tag per stage, each with a spec of short durations;
 * the tags killed mid-build or mid-push add a slow Dockerfile step, the tag killed mid-verification
 * a slow smoke test (see helpers/kill-lane.ts).
 *
 * Recovery is as fast as Temporal learns that the killed worker's activity is gone: at once when
 * none was running (pause, approval), after the activity's heartbeat timeout when it heartbeats
 * (build and push 60 s, deploy and analysis 30 s), after its start-to-close timeout otherwise
 * (resolve 3 min, verify 3.5 min, rollback parts 2 min, short activities 30 s). So the stages run
 * in four lanes side by side, each its own model, repository and worker process.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Docker from 'dockerode';
import type { WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { RefusedError, ReleaseFailedError, TandemClient } from '../../src/client';
import { adminTokenPath, resolveAdminToken, startGateway, type Gateway } from '../../src/gateway';
import { modelWorkflowId } from '../../src/naming/ids';
import { statusQuery, type ReleaseStatus } from '../../src/workflows/messages';
import { sendTraffic, up } from '../../scripts/stack';
import {
  commitTag,
  createLane,
  engineImages,
  ENV,
  NAMESPACE,
  registryDigest,
  registryTags,
  removeModel,
  REPLICAS,
  startLaneWorker,
  TEMPORAL_ADDRESS,
  versionContainers,
  watchContainers,
  watchTraffic,
  type ContainerWatch,
  type Lane,
  type TagPlan,
  type TrafficWatch,
} from './helpers/kill-lane';

type Stage = 'resolve' | 'build' | 'push' | 'deploy' | 'verify' | 'pause' | 'approval' | 'analysis' | 'promote' | 'rollback';

/** Stages per lane, longest recovery first; the four lanes run side by side, each about 5 minutes. */
const ALL_LANES: Stage[][] = [
  ['verify', 'promote'],
  ['resolve', 'analysis'],
  ['build', 'rollback', 'deploy'],
  ['push', 'approval', 'pause'],
];
/** TANDEM_KILL_STAGES=build,push runs only those stages (when working on one). */
const only = process.env.TANDEM_KILL_STAGES?.split(',').map((s) => s.trim());
const LANES = ALL_LANES.map((stages) => stages.filter((s) => !only || only.includes(s))).filter((stages) => stages.length);

const RUN = Date.now().toString(36).slice(-5);
const LIVE_RATE = 8;

interface Row {
  stage: Stage;
  version: string;
  outcome: string;
  images: number;
  containers: string;
  maxWeighted: number;
  failedRequests: number;
  recoverySeconds: number;
  detected: string;
}
const rows: Row[] = [];

let gateway: Gateway;
let gatewayToken: string;
let workDir: string;

/** What one lane runs with: its model, worker, client, traffic watch and live requests. */
interface LaneRun {
  lane: Lane;
  client: TandemClient;
  watch: TrafficWatch;
  containers: ContainerWatch;
  load?: ReturnType<typeof sendTraffic>;
  tags: Partial<Record<Stage, string>>;
}

/** The release's pending activity of `type` (state name, attempt, decoded heartbeat details), if any. */
async function pendingActivity(handle: WorkflowHandle, type: string): Promise<{ state: string; attempt: number; details: unknown } | undefined> {
  const description = await handle.describe().catch(() => undefined);
  const activity = description?.raw.pendingActivities?.find((a) => a.activityType?.name === type);
  if (!activity) return undefined;
  const payload = activity.heartbeatDetails?.payloads?.[0]?.data;
  return {
    state: temporal.api.enums.v1.PendingActivityState[activity.state ?? 0] ?? 'unknown',
    attempt: activity.attempt ?? 0,
    details: payload ? (JSON.parse(Buffer.from(payload).toString('utf8')) as unknown) : undefined,
  };
}

async function statusOf(handle: WorkflowHandle): Promise<ReleaseStatus | undefined> {
  return handle.query(statusQuery).catch(() => undefined);
}

/** Polls `probe` every `everyMs` until it returns a description of what it saw; fails after `withinMs`. */
async function until(what: string, probe: () => Promise<string | undefined>, everyMs = 50, withinMs = 120_000): Promise<string> {
  const deadline = Date.now() + withinMs;
  while (Date.now() < deadline) {
    const seen = await probe();
    if (seen) return seen;
    await sleep(everyMs);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Fails when the release ended before the stage it should be killed in was seen. */
function notOver(status: ReleaseStatus | undefined, stage: Stage): void {
  if (status?.outcome || (status && stage !== 'rollback' && status.stage === 'rolling-back')) {
    assert.fail(`the release reached ${status.outcome ?? status.stage} (${status.reason ?? ''}) before the ${stage} stage was caught`);
  }
}

/**
 * Waits until the release is in `stage`, the way that stage can be observed from outside the
 * worker, and returns how it was seen. For "promote" it sends the approval that starts the stage.
 */
async function reach(run: LaneRun, handle: WorkflowHandle, stage: Stage, version: string): Promise<string> {
  const { lane, client } = run;
  const stepRunning = (s: ReleaseStatus | undefined, prefix: string) => s?.steps.find((step) => step.status === 'running' && step.description.startsWith(prefix));
  // On a loaded machine the lane's traffic can put fewer than minRequests on the canary within the
  // 3 s analysis window: the analysis is inconclusive and the release waits for resume. That gate
  // is not the stage under test, so an operator's resume moves it on to the approval.
  const atApproval = async (s: ReleaseStatus | undefined): Promise<boolean> => {
    if (s?.waitingFor === 'resume') await client.act(lane.model, ENV, 'resume', { who: 'fault-suite', text: 'analysis inconclusive under load' }).catch(() => undefined);
    return s?.waitingFor === 'approval';
  };
  switch (stage) {
    case 'resolve':
      // The Git server holds the fetch of resolveTag: the release cannot be anywhere but resolving.
      return until('the fetch of the tag', async () => {
        if (lane.git.held === 0) return undefined;
        const s = await statusOf(handle);
        return s?.stage === 'resolving' ? `stage resolving; the Git server holds resolveTag's fetch` : undefined;
      });
    case 'build':
      // buildImage heartbeats {phase: 'build', step, of} while Dockerfile steps run.
      return until('a build heartbeat', async () => {
        const build = await pendingActivity(handle, 'buildImage');
        const details = build?.details as { phase?: string; step?: number; of?: number } | undefined;
        notOver(await statusOf(handle), stage);
        return build?.state.endsWith('STARTED') && details?.phase === 'build' ? `buildImage heartbeat: phase build, step ${details.step}/${details.of}` : undefined;
      }, 200);
    case 'push':
      // The build is finished when the engine holds the version's image; the push is finished
      // when the registry holds the commit marker tag (pushed last). In between: pushing.
      return until('the push', async () => {
        const images = await engineImages(lane.model, version);
        if (!images.length) return undefined;
        const tags = await registryTags(lane.model);
        if (tags.includes(commitTag(lane.commits[version]!))) assert.fail(`missed the push of ${version}: the marker tag was already in the registry when its image appeared`);
        return `image ${images[0]!.slice(7, 19)} built on the engine, ${commitTag(lane.commits[version]!)} not yet in the registry (registry holds ${tags.includes(version) ? 'the version tag' : 'neither tag'})`;
      }, 25);
    case 'deploy':
      // Status says deploying and the engine already holds a container of the version: the
      // deploy activity is creating or waiting for its replicas.
      return until('the deploy', async () => {
        const s = await statusOf(handle);
        notOver(s, stage);
        if (s?.stage !== 'deploying') return undefined;
        const containers = await versionContainers(lane.model, version);
        return containers.length ? `stage deploying; ${containers.length} container(s) of ${version} on the engine (${containers.map((c) => c.state).join(', ')})` : undefined;
      });
    case 'verify':
      // Status says verifying; this tag's spec has a smoke request that takes 4 s, so the
      // verification activity is still running when the worker dies.
      return until('verification', async () => {
        const s = await statusOf(handle);
        notOver(s, stage);
        return s?.stage === 'verifying' ? 'stage verifying (the slow smoke request is in flight)' : undefined;
      });
    case 'pause':
      // The pause step (a 3 s timer, no activity) is the running step in status.
      return until('the pause step', async () => {
        const s = await statusOf(handle);
        notOver(s, stage);
        return stepRunning(s, 'pause') ? `step "${stepRunning(s, 'pause')!.description}" running` : undefined;
      });
    case 'approval':
      // Status says waitingFor: approval (the test approves after the new worker started).
      return until('the approval gate', async () => {
        const s = await statusOf(handle);
        notOver(s, stage);
        return (await atApproval(s)) ? 'waitingFor: approval' : undefined;
      }, 200);
    case 'analysis':
      // The analysis step runs and its measurement activity has started (this tag's window is 12 s).
      return until('the analysis step', async () => {
        const s = await statusOf(handle);
        notOver(s, stage);
        const analysis = await pendingActivity(handle, 'analyzeVersion');
        return stepRunning(s, 'analyse') && analysis?.state.endsWith('STARTED') ? `step "analyse" running, analyzeVersion started (attempt ${analysis.attempt})` : undefined;
      }, 100);
    case 'promote': {
      await until('the approval gate', async () => {
        const s = await statusOf(handle);
        notOver(s, stage);
        return (await atApproval(s)) ? 'waiting' : undefined;
      }, 100);
      // The approval answers once it took effect: the promote step has started by then.
      await client.act(lane.model, ENV, 'approve', { who: 'fault-suite', text: 'promote, then the worker dies' });
      const s = await statusOf(handle);
      if (s?.stage !== 'promoting') assert.fail(`missed the promote step: stage ${s?.stage} right after the approval`);
      return 'approved; stage promoting';
    }
    case 'rollback':
      // v1.2.0 fails its smoke tests; status says rolling-back while traffic is restored and the
      // version is scaled down.
      return until('the rollback', async () => {
        const s = await statusOf(handle);
        if (s?.outcome) assert.fail(`the release ended (${s.outcome}) before its rollback was caught`);
        return s?.stage === 'rolling-back' ? `stage rolling-back (${s.failureType ?? ''})` : undefined;
      }, 25);
  }
}

/** Approves (or resumes an inconclusive analysis) whenever the release waits, until it ends; its final status. */
async function finish(run: LaneRun, handle: WorkflowHandle): Promise<ReleaseStatus> {
  let done = false;
  const ended = run.client.wait(handle).then(
    (status) => status,
    (err: unknown) => {
      if (err instanceof ReleaseFailedError && err.status) return err.status as ReleaseStatus;
      throw err;
    },
  );
  const steering = (async () => {
    while (!done) {
      const s = await statusOf(handle);
      if (s?.waitingFor === 'approval' || s?.waitingFor === 'resume') {
        await run.client.act(run.lane.model, ENV, s.waitingFor === 'approval' ? 'approve' : 'resume', { who: 'fault-suite' }).catch((err: unknown) => {
          if (!(err instanceof RefusedError)) throw err;
        });
      }
      await sleep(300);
    }
  })();
  try {
    return await ended;
  } finally {
    done = true;
    await steering;
  }
}

/** The history line recorded last before `at` and the first one after it. */
function around(status: ReleaseStatus, at: number): { before?: string; after?: string } {
  const before = status.history.filter((h) => Date.parse(h.at) <= at).at(-1)?.message;
  const after = status.history.find((h) => Date.parse(h.at) > at)?.message;
  return { before, after };
}

/**
 * Where each stage is in the release's own record: the last line before the kill matches the
 * first pattern and the first line after it the second.
 */
const RECORD: Record<Stage, [RegExp, RegExp]> = {
  resolve: [/^(started by |$)/, /^tag \S+ is commit /],
  build: [/^building image/, /^built /],
  push: [/^building image/, /^built /],
  deploy: [/^deploying /, /replicas of \S+ ready/],
  verify: [/^verifying /, /^all \d+ checks passed/],
  pause: [/^step \d+\/\d+: pause/, /^step \d+\/\d+: analyse/],
  approval: [/^waiting for approval/, /^approve by /],
  analysis: [/^step \d+\/\d+: analyse/, /^analysis 1\/1 of \S+: pass/],
  promote: [/^(approve by |promoting )/, /^(traffic \S+ 100%|retired |\S+ is stable)/],
  rollback: [/^(rolling back|traffic )/, /^(traffic |\S+ scaled down|rolled back)/],
};

/**
 * The version's images, tags and containers: one build (one image on the engine, its version tag
 * and commit marker in the registry, both the digest the release deployed) and one deploy (as many
 * containers, ever, as replicas, one per replica index; all running when promoted, only replica 0
 * kept stopped as the version's definition when rolled back).
 */
async function checkBuildAndDeploy(run: LaneRun, version: string, status: ReleaseStatus): Promise<{ images: number; containers: string }> {
  const { model, commits } = run.lane;
  const images = await engineImages(model, version);
  assert.equal(images.length, 1, `one image of ${version} on the engine, found ${images.length}`);
  const tags = await registryTags(model);
  const marker = commitTag(commits[version]!);
  assert.ok(tags.includes(version) && tags.includes(marker), `registry holds ${version} and ${marker}: ${tags.join(', ')}`);
  assert.equal(await registryDigest(model, version), status.digest, 'the version tag is the image the release deployed');
  assert.equal(await registryDigest(model, marker), status.digest, 'the commit marker is the same image');

  const ever = run.containers.ids(version).size;
  const atOnce = run.containers.maxAtOnce(version);
  assert.equal(ever, REPLICAS, `${REPLICAS} containers of ${version} were ever created, seen ${ever}`);
  assert.equal(atOnce, REPLICAS, `at most ${REPLICAS} containers of ${version} at once, seen ${atOnce}`);
  const containers = await versionContainers(model, version);
  const running = containers.filter((c) => c.state === 'running');
  if (status.outcome === 'promoted') {
    assert.deepEqual(containers.map((c) => c.replica).sort(), Array.from({ length: REPLICAS }, (_, i) => String(i)), `one container per replica index: ${containers.map((c) => c.name).join(', ')}`);
    assert.equal(running.length, REPLICAS, `${version} runs ${running.length} replicas`);
  } else {
    assert.equal(running.length, 0, `${version} was scaled down, yet ${running.length} replicas run`);
    assert.deepEqual(containers.map((c) => c.replica), ['0'], `${version} keeps only replica 0, stopped: ${containers.map((c) => c.name).join(', ')}`);
  }
  return { images: images.length, containers: `${ever} ever, ${atOnce} at once, ${running.length} running` };
}

async function gatewayWeights(model: string): Promise<Record<string, number>> {
  const res = await fetch(`${gateway.adminUrl}/_tandem/models/${model}/traffic`, { headers: { authorization: `Bearer ${gatewayToken}` } });
  return ((await res.json()) as { weights: Record<string, number> }).weights;
}

/** Releases v1.0.0 in the lane: the first release, promoted directly (no kill). */
async function firstRelease(run: LaneRun): Promise<void> {
  const handle = await run.client.start({ model: run.lane.model, tag: 'v1.0.0', environment: ENV, repoUrl: run.lane.git.url, requestedBy: 'fault-suite' });
  const status = await finish(run, handle);
  assert.equal(status.outcome, 'promoted', status.reason);
  await checkBuildAndDeploy(run, 'v1.0.0', status);
  assert.deepEqual(await gatewayWeights(run.lane.model), { 'v1.0.0': 100 });
  run.load = sendTraffic(gateway.url, run.lane.model, LIVE_RATE);
}

/** Starts the stage's release, kills the worker when the release is in the stage, starts a new one, checks the end. */
async function killAt(run: LaneRun, stage: Stage): Promise<void> {
  const { lane, client } = run;
  const version = run.tags[stage]!;
  assert.ok(run.load, 'v1.0.0 was released first');
  const before = await client.versions(lane.model, ENV);
  const stable = before.traffic.stable!;
  const failedBefore = run.load!.tally.failed;
  run.watch.reset();
  if (stage === 'resolve') lane.git.delayMs = 10_000;
  const handle = await client.start({ model: lane.model, tag: version, environment: ENV, repoUrl: lane.git.url, requestedBy: 'fault-suite' });
  const detected = await reach(run, handle, stage, version);
  await lane.worker!.kill();
  const killedAt = Date.now();
  lane.git.delayMs = 0;
  await startLaneWorker(lane);
  const status = await finish(run, handle);
  const recoverySeconds = Math.round((Date.parse(status.finishedAt ?? new Date().toISOString()) - killedAt) / 1000);

  const expected = stage === 'rollback' ? 'rolled-back' : 'promoted';
  assert.equal(status.outcome, expected, `${version} ${status.outcome}: ${status.reason ?? ''}`);
  if (stage === 'rollback') assert.match(status.reason ?? '', /check ".*" failed: status 500/);

  const { before: lastBefore, after: firstAfter } = around(status, killedAt);
  const [wasIn, wentOn] = RECORD[stage];
  assert.match(lastBefore ?? '', wasIn, `killed in ${stage}: last record before the kill was "${lastBefore}"`);
  assert.match(firstAfter ?? '', wentOn, `killed in ${stage}: first record after the kill was "${firstAfter}"`);
  for (const step of status.steps) assert.equal(step.status, expected === 'promoted' ? 'done' : step.status, `step ${step.description}`);

  const counts = await checkBuildAndDeploy(run, version, status);

  await sleep(300); // one more read of the split after the end
  assert.ok(run.watch.reads > 10, `the gateway's split was read ${run.watch.reads} times`);
  assert.ok(run.watch.maxWeighted <= 2, `at most two versions weighted; seen: ${run.watch.splits.join(' | ')}`);
  assert.deepEqual(await gatewayWeights(lane.model), stage === 'rollback' ? { [stable]: 100 } : { [version]: 100 });

  const failedRequests = run.load!.tally.failed - failedBefore;
  assert.equal(failedRequests, 0, `client requests failed: ${run.load!.tally.errors.join('; ')}`);
  rows.push({ stage, version, outcome: status.outcome!, images: counts.images, containers: counts.containers, maxWeighted: run.watch.maxWeighted, failedRequests, recoverySeconds, detected });
}

describe('worker SIGKILLed at each stage of a real release', { timeout: 15 * 60_000, concurrency: true }, () => {
  before(async () => {
    up('temporal-up.sh');
    up('docker-up.sh');
    workDir = mkdtempSync(join(tmpdir(), 'tandem-worker-kill-'));
    const stateDir = join(workDir, 'gateway');
    ({ token: gatewayToken } = await resolveAdminToken(stateDir));
    gateway = await startGateway({ port: 0, adminPort: 0, adminToken: gatewayToken, stateDir, docker: new Docker(), refreshIntervalMs: 1000, log: () => undefined });
  });

  after(async () => {
    await gateway?.close();
    if (rows.length) {
      const order = LANES.flat();
      rows.sort((a, b) => order.indexOf(a.stage) - order.indexOf(b.stage));
      console.log(`\nworker SIGKILL per stage (logs in ${workDir}):`);
      console.table(rows);
    }
  });

  for (const [index, stages] of LANES.entries()) {
    const model = `wk-${RUN}-${'abcd'[index]}`;
    const run = {} as LaneRun;
    describe(`lane ${model}: ${stages.join(', ')}`, { concurrency: 1 }, () => {
      before(async () => {
        let good = 0;
        const tags: TagPlan[] = [{ tag: 'v1.0.0', weights: 'v1.0.0' }];
        run.tags = {};
        for (const stage of stages) {
          const tag = stage === 'rollback' ? 'v1.2.0' : `v1.1.${good++}`;
          run.tags[stage] = tag;
          // Only the stages that must be caught mid-build, mid-push or mid-verification pay for a slow one.
          tags.push({ tag, weights: stage === 'rollback' ? 'v1.2.0' : 'v1.1.0', slowBuild: stage === 'build' || stage === 'push', slowSmoke: stage === 'verify', slowAnalysis: stage === 'analysis' });
        }
        run.lane = await createLane({ model, dir: workDir, tags, gatewayAdminUrl: gateway.adminUrl, tokenFile: adminTokenPath(join(workDir, 'gateway')) });
        run.client = await TandemClient.connect({ address: TEMPORAL_ADDRESS, namespace: NAMESPACE, taskQueue: `tandem-${model}` });
        run.watch = watchTraffic(gateway.adminUrl, () => gatewayToken, model);
        run.containers = watchContainers(model);
        await startLaneWorker(run.lane);
      });

      after(async () => {
        await run.load?.stop();
        await run.watch?.stop();
        await run.containers?.stop();
        // A release a failed test left behind must not hold the model's lock.
        await run.client?.temporal.workflow
          .getHandle(modelWorkflowId(model, ENV))
          .terminate('worker-kill test cleanup')
          .catch(() => undefined);
        await run.lane?.worker?.stop();
        await run.client?.close();
        await run.lane?.git.close();
        await removeModel(model);
      });

      it('v1.0.0, the first release, is promoted directly', { timeout: 4 * 60_000 }, () => firstRelease(run));

      for (const stage of stages) {
        it(`killed during ${stage}: ${stage === 'rollback' ? 'v1.2.0 rolled back' : 'promoted'}, one build, one deploy, at most two versions weighted`, { timeout: 7 * 60_000 }, () => killAt(run, stage));
      }
    });
  }
});
