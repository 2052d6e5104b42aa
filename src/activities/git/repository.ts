/**
 * Git access for model repositories, one function per operation. Each repository URL (any URL
 * Git accepts, a local path included) is mirrored once into a cache folder and fetched again on
 * every use, so tags pushed since are seen; nothing reads a working tree.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { simpleGit, type SimpleGit } from 'simple-git';

export class RepositoryUnreadableError extends Error {
  override name = 'RepositoryUnreadableError';
}

/** Messages Git gives when retrying cannot help: no such repository, no access. */
const PERMANENT = [/does not exist/i, /not a git repository/i, /repository .* not found/i, /does not appear to be a git repository/i, /authentication failed/i, /permission denied/i];

/**
 * A bare mirror of `repoUrl` under `cacheDir`, fetched now (tags included, moved tags updated).
 * Throws RepositoryUnreadableError when Git says the repository does not exist or is not
 * readable; other errors (network) are left to the caller's retry.
 */
export async function fetchMirror(repoUrl: string, cacheDir: string): Promise<SimpleGit> {
  const dir = join(cacheDir, createHash('sha256').update(repoUrl).digest('hex').slice(0, 16) + '.git');
  try {
    if (!existsSync(join(dir, 'HEAD'))) {
      mkdirSync(cacheDir, { recursive: true });
      await simpleGit().clone(repoUrl, dir, ['--mirror', '--quiet']);
    } else {
      await simpleGit(dir).fetch(['--prune', '--tags', '--force', '--quiet', 'origin', '+refs/heads/*:refs/heads/*']);
    }
  } catch (err) {
    const message = (err as Error).message.trim();
    if (PERMANENT.some((re) => re.test(message))) {
      throw new RepositoryUnreadableError(`cannot read repository ${repoUrl}: ${message.split('\n').filter(Boolean).at(-1)}`);
    }
    throw err;
  }
  return simpleGit(dir);
}

/** Commit SHA a tag points to (lightweight or annotated), or undefined when there is no such tag. */
export async function tagCommit(git: SimpleGit, tag: string): Promise<string | undefined> {
  try {
    return (await git.raw(['rev-parse', '--verify', '--quiet', `refs/tags/${tag}^{commit}`])).trim() || undefined;
  } catch {
    return undefined;
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
