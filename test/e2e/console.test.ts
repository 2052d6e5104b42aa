/**
 * The console in a real browser (Debian's Chromium driven by playwright-core), against `tandem
 * serve` as its own process (started as the README shows it), the real Temporal dev server, Docker
 * engine, registry and gateway, a worker in this process, the example model under live traffic, and
 * a real OpenID provider (scripts/oidc-provider.ts). Given v1.0.0 promoted: the fleet page shows it
 * stable; during v1.1.0's canary the share changes on the page without a reload; bob (outside
 * serve.access.operate) sees the refusal; alice approves from the release page and the page shows
 * her; v1.2.0 fails its smoke tests and its release page shows the failed check's observed value.
 * Screenshots of each page are saved under $TMPDIR/tandem-console-screens/ (paths printed), and
 * the canary's fleet page is copied to docs/console.png for the README.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import YAML from 'yaml';
import { adminTokenPath } from '../../src/gateway';
import type { ReleaseStatus } from '../../src/workflows/messages';
import { ENV, removeModelContainers, sendTraffic, startStack, type Stack } from '../../scripts/stack';
import { releaseFails, untilStatus } from '../helpers/release-story';
import { daemon, freePort, nodeDaemon, type Daemon } from '../helpers/processes';
import { ROOT } from '../helpers/temporal';

const MODEL = `fd-console-${Date.now().toString(36).slice(-5)}`;
const NAMESPACE = 'tandem-test';
const SCREENS = join(tmpdir(), 'tandem-console-screens');
const CHROMIUM = process.env.TANDEM_CHROMIUM ?? '/usr/bin/chromium';


describe('the console in a real browser', { timeout: 20 * 60_000 }, () => {
  let stack: Stack;
  let workDir: string;
  let traffic: ReturnType<typeof sendTraffic> | undefined;
  let provider: Daemon | undefined;
  let server: Daemon | undefined;
  let browser: Browser | undefined;
  let url = '';
  const screens: string[] = [];

  const until = (pred: (s: ReleaseStatus) => boolean, what: string) => untilStatus(stack.client, MODEL, ENV, pred, what, 180_000);
  const release = (tag: string) => stack.client.start({ model: MODEL, tag, environment: ENV, repoUrl: stack.repo, requestedBy: 'console-test' });
  const shot = async (page: Page, name: string): Promise<string> => {
    const path = join(SCREENS, `${name}.png`);
    await page.screenshot({ path, fullPage: true });
    screens.push(path);
    console.log(`screenshot: ${path}`);
    return path;
  };

  /** A new browser context signed in as `who` through the provider's login and consent pages, on `path`. */
  async function signedIn(who: string, path: string): Promise<Page> {
    const context = await browser!.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await page.goto(`${url}/auth/login?return=${encodeURIComponent(path)}`);
    await page.fill('input[name=login]', who);
    await page.fill('input[name=password]', 'any');
    await page.click('button[type=submit]');
    // The consent page (first sign-in of this person to this client).
    await page.waitForURL((u) => u.pathname.startsWith('/interaction/') === false || /consent|authorize/i.test(u.href), { timeout: 30_000 }).catch(() => undefined);
    if (new URL(page.url()).pathname.startsWith('/interaction/')) await page.click('button[type=submit]');
    await page.waitForURL(`${url}${path}`, { timeout: 30_000 });
    return page;
  }

  before(async () => {
    mkdirSync(SCREENS, { recursive: true });
    workDir = mkdtempSync(join(tmpdir(), 'tandem-console-'));
    stack = await startStack({ model: MODEL, workDir, namespace: NAMESPACE });

    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    const clientSecret = randomBytes(24).toString('hex');
    provider = await nodeDaemon(
      ['--import', 'tsx', 'scripts/oidc-provider.ts', '--port', '0', '--client-id', 'tandem', '--redirect-uri', `${url}/auth/callback`],
      /issuer (http:\/\/\S+)/,
      { ...process.env, OIDC_CLIENT_SECRET: clientSecret },
    );
    const issuer = /issuer (http:\/\/\S+)/.exec(provider.output())![1]!;
    writeFileSync(join(workDir, 'tandem-session.key'), randomBytes(32).toString('hex'));
    // The stack's environment and model, as a tandem.config.yaml that serve reads, with sign-in:
    // alice (ml-leads) may operate, bob (ml-engineers) may only read.
    const config = {
      taskQueue: stack.config.taskQueue,
      environments: {
        [ENV]: {
          target: { kind: 'docker', network: 'tandem' },
          registry: { url: '127.0.0.1:5000', insecure: true },
          traffic: { router: 'gateway', url: stack.gateway.adminUrl, tokenFile: adminTokenPath(join(workDir, 'gateway')) },
          build: { buildArgs: { BASE_IMAGE: 'tandem/node-base:20' } },
        },
      },
      models: { [MODEL]: { repo: stack.repo, environment: ENV } },
      serve: {
        oidc: { issuer, clientId: 'tandem', clientSecretEnv: 'TANDEM_OIDC_CLIENT_SECRET', publicUrl: url, sessionSecretFile: join(workDir, 'tandem-session.key') },
        access: { read: ['*'], operate: ['ml-leads'] },
      },
    };
    writeFileSync(join(workDir, 'tandem.config.yaml'), YAML.stringify(config));
    server = await daemon(['serve', '--config', join(workDir, 'tandem.config.yaml'), '--port', String(port)], /API at (http:\/\/\S+)\/api\//, {
      ...process.env,
      TEMPORAL_NAMESPACE: NAMESPACE,
      TANDEM_OIDC_CLIENT_SECRET: clientSecret,
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  });

  after(async () => {
    await browser?.close();
    if (server && server.child.exitCode === null) server.child.kill('SIGTERM');
    provider?.child.kill('SIGTERM');
    await traffic?.stop();
    if (stack) {
      await removeModelContainers(stack.docker, MODEL);
      await stack.stop();
    }
    if (screens.length) console.log(`console screenshots:\n${screens.join('\n')}`);
  });

  it('shows the fleet live, approves from the page, shows refusals and a failed check', { timeout: 20 * 60_000 }, async (t) => {
    let alice: Page;

    await t.test('the fleet page shows v1.0.0 as stable with all traffic, and live charts', async () => {
      assert.equal((await stack.client.wait(await release('v1.0.0'))).outcome, 'promoted');
      traffic = sendTraffic(stack.gateway.url, MODEL, 20);
      alice = await signedIn('alice', '/console/');
      const row = alice.locator(`section[data-model="${MODEL}"] tr[data-version="v1.0.0"]`);
      await row.waitFor({ timeout: 60_000 });
      assert.equal(await row.getAttribute('data-role'), 'stable');
      assert.equal(await row.locator('[data-testid=share]').textContent(), '100%');
      assert.match((await alice.locator('[data-testid=who]').textContent()) ?? '', /alice/);
      // Three charts, drawn by uPlot (served by tandem) once two readings of the gateway are in.
      await alice.locator(`section[data-model="${MODEL}"] figure.chart canvas`).nth(2).waitFor({ timeout: 30_000 });
      await shot(alice, 'fleet-stable');
    });

    await t.test('during the v1.1.0 canary the share changes on the page without a reload', async () => {
      await alice.evaluate(() => ((globalThis as unknown as { notReloaded: boolean }).notReloaded = true));
      await release('v1.1.0');
      const share = alice.locator(`section[data-model="${MODEL}"] tr[data-version="v1.1.0"] [data-testid=share]`);
      await share.filter({ hasText: /^20%$/ }).waitFor({ timeout: 180_000 });
      await until((s) => s.waitingFor === 'approval', 'the approval gate');
      await share.filter({ hasText: /^50%$/ }).waitFor({ timeout: 30_000 });
      assert.equal(await alice.locator(`section[data-model="${MODEL}"] tr[data-version="v1.0.0"] [data-testid=share]`).textContent(), '50%');
      assert.match((await alice.locator(`section[data-model="${MODEL}"] [data-testid=release]`).textContent()) ?? '', /waiting for approval/);
      assert.equal(await alice.evaluate(() => (globalThis as unknown as { notReloaded?: boolean }).notReloaded), true, 'the page was not reloaded');
      const path = await shot(alice, 'fleet-canary');
      copyFileSync(path, join(ROOT, 'docs', 'console.png'));
      // The charts say their latest values in text (for screen readers), and a laptop's width needs no sideways scrolling.
      assert.match((await alice.locator(`section[data-model="${MODEL}"] figure.chart figcaption`).first().textContent()) ?? '', /requests\/s, latest: v1\.0\.0 [\d.]+, v1\.1\.0 [\d.]+/);
      await alice.setViewportSize({ width: 1024, height: 768 });
      assert.equal(await alice.evaluate('document.documentElement.scrollWidth'), 1024, 'the fleet page is wider than a 1024 px window');
      await shot(alice, 'fleet-laptop');
      await alice.setViewportSize({ width: 1280, height: 900 });
    });

    await t.test('bob, outside serve.access.operate, sees the refusal; nothing is approved', async () => {
      const bob = await signedIn('bob', `/console/releases/${MODEL}/${ENV}`);
      await bob.click('button[data-action=approve]');
      await bob.click('#confirm-ok');
      const outcome = bob.locator('#action-outcome');
      await outcome.filter({ hasText: /refused/ }).waitFor({ timeout: 30_000 });
      assert.match((await outcome.textContent()) ?? '', /refused \(403\): bob \(groups: ml-engineers\) may not operate: serve\.access\.operate/);
      await shot(bob, 'release-refused');
      const status = await stack.client.status(MODEL, ENV);
      assert.equal(status.waitingFor, 'approval');
      assert.equal(status.actions.filter((a) => a.action === 'approve').length, 0);
    });

    await t.test("the release page compares v1.1.0 with v1.0.0: both versions' charts and smoke answers side by side", async () => {
      await alice.goto(`${url}/console/releases/${MODEL}/${ENV}`);
      await alice.locator('section.compare figure.chart canvas').nth(2).waitFor({ timeout: 30_000 });
      const row = alice.locator('[data-testid=smoke-compare] tbody tr').first();
      await row.locator('td.observed').nth(1).filter({ hasText: /label=/ }).waitFor({ timeout: 30_000 });
      const [candidate, stable] = await row.locator('td.observed').allTextContents();
      const v110 = (await stack.client.status(MODEL, ENV)).checks.find((c) => c.check.startsWith('smoke'))!;
      assert.equal(candidate, v110.observed);
      assert.match(stable!, /score=[\d.]+, label=\w+/);
      assert.notEqual(candidate, stable, 'v1.1.0 was retrained: its smoke answers differ from v1.0.0\'s');
      await shot(alice, 'release-compare');
    });

    await t.test('alice approves from the release page, which shows who approved', async () => {
      await alice.goto(`${url}/console/releases/${MODEL}/${ENV}`);
      await alice.fill('#action-text', 'charts look right');
      // By keyboard: Enter on the button, Enter on the confirmation (its Confirm button has the focus).
      await alice.focus('button[data-action=approve]');
      await alice.keyboard.press('Enter');
      await alice.locator('#confirm[open]').waitFor();
      await alice.keyboard.press('Enter');
      const approved = alice.locator('[data-testid=actions] tr[data-action=approve] td.who');
      await approved.waitFor({ timeout: 30_000 });
      assert.equal(await approved.textContent(), 'alice');
      const status = await until((s) => s.outcome === 'promoted', 'promotion');
      assert.deepEqual(status.actions.filter((a) => a.action === 'approve').map((a) => [a.who, a.text]), [['alice', 'charts look right']]);
      await alice.locator('[data-field=outcome]').filter({ hasText: 'promoted' }).waitFor({ timeout: 30_000 });
      await shot(alice, 'release-approved');
    });

    await t.test("the release page of v1.2.0, rolled back by its smoke tests, shows the failed check's observed value", async () => {
      await releaseFails(stack.client, await release('v1.2.0'), 'VerificationFailed', 'v1.2.0 must not be promoted');
      const failed = (await stack.client.status(MODEL, ENV)).checks.find((c) => !c.ok);
      assert.ok(failed, 'the status names a failed check');
      await alice.goto(`${url}/console/releases/${MODEL}/${ENV}`);
      const row = alice.locator('[data-testid=checks] tr[data-ok=false]').first();
      await row.waitFor({ timeout: 30_000 });
      assert.equal(await row.locator('td.observed').textContent(), failed.observed);
      assert.match(failed.observed, /500/);
      assert.match((await alice.locator('[data-field=outcome]').textContent()) ?? '', /rolled-back/);
      await shot(alice, 'release-rolled-back');
      // Its past releases link to each one: v1.1.0's page shows it promoted, approved by alice.
      await alice.click('a:text-is("v1.1.0")');
      await alice.locator('[data-field=outcome]').filter({ hasText: 'promoted' }).waitFor({ timeout: 30_000 });
      assert.equal(await alice.locator('[data-testid=actions] tr[data-action=approve] td.who').textContent(), 'alice');
    });

    await t.test('serve closes on SIGTERM while a page streams the fleet, and exits 0', async () => {
      await alice.goto(`${url}/console/`);
      await alice.locator(`section[data-model="${MODEL}"] tr[data-version="v1.1.0"]`).waitFor({ timeout: 60_000 });
      await alice.locator('#live').filter({ hasText: /^live/ }).waitFor({ timeout: 30_000 });
      server!.child.kill('SIGTERM');
      assert.equal(await server!.exited, 0);
      assert.match(server!.output(), /SIGTERM, closing/);
    });
  });
});
