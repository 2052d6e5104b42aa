/**
 * The ready-to-copy CI workflows of examples/ci/ cannot rot silently: parsed as YAML, the command
 * the CLI variant runs is checked against `tandem release start --help` of this checkout (run as a
 * process), and the routes and fields the API variant uses against the OpenAPI document and the
 * answer schemas of `tandem serve`. test/cli/serve-hooks-process.test.ts runs the API variant's
 * script against a real server.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { parseConfig } from '../../src/config/load';
import { buildServeApp } from '../../src/serve/app';
import type { ServeClient } from '../../src/serve/client';
import { releaseStatusSchema, startedSchema } from '../../src/serve/schemas';
import { tandem } from '../helpers/processes';
import { ROOT } from '../helpers/temporal';

interface Step {
  name?: string;
  run?: string;
  env?: Record<string, string>;
  'continue-on-error'?: unknown;
}
interface Workflow {
  on: { push: { tags: string[] } };
  jobs: Record<string, { env: Record<string, string>; steps: Step[] }>;
}

const load = (file: string) => parse(readFileSync(join(ROOT, 'examples', 'ci', file), 'utf8')) as Workflow;
const job = (workflow: Workflow) => Object.values(workflow.jobs)[0]!;

/** Words of a shell command line, quotes removed (enough for the one-line commands of the examples). */
const words = (line: string) => [...line.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]!);

describe('examples/ci: GitHub Actions workflows', () => {
  it('release.yml runs on tag pushes a real `tandem release start` with flags this CLI has, and fails the job with the release', async () => {
    const workflow = load('release.yml');
    assert.deepEqual(workflow.on.push.tags, ['v*']);
    const { env, steps } = job(workflow);
    const step = steps.find((s) => s.run?.includes('tandem release start'));
    assert.ok(step, 'a step runs tandem release start');
    assert.equal(step['continue-on-error'], undefined, 'a failed release fails the job');
    const line = step.run!.trim();
    assert.doesNotMatch(line, /\|\||;|&&|\n/, 'the exit code of tandem is the step\'s');
    const [bin, verb, sub, model, tag, ...flags] = words(line);
    assert.deepEqual([bin, verb, sub, model, tag], ['tandem', 'release', 'start', '$MODEL', '$TAG']);
    assert.equal(step.env?.TAG, '${{ github.ref_name }}', 'the tag comes from the pushed ref, through the environment');
    assert.ok(env.MODEL, 'MODEL is set');
    assert.ok(flags.includes('--wait'), '--wait makes the exit code the outcome');
    for (const name of ['TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE', 'TEMPORAL_API_KEY']) assert.equal(env[name], `\${{ secrets.${name} }}`, name);

    const help = await tandem(process.env, 'release', 'start', '--help');
    assert.equal(help.code, 0, help.out);
    assert.match(help.out, /Usage: tandem release start \[options\] <model> <tag>/);
    for (const flag of flags.filter((f) => f.startsWith('--'))) assert.match(help.out, new RegExp(`\\s${flag}\\b`), `tandem release start has ${flag}`);
    // Words, not line breaks: commander wraps the help to the widest option.
    assert.match(help.out, /--wait\s+stream\s+progress\s+and\s+exit\s+0\s+when\s+promoted,\s+1\s+when\s+rolled\s+back/);

    // The install step installs this package as the `tandem` command, built.
    const install = steps.find((s) => s.run?.includes('npm install --global'))!.run!;
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string>; scripts: Record<string, string> };
    assert.ok(pkg.bin.tandem, 'package.json names the tandem command');
    assert.ok(install.includes('npm run --prefix "$RUNNER_TEMP/tandem" build') && pkg.scripts.build, 'the build script exists');
  });

  it('release-via-api.yml calls routes `tandem serve` serves, and reads fields its answers have', async () => {
    const workflow = load('release-via-api.yml');
    assert.deepEqual(workflow.on.push.tags, ['v*']);
    const { env, steps } = job(workflow);
    assert.equal(env.TAG, '${{ github.ref_name }}');
    for (const name of ['TANDEM_URL', 'TANDEM_TOKEN']) assert.equal(env[name], `\${{ secrets.${name} }}`, name);
    const script = steps.find((s) => s.run?.includes('curl'))!.run!;
    const base = /base="\$TANDEM_URL(\/api\/models\/\$MODEL\/environments\/\$ENVIRONMENT)"/.exec(script)?.[1];
    assert.ok(base, 'the script names the model\'s API path');
    const template = base.replace('$MODEL', '{model}').replace('$ENVIRONMENT', '{env}');
    assert.match(script, /-X POST [\s\S]*"\$base\/releases"\)/);
    assert.match(script, /-H "\$auth" "\$base\/release"\)/);

    const config = parseConfig('environments: { staging: { target: { kind: docker }, registry: { url: r } } }\n');
    const { app } = await buildServeApp({ client: {} as ServeClient, config, providers: [] });
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json() as { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };
    await app.close();
    assert.ok(doc.paths[`${template}/releases`]?.post?.responses['202'], `POST ${template}/releases answers 202`);
    assert.ok(doc.paths[`${template}/release`]?.get?.responses['200'], `GET ${template}/release`);

    const read = (pattern: RegExp) => [...script.matchAll(pattern)].map((m) => m[1]!);
    assert.deepEqual(read(/jq -r \.(\w+) <<<"\$started"/g), ['workflowId']);
    for (const field of read(/jq -r \.(\w+) <<<"\$started"/g)) assert.ok(field in startedSchema.shape, `the start answer has ${field}`);
    const statusFields = new Set(read(/\.(\w+)\b/g).filter((f) => !['json', 'workflowId'].includes(f)));
    assert.deepEqual([...statusFields].sort(), ['outcome', 'reason', 'releaseId', 'stage', 'waitingFor']);
    for (const field of statusFields) assert.ok(field in releaseStatusSchema.shape, `the status answer has ${field}`);
    assert.match(script, /\[ "\$outcome" = promoted \] && exit 0/);
    assert.deepEqual(releaseStatusSchema.shape.outcome.unwrap().options, ['promoted', 'rolled-back', 'failed'], 'promoted is the one success');
  });
});
