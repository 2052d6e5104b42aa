/**
 * docker-compose.yml, run for real with Docker Compose v2 (built here by scripts/compose-install.sh)
 * on the images scripts/compose-images.sh makes from this machine (nothing can be pulled): the
 * documented commands, each its own process — `docker compose up -d --wait`, every service healthy
 * (the two one-shots exited 0), one release of the example model through the composed stack with
 * `docker compose run --rm tandem release start … --wait`, `tandem versions`, a prediction through
 * the composed gateway, the release listed by tandem's search attributes in the composed Temporal
 * and by tandem-serve's API (with a bearer token of the mounted configuration; 401 without), then `docker compose down -v`, leaving no container, volume or network of the project behind.
 *
 * Isolation from whatever else runs on this engine (the demo, other tests): its own project name,
 * free ports on 127.0.0.1 for everything published, its own model name and Docker network in its
 * tandem.config.yaml. The example repository is mounted into the tandem services by an override
 * file (a real deployment names a Git URL instead).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../helpers/temporal';
import { hashToken } from '../../src/serve/auth/token-hash';
import { parseConfig } from '../../src/config/load';
import { createExampleRepo } from '../../scripts/example-repo';

const ID = randomBytes(4).toString('hex');
const PROJECT = `tandem-it-${ID}`;
const MODEL = `fd-compose-${ID}`;
const NETWORK = `tandem-it-${ID}`;
const TANDEM_UID = 10001; // the user of tandem's image
const LONG_RUNNING = ['postgres', 'temporal', 'temporal-ui', 'registry', 'tandem-gateway', 'tandem-worker-1', 'tandem-worker-2', 'tandem-serve'];
/** the bearer token of the stack's API; its hash goes into the mounted configuration */
const API_TOKEN = randomBytes(32).toString('hex');
const ONE_SHOTS = ['temporal-schema', 'temporal-setup'];

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function runProcess(file: string, args: string[], options: { env?: NodeJS.ProcessEnv; timeout?: number } = {}): Promise<Result> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd: ROOT, env: options.env ?? process.env, maxBuffer: 64 * 1024 * 1024, timeout: options.timeout ?? 300_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof (error as { code?: unknown }).code === 'number' ? ((error as { code: number }).code) : 1) : 0;
      resolve({ code, stdout, stderr: stderr || (error && code !== 0 ? String(error) : '') });
    });
  });
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const work = mkdtempSync(join(tmpdir(), 'tandem-compose-it-'));
let composeCommand: string[] = [];
let env: NodeJS.ProcessEnv = {};
const ports: Record<string, number> = {};
let upStarted = false;

/** `docker compose` with the project's files and name, as its own process. */
function compose(args: string[], timeout = 300_000): Promise<Result> {
  const [file, ...pre] = composeCommand;
  return runProcess(file!, [...pre, '-f', 'docker-compose.yml', '-f', join(work, 'compose.override.yml'), '-p', PROJECT, ...args], { env, timeout });
}

function docker(...args: string[]): Promise<Result> {
  return runProcess('docker', args, { timeout: 120_000 });
}

interface PsEntry {
  Service: string;
  State: string;
  Health: string;
  ExitCode: number;
}

async function ps(): Promise<PsEntry[]> {
  const out = await compose(['ps', '--all', '--format', 'json']);
  assert.equal(out.code, 0, out.stderr);
  // one JSON object per line (Compose v2.21 and later)
  return out.stdout.split('\n').filter((line) => line.trim()).map((line) => JSON.parse(line) as PsEntry);
}

/** Removes what the stack's workers put on the engine outside the project: the model's containers, its network and images. */
async function removeModelLeftovers(): Promise<void> {
  const containers = await docker('ps', '-aq', '--filter', `label=tandem.model=${MODEL}`);
  const ids = containers.stdout.split('\n').filter(Boolean);
  if (ids.length > 0) await docker('rm', '-f', ...ids);
  await docker('network', 'rm', NETWORK);
  const images = await docker('image', 'ls', '--format', '{{.Repository}}:{{.Tag}}', `127.0.0.1:${ports.registry}/${MODEL}`);
  const refs = images.stdout.split('\n').filter((ref) => ref && !ref.endsWith(':<none>'));
  if (refs.length > 0) await docker('rmi', ...refs);
}

describe('docker-compose.yml', { timeout: 30 * 60_000 }, () => {
  before(
    async () => {
      // Compose v2, pinned and built once (cached), as the Docker CLI plugin when it could be linked.
      const install = await runProcess('bash', ['scripts/compose-install.sh'], { timeout: 30 * 60_000 });
      assert.equal(install.code, 0, `scripts/compose-install.sh failed:\n${install.stderr}`);
      const binary = install.stdout.trim().split('\n').pop()!;
      const plugin = await runProcess('docker', ['compose', 'version', '--short']);
      const pinned = (await runProcess(binary, ['version', '--short'])).stdout.trim();
      composeCommand = plugin.code === 0 && plugin.stdout.trim() === pinned ? ['docker', 'compose'] : [binary];
      process.stderr.write(`compose: ${composeCommand.join(' ')} (${pinned})\n`);

      // The images, made here (reused when nothing they are made of changed).
      const started = Date.now();
      const images = await runProcess('bash', ['scripts/compose-images.sh'], { timeout: 40 * 60_000 });
      assert.equal(images.code, 0, `scripts/compose-images.sh failed:\n${images.stderr.slice(-4000)}`);
      const imageEnv = Object.fromEntries(
        images.stdout.split('\n').filter((line) => /^[A-Z_]+=\S+$/.test(line)).map((line) => line.split('=', 2) as [string, string]),
      );
      for (const key of ['POSTGRES_IMAGE', 'TEMPORAL_IMAGE', 'TEMPORAL_ADMIN_TOOLS_IMAGE', 'TEMPORAL_UI_IMAGE', 'REGISTRY_IMAGE', 'TANDEM_IMAGE']) {
        assert.ok(imageEnv[key], `compose-images.sh printed no ${key}`);
      }
      process.stderr.write(`compose images ready in ${Math.round((Date.now() - started) / 1000)} s\n`);

      for (const name of ['temporal', 'ui', 'registry', 'gateway', 'gatewayAdmin', 'worker1', 'worker2', 'serve']) ports[name] = await freePort();

      // The example model's repository, readable by the image's user, mounted into the tandem services.
      const repo = join(work, 'fraud-detector');
      await createExampleRepo(repo);
      execFileSync('chown', ['-R', `${TANDEM_UID}:${TANDEM_UID}`, repo]);
      chmodSync(work, 0o755);
      const config = join(work, 'tandem.config.yaml');
      writeFileSync(
        config,
        [
          'taskQueue: tandem',
          'environments:',
          '  local:',
          `    target: { kind: docker, network: ${NETWORK} }`,
          `    registry: { url: 127.0.0.1:${ports.registry}, insecure: true }`,
          `    traffic: { router: gateway, url: http://127.0.0.1:${ports.gatewayAdmin}, tokenFile: /var/lib/tandem-gateway/state/admin-token }`,
          '    build:',
          '      buildArgs: { BASE_IMAGE: tandem/node-base:20 }',
          'models:',
          `  ${MODEL}: { repo: /srv/git/fraud-detector, environment: local }`,
          'serve:',
          `  tokens: [{ name: compose-test, sha256: ${hashToken(API_TOKEN)}, groups: [ci] }]`,
          '',
        ].join('\n'),
      );
      chmodSync(config, 0o644);
      const mount = `      - ${repo}:/srv/git/fraud-detector:ro`;
      writeFileSync(
        join(work, 'compose.override.yml'),
        ['services:', ...['tandem-worker-1', 'tandem-worker-2', 'tandem'].flatMap((service) => [`  ${service}:`, '    volumes:', mount]), ''].join('\n'),
      );

      env = {
        ...process.env,
        ...imageEnv,
        POSTGRES_PASSWORD: randomBytes(16).toString('hex'),
        DOCKER_GID: String(statSync('/var/run/docker.sock').gid),
        TEMPORAL_PORT: String(ports.temporal),
        TEMPORAL_UI_PORT: String(ports.ui),
        TANDEM_REGISTRY_PORT: String(ports.registry),
        TANDEM_GATEWAY_PORT: String(ports.gateway),
        TANDEM_GATEWAY_ADMIN_PORT: String(ports.gatewayAdmin),
        TANDEM_WORKER_1_HEALTH_PORT: String(ports.worker1),
        TANDEM_WORKER_2_HEALTH_PORT: String(ports.worker2),
        TANDEM_SERVE_PORT: String(ports.serve),
        TANDEM_CONFIG_FILE: config,
      };
      delete env.COMPOSE_PROJECT_NAME;
      delete env.COMPOSE_FILE;
    },
    { timeout: 60 * 60_000 },
  );

  after(async () => {
    if (upStarted) {
      const down = await compose(['down', '-v', '--remove-orphans', '--timeout', '30']);
      if (down.code !== 0) process.stderr.write(`compose down failed: ${down.stderr}\n`);
      await removeModelLeftovers();
    }
    rmSync(work, { recursive: true, force: true });
  });

  it('is a valid Compose file', async () => {
    const config = await compose(['config', '--quiet']);
    assert.equal(config.code, 0, config.stderr);
    const services = await compose(['config', '--services']);
    assert.deepEqual(services.stdout.trim().split('\n').sort(), [...LONG_RUNNING, ...ONE_SHOTS].sort());
    // the configuration it ships is valid, and lets no caller into tandem-serve until a token is added
    const shipped = parseConfig(readFileSync(join(ROOT, 'deploy/compose/tandem.config.yaml'), 'utf8'), 'deploy/compose/tandem.config.yaml');
    assert.deepEqual(shipped.serve?.tokens, []);
  });

  // One story, its steps in order: each needs the stack the step before it left.
  it('runs as a service: up, a release through the stack, down', { timeout: 25 * 60_000 }, async (t) => {
    await t.test('comes up with `docker compose up -d --wait`: every service healthy, the one-shots exited 0', { timeout: 10 * 60_000 }, async () => {
      upStarted = true;
      const started = Date.now();
      const up = await compose(['up', '-d', '--wait', '--wait-timeout', '420'], 480_000);
      const seconds = Math.round((Date.now() - started) / 1000);
      if (up.code !== 0) {
        const logs = await compose(['logs', '--no-color', '--tail', '30']);
        assert.fail(`docker compose up -d --wait exited ${up.code} after ${seconds} s:\n${up.stderr.slice(-3000)}\n--- logs ---\n${logs.stdout.slice(-8000)}`);
      }
      process.stderr.write(`docker compose up -d --wait: ${seconds} s\n`);

      const entries = await ps();
      for (const service of LONG_RUNNING) {
        const entry = entries.find((e) => e.Service === service);
        assert.ok(entry, `${service} is not in docker compose ps`);
        assert.equal(`${entry.State} ${entry.Health}`, 'running healthy', service);
      }
      for (const service of ONE_SHOTS) {
        const entry = entries.find((e) => e.Service === service);
        assert.ok(entry, `${service} is not in docker compose ps`);
        assert.equal(`${entry.State} ${entry.ExitCode}`, 'exited 0', service);
      }
      // what is published answers on 127.0.0.1
      assert.equal((await fetch(`http://127.0.0.1:${ports.ui}/`)).status, 200, 'Temporal Web UI');
      assert.equal((await fetch(`http://127.0.0.1:${ports.registry}/v2/`)).status, 200, 'registry');
      assert.equal((await fetch(`http://127.0.0.1:${ports.gatewayAdmin}/_tandem/healthz`)).status, 200, 'gateway admin');
      assert.equal((await fetch(`http://127.0.0.1:${ports.serve}/healthz`)).status, 200, 'tandem-serve');
      for (const port of [ports.worker1, ports.worker2]) assert.equal((await fetch(`http://127.0.0.1:${port}/readyz`)).status, 200, `worker on ${port}`);
      // two workers, told apart by Temporal: each polls the task queue under its own --identity
      const temporal = execFileSync('bash', ['scripts/temporal-up.sh', '--print-binary'], { cwd: ROOT, encoding: 'utf8' }).trim();
      let pollers = '';
      for (let i = 0; i < 30 && !(pollers.includes('tandem-worker-1') && pollers.includes('tandem-worker-2')); i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, 1000));
        const described = await runProcess(temporal, ['task-queue', 'describe', '--address', `127.0.0.1:${ports.temporal}`, '--namespace', 'default', '--task-queue', 'tandem', '--output', 'json']);
        pollers = JSON.stringify((JSON.parse(described.stdout || '{}') as { pollers?: unknown }).pollers ?? []);
      }
      assert.ok(pollers.includes('tandem-worker-1') && pollers.includes('tandem-worker-2'), `pollers of task queue tandem: ${pollers}`);
    });

    await t.test('releases the example model through the stack: `docker compose run --rm tandem release start … --wait`, then `versions`', { timeout: 10 * 60_000 }, async () => {
      const started = Date.now();
      const release = await compose(['run', '--rm', '-T', 'tandem', 'release', 'start', MODEL, 'v1.0.0', '--wait'], 540_000);
      const seconds = Math.round((Date.now() - started) / 1000);
      if (release.code !== 0) {
        const logs = await compose(['logs', '--no-color', '--tail', '40', 'tandem-worker-1', 'tandem-worker-2', 'tandem-gateway']);
        assert.fail(`release start exited ${release.code} after ${seconds} s:\n${release.stdout}\n${release.stderr}\n--- logs ---\n${logs.stdout.slice(-8000)}`);
      }
      process.stderr.write(`release of ${MODEL} v1.0.0 through the stack: ${seconds} s\n`);
      // exit 0 is `--wait`'s "promoted"; the state below says so too

      const versions = await compose(['run', '--rm', '-T', 'tandem', 'versions', MODEL, '--json'], 120_000);
      assert.equal(versions.code, 0, versions.stderr);
      const state = JSON.parse(versions.stdout.trim().split('\n').pop()!) as {
        running: { version: string; readyReplicas: number; image: string }[];
        traffic: { weights: Record<string, number>; stable?: string };
      };
      assert.deepEqual(state.running.map((r) => r.version), ['v1.0.0']);
      assert.ok(state.running[0]!.readyReplicas >= 1, JSON.stringify(state));
      assert.match(state.running[0]!.image, new RegExp(`^127\\.0\\.0\\.1:${ports.registry}/${MODEL}[:@]`));
      assert.deepEqual(state.traffic.weights, { 'v1.0.0': 100 });
      assert.equal(state.traffic.stable, 'v1.0.0');

      // the composed gateway serves it
      const res = await fetch(`http://127.0.0.1:${ports.gateway}/${MODEL}/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ amount: 40, country_risk: 0.1, velocity: 1, new_device: 0 }),
      });
      assert.equal(res.status, 200, await res.text());
      assert.equal(res.headers.get('x-served-by-version'), 'v1.0.0');
      // the image went to the composed registry
      const tags = (await (await fetch(`http://127.0.0.1:${ports.registry}/v2/${MODEL}/tags/list`)).json()) as { tags: string[] };
      assert.ok(tags.tags.includes('v1.0.0'), JSON.stringify(tags));

      // the host's CLI and the Temporal CLI reach the composed Temporal on its published port
      const hostEnv = { ...process.env, TEMPORAL_ADDRESS: `127.0.0.1:${ports.temporal}`, TEMPORAL_NAMESPACE: 'default', TANDEM_CONFIG: join(work, 'tandem.config.yaml') };
      const status = await runProcess('node', ['bin/tandem.js', 'release', 'status', MODEL, '--json'], { env: hostEnv, timeout: 120_000 });
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout, /v1\.0\.0/);
      const temporal = execFileSync('bash', ['scripts/temporal-up.sh', '--print-binary'], { cwd: ROOT, encoding: 'utf8' }).trim();
      const listed = await runProcess(temporal, ['workflow', 'list', '--address', `127.0.0.1:${ports.temporal}`, '--namespace', 'default', '--query', `TandemModel="${MODEL}" AND TandemVersion="v1.0.0"`, '--output', 'json']);
      assert.equal(listed.code, 0, listed.stderr);
      assert.ok((JSON.parse(listed.stdout || '[]') as unknown[]).length >= 1, `no release listed by search attributes:\n${listed.stdout}`);

      // tandem-serve lists it for a token of the mounted configuration, and refuses a caller without one
      const api = `http://127.0.0.1:${ports.serve}/api/releases?state=all&model=${MODEL}`;
      assert.equal((await fetch(api)).status, 401);
      const fromApi = await fetch(api, { headers: { authorization: `Bearer ${API_TOKEN}` } });
      const releases = (await fromApi.json()) as { model: string; version: string; status: string }[];
      assert.equal(fromApi.status, 200, JSON.stringify(releases));
      assert.deepEqual(releases.map((r) => [r.model, r.version, r.status]), [[MODEL, 'v1.0.0', 'COMPLETED']]);
    });

    await t.test('goes away with `docker compose down -v`, leaving no container, volume or network behind', { timeout: 5 * 60_000 }, async () => {
      const down = await compose(['down', '-v', '--remove-orphans', '--timeout', '30']);
      assert.equal(down.code, 0, down.stderr);
      upStarted = false;
      await removeModelLeftovers();
      const label = `label=com.docker.compose.project=${PROJECT}`;
      assert.equal((await docker('ps', '-aq', '--filter', label)).stdout.trim(), '', 'containers of the project');
      assert.equal((await docker('volume', 'ls', '-q', '--filter', label)).stdout.trim(), '', 'volumes of the project');
      assert.equal((await docker('network', 'ls', '-q', '--filter', label)).stdout.trim(), '', 'networks of the project');
      assert.equal((await docker('ps', '-aq', '--filter', `label=tandem.model=${MODEL}`)).stdout.trim(), '', "the model's containers");
      assert.notEqual((await docker('network', 'inspect', NETWORK)).code, 0, `network ${NETWORK} is gone`);
    });
  });
});
