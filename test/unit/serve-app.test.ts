/**
 * The `tandem serve` application in process (Fastify's inject), with a client double that records
 * what it is asked: authentication and access at the door, bodies checked with the field named,
 * identity taken from the token only, errors mapped to statuses, body size limit, the OpenAPI
 * document against the routes actually registered, and credentials absent from the log.
 * test/cli/serve-process.test.ts runs the same against the real Temporal server as a process.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { WorkflowNotFoundError } from '@temporalio/client';
import { BadInputError, NotFoundError, RefusedError } from '../../src/client/errors';
import { parseConfig } from '../../src/config/load';
import { buildServeApp, loggerOptions } from '../../src/serve/app';
import { bearerTokenProvider } from '../../src/serve/auth/bearer';
import { hashToken } from '../../src/serve/auth/token-hash';
import type { ServeClient } from '../../src/serve/client';

const CI = 'c'.repeat(48);
const OPS = 'o'.repeat(48);
const READER = 'r'.repeat(48);
const config = parseConfig(
  [
    'environments:',
    '  staging:',
    '    target: { kind: docker }',
    '    registry: { url: r }',
    'models:',
    '  fraud-detector: { repo: /srv/fraud-detector, environment: staging }',
    'serve:',
    '  tokens:',
    `    - { name: ci-github, sha256: ${hashToken(CI)}, groups: [ci] }`,
    `    - { name: alice, sha256: ${hashToken(OPS)}, groups: [ops] }`,
    `    - { name: dashboard, sha256: ${hashToken(READER)} }`,
    '  access: { start: [ci], operate: [ops] }',
    '',
  ].join('\n'),
);

const calls: { method: string; args: unknown[] }[] = [];
const record = (method: string, args: unknown[]) => calls.push({ method, args });
const status = { releaseId: 'r1', model: 'fraud-detector', environment: 'staging', version: 'v1.1.0', stage: 'rolling-out', weights: { 'v1.0.0': 50, 'v1.1.0': 50 }, paused: false, waitingFor: 'approval', steps: [], checks: [], actions: [], history: [], startedAt: 'now', futureField: 'kept' };

/** Answers as the real client would; model "ghost" has no release, model "busy" is refused. */
const client = {
  taskQueue: 'tandem',
  async releases(...args: unknown[]) {
    record('releases', args);
    return [{ workflowId: 'w', model: 'fraud-detector', environment: 'staging', version: 'v1.1.0', stage: 'rolling-out', status: 'RUNNING', startTime: 'now', waitingFor: 'approval' }];
  },
  async status(model: string, env: string) {
    record('status', [model, env]);
    if (model === 'ghost') throw new NotFoundError(`${model} has no release in ${env}`);
    return status;
  },
  async start(input: { model: string; tag: string }) {
    record('start', [input]);
    if (input.tag === 'v..bad') throw new BadInputError('tag "v..bad" is not a valid Git tag name');
    if (input.model === 'busy') throw new RefusedError('busy already has an active release in staging');
    return { workflowId: `release/staging/${input.model}/${input.tag}/now` };
  },
  async act(model: string, env: string, action: string, request: { who: string; text?: string }) {
    record('act', [model, env, action, request]);
    if (model === 'busy') throw new RefusedError(`${action} refused: nothing awaits approval`);
    return { action, ...request, at: 'now', accepted: true };
  },
  async history(...args: unknown[]) {
    record('history', args);
    return [];
  },
  async versions(...args: unknown[]) {
    record('versions', args);
    return { running: [], scaledDown: [], traffic: { weights: {}, pinned: [] } };
  },
  async rollback(input: { to?: string }) {
    record('rollback', [input]);
    return { from: 'v1.1.0', to: input.to ?? 'v1.0.0', weights: { [input.to ?? 'v1.0.0']: 100 } };
  },
} as unknown as ServeClient;

const PATH = '/api/models/fraud-detector/environments/staging';
let app: FastifyInstance;
let routes: { method: string; url: string }[];
let log = '';

const auth = (token: string) => ({ authorization: `Bearer ${token}` });
async function call(method: 'GET' | 'POST', url: string, token?: string, payload?: unknown) {
  const response = await app.inject({ method, url, headers: token ? auth(token) : {}, ...(payload === undefined ? {} : { payload: payload as object }) });
  return { status: response.statusCode, body: response.json() as Record<string, unknown>, headers: response.headers };
}

describe('tandem serve app', () => {
  before(async () => {
    const stream = new Writable({ write: (chunk, _enc, done) => ((log += chunk.toString()), done()) });
    ({ app, routes } = await buildServeApp({ client, config, providers: [bearerTokenProvider(config.serve!.tokens)], logger: { ...(loggerOptions() as object), stream } }));
  });
  after(() => app.close());

  it('401 without a token, with an unknown one, or a malformed header; the health and OpenAPI routes are public', async () => {
    for (const headers of [{}, auth('x'.repeat(48)), { authorization: CI }, { authorization: `Basic ${CI}` }]) {
      const r = await app.inject({ method: 'GET', url: '/api/releases', headers });
      assert.equal(r.statusCode, 401, JSON.stringify(headers));
      assert.equal(r.headers['www-authenticate'], 'Bearer');
      assert.match(r.json().message, /not authenticated: send `Authorization: Bearer <token>`/);
    }
    const unauthenticatedPost = await call('POST', `${PATH}/release/approve`, undefined, { comment: 'x' });
    assert.equal(unauthenticatedPost.status, 401);
    assert.equal((await call('GET', '/healthz')).status, 200);
    assert.equal((await call('GET', '/openapi.json')).status, 200);
    assert.equal(calls.length, 0, 'nothing reached the client');
  });

  it('403 for a group that may not: the CI token cannot approve, a token without groups can only read', async () => {
    const approve = await call('POST', `${PATH}/release/approve`, CI, { comment: 'lgtm' });
    assert.equal(approve.status, 403);
    assert.equal(approve.body.message, 'ci-github (groups: ci) may not operate: serve.access.operate in tandem.config.yaml requires one of the groups ops');
    assert.equal((await call('POST', `${PATH}/releases`, OPS, { tag: 'v1.1.0' })).status, 403);
    assert.equal((await call('POST', `${PATH}/rollback`, READER, {})).status, 403);
    assert.equal(calls.length, 0, 'nothing reached the client');
    assert.equal((await call('GET', `${PATH}/release`, READER)).status, 200);
    calls.length = 0;
  });

  it('the acting identity is the token\'s: a body naming someone else is refused (400) and nothing is sent', async () => {
    for (const field of ['who', 'by', 'requestedBy']) {
      const r = await call('POST', `${PATH}/release/approve`, OPS, { comment: 'lgtm', [field]: 'mallory' });
      assert.equal(r.status, 400);
      assert.equal(r.body.field, `body.${field}`);
      assert.match(String(r.body.message), new RegExp(`"${field}" is not accepted: who acts is taken from your credentials`));
    }
    const start = await call('POST', `${PATH}/releases`, CI, { tag: 'v1.1.0', requestedBy: 'mallory' });
    assert.equal(start.status, 400);
    assert.equal(calls.length, 0);
    calls.length = 0;
    const ok = await call('POST', `${PATH}/release/approve`, OPS, { comment: 'lgtm' });
    assert.equal(ok.status, 200);
    assert.deepEqual(calls, [{ method: 'act', args: ['fraud-detector', 'staging', 'approve', { who: 'alice', text: 'lgtm' }] }]);
    assert.equal(ok.body.who, 'alice');
    calls.length = 0;
    const started = await call('POST', `${PATH}/releases`, CI, { tag: 'v1.1.0' });
    assert.equal(started.status, 202);
    assert.deepEqual(calls[0]!.args[0], { model: 'fraud-detector', tag: 'v1.1.0', environment: 'staging', repoUrl: '/srv/fraud-detector', requestedBy: 'ci-github' });
    calls.length = 0;
  });

  it('400 naming the field for bad bodies, parameters and queries', async () => {
    const cases: [string, string, string | undefined, unknown, string, RegExp][] = [
      ['POST', `${PATH}/releases`, CI, {}, 'body.tag', /tag is required/],
      ['POST', `${PATH}/releases`, CI, { tag: 3 }, 'body.tag', /tag must be a string/],
      ['POST', `${PATH}/releases`, CI, { tag: 'v1', repo: '/elsewhere' }, 'body.repo', /released from models\.fraud-detector\.repo .*omit repo/],
      ['POST', '/api/models/unknown-model/environments/staging/releases', CI, { tag: 'v1' }, 'body.repo', /not in the configuration; give its repository as repo/],
      ['POST', `${PATH}/release/approve`, OPS, { comment: 42 }, 'body.comment', /comment must be a string/],
      ['POST', `${PATH}/release/abort`, OPS, { reason: 'x'.repeat(2001) }, 'body.reason', /longer than 2000 characters/],
      ['POST', `${PATH}/release/abort`, OPS, { comment: 'typo for reason' }, 'body.comment', /unknown field "comment"/],
      ['POST', `${PATH}/release/approve`, OPS, [1], 'body', /must be a JSON object/],
      ['GET', '/api/models/Fraud_Detector/environments/staging/release', READER, undefined, 'params.model', /a model name is lowercase letters/],
      ['GET', '/api/releases?state=done', READER, undefined, 'querystring.state', /./],
      ['GET', `${PATH}/history?limit=0`, READER, undefined, 'querystring.limit', /./],
    ];
    for (const [method, url, token, payload, field, message] of cases) {
      const r = await call(method as 'GET' | 'POST', url, token, payload);
      assert.equal(r.status, 400, `${method} ${url} ${JSON.stringify(payload)}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.field, field, JSON.stringify(r.body));
      assert.match(String(r.body.message), message);
    }
    const malformed = await app.inject({ method: 'POST', url: `${PATH}/release/approve`, headers: { ...auth(OPS), 'content-type': 'application/json' }, payload: '{"comment":' });
    assert.equal(malformed.statusCode, 400);
    assert.equal(calls.length, 0, 'nothing reached the client');
  });

  it('413 for a body over 64 KiB, before anything is sent', async () => {
    const r = await call('POST', `${PATH}/release/approve`, OPS, { comment: 'x'.repeat(70 * 1024) });
    assert.equal(r.status, 413);
    assert.equal(r.body.error, 'Payload Too Large');
    assert.equal(calls.length, 0);
  });

  it('maps the client\'s errors: unknown environment or release 404, refused 409, bad input 400', async () => {
    const env = await call('GET', '/api/models/fraud-detector/environments/prod/release', READER);
    assert.equal(env.status, 404);
    assert.match(String(env.body.message), /environment "prod" is not in tandem\.config\.yaml \(known: staging\)/);
    assert.equal((await call('GET', '/api/models/ghost/environments/staging/release', READER)).status, 404);
    const refused = await call('POST', '/api/models/busy/environments/staging/release/approve', OPS, {});
    assert.deepEqual(refused, { status: 409, headers: refused.headers, body: { statusCode: 409, error: 'Conflict', message: 'approve refused: nothing awaits approval' } });
    const bad = await call('POST', `${PATH}/releases`, CI, { tag: 'v..bad' });
    assert.equal(bad.status, 400);
    assert.match(String(bad.body.message), /not a valid Git tag name/);
    const noRoute = await call('GET', '/api/nothing-here', READER);
    assert.equal(noRoute.status, 404);
    assert.match(String(noRoute.body.message), /no route GET \/api\/nothing-here/);
    calls.length = 0;
  });

  it('answers pass through fields the schemas do not name (a field added to the status later reaches callers)', async () => {
    const r = await call('GET', `${PATH}/release`, READER);
    assert.equal(r.body.futureField, 'kept');
    assert.equal(r.body.waitingFor, 'approval');
    const list = await call('GET', '/api/releases?state=all&model=fraud-detector', READER);
    assert.equal(list.status, 200);
    assert.deepEqual(calls.at(-1), { method: 'releases', args: [{ model: 'fraud-detector', environment: undefined, running: false }, 100] });
    calls.length = 0;
  });

  it('the OpenAPI document lists exactly the registered routes, each with its methods', async () => {
    const doc = (await call('GET', '/openapi.json')).body as { paths: Record<string, Record<string, unknown>> };
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
    const served = routes.map((r) => `${r.method} ${r.url.replace(/:(\w+)/g, '{$1}')}`);
    assert.deepEqual(documented.sort(), served.sort());
    assert.ok(served.includes('POST /api/models/{model}/environments/{env}/release/approve'));
    assert.equal(served.length, 18, 'the API\'s 14 routes, the two webhooks and the console\'s two fleet routes');
  });

  it('the log has each request with its caller, and never a token', () => {
    assert.ok(log.includes('"authorization":"[redacted]"'), 'the header is logged, redacted');
    assert.match(log, /"subject":"alice","via":"token".*"res":\{"statusCode":200\}/);
    for (const token of [CI, OPS, READER]) assert.ok(!log.includes(token), 'a token is in the log');
  });
});

describe("tandem serve: starting a release on a model's path", () => {
  const pathConfig = parseConfig(
    [
      'environments:',
      '  staging: { target: { kind: docker }, registry: { url: r } }',
      '  prod: { target: { kind: docker }, registry: { url: r } }',
      'models:',
      '  fraud-detector: { repo: /srv/fraud-detector, environment: staging, path: [staging, { environment: prod, soak: 1h }] }',
      'serve:',
      '  tokens:',
      `    - { name: ci-github, sha256: ${hashToken(CI)}, groups: [ci] }`,
      '  access: { start: [ci] }',
      '',
    ].join('\n'),
  );
  const started: unknown[] = [];
  // No promotion workflow and no release in staging: v1.1.0 never went there.
  const pathClient = {
    taskQueue: 'tandem',
    temporal: { workflow: { getHandle: () => ({ describe: async () => Promise.reject(new WorkflowNotFoundError('not found', 'promotion/x', undefined)) }) } },
    history: async () => [],
    start: async (input: unknown) => (started.push(input), { workflowId: 'release/x' }),
  } as unknown as ServeClient;
  let pathApp: FastifyInstance;
  before(async () => {
    ({ app: pathApp } = await buildServeApp({ client: pathClient, config: pathConfig, providers: [bearerTokenProvider(pathConfig.serve!.tokens)], logger: false }));
  });
  after(() => pathApp.close());
  const post = async (env: string, payload: object) => {
    const r = await pathApp.inject({ method: 'POST', url: `/api/models/fraud-detector/environments/${env}/releases`, headers: auth(CI), payload });
    return { status: r.statusCode, message: (r.json() as { message: string }).message };
  };

  it('a version not eligible for prod is refused naming the condition, as by the CLI; nothing starts', async () => {
    const refused = await post('prod', { tag: 'v1.1.0' });
    assert.equal(refused.status, 409);
    assert.match(refused.message, /fraud-detector v1\.1\.0 is not eligible for prod: not promoted in staging: v1\.1\.0 was never released there/);
    assert.equal(started.length, 0);
  });

  it('the first environment of the path starts as usual; an override reason where no path leads is bad input', async () => {
    assert.equal((await post('staging', { tag: 'v1.1.0' })).status, 202);
    assert.equal(started.length, 1);
    const off = await post('staging', { tag: 'v1.1.0', overrideReason: 'hotfix' });
    assert.equal(off.status, 400);
    assert.match(off.message, /overrideReason: it overrides the conditions of a model's path, and models\.fraud-detector\.path does not lead to staging/);
    assert.equal(started.length, 1);
  });
});
