/**
 * DockerTarget against the real Docker engine (scripts/docker-up.sh), with images built from the
 * example model repository (scripts/example-repo.ts) on tandem/node-base:20.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, execSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Docker from 'dockerode';
import { ApplicationFailure } from '@temporalio/common';
import { createExampleRepo } from '../../scripts/example-repo';
import { DockerTarget } from '../../src/activities/docker/target';
import type { VersionWorkload } from '../../src/activities/target';

const docker = new Docker();
const RUN = Date.now().toString(36);
const MODEL = `dt-${RUN}`;
const NETWORK = 'tandem-test';
const IMAGE = (version: string): string => `tandem-test/fraud-detector:${version}`;
const CRASH_IMAGE = 'tandem-test/crash:1';
/** runs and never listens on its port */
const SILENT_IMAGE = 'tandem-test/silent:1';
/** exits 4 having written nothing a person can read: a terminal reset and a blank line */
const QUIET_CRASH_IMAGE = 'tandem-test/crash-quiet:1';

function workload(version: string, overrides: Partial<VersionWorkload> & { replicas?: number; healthPath?: string } = {}): VersionWorkload {
  const model = overrides.model ?? MODEL;
  return {
    model,
    version,
    commit: `commit-of-${version}`,
    image: IMAGE(version),
    digest: '',
    releaseId: `release/test/${model}/${version}`,
    spec: {
      port: 8080,
      replicas: overrides.replicas ?? 2,
      resources: { cpu: '250m', memory: '128Mi' },
      health: { path: overrides.healthPath ?? '/healthz', timeout: '5s' },
    },
    ...overrides,
  };
}

async function containerIds(version?: string, model = MODEL): Promise<string[]> {
  const label = [`tandem.model=${model}`, ...(version ? [`tandem.version=${version}`] : [])];
  return (await docker.listContainers({ all: true, filters: { label } })).map((c) => c.Id).sort();
}

/** Builds the example repository's `tag` with `git archive | docker build -`. */
function buildExample(repo: string, tag: string): void {
  execSync(
    `git -C ${repo} archive ${tag} | docker build -q -t ${IMAGE(tag)} --build-arg BASE_IMAGE=tandem/node-base:20 --build-arg TANDEM_VERSION=${tag} -`,
    { stdio: ['ignore', 'ignore', 'pipe'], timeout: 180_000 },
  );
}

describe('DockerTarget on the real Docker engine', () => {
  const target = new DockerTarget(docker, { network: NETWORK, pollIntervalMs: 200 });
  let repoDir: string;
  /** MODEL and each model a case made for itself (removed after the tests). */
  const models = [MODEL];

  /** A model of the case's own with `versions` deployed (2 replicas each, ready), so no case relies on another's containers. */
  async function deployed(...versions: string[]): Promise<string> {
    const model = `${MODEL}-${models.length}`;
    models.push(model);
    for (const version of versions) {
      await target.apply(workload(version, { model }));
      await target.waitReady(model, version, 60_000, () => undefined);
    }
    return model;
  }

  before(async () => {
    repoDir = await mkdtemp(path.join(os.tmpdir(), 'tandem-example-'));
    const repo = await createExampleRepo(path.join(repoDir, 'fraud-detector'));
    for (const tag of ['v1.0.0', 'v1.1.0']) buildExample(repo.path, tag);
    const crash = 'FROM tandem/node-base:20\nCMD ["node", "-e", "console.error(\'loading weights: file is corrupt\'); process.exit(3)"]\n';
    execFileSync('docker', ['build', '-q', '-t', CRASH_IMAGE, '-'], { input: crash, stdio: ['pipe', 'ignore', 'pipe'], timeout: 180_000 });
    const silent = 'FROM tandem/node-base:20\nCMD ["node", "-e", "setInterval(() => {}, 1000)"]\n';
    execFileSync('docker', ['build', '-q', '-t', SILENT_IMAGE, '-'], { input: silent, stdio: ['pipe', 'ignore', 'pipe'], timeout: 180_000 });
    const quiet = 'FROM tandem/node-base:20\nCMD ["node", "-e", "process.stderr.write(\'\\\\x1b[0m\\\\r\\\\n\'); process.exit(4)"]\n';
    execFileSync('docker', ['build', '-q', '-t', QUIET_CRASH_IMAGE, '-'], { input: quiet, stdio: ['pipe', 'ignore', 'pipe'], timeout: 180_000 });
  });

  after(async () => {
    for (const model of models) for (const id of await containerIds(undefined, model)) await docker.getContainer(id).remove({ force: true });
    await rm(repoDir, { recursive: true, force: true });
  });

  it('deploys two versions side by side and lists both from the engine', async () => {
    const progress: string[] = [];
    for (const version of ['v1.0.0', 'v1.1.0']) {
      await target.apply(workload(version));
      const deployed = await target.waitReady(MODEL, version, 60_000, (ready, desired) => progress.push(`${ready}/${desired}`));
      assert.deepEqual(deployed, { version, replicas: 2, readyReplicas: 2 });
    }
    assert.ok(progress.includes('2/2'), progress.join(' '));

    const listed = await target.list(MODEL);
    assert.deepEqual(
      listed.map((v) => [v.version, v.replicas, v.readyReplicas, v.commit, v.image, v.releaseId]),
      [
        ['v1.0.0', 2, 2, 'commit-of-v1.0.0', IMAGE('v1.0.0'), `release/test/${MODEL}/v1.0.0`],
        ['v1.1.0', 2, 2, 'commit-of-v1.1.0', IMAGE('v1.1.0'), `release/test/${MODEL}/v1.1.0`],
      ],
    );
    assert.ok(listed.every((v) => !Number.isNaN(Date.parse(v.deployedAt))));

    for (const version of ['v1.0.0', 'v1.1.0']) {
      const endpoint = await target.endpoint(MODEL, version);
      assert.match(endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
      const health = (await (await fetch(`${endpoint}/healthz`)).json()) as { version: string };
      assert.equal(health.version, version);
    }

    const info = await docker.getContainer(`tandem-${MODEL}_v1.0.0_0`).inspect();
    assert.equal(info.Config.Labels['tandem.managed'], 'true');
    assert.equal(info.Config.Labels['tandem.version'], 'v1.0.0');
    assert.equal(info.HostConfig.NanoCpus, 250_000_000);
    assert.equal(info.HostConfig.Memory, 128 * 1024 * 1024);
    // `always`: an engine that restarts, even after a SIGKILL, starts serving replicas again (test/faults).
    assert.equal(info.HostConfig.RestartPolicy?.Name, 'always');
    assert.equal(info.HostConfig.PortBindings?.['8080/tcp']?.[0]?.HostIp, '127.0.0.1');
    assert.ok(NETWORK in (info.NetworkSettings.Networks ?? {}));
  });

  it('applies idempotently: the same workload twice keeps the same containers', async () => {
    const model = await deployed('v1.0.0');
    const before = await containerIds('v1.0.0', model);
    assert.equal(before.length, 2);
    await target.apply(workload('v1.0.0', { model }));
    assert.deepEqual(await containerIds('v1.0.0', model), before);
    // A different image for the same version replaces its containers.
    await target.apply(workload('v1.0.0', { model, image: IMAGE('v1.1.0') }));
    const replaced = await containerIds('v1.0.0', model);
    assert.equal(replaced.length, 2);
    assert.ok(replaced.every((id) => !before.includes(id)));
  });

  it('scales a version up, down, to zero and back', async () => {
    const model = await deployed('v1.1.0');
    await target.scale(model, 'v1.1.0', 3);
    assert.equal((await target.waitReady(model, 'v1.1.0', 60_000, () => undefined)).readyReplicas, 3);
    await target.scale(model, 'v1.1.0', 1);
    assert.equal((await target.list(model)).find((v) => v.version === 'v1.1.0')?.replicas, 1);
    await target.scale(model, 'v1.1.0', 0);
    await target.scale(model, 'v1.1.0', 0); // idempotent
    const scaledDown = (await target.list(model)).find((v) => v.version === 'v1.1.0');
    assert.equal(scaledDown?.replicas, 0, 'a version scaled to 0 is still listed, with no running replica');
    await assert.rejects(target.endpoint(model, 'v1.1.0'), { type: 'VersionNotRunning' });
    await target.scale(model, 'v1.1.0', 2);
    assert.equal((await target.waitReady(model, 'v1.1.0', 60_000, () => undefined)).readyReplicas, 2);
  });

  it('keeps a version scaled to 0 stopped across engine restarts, and serves it again when scaled up', async () => {
    const model = await deployed('v1.1.0');
    const policy = async () => (await docker.getContainer(`tandem-${model}_v1.1.0_0`).inspect()).HostConfig.RestartPolicy?.Name;
    await target.scale(model, 'v1.1.0', 0);
    assert.equal(await policy(), 'no', 'an engine that restarts must not start a version scaled to 0');
    await target.scale(model, 'v1.1.0', 2);
    assert.equal(await policy(), 'always');
    await target.waitReady(model, 'v1.1.0', 60_000, () => undefined);
  });

  it('scale brings back replicas that exited or were removed behind its back', async () => {
    const model = await deployed('v1.1.0');
    const [first, second] = await containerIds('v1.1.0', model);
    await docker.getContainer(first!).stop({ t: 1 });
    await docker.getContainer(second!).remove({ force: true });
    const lost = (await target.list(model)).find((v) => v.version === 'v1.1.0');
    assert.deepEqual([lost?.replicas, lost?.readyReplicas], [0, 0]);

    await target.scale(model, 'v1.1.0', 2);
    assert.deepEqual(await target.waitReady(model, 'v1.1.0', 60_000, () => undefined), { version: 'v1.1.0', replicas: 2, readyReplicas: 2 });
    const back = (await target.list(model)).find((v) => v.version === 'v1.1.0');
    assert.deepEqual([back?.replicas, back?.readyReplicas], [2, 2]);
    assert.ok((await containerIds('v1.1.0', model)).includes(first!), 'the exited replica is started again, not replaced');
    for (const id of await containerIds('v1.1.0', model)) {
      const info = await docker.getContainer(id).inspect();
      assert.equal(info.HostConfig.RestartPolicy?.Name, 'always');
      assert.equal(info.Config.Labels['tandem.commit'], 'commit-of-v1.1.0', 'a recreated replica carries the recorded definition');
      assert.equal(info.HostConfig.Memory, 128 * 1024 * 1024);
    }
  });

  it('lists readiness from the engine and the port, leaving the HTTP health check to waitReady', async () => {
    // Listens but its health path answers 404: running and accepting connections, so listed ready.
    await target.apply(workload('v9-listens', { image: IMAGE('v1.0.0'), replicas: 1, healthPath: '/not-there' }));
    // Runs but never listens: its port refuses connections, so not ready.
    await target.apply(workload('v9-silent', { image: SILENT_IMAGE, replicas: 1 }));
    let listed = await target.list(MODEL);
    const row = (version: string) => listed.find((v) => v.version === version);
    for (let i = 0; row('v9-listens')?.readyReplicas !== 1; i++) {
      assert.ok(i < 100, `v9-listens never listed ready: ${JSON.stringify(row('v9-listens'))}`);
      await new Promise((r) => setTimeout(r, 100));
      listed = await target.list(MODEL);
    }
    assert.equal(row('v9-listens')?.replicas, 1);
    assert.deepEqual([row('v9-silent')?.replicas, row('v9-silent')?.readyReplicas], [1, 0]);
    await target.remove(MODEL, 'v9-listens');
    await target.remove(MODEL, 'v9-silent');
  });

  it('handles an odd tag with a Docker-safe name', async () => {
    const version = 'release/2024+rc.1';
    await target.apply(workload(version, { image: IMAGE('v1.0.0'), replicas: 1 }));
    await target.waitReady(MODEL, version, 60_000, () => undefined);
    const [info] = await docker.listContainers({ filters: { label: [`tandem.model=${MODEL}`, `tandem.version=${version}`] } });
    assert.match(info!.Names[0]!, new RegExp(`^/tandem-${MODEL}_release-2024-rc\\.1\\.\\.[0-9a-f]{12}_0$`));
    await target.remove(MODEL, version);
    assert.deepEqual(await containerIds(version), []);
  });

  it('fails a version whose containers exit with DeployFailed naming the exit code and the logs', async () => {
    await target.apply(workload('v9-crash', { image: CRASH_IMAGE, replicas: 1 }));
    await assert.rejects(target.waitReady(MODEL, 'v9-crash', 60_000, () => undefined), (error: unknown) => {
      assert.ok(error instanceof ApplicationFailure);
      assert.equal(error.type, 'DeployFailed');
      assert.equal(error.nonRetryable, true);
      assert.match(error.message, /exited with code 3/);
      assert.match(error.message, /loading weights: file is corrupt/);
      return true;
    });
    await target.remove(MODEL, 'v9-crash');
  });

  it('says a crashed container wrote no logs when it wrote nothing readable, with no dangling "last log lines:"', async () => {
    await target.apply(workload('v9-quiet', { image: QUIET_CRASH_IMAGE, replicas: 1 }));
    await assert.rejects(target.waitReady(MODEL, 'v9-quiet', 60_000, () => undefined), (error: unknown) => {
      assert.ok(error instanceof ApplicationFailure);
      assert.match(error.message, /exited with code 4.*; it wrote no logs$/);
      assert.doesNotMatch(error.message, /last log lines/);
      return true;
    });
    await target.remove(MODEL, 'v9-quiet');
  });

  it('fails a version that never answers its health path when the timeout passes', async () => {
    await target.apply(workload('v9-unhealthy', { image: IMAGE('v1.0.0'), replicas: 1, healthPath: '/not-there' }));
    await assert.rejects(target.waitReady(MODEL, 'v9-unhealthy', 3000, () => undefined), (error: unknown) => {
      assert.ok(error instanceof ApplicationFailure);
      assert.equal(error.type, 'DeployFailed');
      assert.match(error.message, /not ready after 3s: 0\/1 replicas ready; .*GET \/not-there → status 404/);
      return true;
    });
    await target.remove(MODEL, 'v9-unhealthy');
  });

  it('pulls the image by digest from the registry when the engine does not have it', async () => {
    const repository = `127.0.0.1:5000/tandem-test-${RUN}`;
    const ref = `${repository}:v1.0.0`;
    execFileSync('docker', ['tag', IMAGE('v1.0.0'), ref]);
    execFileSync('docker', ['push', '-q', ref], { stdio: ['ignore', 'ignore', 'pipe'] });
    const info = await docker.getImage(ref).inspect();
    const digest = info.RepoDigests.find((d) => d.startsWith(`${repository}@`))!.split('@')[1]!;
    execFileSync('docker', ['rmi', ref], { stdio: 'ignore' });
    await assert.rejects(docker.getImage(`${repository}@${digest}`).inspect());

    await target.apply(workload('v1.0.0-pulled', { image: ref, digest, replicas: 1 }));
    await target.waitReady(MODEL, 'v1.0.0-pulled', 60_000, () => undefined);
    const [running] = await target.list(MODEL).then((all) => all.filter((v) => v.version === 'v1.0.0-pulled'));
    assert.equal(running?.digest, digest);
    await target.remove(MODEL, 'v1.0.0-pulled');
    await docker.getImage(`${repository}@${digest}`).remove().catch(() => undefined);
  });

  it('fails fast when the image exists neither locally nor in the registry', async () => {
    await assert.rejects(target.apply(workload('v9-missing', { image: `127.0.0.1:5000/tandem-test-missing-${RUN}:v9`, replicas: 1 })), {
      type: 'DeployFailed',
      nonRetryable: true,
    });
  });

  it('removes every container of each version, leaving nothing labelled with the model', async () => {
    const model = await deployed('v1.0.0', 'v1.1.0');
    assert.equal((await containerIds(undefined, model)).length, 4);
    for (const version of ['v1.0.0', 'v1.1.0']) {
      await target.remove(model, version);
      await target.remove(model, version); // a missing version is not an error
    }
    assert.deepEqual(await containerIds(undefined, model), []);
    assert.deepEqual(await target.list(model), []);
  });
});
