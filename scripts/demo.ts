/**
 * npm run demo: the whole mission on one machine. Brings up the Temporal dev server, the Docker
 * engine and registry (scripts), a gateway, a worker and `tandem serve`'s HTTP API (in this process,
 * with a bearer token made for the run, in a 0600 file of the work directory), sends live traffic
 * through the gateway, and releases the example model's tags one after another:
 *   v1.0.0 first release (direct), v1.1.0 canary with an approval, v1.2.0 caught by its smoke
 *   tests and rolled back, v1.3.0 failing to build.
 * Re-running starts again from nothing (the registry keeps its images: builds are then reused).
 *   --keep   leave the gateway, worker and API running at the end (Ctrl-C stops them)
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { ReleaseFailedError } from '../src/client';
import { newHistoryLines, versionsTable } from '../src/cli/format';
import { GatewayDefaults } from '../src/naming/gateway';
import { hashToken } from '../src/serve/auth/token-hash';
import { ServeDefaults } from '../src/serve/defaults';
import type { ReleaseStatus } from '../src/workflows/messages';
import { ENV, removeModelContainers, sendTraffic, startStack } from './stack';

const MODEL = 'fraud-detector';
const GATEWAY_PORT = Number(process.env.TANDEM_GATEWAY_PORT ?? GatewayDefaults.port);
const GATEWAY_ADMIN_PORT = Number(process.env.TANDEM_GATEWAY_ADMIN_PORT ?? GatewayDefaults.adminPort);
const SERVE_PORT = Number(process.env.TANDEM_SERVE_PORT ?? ServeDefaults.port);
const UI = `http://127.0.0.1:${process.env.TEMPORAL_UI_PORT ?? 8233}`;
const home = join(process.env.TANDEM_HOME ?? join(homedir(), '.cache', 'tandem'), 'demo');
const say = (text = '') => console.log(text);
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const started = Date.now();
  const keep = process.argv.includes('--keep');
  say('tandem demo: releasing the example fraud-detector model on this machine\n');
  rmSync(join(home, 'gateway'), { recursive: true, force: true });
  mkdirSync(home, { recursive: true });
  // A new API token each run, in a file only this user reads; the configuration holds its hash.
  const token = randomBytes(32).toString('hex');
  const tokenFile = join(home, 'serve-token');
  rmSync(tokenFile, { force: true });
  writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
  // serve signs what the token's holder does with this key; the worker checks it (same configuration).
  const signingKeyFile = join(home, 'serve-signing.pem');
  writeFileSync(signingKeyFile, generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  const stack = await startStack({
    model: MODEL,
    workDir: home,
    namespace: 'default',
    gatewayPort: GATEWAY_PORT,
    gatewayAdminPort: GATEWAY_ADMIN_PORT,
    taskQueue: 'tandem',
    quiet: true,
    serve: { port: SERVE_PORT, tokens: [{ name: 'demo', sha256: hashToken(token), groups: ['operators'] }], access: { start: ['operators'], operate: ['operators'] }, signingKeyFile },
  });
  const api = stack.serve!.url;
  const listReleases = `curl -s -H "Authorization: Bearer $(cat ${tokenFile})" '${api}/api/releases?state=all'`;
  await removeModelContainers(stack.docker, MODEL);
  const configPath = join(home, 'tandem.config.yaml');
  writeFileSync(configPath, YAML.stringify({ ...stack.config, models: { [MODEL]: { repo: stack.repo, environment: ENV } } }));
  say(`  Temporal Web UI   ${UI}`);
  say(`  gateway           ${stack.gateway.url}/${MODEL}/predict`);
  say(`  HTTP API          ${api}/api/ (tandem serve; OpenAPI at /openapi.json, bearer token in ${tokenFile})`);
  say(`  console           ${api}/console/ (fleet and releases, live; paste the token in ${tokenFile} as "or a token")`);
  say(`  list releases     ${listReleases}`);
  say(`  model repository  ${stack.repo} (tags v1.0.0 … v1.3.0)`);
  say(`  configuration     ${configPath}\n`);

  const { client } = stack;
  let traffic: ReturnType<typeof sendTraffic> | undefined;
  const release = async (tag: string, title: string, during?: (s: ReleaseStatus) => Promise<void>) => {
    say(`── ${tag}: ${title}`);
    const handle = await client.start({ model: MODEL, tag, environment: ENV, repoUrl: stack.repo, requestedBy: 'demo' });
    let printed = 0;
    let busy = false;
    const onChange = (s: ReleaseStatus) => {
      for (const line of newHistoryLines(s, printed)) say(`   ${line}`);
      printed = s.history.length;
      if (during && !busy && !s.outcome) {
        busy = true;
        void during(s).finally(() => (busy = false));
      }
    };
    try {
      const final = await client.wait(handle, onChange, 250);
      say(`   => ${final.outcome}\n`);
    } catch (err) {
      if (!(err instanceof ReleaseFailedError)) throw err;
      say(`   => ${(err.status as ReleaseStatus | undefined)?.outcome ?? 'failed'}: ${err.message.split('\n')[0]}\n`);
    }
  };

  await release('v1.0.0', 'the first release of the model goes straight to 100%');
  traffic = sendTraffic(stack.gateway.url, MODEL, 30);
  say(`   live traffic: 30 requests/s through the gateway from now on\n`);

  let approved = false;
  await release('v1.1.0', 'new weights, as a canary with analysis and an approval gate', async (s) => {
    if (s.waitingFor !== 'approval' || approved) return;
    approved = true;
    say(`   … waiting for approval. An operator approves with:`);
    say(`       ./bin/tandem.js release approve ${MODEL} --env ${ENV} --comment "canary looks healthy" --config ${configPath}`);
    say(`     (the demo sends that approval in 3 s, through the HTTP API as the token's holder "demo")`);
    await pause(3000);
    const answer = await fetch(`${api}/api/models/${MODEL}/environments/${ENV}/release/approve`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ comment: 'canary looks healthy' }),
    });
    if (!answer.ok) throw new Error(`the API refused the approval: ${answer.status} ${await answer.text()}`);
  });

  await release('v1.2.0', 'a version whose predictions fail: its smoke tests stop it before it takes traffic');
  await release('v1.3.0', 'a version whose Dockerfile fails: nothing is deployed');

  const tally = await traffic.stop();
  traffic = undefined;
  const state = await client.versions(MODEL, ENV);
  say('── running versions');
  say(versionsTable(state).replace(/^/gm, '   '));
  say('');
  say(`client requests through the gateway: ${tally.total} sent, ${tally.failed} failed (${Object.entries(tally.byVersion).map(([v, n]) => `${v}: ${n}`).join(', ')})`);
  if (tally.failed) say(`   failures: ${tally.errors.join('; ')}`);
  say(`demo took ${((Date.now() - started) / 1000).toFixed(0)} s`);
  say(`\nSee every release in the Temporal Web UI:`);
  say(`   ${UI}/namespaces/default/workflows?query=${encodeURIComponent(`TandemModel="${MODEL}"`)}`);
  say(`or list them through the HTTP API at ${api}/api/ (${keep ? 'it keeps running' : 'it stops with the demo; --keep leaves it running'}):`);
  say(`   ${listReleases}`);

  if (keep) {
    say(`\nThe gateway, worker and API keep running (Ctrl-C stops them). Try:`);
    say(`   open ${api}/console/ in a browser (the token in ${tokenFile} signs you in)`);
    say(`   curl -s -XPOST ${stack.gateway.url}/${MODEL}/predict -H 'X-Model-Version: v1.0.0' -d '{"amount":900,"country_risk":0.7,"velocity":4,"new_device":1}'`);
    say(`   ./bin/tandem.js versions ${MODEL} --config ${configPath}`);
    say(`   ./bin/tandem.js rollback ${MODEL} --to v1.0.0 --config ${configPath}`);
    await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
  }
  await stack.stop();
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(`demo failed: ${(err as Error).stack ?? err}`);
    process.exit(1);
  },
);
