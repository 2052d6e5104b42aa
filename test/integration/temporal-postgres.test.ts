/**
 * tandem against a Temporal cluster run as a service (issue #10, items 3 and 4): the Temporal
 * server built from its Go module, on PostgreSQL, with the Web UI server, its frontend requiring
 * client certificates (scripts/temporal-pg-up.sh; the first run builds the server and the UI,
 * later runs reuse them). Mutual TLS is checked with tandem's own CLI, run as its own process and
 * configured only by the @temporalio/envconfig variables. Releases run with two worker processes
 * on one task queue; the one running the release is SIGKILLed mid-build, or mid-canary, and the
 * other completes it, each version built and deployed once.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { WorkflowHandle } from '@temporalio/client';
import { TandemClient } from '../../src/client';
import { runningVersion } from '../doubles/world';
import { ROOT, uniqueQueue } from '../helpers/temporal';

const UP = join(ROOT, 'scripts/temporal-pg-up.sh');
const NAMESPACE = 'tandem-test';
/** The client settings the script prints (TEMPORAL_ADDRESS, TEMPORAL_TLS_*). */
let tls: Record<string, string> = {};

/** The environment without any Temporal connection setting of the machine, plus `extra`. */
function envWith(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TEMPORAL_')));
  return { ...env, ...extra };
}

function upScript(): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [UP], { stdio: ['ignore', 'ignore', 'inherit'] });
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`temporal-pg-up.sh exited with ${code}`))));
  });
}

before(
  async () => {
    const started = Date.now();
    await upScript();
    console.log(`# temporal-pg-up.sh took ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const printed = execFileSync('bash', [UP, '--print-env'], { encoding: 'utf8' });
    tls = Object.fromEntries([...printed.matchAll(/^export (\w+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]));
    // This test process connects the way tandem does: through the envconfig variables.
    for (const key of Object.keys(process.env)) if (key.startsWith('TEMPORAL_')) delete process.env[key];
    Object.assign(process.env, tls, { TEMPORAL_NAMESPACE: NAMESPACE });
  },
  { timeout: 90 * 60_000 },
);

describe('Temporal on PostgreSQL: the service', () => {
  it('a second start reuses what runs', async () => {
    const pid = readFileSync(join(stateDir(), 'server.pid'), 'utf8');
    const started = Date.now();
    await upScript();
    assert.ok(Date.now() - started < 60_000, `reuse took ${Date.now() - started} ms`);
    assert.equal(readFileSync(join(stateDir(), 'server.pid'), 'utf8'), pid, 'the same server process');
  });

  it('the Web UI server serves the UI and reaches the frontend over mutual TLS', async () => {
    const ui = 'http://127.0.0.1:8243';
    const page = await fetch(`${ui}/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<html/i);
    const res = await fetch(`${ui}/api/v1/namespaces/${NAMESPACE}`);
    assert.equal(res.status, 200, await res.clone().text());
    const body = (await res.json()) as { namespaceInfo?: { name?: string } };
    assert.equal(body.namespaceInfo?.name, NAMESPACE);
  });
});

describe('mutual TLS, with tandem CLI processes', () => {
  const address = () => tls.TEMPORAL_ADDRESS!;
  function history(extra: Record<string, string>) {
    const run = spawnSync(process.execPath, [join(ROOT, 'bin/tandem.js'), 'history', 'some-model', '--env', 'x', '--json'], {
      cwd: tmpdir(),
      env: envWith({ TEMPORAL_NAMESPACE: NAMESPACE, ...extra }),
      encoding: 'utf8',
      timeout: 120_000,
    });
    return { status: run.status, stdout: run.stdout, stderr: run.stderr };
  }
  const withoutClientCert = () => Object.fromEntries(Object.entries(tls).filter(([k]) => !k.startsWith('TEMPORAL_TLS_CLIENT_')));

  it('a client with the certificate is served', () => {
    const run = history(tls);
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), []);
  });

  it('a client without a certificate is refused, naming the address', () => {
    const run = history(withoutClientCert());
    assert.equal(run.status, 1, run.stdout);
    assert.match(run.stderr, new RegExp(`cannot reach Temporal at ${address().replace(/\./g, '\\.')}`));
  });

  it('a client with a certificate from another CA is refused', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tandem-other-ca-'));
    try {
      const sh = (cmd: string) => execFileSync('bash', ['-c', cmd], { cwd: dir, stdio: 'ignore' });
      sh('openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -keyout ca.key -out ca.pem -subj "/CN=another CA"');
      sh('openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout client.key -out client.csr -subj "/CN=tandem-client"');
      sh('printf "extendedKeyUsage=clientAuth\\n" > ext && openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -out client.pem -extfile ext');
      const run = history({ ...tls, TEMPORAL_TLS_CLIENT_CERT_PATH: join(dir, 'client.pem'), TEMPORAL_TLS_CLIENT_KEY_PATH: join(dir, 'client.key') });
      assert.equal(run.status, 1, run.stdout);
      assert.match(run.stderr, /cannot reach Temporal at/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a client without TLS is refused', () => {
    const run = history({ TEMPORAL_ADDRESS: address() });
    assert.equal(run.status, 1, run.stdout);
    assert.match(run.stderr, /cannot reach Temporal at/);
  });
});

// --- two worker processes on one task queue -----------------------------------------------------

const CANARY = 'port: 8080\nrollout:\n  strategy: canary\n  steps:\n    - setWeight: 30\n    - pause: { duration: 8s }\n    - setWeight: 60\n';
const BUILD_MS = 8000;

function stateDir(): string {
  return join(process.env.TANDEM_HOME ?? join(process.env.HOME ?? '/root', '.cache/tandem'), 'temporal-pg');
}

interface Lane {
  queue: string;
  dir: string;
  workers: Map<number, ChildProcess>;
}

function startWorker(lane: Lane): Promise<ChildProcess> {
  const args = ['--import', 'tsx', join(ROOT, 'test/helpers/shared-world-worker.ts'), lane.queue, lane.dir, join(lane.dir, 'tandem.yaml'), 'v2.0.0', String(BUILD_MS)];
  const child = spawn(process.execPath, args, { cwd: ROOT, env: process.env, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) {
        lane.workers.set(child.pid!, child);
        resolve(child);
      }
    });
    child.once('exit', (code) => reject(new Error(`worker exited early with ${code}`)));
  });
}

async function newLane(prefix: string): Promise<Lane> {
  const lane: Lane = { queue: uniqueQueue(prefix), dir: mkdtempSync(join(tmpdir(), `tandem-${prefix}-`)), workers: new Map() };
  writeFileSync(join(lane.dir, 'tandem.yaml'), CANARY);
  writeFileSync(
    join(lane.dir, 'world.json'),
    JSON.stringify({ running: [runningVersion('v1.0.0')], traffic: { weights: { 'v1.0.0': 100 }, pinned: ['v1.0.0'], stable: 'v1.0.0' } }),
  );
  await Promise.all([startWorker(lane), startWorker(lane)]);
  return lane;
}

function lines(lane: Lane, file: string): { pid: number; name: string; input: string }[] {
  const path = join(lane.dir, file);
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [pid, name, ...rest] = line.split(' ');
      return { pid: Number(pid), name: name!, input: rest.join(' ') };
    });
}

async function waitFor(what: string, ok: () => boolean | Promise<boolean>, ms = 60_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

async function kill(lane: Lane, pid: number): Promise<void> {
  const child = lane.workers.get(pid);
  assert.ok(child, `pid ${pid} is one of this lane's workers (${[...lane.workers.keys()].join(', ')})`);
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
  lane.workers.delete(pid);
}

/** The worker process that completed the release workflow's latest workflow task (it holds the workflow). */
async function workflowOwner(handle: WorkflowHandle): Promise<number> {
  const history = await handle.fetchHistory();
  const done = (history.events ?? []).filter((e) => e.workflowTaskCompletedEventAttributes).at(-1);
  const identity = done?.workflowTaskCompletedEventAttributes?.identity ?? '';
  return Number(identity.split('@')[0]);
}

/** Each version built once and deployed once (completions), all later activities by the survivor. */
function assertOnceEach(lane: Lane, victim: number, completedBeforeKill: number): void {
  const completed = lines(lane, 'completed.log');
  assert.deepEqual(
    completed.filter((c) => c.name === 'buildImage').map((c) => JSON.parse(c.input).version),
    ['v2.0.0'],
    'built once',
  );
  assert.deepEqual(
    completed.filter((c) => c.name === 'deployVersion').map((c) => JSON.parse(c.input).version),
    ['v2.0.0'],
    'deployed once',
  );
  const after = completed.slice(completedBeforeKill);
  assert.ok(after.length > 0);
  assert.ok(
    after.every((c) => c.pid !== victim),
    'nothing completed by the killed worker after the kill',
  );
  const last = completed.filter((c) => c.name === 'setTraffic').at(-1)!;
  assert.match(last.input, /"weights":\{"v2\.0\.0":100\}/, `promoted: ${last.input}`);
}

describe('two worker processes on one task queue, against Temporal on PostgreSQL', () => {
  let client: TandemClient;
  const lanes: Lane[] = [];

  before(async () => {
    client = await TandemClient.connect({ namespace: NAMESPACE });
  });
  after(async () => {
    for (const lane of lanes) {
      for (const w of lane.workers.values()) w.kill('SIGKILL');
      rmSync(lane.dir, { recursive: true, force: true });
    }
    await client?.close();
  });

  it('the worker running the build is killed mid-build: the other builds and completes the release', { timeout: 5 * 60_000 }, async () => {
    const lane = await newLane('pg-build');
    lanes.push(lane);
    const tandem = await TandemClient.connect({ namespace: NAMESPACE, taskQueue: lane.queue });
    try {
      const handle = await tandem.start({ model: lane.queue, tag: 'v2.0.0', environment: 'test', repoUrl: '/nowhere' });
      await waitFor('the build to start', () => lines(lane, 'started.log').some((s) => s.name === 'buildImage'));
      const victim = lines(lane, 'started.log').find((s) => s.name === 'buildImage')!.pid;
      await sleep(1000);
      assert.equal(lines(lane, 'completed.log').filter((c) => c.name === 'buildImage').length, 0, 'killed while building');
      const completedBeforeKill = lines(lane, 'completed.log').length;
      await kill(lane, victim);

      const status = await tandem.wait(handle);
      assert.equal(status.outcome, 'promoted');
      const builds = lines(lane, 'started.log').filter((s) => s.name === 'buildImage');
      assert.deepEqual(
        builds.map((s) => s.pid === victim),
        [true, false],
        'the build started on the killed worker, then once on the other',
      );
      assertOnceEach(lane, victim, completedBeforeKill);
      await waitFor('the release in visibility (PostgreSQL)', async () =>
        (await tandem.history(lane.queue, 'test')).some((h) => h.version === 'v2.0.0' && h.status === 'COMPLETED'),
      );
    } finally {
      await tandem.close();
    }
  });

  it('the worker running the release is killed mid-canary: the other completes it', { timeout: 5 * 60_000 }, async () => {
    const lane = await newLane('pg-canary');
    lanes.push(lane);
    const tandem = await TandemClient.connect({ namespace: NAMESPACE, taskQueue: lane.queue });
    try {
      const handle = await tandem.start({ model: lane.queue, tag: 'v2.0.0', environment: 'test', repoUrl: '/nowhere' });
      await waitFor(
        'the canary at 30%',
        () => lines(lane, 'completed.log').some((c) => c.name === 'setTraffic' && c.input.includes('"v2.0.0":30')),
        3 * 60_000,
      );
      // In the pause: the release runs on the worker that completed its latest workflow task.
      await sleep(500);
      const victim = await workflowOwner(handle);
      assert.ok(lane.workers.has(victim), `the release runs on one of the two workers (identity pid ${victim})`);
      const completedBeforeKill = lines(lane, 'completed.log').length;
      assert.ok(!lines(lane, 'completed.log').some((c) => c.input.includes('"v2.0.0":60')), 'killed before the 60% step');
      await kill(lane, victim);

      const status = await tandem.wait(handle);
      assert.equal(status.outcome, 'promoted');
      assert.notEqual(await workflowOwner(handle), victim, 'the other worker finished the workflow');
      assertOnceEach(lane, victim, completedBeforeKill);
    } finally {
      await tandem.close();
    }
  });
});
