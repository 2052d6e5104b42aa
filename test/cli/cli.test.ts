/**
 * The `tandem` command as CI and operators use it, run as a real process against the real dev
 * server and a worker with activity doubles: exit codes 0 / 1 / 2, --wait, --json, refusals.
 */
import { afterEach, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createWorld, runningVersion, specs } from '../doubles/world';
import { ensureTemporal, NAMESPACE, ROOT, startWorker, uniqueQueue, type RunningWorker } from '../helpers/temporal';

// Each case gets its own (beforeEach): a task queue, a model named after it, a worker with a fresh
// world of doubles and a config file naming them, so no case reads what another released.
let model: string;
let worker: RunningWorker;
let config: string;

/** Runs the CLI as its own process (asynchronously: the worker in this process must keep running). */
function tandem(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return tandemWith(config, ...args);
}

function tandemWith(configFile: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(ROOT, 'bin/tandem.js'), '--config', configFile, ...args],
      { encoding: 'utf8', env: { ...process.env, TEMPORAL_NAMESPACE: NAMESPACE, TANDEM_ACTOR: 'ci-job-42' }, timeout: 60_000 },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr }),
    );
  });
}

describe('tandem CLI', () => {
  before(() => ensureTemporal());
  beforeEach(async () => {
    const queue = uniqueQueue('cli');
    model = queue;
    const world = createWorld({
      specs: { 'v2.0.0': specs.direct, 'v3.0.0': specs.direct, 'v4.0.0': specs.pauseForever },
      running: [runningVersion('v1.0.0')],
      traffic: { weights: { 'v1.0.0': 100 }, pinned: ['v1.0.0'], stable: 'v1.0.0' },
    });
    // v3.0.0 fails its health check, so a release of it is rolled back.
    world.activities.verifyVersion = async (input) => ({
      checks: [{ check: 'health', ok: input.version !== 'v3.0.0', observed: input.version === 'v3.0.0' ? 'status 503' : 'status 200' }],
    });
    worker = await startWorker(queue, world.activities);
    const dir = mkdtempSync(join(tmpdir(), 'tandem-cli-'));
    config = join(dir, 'tandem.config.yaml');
    writeFileSync(
      config,
      [
        `taskQueue: ${queue}`,
        'environments:',
        '  staging:',
        '    target: { kind: docker }',
        '    registry: { url: 127.0.0.1:5000, insecure: true }',
        'models:',
        `  ${model}: { repo: /srv/models/${model}, environment: staging }`,
        '',
      ].join('\n'),
    );
  });
  afterEach(async () => worker.stop());

  it('release start --wait exits 0 when promoted and streams progress', async () => {
    const r = await tandem('release', 'start', model, 'v2.0.0', '--wait');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /started .* v2\.0\.0 → staging/);
    assert.match(r.stdout, /v2\.0\.0 is stable with 100% of traffic/);
  });

  it('release start --wait exits 1 when the release is rolled back, with the reason', async () => {
    const r = await tandem('release', 'start', model, 'v3.0.0', '--wait');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /check "health" failed: status 503/);
  });

  it('bad input exits 2 and names the problem: missing tag, bad tag name, unknown environment', async () => {
    const missing = await tandem('release', 'start', model, 'v9.9.9', '--wait');
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /tag "v9\.9\.9" not found/);
    const bad = await tandem('release', 'start', model, 'v1..0');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /not a valid Git tag name/);
    const env = await tandem('release', 'start', model, 'v2.0.0', '--env', 'prod');
    assert.equal(env.code, 2);
    assert.match(env.stderr, /environment "prod" is not in/);
  });

  it('operator commands: refused when nothing awaits them (exit 2), accepted with who and why', async () => {
    const start = await tandem('release', 'start', model, 'v4.0.0');
    assert.equal(start.code, 0, start.stderr);
    let status = '';
    for (let i = 0; i < 50 && !status.includes('waiting for resume'); i++) status = (await tandem('release', 'status', model)).stdout;
    assert.match(status, /waiting for resume/);
    const approve = await tandem('release', 'approve', model, '--comment', 'lgtm');
    assert.equal(approve.code, 2);
    assert.match(approve.stderr, /approve refused: nothing awaits approval/);
    const second = await tandem('release', 'start', model, 'v2.0.0');
    assert.equal(second.code, 2);
    assert.match(second.stderr, /already has an active release in staging: v4\.0\.0/);
    const abort = await tandem('release', 'abort', model, '--reason', 'wrong build', '--json');
    assert.equal(abort.code, 0, abort.stderr);
    assert.deepEqual(
      (({ action, who, text, accepted }) => ({ action, who, text, accepted }))(JSON.parse(abort.stdout)),
      { action: 'abort', who: 'ci-job-42', text: 'wrong build', accepted: true },
    );
    const watch = await tandem('release', 'watch', model);
    assert.equal(watch.code, 1);
    assert.match(watch.stdout, /aborted by ci-job-42: wrong build/);
  });

  it('tandem worker refuses, naming the key, an environment it cannot serve', async () => {
    const bad = join(mkdtempSync(join(tmpdir(), 'tandem-cli-')), 'tandem.config.yaml');
    writeFileSync(bad, 'environments:\n  prod:\n    target: { kind: kubernetes, namespace: models }\n    registry: { url: 127.0.0.1:5000 }\n    traffic: { router: gateway }\n');
    const r = await tandemWith(bad, 'worker');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /environments\.prod\.traffic\.router: "gateway" .* use router: gateway-api or replica-ratio/);
  });

  it('status --json and history --json read finished releases', async () => {
    assert.equal((await tandem('release', 'start', model, 'v2.0.0', '--wait')).code, 0, 'promoted');
    assert.equal((await tandem('release', 'start', model, 'v3.0.0', '--wait')).code, 1, 'rolled back');
    assert.equal((await tandem('release', 'start', model, 'v9.9.9', '--wait')).code, 2, 'tag not found');
    assert.equal((await tandem('release', 'start', model, 'v4.0.0')).code, 0);
    let waiting = '';
    for (let i = 0; i < 50 && !waiting.includes('waiting for resume'); i++) waiting = (await tandem('release', 'status', model)).stdout;
    assert.match(waiting, /waiting for resume/);
    assert.equal((await tandem('release', 'abort', model, '--reason', 'done here')).code, 0);
    assert.equal((await tandem('release', 'watch', model)).code, 1, 'aborted: rolled back');

    const status = JSON.parse((await tandem('release', 'status', model, '--json')).stdout);
    assert.equal(status.outcome, 'rolled-back');
    assert.equal(status.version, 'v4.0.0');
    const history = JSON.parse((await tandem('history', model, '--json')).stdout) as { version: string }[];
    assert.deepEqual(history.map((h) => h.version).slice(0, 4).sort(), ['v2.0.0', 'v3.0.0', 'v4.0.0', 'v9.9.9']);
  });
});
