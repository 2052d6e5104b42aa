/**
 * Git-tag webhooks as the README documents them ("Git-tag webhooks"): the secret made with the
 * README's command, serve.webhooks and the model's tag filter from its configuration block, and
 * `tandem serve` started as its own process against the real Temporal dev server, with a worker
 * (real workflows; the environment's activities are doubles, but the tag is resolved by the real
 * Git activity) and the example model in a real Git repository served over Git's smart HTTP.
 * Given a signed GitHub tag push, a release starts, resolves the pushed tag's commit and is
 * promoted; the same delivery again — also after serve restarts — starts nothing; refused and
 * ignored deliveries start nothing (the task queue's workflows are listed to check); a GitLab tag
 * push with the right token starts one. Last, the API variant of examples/ci runs its script
 * against the same server and exits 0 once the release it started is promoted.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse, stringify } from 'yaml';
import { createExampleRepo } from '../../scripts/example-repo';
import { createGitActivities } from '../../src/activities/git/resolve-tag';
import type { TandemClient } from '../../src/client';
import { hashToken } from '../../src/serve/auth/token-hash';
import { githubSignature } from '../../src/serve/hooks/signature';
import type { ReleaseStatus } from '../../src/workflows/messages';
import { createWorld, WORLD_ENVIRONMENT } from '../doubles/world';
import { serveRepository, type GitServer } from '../helpers/git-http';
import { daemon, freePort, type Daemon } from '../helpers/processes';
import { readmeSection, sh } from '../helpers/readme';
import { connectClient, ensureTemporal, NAMESPACE, startWorker, uniqueQueue, type RunningWorker } from '../helpers/temporal';

const serveSection = readmeSection('### The HTTP API: `tandem serve`', '### As an operator');
const hooksSection = readmeSection('#### Git-tag webhooks', '### As an operator');

describe('Git-tag webhooks through `tandem serve` as a process, as the README shows them', { timeout: 6 * 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-hooks-'));
  const model = uniqueQueue('hooks');
  const env = WORLD_ENVIRONMENT;
  const gitlabToken = randomBytes(24).toString('hex');
  const ciToken = randomBytes(32).toString('hex');
  let secret = '';
  let repo = '';
  let git: GitServer;
  let worker: RunningWorker;
  let client: TandemClient;
  let server: Daemon;
  let port = 0;
  let url = '';

  const commitOf = (tag: string) => execFileSync('git', ['rev-parse', `${tag}^{commit}`], { cwd: repo, encoding: 'utf8' }).trim();
  const startServe = async () => {
    const line = serveSection.line(/^tandem serve --config/);
    const args = line.replace(/^tandem /, '').replace('tandem.config.yaml', join(dir, 'tandem.config.yaml')).replace('7080', String(port)).split(' ');
    server = await daemon(args, /API at (http:\/\/\S+)\/api\//, { ...process.env, TEMPORAL_NAMESPACE: NAMESPACE, TANDEM_GITLAB_WEBHOOK_TOKEN: gitlabToken });
    url = /API at (http:\/\/\S+)\/api\//.exec(server.output())![1]!;
  };

  /** A GitHub push event of `ref`, as GitHub sends it (the fields tandem reads, and some it does not). */
  const githubPush = (ref: string, over: Record<string, unknown> = {}) => ({
    ref,
    before: '0'.repeat(40),
    after: ref.startsWith('refs/tags/') ? 'a'.repeat(40) : 'b'.repeat(40),
    created: true,
    deleted: false,
    forced: false,
    repository: { id: 1, name: 'fraud-detector', full_name: 'acme/fraud-detector', html_url: git.url, clone_url: `${git.url}.git`, pushed_at: Math.floor(Date.now() / 1000) },
    pusher: { name: 'octocat', email: 'octocat@example.com' },
    sender: { login: 'octocat', id: 1 },
    ...over,
  });
  const github = async (payload: unknown, options: { delivery?: string; sign?: string | false; body?: string } = {}) => {
    const body = options.body ?? JSON.stringify(payload);
    const headers: Record<string, string> = { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': options.delivery ?? randomUUID(), 'user-agent': 'GitHub-Hookshot/test' };
    if (options.sign !== false) headers['x-hub-signature-256'] = options.sign ?? githubSignature(secret, Buffer.from(body));
    const response = await fetch(`${url}/hooks/github`, { method: 'POST', headers, body });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> & { releases: Record<string, unknown>[] } };
  };
  /** Workflows on this test's task queue (the model's lock and its releases), once the list shows at least `atLeast`. */
  const workflows = async (atLeast: number) => {
    let ids: string[] = [];
    for (let i = 0; i < 80; i++) {
      ids = [];
      for await (const wf of client.temporal.workflow.list({ query: `TaskQueue = '${model}'` })) ids.push(wf.workflowId);
      if (ids.length >= atLeast) break;
      await sleep(250);
    }
    return ids.sort();
  };
  const untilStatus = async (pred: (s: ReleaseStatus) => boolean, what: string) => {
    let last: ReleaseStatus | undefined;
    for (let i = 0; i < 400; i++) {
      last = await client.status(model, env).catch(() => undefined);
      if (last && pred(last)) return last;
      await sleep(250);
    }
    assert.fail(`${what}: last status ${JSON.stringify(last)}`);
  };

  before(async () => {
    ensureTemporal();
    repo = (await createExampleRepo(join(dir, 'repos', 'fraud-detector'))).path;
    git = await serveRepository(repo);
    const world = createWorld({ specs: {} });
    const realGit = createGitActivities({ cacheDir: join(dir, 'git-cache') });
    worker = await startWorker(model, { ...world.activities, resolveTag: realGit.resolveTag });
    client = await connectClient(model);

    // The secret made with the README's command, in the folder serve reads it from.
    const make = hooksSection.line(/github-webhook\.secret/);
    const made = await sh(make, dir);
    assert.equal(made.code, 0, made.stderr);
    secret = readFileSync(join(dir, 'github-webhook.secret'), 'utf8').trim();
    assert.match(secret, /^[0-9a-f]{64}$/);

    // The README's configuration block, with this test's repository, model and environment.
    const documented = parse(hooksSection.yaml(/webhooks:/)) as {
      serve: { webhooks: { github: { secretFile: string }; gitlab: { secretEnv: string } } };
      models: Record<string, { repo: string; environment: string; tags: string }>;
    };
    assert.equal(documented.serve.webhooks.gitlab.secretEnv, 'TANDEM_GITLAB_WEBHOOK_TOKEN');
    documented.serve.webhooks.github.secretFile = join(dir, 'github-webhook.secret');
    const { tags } = documented.models['fraud-detector']!;
    assert.equal(tags, 'v*');
    const config = {
      taskQueue: model,
      environments: { [env]: { target: { kind: 'docker' }, registry: { url: '127.0.0.1:5000', insecure: true } } },
      models: { [model]: { repo: git.url, environment: env, tags } },
      serve: { ...documented.serve, tokens: [{ name: 'ci-github', sha256: hashToken(ciToken), groups: ['ci'] }], access: { start: ['ci'] } },
    };
    writeFileSync(join(dir, 'tandem.config.yaml'), stringify(config));
    port = await freePort();
    await startServe();
  });

  after(async () => {
    if (server && server.child.exitCode === null) server.child.kill('SIGKILL');
    if (client) {
      // Nothing of this test keeps running in the shared namespace.
      for await (const wf of client.temporal.workflow.list({ query: `TaskQueue = '${model}' AND ExecutionStatus = 'Running'` })) {
        await client.temporal.workflow.getHandle(wf.workflowId).terminate('test over').catch(() => undefined);
      }
      await client.close();
    }
    await worker?.stop();
    await git?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const delivery = randomUUID();
  let firstRelease = '';

  it('a signed GitHub tag push starts the model\'s release, which resolves the pushed commit in the real repository and is promoted', async () => {
    const answer = await github(githubPush('refs/tags/v1.0.0'), { delivery });
    assert.equal(answer.status, 202, JSON.stringify(answer.body));
    assert.equal(answer.body.status, 'started');
    const [release] = answer.body.releases;
    firstRelease = String(release!.workflowId);
    assert.deepEqual(release, { model, environment: env, tag: 'v1.0.0', workflowId: `release/${env}/${model}/v1.0.0/github-${delivery}`, requestedBy: 'github:octocat', started: true });
    const final = await client.wait(client.temporal.workflow.getHandle(firstRelease));
    assert.equal(final.outcome, 'promoted', JSON.stringify(final));
    assert.equal(final.commit, commitOf('v1.0.0'), 'the commit of the pushed tag, read from the Git repository');
    assert.equal(final.requestedBy, 'github:octocat');
  });

  it('the same delivery again starts nothing: 200 with the first release — also after serve restarts', async () => {
    const again = await github(githubPush('refs/tags/v1.0.0'), { delivery });
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.deepEqual([again.body.status, again.body.releases[0]!.workflowId, again.body.releases[0]!.started], ['duplicate', firstRelease, false]);
    server.child.kill('SIGTERM');
    assert.equal(await server.exited, 0);
    await startServe();
    const afterRestart = await github(githubPush('refs/tags/v1.0.0'), { delivery });
    assert.equal(afterRestart.status, 200, JSON.stringify(afterRestart.body));
    assert.equal(afterRestart.body.releases[0]!.workflowId, firstRelease);
    assert.deepEqual(await workflows(2), [`model/${env}/${model}`, firstRelease].sort(), 'one release and its lock, nothing more');
  });

  it('refused or ignored, starting nothing: wrong signature, unsigned, oversized, malformed, a tag the filter excludes, a deleted tag, an unknown repository', async () => {
    const push = githubPush('refs/tags/v1.1.0');
    const body = JSON.stringify(push);
    const wrong = await github(undefined, { body, sign: githubSignature('not the configured secret', Buffer.from(body)) });
    assert.equal(wrong.status, 401);
    assert.match(String(wrong.body.message), /X-Hub-Signature-256 does not match the body/);
    const unsigned = await github(undefined, { body, sign: false });
    assert.equal(unsigned.status, 401);
    assert.match(String(unsigned.body.message), /unsigned delivery/);
    const oversized = await github({ ...push, padding: 'x'.repeat(1024 * 1024) });
    assert.equal(oversized.status, 413);
    const malformed = await github(undefined, { body: '{"ref": "refs/tags/v1.1.0",' });
    assert.equal(malformed.status, 400);
    const excluded = await github(githubPush('refs/tags/nightly-2024-06-01'));
    assert.deepEqual([excluded.status, excluded.body.status, excluded.body.message], [202, 'ignored', `ignored: tag nightly-2024-06-01 does not match v* (models.${model}.tags)`]);
    const deleted = await github(githubPush('refs/tags/v1.1.0', { deleted: true, after: '0'.repeat(40) }));
    assert.deepEqual([deleted.status, deleted.body.status], [202, 'ignored']);
    const unknown = await github(githubPush('refs/tags/v1.1.0', { repository: { full_name: 'acme/ghost', clone_url: 'https://github.com/acme/ghost.git', pushed_at: Math.floor(Date.now() / 1000) } }));
    assert.equal(unknown.status, 404);
    assert.match(String(unknown.body.message), /repository acme\/ghost \(https:\/\/github\.com\/acme\/ghost\.git\) is not the repo of any model/);
    const stale = await github(githubPush('refs/tags/v1.1.0', { repository: { ...push.repository, pushed_at: Math.floor(Date.now() / 1000) - 25 * 3600 } }));
    assert.equal(stale.status, 400);
    assert.match(String(stale.body.message), /stale delivery/);
    assert.deepEqual(await workflows(2), [`model/${env}/${model}`, firstRelease].sort(), 'still one release and its lock');
    const log = server.output();
    assert.ok(!log.includes(secret) && !log.includes(gitlabToken), 'no secret in the log');
  });

  it('a GitLab tag push with the right token starts one; a wrong token starts nothing', async () => {
    const payload = JSON.stringify({
      object_kind: 'tag_push',
      event_name: 'tag_push',
      ref: 'refs/tags/v1.1.0',
      before: '0'.repeat(40),
      after: commitOf('v1.1.0'),
      checkout_sha: commitOf('v1.1.0'),
      user_name: 'Jane Doe',
      user_username: 'jdoe',
      project: { path_with_namespace: 'ml/fraud-detector', git_http_url: git.url, web_url: git.url },
    });
    const send = (token: string) =>
      fetch(`${url}/hooks/gitlab`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-gitlab-event': 'Tag Push Hook', 'x-gitlab-event-uuid': randomUUID(), 'x-gitlab-token': token }, body: payload });
    assert.equal((await send(randomBytes(24).toString('hex'))).status, 401);
    const response = await send(gitlabToken);
    const answer = (await response.json()) as { status: string; releases: { workflowId: string; requestedBy: string }[] };
    assert.equal(response.status, 202, JSON.stringify(answer));
    assert.equal(answer.releases[0]!.requestedBy, 'gitlab:jdoe');
    const status = await untilStatus((s) => s.version === 'v1.1.0' && s.commit !== undefined, 'v1.1.0 resolved');
    assert.equal(status.commit, commitOf('v1.1.0'));
    assert.equal(status.requestedBy, 'gitlab:jdoe');
    assert.equal(status.releaseId.split('/').slice(0, -1).join('/'), answer.releases[0]!.workflowId);
    assert.deepEqual(await workflows(4), [`model/${env}/${model}`, `model/${env}/${model}`, firstRelease, answer.releases[0]!.workflowId].sort());
    // The example's v1.1.0 is a canary that ends at an approval step: an operator approves it.
    await untilStatus((s) => s.version === 'v1.1.0' && s.waitingFor === 'approval', 'v1.1.0 waiting for approval');
    await client.act(model, env, 'approve', { who: 'release-manager', text: 'fine' });
    assert.equal((await client.wait(client.temporal.workflow.getHandle(answer.releases[0]!.workflowId))).outcome, 'promoted');
  });

  it('examples/ci/release-via-api.yml: its script starts a release through the API and exits 0 once it is promoted', async () => {
    const workflow = parse(readFileSync(join(__dirname, '..', '..', 'examples', 'ci', 'release-via-api.yml'), 'utf8')) as { jobs: Record<string, { steps: { run?: string }[] }> };
    // As written, but polling every second instead of every ten.
    const script = Object.values(workflow.jobs)[0]!.steps.find((step) => step.run?.includes('curl'))!.run!.replace('sleep 10', 'sleep 1');
    const job = new Promise<{ code: number; out: string }>((resolve) => {
      execFile('bash', ['-c', script], { cwd: dir, env: { ...process.env, MODEL: model, ENVIRONMENT: env, TAG: 'v1.2.0', TANDEM_URL: url, TANDEM_TOKEN: ciToken }, timeout: 120_000 }, (error, stdout, stderr) =>
        resolve({ code: error ? Number(error.code ?? -1) : 0, out: stdout + stderr }),
      );
    });
    // The example's v1.2.0 is a canary that ends at an approval step: an operator approves it.
    await untilStatus((s) => s.version === 'v1.2.0' && s.waitingFor === 'approval', 'v1.2.0 waiting for approval');
    await client.act(model, env, 'approve', { who: 'release-manager', text: 'fine' });
    const { code, out } = await job;
    assert.equal(code, 0, out);
    assert.match(out, new RegExp(`started release/${env}/${model}/v1\\.2\\.0/`));
    assert.match(out, /^rolling-out/m, 'it printed the stages on the way');
    assert.match(out, /outcome: promoted\n$/);
    assert.equal((await client.status(model, env)).requestedBy, 'ci-github', 'started as the token\'s holder');
  });

  it('closes on SIGTERM and exits 0', async () => {
    server.child.kill('SIGTERM');
    assert.equal(await server.exited, 0);
  });
});
