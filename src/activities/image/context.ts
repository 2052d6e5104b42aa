/**
 * The build context of a version: exactly the files of its commit, as `git archive` gives them
 * from a bare mirror of the model repository, minus what the commit's `.dockerignore` excludes.
 * Never a working tree, so nothing uncommitted can reach an image.
 */
import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { ApplicationFailure } from '@temporalio/common';
import tar from 'tar-stream';
import { FailureType } from '../../errors';
import { fetchMirror, readFileAt, RepositoryUnreadableError } from '../git/repository';
import { dockerignoreFilter } from './dockerignore';

/** Per-mirror queue: two builds of one repository in this worker do not fetch into it at once. */
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

export interface BuildContext {
  /** A tar stream of the context; errors from `git archive` surface as stream errors. */
  tar: Readable;
  /** Paths left out because of `.dockerignore`, counted for the log. */
  excluded: () => number;
}

/**
 * Mirrors `repoUrl` into `cacheDir` (fetching only when the commit is not there yet) and returns
 * the commit's files as a tar stream filtered by its `.dockerignore`. Throws a non-retryable
 * RepositoryUnreadable failure when the repository cannot be read or does not hold the commit;
 * network errors are left retryable.
 */
export async function buildContext(repoUrl: string, commit: string, cacheDir: string, signal?: AbortSignal): Promise<BuildContext> {
  if (!/^[0-9a-f]{7,64}$/i.test(commit)) {
    throw ApplicationFailure.nonRetryable(`"${commit}" is not a commit SHA`, FailureType.RepositoryUnreadable);
  }
  const git = await serialized(repoUrl, async () => {
    let mirror;
    try {
      mirror = await fetchMirror(repoUrl, cacheDir);
    } catch (err) {
      if (err instanceof RepositoryUnreadableError) throw ApplicationFailure.nonRetryable(err.message, FailureType.RepositoryUnreadable);
      throw err;
    }
    const present = await mirror.raw(['cat-file', '-t', commit]).then(
      (type) => type.trim() === 'commit',
      () => false,
    );
    if (!present) {
      // A commit no branch or tag reaches any more: ask for it by SHA (servers may refuse).
      await mirror.fetch(['--quiet', 'origin', commit]).catch(() => undefined);
      const again = await mirror.raw(['cat-file', '-t', commit]).then(
        (type) => type.trim() === 'commit',
        () => false,
      );
      if (!again) throw ApplicationFailure.nonRetryable(`commit ${commit} is not in ${repoUrl}`, FailureType.RepositoryUnreadable);
    }
    return mirror;
  });
  const gitDir = (await git.revparse(['--absolute-git-dir'])).trim();
  const ignored = dockerignoreFilter((await readFileAt(git, commit, '.dockerignore')) ?? '');

  const archive = spawn('git', ['archive', '--format=tar', commit], { cwd: gitDir, stdio: ['ignore', 'pipe', 'pipe'], signal });
  let stderr = '';
  archive.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const extract = tar.extract();
  const pack = tar.pack();
  let excluded = 0;

  extract.on('entry', (header, stream, next) => {
    const name = header.name.replace(/^\.\//, '').replace(/\/$/, '');
    const keep = (header.type === 'file' || header.type === 'directory' || header.type === 'symlink') && name !== '' && !ignored(name);
    if (!keep) {
      if (name) excluded++;
      stream.on('end', next);
      stream.resume();
      return;
    }
    const entry = pack.entry({ ...header, name: header.type === 'directory' ? `${name}/` : name }, (err) => next(err));
    stream.pipe(entry);
  });
  extract.on('finish', () => pack.finalize());
  extract.on('error', (err) => pack.destroy(err));
  archive.on('error', (err) => pack.destroy(err));
  archive.on('close', (code) => {
    if (code !== 0 && !signal?.aborted) pack.destroy(new Error(`git archive ${commit} failed (exit ${code}): ${stderr.trim()}`));
  });
  archive.stdout.pipe(extract);
  return { tar: pack as unknown as Readable, excluded: () => excluded };
}
