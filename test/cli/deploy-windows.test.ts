/**
 * The README's "Deploy windows" as an operator meets it, against the real Temporal dev server:
 * given a release waiting for a deploy window (a worker in this process whose resolvePolicy is
 * the real one built from the configuration file; other activities doubles), `tandem release
 * status` says so; someone not allowed is refused naming the rule (exit 2); the README's
 * `tandem release override-window` line, run with bash as written, lets the release go now.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPolicyActivities } from '../../src/activities/policy/resolve-policy';
import { loadConfig } from '../../src/config/load';
import { weekdays } from '../../src/policy/deploy-windows';
import { policyDeps } from '../../src/policy/from-config';
import { createWorld, runningVersion, specs } from '../doubles/world';
import { tandem } from '../helpers/processes';
import { readmeSection, sh } from '../helpers/readme';
import { ADDRESS, NAMESPACE, connectClient, ensureTemporal, startWorker, type RunningWorker } from '../helpers/temporal';

const section = readmeSection('### Deploy windows', '## Guarantees');
const dir = mkdtempSync(join(tmpdir(), 'tandem-windows-'));
const model = `win-${randomBytes(3).toString('hex')}`;
// Open only the day after tomorrow (UTC): closed for at least a day whenever this runs.
const openDay = weekdays[new Date(Date.now() + 2 * 86_400_000).getUTCDay()];
const config = join(dir, 'tandem.config.yaml');

describe('deploy windows through the CLI (README)', () => {
  let worker: RunningWorker;
  let env: NodeJS.ProcessEnv = {};
  before(async () => {
    ensureTemporal();
    // The README's configuration keys, with a window that is closed now and a Docker target.
    const readme = section.yaml(/deployWindows/);
    assert.match(readme, /overrideWindow: \{ users: \[carol\], groups: \[sre\] \}/);
    writeFileSync(
      config,
      [
        `taskQueue: ${model}`,
        'environments:',
        '  prod:',
        '    target: { kind: docker }',
        '    registry: { url: 127.0.0.1:5000, insecure: true }',
        '    deployWindows:',
        `      - { days: [${openDay}], from: "09:00", to: "16:00", timezone: Europe/Berlin }`,
        '    policy:',
        '      overrideWindow: { users: [carol], groups: [sre] }',
        'models:',
        `  ${model}: { repo: /srv/models/${model}, environment: prod }`,
        '',
      ].join('\n'),
    );
    env = { ...process.env, TEMPORAL_ADDRESS: ADDRESS, TEMPORAL_NAMESPACE: NAMESPACE, TANDEM_CONFIG: config };
    const world = createWorld({ specs: { 'v2.0.0': specs.blueGreen }, running: [runningVersion('v1.0.0')], traffic: { weights: { 'v1.0.0': 100 }, pinned: ['v1.0.0'], stable: 'v1.0.0' } });
    worker = await startWorker(model, { ...world.activities, ...createPolicyActivities(policyDeps(loadConfig(config))) });
  });
  after(async () => {
    await worker.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('status shows the wait; erin is refused naming the rule; the README line overrides, recorded with who and why', async () => {
    const client = await connectClient(model);
    try {
      await client.start({ model, tag: 'v2.0.0', environment: 'prod', repoUrl: `/srv/models/${model}`, requestedBy: 'ci' });
      for (let i = 0; i < 200 && (await client.status(model, 'prod').catch(() => undefined))?.waitingFor !== 'deploy-window'; i++) await new Promise((r) => setTimeout(r, 100));
    } finally {
      await client.close();
    }
    const waiting = await tandem(env, 'release', 'status', model, '--env', 'prod');
    assert.equal(waiting.code, 0, waiting.out);
    assert.match(waiting.out, /: rolling-out \(waiting for deploy-window\)\n/);
    assert.match(waiting.out, new RegExp(`\\n {2}deploy window: closed, opens \\d{4}-\\d\\d-\\d\\dT0[78]:00:00\\.000Z \\(${openDay} 09:00-16:00 Europe/Berlin\\)\\n`));

    const line = section.line(/^tandem release override-window/);
    const erin = await sh(line.replaceAll('fraud-detector', model).replace('--by carol', '--by erin'), dir, env);
    assert.equal(erin.code, 2, erin.stdout + erin.stderr);
    assert.match(erin.stderr, /override-window refused: overrideWindow — erin \(groups: none\) is not listed; overrideWindow: user carol, group sre/);

    const carol = await sh(line.replaceAll('fraud-detector', model), dir, env);
    assert.equal(carol.code, 0, carol.stdout + carol.stderr);
    assert.equal(carol.stdout, `override-window accepted for ${model} in prod (by carol)\n`);

    const watched = await tandem(env, 'release', 'watch', model, '--env', 'prod');
    assert.equal(watched.code, 0, watched.out);
    const status = await tandem(env, 'release', 'status', model, '--env', 'prod');
    assert.match(status.out, /: promoted\n/);
    assert.match(status.out, /override-window by erin via temporal \(self-declared\): fix for incident 4711 \(ignored: override-window refused: overrideWindow/);
    assert.match(status.out, /override-window by carol via temporal \(self-declared\) \[overrideWindow: user carol, group sre\]: fix for incident 4711\n/);
    assert.doesNotMatch(status.out, /deploy window: closed/);
  });
});
