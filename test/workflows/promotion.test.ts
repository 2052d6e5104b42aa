/**
 * Environments in sequence with activity doubles on the real Temporal dev server: a version
 * promoted in staging is released to prod with the same artifact after its soak (never rebuilt,
 * never re-resolved), automatically once or by an operator when eligible; what is not eligible
 * is refused naming the condition, unless overridden (recorded); a rollback in staging cancels the
 * pending promotion, a rollback in prod leaves staging alone.
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import type { TandemClient } from '../../src/client';
import { eligibility, pathProgress, readPromotion, startPromoted } from '../../src/client/promotion';
import { pathSchema } from '../../src/config/path-schema';
import type { PromotionStatus } from '../../src/workflows/promotion-messages';
import type { ReleaseStatus } from '../../src/workflows/messages';
import { specs } from '../doubles/world';
import { connectClient, ensureTemporal, startWorker, uniqueQueue, type RunningWorker } from '../helpers/temporal';
import { ANALYSED_SPEC, twoEnvironments } from '../helpers/two-environments';

interface Setup {
  client: TandemClient;
  worker: RunningWorker;
  model: string;
  envs: ReturnType<typeof twoEnvironments>;
  path: ReturnType<typeof pathSchema.parse>;
  release(env: string, tag: string): Promise<ReleaseStatus>;
  promotion(tag: string, pred: (p: PromotionStatus) => boolean): Promise<PromotionStatus>;
  close(): Promise<void>;
}

async function setup(path: unknown, specsByTag: Record<string, string> = { v1: ANALYSED_SPEC }, worlds: Pick<Parameters<typeof twoEnvironments>[0], 'staging' | 'prod'> = {}): Promise<Setup> {
  const queue = uniqueQueue('promo');
  const envs = twoEnvironments({ specs: specsByTag, path, ...worlds });
  const worker = await startWorker(queue, envs.activities);
  const client = await connectClient(queue);
  const model = queue;
  return {
    client,
    worker,
    model,
    envs,
    path: pathSchema.parse(path),
    async release(env, tag) {
      const handle = await client.start({ model, tag, environment: env, repoUrl: '/nowhere', requestedBy: 'ci' });
      return client.wait(handle);
    },
    async promotion(tag, pred) {
      for (let i = 0; i < 300; i++) {
        const p = await readPromotion(client, model, 'staging', tag).catch(() => undefined);
        if (p && pred(p)) return p;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`promotion of ${tag} did not reach the expected state in 30s`);
    },
    async close() {
      await client.close();
      await worker.stop();
    },
  };
}

async function prodRelease(s: Setup, pred: (r: ReleaseStatus) => boolean): Promise<ReleaseStatus> {
  for (let i = 0; i < 300; i++) {
    const r = await s.client.status(s.model, 'prod').catch(() => undefined);
    if (r && pred(r)) return r;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('prod release did not reach the expected state in 30s');
}

describe('promotion along a path', () => {
  before(() => ensureTemporal());

  it('auto: after the soak, prod gets the exact artifact staging promoted, started once, not rebuilt or re-resolved', async () => {
    const s = await setup(['staging', { environment: 'prod', soak: '2s', requireAnalysis: true, auto: true }]);
    try {
      const staged = await s.release('staging', 'v1');
      assert.equal(staged.outcome, 'promoted');
      assert.equal(staged.promotion?.to, 'prod');
      const soaking = await s.promotion('v1', (p) => p.state !== 'soaking' || p.history.length > 1);
      assert.equal(soaking.state, 'soaking', 'the version soaks in staging first');
      const before = await eligibility(s.client, s.model, 'v1', 'prod', s.path);
      assert.ok(before.onPath && before.unmet?.startsWith('soaking in staging until '), JSON.stringify(before));

      const released = await s.promotion('v1', (p) => p.state === 'released');
      assert.equal(released.release?.auto, true);
      const prod = await prodRelease(s, (r) => r.outcome !== undefined);
      assert.equal(prod.outcome, 'promoted', prod.reason);
      assert.equal(prod.releaseId.split('/')[0] + '/' + prod.releaseId.split('/').slice(1, 5).join('/'), released.release!.workflowId);
      assert.deepEqual(
        { digest: prod.digest, commit: prod.commit, image: prod.image },
        { digest: staged.digest, commit: staged.commit, image: staged.image },
        'the same image digest and commit',
      );
      assert.equal(prod.promotedFrom?.environment, 'staging');
      assert.equal(prod.promotedFrom?.releaseId, staged.releaseId);
      assert.equal(prod.promotedFrom?.digest, staged.digest);
      assert.ok(prod.promotedFrom!.verification.analysis.pass > 0 && prod.promotedFrom!.verification.analysisPassed);
      assert.deepEqual(prod.promotedFrom!.verification.checks, staged.checks);
      const { staging, prod: prodWorld } = s.envs.worlds;
      assert.equal(staging.count('buildImage') + prodWorld.count('buildImage'), 1, 'one build in all');
      assert.equal(prodWorld.count('resolveTag'), 0, 'prod never reads the Git tag');
      assert.equal(prodWorld.count('checkImage'), 1, 'prod checks the digest in the registry');
      assert.deepEqual(prodWorld.traffic().weights, { v1: 100 });

      // Started once: the release in prod is the promotion's, and a manual start now is refused.
      const history = await s.client.history(s.model, 'prod');
      assert.equal(history.filter((h) => h.kind === 'release' && h.version === 'v1').length, 1);
      const again = await eligibility(s.client, s.model, 'v1', 'prod', s.path);
      assert.ok(again.onPath);
      await assert.rejects(startPromoted(s.client, { model: s.model, tag: 'v1', environment: 'prod', repoUrl: '/nowhere', requestedBy: 'bob' }, again), /not eligible for prod: already released to prod/);

      // A rollback in prod does not undo staging.
      await s.client.rollback({ model: s.model, environment: 'prod', to: 'v0', requestedBy: 'oncall' });
      assert.deepEqual(prodWorld.traffic().weights, { v0: 100 });
      assert.deepEqual(staging.traffic().weights, { v1: 100 });
      const progress = await pathProgress(s.client, s.model, s.path);
      const v1 = progress.versions.find((v) => v.version === 'v1')!;
      assert.deepEqual(v1.environments.map((e) => e.state), ['promoted', 'promoted']);
      assert.equal(v1.blockedBy, undefined);
    } finally {
      await s.close();
    }
  });

  it('manual: soaking and not-released versions are refused naming the condition; eligible ones start by an operator', async () => {
    const s = await setup(['staging', { environment: 'prod', soak: '1s' }], { v1: ANALYSED_SPEC, v2: ANALYSED_SPEC });
    try {
      const input = (tag: string) => ({ model: s.model, tag, environment: 'prod', repoUrl: '/nowhere', requestedBy: 'bob' });
      const never = await eligibility(s.client, s.model, 'v2', 'prod', s.path);
      assert.ok(never.onPath);
      await assert.rejects(startPromoted(s.client, input('v2'), never, { reason: 'hurry' }), /v2 is not eligible for prod: not promoted in staging: v2 was never released there$/);

      await s.release('staging', 'v1');
      // A start that does not carry staging's artifact (the API, a webhook, an old CLI) is refused by the release itself.
      const bypass = await s.client.wait(await s.client.start(input('v1'))).then(
        () => assert.fail('expected a refusal'),
        (e: Error & { status?: ReleaseStatus; failureType?: string }) => e,
      );
      assert.equal(bypass.failureType, 'NotOnPath');
      assert.equal(bypass.message, `prod takes versions of ${s.model} from staging only (models.${s.model}.path): \`tandem release start ${s.model} v1 --env prod\` releases the artifact staging promoted, once it is eligible`);
      assert.equal(bypass.status?.outcome, 'failed');
      assert.equal(s.envs.worlds.prod.count('deployVersion') + s.envs.worlds.prod.count('buildImage') + s.envs.worlds.prod.count('resolveTag'), 0);
      const eligible = await s.promotion('v1', (p) => p.state === 'eligible');
      assert.equal(eligible.conditions.auto, false);
      const checked = await eligibility(s.client, s.model, 'v1', 'prod', s.path);
      assert.ok(checked.onPath && checked.unmet === undefined);
      const handle = await startPromoted(s.client, input('v1'), checked);
      const prod = await s.client.wait(handle);
      assert.equal(prod.outcome, 'promoted');
      assert.equal(prod.promotedFrom?.override, undefined);
      const taken = await s.promotion('v1', (p) => p.state === 'released');
      assert.deepEqual(taken.release, { workflowId: handle.workflowId, by: 'bob', auto: false });
      assert.equal(s.envs.worlds.prod.count('buildImage'), 0);
    } finally {
      await s.close();
    }
  });

  it('requireAnalysis: a version whose analysis did not run is blocked; an override starts it and is recorded with who and why', async () => {
    // A first release in staging (no stable version) skips the canary steps: no analysis ran.
    const s = await setup(['staging', { environment: 'prod', requireAnalysis: true, auto: true }], { v1: specs.direct }, { staging: { running: [], traffic: { weights: {}, pinned: [] } } });
    try {
      const first = await s.client.wait(await s.client.start({ model: s.model, tag: 'v1', environment: 'staging', repoUrl: '/nowhere', requestedBy: 'ci' }));
      assert.equal(first.outcome, 'promoted');
      const blocked = await s.promotion('v1', (p) => p.state === 'blocked');
      assert.match(blocked.reason!, /analysis did not pass in staging: /);
      const checked = await eligibility(s.client, s.model, 'v1', 'prod', s.path);
      assert.ok(checked.onPath && checked.overridable);
      const input = { model: s.model, tag: 'v1', environment: 'prod', repoUrl: '/nowhere', requestedBy: 'alice' };
      await assert.rejects(startPromoted(s.client, input, checked), (err: Error) => {
        assert.match(err.message, /v1 is not eligible for prod: analysis did not pass in staging: /);
        assert.match(err.message, /--override-reason TEXT/);
        return true;
      });
      const prod = await s.client.wait(await startPromoted(s.client, input, checked, { reason: 'hotfix, verified by hand' }));
      assert.equal(prod.outcome, 'promoted');
      assert.equal(prod.promotedFrom?.override?.by, 'alice');
      assert.equal(prod.promotedFrom?.override?.reason, 'hotfix, verified by hand');
      assert.match(prod.promotedFrom!.override!.unmet, /analysis did not pass/);
      assert.ok(prod.history.some((h) => /path condition overridden by alice .*reason: hotfix, verified by hand/.test(h.message)));
    } finally {
      await s.close();
    }
  });

  it('an override is refused when the target policy does not let that person promote', async () => {
    // prod's policy: only carol may promote
    const s = await setup(['staging', { environment: 'prod', soak: '1h' }], { v1: ANALYSED_SPEC }, { prod: { policy: { policy: { promote: { users: ['carol'] } } } } });
    const { client, model } = s;
    try {
      await s.release('staging', 'v1');
      const checked = await eligibility(client, model, 'v1', 'prod', s.path);
      assert.ok(checked.onPath && checked.unmet?.startsWith('soaking in staging until'));
      const handle = await startPromoted(client, { model, tag: 'v1', environment: 'prod', repoUrl: '/nowhere', requestedBy: 'mallory' }, checked, { reason: 'because' });
      const err = await client.wait(handle).then(
        () => assert.fail('expected a refusal'),
        (e: Error & { status?: ReleaseStatus }) => e,
      );
      assert.match(err.message, /override refused: .*carol/);
      assert.equal(err.status?.outcome, 'failed');
      assert.equal(s.envs.worlds.prod.count('deployVersion'), 0, 'nothing deployed');
    } finally {
      await s.close();
    }
  });

  it('a rollback in staging cancels the pending promotion: the version never becomes eligible', async () => {
    const s = await setup(['staging', { environment: 'prod', soak: '1h', auto: true }]);
    try {
      await s.release('staging', 'v1');
      await s.promotion('v1', (p) => p.state === 'soaking' && p.history.length > 1);
      await s.client.rollback({ model: s.model, environment: 'staging', to: 'v0', requestedBy: 'oncall' });
      const cancelled = await s.promotion('v1', (p) => p.state === 'cancelled');
      assert.equal(cancelled.reason, 'rolled back in staging by oncall (to v0)');
      const checked = await eligibility(s.client, s.model, 'v1', 'prod', s.path);
      assert.ok(checked.onPath);
      assert.equal(checked.unmet, 'rolled back in staging by oncall (to v0)');
      const progress = await pathProgress(s.client, s.model, s.path);
      const v1 = progress.versions.find((v) => v.version === 'v1')!;
      assert.deepEqual(v1.environments.map((e) => e.state), ['rolled-back', 'cancelled']);
      assert.deepEqual(v1.blockedBy, { environment: 'prod', condition: 'rolled back in staging by oncall (to v0)' });
      assert.equal(s.envs.worlds.prod.count('deployVersion'), 0);
      await assert.rejects(s.client.status(s.model, 'prod'), /has no release in prod/);
    } finally {
      await s.close();
    }
  });

  it('a version rolled back by its own staging release is refused for prod naming it', async () => {
    const s = await setup(['staging', 'prod'], { v1: ANALYSED_SPEC }, { staging: { analysis: 'fail' } });
    try {
      const failed = await s.release('staging', 'v1').then(
        () => assert.fail('expected the staging release to roll back'),
        (e: { status?: ReleaseStatus }) => e.status,
      );
      assert.equal(failed?.outcome, 'rolled-back');
      const checked = await eligibility(s.client, s.model, 'v1', 'prod', s.path);
      assert.ok(checked.onPath && !checked.overridable);
      assert.match(checked.unmet!, /^rolled back in staging \(release\/staging\//);
      await assert.rejects(
        startPromoted(s.client, { model: s.model, tag: 'v1', environment: 'prod', repoUrl: '/nowhere', requestedBy: 'bob' }, checked, { reason: 'try anyway' }),
        /v1 is not eligible for prod: rolled back in staging \(release\/staging\/[^)]+\)$/,
      );
      await assert.rejects(readPromotion(s.client, s.model, 'staging', 'v1').then((p) => assert.equal(p, undefined)).then(() => Promise.reject(new Error('no promotion'))), /no promotion/);
    } finally {
      await s.close();
    }
  });
});
