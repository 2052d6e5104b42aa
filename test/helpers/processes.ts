/**
 * tandem's commands as separate processes, exactly as the README shows them (`bin/tandem.js`):
 * long-running ones (`gateway`, `worker`) and one-shot CLI calls, with their output kept.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { ROOT } from './temporal';

export const BIN = join(ROOT, 'bin', 'tandem.js');

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

export interface Daemon {
  child: ChildProcess;
  /** everything it printed so far, stdout and stderr */
  output: () => string;
  /** resolves with the exit code */
  exited: Promise<number | null>;
}

/** Starts a long-running `tandem` command; resolves once its output matches `ready`. */
export function daemon(args: string[], ready: RegExp, env: NodeJS.ProcessEnv): Promise<Daemon> {
  return nodeDaemon([BIN, ...args], ready, env, `tandem ${args[0]}`);
}

/** Starts a long-running node script of this checkout (`node <args>`); resolves once its output matches `ready`. */
export function nodeDaemon(args: string[], ready: RegExp, env: NodeJS.ProcessEnv, name = args.join(' ')): Promise<Daemon> {
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      text += chunk.toString();
      if (ready.test(text)) resolve({ child, output: () => text, exited });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then((code) => reject(new Error(`${name} exited with ${code}: ${text}`)));
  });
}

/** One CLI call; resolves with its exit code and output (stdout then stderr). */
export function tandem(env: NodeJS.ProcessEnv, ...args: string[]): Promise<{ code: number; out: string; stdout: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: ROOT, env, timeout: 300_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0, out: stdout + stderr, stdout });
    });
  });
}

/** A tandem.config.yaml for one Docker environment `local` served by a gateway at `adminPort`. */
export function dockerConfig(model: string, repo: string, adminPort: number, registryExtra = ''): string {
  return [
    `taskQueue: tandem-${model}`,
    'environments:',
    '  local:',
    '    target: { kind: docker, network: tandem }',
    `    registry: { url: 127.0.0.1:5000, insecure: true${registryExtra} }`,
    `    traffic: { router: gateway, url: http://127.0.0.1:${adminPort} }`,
    '    build: { buildArgs: { BASE_IMAGE: tandem/node-base:20 } }',
    'models:',
    `  ${model}: { repo: ${repo}, environment: local }`,
    '',
  ].join('\n');
}
