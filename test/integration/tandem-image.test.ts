/**
 * tandem's own image, built by scripts/image-build.sh from the root Dockerfile (on the base made
 * from this machine's Node) and pushed to the local registry: the CLI answers, the worker starts
 * against the real Temporal dev server with a mounted configuration, logs its ready line and exits
 * 0 on `docker stop` (SIGTERM), as a non-root user; `tandem serve` answers its health route and
 * lists releases for a configured bearer token (401 without). Cached layers make a re-run take seconds; the
 * first build takes minutes (npm ci twice, tsc, the workflow bundle).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { hashToken } from '../../src/serve/auth/token-hash';
import { freePort } from '../helpers/processes';
import { ADDRESS, NAMESPACE, ROOT, ensureTemporal, uniqueQueue } from '../helpers/temporal';

const run = promisify(execFile);
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const CONTAINER = `tandem-image-it-${randomBytes(4).toString('hex')}`;
const configDir = mkdtempSync(join(tmpdir(), 'tandem-image-config-'));

async function docker(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run('docker', args, { maxBuffer: 16 * 1024 * 1024, timeout: 120_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: unknown; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? String(error) };
  }
}

let image = '';

describe("tandem's image", () => {
  before(
    async () => {
      ensureTemporal();
      const started = Date.now();
      const { stdout } = await run('bash', [join(ROOT, 'scripts/image-build.sh')], { cwd: ROOT, maxBuffer: 64 * 1024 * 1024, timeout: 40 * 60_000 });
      image = stdout.trim().split('\n').pop()!;
      assert.equal(image, `127.0.0.1:5000/tandem:${VERSION}`);
      process.stderr.write(`image ${image} built in ${Math.round((Date.now() - started) / 1000)} s\n`);
    },
    { timeout: 40 * 60_000 },
  );

  after(async () => {
    await docker('rm', '-f', CONTAINER);
    rmSync(configDir, { recursive: true, force: true });
  });

  it('is in the local registry, labelled the OCI way, and runs as a non-root user', async () => {
    const manifest = await fetch(`http://127.0.0.1:5000/v2/tandem/manifests/${VERSION}`, {
      headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json' },
    });
    assert.equal(manifest.status, 200, 'pushed to 127.0.0.1:5000');

    const { stdout } = await docker('image', 'inspect', '-f', '{{json .Config}}', image);
    const config = JSON.parse(stdout) as { User: string; Entrypoint: string[]; Cmd: string[]; Labels: Record<string, string> };
    assert.deepEqual(config.Entrypoint, ['node', 'bin/tandem.js']);
    assert.deepEqual(config.Cmd, ['worker']);
    assert.ok(config.User && !/^(0|root)(:|$)/.test(config.User), `Config.User is ${JSON.stringify(config.User)}`);
    assert.equal(config.Labels['org.opencontainers.image.title'], 'tandem');
    assert.equal(config.Labels['org.opencontainers.image.version'], VERSION);
    assert.equal(config.Labels['org.opencontainers.image.licenses'], 'Apache-2.0');
    assert.match(config.Labels['org.opencontainers.image.revision'] ?? '', /^[0-9a-f]{40}(-dirty)?$/);
    for (const key of ['description', 'source']) assert.ok(`org.opencontainers.image.${key}` in config.Labels, key);

    const uid = await docker('run', '--rm', '--entrypoint', 'node', image, '-e', 'process.stdout.write(`${process.getuid()} ${require("os").homedir()}`)');
    assert.equal(uid.code, 0, uid.stderr);
    const [id, home] = uid.stdout.split(' ');
    assert.notEqual(id, '0');
    assert.equal(home, '/home/tandem');
    // production dependencies only: no TypeScript, no tsx; the compiled CLI and the workflow bundle
    const files = await docker('run', '--rm', '--entrypoint', 'node', image, '-e',
      'const fs = require("fs"); process.stdout.write(JSON.stringify(["node_modules/typescript", "node_modules/tsx", "src", "dist/cli/main.js", "dist/workflow-bundle.js"].map((p) => fs.existsSync(p))))');
    assert.deepEqual(JSON.parse(files.stdout), [false, false, false, true, true], files.stderr);
  });

  it('answers `--help` with the commands', async () => {
    const help = await docker('run', '--rm', '--network', 'host', image, '--help');
    assert.equal(help.code, 0, help.stderr);
    for (const command of ['release', 'versions', 'rollback', 'history', 'worker', 'gateway', 'serve']) assert.match(help.stdout, new RegExp(`^  ${command}\\b`, 'm'), command);
  });

  it('runs a worker against Temporal with a mounted config, and stops on docker stop (SIGTERM) with exit 0', { timeout: 180_000 }, async () => {
    const taskQueue = uniqueQueue('image');
    writeFileSync(
      join(configDir, 'tandem.config.yaml'),
      [
        `taskQueue: ${taskQueue}`,
        'environments:',
        '  local:',
        '    target: { kind: docker }',
        '    registry: { url: 127.0.0.1:5000, insecure: true }',
        '    traffic: { router: gateway, url: http://127.0.0.1:7071 }',
        '',
      ].join('\n'),
    );
    chmodSync(configDir, 0o755); // readable by the image's user
    chmodSync(join(configDir, 'tandem.config.yaml'), 0o644);
    // A worker that serves health and metrics gets a free port: the host's network is shared.
    const workerHelp = await docker('run', '--rm', image, 'worker', '--help');
    const portArgs = workerHelp.stdout.includes('--health-port') ? ['--health-port', '0'] : [];
    const started = await docker(
      'run', '-d', '--name', CONTAINER, '--network', 'host',
      '-e', `TEMPORAL_ADDRESS=${ADDRESS}`, '-e', `TEMPORAL_NAMESPACE=${NAMESPACE}`,
      '-e', `TANDEM_GATEWAY_TOKEN=${randomBytes(16).toString('hex')}`,
      '-v', `${configDir}:/config:ro`,
      image, 'worker', '--config', '/config/tandem.config.yaml', ...portArgs,
    );
    assert.equal(started.code, 0, started.stderr);

    const deadline = Date.now() + 90_000;
    let logs = '';
    while (Date.now() < deadline) {
      const out = await docker('logs', CONTAINER);
      logs = out.stdout + out.stderr;
      if (logs.includes(`tandem worker: task queue "${taskQueue}"`)) break;
      const state = await docker('inspect', '-f', '{{.State.Running}}', CONTAINER);
      assert.equal(state.stdout.trim(), 'true', `the worker exited before it was ready:\n${logs}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    assert.match(logs, new RegExp(`tandem worker: task queue "${taskQueue}", environments local \\(/config/tandem.config.yaml\\)`), logs);

    const stopped = await docker('stop', '-t', '60', CONTAINER);
    assert.equal(stopped.code, 0, stopped.stderr);
    const exit = await docker('inspect', '-f', '{{.State.ExitCode}} {{.State.OOMKilled}}', CONTAINER);
    assert.equal(exit.stdout.trim(), '0 false', `exit code after SIGTERM; logs:\n${(await docker('logs', CONTAINER)).stderr}`);
  });

  it('runs `tandem serve` against Temporal: health, releases for a configured token, 401 without, exit 0 on docker stop', { timeout: 180_000 }, async () => {
    const help = await docker('run', '--rm', image, 'serve', '--help');
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /--port <port>/);

    const token = randomBytes(32).toString('hex');
    const taskQueue = uniqueQueue('image-serve');
    const dir = mkdtempSync(join(configDir, 'serve-'));
    writeFileSync(
      join(dir, 'tandem.config.yaml'),
      [
        `taskQueue: ${taskQueue}`,
        'environments:',
        '  local: { target: { kind: docker }, registry: { url: 127.0.0.1:5000, insecure: true } }',
        'serve:',
        `  tokens: [{ name: image-test, sha256: ${hashToken(token)} }]`,
        '',
      ].join('\n'),
    );
    chmodSync(configDir, 0o755);
    chmodSync(dir, 0o755);
    chmodSync(join(dir, 'tandem.config.yaml'), 0o644);
    const port = await freePort();
    const name = `${CONTAINER}-serve`;
    const started = await docker(
      'run', '-d', '--name', name, '--network', 'host', '--read-only', '--cap-drop', 'ALL',
      '-e', `TEMPORAL_ADDRESS=${ADDRESS}`, '-e', `TEMPORAL_NAMESPACE=${NAMESPACE}`,
      '-v', `${dir}:/config:ro`,
      image, 'serve', '--config', '/config/tandem.config.yaml', '--host', '127.0.0.1', '--port', String(port),
    );
    assert.equal(started.code, 0, started.stderr);
    try {
      const url = `http://127.0.0.1:${port}`;
      const deadline = Date.now() + 90_000;
      let logs = '';
      while (Date.now() < deadline) {
        const out = await docker('logs', name);
        logs = out.stdout + out.stderr;
        if (logs.includes('tandem serve: API at')) break;
        const state = await docker('inspect', '-f', '{{.State.Running}}', name);
        assert.equal(state.stdout.trim(), 'true', `serve exited before it listened:\n${logs}`);
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      assert.ok(logs.includes(`tandem serve: API at ${url}/api/`), logs);
      assert.deepEqual(await (await fetch(`${url}/healthz`)).json(), { status: 'ok' });
      assert.equal((await fetch(`${url}/api/releases`)).status, 401);
      const listed = await fetch(`${url}/api/releases`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(listed.status, 200, await listed.clone().text());
      assert.deepEqual(await listed.json(), [], 'a fresh task queue has no releases');

      const stopped = await docker('stop', '-t', '30', name);
      assert.equal(stopped.code, 0, stopped.stderr);
      const exit = await docker('inspect', '-f', '{{.State.ExitCode}}', name);
      assert.equal(exit.stdout.trim(), '0', `exit code after SIGTERM; logs:\n${(await docker('logs', name)).stdout}`);
      assert.ok(!(await docker('logs', name)).stdout.includes(token), 'the token is not logged');
    } finally {
      await docker('rm', '-f', name);
    }
  });
});
