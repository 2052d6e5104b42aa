/**
 * The README's "Approval policy" as an operator meets it: its configuration and commands, `tandem`
 * and `openssl` run as processes, against the real Temporal dev server. Given a real `tandem
 * worker` process, when someone the policy does not let start runs `tandem release start --wait`,
 * then it exits 2 naming the rule. Given a release that serve's key signed as started by carol,
 * waiting for approval (a worker in this process whose resolvePolicy is the real one built from
 * the same file; other activities doubles), when carol approves it, then exit 2 naming four-eyes;
 * two signed approvers pass it, and `tandem release status` reads as the README's audit record.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPolicyActivities } from '../../src/activities/policy/resolve-policy';
import { loadConfig } from '../../src/config/load';
import { policyDeps } from '../../src/policy/from-config';
import { loadSigningKey, signerFor } from '../../src/policy/sign';
import { createWorld, runningVersion, specs } from '../doubles/world';
import { daemon, tandem, type Daemon } from '../helpers/processes';
import { ADDRESS, NAMESPACE, connectClient, ensureTemporal, startWorker, type RunningWorker } from '../helpers/temporal';

const dir = mkdtempSync(join(tmpdir(), 'tandem-policy-'));
const signingKey = join(dir, 'serve-signing.pem');
const verifyKey = join(dir, 'serve-verify.pem');
const baseEnv = { ...process.env, TEMPORAL_ADDRESS: ADDRESS, TEMPORAL_NAMESPACE: NAMESPACE, TANDEM_GATEWAY_TOKEN: 'unused-here' };

/** The README's example configuration, for `model` (Docker target, so a worker can start here). */
function configFile(name: string, model: string, keyLine: string): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    [
      `taskQueue: ${model}`,
      'environments:',
      '  prod:',
      '    production: true',
      '    target: { kind: docker }',
      '    registry: { url: 127.0.0.1:5000, insecure: true }',
      '    policy:',
      '      approvals: 2',
      '      approvers: { users: [carol], groups: [ml-leads] }',
      '      fourEyes: true',
      '      start: { groups: [ci] }',
      '      abort: { groups: [sre, ml-leads] }',
      '      rollback: { groups: [sre] }',
      'models:',
      `  ${model}: { repo: /srv/models/${model}, environment: prod }`,
      'serve:',
      `  ${keyLine}`,
      '',
    ].join('\n'),
  );
  return file;
}

describe('approval policy through the CLI (README)', () => {
  before(() => {
    ensureTemporal();
    // The README's two key commands, run as written.
    execFileSync('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', 'serve-signing.pem'], { cwd: dir });
    execFileSync('openssl', ['pkey', '-in', 'serve-signing.pem', '-pubout', '-out', 'serve-verify.pem'], { cwd: dir });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  describe('with a real `tandem worker` process (verifyKeyFile: the public key only)', () => {
    const model = `pol-${randomBytes(3).toString('hex')}`;
    let worker: Daemon | undefined;
    let config = '';
    before(async () => {
      config = configFile('worker', model, `verifyKeyFile: ${verifyKey}`);
      worker = await daemon(['worker', '--config', config, '--health-port', '0'], /tandem worker: task queue/, baseEnv);
    });
    after(() => worker?.child.kill('SIGKILL'));

    it('release start --wait by someone the policy does not let start: exit 2, naming the rule and who may', async () => {
      const r = await tandem({ ...baseEnv, TANDEM_CONFIG: config }, 'release', 'start', model, 'v1.0.0', '--env', 'prod', '--wait', '--by', 'alice');
      assert.equal(r.code, 2, r.out);
      assert.match(r.out, /start refused: may start — alice \(groups: none\) is not listed; may start: group ci/);
      assert.match(r.out, /started by alice via temporal \(self-declared\)/);
    });

    it('a worker whose serve.signingKeyFile is missing refuses to start, naming the key', async () => {
      const bad = configFile('bad-key', model, `signingKeyFile: ${join(dir, 'missing.pem')}`);
      const r = await tandem(baseEnv, 'worker', '--config', bad, '--health-port', '0');
      assert.equal(r.code, 2, r.out);
      assert.match(r.out, /serve\.signingKeyFile: cannot read .*missing\.pem \(ENOENT\); make one with `openssl genpkey -algorithm ed25519/);
    });
  });

  describe('with a release waiting for approval (signingKeyFile)', () => {
    const model = `pol-${randomBytes(3).toString('hex')}`;
    let worker: RunningWorker;
    let config = '';
    let env: NodeJS.ProcessEnv = {};
    before(async () => {
      config = configFile('gate', model, `signingKeyFile: ${signingKey}`);
      env = { ...baseEnv, TANDEM_CONFIG: config };
      const world = createWorld({ specs: { 'v2.0.0': specs.canary }, running: [runningVersion('v1.0.0')], traffic: { weights: { 'v1.0.0': 100 }, pinned: ['v1.0.0'], stable: 'v1.0.0' } });
      // The policy the worker reads is this file's, through the same code `tandem worker` runs.
      const activities = { ...world.activities, ...createPolicyActivities(policyDeps(loadConfig(config))) };
      worker = await startWorker(model, activities);
    });
    after(async () => worker.stop());

    it('the starter approving: exit 2 naming four-eyes; two signed approvers pass it; status reads as an audit record', async () => {
      const key = loadSigningKey(signingKey);
      const client = await connectClient(model);
      try {
        // What serve does for a caller it authenticated (README, "Two channels").
        await client.start({ model, tag: 'v2.0.0', environment: 'prod', repoUrl: `/srv/models/${model}` }, signerFor(key, { who: 'carol', groups: ['ci'] }));
        for (let i = 0; i < 200 && (await client.status(model, 'prod').catch(() => undefined))?.waitingFor !== 'approval'; i++) await new Promise((r) => setTimeout(r, 100));

        const self = await tandem(env, 'release', 'approve', model, '--env', 'prod', '--by', 'carol');
        assert.equal(self.code, 2, self.out);
        assert.match(self.out, /approve refused: four-eyes — carol started this release; approvers: user carol, group ml-leads, except carol/);
        const outsider = await tandem(env, 'release', 'approve', model, '--env', 'prod', '--by', 'erin');
        assert.equal(outsider.code, 2, outsider.out);
        assert.match(outsider.out, /approve refused: approvers — erin \(groups: none\) is not listed; approvers: user carol, group ml-leads/);
        const abort = await tandem(env, 'release', 'abort', model, '--env', 'prod', '--by', 'bob', '--reason', 'just because');
        assert.equal(abort.code, 2, abort.out);
        assert.match(abort.out, /abort refused: may abort — bob \(groups: none\) is not listed; may abort: groups sre, ml-leads/);

        await client.act(model, 'prod', 'approve', { who: 'bob', text: 'latency flat' }, signerFor(key, { who: 'bob', groups: ['ml-leads'] }));
        await client.act(model, 'prod', 'approve', { who: 'frank', text: 'dashboards fine' }, signerFor(key, { who: 'frank', groups: ['ml-leads'] }));
      } finally {
        await client.close();
      }
      const watched = await tandem(env, 'release', 'watch', model, '--env', 'prod');
      assert.equal(watched.code, 0, watched.out);
      const status = await tandem(env, 'release', 'status', model, '--env', 'prod');
      assert.equal(status.code, 0, status.out);
      assert.match(status.out, /: promoted\n/);
      assert.match(status.out, /\n {2}started by carol via api\n/);
      assert.match(
        status.out,
        /policy: 2 distinct approvers \(user carol, group ml-leads\); four-eyes; start: group ci; abort: groups sre, ml-leads; rollback: group sre \(from defaults \+ environments\.prod\.production \+ environments\.prod\.policy\)/,
      );
      assert.match(status.out, /approvals: 2 of 2 \(bob, frank\)/);
      assert.match(status.out, /approve by carol via temporal \(self-declared\) \(ignored: approve refused: four-eyes — carol started this release/);
      assert.match(status.out, /approve by erin via temporal \(self-declared\) \(ignored: approve refused: approvers — erin \(groups: none\) is not listed/);
      assert.match(status.out, /approve by bob via api groups ml-leads \[approvers: user carol, group ml-leads; four-eyes \(1 of 2\)\]: latency flat/);
      assert.match(status.out, /approve by frank via api groups ml-leads \[approvers: user carol, group ml-leads; four-eyes \(2 of 2\)\]: dashboards fine/);
      assert.match(status.out, /wait for approval \(timeout 1h\) — approved by bob, frank/);
    });
  });
});
