/**
 * What the `tandem serve` benchmarks share: the server as its own process (as the README starts it)
 * with a bearer token, on the real dev server, and a worker (real workflows, activity doubles)
 * holding a canary release of one model at its approval gate, so what is read stays the same.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import type { TandemClient } from '../src/client';
import { hashToken } from '../src/serve/auth/token-hash';
import { createWorld, runningVersion, specs } from '../test/doubles/world';
import { daemon, freePort } from '../test/helpers/processes';
import { connectClient, ensureTemporal, NAMESPACE, startWorker, uniqueQueue } from '../test/helpers/temporal';

export interface ServeStack {
  url: string;
  token: string;
  model: string;
  env: string;
  client: TandemClient;
  /** the release waiting at its approval gate */
  release: WorkflowHandle;
  /** serve's recent error lines, for a failure message */
  errors(): string;
  /** aborts the release (so nothing of the run is left waiting) and stops everything */
  close(): Promise<void>;
}

/** `traffic` is the environment's traffic block in YAML flow style (none: the default router). */
export async function startServeStack(prefix: string, traffic?: string): Promise<ServeStack> {
  ensureTemporal();
  const dir = mkdtempSync(join(tmpdir(), `tandem-${prefix}-`));
  const model = uniqueQueue(prefix);
  const env = 'staging';
  const world = createWorld({ specs: { 'v1.1.0': specs.canary }, running: [runningVersion('v1.0.0')], traffic: { weights: { 'v1.0.0': 100 }, pinned: ['v1.0.0'], stable: 'v1.0.0' } });
  const worker = await startWorker(model, world.activities);
  const token = `bench-${Date.now().toString(36)}-${'x'.repeat(32)}`;
  writeFileSync(
    join(dir, 'tandem.config.yaml'),
    [
      `taskQueue: ${model}`,
      'environments:',
      `  ${env}: { target: { kind: docker }, registry: { url: 127.0.0.1:5000, insecure: true }${traffic ? `, traffic: ${traffic}` : ''} }`,
      'models:',
      `  ${model}: { repo: /srv/models/${model}, environment: ${env} }`,
      'serve:',
      `  tokens: [{ name: bench, sha256: ${hashToken(token)}, groups: [ops] }]`,
      '  access: { start: [ops], operate: [ops] }',
      '',
    ].join('\n'),
  );
  const port = await freePort();
  const server = await daemon(['serve', '--config', join(dir, 'tandem.config.yaml'), '--port', String(port)], /API at (http:\/\/\S+)\/api\//, { ...process.env, TEMPORAL_NAMESPACE: NAMESPACE });
  const client = await connectClient(model);
  const release = await client.start({ model, tag: 'v1.1.0', environment: env, repoUrl: `/srv/models/${model}`, requestedBy: 'bench' });
  for (let i = 0; i < 600; i++) {
    const status = await client.status(model, env).catch(() => undefined);
    if (status?.waitingFor === 'approval') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url: `http://127.0.0.1:${port}`,
    token,
    model,
    env,
    client,
    release,
    errors: () => server.output().split('\n').filter((l) => /"level":5\d/.test(l)).slice(-3).join('\n'),
    async close() {
      await client.act(model, env, 'abort', { who: 'bench', text: 'benchmark done' }).catch(() => undefined);
      await release.result().catch(() => undefined);
      server.child.kill('SIGTERM');
      await client.close();
      await worker.stop().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
