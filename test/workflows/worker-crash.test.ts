/**
 * Nothing is lost: a worker killed for real (SIGKILL) in the middle of a release, then a new
 * worker started; the release completes and no activity that had completed runs again.
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runningVersion } from '../doubles/world';
import { connectClient, ensureTemporal, ROOT, uniqueQueue } from '../helpers/temporal';

const SPEC = 'port: 8080\nrollout:\n  strategy: canary\n  steps:\n    - setWeight: 30\n    - pause: { duration: 4s }\n    - setWeight: 60\n';

function startWorkerProcess(queue: string, dir: string, specFile: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test/helpers/double-worker.ts'), queue, dir, specFile], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve(child));
    child.once('exit', (code) => reject(new Error(`worker exited early with ${code}`)));
  });
}

function completions(dir: string): { pid: string; name: string; input: string }[] {
  const file = join(dir, 'completed.log');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [pid, name, ...rest] = line.split(' ');
      return { pid: pid!, name: name!, input: rest.join(' ') };
    });
}

describe('worker killed mid-release', () => {
  before(() => ensureTemporal());

  it('a new worker finishes the release and no completed activity runs twice', async () => {
    const queue = uniqueQueue('crash');
    const dir = mkdtempSync(join(tmpdir(), 'tandem-crash-'));
    const specFile = join(dir, 'tandem.yaml');
    writeFileSync(specFile, SPEC);
    writeFileSync(join(dir, 'world.json'), JSON.stringify({ running: [runningVersion('v1.0.0')], traffic: { weights: { 'v1.0.0': 100 }, pinned: ['v1.0.0'], stable: 'v1.0.0' } }));
    const client = await connectClient(queue);
    let first: ChildProcess | undefined = await startWorkerProcess(queue, dir, specFile);
    let second: ChildProcess | undefined;
    try {
      const handle = await client.start({ model: queue, tag: 'v2.0.0', environment: 'test', repoUrl: '/nowhere' });
      // Wait until the canary took 30% and the release sits in its pause, then kill the worker.
      for (let i = 0; i < 200 && !completions(dir).some((c) => c.name === 'setTraffic' && c.input.includes('"v2.0.0":30')); i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
      const beforeKill = completions(dir);
      assert.ok(beforeKill.some((c) => c.name === 'setTraffic' && c.input.includes('"v2.0.0":30')), 'killed during the pause after the 30% step');
      first.kill('SIGKILL');
      await new Promise((r) => first!.once('exit', r));
      first = undefined;

      second = await startWorkerProcess(queue, dir, specFile);
      const status = await client.wait(handle);
      assert.equal(status.outcome, 'promoted');

      const all = completions(dir);
      const pids = new Set(all.map((c) => c.pid));
      assert.equal(pids.size, 2, 'both workers completed activities');
      for (const done of beforeKill.filter((c) => c.name !== 'describeModel' && c.name !== 'setTraffic')) {
        assert.equal(all.filter((c) => c.name === done.name && c.input === done.input).length, 1, `${done.name} ran once`);
      }
      const distinct = new Set(all.map((c) => `${c.name} ${c.input}`));
      assert.equal(distinct.size, all.length - countSameCallsByDesign(all), 'no activity call was repeated');
      for (const name of ['resolveTag', 'buildImage', 'deployVersion', 'verifyVersion']) {
        assert.equal(all.filter((c) => c.name === name).length, 1, `${name} ran exactly once`);
      }
    } finally {
      first?.kill('SIGKILL');
      second?.kill('SIGTERM');
      await client.close();
    }
  });
});

/** describeModel runs twice by design (start and promote) with the same input. */
function countSameCallsByDesign(all: { name: string; input: string }[]): number {
  return Math.max(0, all.filter((c) => c.name === 'describeModel').length - 1);
}
