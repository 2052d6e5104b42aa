/**
 * `tandem worker` as a service: /healthz, /readyz and Prometheus /metrics (the SDK's runtime
 * metrics and tandem's own release counters) scraped during a real release on the Docker target,
 * JSON log lines with --log-format json, and SIGTERM draining it to exit 0. Gateway and worker run
 * as separate processes, as the README shows them.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { createExampleRepo } from '../../scripts/example-repo';
import { removeModelContainers } from '../../scripts/stack';
import { daemon, dockerConfig, freePort, tandem, type Daemon } from '../helpers/processes';
import { ADDRESS, NAMESPACE, ensureTemporal } from '../helpers/temporal';

const MODEL = `svc-${randomBytes(3).toString('hex')}`;
const env = { ...process.env, TEMPORAL_ADDRESS: ADDRESS, TEMPORAL_NAMESPACE: NAMESPACE, TANDEM_GATEWAY_TOKEN: `token-${randomBytes(6).toString('hex')}`, TANDEM_ACTOR: 'svc-test' };

describe('tandem worker as a service', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-svc-'));
  let gateway: Daemon | undefined;
  let worker: Daemon | undefined;
  let health = '';
  let config = '';

  before(async () => {
    ensureTemporal();
    const { path: repo } = await createExampleRepo(join(dir, 'repo'));
    const [port, adminPort, healthPort] = [await freePort(), await freePort(), await freePort()];
    config = join(dir, 'tandem.config.yaml');
    writeFileSync(config, dockerConfig(MODEL, repo, adminPort));
    gateway = await daemon(['gateway', '--port', String(port), '--admin-port', String(adminPort), '--state-dir', join(dir, 'gateway')], /tandem gateway: models at/, env);
    worker = await daemon(['worker', '--config', config, '--health-host', '127.0.0.1', '--health-port', String(healthPort), '--log-format', 'json', '--identity', `svc-${MODEL}`], /"message":"tandem worker: ready"/, env);
    health = `http://127.0.0.1:${healthPort}`;
  });

  after(async () => {
    for (const p of [worker, gateway]) p?.child.kill('SIGKILL');
    await removeModelContainers(new Docker(), MODEL).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves /healthz and /readyz once it polls its task queue', async () => {
    assert.equal((await fetch(`${health}/healthz`)).status, 200);
    const ready = await fetch(`${health}/readyz`);
    assert.equal(ready.status, 200, await ready.text());
    assert.equal((await fetch(`${health}/nope`)).status, 404);
  });

  it('logs JSON lines with --log-format json', () => {
    const lines = worker!.output().split('\n').filter(Boolean);
    assert.ok(lines.length >= 1);
    for (const line of lines) {
      const entry = JSON.parse(line) as { time: string; level: string; message: string };
      assert.ok(entry.time && entry.level && entry.message, line);
    }
    const ready = lines.map((l) => JSON.parse(l) as { message: string; taskQueue?: string; health?: string; identity?: string }).find((e) => e.message === 'tandem worker: ready');
    assert.equal(ready?.taskQueue, `tandem-${MODEL}`);
    assert.equal(ready?.health, health);
    assert.equal(ready?.identity, `svc-${MODEL}`, '--identity names the worker (two containers on the host network would both be 1@host)');
  });

  it('/metrics during a real release: tandem release counters by model, environment and outcome, and the SDK runtime metrics', async () => {
    const release = await tandem(env, 'release', 'start', MODEL, 'v1.0.0', '--config', config, '--wait');
    assert.equal(release.code, 0, release.out);
    const failed = await tandem(env, 'release', 'start', MODEL, 'v1.3.0', '--config', config, '--wait');
    assert.equal(failed.code, 1, failed.out);
    // The SDK exports on its own schedule: read until the counters are in.
    let text = '';
    for (let i = 0; i < 40; i++) {
      text = await (await fetch(`${health}/metrics`)).text();
      if (/tandem_releases_finished_total\{[^}]*outcome="failed"/.test(text)) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const sample = (name: string, labels: Record<string, string>) =>
      text.split('\n').find((line) => line.startsWith(`${name}{`) && Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`)));
    assert.match(sample('tandem_releases_started_total', { model: MODEL, environment: 'local' }) ?? '', / 2$/);
    assert.match(sample('tandem_releases_finished_total', { model: MODEL, outcome: 'promoted' }) ?? '', / 1$/);
    assert.match(sample('tandem_releases_finished_total', { model: MODEL, outcome: 'failed' }) ?? '', / 1$/);
    assert.ok(sample('tandem_release_stage_duration_seconds_bucket', { model: MODEL, stage: 'building' }), 'stage durations as a histogram');
    assert.match(text, /^temporal_workflow_completed_total\{/m, 'the SDK runtime metrics');
    assert.match(text, /^temporal_activity_execution_latency_bucket\{/m);
  });

  it('SIGTERM drains: not ready any more, then exit 0', async () => {
    // A worker of its own: the signal goes to the process this case started, and the other cases keep theirs.
    const port = await freePort();
    const own = await daemon(['worker', '--config', config, '--health-host', '127.0.0.1', '--health-port', String(port), '--log-format', 'json'], /"message":"tandem worker: ready"/, env);
    try {
      assert.equal((await fetch(`http://127.0.0.1:${port}/readyz`)).status, 200);
      own.child.kill('SIGTERM');
      assert.equal(await own.exited, 0, own.output());
      await assert.rejects(fetch(`http://127.0.0.1:${port}/readyz`), 'the endpoint is closed with the worker');
    } finally {
      if (own.child.exitCode === null && own.child.signalCode === null) own.child.kill('SIGKILL');
    }
  });
});
