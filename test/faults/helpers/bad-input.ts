/**
 * Helpers of the bad-input fault suite: the `tandem` CLI and the Temporal CLI as separate
 * processes, throwaway Git repositories, and reads of the real world (registry tags, engine
 * containers, the model's lock workflow) to check that a refused request changed nothing.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import Docker from 'dockerode';
import { simpleGit } from 'simple-git';
import { WorkflowNotFoundError } from '@temporalio/client';
import { Context } from '@temporalio/activity';
import { Label } from '../../../src/naming/docker';
import { modelWorkflowId } from '../../../src/naming/ids';
import type { TandemClient } from '../../../src/client';
import { ADDRESS, NAMESPACE, ROOT } from '../../helpers/temporal';

export const TEMPORAL_CLI = process.env.TEMPORAL_CLI ?? '/root/.cache/tandem/temporal-cli-v1.5.1/temporal';
export const REGISTRY = '127.0.0.1:5000';

/** A short prefix unique to this run: models, registry repositories and workflow ids persist across runs. */
export const RUN = `bi${randomBytes(3).toString('hex')}`;

export interface ProcessResult {
  code: number;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}): Promise<ProcessResult> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { encoding: 'utf8', env: options.env ?? process.env, cwd: options.cwd ?? ROOT, timeout: options.timeoutMs ?? 60_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr }),
    );
  });
}

/** The environment every CLI process gets: the test namespace, an actor, no TANDEM_CONFIG unless given. */
export function cliEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, TEMPORAL_ADDRESS: ADDRESS, TEMPORAL_NAMESPACE: NAMESPACE, TANDEM_ACTOR: 'fault-suite' };
  delete env.TANDEM_CONFIG;
  return { ...env, ...extra };
}

/** `node bin/tandem.js ...` from the repository root, as the README shows it. */
export function tandem(args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}): Promise<ProcessResult> {
  return run(process.execPath, [join(ROOT, 'bin/tandem.js'), ...args], { env: options.env ?? cliEnv(), cwd: options.cwd, timeoutMs: options.timeoutMs });
}

/** `temporal <args>` against the dev server, namespace tandem-test. */
export function temporalCli(args: string[]): Promise<ProcessResult> {
  return run(TEMPORAL_CLI, [...args, '--address', ADDRESS, '--namespace', NAMESPACE], { timeoutMs: 30_000 });
}

/** Runs `fn` over `items` with at most `limit` at once, keeping the order of results. */
export async function pool<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    for (let i = next++; i < items.length; i = next++) results[i] = await fn(items[i]!, i);
  });
  await Promise.all(workers);
  return results;
}

/** Temporary folders; removed by removeTemps(). */
const temps: string[] = [];
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  temps.push(dir);
  return dir;
}
export function removeTemps(): void {
  for (const dir of temps.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** Writes a file in a new temporary folder and returns its path. */
export function tempFile(name: string, text: string): string {
  const path = join(tempDir('tandem-faults-'), name);
  writeFileSync(path, text);
  return path;
}

/** A commit of a throwaway repository: files to write (null removes the file), and a tag. */
export interface RepoCommit {
  files: Record<string, string | null>;
  tag: string;
}

/** A throwaway Git repository with one commit per entry, each tagged. Returns its folder and tag -> commit. */
export async function gitRepo(commits: RepoCommit[], dir = tempDir('tandem-faults-repo-')): Promise<{ dir: string; commits: Map<string, string> }> {
  const git = simpleGit(dir);
  await git.init().addConfig('user.name', 'fault suite').addConfig('user.email', 'faults@example.com');
  const shas = new Map<string, string>();
  for (const commit of commits) {
    for (const [name, text] of Object.entries(commit.files)) {
      if (text === null) await git.rm(['-q', '--ignore-unmatch', name]);
      else writeFileSync(join(dir, name), text);
    }
    await git.add('.').commit(`commit for ${commit.tag}`, ['--allow-empty']);
    shas.set(commit.tag, (await git.revparse(['HEAD'])).trim());
    await git.addTag(commit.tag);
  }
  return { dir, commits: shas };
}

/** Tags of `<registry>/<model>` in the real registry; [] when the repository does not exist. */
export async function registryTags(model: string): Promise<string[]> {
  const res = await fetch(`http://${REGISTRY}/v2/${model}/tags/list`);
  if (res.status === 404) return [];
  if (!res.ok) throw new Error(`registry answered ${res.status} for ${model}`);
  return ((await res.json()) as { tags?: string[] | null }).tags ?? [];
}

/** Manifest digest the registry serves for `<model>:<tag>`. */
export async function registryDigest(model: string, tag: string): Promise<string | undefined> {
  const res = await fetch(`http://${REGISTRY}/v2/${model}/manifests/${encodeURIComponent(tag)}`, {
    method: 'HEAD',
    headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json' },
  });
  return res.ok ? (res.headers.get('docker-content-digest') ?? undefined) : undefined;
}

const docker = new Docker();
/** Containers (running or not) the engine holds for a model, by tandem's model label. */
export async function containersOf(model: string): Promise<number> {
  const list = await docker.listContainers({ all: true, filters: { label: [`${Label.model}=${model}`] } });
  return list.length;
}

/** Run id of the model's lock workflow in the environment, or undefined when there never was one. */
export async function lockRun(client: TandemClient, model: string, environment: string): Promise<string | undefined> {
  try {
    return (await client.temporal.workflow.getHandle(modelWorkflowId(model, environment)).describe()).runId;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    // A model name Temporal itself refuses as an id cannot have a lock either.
    if (/invalid|too long/i.test((err as Error).message)) return undefined;
    throw err;
  }
}

/** One activity call as a worker ran it: which activity, for which model, which attempt. */
export interface ActivityCall {
  name: string;
  model?: string;
  version?: string;
  attempt: number;
  failed?: string;
}

/** Wraps activities so every call (finished or failed) is recorded with its attempt number. */
export function recorded<T extends object>(activities: T, calls: ActivityCall[]): T {
  return Object.fromEntries(
    Object.entries(activities).map(([name, fn]) => [
      name,
      async (input: { model?: string; version?: string; tag?: string }) => {
        const call: ActivityCall = { name, model: input?.model, version: input?.version ?? input?.tag, attempt: Context.current().info.attempt };
        calls.push(call);
        try {
          return await (fn as (i: unknown) => Promise<unknown>)(input);
        } catch (err) {
          call.failed = (err as Error).message;
          throw err;
        }
      },
    ]),
  ) as T;
}

/** Polls `fn` until it returns something other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 15_000, everyMs = 50): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
