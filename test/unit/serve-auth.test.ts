/**
 * The parts of `tandem serve` that decide who a caller is and what they may do: token hashing,
 * the bearer header, matching against serve.tokens, access by group, and the serve: section's
 * validation (errors name the key).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { parseConfig, ConfigError } from '../../src/config/load';
import { bearerToken, matchToken } from '../../src/serve/auth/bearer';
import { hashToken, tokenFromInput } from '../../src/serve/auth/token-hash';
import { authenticate, type AuthProvider } from '../../src/serve/auth/identity';
import { refusal } from '../../src/serve/access';
import type { FastifyRequest } from 'fastify';

const TOKEN_A = 'a'.repeat(40);
const TOKEN_B = 'b'.repeat(40);
const tokens = [
  { name: 'ci-github', sha256: hashToken(TOKEN_A), groups: ['ci'] },
  { name: 'release-bot', sha256: hashToken(TOKEN_B), groups: ['ops', 'ci'] },
];
const ENV = 'environments:\n  staging:\n    target: { kind: docker }\n    registry: { url: r }\n';

describe('serve tokens', () => {
  it('hashToken is the SHA-256 hex of the token, as `sha256sum` prints it', () => {
    assert.equal(hashToken(TOKEN_A), createHash('sha256').update(TOKEN_A).digest('hex'));
    assert.match(hashToken(TOKEN_A), /^[0-9a-f]{64}$/);
  });

  it('tokenFromInput drops one trailing newline and refuses short or multi-line tokens, naming the fix', () => {
    assert.equal(tokenFromInput(`${TOKEN_A}\n`), TOKEN_A);
    assert.throws(() => tokenFromInput('short\n'), /5 characters; use at least 32 random ones, e\.g\. `openssl rand -hex 32`/);
    assert.throws(() => tokenFromInput(`${TOKEN_A}\n${TOKEN_B}\n`), /whitespace or several lines/);
  });

  it('bearerToken reads only a well-formed Bearer header', () => {
    assert.equal(bearerToken(`Bearer ${TOKEN_A}`), TOKEN_A);
    assert.equal(bearerToken(`bearer ${TOKEN_A}`), TOKEN_A);
    for (const bad of [undefined, '', 'Bearer', 'Bearer ', `Basic ${TOKEN_A}`, `Bearer ${TOKEN_A} extra`, `Token ${TOKEN_A}`]) assert.equal(bearerToken(bad), undefined, String(bad));
    assert.equal(bearerToken([`Bearer ${TOKEN_A}`]), undefined);
  });

  it('matchToken finds the holder by hash, with its groups; any other token, or the hash itself, matches none', () => {
    assert.deepEqual(matchToken(tokens, TOKEN_A), { subject: 'ci-github', groups: ['ci'], via: 'token' });
    assert.deepEqual(matchToken(tokens, TOKEN_B), { subject: 'release-bot', groups: ['ops', 'ci'], via: 'token' });
    assert.equal(matchToken(tokens, `${TOKEN_A}x`), undefined);
    assert.equal(matchToken(tokens, hashToken(TOKEN_A)), undefined, 'knowing the stored hash is not enough');
    assert.equal(matchToken([], TOKEN_A), undefined);
  });

  it('authenticate asks each provider in order and takes the first identity', async () => {
    const none: AuthProvider = { name: 'none', authenticate: async () => undefined };
    const alice: AuthProvider = { name: 'oidc', authenticate: async () => ({ subject: 'alice', groups: [], via: 'oidc' }) };
    const request = {} as FastifyRequest;
    assert.equal((await authenticate([none, alice], request))?.subject, 'alice');
    assert.equal(await authenticate([none], request), undefined);
    assert.equal(await authenticate([], request), undefined);
  });
});

describe('serve access', () => {
  const access = { read: ['*'], start: ['ci'], operate: ['ops'] };
  const ci = { subject: 'ci-github', groups: ['ci'], via: 'token' };
  it('allows a group listed for the permission, and "*" lets every authenticated caller in', () => {
    assert.equal(refusal(access, ci, 'read'), undefined);
    assert.equal(refusal(access, ci, 'start'), undefined);
    assert.equal(refusal(access, { ...ci, groups: [] }, 'read'), undefined);
  });
  it('refuses otherwise, naming the caller, its groups and the key that would allow it', () => {
    assert.equal(refusal(access, ci, 'operate'), 'ci-github (groups: ci) may not operate: serve.access.operate in tandem.config.yaml requires one of the groups ops');
    assert.match(refusal({ ...access, start: [] }, { ...ci, groups: [] }, 'start')!, /\(groups: none\) may not start: serve\.access\.start .* requires a group listed there \(it lists none\)/);
  });
});

describe('serve: in tandem.config.yaml', () => {
  const parse = (serve: string) => parseConfig(`${ENV}serve:\n${serve}`);
  it('defaults: no tokens; every authenticated caller may read, nobody may start or operate', () => {
    assert.deepEqual(parse('  {}\n').serve, { tokens: [], access: { read: ['*'], start: [], operate: [] } });
    assert.equal(parseConfig(ENV).serve, undefined);
  });
  it('takes tokens by hash with a name and groups', () => {
    const config = parse(`  tokens:\n    - { name: ci-github, sha256: ${hashToken(TOKEN_A)}, groups: [ci] }\n  access: { start: [ci], operate: [ops] }\n`);
    assert.deepEqual(config.serve?.tokens, [{ name: 'ci-github', sha256: hashToken(TOKEN_A), groups: ['ci'] }]);
    assert.deepEqual(config.serve?.access, { read: ['*'], start: ['ci'], operate: ['ops'] });
  });
  const refused: [string, RegExp][] = [
    [`  tokens:\n    - { name: ci, sha256: ${TOKEN_A} }\n`, /serve\.tokens\[0\]\.sha256: the SHA-256 of the token as 64 lowercase hex digits, never the token itself: `printf %s "\$TOKEN" \| tandem serve hash-token`/],
    [`  tokens:\n    - { name: ci, token: ${TOKEN_A} }\n`, /serve\.tokens\[0\]: Unrecognized key: "token"/],
    [`  tokens:\n    - { sha256: ${hashToken(TOKEN_A)} }\n`, /serve\.tokens\[0\]\.name: /],
    [`  tokens:\n    - { name: ci, sha256: ${hashToken(TOKEN_A)} }\n    - { name: ci, sha256: ${hashToken(TOKEN_B)} }\n`, /serve\.tokens\[1\]\.name: "ci" is also the name of tokens\[0\]/],
    [`  tokens:\n    - { name: a, sha256: ${hashToken(TOKEN_A)} }\n    - { name: b, sha256: ${hashToken(TOKEN_A)} }\n`, /serve\.tokens\[1\]\.sha256: is the same as tokens\[0\]\.sha256/],
    ['  access: { approve: [ops] }\n', /serve\.access: Unrecognized key: "approve"/],
    ['  access: { operate: ops }\n', /serve\.access\.operate: /],
  ];
  for (const [serve, message] of refused) {
    it(`refuses, naming the key: ${serve.trim().split('\n').pop()!.trim()}`, () => {
      assert.throws(() => parse(serve), (err: Error) => err instanceof ConfigError && message.test(err.message), `expected ${message}`);
    });
  }
});
