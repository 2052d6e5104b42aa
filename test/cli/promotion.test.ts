/**
 * Environments in sequence as an operator meets them (the README text proposed for "Environments
 * in sequence"), each command run with bash as a separate process against the real Temporal dev
 * server; the worker runs in this process with staging and prod doubles and the real nextInPath
 * built from the configuration file. A version soaking in staging is refused for prod naming the
 * condition (exit 2); --all-envs shows where it is and what blocks it; an override starts it,
 * recorded with who and why; the status shows where the artifact came from.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPathActivities } from '../../src/activities/path/next-in-path';
import { loadConfig } from '../../src/config/load';
import type { PathProgress } from '../../src/client/promotion';
import { sh } from '../helpers/readme';
import { ADDRESS, NAMESPACE, ensureTemporal, startWorker, type RunningWorker } from '../helpers/temporal';
import { ANALYSED_SPEC, twoEnvironments } from '../helpers/two-environments';

/** The commands of the proposed README section, as written there (fraud-detector replaced by this test's model). */
export const README_LINES = {
  stage: 'tandem release start fraud-detector v1.1.0 --wait',
  prod: 'tandem release start fraud-detector v1.1.0 --env prod',
  progress: 'tandem versions fraud-detector --all-envs',
  progressJson: 'tandem versions fraud-detector --all-envs --json',
  override: 'tandem release start fraud-detector v1.1.0 --env prod --override-reason "fix for incident 4711, checked by hand" --by alice --wait',
  status: 'tandem release status fraud-detector --env prod',
};

const dir = mkdtempSync(join(tmpdir(), 'tandem-path-'));
const model = `path-${randomBytes(3).toString('hex')}`;
const config = join(dir, 'tandem.config.yaml');
const run = (line: string, env: NodeJS.ProcessEnv) => sh(line.replaceAll('fraud-detector', model), dir, env);

describe('environments in sequence through the CLI', () => {
  let worker: RunningWorker;
  let env: NodeJS.ProcessEnv = {};
  let envs: ReturnType<typeof twoEnvironments>;
  before(async () => {
    ensureTemporal();
    writeFileSync(
      config,
      [
        `taskQueue: ${model}`,
        'environments:',
        '  staging:',
        '    target: { kind: docker }',
        '    registry: { url: 127.0.0.1:5000, insecure: true }',
        '  prod:',
        '    target: { kind: docker }',
        '    registry: { url: 127.0.0.1:5000, insecure: true }',
        'models:',
        `  ${model}:`,
        `    repo: /srv/models/${model}`,
        '    environment: staging',
        '    path:',
        '      - staging',
        '      - { environment: prod, soak: 2h, requireAnalysis: true, auto: true }',
        '',
      ].join('\n'),
    );
    env = { ...process.env, TEMPORAL_ADDRESS: ADDRESS, TEMPORAL_NAMESPACE: NAMESPACE, TANDEM_CONFIG: config };
    envs = twoEnvironments({ specs: { 'v1.1.0': ANALYSED_SPEC }, path: ['staging', 'prod'] });
    worker = await startWorker(model, { ...envs.activities, ...createPathActivities(loadConfig(config).models) });
  });
  after(async () => {
    await worker.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refused while soaking, shown along the path, started by an override that is recorded', async () => {
    const staged = await run(README_LINES.stage, env);
    assert.equal(staged.code, 0, staged.stdout + staged.stderr);
    assert.match(staged.stdout, /promotion to prod started \(promotion\/.+\/staging\/v1\.1\.0\): analysis must have passed, soak 2h, then released automatically/);

    const refused = await run(README_LINES.prod, env);
    assert.equal(refused.code, 2, refused.stdout + refused.stderr);
    assert.match(refused.stderr, new RegExp(`^tandem: ${model} v1\\.1\\.0 is not eligible for prod: soaking in staging until \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z; an operator the prod policy lets promote may override: tandem release start ${model} v1\\.1\\.0 --env prod --override-reason TEXT\\n$`));
    assert.equal(envs.worlds.prod.count('deployVersion'), 0, 'nothing deployed in prod');

    const table = await run(README_LINES.progress, env);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, new RegExp(`^${model}: staging → prod\\nVERSION +STAGING +PROD +BLOCKED BY\\nv1\\.1\\.0 +promoted +soaking: soaking in staging until \\S+ +prod: soaking in staging until \\S+\\n$`));
    const json = await run(README_LINES.progressJson, env);
    const progress = JSON.parse(json.stdout) as PathProgress;
    assert.deepEqual(progress.path, ['staging', 'prod']);
    assert.equal(progress.versions[0]!.blockedBy?.environment, 'prod');
    assert.match(progress.versions[0]!.blockedBy!.condition, /^soaking in staging until /);

    const overridden = await run(README_LINES.override, env);
    assert.equal(overridden.code, 0, overridden.stdout + overridden.stderr);
    const status = await run(README_LINES.status, env);
    assert.equal(status.code, 0, status.stderr);
    assert.equal(envs.registry.size, 1, 'one image built');
    const digest = [...envs.registry][0]!;
    assert.match(status.stdout, new RegExp(`\\n {2}promoted from staging: release release/staging/${model}/v1\\.1\\.0/\\S+, commit \\S{12}, registry\\.test/${model}:v1\\.1\\.0@${digest}\\n`));
    assert.match(status.stdout, /\n {2}verified in staging: checks 1\/1 ok; analysis [1-9]\d* pass, 0 fail, 0 inconclusive\n/);
    assert.match(status.stdout, /\n {2}path condition overridden by alice: soaking in staging until \S+; reason: fix for incident 4711, checked by hand\n/);
    assert.equal(envs.worlds.prod.count('buildImage') + envs.worlds.prod.count('resolveTag'), 0, 'prod neither built nor read the tag');

    const after = JSON.parse((await run(README_LINES.progressJson, env)).stdout) as PathProgress;
    assert.deepEqual(after.versions[0]!.environments.map((e) => e.state), ['promoted', 'promoted']);
  });

  it('--override-reason off the path, and --all-envs without a path, are bad input naming the fix', async () => {
    const offPath = await run('tandem release start fraud-detector v1.1.0 --env staging --override-reason x', env);
    assert.equal(offPath.code, 2);
    assert.match(offPath.stderr, /--override-reason overrides the conditions of a model's path, and models\..+\.path does not lead to staging/);
    const noPath = await sh('tandem versions other-model --all-envs', dir, env);
    assert.equal(noPath.code, 2);
    assert.match(noPath.stderr, /--all-envs shows a model's path, and other-model has none: add models\.other-model\.path/);
  });
});
