/**
 * The approval policy as an operator meets it: `tandem` run as a process, exactly as the README
 * shows, against the real Temporal dev server, with a tandem.config.yaml that holds a policy.
 * Given a real `tandem worker` process, when someone the policy does not let start a release runs
 * `tandem release start --wait`, then it exits 2 naming the rule. Given a release waiting for
 * approval (a worker in this process whose resolvePolicy is the real one built from the same file,
 * other activities doubles), when its starter approves it, then exit 2 naming four-eyes; another
 * approver passes it, and `tandem release status` shows the audit record.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPolicyActivities } from '../../src/activities/policy/resolve-policy';
import { loadConfig } from '../../src/config/load';
import { policyDeps } from '../../src/policy/from-config';
import { createWorld, runningVersion, specs } from '../doubles/world';
import { daemon, tandem, type Daemon } from '../helpers/processes';
import { ADDRESS, NAMESPACE, connectClient, ensureTemporal, startWorker, type RunningWorker } from '../helpers/temporal';

const dir = mkdtempSync(join(tmpdir(), 'tandem-policy-'));
const keyFile = join(dir, 'serve-signing.pem');
const env = { ...process.env, TEMPORAL_ADDRESS: ADDRESS, TEMPORAL_NAMESPACE: NAMESPACE, TANDEM_GATEWAY_TOKEN: 'unused-here' };

/** The README's example policy, on one environment `prod` (Docker target). */
function configFile(name: string, model: string): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    [
      `taskQueue: ${model}`,
      'environments:',
      '  staging:',
      '    production: true',
      '    target: { kind: docker }',
      '    registry: { url: 127.0.0.1:5000, insecure: true }',
      '    policy:',
      '      approvers: { users: [carol, dave], groups: [ml-leads] }',
      '      start: { users: [carol, release-bot], groups: [ci] }',
      '      abort: { groups: [sre] }',
      'models:',
      `  ${model}: { repo: /srv/models/${model}, environment: staging }`,
      'serve:',
      `  signingKeyFile: ${keyFile}`,
      '',
    ].join('\n'),
  );
  return file;
}

describe('approval policy through the CLI', () => {
  before(() => {
    ensureTemporal();
    writeFileSync(keyFile, generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  describe('with a real `tandem worker` process', () => {
    const model = `pol-${randomBytes(3).toString('hex')}`;
    let worker: Daemon | undefined;
    let config = '';
    before(async () => {
      config = configFile('worker', model);
      worker = await daemon(['worker', '--config', config, '--health-port', '0'], /tandem worker: task queue/, env);
    });
    after(() => worker?.child.kill('SIGKILL'));

    it('release start --wait by someone the policy does not let start: exit 2, naming the rule and who may', async () => {
      const r = await tandem(env, 'release', 'start', model, 'v1.0.0', '--config', config, '--wait', '--by', 'alice');
      assert.equal(r.code, 2, r.out);
      assert.match(r.out, /start refused: may start — alice \(groups: none\) is not listed; may start: users carol, release-bot, group ci/);
      assert.match(r.out, /started by alice via temporal \(self-declared\)/);
    });

    it('a worker whose serve.signingKeyFile is missing refuses to start, naming the key', async () => {
      const bad = configFile('bad-key', model);
      writeFileSync(bad, readFileSync(bad, 'utf8').replace(keyFile, join(dir, 'missing.pem')));
      const r = await tandem(env, 'worker', '--config', bad, '--health-port', '0');
      assert.equal(r.code, 2, r.out);
      assert.match(r.out, /serve\.signingKeyFile: cannot read .*missing\.pem \(ENOENT\); make one with `openssl genpkey -algorithm ed25519/);
    });
  });

  describe('with a release waiting for approval', () => {
    const model = `pol-${randomBytes(3).toString('hex')}`;
    let worker: RunningWorker;
    let config = '';
    before(async () => {
      config = configFile('gate', model);
      const world = createWorld({ specs: { 'v2.0.0': specs.canary }, running: [runningVersion('v1.0.0')], traffic: { weights: { 'v1.0.0': 100 }, pinned: ['v1.0.0'], stable: 'v1.0.0' } });
      // The policy the worker reads is this file's, through the same code `tandem worker` runs.
      const activities = { ...world.activities, ...createPolicyActivities(policyDeps(loadConfig(config))) };
      worker = await startWorker(model, activities);
    });
    after(async () => worker.stop());

    it('the starter approving: exit 2 naming four-eyes; another approver: accepted; status reads as an audit record', async () => {
      const started = await tandem(env, 'release', 'start', model, 'v2.0.0', '--config', config, '--by', 'carol');
      assert.equal(started.code, 0, started.out);
      const client = await connectClient(model);
      try {
        for (let i = 0; i < 200 && (await client.status(model, 'staging').catch(() => undefined))?.waitingFor !== 'approval'; i++) await new Promise((r) => setTimeout(r, 100));
      } finally {
        await client.close();
      }
      const self = await tandem(env, 'release', 'approve', model, '--config', config, '--by', 'carol');
      assert.equal(self.code, 2, self.out);
      assert.match(self.out, /approve refused: four-eyes — carol started this release; approvers: users carol, dave, group ml-leads, except carol/);
      const outsider = await tandem(env, 'release', 'approve', model, '--config', config, '--by', 'erin');
      assert.equal(outsider.code, 2, outsider.out);
      assert.match(outsider.out, /approve refused: approvers — erin \(groups: none\) is not listed; approvers: users carol, dave, group ml-leads/);
      const abort = await tandem(env, 'release', 'abort', model, '--config', config, '--by', 'dave', '--reason', 'just because');
      assert.equal(abort.code, 2, abort.out);
      assert.match(abort.out, /abort refused: may abort — dave \(groups: none\) is not listed; may abort: group sre/);

      const approved = await tandem(env, 'release', 'approve', model, '--config', config, '--by', 'dave', '--comment', 'canary metrics fine');
      assert.equal(approved.code, 0, approved.out);
      const watched = await tandem(env, 'release', 'watch', model, '--config', config);
      assert.equal(watched.code, 0, watched.out);
      const status = await tandem(env, 'release', 'status', model, '--config', config);
      assert.equal(status.code, 0, status.out);
      assert.match(status.out, /started by carol via temporal \(self-declared\)/);
      assert.match(status.out, /policy: 1 distinct approver \(users carol, dave, group ml-leads\); four-eyes; start: users carol, release-bot, group ci; abort: group sre \(from defaults \+ environments\.staging\.production \+ environments\.staging\.policy\)/);
      assert.match(status.out, /approvals: 1 of 1 \(dave\)/);
      assert.match(status.out, /approve by carol via temporal \(self-declared\) \(ignored: approve refused: four-eyes — carol started this release/);
      assert.match(status.out, /approve by dave via temporal \(self-declared\) \[approvers: users carol, dave, group ml-leads; four-eyes \(1 of 1\)\]: canary metrics fine/);
    });
  });
});
