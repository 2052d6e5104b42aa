/**
 * The webhook routes of the `tandem serve` app in process (Fastify's inject), with a client double
 * that records what it is asked to start: every refusal (unsigned, wrong signature or token,
 * oversized, not JSON, stale, unknown repository, too many deliveries) starts nothing; a matching
 * tag starts the model's release once per delivery id; a non-matching or deleted tag is ignored.
 * test/cli/serve-hooks-process.test.ts runs the same against the real Temporal server and a worker.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { RefusedError } from '../../src/client/errors';
import { parseConfig } from '../../src/config/load';
import { buildServeApp, loggerOptions } from '../../src/serve/app';
import type { ServeClient } from '../../src/serve/client';
import { githubSignature } from '../../src/serve/hooks/signature';
import type { RequestSigner } from '../../src/policy/identity';
import type { ReleaseInput } from '../../src/workflows/messages';

const GITHUB_SECRET = 'g'.repeat(40);
const GITLAB_SECRET = 'l'.repeat(40);
process.env.TEST_HOOK_GITHUB_SECRET = GITHUB_SECRET;
process.env.TEST_HOOK_GITLAB_SECRET = GITLAB_SECRET;

const configText = (webhooks: string[]) =>
  [
    'environments:',
    '  staging: { target: { kind: docker }, registry: { url: r } }',
    '  prod: { target: { kind: docker }, registry: { url: r } }',
    'models:',
    '  fraud-detector: { repo: "https://github.com/acme/fraud-detector.git", environment: prod, tags: "v*" }',
    '  churn: { repo: "git@gitlab.example.com:ml/churn.git", environment: staging }',
    '  busy: { repo: "https://github.com/acme/busy", environment: staging }',
    'serve:',
    ...webhooks,
    '',
  ].join('\n');

const started: { input: ReleaseInput; trigger: string }[] = [];
const signers: (RequestSigner | undefined)[] = [];
const triggers = new Set<string>();
const client = {
  taskQueue: 'tandem',
  async startOnce(input: ReleaseInput, trigger: string, signer?: RequestSigner) {
    signers.push(signer);
    if (input.model === 'busy') throw new RefusedError('busy already has an active release in staging');
    const workflowId = `release/${input.environment}/${input.model}/${input.tag}/${trigger}`;
    if (triggers.has(trigger)) return { workflowId, started: false };
    triggers.add(trigger);
    started.push({ input, trigger });
    return { workflowId, started: true };
  },
} as unknown as ServeClient;

const now = Math.floor(Date.now() / 1000);
const push = (over: Record<string, unknown> = {}, repo = 'fraud-detector') => ({
  ref: 'refs/tags/v1.2.0',
  after: 'a'.repeat(40),
  deleted: false,
  repository: { full_name: `acme/${repo}`, clone_url: `https://github.com/acme/${repo}.git`, html_url: `https://github.com/acme/${repo}`, pushed_at: now },
  pusher: { name: 'octocat' },
  sender: { login: 'octocat' },
  ...over,
});

let app: FastifyInstance;
let log = '';
let delivery = 0;

async function github(payload: unknown, options: { sign?: string | false; event?: string; id?: string; type?: string; raw?: string } = {}) {
  const body = options.raw ?? JSON.stringify(payload);
  const headers: Record<string, string> = { 'content-type': options.type ?? 'application/json', 'x-github-event': options.event ?? 'push', 'x-github-delivery': options.id ?? `d-${++delivery}` };
  if (options.sign !== false) headers['x-hub-signature-256'] = options.sign ?? githubSignature(GITHUB_SECRET, Buffer.from(body));
  const r = await app.inject({ method: 'POST', url: '/hooks/github', headers, payload: body });
  return { status: r.statusCode, body: r.json() as Record<string, unknown> & { releases: Record<string, unknown>[] } };
}

describe('tandem serve: Git-tag webhooks', () => {
  before(async () => {
    const stream = new Writable({ write: (chunk, _enc, done) => ((log += chunk.toString()), done()) });
    const config = {
      ...parseConfig(configText(['  webhooks:', '    github: { secretEnv: TEST_HOOK_GITHUB_SECRET }', '    gitlab: { secretEnv: TEST_HOOK_GITLAB_SECRET }', '    maxAge: 1h', '    rateLimit: { max: 40, window: 1m }'])),
      path: '/etc/tandem/tandem.config.yaml',
    };
    ({ app } = await buildServeApp({ client, config, providers: [], logger: { ...(loggerOptions() as object), stream } }));
  });
  after(() => app.close());

  it('refuses unsigned and wrongly signed deliveries with 401, before reading them', async () => {
    const body = JSON.stringify(push());
    const cases: [string | false, RegExp][] = [
      [false, /unsigned delivery: no X-Hub-Signature-256/],
      ['sha256=' + '0'.repeat(64), /does not match the body/],
      [githubSignature('another secret entirely', Buffer.from(body)), /does not match the body/],
      [githubSignature(GITHUB_SECRET, Buffer.from(body + ' ')), /does not match the body/],
      ['sha1=abc', /does not match the body/],
    ];
    for (const [sign, message] of cases) {
      const r = await github(undefined, { raw: body, sign });
      assert.equal(r.status, 401, String(sign));
      assert.match(String(r.body.message), message);
    }
    const malformedUnsigned = await github(undefined, { raw: '{"ref":', sign: false });
    assert.equal(malformedUnsigned.status, 401, 'an unsigned body is not even parsed');
    assert.equal(started.length, 0);
  });

  it('400 for a signed body that is not JSON or lacks a field, 415 for form encoding, 413 over 1 MiB', async () => {
    const malformed = await github(undefined, { raw: '{"ref":' });
    assert.deepEqual([malformed.status, malformed.body.field], [400, 'body']);
    assert.match(String(malformed.body.message), /not valid JSON/);
    const noRef = await github({ ...push(), ref: undefined });
    assert.deepEqual([noRef.status, noRef.body.field], [400, 'body.ref']);
    const form = await github(undefined, { raw: `payload=${encodeURIComponent(JSON.stringify(push()))}`, type: 'application/x-www-form-urlencoded' });
    assert.equal(form.status, 415);
    assert.match(String(form.body.message), /set the webhook's content type to application\/json/);
    const big = await github({ ...push(), padding: 'x'.repeat(1024 * 1024) });
    assert.equal(big.status, 413);
    assert.equal(big.body.error, 'Payload Too Large');
    assert.equal(started.length, 0);
  });

  it('404 naming an unknown repository; a stale push is refused; a deleted or non-matching tag, a branch or a ping is ignored', async () => {
    const unknown = await github(push({}, 'ghost'));
    assert.equal(unknown.status, 404);
    assert.match(String(unknown.body.message), /repository acme\/ghost \(https:\/\/github\.com\/acme\/ghost\.git\) is not the repo of any model in \/etc\/tandem\/tandem\.config\.yaml/);
    const stale = await github(push({ repository: { ...push().repository, pushed_at: now - 2 * 3600 } }));
    assert.deepEqual([stale.status, stale.body.field], [400, 'body.repository.pushed_at']);
    assert.match(String(stale.body.message), /stale delivery: .*longer ago than serve\.webhooks\.maxAge allows; nothing started/);
    const other = await github(push({ ref: 'refs/tags/release-7' }));
    assert.deepEqual([other.status, other.body.status, other.body.message], [202, 'ignored', 'ignored: tag release-7 does not match v* (models.fraud-detector.tags)']);
    const deleted = await github(push({ deleted: true, after: '0'.repeat(40) }));
    assert.deepEqual([deleted.status, deleted.body.status], [202, 'ignored']);
    assert.match(String(deleted.body.message), /tag v1\.2\.0 was deleted/);
    assert.equal((await github(push({ ref: 'refs/heads/main' }))).body.status, 'ignored');
    const ping = await github({ zen: 'hi' }, { event: 'ping' });
    assert.deepEqual([ping.status, ping.body.status], [202, 'ignored']);
    assert.equal(started.length, 0);
  });

  it('a signed tag push starts the model\'s release in its default environment, once per delivery id', async () => {
    const first = await github(push(), { id: '72d3162e-cc78-11e3-81ab-4c9367dc0958' });
    assert.equal(first.status, 202, JSON.stringify(first.body));
    assert.equal(first.body.status, 'started');
    assert.deepEqual(first.body.releases, [
      { model: 'fraud-detector', environment: 'prod', tag: 'v1.2.0', workflowId: 'release/prod/fraud-detector/v1.2.0/github-72d3162e-cc78-11e3-81ab-4c9367dc0958', requestedBy: 'github:octocat', started: true },
    ]);
    assert.deepEqual(started, [
      { input: { model: 'fraud-detector', tag: 'v1.2.0', environment: 'prod', repoUrl: 'https://github.com/acme/fraud-detector.git', requestedBy: 'github:octocat' }, trigger: 'github-72d3162e-cc78-11e3-81ab-4c9367dc0958' },
    ]);
    const again = await github(push(), { id: '72d3162e-cc78-11e3-81ab-4c9367dc0958' });
    assert.equal(again.status, 200);
    assert.equal(again.body.status, 'duplicate');
    assert.equal(again.body.releases[0]!.workflowId, first.body.releases[0]!.workflowId);
    assert.equal(started.length, 1, 'nothing new started');
    const busy = await github(push({}, 'busy'));
    assert.equal(busy.status, 409, 'another release of the model is active');
  });

  it('GitLab: the token is checked; a Tag Push Hook starts the project\'s model', async () => {
    const payload = JSON.stringify({ object_kind: 'tag_push', ref: 'refs/tags/2024.06', after: 'c'.repeat(40), user_username: 'jdoe', project: { path_with_namespace: 'ml/churn', git_ssh_url: 'git@gitlab.example.com:ml/churn.git', web_url: 'https://gitlab.example.com/ml/churn' } });
    const send = (token?: string) =>
      app.inject({ method: 'POST', url: '/hooks/gitlab', headers: { 'content-type': 'application/json', 'x-gitlab-event': 'Tag Push Hook', 'x-gitlab-event-uuid': 'e-1', ...(token ? { 'x-gitlab-token': token } : {}) }, payload });
    for (const token of [undefined, 'l'.repeat(39), GITHUB_SECRET]) assert.equal((await send(token)).statusCode, 401, String(token));
    assert.equal(started.length, 1);
    const r = await send(GITLAB_SECRET);
    assert.equal(r.statusCode, 202, r.body);
    assert.deepEqual(started.at(-1), { input: { model: 'churn', tag: '2024.06', environment: 'staging', repoUrl: 'git@gitlab.example.com:ml/churn.git', requestedBy: 'gitlab:jdoe' }, trigger: 'gitlab-e-1' });
    assert.equal((await send(GITLAB_SECRET)).statusCode, 200, 'the same event UUID again: nothing new');
  });

  it('the OpenAPI document has both routes, public; the log has neither secret nor signature', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json() as { paths: Record<string, { post?: { security?: unknown[] } }> };
    for (const path of ['/hooks/github', '/hooks/gitlab']) assert.deepEqual(doc.paths[path]?.post?.security, [], path);
    assert.ok(log.includes('"x-hub-signature-256":"[redacted]"'));
    for (const secret of [GITHUB_SECRET, GITLAB_SECRET]) assert.ok(!log.includes(secret), 'a secret is in the log');
    assert.ok(!log.includes(githubSignature(GITHUB_SECRET, Buffer.from(JSON.stringify(push()))).slice(7, 30)));
  });

  it('429 once an address sent more deliveries than serve.webhooks.rateLimit allows; nothing started', async () => {
    const before = started.length;
    let status = 0;
    for (let i = 0; i < 50 && status !== 429; i++) status = (await github(push({ ref: 'refs/tags/v9.9.9' }), { sign: false })).status;
    assert.equal(status, 429);
    const r = await github(push({ ref: 'refs/tags/v9.9.8' }));
    assert.equal(r.status, 429, 'even a well-signed one, until the window ends');
    assert.equal(r.body.error, 'Too Many Requests');
    assert.equal(started.length, before);
  });

  it('with serve.signingKeyFile\'s key, a webhook start is signed as the pusher in the group named after the host', async () => {
    assert.ok(!signers.some((s) => s !== undefined), 'without a key: unsigned (self-declared)');
    const { privateKey } = generateKeyPairSync('ed25519');
    const config = { ...parseConfig(configText(['  webhooks:', '    gitlab: { secretEnv: TEST_HOOK_GITLAB_SECRET }'])), path: 'x.yaml' };
    const { app: signing } = await buildServeApp({ client, config, providers: [], signingKey: privateKey });
    const payload = JSON.stringify({ object_kind: 'tag_push', ref: 'refs/tags/2024.07', after: 'c'.repeat(40), user_username: 'jdoe', project: { path_with_namespace: 'ml/churn', git_ssh_url: 'git@gitlab.example.com:ml/churn.git' } });
    const r = await signing.inject({ method: 'POST', url: '/hooks/gitlab', headers: { 'content-type': 'application/json', 'x-gitlab-event': 'Tag Push Hook', 'x-gitlab-token': GITLAB_SECRET }, payload });
    await signing.close();
    assert.equal(r.statusCode, 202, r.body);
    const signed = signers.at(-1)!('release/staging/churn/2024.07/x', 'start');
    assert.deepEqual([signed.who, signed.groups], ['gitlab:jdoe', ['gitlab']]);
    assert.match(signed.signature, /^[0-9a-f]{128}$/);
  });

  it('an unconfigured host answers 404 naming the key; a secret that cannot be read stops the app from starting', async () => {
    const bare = { ...parseConfig(configText(['  webhooks:', '    gitlab: { secretEnv: TEST_HOOK_GITLAB_SECRET }'])), path: 'x.yaml' };
    const { app: other } = await buildServeApp({ client, config: bare, providers: [] });
    const r = await other.inject({ method: 'POST', url: '/hooks/github', headers: { 'content-type': 'application/json' }, payload: '{}' });
    assert.equal(r.statusCode, 404);
    assert.match(r.json().message, /GitHub webhooks are not configured: set serve\.webhooks\.github\.secretEnv or secretFile in x\.yaml/);
    await other.close();
    const missing = { ...parseConfig(configText(['  webhooks:', '    github: { secretEnv: TEST_HOOK_UNSET_SECRET }'])), path: 'x.yaml' };
    await assert.rejects(buildServeApp({ client, config: missing, providers: [] }), /serve\.webhooks\.github\.secretEnv names TEST_HOOK_UNSET_SECRET, which is not set/);
  });
});
