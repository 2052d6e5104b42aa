/**
 * Secrets stay secret (issue #8, defect 11): a registry password, the gateway's admin token and a
 * token in a repository URL are planted; a real release runs with `tandem gateway`, `tandem
 * worker` and the CLI as separate processes, exactly as the README shows them; then every
 * workflow history of the model, every process's output and every CLI answer are searched for the
 * planted values. The repository URL with credentials is refused before anything starts.
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
import { TandemClient } from '../../src/client';
import { daemon as start, dockerConfig, freePort, tandem as run, type Daemon } from '../helpers/processes';
import { ADDRESS, NAMESPACE, ensureTemporal } from '../helpers/temporal';
const MODEL = `secret-${randomBytes(3).toString('hex')}`;
const REGISTRY_PASSWORD = `planted-registry-${randomBytes(8).toString('hex')}`;
const GATEWAY_TOKEN = `planted-gateway-${randomBytes(8).toString('hex')}`;
const REPO_TOKEN = `planted-repo-${randomBytes(8).toString('hex')}`;
const SECRETS = [REGISTRY_PASSWORD, GATEWAY_TOKEN, REPO_TOKEN];

const env = {
  ...process.env,
  TEMPORAL_ADDRESS: ADDRESS,
  TEMPORAL_NAMESPACE: NAMESPACE,
  TANDEM_GATEWAY_TOKEN: GATEWAY_TOKEN,
  PLANTED_REGISTRY_PASSWORD: REGISTRY_PASSWORD,
  TANDEM_ACTOR: 'secrets-test',
};

/**
 * A history as text with every payload decoded: payload bytes come out of the history's JSON form
 * as base64 (`data`), which a plain text search would never match.
 */
function decoded(history: unknown): string {
  const text = JSON.stringify(history);
  return JSON.stringify(JSON.parse(text), (key, value: unknown) => (key === 'data' && typeof value === 'string' ? Buffer.from(value, 'base64').toString('utf8') : value));
}

const daemon = (args: string[], ready: RegExp) => start(args, ready, env);
const tandem = (...args: string[]) => run(env, ...args);

describe('planted secrets never reach history, logs or output', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-secrets-'));
  const outputs: string[] = [];
  let gateway: Daemon | undefined;
  let worker: Daemon | undefined;
  let config = '';
  let repo = '';

  before(async () => {
    ensureTemporal();
    ({ path: repo } = await createExampleRepo(join(dir, 'repo')));
    const [port, adminPort] = [await freePort(), await freePort()];
    config = join(dir, 'tandem.config.yaml');
    // the local registry ignores credentials; tandem still sends them with every push and pull
    writeFileSync(config, dockerConfig(MODEL, repo, adminPort, ', username: tandem, passwordEnv: PLANTED_REGISTRY_PASSWORD'));
    gateway = await daemon(['gateway', '--port', String(port), '--admin-port', String(adminPort), '--state-dir', join(dir, 'gateway')], /tandem gateway: models at/);
    worker = await daemon(['worker', '--config', config], /tandem worker: task queue/);
  });

  after(async () => {
    for (const p of [worker, gateway]) p?.child.kill('SIGTERM');
    await removeModelContainers(new Docker(), MODEL).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  it('a repository URL with a token is refused before anything starts, without echoing the token', async () => {
    const r = await tandem('release', 'start', MODEL, 'v1.0.0', '--config', config, '--repo', `https://ci:${REPO_TOKEN}@git.example.invalid/ml/model.git`);
    outputs.push(r.out);
    assert.equal(r.code, 2);
    assert.match(r.out, /repository URL carries credentials/);
    const client = await TandemClient.connect({ address: ADDRESS, namespace: NAMESPACE, taskQueue: `tandem-${MODEL}` });
    try {
      await assert.rejects(client.status(MODEL, 'local'), /has no release/);
    } finally {
      await client.close();
    }
  });

  it('a real release with registry credentials and a gateway token: no secret in any history, log or answer', async () => {
    const start = await tandem('release', 'start', MODEL, 'v1.0.0', '--config', config, '--wait');
    outputs.push(start.out);
    assert.equal(start.code, 0, start.out);
    for (const args of [['release', 'status', MODEL], ['release', 'status', MODEL, '--json'], ['versions', MODEL], ['versions', MODEL, '--json'], ['history', MODEL, '--json']]) {
      const r = await tandem(...args, '--config', config);
      assert.equal(r.code, 0, r.out);
      outputs.push(r.out);
    }
    // a failing release too: its reason and the build log tail are recorded
    const failed = await tandem('release', 'start', MODEL, 'v1.3.0', '--config', config, '--wait');
    outputs.push(failed.out);
    assert.equal(failed.code, 1, failed.out);

    const client = await TandemClient.connect({ address: ADDRESS, namespace: NAMESPACE, taskQueue: `tandem-${MODEL}` });
    const histories: string[] = [];
    try {
      const query = `WorkflowId STARTS_WITH 'model/local/${MODEL}' OR TandemModel = '${MODEL}'`;
      for await (const wf of client.temporal.workflow.list({ query })) {
        histories.push(decoded(await client.temporal.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory()));
      }
    } finally {
      await client.close();
    }
    assert.ok(histories.length >= 4, `lock and release histories found: ${histories.length}`);
    assert.ok(histories.some((h) => h.includes('tandem.yaml') || h.includes('127.0.0.1:5000')), 'the histories hold the release (the search can fail)');
    const places: [string, string][] = [
      ...histories.map((h, i) => [`history ${i}`, h] as [string, string]),
      ...outputs.map((o, i) => [`CLI output ${i}`, o] as [string, string]),
      ['worker log', worker!.output()],
      ['gateway log', gateway!.output()],
    ];
    for (const [where, text] of places) {
      for (const secret of SECRETS) assert.ok(!text.includes(secret), `${where} contains a planted secret`);
    }
  });
});
