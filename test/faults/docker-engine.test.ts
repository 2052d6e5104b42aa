/**
 * Infrastructure that goes away mid-release (issue #8, defect 5), against a real Docker engine and
 * registry that belong to this test (test/helpers/fault-engine.ts): the engine stopped or
 * SIGKILLed mid-build, the registry killed mid-push, the engine SIGKILLed while a version serves.
 * Each failure must be retryable, never a BuildFailed, and a retry once the part is back must
 * succeed; a version's replicas must come back after the engine does.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { simpleGit } from 'simple-git';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { FailureType } from '../../src/errors';
import { createImageActivities, RegistryClient, type BuildProgress } from '../../src/activities/image';
import { DockerTarget } from '../../src/activities/docker/target';
import type { BuildImageInput, BuiltImage } from '../../src/activities/types';
import { createExampleRepo } from '../../scripts/example-repo';
import { fault, faultDocker, faultRegistryPid, FAULT_REGISTRY } from '../helpers/fault-engine';

const ROOT = resolve(__dirname, '..', '..');
const PREFIX = `ft-${Date.now().toString(36)}`;
const SLOW_SECONDS = 15;
const REGISTRY = { url: FAULT_REGISTRY, insecure: true };
const marker = (how: string) => `${PREFIX}-${how}`;

const docker = faultDocker();
const registry = new RegistryClient(REGISTRY, undefined);
const workDir = mkdtempSync(join(tmpdir(), 'tandem-fault-cache-'));
const exampleDir = mkdtempSync(join(tmpdir(), 'tandem-fault-example-'));
const registryRoot = mkdtempSync(join(tmpdir(), 'tandem-fault-registry-'));
const activities = createImageActivities({ docker, registry: REGISTRY, buildArgs: { BASE_IMAGE: 'tandem/node-base:20' }, workDir });

function buildImage(input: BuildImageInput, onHeartbeat?: (details: BuildProgress) => void): Promise<BuiltImage> {
  const env = new MockActivityEnvironment({ activityType: 'buildImage' });
  if (onHeartbeat) env.on('heartbeat', onHeartbeat);
  return env.run(activities.buildImage, input);
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => assert.fail('expected the build to fail'),
    (err: unknown) => err,
  );
}

/** Resolves once a container of the engine runs a command containing `marker` (a build step); fails if the build ends first. */
async function stepRunning(marker: string, build: Promise<unknown>): Promise<void> {
  let ended: unknown;
  void build.then((outcome) => (ended = outcome ?? 'the build ended'));
  for (let i = 0; i < 600 && ended === undefined; i++) {
    const running = await docker.listContainers().catch(() => []);
    if (running.some((c) => c.Command.includes(marker))) return;
    await sleep(100);
  }
  assert.fail(`no build step running "${marker}": ${String(ended ?? 'timed out')}`);
}

/** The failure must be one a retry can fix: retryable, and not a Dockerfile or permission failure. */
function assertRetryable(err: unknown): asserts err is ApplicationFailure {
  assert.ok(err instanceof ApplicationFailure, `expected ApplicationFailure, got ${String(err)}`);
  assert.equal(err.nonRetryable, false, `must be retried: ${err.message}`);
  assert.notEqual(err.type, FailureType.BuildFailed);
  assert.notEqual(err.type, FailureType.PermissionDenied);
}

/** The registry holds exactly the version tag and the commit marker, on one manifest. */
async function assertOneImage(m: string, version: string, commit: string, built: BuiltImage): Promise<void> {
  const marker = `commit-${commit.slice(0, 12)}`;
  assert.deepEqual((await registry.tags(m)).sort(), [marker, version].sort());
  assert.equal(await registry.manifestDigest(m, version), built.digest);
  assert.equal(await registry.manifestDigest(m, marker), built.digest);
}

describe('infrastructure that restarts mid-release (fault engine and registry owned by the test)', () => {
  let repoUrl: string;
  const commits: Record<string, string> = {};
  const input = (m: string, version: string): BuildImageInput => ({
    model: m,
    environment: 'fault',
    repoUrl,
    version,
    commit: commits[version]!,
    releaseId: `release-${m}-${version}`,
  });

  before(async () => {
    await promisify(execFile)('bash', [join(ROOT, 'scripts', 'docker-up.sh')], { timeout: 600_000 });
    await fault('start');
    await fault('registry-start', registryRoot);
    const repo = await createExampleRepo(join(exampleDir, 'fraud-detector'));
    repoUrl = repo.path;
    const git = simpleGit(repo.path);
    for (const tag of repo.tags) commits[tag] = (await git.revparse([`${tag}^{commit}`])).trim();
    // Per case, a step that runs for a while, is never cached (its marker is unique), and exits 1
    // on SIGTERM as many real programs do: an engine that stops must not read as a Dockerfile error.
    for (const how of ['stop', 'kill']) {
      await git.checkout(['-B', `slow-${how}`, 'v1.1.0']);
      const dockerfile = readFileSync(join(repo.path, 'Dockerfile'), 'utf8');
      const slow = `RUN echo "warming up (${marker(how)})" && exec node -e "process.on('SIGTERM', () => process.exit(1)); setTimeout(() => {}, ${SLOW_SECONDS * 1000})"`;
      writeFileSync(join(repo.path, 'Dockerfile'), dockerfile.replace('COPY server.js ./', `${slow}\nCOPY server.js ./`));
      await git.add('.').commit(`slow build (${how})`).addTag(`v9.0.0-slow-${how}`);
      commits[`v9.0.0-slow-${how}`] = (await git.revparse(['HEAD'])).trim();
    }
  });

  after(async () => {
    await fault('down').catch((err: Error) => console.error(`fault engine: ${err.message}`));
    for (const dir of [workDir, exampleDir, registryRoot]) rmSync(dir, { recursive: true, force: true });
  });

  for (const how of ['stop', 'kill'] as const) {
    it(`a build whose engine is ${how === 'stop' ? 'stopped' : 'SIGKILLed'} mid-step fails retryably, and a retry after the restart pushes one image`, async (t) => {
      const m = `${PREFIX}-engine-${how}`;
      const version = `v9.0.0-slow-${how}`;
      const building = rejection(buildImage(input(m, version)));
      await stepRunning(marker(how), building);
      await fault(how);
      const err = await building;
      assertRetryable(err);
      t.diagnostic(`first attempt: ${err.message}`);
      assert.deepEqual(await registry.tags(m), [], 'nothing is pushed by the failed attempt');

      await fault('start');
      const retried = await buildImage(input(m, version));
      assert.equal(retried.built, true);
      await assertOneImage(m, version, commits[version]!, retried);
    });
  }

  it('a registry that goes away mid-push fails the build retryably, and a retry once it is back succeeds', async (t) => {
    const m = `${PREFIX}-registry`;
    let killing: Promise<void> | undefined;
    const err = await rejection(
      buildImage(input(m, 'v1.0.0'), (d) => {
        if (d.phase !== 'push' || killing) return;
        // Freeze the registry as the push starts, so the push is surely in flight, then kill it.
        const pid = faultRegistryPid();
        process.kill(pid, 'SIGSTOP');
        killing = sleep(1_000).then(() => {
          process.kill(pid, 'SIGKILL');
        });
      }),
    );
    await killing;
    assert.ok(killing, 'the build reached the push');
    assertRetryable(err);
    t.diagnostic(`attempt while the registry is down: ${err.message}`);

    // Still down: the next attempt fails retryably too, at once.
    assertRetryable(await rejection(buildImage(input(m, 'v1.0.0'))));

    await fault('registry-start', registryRoot);
    const retried = await buildImage(input(m, 'v1.0.0'));
    await assertOneImage(m, 'v1.0.0', commits['v1.0.0']!, retried);
  });

  it('after the engine is SIGKILLed, a serving version comes back: the engine restarts its replicas, scale restores the rest, list reports them ready', async () => {
    const m = `${PREFIX}-serving`;
    const target = new DockerTarget(docker, { network: 'tandem-fault', pollIntervalMs: 200 });
    const image = await buildImage(input(m, 'v1.0.0'));
    const workload = (version: string) => ({
      model: m,
      version,
      commit: commits['v1.0.0']!,
      image: image.image,
      digest: image.digest,
      releaseId: `release-${m}`,
      spec: { port: 8080, replicas: 2, resources: { memory: '128Mi' }, health: { path: '/healthz', timeout: '2s' } },
    });
    await target.apply(workload('v1.0.0'));
    await target.waitReady(m, 'v1.0.0', 60_000, () => undefined);
    // A version scaled to 0 (the previous-but-one, say) must stay down.
    await target.apply(workload('v0.9.0'));
    await target.waitReady(m, 'v0.9.0', 60_000, () => undefined);
    await target.scale(m, 'v0.9.0', 0);
    // Replica 1 as tandem created replicas before this fix: under `unless-stopped`, which an engine
    // restarting after a SIGKILL leaves stopped.
    const containers = await docker.listContainers({ filters: { label: [`tandem.model=${m}`, 'tandem.version=v1.0.0'] } });
    const byReplica = (n: number) => containers.find((c) => c.Labels['tandem.replica'] === String(n))!.Id;
    await docker.getContainer(byReplica(1)).update({ RestartPolicy: { Name: 'unless-stopped' } });

    await fault('kill');
    await fault('start');

    const state = async (n: number) => (await docker.getContainer(byReplica(n)).inspect()).State.Status;
    assert.equal(await state(0), 'running', 'the engine restarted the replica under `always` by itself');
    assert.equal(await state(1), 'exited', 'the engine left the `unless-stopped` replica stopped');
    const row = async (version: string) => (await target.list(m)).find((v) => v.version === version);
    assert.equal((await row('v1.0.0'))?.replicas, 1);

    await target.scale(m, 'v1.0.0', 2);
    assert.deepEqual(await target.waitReady(m, 'v1.0.0', 60_000, () => undefined), { version: 'v1.0.0', replicas: 2, readyReplicas: 2 });
    const restored = await row('v1.0.0');
    assert.deepEqual([restored?.replicas, restored?.readyReplicas], [2, 2]);
    assert.equal((await row('v0.9.0'))?.replicas, 0, 'a version scaled to 0 stays scaled to 0');
  });
});
