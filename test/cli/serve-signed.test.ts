/**
 * `tandem serve` with `serve.signingKeyFile`, run as its own process against the real Temporal dev
 * server: what a caller does through the API reaches the workflow signed with the identity serve
 * authenticated, so the release records it `via api` with the caller's groups, and the approval
 * policy (enforced inside the workflow) judges that identity. A worker in this process runs the
 * real workflows with the real resolvePolicy built from the same file (other activities doubles).
 * Given a start by the CI token, when a caller whose group the policy does not list approves, then
 * 403 naming the rule and the release still waits; when an approver approves, then it is recorded
 * via api and the release is promoted. A key file that cannot be read stops serve with exit 2.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createPolicyActivities } from '../../src/activities/policy/resolve-policy';
import { loadConfig } from '../../src/config/load';
import { policyDeps } from '../../src/policy/from-config';
import { hashToken } from '../../src/serve/auth/token-hash';
import { createWorld, runningVersion, specs } from '../doubles/world';
import { daemon, freePort, tandem, type Daemon } from '../helpers/processes';
import { ADDRESS, NAMESPACE, ensureTemporal, startWorker, type RunningWorker } from '../helpers/temporal';

const READY = /API at (http:\/\/\S+)\/api\//;

describe('tandem serve signs what its callers do (serve.signingKeyFile)', { timeout: 4 * 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-serve-signed-'));
  const model = `signed-${randomBytes(3).toString('hex')}`;
  const env = { ...process.env, TEMPORAL_ADDRESS: ADDRESS, TEMPORAL_NAMESPACE: NAMESPACE };
  const tokens = { ci: randomBytes(24).toString('hex'), bob: randomBytes(24).toString('hex'), erin: randomBytes(24).toString('hex') };
  let worker: RunningWorker;
  let server: Daemon;
  let url = '';
  let config = '';

  const configFile = (name: string, keyFile: string): string => {
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
        '      approvers: { groups: [ml-leads] }',
        '      start: { groups: [ci] }',
        'models:',
        `  ${model}: { repo: /srv/models/${model}, environment: prod }`,
        'serve:',
        `  signingKeyFile: ${keyFile}`,
        '  tokens:',
        `    - { name: ci-bot, sha256: ${hashToken(tokens.ci)}, groups: [ci] }`,
        `    - { name: bob, sha256: ${hashToken(tokens.bob)}, groups: [ml-leads] }`,
        `    - { name: erin, sha256: ${hashToken(tokens.erin)}, groups: [ops] }`,
        '  access: { start: [ci], operate: [ml-leads, ops] }',
        '',
      ].join('\n'),
    );
    return file;
  };
  const api = async (method: string, path: string, token: string, body?: object) => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  const release = `/api/models/${model}/environments/prod/release`;
  const untilWaiting = async (what: string) => {
    for (let i = 0; i < 300; i++) {
      const r = await api('GET', release, tokens.bob);
      if (r.status === 200 && (r.body as { waitingFor?: string }).waitingFor === what) return r.body;
      await sleep(100);
    }
    assert.fail(`the release never waited for ${what}`);
  };

  before(async () => {
    ensureTemporal();
    execFileSync('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', 'serve-signing.pem'], { cwd: dir });
    config = configFile('serve', join(dir, 'serve-signing.pem'));
    const world = createWorld({ specs: { 'v2.0.0': specs.canary }, running: [runningVersion('v1.0.0')], traffic: { weights: { 'v1.0.0': 100 }, pinned: ['v1.0.0'], stable: 'v1.0.0' } });
    worker = await startWorker(model, { ...world.activities, ...createPolicyActivities(policyDeps(loadConfig(config))) });
    const port = await freePort();
    server = await daemon(['serve', '--config', config, '--port', String(port)], READY, env);
    url = READY.exec(server.output())![1]!;
  });
  after(async () => {
    if (server && server.child.exitCode === null) server.child.kill('SIGKILL');
    await worker?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a start by the CI token is recorded via api; the policy refuses an approver it does not list (403), and records the one it does via api', async () => {
    const started = await api('POST', `/api/models/${model}/environments/prod/releases`, tokens.ci, { tag: 'v2.0.0' });
    assert.equal(started.status, 202, JSON.stringify(started.body));
    const waiting = (await untilWaiting('approval')) as { requestedBy?: string; requestedVia?: string };
    assert.deepEqual([waiting.requestedBy, waiting.requestedVia], ['ci-bot', 'api']);

    const refused = await api('POST', `${release}/approve`, tokens.erin, { comment: 'looks fine' });
    assert.equal(refused.status, 403, JSON.stringify(refused.body));
    assert.match(String(refused.body.message), /approve refused: approvers — erin \(groups: ops\) is not listed; approvers: group ml-leads/);
    await untilWaiting('approval');

    const approved = await api('POST', `${release}/approve`, tokens.bob, { comment: 'latency flat' });
    assert.equal(approved.status, 200, JSON.stringify(approved.body));
    assert.deepEqual([approved.body.who, approved.body.via, approved.body.groups], ['bob', 'api', ['ml-leads']]);
    for (let i = 0; i < 300; i++) {
      const status = (await api('GET', release, tokens.bob)).body as { outcome?: string };
      if (status.outcome) return assert.equal(status.outcome, 'promoted');
      await sleep(100);
    }
    assert.fail('the release did not end after the approval');
  });

  it('a signing key file that cannot be read stops serve with exit 2, naming the key', async () => {
    const bad = configFile('bad-key', join(dir, 'missing.pem'));
    const r = await tandem(env, 'serve', '--config', bad, '--port', '0');
    assert.equal(r.code, 2, r.out);
    assert.match(r.out, /serve\.signingKeyFile: cannot read .*missing\.pem/);
  });
});
