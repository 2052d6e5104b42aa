/**
 * The long-running commands as a user runs them: `./bin/tandem.js gateway` and `tandem worker` as
 * separate processes that keep serving until SIGINT or SIGTERM, then close and exit 0; bad
 * options exit 2 naming the option. The worker part needs the Temporal dev server.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ensureTemporal, NAMESPACE, ROOT, uniqueQueue } from '../helpers/temporal';

const TANDEM = join(ROOT, 'bin/tandem.js');
const dirs: string[] = [];
const tempDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-process-'));
  dirs.push(dir);
  return dir;
};

/** The environment of a user's shell without a gateway token, plus `extra`. */
function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  if (!('TANDEM_GATEWAY_TOKEN' in extra)) delete env.TANDEM_GATEWAY_TOKEN;
  return env;
}

interface Running {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function start(args: string[], env: NodeJS.ProcessEnv): Running {
  const child = spawn(process.execPath, [TANDEM, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { child, output: () => output, exited };
}

/** Waits until the process printed a line matching `pattern` (or fails with what it printed). */
async function printed(running: Running, pattern: RegExp, what: string, timeoutMs = 120_000): Promise<RegExpExecArray> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void running.exited.then(() => (exited = true));
  for (;;) {
    const match = pattern.exec(running.output());
    if (match) return match;
    if (exited || Date.now() > deadline) assert.fail(`${what}: not printed${exited ? ' (the process exited)' : ''}; output:\n${running.output()}`);
    await sleep(50);
  }
}

function run(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [TANDEM, ...args], { cwd: ROOT, env, encoding: 'utf8', timeout: 60_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr }),
    );
  });
}

const LISTENING = /models at (http:\/\/127\.0\.0\.1:\d+)\/<model>\/\.\.\.; admin API (http:\/\/127\.0\.0\.1:\d+)\/_tandem\/ \(bearer token in ([^)]+)\)/;

describe('tandem gateway as a process', () => {
  const running: Running[] = [];
  after(() => {
    for (const r of running) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('keeps serving until SIGTERM, then closes and exits 0; the token is written to the state dir, never printed', async () => {
    const stateDir = tempDir();
    const gateway = start(['gateway', '--port', '0', '--admin-port', '0', '--state-dir', stateDir], userEnv());
    running.push(gateway);
    const [, url, adminUrl, tokenFile] = await printed(gateway, LISTENING, 'the listening line');
    assert.equal(tokenFile, join(stateDir, 'admin-token'));
    const token = readFileSync(tokenFile!, 'utf8').trim();
    assert.ok(!gateway.output().includes(token), 'the token is not printed');

    await sleep(4000);
    assert.equal(gateway.child.exitCode, null, `still running after 4 s; output:\n${gateway.output()}`);
    const proxied = await fetch(`${url}/nobody/predict`);
    assert.equal(proxied.status, 404, 'the proxy port answers');
    assert.match(((await proxied.json()) as { error: string }).error, /no routes for model "nobody"/);
    assert.equal((await fetch(`${adminUrl}/_tandem/healthz`)).status, 200);
    assert.equal((await fetch(`${adminUrl}/_tandem/models`)).status, 401);
    const models = await fetch(`${adminUrl}/_tandem/models`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(models.status, 200);
    assert.equal((await fetch(`${url}/_tandem/models`, { headers: { authorization: `Bearer ${token}` } })).status, 404);

    gateway.child.kill('SIGTERM');
    assert.deepEqual(await gateway.exited, { code: 0, signal: null }, gateway.output());
    assert.match(gateway.output(), /SIGTERM, closing/);
    await assert.rejects(fetch(`${url}/nobody/predict`), 'the port is closed');
  });

  it('stops on SIGINT too, and takes the token from --admin-token-env when that variable is set', async () => {
    const stateDir = tempDir();
    const gateway = start(
      ['gateway', '--port', '0', '--admin-port', '0', '--state-dir', stateDir, '--admin-token-env', 'MY_GATEWAY_TOKEN'],
      userEnv({ MY_GATEWAY_TOKEN: 'token-from-the-environment' }),
    );
    running.push(gateway);
    const [, , adminUrl, source] = await printed(gateway, LISTENING, 'the listening line');
    assert.equal(source, '$MY_GATEWAY_TOKEN');
    const models = await fetch(`${adminUrl}/_tandem/models`, { headers: { authorization: 'Bearer token-from-the-environment' } });
    assert.equal(models.status, 200);
    gateway.child.kill('SIGINT');
    assert.deepEqual(await gateway.exited, { code: 0, signal: null }, gateway.output());
  });

  it('exits 2 naming the option for a bad port or duration', async () => {
    for (const [option, value] of [
      ['--port', 'abc'],
      ['--admin-port', '70000'],
      ['--upstream-timeout', 'soon'],
    ] as const) {
      const result = await run(['gateway', option, value, '--state-dir', tempDir()], userEnv());
      assert.equal(result.code, 2, `${option} ${value}: ${result.stderr}`);
      assert.match(result.stderr, new RegExp(`option '${option} <\\w+>' argument '${value}' is invalid`));
    }
  });
});

describe('tandem worker as a process', () => {
  after(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  const configFile = (queue: string, traffic: string): string => {
    const file = join(tempDir(), 'tandem.config.yaml');
    writeFileSync(
      file,
      [`taskQueue: ${queue}`, 'environments:', '  local:', '    target: { kind: docker }', '    registry: { url: 127.0.0.1:5000, insecure: true }', `    traffic: ${traffic}`, ''].join('\n'),
    );
    return file;
  };

  it('refuses to start without the gateway token, naming the key (exit 2)', async () => {
    const config = configFile(uniqueQueue('proc'), '{ router: gateway, tokenFile: /nonexistent/admin-token }');
    const result = await run(['--config', config, 'worker'], userEnv());
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /environments\.local\.traffic\.tokenFile: no admin token for the gateway/);
  });

  it('runs until SIGTERM, then shuts down and exits 0', async () => {
    ensureTemporal();
    const queue = uniqueQueue('proc');
    const config = configFile(queue, '{ router: gateway }');
    const worker = start(['--config', config, 'worker'], userEnv({ TANDEM_GATEWAY_TOKEN: 'worker-test', TEMPORAL_NAMESPACE: NAMESPACE }));
    try {
      await printed(worker, new RegExp(`tandem worker: task queue "${queue}"`), 'the worker start line', 180_000);
      await sleep(3000);
      assert.equal(worker.child.exitCode, null, `still running after 3 s; output:\n${worker.output()}`);
      worker.child.kill('SIGTERM');
      assert.deepEqual(await worker.exited, { code: 0, signal: null }, worker.output());
    } finally {
      if (worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill('SIGKILL');
    }
  });
});
