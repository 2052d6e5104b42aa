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
import { fetchCommit, fetchMirror, hasCommit, openMirror, readFileAt } from '../git/repository';
import { dockerignoreFilter } from './dockerignore';

export interface BuildContext {
  /** A tar stream of the context; errors from `git archive` surface as stream errors. */
  tar: Readable;
  /** Paths left out because of `.dockerignore`, counted for the log. */
  excluded: () => number;
  /**
   * Stops `git archive` and destroys the tar stream. Call it once the build request is over,
   * whatever its outcome: a request that failed before reading the whole context would otherwise
   * leave `git archive` blocked on a full pipe. Harmless after the stream ended.
   */
  dispose: () => void;
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
  // The mirror resolveTag fetched for this release usually holds the commit already.
  let mirror = await openMirror(repoUrl, cacheDir);
  if (!(await hasCommit(mirror.git, commit))) {
    mirror = await fetchMirror(repoUrl, cacheDir);
    // A commit no branch or tag reaches any more: ask for it by SHA (servers may refuse).
    if (!(await hasCommit(mirror.git, commit))) await fetchCommit(repoUrl, mirror, commit);
    if (!(await hasCommit(mirror.git, commit))) throw ApplicationFailure.nonRetryable(`commit ${commit} is not in ${repoUrl}`, FailureType.RepositoryUnreadable);
  }
  const { git, dir: gitDir } = mirror;
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
    // A disposed context closes the entry mid-file; the entry's source then fails, and must not throw.
    stream.on('error', (err) => extract.destroy(err));
    stream.pipe(entry);
  });
  extract.on('finish', () => pack.finalize());
  extract.on('error', (err) => pack.destroy(err));
  archive.on('error', (err) => pack.destroy(err));
  archive.on('close', (code) => {
    if (code !== 0 && !signal?.aborted) pack.destroy(new Error(`git archive ${commit} failed (exit ${code}): ${stderr.trim()}`));
  });
  archive.stdout.pipe(extract);
  // However the stream ends (consumed, failed or disposed), nothing of the archive is left running.
  pack.on('close', () => {
    extract.destroy();
    archive.stdout.destroy();
    if (archive.exitCode === null && archive.signalCode === null) archive.kill('SIGKILL');
  });
  return { tar: pack as unknown as Readable, excluded: () => excluded, dispose: () => pack.destroy() };
}
