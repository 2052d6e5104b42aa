/**
 * The pure parts of sign-in with OpenID Connect: serve.oidc's validation (errors name the key),
 * claims to the person recorded, the same-origin return path, session cookies (signature, expiry,
 * end, CSRF token bound to the session, size), and secrets named by environment variable or file.
 * The flow against a real provider is test/cli/serve-oidc.test.ts.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, parseConfig } from '../../src/config/load';
import { ClaimsError, personFromClaims, sameOriginPath } from '../../src/serve/auth/claims';
import { readSecret } from '../../src/serve/auth/secret';
import { SessionCookies, SessionTooLargeError } from '../../src/serve/auth/session';

const ENV = 'environments:\n  staging:\n    target: { kind: docker }\n    registry: { url: r }\n';
const OIDC = [
  '    issuer: https://login.example.com/realms/ml',
  '    clientId: tandem',
  '    clientSecretEnv: TANDEM_OIDC_CLIENT_SECRET',
  '    publicUrl: https://tandem.example.com',
  '    sessionSecretFile: /run/secrets/session',
];
const parse = (lines: string[]) => parseConfig(`${ENV}serve:\n  oidc:\n${lines.join('\n')}\n`).serve?.oidc;
const without = (key: string) => OIDC.filter((l) => !l.trim().startsWith(`${key}:`));

describe('serve.oidc in tandem.config.yaml', () => {
  it('takes the README\'s keys, with defaults for scopes, claims and session lifetime', () => {
    assert.deepEqual(parse(OIDC), {
      issuer: 'https://login.example.com/realms/ml',
      clientId: 'tandem',
      clientSecretEnv: 'TANDEM_OIDC_CLIENT_SECRET',
      publicUrl: 'https://tandem.example.com',
      sessionSecretFile: '/run/secrets/session',
      scopes: ['openid', 'profile', 'email', 'groups'],
      usernameClaim: 'preferred_username',
      groupsClaim: 'groups',
      sessionLifetime: '8h',
    });
    assert.equal(parse([...without('issuer'), '    issuer: http://127.0.0.1:9000'])?.issuer, 'http://127.0.0.1:9000');
  });
  const refused: [string, string[], RegExp][] = [
    ['plain http to another host', [...without('issuer'), '    issuer: http://login.example.com'], /serve\.oidc\.issuer: issuer must use https \(plain http is allowed only for localhost or 127\.0\.0\.1\)/],
    ['no client secret named', without('clientSecretEnv'), /serve\.oidc\.clientSecretEnv: is required: name the environment variable \(clientSecretEnv\) or file \(clientSecretFile\)/],
    ['both env and file', [...OIDC, '    sessionSecretEnv: S'], /serve\.oidc\.sessionSecretEnv: give sessionSecretEnv or sessionSecretFile, not both/],
    ['the secret itself', [...OIDC, '    clientSecret: hunter2'], /serve\.oidc: Unrecognized key: "clientSecret"/],
    ['a publicUrl with a path', [...without('publicUrl'), '    publicUrl: https://tandem.example.com/ui'], /serve\.oidc\.publicUrl: publicUrl is the origin where people reach serve, without a path/],
    ['no openid scope', [...OIDC, '    scopes: [profile]'], /serve\.oidc\.scopes: must include "openid"/],
    ['a lifetime beyond 7d', [...OIDC, '    sessionLifetime: 30d'], /serve\.oidc\.sessionLifetime: must be between 1m and 7d/],
    ['a lifetime that is no duration', [...OIDC, '    sessionLifetime: 8 hours'], /serve\.oidc\.sessionLifetime: must be a duration such as 30m, 8h or 1d/],
    ['no clientId', without('clientId'), /serve\.oidc\.clientId: /],
  ];
  for (const [what, lines, message] of refused) {
    it(`refuses ${what}, naming the key`, () => {
      assert.throws(() => parse(lines), (err: Error) => err instanceof ConfigError && message.test(err.message), `expected ${message}`);
    });
  }
});

describe('claims to the person recorded', () => {
  const options = { usernameClaim: 'preferred_username', groupsClaim: 'groups' };
  it('takes the username claim as subject, the name, and the groups (a single string too)', () => {
    assert.deepEqual(personFromClaims({ sub: 'x1', preferred_username: 'alice', name: 'Alice', groups: ['ml-leads', 'ml-leads', 7, ''] }, options), { subject: 'alice', name: 'Alice', groups: ['ml-leads'] });
    assert.deepEqual(personFromClaims({ sub: 'x1', email: 'a@x', roles: 'admins' }, { usernameClaim: 'email', groupsClaim: 'roles' }), { subject: 'a@x', groups: ['admins'] });
    assert.deepEqual(personFromClaims({ sub: 'x1', preferred_username: 'bob' }, options).groups, []);
  });
  it('refuses claims without the username claim, naming the key and what came', () => {
    assert.throws(() => personFromClaims({ sub: 'x1', email: 'a@x' }, options), (err: Error) => err instanceof ClaimsError && /no "preferred_username" claim for x1 \(serve\.oidc\.usernameClaim\); it sent: email, sub/.test(err.message));
    assert.throws(() => personFromClaims({ sub: 'x1', preferred_username: 'a'.repeat(201) }, options), /longer than 200 characters/);
  });
});

describe('the return path after sign-in', () => {
  const publicUrl = 'https://tandem.example.com';
  it('keeps a path (and query) of serve', () => {
    assert.equal(sameOriginPath('/auth/me', publicUrl), '/auth/me');
    assert.equal(sameOriginPath('/api/releases?state=all', publicUrl), '/api/releases?state=all');
  });
  it('refuses anything that a browser would take to another site', () => {
    for (const elsewhere of ['https://evil.example/', '//evil.example/x', '/\\evil.example', '/\t/evil.example', 'javascript:alert(1)', 'auth/me', '']) {
      assert.equal(sameOriginPath(elsewhere, publicUrl), undefined, elsewhere);
    }
  });
});

describe('session cookies', () => {
  const secret = 'k'.repeat(64);
  const person = { subject: 'alice', name: 'Alice', groups: ['ml-leads'] };
  it('reads back what it issued, until it expires; an altered value or another key reads nothing', () => {
    let now = 1_000_000;
    const sessions = new SessionCookies({ secret, lifetimeMs: 60_000, secure: false, now: () => now });
    const { session, value } = sessions.issue(person);
    assert.deepEqual(sessions.read(value), session);
    assert.deepEqual([session.subject, session.groups, session.expiresAt], ['alice', ['ml-leads'], 1_060_000]);
    const [payload, signature] = value.split('.');
    const forged = Buffer.from(JSON.stringify({ ...session, groups: ['admins'] })).toString('base64url');
    assert.equal(sessions.read(`${forged}.${signature}`), undefined);
    assert.equal(sessions.read(`${payload}.`), undefined);
    assert.equal(sessions.read(payload), undefined);
    assert.equal(new SessionCookies({ secret: 'o'.repeat(64), lifetimeMs: 60_000, secure: false, now: () => now }).read(value), undefined);
    now += 60_000;
    assert.equal(sessions.read(value), undefined, 'expired');
  });
  it('ends a session: its cookie is refused from then on', () => {
    const sessions = new SessionCookies({ secret, lifetimeMs: 60_000, secure: false });
    const a = sessions.issue(person);
    const b = sessions.issue(person);
    sessions.end(a.session);
    assert.equal(sessions.read(a.value), undefined);
    assert.ok(sessions.read(b.value), 'another session of the same person stays');
  });
  it('gives each session its own CSRF token, checked in full', () => {
    const sessions = new SessionCookies({ secret, lifetimeMs: 60_000, secure: false });
    const a = sessions.issue(person).session;
    const b = sessions.issue(person).session;
    const token = sessions.csrfToken(a);
    assert.ok(sessions.csrfMatches(a, token));
    assert.notEqual(token, sessions.csrfToken(b));
    for (const wrong of [sessions.csrfToken(b), token.slice(0, -1), `${token}x`, '', undefined, [token]]) assert.equal(sessions.csrfMatches(a, wrong), false, String(wrong));
  });
  it('names the cookie __Host- and marks it Secure over https; HttpOnly and SameSite=Lax always', () => {
    const secure = new SessionCookies({ secret, lifetimeMs: 60_000, secure: true });
    assert.equal(secure.name, '__Host-tandem-session');
    assert.deepEqual(secure.attributes(60), { httpOnly: true, sameSite: 'lax', path: '/', secure: true, maxAge: 60 });
    assert.equal(new SessionCookies({ secret, lifetimeMs: 60_000, secure: false }).name, 'tandem-session');
  });
  it('refuses a session that would not fit in a cookie, naming the key to change', () => {
    const sessions = new SessionCookies({ secret, lifetimeMs: 60_000, secure: false });
    const groups = Array.from({ length: 200 }, (_, i) => `group-with-a-long-name-${i}`);
    assert.throws(() => sessions.issue({ subject: 'alice', groups }), (err: Error) => err instanceof SessionTooLargeError && /200 groups.*serve\.oidc\.groupsClaim/.test(err.message));
  });
});

describe('secrets named in the configuration', () => {
  it('reads an environment variable or a file (without its trailing newline)', () => {
    process.env.TANDEM_TEST_OIDC_SECRET = 'from-env';
    assert.equal(readSecret({ key: 'serve.oidc.clientSecret', env: 'TANDEM_TEST_OIDC_SECRET' }), 'from-env');
    const file = join(mkdtempSync(join(tmpdir(), 'tandem-secret-')), 'secret');
    writeFileSync(file, 'from-file\n');
    assert.equal(readSecret({ key: 'serve.oidc.clientSecret', file }), 'from-file');
  });
  it('refuses a missing, unreadable or short secret, naming the key and the fix, never the value', () => {
    delete process.env.TANDEM_TEST_OIDC_UNSET;
    assert.throws(() => readSecret({ key: 'serve.oidc.clientSecret', env: 'TANDEM_TEST_OIDC_UNSET' }), /serve\.oidc\.clientSecretEnv: the environment variable TANDEM_TEST_OIDC_UNSET is not set or empty/);
    assert.throws(() => readSecret({ key: 'serve.oidc.sessionSecret', file: '/nonexistent/key' }), /serve\.oidc\.sessionSecretFile: cannot read \/nonexistent\/key \(ENOENT\)/);
    process.env.TANDEM_TEST_OIDC_SECRET = 'short-one';
    assert.throws(
      () => readSecret({ key: 'serve.oidc.sessionSecret', env: 'TANDEM_TEST_OIDC_SECRET', minLength: { chars: 32, fix: 'use at least 32' } }),
      (err: Error) => err instanceof ConfigError && /serve\.oidc\.sessionSecret: the secret in \$TANDEM_TEST_OIDC_SECRET \(serve\.oidc\.sessionSecretEnv\) is 9 characters; use at least 32/.test(err.message) && !err.message.includes('short-one'),
    );
  });
});
