/**
 * The soak survives its worker: a worker killed for real (SIGKILL) while a promotion soaks, a new
 * worker started; the soak ends on the timer it started with (workflow time, not restarted) and
 * the automatic release to prod runs once, with staging's digest.
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readPromotion } from '../../src/client/promotion';
import type { PromotionStatus } from '../../src/workflows/promotion-messages';
import type { ReleaseStatus } from '../../src/workflows/messages';
import { connectClient, ensureTemporal, ROOT, uniqueQueue } from '../helpers/temporal';
import { ANALYSED_SPEC } from '../helpers/two-environments';

function startWorkerProcess(queue: string, dir: string, configFile: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test/helpers/path-worker.ts'), queue, dir, configFile], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve(child));
    child.once('exit', (code) => reject(new Error(`worker exited early with ${code}`)));
  });
}

async function poll<T>(read: () => Promise<T | undefined>, pred: (value: T) => boolean, what: string): Promise<T> {
  for (let i = 0; i < 600; i++) {
    const value = await read().catch(() => undefined);
    if (value !== undefined && pred(value)) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} not reached in 60s`);
}

describe('worker killed during the soak', () => {
  before(() => ensureTemporal());

  it('a new worker resumes the soak and starts the prod release once', async () => {
    const queue = uniqueQueue('soak-crash');
    const dir = mkdtempSync(join(tmpdir(), 'tandem-soak-'));
    const configFile = join(dir, 'config.json');
    writeFileSync(configFile, JSON.stringify({ specs: { v1: ANALYSED_SPEC }, path: ['staging', { environment: 'prod', soak: '8s', auto: true }] }));
    const client = await connectClient(queue);
    let worker: ChildProcess | undefined = await startWorkerProcess(queue, dir, configFile);
    try {
      const staged = await client.wait(await client.start({ model: queue, tag: 'v1', environment: 'staging', repoUrl: '/nowhere', requestedBy: 'ci' }));
      const soaking = await poll(() => readPromotion(client, queue, 'staging', 'v1'), (p) => p.state === 'soaking' && p.history.length > 1, 'soaking');
      worker.kill('SIGKILL');
      await new Promise((r) => worker!.once('exit', r));
      worker = await startWorkerProcess(queue, dir, configFile);

      const released = await poll<PromotionStatus>(() => readPromotion(client, queue, 'staging', 'v1'), (p) => p.state === 'released', 'released');
      assert.equal(released.soakUntil, soaking.soakUntil, 'the same soak, not restarted');
      assert.equal(released.history.filter((h) => h.message.startsWith('soaking in staging until')).length, 1);
      const prod = await poll<ReleaseStatus>(() => client.status(queue, 'prod'), (r) => r.outcome !== undefined, 'prod outcome');
      assert.equal(prod.outcome, 'promoted', prod.reason);
      assert.equal(prod.digest, staged.digest);
      assert.equal(prod.promotedFrom?.releaseId, staged.releaseId);
      const history = await client.history(queue, 'prod');
      assert.equal(history.filter((h) => h.kind === 'release').length, 1, 'one prod release');
    } finally {
      worker?.kill('SIGKILL');
      await client.close();
    }
  });
});
