/**
 * The README's demo commands, run exactly as documented, each as its own process: `npm run demo`
 * (Docker) and `npm run demo -- --kubernetes` (the real node, through `tandem gateway
 * --kubernetes`). Each must exit 0 having sent live traffic with no failed client request.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { ROOT } from '../helpers/temporal';

function npm(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile('npm', args, { cwd: ROOT, timeout: 600_000, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof (error as { code?: unknown }).code === 'number' ? (error as { code: number }).code : 1) : 0;
      resolve({ code, out: `${stdout}${stderr}` });
    });
  });
}

/** The demo's closing line: `client requests through the gateway: N sent, F failed (...)`. */
function trafficOf(out: string): { sent: number; failed: number } {
  const match = /client requests through the gateway: (\d+) sent, (\d+) failed/.exec(out);
  assert.ok(match, `no traffic summary in the demo's output:\n${out.slice(-3000)}`);
  return { sent: Number(match[1]), failed: Number(match[2]) };
}

describe('the README demo commands', { timeout: 20 * 60_000 }, () => {
  it('`npm run demo` exits 0, live traffic sent and none failed', { timeout: 10 * 60_000 }, async () => {
    const { code, out } = await npm(['run', 'demo']);
    assert.equal(code, 0, out.slice(-3000));
    const traffic = trafficOf(out);
    assert.ok(traffic.sent > 100, `only ${traffic.sent} requests sent`);
    assert.equal(traffic.failed, 0, out.slice(-3000));
  });

  it('`npm run demo -- --kubernetes` exits 0, live traffic sent and none failed, its namespace removed', { timeout: 10 * 60_000 }, async () => {
    const { code, out } = await npm(['run', 'demo', '--', '--kubernetes']);
    assert.equal(code, 0, out.slice(-3000));
    const traffic = trafficOf(out);
    assert.ok(traffic.sent > 100, `only ${traffic.sent} requests sent`);
    assert.equal(traffic.failed, 0, out.slice(-3000));
    assert.match(out, /removed namespace tandem-demo/);
  });
});
