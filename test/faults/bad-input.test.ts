/**
 * Fault suite, bad input (issue #8): every case is a row of a table — how it is sent, the exit
 * code or refusal expected, and a pattern naming the field and the fix — followed by a check that
 * nothing changed (no lock workflow started, no image in the registry, no container, traffic and
 * activity calls untouched).
 *
 *   1. the `tandem` CLI as its own process, as the README shows it;
 *   2. raw `temporal workflow signal` (and the update path) with malformed payloads against a
 *      release waiting at a `pause: {}` step: never a failed workflow task, always recorded as
 *      refused, and a proper abort still rolls the release back afterwards;
 *   3. broken tandem.yaml files released for real: the real resolveTag on a throwaway Git
 *      repository and the real image build against the local registry, doubles for the rest;
 *   4. the gateway's admin API.
 *
 * One worker and, where possible, one running release per group.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import Docker from 'dockerode';
import { createGitActivities } from '../../src/activities/git/resolve-tag';
import { createImageActivities } from '../../src/activities/image';
import type { ReleaseActivities } from '../../src/activities/types';
import { BadInputError, RefusedError, ReleaseFailedError, type TandemClient } from '../../src/client';
import { imageTag, commitTag } from '../../src/naming/docker';
import { parseSpec, SpecError } from '../../src/model-spec/parse';
import { MAX_SPEC_BYTES } from '../../src/model-spec/limits';
import { operatorActions, statusQuery, type ReleaseStatus } from '../../src/workflows/messages';
import { createWorld, runningVersion, specs } from '../doubles/world';
import { connectClient, ensureTemporal, ROOT, startWorker, uniqueQueue, type RunningWorker } from '../helpers/temporal';
import {
  RUN,
  cliEnv,
  containersOf,
  eventually,
  gitRepo,
  lockRun,
  pool,
  recorded,
  registryDigest,
  registryTags,
  removeTemps,
  tandem,
  tempDir,
  tempFile,
  temporalCli,
  type ActivityCall,
  type ProcessResult,
} from './helpers/bad-input';

const ENV = 'staging';
const DIRECT = 'port: 8080\n';
/** A build that takes a second: the local base image and one file that differs per commit. */
const DOCKERFILE = 'FROM tandem/node-base:20\nCOPY version.txt /version.txt\n';
const REGISTRY_CONFIG = { url: '127.0.0.1:5000', insecure: true };

/** Stable v0.9.0 serving 100%: releases in these worlds have a previous stable version to fall back to. */
function servingWorld(specTexts: Record<string, string> = {}, stable = 'v0.9.0') {
  return createWorld({
    specs: specTexts,
    running: [runningVersion(stable)],
    traffic: { weights: { [stable]: 100 }, pinned: [stable], stable },
  });
}

/** Doubles, with the real resolveTag (Git) and the real buildImage (Docker engine + registry), every call recorded. */
function realGitAndImage(world: ReturnType<typeof createWorld>, calls: ActivityCall[]): ReleaseActivities {
  const cacheDir = tempDir('tandem-faults-git-');
  const image = createImageActivities({ docker: new Docker(), registry: REGISTRY_CONFIG, buildArgs: {}, workDir: cacheDir });
  return recorded({ ...world.activities, ...createGitActivities({ cacheDir }), buildImage: image.buildImage }, calls);
}

function configText(taskQueue: string, models: Record<string, string>): string {
  return [
    `taskQueue: ${taskQueue}`,
    'environments:',
    `  ${ENV}:`,
    '    target: { kind: docker }',
    '    registry: { url: 127.0.0.1:5000, insecure: true }',
    'models:',
    ...Object.entries(models).map(([model, repo]) => `  ${model}: { repo: ${JSON.stringify(repo)}, environment: ${ENV} }`),
    '',
  ].join('\n');
}

after(() => removeTemps());

// ───────────────────────────── 1. the CLI ─────────────────────────────

const cliQueue = uniqueQueue('faults-cli');
const cliRepo = tempDir('tandem-faults-cli-repo-');
const M = `${RUN}-m`; // configured, never released
const WRONG_TAG = `${RUN}-wt`; // configured; released once with a tag the repository lacks
const FRESH = `${RUN}-fresh`; // configured, never released
const DONE = `${RUN}-done`; // configured, released to the end in before()
const CRED = `${RUN}-cred`; // configured with a repository URL carrying credentials
const EXT = `${RUN}-ext`; // configured with an ext:: repository URL
const RB = `${RUN}-rb`; // configured, only ever asked to roll back to a version that does not run
const GHOST = `${RUN}-ghost`; // not in the configuration
const SECRET = 'hunter2-s3cret';
const PWNED = `/tmp/tandem-faults-pwned-${RUN}`;
const cliModels: Record<string, string> = {
  [M]: cliRepo,
  [WRONG_TAG]: cliRepo,
  [FRESH]: cliRepo,
  [DONE]: cliRepo,
  [RB]: cliRepo,
  [CRED]: `https://bob:${SECRET}@example.com/m.git`,
  [EXT]: `ext::sh -c touch% ${PWNED}`,
};
const goodConfig = tempFile('tandem.config.yaml', configText(cliQueue, cliModels));
const brokenConfig = (text: string) => tempFile('tandem.config.yaml', text);
const ENVS = `environments:\n  ${ENV}:\n    target: { kind: docker }\n    registry: { url: 127.0.0.1:5000 }\n`;

/** What a refused CLI request may leave behind for its model: nothing, or a lock run that ended without building. */
type LockExpectation = 'none' | 'unchanged' | 'failed-run';

interface CliCase {
  name: string;
  args: string[];
  /** the configuration passed with --config; null: none passed */
  config?: string | null;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  code: number;
  /** stderr names the field and the fix */
  stderr: RegExp;
  /** the model whose lock must not move */
  model: string;
  lock?: LockExpectation;
  /** must appear nowhere in the output */
  secret?: string;
  /** must not exist afterwards (ext:: would have created it) */
  file?: string;
}

/** Tag names Git refuses: one of each kind through the CLI process, the others through the client in this process (same check, no process start). */
const badTags = ['v1..0', 'v1.0.lock', 'has space', 'v1~1', 'v1:2', 'v1[0', '.hidden', 'trailing/'];
const moreBadTags = ['v1^2', 'v1?', 'v1*', 'back\\slash', 'trailing.', 'a@{b', 'bell\x07'];
const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const TAG_FIX = /is not a valid Git tag name \(Git refuses .*\); pass the tag exactly as `git tag --list` shows it/;

const cliCases: CliCase[] = [
  {
    name: 'a tag the repository does not have',
    args: ['release', 'start', WRONG_TAG, 'v9.9.9', '--wait'],
    code: 2,
    stderr: /tag "v9\.9\.9" not found in .* \(tags there, newest first: v1\.0\.0\); push the tag or fix the name/,
    model: WRONG_TAG,
    lock: 'failed-run',
  },
  ...badTags.map(
    (tag): CliCase => ({
      name: `invalid tag name ${JSON.stringify(tag)}`,
      args: ['release', 'start', M, tag],
      code: 2,
      stderr: new RegExp(`tag "${escapeRegExp(tag)}" ${TAG_FIX.source}`),
      model: M,
    }),
  ),
  {
    name: 'start of a model not in the configuration',
    args: ['release', 'start', GHOST, 'v1.0.0'],
    code: 2,
    stderr: new RegExp(`no repository for ${GHOST}: pass --repo URL or add models\\.${GHOST}\\.repo to tandem\\.config\\.yaml`),
    model: GHOST,
  },
  {
    name: 'status of a model not in the configuration',
    args: ['release', 'status', GHOST],
    code: 2,
    stderr: new RegExp(`no environment for ${GHOST}: pass --env NAME or set models\\.${GHOST}\\.environment in .*tandem\\.config\\.yaml`),
    model: GHOST,
  },
  {
    name: 'approve of a model not in the configuration',
    args: ['release', 'approve', GHOST, '--env', ENV],
    code: 2,
    stderr: new RegExp(`${GHOST} has no release in ${ENV}`),
    model: GHOST,
  },
  {
    name: 'invalid model name',
    args: ['release', 'start', 'Bad_Model', 'v1.0.0', '--repo', cliRepo, '--env', ENV],
    code: 2,
    stderr: /model "Bad_Model" is not a valid name: use lowercase letters, digits and "-", at most 40 characters/,
    model: 'Bad_Model',
  },
  {
    name: 'model name of 41 characters',
    args: ['release', 'start', 'm'.repeat(41), 'v1.0.0', '--repo', cliRepo, '--env', ENV],
    code: 2,
    stderr: /model "m{41}" is not a valid name: .*at most 40 characters/,
    model: 'm'.repeat(41),
  },
  ...[
    ['release', 'start', M, 'v1.0.0', '--env', 'prod'],
    ['release', 'approve', DONE, '--env', 'prod'],
    ['history', DONE, '--env', 'prod'],
  ].map(
    (args): CliCase => ({
      name: `unknown environment: ${args.slice(0, 2).join(' ')}`,
      args,
      code: 2,
      stderr: /environment "prod" is not in .*tandem\.config\.yaml \(known: staging\); fix --env or add it under environments/,
      model: args[1] === 'start' ? M : DONE,
      lock: args[1] === 'start' ? 'none' : 'unchanged',
    }),
  ),
  {
    name: 'missing configuration file named by --config',
    args: ['release', 'status', M],
    config: '/nonexistent/tandem.config.yaml',
    code: 2,
    stderr: /configuration file not found: \/nonexistent\/tandem\.config\.yaml — pass --config FILE or set TANDEM_CONFIG/,
    model: M,
  },
  {
    name: 'missing configuration file named by TANDEM_CONFIG',
    args: ['release', 'start', M, 'v1.0.0'],
    config: null,
    env: cliEnv({ TANDEM_CONFIG: '/nonexistent/by-env.yaml' }),
    code: 2,
    stderr: /configuration file not found: \/nonexistent\/by-env\.yaml — pass --config FILE or set TANDEM_CONFIG/,
    model: M,
  },
  {
    name: 'no configuration at all: status',
    args: ['release', 'status', M],
    config: null,
    code: 2,
    stderr: new RegExp(`no environment for ${M}: no configuration file was found .*Pass --env NAME, or --config FILE`),
    model: M,
  },
  {
    name: 'no configuration at all: start',
    args: ['release', 'start', M, 'v1.0.0', '--env', ENV],
    config: null,
    code: 2,
    stderr: new RegExp(`no repository for ${M}: pass --repo URL or add models\\.${M}\\.repo`),
    model: M,
  },
  ...(
    [
      ['model names an unknown environment', `${ENVS}models:\n  ${M}: { repo: /x, environment: prod }\n`, new RegExp(`models\\.${M}\\.environment: names environment "prod", which is not under "environments" \\(known: staging\\)`)],
      ['misspelt top-level key', 'enviroments: {}\n', /environments: Invalid input: expected record.*\(top level\): Unrecognized key: "enviroments"/],
      ['unknown target kind', ENVS.replace('kind: docker', 'kind: dockr'), /environments\.staging\.target\.kind: Invalid discriminator value\. Expected 'docker' \| 'kubernetes'/],
      ['registry missing', `environments:\n  ${ENV}:\n    target: { kind: docker }\n`, /environments\.staging\.registry: Invalid input: expected object, received undefined/],
      ['misspelt registry key', ENVS.replace('registry:', 'regsitry:'), /environments\.staging: Unrecognized key: "regsitry"/],
      ['registry.insecure not a boolean', ENVS.replace('url: 127.0.0.1:5000', 'url: 127.0.0.1:5000, insecure: "yes"'), /environments\.staging\.registry\.insecure: Invalid input: expected boolean, received string/],
      ['gateway URL not a URL', `${ENVS}    traffic: { router: gateway, url: "not a url" }\n`, /environments\.staging\.traffic\.url: Invalid URL/],
      ['unknown traffic router', `${ENVS}    traffic: { router: nginx }\n`, /environments\.staging\.traffic\.router: Invalid discriminator value\. Expected 'gateway' \| 'gateway-api' \| 'replica-ratio'/],
      ['model name with capitals', `${ENVS}models:\n  Bad_M: { repo: /x, environment: staging }\n`, /models\.Bad_M: invalid name: model names are lowercase letters, digits and "-", at most 40/],
      ['environment name with capitals', ENVS.replace(`  ${ENV}:`, '  Prod:'), /environments\.Prod: invalid name: environment names are lowercase letters, digits and "-"/],
      ['invalid YAML', 'environments: [oops\n', /tandem\.config\.yaml is not valid YAML: /],
      ['a list, not a mapping', '- staging\n', /\(top level\): Invalid input: expected object, received array/],
    ] as const
  ).map(
    ([what, text, stderr]): CliCase => ({
      name: `broken configuration: ${what}`,
      args: ['release', 'status', M],
      config: brokenConfig(text),
      code: 2,
      stderr,
      model: M,
    }),
  ),
  ...['0', 'abc', '-1', '1001'].map(
    (limit): CliCase => ({
      name: `history --limit ${JSON.stringify(limit)}`,
      args: ['history', DONE, '--limit', limit],
      code: 2,
      // The option, the value and the accepted range (as the CLI's own check or commander's words it).
      stderr: new RegExp(`--limit(: "${limit.replace('.', '\\.')}" is not a| <n>' argument '${limit.replace('.', '\\.')}' is invalid\\. Not a) whole number from 1 to 1000`),
      model: DONE,
      lock: 'unchanged',
    }),
  ),
  {
    name: 'history --limit without a value',
    args: ['history', DONE, '--limit'],
    code: 2,
    stderr: /option '--limit <n>' argument missing/,
    model: DONE,
    lock: 'unchanged',
  },
  ...[`https://bob:${SECRET}@example.com/m.git`, `https://${SECRET}@github.com/acme/m.git`, `ssh://git:${SECRET}@example.com/m.git`].map(
    (repo): CliCase => ({
      name: `repository URL with credentials: ${repo.split(':')[0]}${repo.includes('bob') ? ' user:password' : repo.startsWith('ssh') ? ' password' : ' token'}`,
      args: ['release', 'start', M, 'v1.0.0', '--repo', repo],
      code: 2,
      stderr: /repository URL carries credentials \((https|ssh):\/\/\*\*\*@(example\.com|github\.com)….*Pass the URL without them and give the worker Git credentials instead/,
      model: M,
      secret: SECRET,
    }),
  ),
  {
    name: 'repository URL with credentials from the configuration',
    args: ['release', 'start', CRED, 'v1.0.0'],
    code: 2,
    stderr: /repository URL carries credentials \(https:\/\/\*\*\*@example\.com…\)/,
    model: CRED,
    secret: SECRET,
  },
  {
    name: 'ext:: repository on the command line',
    args: ['release', 'start', M, 'v1.0.0', '--repo', `ext::sh -c touch% ${PWNED}`],
    code: 2,
    stderr: /repository "ext::…": Git remote helpers such as ext:: are not accepted; use an https:\/\/, ssh:\/\/ or file URL, or a local path/,
    model: M,
    file: PWNED,
  },
  {
    name: 'ext:: repository from the configuration',
    args: ['release', 'start', EXT, 'v1.0.0', '--wait'],
    code: 2,
    stderr: /repository "ext::…": Git remote helpers such as ext:: are not accepted/,
    model: EXT,
    file: PWNED,
  },
  {
    name: 'fd:: remote helper',
    args: ['release', 'start', M, 'v1.0.0', '--repo', 'fd::3'],
    code: 2,
    stderr: /repository "fd::…": Git remote helpers such as ext:: are not accepted/,
    model: M,
  },
  {
    name: 'repository URL that is not a URL',
    args: ['release', 'start', M, 'v1.0.0', '--repo', 'https://exa mple.com/m.git'],
    code: 2,
    stderr: /repository "https:\/\/exa mple\.com\/m\.git" is not a valid URL/,
    model: M,
  },
  {
    name: 'repository URL over 2000 characters',
    args: ['release', 'start', M, 'v1.0.0', '--repo', `https://example.com/${'r'.repeat(2000)}.git`],
    code: 2,
    stderr: /repository URL is longer than 2000 characters/,
    model: M,
  },
  ...operatorActions.map(
    (action): CliCase => ({
      name: `${action} when the model never had a release`,
      args: ['release', action, FRESH],
      code: 2,
      stderr: new RegExp(`${FRESH} has no release in ${ENV}`),
      model: FRESH,
    }),
  ),
  ...operatorActions.map(
    (action): CliCase => ({
      name: `${action} when the release is finished`,
      args: ['release', action, DONE, ...(action === 'abort' ? ['--reason', 'too late'] : [])],
      code: 2,
      stderr: new RegExp(`${action} refused: the last release of ${DONE} in ${ENV} \\(v1\\.0\\.0\\) is promoted; nothing to ${action}`),
      model: DONE,
      lock: 'unchanged',
    }),
  ),
  {
    name: 'unknown command',
    args: ['release', 'frobnicate', M],
    code: 2,
    stderr: /error: unknown command 'frobnicate'/,
    model: M,
  },
  {
    name: 'start without a tag',
    args: ['release', 'start', M],
    code: 2,
    stderr: /error: missing required argument 'tag'/,
    model: M,
  },
];

describe('bad input through the tandem CLI', { timeout: 150_000 }, () => {
  let worker: RunningWorker;
  let client: TandemClient;
  let world: ReturnType<typeof servingWorld>;
  const calls: ActivityCall[] = [];
  const results = new Map<string, ProcessResult>();
  const locksBefore = new Map<string, string | undefined>();
  let doneTags: string[] = [];

  before(async () => {
    ensureTemporal();
    await gitRepo([{ files: { 'tandem.yaml': DIRECT, Dockerfile: DOCKERFILE, 'version.txt': '1.0.0' }, tag: 'v1.0.0' }], cliRepo);
    world = servingWorld();
    worker = await startWorker(cliQueue, realGitAndImage(world, calls));
    client = await connectClient(cliQueue);
    // A release that ran to the end: operator actions on it must be refused.
    const final = await client.wait(await client.start({ model: DONE, tag: 'v1.0.0', environment: ENV, repoUrl: cliRepo, requestedBy: 'fault-suite' }));
    assert.equal(final.outcome, 'promoted');
    doneTags = await registryTags(DONE);
    assert.ok(doneTags.includes('v1.0.0'), `the finished release pushed ${DONE}:v1.0.0 (tags: ${doneTags.join(', ')})`);
    for (const c of cliCases) locksBefore.set(c.model, await lockRun(client, c.model, ENV));
    calls.length = 0;
    const out = await pool(cliCases, 3, (c) =>
      tandem([...(c.config === null ? [] : ['--config', c.config ?? goodConfig]), ...c.args], { env: c.env, cwd: c.cwd }),
    );
    cliCases.forEach((c, i) => results.set(c.name, out[i]!));
  });

  after(async () => {
    await client?.close();
    await worker?.stop();
  });

  for (const c of cliCases) {
    it(c.name, async () => {
      const r = results.get(c.name)!;
      assert.equal(r.code, c.code, `exit code; stderr: ${r.stderr}`);
      assert.match(r.stderr, c.stderr);
      if (c.secret) assert.ok(!`${r.stdout}${r.stderr}`.includes(c.secret), 'the secret must not be printed');
      if (c.file) assert.equal(existsSync(c.file), false, `${c.file} must not have been created`);
      const lock = await lockRun(client, c.model, ENV);
      const previous = locksBefore.get(c.model);
      switch (c.lock ?? 'none') {
        case 'none':
          assert.equal(lock, undefined, `no lock workflow for ${c.model} may be started`);
          break;
        case 'unchanged':
          assert.equal(lock, previous, `the lock of ${c.model} must not run again`);
          break;
        case 'failed-run': {
          assert.notEqual(lock, previous);
          const status = await client.status(c.model, ENV);
          assert.equal(status.outcome, 'failed');
          assert.equal(status.failureType, 'TagNotFound');
          break;
        }
      }
      // Nothing was built or deployed for the model, and the engine holds nothing of it.
      assert.deepEqual(
        // resolvePolicy and stepIntoPath only read the worker's configuration (the approval policy, the model's path), before the tag.
        calls.filter((call) => call.model === c.model && !['resolveTag', 'resolvePolicy', 'stepIntoPath'].includes(call.name)).map((call) => call.name),
        [],
        `no activity beyond resolvePolicy and resolveTag may run for ${c.model}`,
      );
      assert.deepEqual(await registryTags(c.model), c.model === DONE ? doneTags : [], `registry tags of ${c.model}`);
      assert.equal(await containersOf(c.model), 0);
    });
  }

  for (const tag of moreBadTags) {
    it(`invalid tag name ${JSON.stringify(tag)} through the client: BadInputError naming the fix, no lock`, async () => {
      await assert.rejects(client.start({ model: M, tag, environment: ENV, repoUrl: cliRepo }), (err: unknown) => {
        assert.ok(err instanceof BadInputError, String(err));
        assert.match(err.message, new RegExp(`tag "${escapeRegExp(tag)}" ${TAG_FIX.source}`));
        return true;
      });
      assert.equal(await lockRun(client, M, ENV), undefined);
    });
  }

  it('rollback to a version that does not run is refused and moves no traffic', async () => {
    const before = structuredClone(world.traffic());
    const r = await tandem(['--config', goodConfig, 'rollback', RB, '--to', 'v0.0.0']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /rollback refused: v0\.0\.0 is not running in staging \(running: .*v1\.0\.0.*\); rollback only switches traffic to a warm version/);
    assert.deepEqual(world.traffic(), before);
    assert.equal(calls.filter((call) => call.name === 'setTraffic').length, 0);
  });

  it('nothing else started: the task queue holds only the finished release, the wrong tag and the refused rollback', async () => {
    // lock + release of DONE, lock + release of WRONG_TAG, lock + rollback of RB
    const expected = 6;
    const count = async () => (await client.temporal.workflow.count(`TaskQueue = '${cliQueue}'`)).count;
    await eventually('visibility to list the workflows', async () => ((await count()) >= expected ? true : undefined), 10_000, 200);
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(await count(), expected);
  });
});

// ─────────────────── 2. raw signals and updates with malformed payloads ───────────────────

const BIG_WHO = 'w'.repeat(201);
const BIG_TEXT = 't'.repeat(2001);

interface PayloadCase {
  label: string;
  /** --input of `temporal workflow signal`; undefined: no --input at all */
  input?: string;
  /** the same payload for the update path */
  value: unknown;
  /** the reason recorded / answered (after "malformed payload") */
  why: string;
}

const payloads: PayloadCase[] = [
  { label: 'null', input: 'null', value: null, why: 'malformed payload null: send a JSON object such as \\{"who": "alice", "text": "why"\\}' },
  { label: 'a number', input: '42', value: 42, why: 'malformed payload 42: send a JSON object such as' },
  { label: 'a string', input: '"a string"', value: 'a string', why: 'malformed payload "a string": send a JSON object such as' },
  { label: 'no input', input: undefined, value: undefined, why: 'malformed payload \\(none\\): send a JSON object such as' },
  { label: 'an array', input: '["alice"]', value: ['alice'], why: 'malformed payload \\["alice"\\]: send a JSON object such as' },
  { label: '{}', input: '{}', value: {}, why: 'malformed payload: who: who is required: a JSON object such as' },
  { label: '{"who": ""}', input: '{"who": ""}', value: { who: '' }, why: 'malformed payload: who: who must name the person or job making the request' },
  { label: '{"who": "   "}', input: '{"who": "   "}', value: { who: '   ' }, why: 'malformed payload: who: who must name the person or job making the request' },
  { label: '{"who": 5}', input: '{"who": 5}', value: { who: 5 }, why: 'malformed payload: who: who is required: a JSON object such as' },
  { label: 'who of 201 characters', input: JSON.stringify({ who: BIG_WHO }), value: { who: BIG_WHO }, why: 'malformed payload: who: who is longer than 200 characters' },
  {
    label: 'text of 2001 characters',
    input: JSON.stringify({ who: 'alice', text: BIG_TEXT }),
    value: { who: 'alice', text: BIG_TEXT },
    why: 'malformed payload: text: text is longer than 2000 characters',
  },
  { label: '{"who": "alice", "text": 5}', input: '{"who": "alice", "text": 5}', value: { who: 'alice', text: 5 }, why: 'malformed payload: text: text must be a string' },
];

describe('malformed operator messages against a running release', { timeout: 150_000 }, () => {
  const queue = uniqueQueue('faults-signal');
  const world = servingWorld({ 'v2.0.0': specs.pauseForever }, 'v1.0.0');
  let worker: RunningWorker;
  let client: TandemClient;

  before(async () => {
    ensureTemporal();
    worker = await startWorker(queue, world.activities);
    client = await connectClient(queue);
  });
  after(async () => {
    await client?.close();
    await worker?.stop();
  });

  for (const action of operatorActions) {
    describe(`${action}`, () => {
      const model = `${RUN}-sig-${action}`;
      let workflowId = '';
      const status = async () => (await client.releaseHandle(model, ENV)).query(statusQuery);
      /** The release is still where it was: rolling out, waiting at the pause step, traffic 10% to v2.0.0. */
      const assertUntouched = (s: ReleaseStatus) => {
        assert.equal(s.stage, 'rolling-out');
        assert.equal(s.waitingFor, 'resume');
        assert.equal(s.paused, false);
        assert.equal(s.outcome, undefined);
        assert.deepEqual(s.weights, { 'v1.0.0': 90, 'v2.0.0': 10 });
      };

      before(async () => {
        const handle = await client.start({ model, tag: 'v2.0.0', environment: ENV, repoUrl: '/srv/models/none', requestedBy: 'fault-suite' });
        workflowId = handle.workflowId;
        await eventually('the release to wait at its pause step', async () => ((await status()).waitingFor === 'resume' ? true : undefined));
      });

      for (const p of payloads) {
        it(`signal ${action} with ${p.label}: recorded as refused, workflow task not failed`, async () => {
          const before = (await status()).actions.length;
          const r = await temporalCli(['workflow', 'signal', '--workflow-id', workflowId, '--name', action, ...(p.input === undefined ? [] : ['--input', p.input])]);
          assert.equal(r.code, 0, r.stderr);
          const after = await eventually('the signal to be recorded', async () => {
            const s = await status();
            return s.actions.length > before ? s : undefined;
          });
          const recordedAction = after.actions.at(-1)!;
          assert.equal(recordedAction.action, action);
          assert.equal(recordedAction.accepted, false);
          assert.equal(recordedAction.who, '(unknown)');
          assert.match(recordedAction.note ?? '', new RegExp(`^${p.why}`));
          assert.ok((recordedAction.text ?? '').length <= 60, 'what the sender sent is kept short in history');
          assert.match(after.history.at(-1)!.message, new RegExp(`^${action} by \\(unknown\\) ignored: malformed payload`));
          assertUntouched(after);
          const description = await client.temporal.workflow.getHandle(workflowId).describe();
          assert.equal(description.status.name, 'RUNNING');
          assert.ok((description.raw.pendingWorkflowTask?.attempt ?? 1) <= 1, 'no workflow task is being retried');
        });
      }

      for (const p of payloads) {
        it(`update ${action}-now with ${p.label}: refused with the reason, nothing recorded`, async () => {
          const before = await status();
          const err = await client.act(model, ENV, action, p.value as never).then(
            () => assert.fail('a malformed request must be refused'),
            (e: unknown) => e,
          );
          assert.ok(err instanceof RefusedError, String(err));
          assert.match(err.message, new RegExp(`^${action} refused: ${p.why}`));
          const after = await status();
          assert.equal(after.actions.length, before.actions.length);
          assertUntouched(after);
        });
      }

      it(`tandem release ${action} --by <201 characters>: exit 2 naming the field`, async () => {
        const r = await tandem(['--config', tempFile('tandem.config.yaml', configText(queue, { [model]: '/srv/models/none' })), 'release', action, model, '--by', BIG_WHO]);
        assert.equal(r.code, 2, r.stderr);
        assert.match(r.stderr, new RegExp(`${action} refused: malformed payload: who: who is longer than 200 characters`));
        assertUntouched(await status());
      });

      it('no workflow task failed in the whole history', async () => {
        const history = await client.temporal.workflow.getHandle(workflowId).fetchHistory();
        const failed = (history.events ?? []).filter((e) => e.workflowTaskFailedEventAttributes);
        assert.equal(failed.length, 0, `failed workflow tasks: ${failed.map((e) => e.workflowTaskFailedEventAttributes?.failure?.message).join('; ')}`);
      });

      it('a proper abort through the client still rolls the release back', async () => {
        const accepted = await client.act(model, ENV, 'abort', { who: 'fault-suite', text: `cleanup after malformed ${action} messages` });
        assert.equal(accepted.accepted, true);
        const err = await client.wait(await client.releaseHandle(model, ENV)).then(
          () => assert.fail('an aborted release is not promoted'),
          (e: unknown) => e,
        );
        assert.ok(err instanceof ReleaseFailedError, String(err));
        const final = await client.status(model, ENV);
        assert.equal(final.outcome, 'rolled-back');
        assert.match(final.reason ?? '', /aborted by fault-suite: cleanup/);
        assert.deepEqual(world.traffic().weights, { 'v1.0.0': 100 });
        assert.ok(!world.running().includes('v2.0.0'), 'the aborted version is scaled down');
      });
    });
  }
});

// ───────────────────────────── 3. broken specs ─────────────────────────────

const canary = (step: string) => `port: 8080\nrollout:\n  strategy: canary\n  steps:\n    - setWeight: 10\n    - ${step}\n`;
const smoke = (body: string, expectJson = '') =>
  `port: 8080\nsmoke:\n  - name: big\n    request: { path: /predict, body: ${body} }\n    expect: { status: 200${expectJson ? `, json: ${expectJson}` : ''} }\n`;
const aliasBomb = [
  'a: &a [x, x, x, x, x, x, x, x, x, x]',
  'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]',
  'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]',
  'd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]',
  'port: 8080',
  'smoke: [{ name: bomb, request: { path: /p, body: *d }, expect: {} }]',
  '',
].join('\n');

interface SpecCase {
  tag: string;
  /** tandem.yaml at the tag; null: the commit has none */
  spec: string | null;
  /** the failure names the field and the limit */
  message: RegExp;
  /** how it is sent: `tandem release start --wait` (exit 2 expected), or the client's start + wait (InvalidSpec expected) */
  via: 'cli' | 'client';
}

const specCases: SpecCase[] = [
  { tag: 's-pause-99999999999d', via: 'cli', spec: canary('pause: { duration: 99999999999d }'), message: /rollout\.steps\[1\]\.pause\.duration: must be at most 30d/ },
  { tag: 's-approval-31d', via: 'client', spec: canary('approval: { timeout: 31d }'), message: /rollout\.steps\[1\]\.approval\.timeout: must be at most 30d/ },
  { tag: 's-ready-2h', via: 'client', spec: 'port: 8080\nreadyTimeout: 2h\n', message: /readyTimeout: must be at most 1h/ },
  { tag: 's-ready-huge', via: 'client', spec: 'port: 8080\nreadyTimeout: 99999999999d\n', message: /readyTimeout: must be at most 1h/ },
  { tag: 's-health-5m', via: 'client', spec: 'port: 8080\nhealth: { timeout: 5m }\n', message: /health\.timeout: must be at most 1m/ },
  { tag: 's-analysis-count-101', via: 'client', spec: canary('analysis: { interval: 1s, count: 101 }'), message: /rollout\.steps\[1\]\.analysis\.count: Too big: expected number to be <=100/ },
  { tag: 's-analysis-interval-2h', via: 'client', spec: canary('analysis: { interval: 2h, count: 1 }'), message: /rollout\.steps\[1\]\.analysis\.interval: must be at most 1h/ },
  { tag: 's-preview-31d', via: 'client', spec: 'port: 8080\nrollout:\n  strategy: blue-green\n  previewDuration: 31d\n', message: /rollout\.previewDuration: must be at most 30d/ },
  { tag: 's-duration-words', via: 'client', spec: canary('pause: { duration: 5 minutes }'), message: /rollout\.steps\[1\]\.pause\.duration: must be a duration such as 500ms, 30s, 5m or 2h/ },
  {
    tag: 's-smoke-body-5mb', via: 'cli',
    spec: smoke(JSON.stringify({ blob: 'x'.repeat(5 * 1024 * 1024) })),
    message: new RegExp(`tandem\\.yaml at s-smoke-body-5mb is 5\\d{3} KiB, more than the ${MAX_SPEC_BYTES / 1024} KiB a spec may have; keep large smoke inputs out of the spec`),
  },
  { tag: 's-smoke-body-100k', via: 'client', spec: smoke(JSON.stringify({ blob: 'x'.repeat(100 * 1024) })), message: /smoke\[0\]\.request\.body: is larger than 64 KiB as JSON; keep smoke requests small/ },
  { tag: 's-smoke-expect-100k', via: 'client', spec: smoke('{}', JSON.stringify({ label: 'y'.repeat(100 * 1024) })), message: /smoke\[0\]\.expect\.json: is larger than 64 KiB as JSON/ },
  { tag: 's-spec-300k', via: 'cli', spec: DIRECT + '# padding padding padding padding padding padding padding\n'.repeat(5500), message: /tandem\.yaml at s-spec-300k is 3\d\d KiB, more than the 256 KiB a spec may have/ },
  {
    tag: 's-smoke-51', via: 'client',
    spec: 'port: 8080\nsmoke:\n' + Array.from({ length: 51 }, (_, i) => `  - { name: t${i}, request: { path: /p }, expect: { status: 200 } }\n`).join(''),
    message: /smoke: at most 50 smoke tests/,
  },
  { tag: 's-steps-51', via: 'client', spec: 'port: 8080\nrollout:\n  strategy: canary\n  steps:\n' + '    - setWeight: 10\n'.repeat(51), message: /rollout\.steps: at most 50 steps/ },
  { tag: 's-replicas-101', via: 'client', spec: 'port: 8080\nreplicas: 101\n', message: /replicas: Too big: expected number to be <=100/ },
  { tag: 's-port-70000', via: 'client', spec: 'port: 70000\n', message: /port: Too big: expected number to be <=65535/ },
  { tag: 's-weight-150', via: 'client', spec: 'port: 8080\nrollout:\n  strategy: canary\n  steps:\n    - setWeight: 150\n', message: /rollout\.steps\[0\]/ },
  { tag: 's-invalid-yaml', via: 'client', spec: 'port: [oops\n', message: /tandem\.yaml at s-invalid-yaml is not valid YAML/ },
  { tag: 's-duplicate-key', via: 'client', spec: 'port: 8080\nport: 9090\n', message: /is not valid YAML: Map keys must be unique/ },
  { tag: 's-alias-bomb', via: 'cli', spec: aliasBomb, message: /is not valid YAML: Excessive alias count/ },
  { tag: 's-top-level-list', via: 'client', spec: '- port: 8080\n', message: /\(top level\): Invalid input: expected object, received array/ },
  { tag: 's-unknown-key', via: 'client', spec: 'port: 8080\nrolout: { strategy: direct }\n', message: /Unrecognized key: "rolout"/ },
  { tag: 's-unknown-strategy', via: 'client', spec: 'port: 8080\nrollout: { strategy: yolo }\n', message: /rollout\.strategy: Invalid discriminator value\. Expected 'direct' \| 'canary' \| 'blue-green'/ },
  { tag: 's-empty', via: 'client', spec: '', message: /port: Invalid input: expected number, received undefined/ },
  { tag: 's-no-spec', via: 'cli', spec: null, message: /tandem\.yaml not found at s-no-spec \([0-9a-f]{12}\): every released commit needs a spec at the repository root/ },
  { tag: 's-other-model', via: 'client', spec: 'model: someone-else\nport: 8080\n', message: /model: is "someone-else" but the release is for "[a-z0-9-]+"; fix the spec or release the right model/ },
];

/** What a release started through the client ended with. */
interface SpecOutcome {
  error: unknown;
}

/** Tags Git accepts that Docker does not, in pairs that a lossy clean-up would merge. */
const collidingPairs: [string, string][] = [
  ['u-ä', 'u-ö'],
  ['release/1.0', 'release-1.0'],
];

describe('broken tandem.yaml released for real (real Git and registry, doubles beyond)', { timeout: 150_000 }, () => {
  const queue = uniqueQueue('faults-spec');
  const world = servingWorld();
  const calls: ActivityCall[] = [];
  const results = new Map<string, ProcessResult | SpecOutcome>();
  const modelOf = (i: number) => `${RUN}-s${i}`;
  const UNI = `${RUN}-uni`;
  let repoDir = '';
  let worker: RunningWorker;
  let client: TandemClient;
  let config = '';

  before(async () => {
    ensureTemporal();
    const good = { Dockerfile: DOCKERFILE, 'tandem.yaml': DIRECT };
    const repo = await gitRepo([
      ...specCases.map((c) => ({ files: { ...good, 'tandem.yaml': c.spec, 'version.txt': c.tag }, tag: c.tag })),
      ...collidingPairs.flat().map((tag) => ({ files: { ...good, 'version.txt': tag }, tag })),
    ]);
    repoDir = repo.dir;
    worker = await startWorker(queue, realGitAndImage(world, calls));
    client = await connectClient(queue);
    config = tempFile('tandem.config.yaml', configText(queue, { [UNI]: repoDir }));
    // The CLI ones two at a time (each is a process), the client ones all at once.
    const viaClient = async (c: SpecCase, i: number): Promise<SpecOutcome> => {
      const handle = await client.start({ model: modelOf(i), tag: c.tag, environment: ENV, repoUrl: repoDir, requestedBy: 'fault-suite' });
      return client.wait(handle).then(
        () => ({ error: new Error('promoted') }),
        (error: unknown) => ({ error }),
      );
    };
    const indexed = specCases.map((c, i) => [c, i] as const);
    const [cli, direct] = await Promise.all([
      pool(indexed.filter(([c]) => c.via === 'cli'), 2, ([c, i]) =>
        tandem(['--config', config, 'release', 'start', modelOf(i), c.tag, '--repo', repoDir, '--env', ENV, '--wait'], { timeoutMs: 120_000 }).then((r) => [c.tag, r] as const),
      ),
      Promise.all(indexed.filter(([c]) => c.via === 'client').map(([c, i]) => viaClient(c, i).then((r) => [c.tag, r] as const))),
    ]);
    for (const [tag, r] of [...cli, ...direct]) results.set(tag, r);
  });
  after(async () => {
    await client?.close();
    await worker?.stop();
  });

  specCases.forEach((c, i) => {
    it(`${c.tag} (via ${c.via}): refused non-retryably (InvalidSpec) naming the field, release failed, nothing built or deployed`, async () => {
      const model = modelOf(i);
      const r = results.get(c.tag)!;
      if ('code' in r) {
        assert.equal(r.code, 2, `exit code; stderr: ${r.stderr.slice(0, 2000)}`);
        assert.match(r.stderr, /tandem: release ended: /);
        assert.match(r.stderr, c.message);
      } else {
        assert.ok(r.error instanceof ReleaseFailedError, String(r.error));
        assert.equal(r.error.failureType, 'InvalidSpec');
        assert.match(r.error.message, c.message);
      }
      const status = await client.status(model, ENV);
      assert.equal(status.outcome, 'failed');
      assert.equal(status.stage, 'failed');
      assert.equal(status.failureType, 'InvalidSpec');
      assert.match(status.reason ?? '', c.message);
      const mine = calls.filter((call) => call.model === model);
      assert.deepEqual(
        mine.map((call) => `${call.name}#${call.attempt}`),
        ['resolvePolicy#1', 'stepIntoPath#1', 'resolveTag#1'],
        'the policy and the path were read, resolveTag ran once, was not retried, and nothing ran after it',
      );
      assert.deepEqual(await registryTags(model), [], 'no image pushed');
      assert.equal(await containersOf(model), 0, 'no container created');
    });
  });

  it('the world did not move: traffic and running versions as before', () => {
    assert.deepEqual(world.traffic(), { weights: { 'v0.9.0': 100 }, pinned: ['v0.9.0'], stable: 'v0.9.0' });
    assert.deepEqual(world.running(), ['v0.9.0']);
  });

  for (const [a, b] of collidingPairs) {
    it(`tags ${a} and ${b} are both released, under different image tags with different digests`, async () => {
      for (const tag of [a, b]) {
        const r = await tandem(['--config', config, 'release', 'start', UNI, tag, '--wait'], { timeoutMs: 120_000 });
        assert.equal(r.code, 0, `release of ${tag}: ${r.stderr}`);
      }
      const [ta, tb] = [imageTag(a), imageTag(b)];
      assert.notEqual(ta, tb);
      for (const t of [ta, tb]) assert.match(t, /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/);
      const tags = await registryTags(UNI);
      assert.ok(tags.includes(ta) && tags.includes(tb), `registry tags of ${UNI}: ${tags.join(', ')}`);
      const [da, db] = [await registryDigest(UNI, ta), await registryDigest(UNI, tb)];
      assert.ok(da && db, 'both tags are served');
      assert.notEqual(da, db, 'each tag names its own commit\'s image');
      // The last release's commit marker points at the same image as its version tag.
      const last = await client.status(UNI, ENV);
      assert.equal(last.version, b);
      assert.equal(await registryDigest(UNI, commitTag(last.commit!)), db);
    });
  }

  describe('parseSpec alone (what resolveTag relies on)', () => {
    const direct: [string, string, RegExp][] = [
      ['a 5 MB smoke body', smoke(JSON.stringify({ blob: 'x'.repeat(5 * 1024 * 1024) })), /smoke\[0\]\.request\.body: is larger than 64 KiB as JSON/],
      ['an alias bomb', aliasBomb, /is not valid YAML: Excessive alias count/],
      ['a 5 MB expected answer', smoke('{}', JSON.stringify({ label: 'y'.repeat(5 * 1024 * 1024) })), /smoke\[0\]\.expect\.json: is larger than 64 KiB as JSON/],
    ];
    for (const [what, text, message] of direct) {
      it(`${what}: SpecError naming the field`, () => {
        assert.throws(() => parseSpec(text), (err: unknown) => err instanceof SpecError && message.test(err.message));
      });
    }
  });
});

// ───────────────────────────── 4. the gateway's admin API ─────────────────────────────

interface AdminCase {
  name: string;
  method: string;
  /** path on the admin port (or the traffic port with `port: 'traffic'`) */
  path: string;
  /** Authorization header; undefined: the right bearer token; null: none */
  authorization?: string | null;
  body?: string | Buffer;
  port?: 'admin' | 'traffic';
  status: number;
  /** the JSON answer's `error` names the field and the fix */
  error: RegExp;
  /** send it this many times on the same kept-alive connection pool (an oversized body once reset the connection now and then) */
  repeat?: number;
}

const GATEWAY_TOKEN = `fault-token-${RUN}`;
const GW_MODEL = `${RUN}-gw`;
const GW_GHOST = `${RUN}-gw-ghost`;
const GW_ROUTES = { weights: { v1: 100 }, pinned: ['v1'], stable: 'v1' };
const trafficPath = (model: string) => `/_tandem/models/${model}/traffic`;
const json = (value: unknown) => JSON.stringify(value);

const adminCases: AdminCase[] = [
  ...(['PUT', 'DELETE', 'GET'] as const).map(
    (method): AdminCase => ({
      name: `${method} traffic without a token`,
      method,
      path: trafficPath(GW_MODEL),
      authorization: null,
      body: method === 'PUT' ? json({ weights: { v2: 100 }, pinned: [] }) : undefined,
      status: 401,
      error: /admin API: missing the Authorization header; send "Authorization: Bearer <admin token>"/,
    }),
  ),
  {
    name: 'PUT traffic with a wrong token',
    method: 'PUT',
    path: trafficPath(GW_MODEL),
    authorization: 'Bearer not-the-token',
    body: json({ weights: { v2: 100 }, pinned: [] }),
    status: 401,
    error: /admin API: the bearer token is not this gateway's admin token/,
  },
  {
    name: 'DELETE traffic with the token as a prefix of a longer one',
    method: 'DELETE',
    path: trafficPath(GW_MODEL),
    authorization: `Bearer ${GATEWAY_TOKEN}x`,
    status: 401,
    error: /the bearer token is not this gateway's admin token/,
  },
  {
    name: 'PUT traffic with Basic authentication',
    method: 'PUT',
    path: trafficPath(GW_MODEL),
    authorization: `Basic ${Buffer.from(`admin:${GATEWAY_TOKEN}`).toString('base64')}`,
    body: json({ weights: { v2: 100 }, pinned: [] }),
    status: 401,
    error: /the Authorization header is not "Bearer <token>"; send "Authorization: Bearer <admin token>"/,
  },
  {
    name: 'PUT endpoints (reroute to any URL) without a token',
    method: 'PUT',
    path: `/_tandem/models/${GW_MODEL}/versions/v1/endpoints`,
    authorization: null,
    body: json({ urls: ['http://attacker.example:80'] }),
    status: 401,
    error: /missing the Authorization header/,
  },
  {
    name: 'GET every model without a token',
    method: 'GET',
    path: '/_tandem/models',
    authorization: null,
    status: 401,
    error: /missing the Authorization header/,
  },
  {
    name: 'PUT traffic on the traffic port, with the token',
    method: 'PUT',
    path: trafficPath(GW_MODEL),
    port: 'traffic',
    body: json({ weights: { v2: 100 }, pinned: [] }),
    status: 404,
    error: /the admin API \(\/_tandem\/\.\.\.\) is not served on the traffic port; use the gateway's admin port/,
  },
  { name: 'weights summing to 90', method: 'PUT', path: trafficPath(GW_MODEL), body: json({ weights: { v1: 50, v2: 40 }, pinned: [] }), status: 400, error: /^weights: must sum to 100 \(got 90\), or be \{\} to serve pinned requests only/ },
  { name: 'weights summing to 110', method: 'PUT', path: trafficPath(GW_MODEL), body: json({ weights: { v1: 60, v2: 50 }, pinned: [] }), status: 400, error: /^weights: must sum to 100 \(got 110\)/ },
  { name: 'a negative weight', method: 'PUT', path: trafficPath(GW_MODEL), body: json({ weights: { v1: 110, v2: -10 }, pinned: [] }), status: 400, error: /weights\.v2: must be an integer percent from 0 to 100 \(got -10\)/ },
  { name: 'a fractional weight', method: 'PUT', path: trafficPath(GW_MODEL), body: json({ weights: { v1: 49.5, v2: 50.5 } }), status: 400, error: /weights\.v1: must be an integer percent from 0 to 100 \(got 49\.5\)/ },
  { name: 'a weight as a string', method: 'PUT', path: trafficPath(GW_MODEL), body: json({ weights: { v2: '100' } }), status: 400, error: /weights\.v2: must be an integer percent from 0 to 100 \(got "100"\)/ },
  { name: 'weights missing', method: 'PUT', path: trafficPath(GW_MODEL), body: json({ pinned: ['v1'] }), status: 400, error: /^weights: must be an object mapping versions to percents/ },
  { name: 'weights as a list', method: 'PUT', path: trafficPath(GW_MODEL), body: json({ weights: [100] }), status: 400, error: /^weights: must be an object mapping versions to percents/ },
  { name: 'an unknown field', method: 'PUT', path: trafficPath(GW_MODEL), body: json({ weights: { v1: 100 }, weight: { v2: 100 } }), status: 400, error: /weight: is not a known field \(weights, pinned, stable, mirror\)/ },
  { name: 'pinned not a list', method: 'PUT', path: trafficPath(GW_MODEL), body: json({ weights: { v1: 100 }, pinned: 'v1' }), status: 400, error: /pinned: must be a list of version names/ },
  { name: 'stable not a string', method: 'PUT', path: trafficPath(GW_MODEL), body: json({ weights: { v1: 100 }, stable: 1 }), status: 400, error: /stable: must be a version name/ },
  { name: 'weight to a version with no replica', method: 'PUT', path: trafficPath(GW_MODEL), body: json({ weights: { v1: 50, v9: 50 } }), status: 400, error: /weights\.v9: .*-gw v9 has no running replica the gateway can reach/ },
  { name: 'a body that is not JSON', method: 'PUT', path: trafficPath(GW_MODEL), body: '{weights: {v1: 100}', status: 400, error: /^\(body\): not JSON: / },
  { name: 'an empty body', method: 'PUT', path: trafficPath(GW_MODEL), body: '', status: 400, error: /^\(body\): not JSON: / },
  { name: 'a JSON list', method: 'PUT', path: trafficPath(GW_MODEL), body: '[]', status: 400, error: /^\(body\): must be a JSON object \{"weights": \{\.\.\.\}, "pinned": \[\.\.\.\], "stable": "\.\.\.", "mirror": \{\.\.\.\}\}/ },
  { name: 'JSON null', method: 'PUT', path: trafficPath(GW_MODEL), body: 'null', status: 400, error: /^\(body\): must be a JSON object/ },
  { name: 'a 2 MiB body', method: 'PUT', path: trafficPath(GW_MODEL), body: json({ weights: { v1: 100 }, pinned: [], stable: 'v1'.padEnd(2 * 1024 * 1024, '1') }), status: 400, error: /^\(body\): body larger than 1 MiB/, repeat: 4 },
  { name: 'a model name that is not one', method: 'PUT', path: trafficPath('Bad_Model'), body: json(GW_ROUTES), status: 400, error: /^model: "Bad_Model" is not a model name \(lowercase letters, digits and "-"\)/ },
  { name: 'a model path that is not valid percent-encoding', method: 'PUT', path: trafficPath('%E0%A4%A'), body: json(GW_ROUTES), status: 400, error: /^model: "" is not a model name/ },
  { name: 'an unknown model routed to a version it does not have', method: 'PUT', path: trafficPath(GW_GHOST), body: json({ weights: { v1: 100 }, pinned: [] }), status: 400, error: /weights\.v1: .*-gw-ghost v1 has no running replica the gateway can reach/ },
  { name: 'an unknown model pinned to a version it does not have', method: 'PUT', path: trafficPath(GW_GHOST), body: json({ weights: {}, pinned: ['v1'] }), status: 400, error: /pinned\.0: .*-gw-ghost v1 has no running replica/ },
  { name: 'a request to an unknown model on the traffic port', method: 'GET', path: `/${GW_GHOST}/predict`, port: 'traffic', authorization: null, status: 404, error: /the gateway has no routes for model ".*-gw-ghost"; requests go to \/<model>\/<path>/ },
  { name: 'endpoints that are not base URLs', method: 'PUT', path: `/_tandem/models/${GW_MODEL}/versions/v1/endpoints`, body: json({ urls: ['file:///etc/passwd'] }), status: 400, error: /^urls: must be a non-empty list of base URLs like "http:\/\/127\.0\.0\.1:8081"/ },
  { name: 'an empty endpoint list', method: 'PUT', path: `/_tandem/models/${GW_MODEL}/versions/v1/endpoints`, body: json({ urls: [] }), status: 400, error: /^urls: must be a non-empty list of base URLs/ },
  { name: 'an unknown admin route', method: 'POST', path: trafficPath(GW_MODEL), body: json(GW_ROUTES), status: 404, error: /^no admin route POST \/_tandem\/models\/.*\/traffic/ },
];

describe('the gateway admin API refuses bad requests, routes unchanged', { timeout: 60_000 }, () => {
  let child: ChildProcess | undefined;
  let output = '';
  let trafficUrl = '';
  let adminUrl = '';
  let stateDir = '';
  let stateBefore = '';
  let version: http.Server;
  let versionUrl = '';

  const request = async (method: string, url: string, authorization: string | null | undefined, body?: string | Buffer) => {
    const headers: Record<string, string> = {};
    if (authorization !== null) headers.authorization = authorization ?? `Bearer ${GATEWAY_TOKEN}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(url, { method, headers, body });
    const text = await res.text();
    let parsed: { error?: string } | undefined;
    try {
      parsed = text ? (JSON.parse(text) as { error?: string }) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: res.status, text, json: parsed, headers: res.headers };
  };
  const routes = async (model = GW_MODEL) => (await request('GET', `${adminUrl}${trafficPath(model)}`, undefined)).json;
  const stateFile = () => readFileSync(join(stateDir, 'gateway-state.json'), 'utf8');

  before(async () => {
    // One version of the model: a local server standing for its replica.
    version = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"version":"v1"}'));
    await new Promise<void>((resolve) => version.listen(0, '127.0.0.1', resolve));
    versionUrl = `http://127.0.0.1:${(version.address() as AddressInfo).port}`;
    stateDir = tempDir('tandem-faults-gateway-');
    // `tandem gateway` as the README runs it, on free ports, with the token from the environment.
    child = spawn(process.execPath, [join(ROOT, 'bin/tandem.js'), 'gateway', '--port', '0', '--admin-port', '0', '--state-dir', stateDir], {
      cwd: ROOT,
      env: { ...process.env, TANDEM_GATEWAY_TOKEN: GATEWAY_TOKEN },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const listening = await eventually('the gateway to listen', async () => {
      if (child?.exitCode !== null) throw new Error(`the gateway exited: ${output}`);
      return /models at (http:\/\/127\.0\.0\.1:\d+)\/<model>\/\.\.\.; admin API (http:\/\/127\.0\.0\.1:\d+)\/_tandem\//.exec(output) ?? undefined;
    }, 30_000);
    [trafficUrl, adminUrl] = [listening[1]!, listening[2]!];
    assert.ok(!output.includes(GATEWAY_TOKEN), 'the token is never printed');
    const endpoints = await request('PUT', `${adminUrl}/_tandem/models/${GW_MODEL}/versions/v1/endpoints`, undefined, json({ urls: [versionUrl] }));
    assert.equal(endpoints.status, 200, endpoints.text);
    const put = await request('PUT', `${adminUrl}${trafficPath(GW_MODEL)}`, undefined, json(GW_ROUTES));
    assert.equal(put.status, 200, put.text);
    stateBefore = stateFile();
  });

  after(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child!.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    await new Promise<void>((resolve) => version?.close(() => resolve()));
  });

  for (const c of adminCases) {
    it(`${c.name}: ${c.status} naming the problem, routes unchanged`, async () => {
      const base = c.port === 'traffic' ? trafficUrl : adminUrl;
      for (let i = 0; i < (c.repeat ?? 1); i++) {
        const r = await request(c.method, `${base}${c.path}`, c.authorization, c.body);
        assert.equal(r.status, c.status, r.text.slice(0, 500));
        assert.match(r.json?.error ?? '', c.error);
        if (c.status === 401) assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer /);
        assert.deepEqual(await routes(), GW_ROUTES);
        assert.deepEqual(await routes(GW_GHOST), { weights: {}, pinned: [] });
        assert.equal(stateFile(), stateBefore, 'the persisted routes did not change');
      }
    });
  }

  it('still routes every request to v1 afterwards', async () => {
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${trafficUrl}/${GW_MODEL}/predict`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('x-served-by-version'), 'v1');
      assert.deepEqual(await res.json(), { version: 'v1' });
    }
    assert.ok(!output.includes(GATEWAY_TOKEN), 'the token is never printed');
  });
});
