/**
 * `tandem serve` as the README documents it: tokens made and hashed with the README's commands,
 * the server started as its own process against the real Temporal dev server, with a worker (real
 * workflows, activity doubles) releasing a canary that waits for approval. The README's curl
 * lines are run as written (model and environment names replaced by this test's). Checks: 401,
 * 403, 400 naming the field, 413, the OpenAPI document against the served routes, list, status,
 * history and versions answers, an approval recorded under the token's name even when the body
 * claims another, no token in the log, and SIGTERM closing it with exit 0.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createWorld, runningVersion, specs } from '../doubles/world';
import { daemon, freePort, type Daemon } from '../helpers/processes';
import { readmeSection, sh } from '../helpers/readme';
import { ensureTemporal, NAMESPACE, startWorker, uniqueQueue, type RunningWorker } from '../helpers/temporal';

const section = readmeSection('### The HTTP API: `tandem serve`', '### As an operator');
const readmeLine = (pattern: RegExp): string => section.line(pattern);

describe('tandem serve as a process, as the README shows it', { timeout: 5 * 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-serve-'));
  const model = uniqueQueue('serve');
  const env = 'staging';
  let worker: RunningWorker;
  let server: Daemon;
  let url = '';
  const tokens: Record<'ci' | 'ops' | 'reader', string> = { ci: '', ops: '', reader: '' };

  /** A README curl line for this test's model, with the given token as $TANDEM_TOKEN. */
  const curl = async (pattern: RegExp, token: string) => {
    const line = readmeLine(pattern).replaceAll('fraud-detector', model).replaceAll('/environments/staging/', `/environments/${env}/`);
    const r = await sh(line, dir, { TANDEM_URL: url, TANDEM_TOKEN: token });
    assert.equal(r.code, 0, `${line}\n${r.stderr}`);
    return JSON.parse(r.stdout) as Record<string, unknown> & Record<string, never>;
  };
  const request = async (method: string, path: string, token?: string, body?: string, headers: Record<string, string> = {}) => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      body,
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  const base = () => `/api/models/${model}/environments/${env}`;

  before(async () => {
    ensureTemporal();
    const world = createWorld({ specs: { 'v1.1.0': specs.canary }, running: [runningVersion('v1.0.0')], traffic: { weights: { 'v1.0.0': 100 }, pinned: ['v1.0.0'], stable: 'v1.0.0' } });
    worker = await startWorker(model, world.activities);
    // Tokens made and hashed with the README's two commands.
    const make = readmeLine(/^openssl rand/);
    const hash = readmeLine(/^tandem serve hash-token/);
    const hashes: Record<string, string> = {};
    for (const who of ['ci', 'ops', 'reader'] as const) {
      const sub = join(dir, who);
      rmSync(sub, { recursive: true, force: true });
      await sh(`mkdir -p ${sub}`, dir);
      assert.equal((await sh(make, sub)).code, 0);
      const hashed = await sh(hash, sub);
      assert.equal(hashed.code, 0, hashed.stderr);
      tokens[who] = readFileSync(join(sub, 'ci.token'), 'utf8').trim();
      hashes[who] = hashed.stdout.trim();
      assert.match(hashes[who]!, /^[0-9a-f]{64}$/);
      assert.ok(!hashed.stdout.includes(tokens[who]), 'hash-token printed the token');
    }
    writeFileSync(
      join(dir, 'tandem.config.yaml'),
      [
        `taskQueue: ${model}`,
        'environments:',
        `  ${env}:`,
        '    target: { kind: docker }',
        '    registry: { url: 127.0.0.1:5000, insecure: true }',
        'models:',
        `  ${model}: { repo: /srv/models/${model}, environment: ${env} }`,
        'serve:',
        '  tokens:',
        `    - { name: ci-github, sha256: ${hashes.ci}, groups: [ci] }`,
        `    - { name: alice, sha256: ${hashes.ops}, groups: [operators] }`,
        `    - { name: dashboard, sha256: ${hashes.reader} }`,
        '  access:',
        '    start: [ci]',
        '    operate: [operators]',
        '',
      ].join('\n'),
    );
    const port = await freePort();
    const start = readmeLine(/^tandem serve --config/);
    assert.match(start, /^tandem serve --config tandem\.config\.yaml --port 7080$/);
    const args = start.replace(/^tandem /, '').replace('tandem.config.yaml', join(dir, 'tandem.config.yaml')).replace('7080', String(port)).split(' ');
    server = await daemon(args, /API at (http:\/\/\S+)\/api\//, { ...process.env, TEMPORAL_NAMESPACE: NAMESPACE });
    url = /API at (http:\/\/\S+)\/api\//.exec(server.output())![1]!;
    assert.equal(url, `http://127.0.0.1:${port}`);
  });
  after(async () => {
    if (server && server.child.exitCode === null) server.child.kill('SIGKILL');
    await worker?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers /healthz without a token; /api needs a known token (401 otherwise)', async () => {
    assert.deepEqual(await request('GET', '/healthz'), { status: 200, body: { status: 'ok' } });
    for (const token of [undefined, 'f'.repeat(64)]) {
      const r = await request('GET', '/api/releases', token);
      assert.equal(r.status, 401);
      assert.match(String(r.body.message), /not authenticated/);
    }
    const post = await request('POST', `${base()}/releases`, undefined, JSON.stringify({ tag: 'v1.1.0' }));
    assert.equal(post.status, 401);
  });

  it('403 for a group that may not, 400 naming the field, 413 for an oversized body: nothing started', async () => {
    const forbidden = await request('POST', `${base()}/releases`, tokens.ops, JSON.stringify({ tag: 'v1.1.0' }));
    assert.equal(forbidden.status, 403);
    assert.match(String(forbidden.body.message), /alice \(groups: operators\) may not start: serve\.access\.start in tandem\.config\.yaml requires one of the groups ci/);
    const bad = await request('POST', `${base()}/releases`, tokens.ci, JSON.stringify({ tag: 'v1.1.0', who: 'mallory' }));
    assert.equal(bad.status, 400);
    assert.equal(bad.body.field, 'body.who');
    const noTag = await request('POST', `${base()}/releases`, tokens.ci, '{}');
    assert.deepEqual([noTag.status, noTag.body.field], [400, 'body.tag']);
    const big = await request('POST', `${base()}/releases`, tokens.ci, JSON.stringify({ tag: 'v1.1.0', repo: 'x'.repeat(70 * 1024) }));
    assert.equal(big.status, 413);
    const none = await request('GET', `${base()}/release`, tokens.reader);
    assert.equal(none.status, 404, 'no release was started');
    assert.match(String(none.body.message), new RegExp(`${model} has no release in ${env}`));
  });

  it('the OpenAPI document lists the served routes, and only those', async () => {
    const doc = (await request('GET', '/openapi.json')).body as { openapi: string; paths: Record<string, Record<string, unknown>> };
    assert.equal(doc.openapi, '3.1.0');
    const ops = Object.entries(doc.paths).flatMap(([path, methods]) => Object.keys(methods).map((m) => ({ method: m.toUpperCase(), path })));
    assert.equal(ops.length, 18);
    for (const { method, path } of ops) {
      if (path === '/api/fleet/events') {
        // An event stream never ends: its first answer is read, then the stream is dropped.
        const stream = new AbortController();
        const response = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${tokens.reader}` }, signal: stream.signal });
        assert.equal(response.status, 200);
        assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
        const reader = response.body!.getReader();
        assert.match(new TextDecoder().decode((await reader.read()).value), /^event: fleet\ndata: \{"generatedAt"/);
        stream.abort();
        continue;
      }
      // A token without groups: a served route answers with its own decision (200, 403, or 404
      // "no release"), never the router's "no route".
      const r = await request(method, path.replace('{model}', 'no-such-model').replace('{env}', env), tokens.reader, method === 'POST' ? '{}' : undefined);
      assert.doesNotMatch(String(r.body.message ?? ''), /no route/, `${method} ${path}`);
      // The webhooks are public and not configured here: they say so (404 naming the key).
      if (method === 'POST') assert.equal(r.status, path.startsWith('/hooks/') ? 404 : 403, `${method} ${path}`);
    }
    for (const [method, path] of [['GET', '/api/models'], ['DELETE', `${base()}/release`], ['GET', '/docs']]) {
      const r = await request(method!, path!, tokens.reader);
      assert.equal(r.status, 404, `${method} ${path}`);
      assert.match(String(r.body.message), /no route/);
    }
  });

  it('a release started, listed, approved and followed with the README\'s curl lines; who is the token\'s name', async () => {
    const started = await curl(/-d '\{"tag"/, tokens.ci);
    assert.equal(started.requestedBy, 'ci-github');
    let status: Record<string, unknown> = {};
    // Until a worker picks the release up its status is refused (409, "not picked up by a worker yet").
    for (let i = 0; i < 240 && status.waitingFor !== 'approval'; i++) {
      status = (await request('GET', `${base()}/release`, tokens.reader)).body;
      if (status.waitingFor !== 'approval') await sleep(250);
    }
    status = await curl(/environments\/staging\/release"$/, tokens.reader);
    assert.equal(status.waitingFor, 'approval', JSON.stringify(status));
    assert.equal(status.requestedBy, 'ci-github');
    const list = (await curl(/\/api\/releases"$/, tokens.reader)) as unknown as Record<string, unknown>[];
    const mine = list.find((r) => r.model === model);
    assert.ok(mine, JSON.stringify(list));
    assert.deepEqual([mine.environment, mine.version, mine.status, mine.waitingFor], [env, 'v1.1.0', 'RUNNING', 'approval']);

    const ciApproves = await request('POST', `${base()}/release/approve`, tokens.ci, JSON.stringify({ comment: 'lgtm' }));
    assert.equal(ciApproves.status, 403);
    const impersonation = await request('POST', `${base()}/release/approve`, tokens.ops, JSON.stringify({ comment: 'lgtm', who: 'mallory' }));
    assert.equal(impersonation.status, 400);
    assert.match(String(impersonation.body.message), /"who" is not accepted: who acts is taken from your credentials/);
    assert.equal((await request('GET', `${base()}/release`, tokens.reader)).body.waitingFor, 'approval', 'still waiting: nothing was sent');

    const approved = await curl(/release\/approve"/, tokens.ops);
    assert.deepEqual([approved.action, approved.who, approved.text, approved.accepted], ['approve', 'alice', 'dashboards look fine', true]);
    const again = await request('POST', `${base()}/release/approve`, tokens.ops, '{}');
    assert.equal(again.status, 409, JSON.stringify(again));
    assert.match(String(again.body.message), /approve refused/);

    for (let i = 0; i < 240 && !status.outcome; i++) {
      status = (await request('GET', `${base()}/release`, tokens.reader)).body;
      if (!status.outcome) await sleep(250);
    }
    assert.equal(status.outcome, 'promoted', JSON.stringify(status));
    const actions = status.actions as { action: string; who: string; accepted: boolean }[];
    assert.deepEqual(actions.filter((a) => a.accepted).map((a) => [a.action, a.who]), [['approve', 'alice']]);

    const history = (await request('GET', `${base()}/history`, tokens.reader)).body as unknown as { version: string; status: string; kind: string }[];
    assert.deepEqual(history.map((h) => [h.kind, h.version, h.status]), [['release', 'v1.1.0', 'COMPLETED']]);
    const versions = (await request('GET', `${base()}/versions`, tokens.reader)).body as { running: { version: string }[]; traffic: { stable?: string } };
    assert.equal(versions.traffic.stable, 'v1.1.0');
    assert.ok(versions.running.some((v) => v.version === 'v1.1.0'));
  });

  it('logs each request with who made it, the authorization header redacted, no token anywhere', () => {
    const log = server.output();
    assert.match(log, /"authorization":"\[redacted\]"/);
    assert.match(log, /"subject":"alice","via":"token"/);
    for (const token of Object.values(tokens)) assert.ok(!log.includes(token), 'a token is in the log');
  });

  it('closes on SIGTERM and exits 0', async () => {
    server.child.kill('SIGTERM');
    assert.equal(await server.exited, 0);
    assert.match(server.output(), /SIGTERM, closing/);
  });
});
