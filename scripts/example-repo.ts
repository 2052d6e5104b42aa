/**
 * Turns examples/fraud-detector into a real Git repository with one tagged commit per version,
 * for the demo and the tests:
 *   v1.0.0  good: the base folder
 *   v1.1.0  good: retrained weights, updated smoke expectations (different answers)
 *   v1.2.0  broken at runtime: weights in a format server.js does not read; /healthz is fine,
 *           /predict answers 500, so the smoke tests catch it
 *   v1.3.0  broken at build: a RUN step that checks the weights exits 3
 *   v1.4.0  good, agrees with v1.1.0: weights in the format server.js reads again (so the build
 *           check passes), v1.1.0's scaled by 1.1: the same label for every input, scores within
 *           0.03; its canary starts with a shadow step gated on prediction agreement
 *   v1.5.0  drifts: answers 200 as fast and passes its smoke tests, but velocity hardly counts any
 *           more, so its label differs from v1.1.0's on 28% of the test traffic
 *           (test/helpers/transactions.ts); the same shadow step stops it
 * test/unit/example-versions-agreement.test.ts keeps v1.4.0 and v1.5.0 what they are meant to be.
 * Each version after the first is the previous commit plus the files in
 * examples/fraud-detector-versions/<tag>/ (which replace or add files).
 * Commit and tag dates are fixed, so the commit SHAs are the same on every machine.
 *
 * CLI: tsx scripts/example-repo.ts DEST   (prints the path and the tags)
 */
import { cp, mkdir, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { simpleGit } from 'simple-git';

const EXAMPLES = path.resolve(__dirname, '..', 'examples');
const BASE = path.join(EXAMPLES, 'fraud-detector');
const OVERLAYS = path.join(EXAMPLES, 'fraud-detector-versions');

/** The example's versions in release order; `overlay: false` marks the base folder. */
export const EXAMPLE_VERSIONS = [
  { tag: 'v1.0.0', overlay: false, kind: 'good', message: 'fraud-detector v1.0.0: logistic regression over four transaction features' },
  { tag: 'v1.1.0', overlay: true, kind: 'good', message: 'Retrain on June data: new weights, updated smoke expectations' },
  { tag: 'v1.2.0', overlay: true, kind: 'broken-at-runtime', message: 'Export weights in format 2 (features + coefficients)' },
  { tag: 'v1.3.0', overlay: true, kind: 'broken-at-build', message: 'Check the weights file at build time' },
  { tag: 'v1.4.0', overlay: true, kind: 'good-agrees', message: 'Retrain on November data in format 1 again: sharper scores, same decisions; shadow before canary' },
  { tag: 'v1.5.0', overlay: true, kind: 'drifts', message: 'Retrain on December data (velocity logged per day by mistake)' },
] as const;

/** Tags of the example repository, in release order. */
export const EXAMPLE_TAGS: string[] = EXAMPLE_VERSIONS.map((v) => v.tag);

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

/**
 * Creates (or reuses) the example model repository at `dest` and returns its path and tags.
 * Idempotent: a repository at `dest` that already has every tag is reused untouched; a Git
 * repository missing some tags (an interrupted run) is rebuilt. Throws when `dest` is a non-empty
 * folder that is not a Git repository, so nothing of someone else's is deleted.
 */
export async function createExampleRepo(dest: string): Promise<{ path: string; tags: string[] }> {
  const repoPath = path.resolve(dest);
  if (await exists(path.join(repoPath, '.git'))) {
    const present = (await simpleGit(repoPath).tags()).all;
    if (EXAMPLE_TAGS.every((tag) => present.includes(tag))) return { path: repoPath, tags: [...EXAMPLE_TAGS] };
    await rm(repoPath, { recursive: true, force: true });
  } else if (await exists(repoPath)) {
    if ((await readdir(repoPath)).length > 0) {
      throw new Error(`${repoPath} exists and is not a Git repository; give an empty or new folder`);
    }
  }
  await mkdir(repoPath, { recursive: true });

  const git = simpleGit({ baseDir: repoPath, allowEnvironment: ['GIT_AUTHOR_DATE', 'GIT_COMMITTER_DATE'] });
  await git.init(['--initial-branch=main']);
  await git.addConfig('user.name', 'Fraud Team');
  await git.addConfig('user.email', 'fraud-team@example.com');
  await git.addConfig('commit.gpgsign', 'false');
  await git.addConfig('tag.gpgsign', 'false');

  for (const [i, version] of EXAMPLE_VERSIONS.entries()) {
    const source = version.overlay ? path.join(OVERLAYS, version.tag) : BASE;
    await cp(source, repoPath, { recursive: true, force: true });
    // One day apart, from a fixed start: the same SHAs everywhere.
    const date = new Date(Date.UTC(2024, 2, 1 + i, 12, 0, 0)).toISOString();
    // A minimal environment: simple-git refuses one that names an editor or pager.
    const dated = git.env({ PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/', GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date });
    await dated.add('.');
    await dated.commit(version.message);
    await dated.addAnnotatedTag(version.tag, `${version.tag} (${version.kind})`);
  }
  return { path: repoPath, tags: [...EXAMPLE_TAGS] };
}

if (require.main === module) {
  const dest = process.argv[2];
  if (!dest) {
    console.error('usage: tsx scripts/example-repo.ts DEST');
    process.exit(2);
  }
  createExampleRepo(dest).then(
    (repo) => console.log(`${repo.path} ${repo.tags.join(' ')}`),
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : err);
      process.exit(1);
    },
  );
}
