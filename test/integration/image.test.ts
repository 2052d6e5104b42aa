/**
 * The buildImage activity against the real Docker engine and registry that scripts/docker-up.sh
 * brings up, building the example model's tags from a real Git repository. Heartbeats and
 * cancellation go through Temporal's real activity context (MockActivityEnvironment).
 * An engine or registry that stops mid-build is tested on a second engine owned by the test, in
 * test/faults/docker-engine.test.ts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { simpleGit } from 'simple-git';
import { CancelledFailure } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { FailureType } from '../../src/errors';
import { createImageActivities, RegistryClient, type BuildProgress } from '../../src/activities/image';
import { buildContext } from '../../src/activities/image/context';
import type { BuildImageInput, BuiltImage } from '../../src/activities/types';
import { createExampleRepo } from '../../scripts/example-repo';

const ROOT = resolve(__dirname, '..', '..');
const run = promisify(execFile);
const REGISTRY = { url: '127.0.0.1:5000', insecure: true };
const BUILD_ARGS = { BASE_IMAGE: 'tandem/node-base:20' };
const PREFIX = `it-${Date.now().toString(36)}`;
const SLOW_SECONDS = 8;

const docker = new Docker();
const registry = new RegistryClient(REGISTRY, undefined);
const workDir = mkdtempSync(join(tmpdir(), 'tandem-image-cache-'));
const exampleDir = mkdtempSync(join(tmpdir(), 'tandem-example-'));
const activities = createImageActivities({ docker, registry: REGISTRY, buildArgs: BUILD_ARGS, workDir });

async function dockerUp(): Promise<void> {
  await run('bash', [join(ROOT, 'scripts', 'docker-up.sh')], { timeout: 600_000 });
}

/** Runs buildImage in a fresh activity context; heartbeats go to `onHeartbeat`. */
function buildImage(input: BuildImageInput, onHeartbeat?: (details: BuildProgress, env: MockActivityEnvironment) => void): Promise<BuiltImage> {
  const env = new MockActivityEnvironment({ activityType: 'buildImage', heartbeatTimeoutMs: 30_000 });
  if (onHeartbeat) env.on('heartbeat', (details: BuildProgress) => onHeartbeat(details, env));
  return env.run(activities.buildImage, input);
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => assert.fail('expected the build to fail'),
    (err: unknown) => err,
  );
}

interface Answer {
  status: number;
  // Parsed JSON; tests index into it freely.
  body: Record<string, unknown> & { score?: number; label?: string; version?: string };
}

async function httpJson(url: string, init?: RequestInit): Promise<Answer> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(5_000) });
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) };
  } catch {
    return { status: res.status, body: { text } };
  }
}

/** Starts the image with port 8080 published on a free 127.0.0.1 port; returns base URL and a cleanup. */
async function serve(image: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const container = await docker.createContainer({
    Image: image,
    ExposedPorts: { '8080/tcp': {} },
    HostConfig: { PortBindings: { '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] } },
  });
  await container.start();
  const stop = () => container.remove({ force: true }).then(() => undefined);
  try {
    const info = await container.inspect();
    const port = info.NetworkSettings.Ports['8080/tcp']?.[0]?.HostPort;
    assert.ok(port, 'port 8080 is published');
    const url = `http://127.0.0.1:${port}`;
    for (let i = 0; ; i++) {
      const ok = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1_000) }).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      if (i > 50) assert.fail(`${image} did not answer /healthz; logs:\n${String(await container.logs({ stdout: true, stderr: true }))}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    return { url, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

describe('buildImage against the real Docker engine and registry', () => {
  let repoUrl: string;
  const commits: Record<string, string> = {};
  const models: string[] = [];
  const model = (name: string) => {
    const m = `${PREFIX}-${name}`;
    models.push(m);
    return m;
  };
  const input = (m: string, version: string, commit = commits[version]!): BuildImageInput => ({
    model: m,
    environment: 'test',
    repoUrl,
    version,
    commit,
    releaseId: `release-${m}-${version}`,
  });

  before(async () => {
    await dockerUp();
    const repo = await createExampleRepo(join(exampleDir, 'fraud-detector'));
    repoUrl = repo.path;
    const git = simpleGit(repo.path);
    for (const tag of repo.tags) commits[tag] = (await git.revparse([`${tag}^{commit}`])).trim();
    await git.checkout(['-b', 'slow', 'v1.1.0']);
    // A version whose build takes a while (and is never cached: the command is unique per run),
    // so that a cancellation or a dying engine meets a build that is still going.
    const dockerfile = readFileSync(join(repo.path, 'Dockerfile'), 'utf8').replace(
      'COPY server.js ./',
      `RUN echo "warming up (${PREFIX})" && node -e "setTimeout(() => {}, ${SLOW_SECONDS * 1000})"\nCOPY server.js ./`,
    );
    writeFileSync(join(repo.path, 'Dockerfile'), dockerfile);
    await git.add('.').commit('slow build').addTag('v9.0.0-slow');
    commits['v9.0.0-slow'] = (await git.revparse(['HEAD'])).trim();
    // Two tags Git accepts that a lossy clean-up maps to one Docker tag (issue #8).
    await git.tag(['u-ä', 'v1.0.0']).tag(['u-ö', 'v1.1.0']);
    commits['u-ä'] = commits['v1.0.0']!;
    commits['u-ö'] = commits['v1.1.0']!;
    // A context far larger than a pipe's buffer: `git archive` blocks until it is read.
    await git.checkout(['-b', 'big', 'v1.0.0']);
    writeFileSync(join(repo.path, 'big.bin'), randomBytes(4 * 1024 * 1024));
    await git.add('.').commit('a big file').addTag('v9.0.0-big');
    commits['v9.0.0-big'] = (await git.revparse(['HEAD'])).trim();
  });

  after(async () => {
    for (const m of models) {
      for (const tag of await registry.tags(m).catch(() => [] as string[])) await registry.deleteTag(m, tag).catch(() => undefined);
    }
    const images = await docker.listImages({ filters: { reference: [`127.0.0.1:5000/${PREFIX}-*`] } }).catch(() => []);
    for (const image of images) await docker.getImage(image.Id).remove({ force: true }).catch(() => undefined);
    rmSync(workDir, { recursive: true, force: true });
    rmSync(exampleDir, { recursive: true, force: true });
  });

  // One story: the skip needs the build before it, and the served image is that build.
  it('v1.0.0: built and pushed, then found in the registry, then served', async (t) => {
    const m = model('good');
    let first: BuiltImage;

    await t.test('builds and pushes both tags, and returns the digest the registry serves', async (t) => {
      const heartbeats: BuildProgress[] = [];
      const started = Date.now();
      first = await buildImage(input(m, 'v1.0.0'), (d) => heartbeats.push(d));
      t.diagnostic(`build+push of v1.0.0: ${Date.now() - started} ms`);

      assert.equal(first.built, true);
      assert.equal(first.image, `127.0.0.1:5000/${m}:v1.0.0`);
      assert.match(first.digest, /^sha256:[0-9a-f]{64}$/);
      assert.equal(await registry.manifestDigest(m, 'v1.0.0'), first.digest);
      assert.equal(await registry.manifestDigest(m, `commit-${commits['v1.0.0']!.slice(0, 12)}`), first.digest);
      assert.deepEqual((await registry.tags(m)).sort(), [`commit-${commits['v1.0.0']!.slice(0, 12)}`, 'v1.0.0']);

      const steps = heartbeats.filter((h) => h.phase === 'build');
      assert.ok(steps.length >= 3, `heartbeats name the build steps: ${JSON.stringify(heartbeats)}`);
      assert.ok(steps.every((h) => h.step! >= 1 && h.step! <= h.of!), JSON.stringify(steps));
      assert.ok(heartbeats.some((h) => h.phase === 'push'), 'push is heartbeated');

      const labels = (await docker.getImage(first.image).inspect()).Config.Labels;
      assert.equal(labels['tandem.model'], m);
      assert.equal(labels['tandem.version'], 'v1.0.0');
      assert.equal(labels['tandem.commit'], commits['v1.0.0']);
      assert.equal(labels['tandem.source'], repoUrl);
      assert.equal(labels['tandem.release'], `release-${m}-v1.0.0`);
    });

    await t.test('skips the build for a commit the registry already holds, and tags the new version name', async (t) => {
      const started = Date.now();
      const again = await buildImage(input(m, 'v1.0.0'));
      t.diagnostic(`skipped build of v1.0.0: ${Date.now() - started} ms`);
      assert.deepEqual(again, { ...first, built: false });

      const renamed = await buildImage(input(m, 'v1.0.0-rc.2', commits['v1.0.0']));
      assert.equal(renamed.built, false);
      assert.equal(renamed.digest, first.digest);
      assert.equal(await registry.manifestDigest(m, 'v1.0.0-rc.2'), first.digest);
    });

    await t.test('makes an image that serves predictions and metrics from the commit files only', async () => {
      const server = await serve(first.image);
      try {
        const health = await httpJson(`${server.url}/healthz`);
        assert.deepEqual(health, { status: 200, body: { status: 'ok', version: 'v1.0.0' } });
        const predicted = await httpJson(`${server.url}/predict`, {
          method: 'POST',
          body: JSON.stringify({ amount: 1800, country_risk: 0.9, velocity: 5, new_device: 1 }),
        });
        assert.equal(predicted.status, 200);
        assert.equal(predicted.body.label, 'fraud');
        assert.equal(predicted.body.version, 'v1.0.0');
        assert.ok(Math.abs(predicted.body.score! - 0.966105) < 0.001, `score ${predicted.body.score}`);
        const bad = await httpJson(`${server.url}/predict`, { method: 'POST', body: '{"amount": 3}' });
        assert.equal(bad.status, 400);
        const metrics = await (await fetch(`${server.url}/metrics`)).text();
        assert.match(metrics, /^requests_total\{version="v1.0.0"\} 2$/m);
        assert.match(metrics, /^errors_total\{version="v1.0.0"\} 0$/m);
        assert.match(metrics, /^request_duration_seconds_count\{version="v1.0.0"\} 2$/m);
      } finally {
        await server.stop();
      }
      // .dockerignore keeps everything but the server and the model out of the image.
      const container = await docker.createContainer({ Image: first.image, Cmd: ['node', '-e', 'console.log(require("fs").readdirSync(".").join(","))'] });
      await container.start();
      await container.wait();
      const listing = String(await container.logs({ stdout: true })).replace(/[^\x20-\x7e]/g, '');
      await container.remove({ force: true });
      assert.match(listing, /model,server\.js$/);
    });
  });

  it('v1.2.0 builds, is healthy, and answers /predict with 500', async () => {
    const built = await buildImage(input(model('runtime-broken'), 'v1.2.0'));
    const server = await serve(built.image);
    try {
      assert.equal((await httpJson(`${server.url}/healthz`)).status, 200);
      const predicted = await httpJson(`${server.url}/predict`, {
        method: 'POST',
        body: JSON.stringify({ amount: 40, country_risk: 0.1, velocity: 1, new_device: 0 }),
      });
      assert.equal(predicted.status, 500);
      assert.match(await (await fetch(`${server.url}/metrics`)).text(), /^errors_total\{version="v1.2.0"\} 1$/m);
    } finally {
      await server.stop();
    }
  });

  it('v1.3.0 fails non-retryably, naming the failing step, and pushes nothing', async () => {
    const m = model('build-broken');
    const err = await rejection(buildImage(input(m, 'v1.3.0')));
    assert.ok(err instanceof ApplicationFailure, `expected ApplicationFailure, got ${String(err)}`);
    assert.equal(err.nonRetryable, true);
    assert.equal(err.type, FailureType.BuildFailed);
    assert.match(err.message, /^step \d+\/\d+ "RUN echo "checking model\/weights\.json.*node model\/check\.js" failed: exit code 3\n/);
    assert.match(err.message, /model\/weights\.json is not in the format server\.js reads/, 'the build log is in the message');
    assert.ok(err.message.split('\n').length <= 12, 'only the last lines of the log');
    assert.deepEqual(await registry.tags(m), []);
  });

  it('an unreachable registry is a retryable failure; a missing password variable is not', async () => {
    const offline = createImageActivities({ docker, registry: { url: '127.0.0.1:5999', insecure: true }, buildArgs: BUILD_ARGS, workDir });
    const down = await rejection(new MockActivityEnvironment().run(offline.buildImage, input(model('offline'), 'v1.0.0')));
    assert.ok(down instanceof ApplicationFailure, String(down));
    assert.equal(down.nonRetryable, false);
    assert.match(down.message, /registry 127\.0\.0\.1:5999 unreachable/);

    delete process.env.TANDEM_TEST_NO_SUCH_PASSWORD;
    const secret = createImageActivities({
      docker,
      registry: { ...REGISTRY, username: 'ci', passwordEnv: 'TANDEM_TEST_NO_SUCH_PASSWORD' },
      buildArgs: BUILD_ARGS,
      workDir,
    });
    const denied = await rejection(new MockActivityEnvironment().run(secret.buildImage, input(model('no-password'), 'v1.0.0')));
    assert.ok(denied instanceof ApplicationFailure, String(denied));
    assert.equal(denied.nonRetryable, true);
    assert.equal(denied.type, FailureType.PermissionDenied);
    assert.match(denied.message, /TANDEM_TEST_NO_SUCH_PASSWORD/);
  });

  it('a cancelled build stops, throws CancelledFailure and pushes nothing', async () => {
    const m = model('cancelled');
    let cancelledAt: BuildProgress | undefined;
    const err = await rejection(
      buildImage(input(m, 'v9.0.0-slow'), (d, env) => {
        if (d.phase === 'build' && !cancelledAt) {
          cancelledAt = d;
          env.cancel();
        }
      }),
    );
    assert.ok(err instanceof CancelledFailure, `expected CancelledFailure, got ${String(err)}`);
    assert.deepEqual(await registry.tags(m), []);
    // The build did not finish: the engine holds no image tagged for the commit.
    const local = `127.0.0.1:5000/${m}:commit-${commits['v9.0.0-slow']!.slice(0, 12)}`;
    await assert.rejects(
      docker.getImage(local).inspect(),
      (err: { statusCode?: number }) => err.statusCode === 404,
      `${local} must not exist after a cancelled build`,
    );
    // The engine stopped the build: no container is left running its slow step.
    for (let i = 0; ; i++) {
      const running = await docker.listContainers();
      if (!running.some((c) => c.Command.includes(PREFIX))) break;
      if (i > 40) assert.fail(`the build's container still runs: ${JSON.stringify(running.map((c) => c.Command))}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  });

  it('gives two Git tags that differ only in characters Docker refuses two image tags (u-ä, u-ö)', async () => {
    const m = model('odd-tags');
    const a = await buildImage(input(m, 'u-ä'));
    const o = await buildImage(input(m, 'u-ö'));
    assert.notEqual(a.image, o.image);
    assert.notEqual(a.digest, o.digest, 'different commits, different images');
    assert.match(a.image, new RegExp(`^127\\.0\\.0\\.1:5000/${m}:u\\.\\.[0-9a-f]{12}$`));
    const tagOf = (image: string) => image.slice(image.lastIndexOf(':') + 1);
    assert.equal(await registry.manifestDigest(m, tagOf(a.image)), a.digest);
    assert.equal(await registry.manifestDigest(m, tagOf(o.image)), o.digest);
    assert.equal((await docker.getImage(o.image).inspect()).Config.Labels['tandem.version'], 'u-ö', 'the label keeps the raw tag');
    assert.equal((await registry.tags(m)).length, 4, 'two version tags and two commit markers');
  });

  it('disposing a build context that nothing read stops git archive and destroys the tar stream', async () => {
    const gitArchives = () =>
      execFileSync('ps', ['-o', 'args=', '--ppid', String(process.pid)], { encoding: 'utf8' })
        .split('\n')
        .filter((c) => c.startsWith('git archive'));
    const context = await buildContext(repoUrl, commits['v9.0.0-big']!, workDir);
    // buildImage disposes the context whatever the outcome of the build request.
    context.dispose();
    for (let i = 0; gitArchives().length > 0; i++) {
      if (i > 40) assert.fail(`git archive still runs: ${gitArchives().join('; ')}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.equal(context.tar.destroyed, true);
  });

  it('a build request the engine refuses fails and leaves no git archive running', async () => {
    const err = await rejection(buildImage(input(`${PREFIX}-Refused`, 'v9.0.0-big')));
    assert.ok(err instanceof ApplicationFailure, String(err));
    assert.match(err.message, /repository name must be lowercase/);
    for (let i = 0; ; i++) {
      const children = execFileSync('ps', ['-o', 'args=', '--ppid', String(process.pid)], { encoding: 'utf8' }).split('\n');
      if (!children.some((c) => c.startsWith('git archive'))) break;
      if (i > 40) assert.fail(`git archive still runs: ${children.join('; ')}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  });
});
