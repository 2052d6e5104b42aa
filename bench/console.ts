/**
 * The console's page load time and live-update delay, in Debian's Chromium (playwright-core),
 * against `tandem serve` as its own process on the real dev server, a worker (real workflows,
 * activity doubles) holding a canary release at its approval gate. Page load: from navigation to
 * the fleet table showing the running versions, first (serve's fleet monitor cold) and then
 * BENCH_CONSOLE_LOADS more times (p50, p95). Live-update delay: from a pause or resume answered by
 * the API to the open page showing it (no reload), BENCH_CONSOLE_UPDATES times; the baseline is the
 * fleet's push interval (2 s), the expected delay being about half of it plus one read of Temporal.
 * Prints JSON lines.
 */
import { chromium } from 'playwright-core';
import { startServeStack } from './serve-stack';
import { emit, quantile, round } from './stats';

const LOADS = Number(process.env.BENCH_CONSOLE_LOADS ?? 10);
const UPDATES = Number(process.env.BENCH_CONSOLE_UPDATES ?? 6);
const PUSH_INTERVAL_MS = 2000;

async function main() {
  const stack = await startServeStack('bench-console', '{ router: replica-ratio }');
  const { url, token, model, env, client } = stack;
  const browser = await chromium.launch({ executablePath: process.env.TANDEM_CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    // The console's token sign-in: the token in this tab's sessionStorage.
    await context.addInitScript((t) => (globalThis as unknown as { sessionStorage: { setItem(k: string, v: string): void } }).sessionStorage.setItem('tandem-token', t), token);
    const row = `section[data-model="${model}"] tr[data-version="v1.0.0"]`;
    const loads: number[] = [];
    for (let i = 0; i <= LOADS; i++) {
      const page = await context.newPage();
      const started = performance.now();
      await page.goto(`${url}/console/`);
      await page.locator(row).waitFor({ timeout: 60_000 });
      const ms = performance.now() - started;
      if (i === 0) emit({ name: 'console fleet page load, first (fleet monitor cold)', value: round(ms), unit: 'ms' });
      else loads.push(ms);
      await page.close();
    }
    emit({ name: 'console fleet page load p50', value: round(quantile(loads, 0.5)), unit: 'ms', loads: LOADS });
    emit({ name: 'console fleet page load p95', value: round(quantile(loads, 0.95)), unit: 'ms', loads: LOADS });

    const page = await context.newPage();
    await page.goto(`${url}/console/`);
    const release = page.locator(`section[data-model="${model}"] [data-testid=release]`);
    await release.filter({ hasText: 'waiting for approval' }).waitFor({ timeout: 60_000 });
    const delays: number[] = [];
    for (let i = 0; i < UPDATES; i++) {
      const pause = i % 2 === 0;
      await client.act(model, env, pause ? 'pause' : 'resume', { who: 'bench' });
      const answered = performance.now();
      await release.filter(pause ? { hasText: 'paused' } : { hasNotText: 'paused' }).waitFor({ timeout: 30_000 });
      delays.push(performance.now() - answered);
    }
    const p50 = quantile(delays, 0.5);
    emit({ name: 'console live-update delay p50', value: round(p50), unit: 'ms', updates: UPDATES, baseline: PUSH_INTERVAL_MS, ratio: round(p50 / PUSH_INTERVAL_MS) });
    emit({ name: 'console live-update delay max', value: round(Math.max(...delays)), unit: 'ms', updates: UPDATES });
  } finally {
    await browser.close();
    await stack.close();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
