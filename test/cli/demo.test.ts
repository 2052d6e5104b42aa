/**
 * The README's demo commands, run exactly as documented, each as its own process: `npm run demo`
 * (Docker) and `npm run demo -- --kubernetes` (the real node, through `tandem gateway
 * --kubernetes`). Each must exit 0 having sent live traffic with no failed client request.
 * `npm run demo` also runs `tandem serve`'s API until it ends: while it runs, the `curl` line it
 * prints at the start is run as printed (a shell process) and must list the demo's releases; the
 * closing summary must print the same line (the API stops with the demo, so it is not run then).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { ROOT } from '../helpers/temporal';

function npm(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile('npm', args, { cwd: ROOT, timeout: 600_000, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof (error as { code?: unknown }).code === 'number' ? (error as { code: number }).code : 1) : 0;
      resolve({ code, out: `${stdout}${stderr}` });
    });
  });
}

/**
 * `npm run demo` as its own process; `onOutput` sees the output so far each time more arrives, and
 * may run commands while the demo goes on.
 */
function demoWhile(onOutput: (out: string) => void): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('npm', ['run', 'demo'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const timer = setTimeout(() => child.kill('SIGTERM'), 600_000);
    let out = '';
    const more = (chunk: Buffer) => {
      out += chunk.toString('utf8');
      onOutput(out);
    };
    child.stdout.on('data', more);
    child.stderr.on('data', more);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, out });
    });
  });
}

/** A command line run by the shell, as a person would paste it. */
function shell(line: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('sh', ['-c', line], { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof (error as { code?: unknown }).code === 'number' ? (error as { code: number }).code : 1) : 0, stdout, stderr });
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
  it('`npm run demo` exits 0, live traffic sent and none failed; its printed curl lists the releases through `tandem serve` while it runs', { timeout: 10 * 60_000 }, async () => {
    let during: Promise<{ curl: string; tokenFile: string; listed: { code: number; stdout: string; stderr: string }; unauthenticated: number }> | undefined;
    const { code, out } = await demoWhile((sofar) => {
      // once v1.0.0 is released and v1.1.0 under way, there is something to list
      if (during || !sofar.includes('── v1.1.0')) return;
      during = (async () => {
        const curl = /^ {2}list releases +(curl .+)$/m.exec(sofar)?.[1];
        const tokenFile = /bearer token in (\S+)\)$/m.exec(sofar)?.[1];
        assert.ok(curl && tokenFile, `no API lines in the demo's header:\n${sofar.slice(0, 3000)}`);
        const url = /'(http:\/\/[^']+\/api\/releases[^']*)'/.exec(curl)?.[1];
        assert.ok(url, curl);
        const unauthenticated = (await fetch(url)).status;
        return { curl, tokenFile, listed: await shell(curl), unauthenticated };
      })();
      during.catch(() => undefined); // awaited, with its failure, once the demo has ended
    });
    assert.equal(code, 0, out.slice(-3000));
    const traffic = trafficOf(out);
    assert.ok(traffic.sent > 100, `only ${traffic.sent} requests sent`);
    assert.equal(traffic.failed, 0, out.slice(-3000));

    assert.ok(during, `the demo never reached v1.1.0:\n${out.slice(-3000)}`);
    const { curl, tokenFile, listed, unauthenticated } = await during;
    assert.equal(listed.code, 0, listed.stderr);
    const releases = JSON.parse(listed.stdout) as { model: string; environment: string; version: string }[];
    assert.ok(
      releases.some((r) => r.model === 'fraud-detector' && r.environment === 'local' && r.version === 'v1.1.0'),
      `the API did not list the running release of v1.1.0: ${listed.stdout.slice(0, 2000)}`,
    );
    assert.equal(unauthenticated, 401, 'the same URL without the token is refused');
    // the token is in a file only its owner reads, never in the output
    assert.equal(statSync(tokenFile).mode & 0o777, 0o600);
    const token = readFileSync(tokenFile, 'utf8').trim();
    assert.ok(token.length >= 32 && !out.includes(token), 'the token is not printed');
    // the approval went through the API: recorded under the token's name
    assert.match(out, /approve by demo \(via api\)/, "serve signs the approval with its key: the worker records it as verified");
    // the closing summary names the API and prints the same line
    const closing = out.slice(out.indexOf('See every release in the Temporal Web UI'));
    assert.ok(closing.includes(`   ${curl}\n`), `the closing summary does not print ${curl}:\n${closing}`);
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
