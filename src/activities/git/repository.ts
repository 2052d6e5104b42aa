/**
 * Git access for model repositories, one function per operation. Each repository URL (any URL
 * Git accepts, a local path included) is mirrored once into a cache folder; activities fetch it
 * again when they need refs pushed since; nothing reads a working tree. Cloning and fetching one
 * mirror are serialized within this worker, so two activities never write into it at once.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { simpleGit, type SimpleGit } from 'simple-git';
import { FailureType } from '../../errors';

/** Messages Git gives when retrying cannot help: no such repository, no access. */
const PERMANENT = [
  /does not exist/i,
  /not a git repository/i,
  /repository .* not found/i,
  /does not appear to be a git repository/i,
  /authentication failed/i,
  /permission denied/i,
  // a host name that does not resolve is a typo far more often than an outage
  /could not resolve host/i,
  /could not resolve hostname/i,
  /name or service not known/i,
  /transport '.*' not allowed/i,
  /protocol '.*' is not supported/i,
  /unsupported protocol/i,
];

/** Per-mirror queue: clones and fetches of one mirror in this worker run one after another. */
const locks = new Map<string, Promise<unknown>>();
async function serialized<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const previous = locks.get(key) ?? Promise.resolve();
  const run = previous.then(fn, fn);
  const settled = run.catch(() => undefined);
  locks.set(key, settled);
  try {
    return await run;
  } finally {
    if (locks.get(key) === settled) locks.delete(key);
  }
}

export interface Mirror {
  git: SimpleGit;
  /** absolute path of the bare mirror */
  dir: string;
}

function mirrorDir(repoUrl: string, cacheDir: string): string {
  return join(cacheDir, createHash('sha256').update(repoUrl).digest('hex').slice(0, 16) + '.git');
}

/**
 * Runs a Git operation on the mirror of `repoUrl` under its lock. Throws a non-retryable
 * RepositoryUnreadable failure when Git says the repository does not exist or is not readable;
 * other errors (network) are left to the caller's retry.
 */
function locked<T>(repoUrl: string, dir: string, fn: () => Promise<T>): Promise<T> {
  return serialized(dir, async () => {
    try {
      return await fn();
    } catch (err) {
      const message = (err as Error).message.trim();
      if (PERMANENT.some((re) => re.test(message))) {
        throw ApplicationFailure.nonRetryable(`cannot read repository ${repoUrl}: ${message.split('\n').filter(Boolean).at(-1)}`, FailureType.RepositoryUnreadable);
      }
      throw err;
    }
  });
}

/** Clones the mirror when it is not there yet; true when it was cloned now. Call under the lock. */
async function cloneIfMissing(repoUrl: string, dir: string, cacheDir: string): Promise<boolean> {
  if (existsSync(join(dir, 'HEAD'))) return false;
  mkdirSync(cacheDir, { recursive: true });
  await simpleGit().clone(repoUrl, dir, ['--mirror', '--quiet']);
  return true;
}

/**
 * The bare mirror of `repoUrl` under `cacheDir`, cloned when it is not there yet and otherwise
 * left as it is (not fetched). Throws as `fetchMirror` does.
 */
export async function openMirror(repoUrl: string, cacheDir: string): Promise<Mirror> {
  const dir = mirrorDir(repoUrl, cacheDir);
  await locked(repoUrl, dir, () => cloneIfMissing(repoUrl, dir, cacheDir));
  return { git: simpleGit(dir), dir };
}

/**
 * The bare mirror of `repoUrl` under `cacheDir`, up to date: cloned, or fetched now (tags
 * included, moved tags updated). Throws a non-retryable RepositoryUnreadable failure when Git
 * says the repository does not exist or is not readable; other errors (network) are left to the
 * caller's retry.
 */
export async function fetchMirror(repoUrl: string, cacheDir: string): Promise<Mirror> {
  const dir = mirrorDir(repoUrl, cacheDir);
  await locked(repoUrl, dir, async () => {
    if (await cloneIfMissing(repoUrl, dir, cacheDir)) return;
    await simpleGit(dir).fetch(['--prune', '--tags', '--force', '--quiet', 'origin', '+refs/heads/*:refs/heads/*']);
  });
  return { git: simpleGit(dir), dir };
}

/** Git's answers when a server will not hand out a commit by SHA, or does not have it. */
const NOT_SERVED = [/not our ref/i, /couldn't find remote ref/i, /could not find remote ref/i];

/**
 * Fetches one commit by SHA into the mirror (a commit no branch or tag reaches any more).
 * Returns quietly when the server refuses or lacks it (check with hasCommit); throws as
 * `fetchMirror` does otherwise.
 */
export async function fetchCommit(repoUrl: string, mirror: Mirror, commit: string): Promise<void> {
  await locked(repoUrl, mirror.dir, async () => {
    try {
      await mirror.git.fetch(['--quiet', 'origin', commit]);
    } catch (err) {
      if (!NOT_SERVED.some((re) => re.test((err as Error).message))) throw err;
    }
  });
}

/** Commit SHA a tag points to (lightweight or annotated), or undefined when there is no such tag. */
export async function tagCommit(git: SimpleGit, tag: string): Promise<string | undefined> {
  try {
    return (await git.raw(['rev-parse', '--verify', '--quiet', `refs/tags/${tag}^{commit}`])).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** True when the mirror holds `sha` as a commit. */
export async function hasCommit(git: SimpleGit, sha: string): Promise<boolean> {
  try {
    return (await git.raw(['cat-file', '-t', sha])).trim() === 'commit';
  } catch {
    return false;
  }
}

/** The repository's tags, newest first by creation date. */
export async function listTags(git: SimpleGit): Promise<string[]> {
  const out = await git.raw(['tag', '--list', '--sort=-creatordate']);
  return out.split('\n').filter(Boolean);
}

/** Contents of `path` at `commit`, or undefined when the commit has no such file. */
export async function readFileAt(git: SimpleGit, commit: string, path: string): Promise<string | undefined> {
  try {
    return await git.show([`${commit}:${path}`]);
  } catch {
    return undefined;
  }
}
