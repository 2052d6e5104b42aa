/**
 * The pure parts of the Git-tag webhooks: GitHub's signature and GitLab's token, reading tag
 * pushes from each host's payload, matching a repository's URLs to a model's repo, tag patterns,
 * and the configuration keys with their errors.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/load';
import { matchingPattern, tagMatches } from '../../src/config/tag-patterns';
import { readGithubDelivery } from '../../src/serve/hooks/github';
import { readGitlabDelivery } from '../../src/serve/hooks/gitlab';
import { modelsOfRepository, repositoryKey } from '../../src/serve/hooks/repository-url';
import { resolveWebhookSecret } from '../../src/serve/hooks/secrets';
import { githubSignature, gitlabTokenMatches, verifyGithubSignature } from '../../src/serve/hooks/signature';
import { HttpError } from '../../src/serve/errors';

const SECRET = 'It\'s a Secret to Everybody';

describe('GitHub signature (X-Hub-Signature-256)', () => {
  it('matches GitHub\'s documented example', () => {
    // docs.github.com, "Validating webhook deliveries": this secret and body give this signature.
    const body = Buffer.from('Hello, World!');
    const documented = 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17';
    assert.equal(githubSignature(SECRET, body), documented);
    assert.equal(verifyGithubSignature(SECRET, body, documented), true);
    assert.equal(verifyGithubSignature(SECRET, body, documented.toUpperCase().replace('SHA256', 'sha256')), true, 'hex case does not matter');
  });

  it('refuses another body, another secret, a truncated or malformed header', () => {
    const body = Buffer.from('{"ref":"refs/tags/v1"}');
    const good = githubSignature(SECRET, body);
    assert.equal(verifyGithubSignature(SECRET, Buffer.from('{"ref":"refs/tags/v2"}'), good), false);
    assert.equal(verifyGithubSignature('another secret', body, good), false);
    for (const bad of ['', good.slice(0, -2), good.replace('sha256=', 'sha1='), `${good}00`, 'sha256=' + 'z'.repeat(64), good.replace('sha256=', '')]) {
      assert.equal(verifyGithubSignature(SECRET, body, bad), false, bad);
    }
  });

  it('GitLab token: equal only to the configured one, whatever the lengths', () => {
    assert.equal(gitlabTokenMatches('a-gitlab-secret-token', 'a-gitlab-secret-token'), true);
    for (const bad of ['', 'a-gitlab-secret-toke', 'a-gitlab-secret-token ', 'A-GITLAB-SECRET-TOKEN']) assert.equal(gitlabTokenMatches('a-gitlab-secret-token', bad), false, bad);
  });
});

const githubPush = (over: Record<string, unknown> = {}) => ({
  ref: 'refs/tags/v1.2.0',
  before: '0'.repeat(40),
  after: 'a'.repeat(40),
  deleted: false,
  repository: {
    full_name: 'acme/fraud-detector',
    clone_url: 'https://github.com/acme/fraud-detector.git',
    html_url: 'https://github.com/acme/fraud-detector',
    ssh_url: 'git@github.com:acme/fraud-detector.git',
    pushed_at: 1_767_225_600,
  },
  pusher: { name: 'octocat', email: 'o@example.com' },
  sender: { login: 'octocat' },
  ...over,
});

describe('reading deliveries', () => {
  const raw = Buffer.from('{}');

  it('a GitHub tag push: tag, repository URLs, pusher, push time, delivery id', () => {
    const d = readGithubDelivery('push', githubPush(), raw, '72d3162e-cc78-11e3-81ab-4c9367dc0958');
    assert.equal(d.kind, 'tag-push');
    assert.ok(d.kind === 'tag-push');
    assert.deepEqual(d.push, {
      provider: 'github',
      delivery: 'github-72d3162e-cc78-11e3-81ab-4c9367dc0958',
      repository: 'acme/fraud-detector',
      repositoryUrls: ['https://github.com/acme/fraud-detector.git', 'https://github.com/acme/fraud-detector', 'git@github.com:acme/fraud-detector.git', 'https://github.com/acme/fraud-detector'],
      tag: 'v1.2.0',
      deleted: false,
      requestedBy: 'github:octocat',
      pushedAt: new Date('2026-01-01T00:00:00Z'),
    });
  });

  it('GitHub: a deleted tag, a branch push, ping and other events; a delivery id that is no id becomes the body\'s hash', () => {
    const deleted = readGithubDelivery('push', githubPush({ deleted: true, after: '0'.repeat(40) }), raw, 'x');
    assert.ok(deleted.kind === 'tag-push' && deleted.push.deleted);
    const zeros = readGithubDelivery('push', githubPush({ deleted: undefined, after: '0'.repeat(40) }), raw, 'x');
    assert.ok(zeros.kind === 'tag-push' && zeros.push.deleted, 'after all zeros is a deletion');
    assert.deepEqual(readGithubDelivery('push', githubPush({ ref: 'refs/heads/main' }), raw, 'x'), { kind: 'ignored', reason: 'ref refs/heads/main is not a tag: only pushed tags (refs/tags/...) start releases' });
    assert.match((readGithubDelivery('ping', {}, raw, 'x') as { reason: string }).reason, /^ping received/);
    assert.match((readGithubDelivery('create', { ref_type: 'tag' }, raw, 'x') as { reason: string }).reason, /event "create" is not acted on.*"Just the push event"/);
    const odd = readGithubDelivery('push', githubPush(), raw, 'not/an id');
    assert.ok(odd.kind === 'tag-push');
    assert.match(odd.push.delivery, /^github-sha256-[0-9a-f]{64}$/);
    const unnamed = (body: string) => readGithubDelivery('push', githubPush(), Buffer.from(body), undefined) as { push: { delivery: string } };
    assert.equal(unnamed('{"a":1}').push.delivery, unnamed('{"a":1}').push.delivery, 'the same bytes, the same id');
    assert.notEqual(unnamed('{"a":1}').push.delivery, unnamed('{"a":2}').push.delivery);
  });

  it('GitHub: a push payload without a needed field is a 400 naming it', () => {
    const cases: [unknown, string][] = [
      [{ ...githubPush(), ref: undefined }, 'body.ref'],
      [{ ...githubPush(), repository: undefined }, 'body.repository'],
      [{ ...githubPush(), repository: { clone_url: 'x' } }, 'body.repository.full_name'],
      [[1, 2], 'body'],
    ];
    for (const [payload, field] of cases) {
      assert.throws(() => readGithubDelivery('push', payload, raw, 'x'), (err: HttpError) => err.statusCode === 400 && err.field === field && err.message.startsWith(`${field}: `), field);
    }
  });

  it('a GitLab Tag Push Hook: tag, project URLs, user, event UUID; deletion; other events ignored', () => {
    const payload = {
      object_kind: 'tag_push',
      event_name: 'tag_push',
      ref: 'refs/tags/v2.0.0',
      before: '0'.repeat(40),
      after: 'b'.repeat(40),
      user_name: 'Jane Doe',
      user_username: 'jdoe',
      project: { path_with_namespace: 'ml/fraud-detector', git_http_url: 'https://gitlab.example.com/ml/fraud-detector.git', git_ssh_url: 'git@gitlab.example.com:ml/fraud-detector.git', web_url: 'https://gitlab.example.com/ml/fraud-detector' },
    };
    const d = readGitlabDelivery('Tag Push Hook', payload, raw, '13792a34-cac6-4fda-95a8-c58e00a3954e');
    assert.ok(d.kind === 'tag-push');
    assert.deepEqual([d.push.tag, d.push.deleted, d.push.requestedBy, d.push.delivery, d.push.repository, d.push.pushedAt], ['v2.0.0', false, 'gitlab:jdoe', 'gitlab-13792a34-cac6-4fda-95a8-c58e00a3954e', 'ml/fraud-detector', undefined]);
    assert.deepEqual(d.push.repositoryUrls, [payload.project.git_http_url, payload.project.git_ssh_url, payload.project.web_url]);
    const deleted = readGitlabDelivery('Tag Push Hook', { ...payload, after: '0'.repeat(40) }, raw, undefined);
    assert.ok(deleted.kind === 'tag-push' && deleted.push.deleted);
    assert.match(deleted.push.delivery, /^gitlab-sha256-/);
    assert.equal(readGitlabDelivery('Push Hook', payload, raw, undefined).kind, 'ignored');
    assert.throws(() => readGitlabDelivery('Tag Push Hook', { ...payload, object_kind: 'push' }, raw, undefined), (err: HttpError) => err.field === 'body.object_kind');
  });
});

describe('repositories and tags', () => {
  it('one repository whatever the URL form: scheme, user, .git, trailing slash, host case', () => {
    const forms = ['https://github.com/acme/fd.git', 'https://GitHub.com/acme/fd', 'git@github.com:acme/fd.git', 'ssh://git@github.com/acme/fd.git', 'http://github.com/acme/fd/', 'git://github.com/acme/fd.git'];
    for (const form of forms) assert.equal(repositoryKey(form), 'github.com/acme/fd', form);
    assert.notEqual(repositoryKey('https://github.com/acme/FD'), repositoryKey('https://github.com/acme/fd'), 'the path keeps its case');
    assert.equal(repositoryKey('http://127.0.0.1:8080/fd.git'), '127.0.0.1:8080/fd');
    assert.equal(repositoryKey('file:///srv/git/fd.git'), '/srv/git/fd');
    assert.equal(repositoryKey('/srv/git/fd'), '/srv/git/fd');
    const models = { fd: { repo: 'git@github.com:acme/fd.git' }, other: { repo: 'https://github.com/acme/other' }, again: { repo: 'https://github.com/acme/fd' } };
    assert.deepEqual(modelsOfRepository(models, ['https://github.com/acme/fd.git']), ['fd', 'again']);
    assert.deepEqual(modelsOfRepository(models, ['https://github.com/acme/fdx']), []);
  });

  it('tag patterns: `*` matches any characters; everything else only itself', () => {
    const cases: [string, string, boolean][] = [
      ['v*', 'v1.2.0', true],
      ['v*', 'v', true],
      ['v*', 'release-1', false],
      ['v*.*.*', 'v1.2.3', true],
      ['v*.*.*', 'v1.2', false],
      ['*-rc*', 'v1.0.0-rc1', true],
      ['release/*', 'release/2024-06', true],
      ['v1.?', 'v1.2', false],
      ['v1.2.0', 'v1.2.0', true],
      ['v1.2.0', 'v1.2.01', false],
      ['*a*a', 'aa', true],
      ['*a*a', 'a', false],
      ['a*b*c', 'abbc', true],
      ['a*b*c', 'acb', false],
    ];
    for (const [pattern, tag, expected] of cases) assert.equal(tagMatches(pattern, tag), expected, `${pattern} ~ ${tag}`);
    assert.equal(matchingPattern(undefined, 'anything'), '*');
    assert.equal(matchingPattern(['prod-*', 'v*'], 'v3'), 'v*');
    assert.equal(matchingPattern(['prod-*', 'v*'], 'x3'), undefined);
  });
});

describe('configuration', () => {
  const base = ['environments:', '  staging: { target: { kind: docker }, registry: { url: r } }'];
  it('serve.webhooks and models.<name>.tags, with errors naming the key', () => {
    const config = parseConfig(
      [...base, 'models:', '  fd: { repo: /srv/fd, environment: staging, tags: "v*" }', 'serve:', '  webhooks:', '    github: { secretEnv: GH_SECRET }', '    gitlab: { secretFile: /run/secrets/gitlab }', ''].join('\n'),
    );
    assert.equal(config.models.fd!.tags, 'v*');
    assert.deepEqual(config.serve!.webhooks, { github: { secretEnv: 'GH_SECRET' }, gitlab: { secretFile: '/run/secrets/gitlab' }, maxAge: '24h', rateLimit: { max: 60, window: '1m' } });
    const bad: [string[], RegExp][] = [
      [['serve:', '  webhooks: { github: {} }'], /serve\.webhooks\.github\.secretEnv.*is required: name the environment variable/],
      [['serve:', '  webhooks: { github: { secretEnv: A, secretFile: b } }'], /serve\.webhooks\.github\.secretEnv.*not both/],
      [['serve:', '  webhooks: { github: { secret: abc } }'], /serve\.webhooks\.github.*secret/],
      [['serve:', '  webhooks: { maxAge: 1 day }'], /serve\.webhooks\.maxAge.*a duration/],
      [['models:', '  fd: { repo: /srv/fd, environment: staging, tags: "" }'], /models\.fd\.tags.*cannot be empty/],
      [['models:', '  fd: { repo: /srv/fd, environment: staging, tags: [] }'], /models\.fd\.tags.*lists no pattern/],
    ];
    for (const [lines, message] of bad) assert.throws(() => parseConfig([...base, ...lines, ''].join('\n')), message, lines.join(' '));
  });

  it('secrets: from the variable or the file; unset, empty, unreadable or short refused naming the key', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tandem-hook-secret-'));
    writeFileSync(join(dir, 'secret'), 'a-webhook-secret-of-32-characters\n');
    writeFileSync(join(dir, 'empty'), '');
    assert.equal(resolveWebhookSecret({ secretFile: join(dir, 'secret') }, 'serve.webhooks.github'), 'a-webhook-secret-of-32-characters');
    assert.equal(resolveWebhookSecret({ secretEnv: 'S' }, 'serve.webhooks.github', { S: 'x'.repeat(20) }), 'x'.repeat(20));
    assert.throws(() => resolveWebhookSecret({ secretEnv: 'S' }, 'serve.webhooks.github', {}), /serve\.webhooks\.github\.secretEnv names S, which is not set/);
    assert.throws(() => resolveWebhookSecret({ secretFile: join(dir, 'none') }, 'serve.webhooks.gitlab'), /serve\.webhooks\.gitlab\.secretFile: cannot read .*ENOENT/);
    assert.throws(() => resolveWebhookSecret({ secretFile: join(dir, 'empty') }, 'serve.webhooks.gitlab'), /is empty/);
    assert.throws(() => resolveWebhookSecret({ secretEnv: 'S' }, 'serve.webhooks.github', { S: 'short' }), /the secret is 5 characters; use at least 16/);
  });
});

// Keeps the HMAC import honest: the signature is HMAC-SHA256 of the raw bytes, nothing else.
it('githubSignature is HMAC-SHA256 over the exact bytes', () => {
  const body = Buffer.from('{"a": 1}\n');
  assert.equal(githubSignature('k'.repeat(20), body), `sha256=${createHmac('sha256', 'k'.repeat(20)).update(body).digest('hex')}`);
});
