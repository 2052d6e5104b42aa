/** The resolveTag activity against real throwaway Git repositories. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simpleGit } from 'simple-git';
import { MockActivityEnvironment } from '@temporalio/testing';
import { ApplicationFailure } from '@temporalio/common';
import { createGitActivities } from '../../src/activities/git/resolve-tag';
import type { ResolvedVersion } from '../../src/activities/types';

const GOOD_SPEC = 'port: 8080\nreplicas: 2\nrollout:\n  strategy: canary\n  steps:\n    - setWeight: 10\n    - approval: { timeout: 1h }\n';

/** Temporary folders made by this file, removed after the tests. */
const temps: string[] = [];
function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  temps.push(dir);
  return dir;
}

async function repoWith(commits: { files: Record<string, string>; tag?: string; annotated?: boolean }[]): Promise<{ dir: string; shas: string[] }> {
  const dir = tempDir('tandem-git-');
  const git = simpleGit(dir);
  await git.init().addConfig('user.name', 'test').addConfig('user.email', 'test@example.com');
  const shas: string[] = [];
  for (const commit of commits) {
    for (const [name, text] of Object.entries(commit.files)) writeFileSync(join(dir, name), text);
    await git.add('.').commit(`commit ${shas.length}`);
    shas.push((await git.revparse(['HEAD'])).trim());
    if (commit.tag) await (commit.annotated ? git.addAnnotatedTag(commit.tag, `release ${commit.tag}`) : git.addTag(commit.tag));
  }
  return { dir, shas };
}

async function resolve(repoUrl: string, tag: string, model = 'fraud-detector') {
  const activities = createGitActivities({ cacheDir: tempDir('tandem-git-cache-') });
  return new MockActivityEnvironment().run(activities.resolveTag, { repoUrl, tag, model }) as Promise<ResolvedVersion>;
}

async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await promise.then(() => assert.fail('expected a failure'), (e: unknown) => e);
  assert.ok(err instanceof ApplicationFailure, `expected ApplicationFailure, got ${String(err)}`);
  assert.equal(err.nonRetryable, true, 'must not be retried');
  return err;
}

describe('resolveTag against real Git repositories', () => {
  let repo: { dir: string; shas: string[] };
  before(async () => {
    repo = await repoWith([
      { files: { 'tandem.yaml': GOOD_SPEC, 'server.js': '1' }, tag: 'v1.0.0' },
      { files: { 'server.js': '2' }, tag: 'v1.1.0', annotated: true },
      { files: { 'tandem.yaml': 'port: [oops\n' }, tag: 'v1.2.0-broken-yaml' },
      { files: { 'tandem.yaml': 'port: 99999\nrollout:\n  strategy: canary\n  steps:\n    - setWeight: 150\n' }, tag: 'v1.3.0-invalid' },
      { files: { 'tandem.yaml': 'model: other-model\nport: 8080\n' }, tag: 'v1.4.0-wrong-model' },
      { files: { 'tandem.yaml': `port: 8080\n# ${'x'.repeat(300 * 1024)}\n` }, tag: 'v1.5.0-huge' },
    ]);
  });

  after(() => {
    for (const dir of temps) rmSync(dir, { recursive: true, force: true });
  });

  it('resolves a lightweight tag to its commit and validated spec', async () => {
    const resolved = await resolve(repo.dir, 'v1.0.0');
    assert.equal(resolved.commit, repo.shas[0]);
    assert.equal(resolved.spec.port, 8080);
    assert.equal(resolved.spec.replicas, 2);
    assert.equal(resolved.spec.rollout.strategy, 'canary');
  });

  it('resolves an annotated tag to the commit, not the tag object', async () => {
    const resolved = await resolve(repo.dir, 'v1.1.0');
    assert.equal(resolved.commit, repo.shas[1]);
  });

  it('sees tags pushed after the first fetch', async () => {
    const activities = createGitActivities({ cacheDir: tempDir('tandem-git-cache-') });
    const env = new MockActivityEnvironment();
    await env.run(activities.resolveTag, { repoUrl: repo.dir, tag: 'v1.0.0', model: 'fraud-detector' });
    await simpleGit(repo.dir).raw(['tag', 'v1.0.1', repo.shas[0]!]);
    const resolved = (await env.run(activities.resolveTag, { repoUrl: repo.dir, tag: 'v1.0.1', model: 'fraud-detector' })) as ResolvedVersion;
    assert.equal(resolved.commit, repo.shas[0]);
  });

  it('a missing tag fails non-retryably, naming the tag and the tags that exist', async () => {
    const err = await failureOf(resolve(repo.dir, 'v9.9.9'));
    assert.equal(err.type, 'TagNotFound');
    assert.match(err.message, /tag "v9\.9\.9" not found/);
    assert.match(err.message, /v1\.0\.0/);
  });

  it('malformed YAML fails non-retryably and says so', async () => {
    const err = await failureOf(resolve(repo.dir, 'v1.2.0-broken-yaml'));
    assert.equal(err.type, 'InvalidSpec');
    assert.match(err.message, /not valid YAML/);
  });

  it('an invalid spec names each bad field', async () => {
    const err = await failureOf(resolve(repo.dir, 'v1.3.0-invalid'));
    assert.equal(err.type, 'InvalidSpec');
    assert.match(err.message, /port: /);
    assert.match(err.message, /rollout\.steps\[0\]/);
  });

  it('a spec for another model is refused', async () => {
    const err = await failureOf(resolve(repo.dir, 'v1.4.0-wrong-model'));
    assert.equal(err.type, 'InvalidSpec');
    assert.match(err.message, /model: is "other-model" but the release is for "fraud-detector"/);
  });

  it('a commit without tandem.yaml is refused', async () => {
    const bare = await repoWith([{ files: { 'README.md': 'x' }, tag: 'v0.1.0' }]);
    const err = await failureOf(resolve(bare.dir, 'v0.1.0'));
    assert.equal(err.type, 'InvalidSpec');
    assert.match(err.message, /tandem\.yaml not found at v0\.1\.0/);
  });

  it('an unreadable repository fails non-retryably', async () => {
    const err = await failureOf(resolve('/nonexistent/repo/path', 'v1.0.0'));
    assert.equal(err.type, 'RepositoryUnreadable');
    assert.match(err.message, /cannot read repository \/nonexistent\/repo\/path/);
  });

  it('a host that does not resolve fails non-retryably at once, as bad input', async () => {
    const err = await failureOf(resolve('https://nonexistent.invalid/acme/model.git', 'v1.0.0'));
    assert.equal(err.type, 'RepositoryUnreadable');
    assert.match(err.message, /nonexistent\.invalid/);
  });

  it('a tandem.yaml larger than the limit is refused before it is parsed, naming the limit', async () => {
    const err = await failureOf(resolve(repo.dir, 'v1.5.0-huge'));
    assert.equal(err.type, 'InvalidSpec');
    assert.match(err.message, /tandem\.yaml at v1\.5\.0-huge is 30\d KiB, more than the 256 KiB a spec may have/);
  });
});
