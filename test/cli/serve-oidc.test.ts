/**
 * Sign-in with OpenID Connect, as the README's "Sign-in (OpenID Connect)" shows it, against a real
 * OpenID provider (oidc-provider, scripts/oidc-provider.ts, its own process) and `tandem serve` as
 * a process on the real Temporal dev server with a worker (real workflows, activity doubles). A
 * browser is played with plain HTTP (test/helpers/browser.ts): the provider's login and consent
 * pages are filled in as a person would. Checks: login -> callback -> /auth/me shows alice and her
 * groups; a wrong state or a replayed code is refused with no session; a session POST without (or
 * with a wrong) CSRF token is refused 403 and changes nothing; with it an approval of a real release
 * is recorded as alice; bob's group may not operate (403); altered, foreign-key or expired session
 * cookies are 401; logout needs the token and ends the session (a kept copy refused too); a missing
 * secret stops serve naming the key; the OpenAPI document has the /auth routes; no secret or code
 * in the log.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import YAML from 'yaml';
import { SessionCookies } from '../../src/serve/auth/session';
import { hashToken } from '../../src/serve/auth/token-hash';
import { Browser } from '../helpers/browser';
import { createWorld, runningVersion, specs } from '../doubles/world';
import { daemon, freePort, nodeDaemon, tandem, type Daemon } from '../helpers/processes';
import { ensureTemporal, NAMESPACE, ROOT, startWorker, uniqueQueue, type RunningWorker } from '../helpers/temporal';

const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const section = README.slice(README.indexOf('#### Sign-in (OpenID Connect)'), README.indexOf('### As an operator'));
const blocks = [...section.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)];
const shellLines = blocks.filter((m) => !m[1]).flatMap((m) => m[2]!.split('\n').filter((l) => l.trim()));
const yamlBlock = blocks.find((m) => m[1] === 'yaml')?.[2];


describe('tandem serve: sign-in with OpenID Connect against a real provider', { timeout: 5 * 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-oidc-'));
  const model = uniqueQueue('oidc');
  const env = 'staging';
  const clientSecret = randomBytes(24).toString('hex');
  const ciToken = randomBytes(32).toString('hex');
  let worker: RunningWorker;
  let provider: Daemon;
  let server: Daemon;
  let url = '';
  let issuer = '';
  let sessionKey = '';
  let serveEnv: NodeJS.ProcessEnv = {};
  const base = () => `${url}/api/models/${model}/environments/${env}`;
  const callback = (u: string) => u.startsWith(`${url}/auth/callback`);

  /** Signs `who` in with a fresh browser; returns the browser, holding the session cookie. */
  async function signIn(who: string, returnPath = '/auth/me'): Promise<Browser> {
    const browser = new Browser();
    const back = await browser.travel(`${url}/auth/login?return=${encodeURIComponent(returnPath)}`, callback, { login: who, password: 'any' });
    const hop = await browser.request(back);
    assert.equal(hop.status, 303, hop.body);
    assert.equal(hop.location, `${url}${returnPath}`);
    return browser;
  }
  const me = async (browser: Browser) => {
    const hop = await browser.request(`${url}/auth/me`);
    return { status: hop.status, body: JSON.parse(hop.body) as Record<string, unknown> };
  };
  const post = async (browser: Browser, path: string, body: unknown, headers: Record<string, string> = {}) => {
    const response = await fetch(`${url}${path}`, {
      method: 'POST',
      headers: { cookie: browser.cookieHeader(url), 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  const status = async () => {
    const response = await fetch(`${base()}/release`, { headers: { authorization: `Bearer ${ciToken}` } });
    return (await response.json()) as Record<string, unknown>;
  };

  before(async () => {
    ensureTemporal();
    assert.ok(yamlBlock, 'no yaml example in the README section');
    const world = createWorld({ specs: { 'v1.1.0': specs.canary }, running: [runningVersion('v1.0.0')], traffic: { weights: { 'v1.0.0': 100 }, pinned: ['v1.0.0'], stable: 'v1.0.0' } });
    worker = await startWorker(model, world.activities);

    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    provider = await nodeDaemon(
      ['--import', 'tsx', 'scripts/oidc-provider.ts', '--port', '0', '--client-id', 'tandem', '--redirect-uri', `${url}/auth/callback`],
      /issuer (http:\/\/\S+)/,
      { ...process.env, OIDC_CLIENT_SECRET: clientSecret },
    );
    issuer = /issuer (http:\/\/\S+)/.exec(provider.output())![1]!;

    // The session key made with the README's command.
    const keyLine = shellLines.find((l) => /^openssl rand/.test(l));
    assert.ok(keyLine, 'no openssl line in the README section');
    const made = await new Promise<number>((resolve) => execFile('bash', ['-c', keyLine], { cwd: dir }, (err) => resolve(err ? 1 : 0)));
    assert.equal(made, 0);
    sessionKey = readFileSync(join(dir, 'tandem-session.key'), 'utf8').trim();
    assert.match(sessionKey, /^[0-9a-f]{64}$/);

    // The README's serve: section, pointed at this provider and this serve; a token for CI beside it.
    const serve = YAML.parse(yamlBlock!).serve as { oidc: Record<string, unknown>; access: Record<string, unknown>; tokens?: unknown[] };
    assert.equal(serve.oidc.clientSecretEnv, 'TANDEM_OIDC_CLIENT_SECRET');
    serve.oidc.issuer = issuer;
    serve.oidc.publicUrl = url;
    serve.oidc.sessionSecretFile = join(dir, 'tandem-session.key');
    serve.tokens = [{ name: 'ci-github', sha256: hashToken(ciToken), groups: ['ci'] }];
    serve.access.start = ['ci'];
    const config = {
      taskQueue: model,
      environments: { [env]: { target: { kind: 'docker' }, registry: { url: '127.0.0.1:5000', insecure: true } } },
      models: { [model]: { repo: `/srv/models/${model}`, environment: env } },
      serve,
    };
    writeFileSync(join(dir, 'tandem.config.yaml'), YAML.stringify(config));
    serveEnv = { ...process.env, TEMPORAL_NAMESPACE: NAMESPACE, TANDEM_OIDC_CLIENT_SECRET: clientSecret };
    server = await daemon(['serve', '--config', join(dir, 'tandem.config.yaml'), '--port', String(port)], /API at (http:\/\/\S+)\/api\//, serveEnv);
  });
  after(async () => {
    if (server && server.child.exitCode === null) server.child.kill('SIGKILL');
    provider?.child.kill('SIGTERM');
    await worker?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses to start when a secret it names is missing, naming the key (exit 2)', async () => {
    const withoutSecret = { ...serveEnv };
    delete withoutSecret.TANDEM_OIDC_CLIENT_SECRET;
    const r = await tandem(withoutSecret, 'serve', '--config', join(dir, 'tandem.config.yaml'), '--port', String(await freePort()));
    assert.equal(r.code, 2, r.out);
    assert.match(r.out, /serve\.oidc\.clientSecretEnv: the environment variable TANDEM_OIDC_CLIENT_SECRET is not set or empty/);
  });

  it('login -> provider login and consent -> callback: /auth/me shows alice and her groups; the cookie is HttpOnly, SameSite=Lax', async () => {
    const browser = new Browser();
    const login = await browser.request(`${url}/auth/login`);
    assert.equal(login.status, 302);
    const to = new URL(login.location!);
    assert.equal(to.origin, issuer);
    for (const param of ['state', 'nonce', 'code_challenge']) assert.ok(to.searchParams.get(param), param);
    assert.equal(to.searchParams.get('code_challenge_method'), 'S256');
    assert.equal(to.searchParams.get('redirect_uri'), `${url}/auth/callback`);
    const back = await browser.travel(login.location!, callback, { login: 'alice', password: 'any' });
    const done = await browser.request(back);
    assert.equal(done.status, 303, done.body);
    assert.equal(done.location, `${url}/auth/me`);
    const cookie = done.setCookies.find((c) => c.startsWith('tandem-session='));
    assert.ok(cookie, done.setCookies.join('\n'));
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Lax/);
    assert.match(cookie, /Path=\//);
    assert.ok(!browser.cookies(url).has('tandem-signin'), 'the sign-in cookie is used once');
    const who = await me(browser);
    assert.equal(who.status, 200);
    assert.deepEqual([who.body.subject, who.body.name, who.body.groups, who.body.via], ['alice', 'Alice Example', ['ml-leads'], 'oidc']);
    assert.match(String(who.body.csrfToken), /^[A-Za-z0-9_-]{43}$/);
    // A token holder asks the same question and gets no CSRF token: it needs none.
    const ci = (await (await fetch(`${url}/auth/me`, { headers: { authorization: `Bearer ${ciToken}` } })).json()) as Record<string, unknown>;
    assert.deepEqual([ci.subject, ci.via, ci.csrfToken], ['ci-github', 'token', undefined]);
  });

  it('a return to another site is refused; a path of serve is where the browser comes back', async () => {
    for (const elsewhere of ['https://evil.example/x', '//evil.example/x', '/\\evil.example']) {
      const hop = await new Browser().request(`${url}/auth/login?return=${encodeURIComponent(elsewhere)}`);
      assert.equal(hop.status, 400, elsewhere);
      assert.match(hop.body, /return: .* is not a path of this server/);
    }
    await signIn('alice', '/api/releases?state=all');
  });

  it('a callback with a wrong state is refused and creates no session', async () => {
    const browser = new Browser();
    const back = new URL(await browser.travel(`${url}/auth/login`, callback, { login: 'alice', password: 'any' }));
    back.searchParams.set('state', 'forged');
    const hop = await browser.request(back.href);
    assert.equal(hop.status, 400);
    assert.match(hop.body, /sign-in refused: .*state/);
    assert.ok(!hop.setCookies.some((c) => c.startsWith('tandem-session=') && !/Max-Age=0/.test(c)), hop.setCookies.join('\n'));
    assert.equal((await me(browser)).status, 401);
  });

  it('a replayed code is refused (by serve without the sign-in cookie, by the provider with a copy of it) and creates no session', async () => {
    const browser = new Browser();
    const back = await browser.travel(`${url}/auth/login`, callback, { login: 'alice', password: 'any' });
    const kept = browser.cookieHeader(url);
    assert.equal((await browser.request(back)).status, 303);
    // The same browser again: its sign-in cookie was used up.
    const again = await new Browser().request(back);
    assert.equal(again.status, 400);
    assert.match(again.body, /no sign-in in progress in this browser/);
    // An attacker holding a copy of the sign-in cookie: the provider refuses the used code.
    const replay = await fetch(back, { headers: { cookie: kept }, redirect: 'manual' });
    assert.equal(replay.status, 400);
    assert.match(await replay.text(), /sign-in refused: the provider refused: invalid_grant/);
    assert.ok(!replay.headers.getSetCookie().some((c) => c.startsWith('tandem-session=') && !/Max-Age=0/.test(c)));
  });

  it('a signed-in POST without the CSRF token is refused 403 and changes nothing; with it, the approval is alice\'s; bob\'s group may not operate', async () => {
    const started = await fetch(`${base()}/releases`, { method: 'POST', headers: { authorization: `Bearer ${ciToken}`, 'content-type': 'application/json' }, body: '{"tag":"v1.1.0"}' });
    assert.equal(started.status, 202, await started.text());
    let current: Record<string, unknown> = {};
    for (let i = 0; i < 240 && current.waitingFor !== 'approval'; i++) {
      current = await status();
      if (current.waitingFor !== 'approval') await sleep(250);
    }
    assert.equal(current.waitingFor, 'approval', JSON.stringify(current));

    const alice = await signIn('alice');
    const csrfToken = String((await me(alice)).body.csrfToken);
    const without = await post(alice, `/api/models/${model}/environments/${env}/release/approve`, { comment: 'lgtm' });
    assert.equal(without.status, 403);
    assert.match(String(without.body.message), /CSRF: .*carries no x-tandem-csrf header; send the csrfToken of GET \/auth\/me/);
    const wrong = await post(alice, `/api/models/${model}/environments/${env}/release/approve`, { comment: 'lgtm' }, { 'x-tandem-csrf': `${csrfToken.slice(0, -1)}A` });
    assert.equal(wrong.status, 403);
    assert.match(String(wrong.body.message), /carries a wrong x-tandem-csrf/);
    // bob's session with bob's token: his group is not in serve.access.operate.
    const bob = await signIn('bob');
    const bobToken = String((await me(bob)).body.csrfToken);
    const bobs = await post(bob, `/api/models/${model}/environments/${env}/release/approve`, {}, { 'x-tandem-csrf': bobToken });
    assert.equal(bobs.status, 403);
    assert.match(String(bobs.body.message), /bob \(groups: ml-engineers\) may not operate: serve\.access\.operate .* ml-leads/);
    // alice's token does not work with bob's session: it is bound to the session.
    const crossed = await post(bob, `/api/models/${model}/environments/${env}/release/approve`, {}, { 'x-tandem-csrf': csrfToken });
    assert.equal(crossed.status, 403);
    current = await status();
    assert.equal(current.waitingFor, 'approval', 'still waiting: nothing was sent');
    assert.deepEqual(current.actions ?? [], []);

    const approved = await post(alice, `/api/models/${model}/environments/${env}/release/approve`, { comment: 'dashboards look fine' }, { 'x-tandem-csrf': csrfToken });
    assert.equal(approved.status, 200, JSON.stringify(approved.body));
    assert.deepEqual([approved.body.action, approved.body.who, approved.body.accepted], ['approve', 'alice', true]);
    for (let i = 0; i < 240 && !current.outcome; i++) {
      current = await status();
      if (!current.outcome) await sleep(250);
    }
    assert.equal(current.outcome, 'promoted', JSON.stringify(current));
    const actions = current.actions as { action: string; who: string; accepted: boolean }[];
    assert.deepEqual(actions.filter((a) => a.accepted).map((a) => [a.action, a.who]), [['approve', 'alice']]);
    assert.equal(current.requestedBy, 'ci-github');
  });

  it('an altered, foreign-key or expired session cookie is 401', async () => {
    const alice = await signIn('alice');
    const value = alice.cookies(url).get('tandem-session')!;
    const [payload, signature] = decodeURIComponent(value).split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as { groups: string[] };
    claims.groups = ['ml-leads', 'admins'];
    const altered = `${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`;
    const person = { subject: 'alice', groups: ['ml-leads'] };
    const foreign = new SessionCookies({ secret: randomBytes(32).toString('hex'), lifetimeMs: 3_600_000, secure: false }).issue(person).value;
    const expired = new SessionCookies({ secret: sessionKey, lifetimeMs: 60_000, secure: false, now: () => Date.now() - 120_000 }).issue(person).value;
    const valid = new SessionCookies({ secret: sessionKey, lifetimeMs: 60_000, secure: false }).issue(person).value;
    const ask = (cookie: string) => fetch(`${url}/auth/me`, { headers: { cookie } });
    for (const [what, cookie] of [
      ['altered', `tandem-session=${encodeURIComponent(altered)}`],
      ['signed with another key', `tandem-session=${encodeURIComponent(foreign)}`],
      ['expired', `tandem-session=${encodeURIComponent(expired)}`],
    ]) {
      const r = await ask(cookie!);
      assert.equal(r.status, 401, what);
      assert.match(((await r.json()) as { message: string }).message, /not authenticated: .*sign in at \/auth\/login/);
    }
    assert.equal((await ask(`tandem-session=${encodeURIComponent(valid)}`)).status, 200, 'the same key makes a cookie serve accepts: the checks above are the signature and expiry');
  });

  it('logout needs the CSRF token, then ends the session: the cookie is removed and a kept copy is refused', async () => {
    const alice = await signIn('alice');
    const copy = alice.cookieHeader(url);
    const csrfToken = String((await me(alice)).body.csrfToken);
    const forced = await alice.request(`${url}/auth/logout`, { method: 'POST' });
    assert.equal(forced.status, 403);
    assert.equal((await me(alice)).status, 200, 'still signed in');
    const out = await alice.request(`${url}/auth/logout`, { method: 'POST', headers: { 'x-tandem-csrf': csrfToken } });
    assert.equal(out.status, 200);
    assert.deepEqual(JSON.parse(out.body), { signedOut: true });
    assert.ok(out.setCookies.some((c) => /^tandem-session=;.*Max-Age=0/.test(c)), out.setCookies.join('\n'));
    assert.equal((await me(alice)).status, 401);
    assert.equal((await fetch(`${url}/auth/me`, { headers: { cookie: copy } })).status, 401, 'a copy of the ended session');
  });

  it('the OpenAPI document has the sign-in routes', async () => {
    const doc = (await (await fetch(`${url}/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    for (const [path, method] of [['/auth/login', 'get'], ['/auth/callback', 'get'], ['/auth/me', 'get'], ['/auth/logout', 'post']]) {
      assert.ok(doc.paths[path!]?.[method!], `${method} ${path}`);
    }
  });

  it('logs sign-ins by name, with no secret, session cookie or authorization code', () => {
    const log = server.output();
    assert.match(log, /"signedIn":"alice","groups":\["ml-leads"\]/);
    assert.match(log, /"subject":"alice","via":"oidc"/);
    assert.match(log, /\/auth\/callback\?\[redacted\]/);
    assert.doesNotMatch(log, /[?&]code=/);
    for (const secret of [clientSecret, sessionKey, ciToken]) assert.ok(!log.includes(secret), 'a secret is in the log');
    assert.doesNotMatch(log, /tandem-session=[^;"\s]{20}/);
  });
});
