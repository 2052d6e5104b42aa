/**
 * A model's path on real parts: staging on the Docker engine of scripts/docker-up.sh, prod on a
 * second engine (scripts/docker-second-up.sh), each behind its own tandem gateway with live
 * traffic, one registry, one worker for both environments, the real Temporal dev server. Given
 * `path: [staging, { environment: prod, soak: 5s, requireAnalysis: true, auto: true }]`:
 * a version promoted in staging with its analysis passing is released to prod by digest after the
 * soak, once, without a build; moving its Git tag meanwhile changes nothing prod gets; a version
 * rolled back in staging never becomes eligible; a first release (no analysis ran) is blocked and
 * reaches prod only by an override, recorded.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { RegistryClient } from '../../src/activities/image';
import { TandemClient } from '../../src/client';
import { eligibility, readPromotion, startPromoted } from '../../src/client/promotion';
import { configSchema, type Config } from '../../src/config/schema';
import { adminTokenPath, resolveAdminToken, startGateway, type Gateway } from '../../src/gateway';
import { startWorker, type WorkerHandle } from '../../src/worker';
import type { PromotionStatus } from '../../src/workflows/promotion-messages';
import type { ReleaseStatus } from '../../src/workflows/messages';
import { createExampleRepo } from '../../scripts/example-repo';
import { removeModelContainers, sample, sendTraffic, up } from '../../scripts/stack';
import { ROOT } from '../helpers/temporal';
import { releaseFails, untilStatus } from '../helpers/release-story';

const MODEL = `fdp-${Date.now().toString(36).slice(-6)}`;
const NAMESPACE = 'tandem-test';
const REGISTRY = '127.0.0.1:5000';

describe('a model path across two Docker environments', { timeout: 15 * 60_000 }, () => {
  const workDir = mkdtempSync(join(tmpdir(), 'tandem-e2e-path-'));
  const engines: Record<'staging' | 'prod', Docker> = { staging: new Docker(), prod: new Docker({ socketPath: '/var/run/tandem-docker2.sock' }) };
  const gateways: Partial<Record<'staging' | 'prod', Gateway>> = {};
  const traffic: ReturnType<typeof sendTraffic>[] = [];
  let worker: WorkerHandle;
  let client: TandemClient;
  let config: Config;
  let repo: string;

  const approveWhenAsked = async (env: string) => {
    await untilStatus(client, MODEL, env, (s) => s.waitingFor === 'approval', `the approval gate in ${env}`, 180_000);
    await client.act(MODEL, env, 'approve', { who: `${env}-lead` });
  };
  const promotion = async (version: string, pred: (p: PromotionStatus) => boolean, what: string) => {
    for (let i = 0; i < 1200; i++) {
      const p = await readPromotion(client, MODEL, 'staging', version).catch(() => undefined);
      if (p && pred(p)) return p;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`promotion of ${version}: ${what} not reached`);
  };

  before(async () => {
    up('temporal-up.sh');
    up('docker-up.sh');
    execFileSync('bash', [join(ROOT, 'scripts/docker-second-up.sh')], { stdio: 'ignore' });
    repo = (await createExampleRepo(join(workDir, 'fraud-detector'))).path;
    const environments: Record<string, unknown> = {};
    for (const env of ['staging', 'prod'] as const) {
      const stateDir = join(workDir, `gateway-${env}`);
      const { token } = await resolveAdminToken(stateDir);
      gateways[env] = await startGateway({ port: 0, adminPort: 0, adminToken: token, stateDir, docker: engines[env], refreshIntervalMs: 1000, log: () => undefined });
      environments[env] = {
        target: { kind: 'docker', network: 'tandem', ...(env === 'prod' ? { host: 'unix:///var/run/tandem-docker2.sock' } : {}) },
        registry: { url: REGISTRY, insecure: true },
        traffic: { router: 'gateway', url: gateways[env]!.adminUrl, tokenFile: adminTokenPath(stateDir) },
        build: { buildArgs: { BASE_IMAGE: 'tandem/node-base:20' } },
      };
    }
    config = configSchema.parse({
      taskQueue: `tandem-${MODEL}`,
      environments,
      models: { [MODEL]: { repo, environment: 'staging', path: ['staging', { environment: 'prod', soak: '5s', requireAnalysis: true, auto: true }] } },
    });
    worker = await startWorker(config, { cacheDir: join(workDir, 'worker'), namespace: NAMESPACE });
    client = await TandemClient.connect({ namespace: NAMESPACE, taskQueue: config.taskQueue });
  });

  after(async () => {
    for (const t of traffic) await t.stop();
    await client?.close();
    await worker?.stop();
    for (const env of ['staging', 'prod'] as const) {
      await gateways[env]?.close();
      await removeModelContainers(engines[env], MODEL).catch(() => undefined);
    }
  });

  it('staging promotes, prod gets the same digest after the soak; moved tags and staging rollbacks change nothing prod gets', async (t) => {
    const path = config.models[MODEL]!.path;
    const start = (tag: string, environment = 'staging', requestedBy = 'ci') => ({ model: MODEL, tag, environment, repoUrl: repo, requestedBy });
    let v100: ReleaseStatus;

    await t.test('v1.0.0, a first release in staging (no analysis ran), is blocked for prod; an override releases it by digest', async () => {
      v100 = await client.wait(await client.start(start('v1.0.0')));
      assert.equal(v100.outcome, 'promoted');
      const blocked = await promotion('v1.0.0', (p) => p.state === 'blocked', 'blocked');
      assert.match(blocked.reason!, /^analysis did not pass in staging: no analysis ran/);
      const checked = await eligibility(client, MODEL, 'v1.0.0', 'prod', path);
      assert.ok(checked.onPath);
      const prod = await client.wait(await startPromoted(client, start('v1.0.0', 'prod', 'alice'), checked, { reason: 'bootstrap prod' }));
      assert.equal(prod.outcome, 'promoted', prod.reason);
      assert.equal(prod.digest, v100.digest);
      assert.deepEqual(prod.promotedFrom?.override, { by: 'alice', reason: 'bootstrap prod', unmet: blocked.reason });
      traffic.push(sendTraffic(gateways.staging!.url, MODEL, 20), sendTraffic(gateways.prod!.url, MODEL, 20));
    });

    await t.test('v1.1.0 passes its analysis in staging under live traffic; during the soak its Git tag moves; prod gets what staging promoted', async () => {
      const handle = await client.start(start('v1.1.0'));
      await approveWhenAsked('staging');
      const staged = await client.wait(handle);
      assert.equal(staged.outcome, 'promoted', staged.reason);
      assert.ok(staged.measurements!.length > 0 && staged.measurements!.every((m) => m.verdict === 'pass'));
      const soaking = await promotion('v1.1.0', (p) => p.state !== 'soaking' || p.history.length > 1, 'soaking');
      assert.equal(soaking.state, 'soaking');
      // The tag now names v1.2.0's commit (broken at runtime): a re-resolved prod release would get it.
      execFileSync('git', ['-C', repo, 'tag', '-f', 'v1.1.0', 'v1.2.0'], { stdio: 'ignore' });
      const moved = execFileSync('git', ['-C', repo, 'rev-parse', 'v1.1.0^{commit}'], { encoding: 'utf8' }).trim();
      assert.notEqual(moved, staged.commit);

      const released = await promotion('v1.1.0', (p) => p.state === 'released', 'released');
      assert.equal(released.release?.auto, true);
      await approveWhenAsked('prod');
      const prod = await untilStatus(client, MODEL, 'prod', (s) => s.version === 'v1.1.0' && s.outcome === 'promoted', 'prod promoted', 180_000);
      assert.deepEqual({ digest: prod.digest, commit: prod.commit }, { digest: staged.digest, commit: staged.commit });
      assert.equal(prod.promotedFrom?.releaseId, staged.releaseId);
      assert.equal(prod.promotedFrom?.verification.analysisPassed, true);
      assert.ok(prod.history.some((h) => h.message === `deploying ${staged.image}@${staged.digest} as promoted, not rebuilt`));
      const running = (await client.versions(MODEL, 'prod')).running.find((v) => v.version === 'v1.1.0')!;
      assert.deepEqual({ digest: running.digest, commit: running.commit }, { digest: staged.digest, commit: staged.commit });
      assert.deepEqual(await sample(gateways.prod!.url, MODEL, 20), { 'v1.1.0': 20 });

      // One build per version in the registry: commit markers for v1.0.0 and v1.1.0 only (none for the moved tag's commit).
      const tags = await new RegistryClient({ url: REGISTRY, insecure: true }, undefined).tags(MODEL);
      assert.deepEqual(tags.filter((tag) => tag.startsWith('commit-')).sort(), [`commit-${v100.commit!.slice(0, 12)}`, `commit-${staged.commit!.slice(0, 12)}`].sort());
      // The prod engine built nothing: its images of the model are the registry's, pulled by digest.
      const images = await engines.prod.listImages({ filters: { label: [`tandem.model=${MODEL}`] } });
      assert.ok(images.length > 0 && images.every((i) => (i.RepoDigests ?? []).some((d) => d === `${REGISTRY}/${MODEL}@${v100.digest}` || d === `${REGISTRY}/${MODEL}@${staged.digest}`)), JSON.stringify(images.map((i) => i.RepoDigests)));

      const history = await client.history(MODEL, 'prod');
      assert.equal(history.filter((h) => h.kind === 'release' && h.version === 'v1.1.0').length, 1, 'started once');
    });

    await t.test('v1.2.0 is rolled back in staging and never becomes eligible for prod', async () => {
      const handle = await client.start(start('v1.2.0'));
      await releaseFails(client, handle, 'VerificationFailed', 'v1.2.0 is broken at runtime');
      assert.equal(await readPromotion(client, MODEL, 'staging', 'v1.2.0'), undefined);
      const checked = await eligibility(client, MODEL, 'v1.2.0', 'prod', path);
      assert.ok(checked.onPath && !checked.overridable);
      assert.match(checked.unmet!, /^rolled back in staging \(release\/staging\//);
      const prod = await client.status(MODEL, 'prod');
      assert.equal(prod.version, 'v1.1.0', 'prod untouched');
    });

    const tallies = await Promise.all(traffic.splice(0).map((x) => x.stop()));
    for (const tally of tallies) assert.equal(tally.failed, 0, `failed requests: ${tally.errors.join('; ')}`);
    console.log(`figure: live requests answered — staging ${tallies[0]!.total}, prod ${tallies[1]!.total}, failed 0`);
  });
});
