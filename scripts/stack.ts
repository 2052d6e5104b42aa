/**
 * The whole embedded default for end-to-end tests, the demo and the benchmarks: the real Temporal
 * dev server, Docker engine and registry (started by scripts), the example model as a real Git
 * repository, the tandem gateway, a tandem worker and (when asked) `tandem serve`'s API in this process.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Docker from 'dockerode';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { TandemClient } from '../src/client';
import type { Config } from '../src/config/schema';
import { configSchema } from '../src/config/schema';
import { adminTokenPath, resolveAdminToken, startGateway, type Gateway } from '../src/gateway';
import type { ServeConfig } from '../src/config/serve-schema';
import { loadSigningKey } from '../src/policy/sign';
import { buildServeApp } from '../src/serve/app';
import { bearerTokenProvider } from '../src/serve/auth/bearer';
import { startWorker, type WorkerHandle } from '../src/worker';
import { createExampleRepo } from './example-repo';

export const ROOT = join(__dirname, '..');
export const ENV = 'local';

export interface Stack {
  config: Config;
  client: TandemClient;
  gateway: Gateway;
  /** the current gateway's admin token (for direct admin API calls) */
  gatewayToken: string;
  /** closes the gateway and starts it again on the same ports and state (a new admin token, as `tandem gateway` does) */
  restartGateway(): Promise<Gateway>;
  worker: WorkerHandle;
  /** `tandem serve`'s API, when options.serve asked for it */
  serve?: { url: string };
  docker: Docker;
  model: string;
  repo: string;
  stop(): Promise<void>;
}

export interface StackOptions {
  model: string;
  /** where the example repository, gateway state and worker cache go */
  workDir: string;
  namespace: string;
  gatewayPort?: number;
  gatewayAdminPort?: number;
  taskQueue?: string;
  quiet?: boolean;
  /** the environment's notification receivers, as in tandem.config.yaml (their secrets in this process's environment) */
  notifications?: unknown[];
  /** also serve the HTTP API (as `tandem serve` does) with these tokens and access, on 127.0.0.1 */
  serve?: { port?: number; tokens: ServeConfig['tokens']; access?: Partial<ServeConfig['access']>; signingKeyFile?: string };
}

/** Runs a script from scripts/ (they are idempotent and fast when everything is up). */
export function up(script: 'temporal-up.sh' | 'docker-up.sh', quiet = true): void {
  execFileSync('bash', [join(ROOT, 'scripts', script)], { stdio: quiet ? 'ignore' : ['ignore', 'inherit', 'inherit'] });
}

export async function startStack(options: StackOptions): Promise<Stack> {
  up('temporal-up.sh', options.quiet ?? true);
  up('docker-up.sh', options.quiet ?? true);
  if (options.quiet ?? true) {
    try {
      Runtime.install({ logger: new DefaultLogger('ERROR') });
    } catch {
      // already installed in this process
    }
  }
  mkdirSync(options.workDir, { recursive: true });
  const { path: repo } = await createExampleRepo(join(options.workDir, 'fraud-detector'));
  const docker = new Docker();
  const gatewayStateDir = join(options.workDir, 'gateway');
  // The admin token as `tandem gateway` takes it: $TANDEM_GATEWAY_TOKEN, else generated into the
  // state directory, where the worker reads it (traffic.tokenFile).
  const openGateway = async (port: number, adminPort: number): Promise<{ gateway: Gateway; token: string }> => {
    const { token } = await resolveAdminToken(gatewayStateDir);
    const gateway = await startGateway({
      port,
      adminPort,
      adminToken: token,
      stateDir: gatewayStateDir,
      docker,
      refreshIntervalMs: 1000,
      log: options.quiet === false ? console.log : () => undefined,
    });
    return { gateway, token };
  };
  const { gateway, token } = await openGateway(options.gatewayPort ?? 0, options.gatewayAdminPort ?? 0);
  const config = configSchema.parse({
    taskQueue: options.taskQueue ?? `tandem-${options.model}`,
    environments: {
      [ENV]: {
        target: { kind: 'docker', network: 'tandem' },
        registry: { url: '127.0.0.1:5000', insecure: true },
        traffic: { router: 'gateway', url: gateway.adminUrl, tokenFile: adminTokenPath(gatewayStateDir) },
        build: { buildArgs: { BASE_IMAGE: 'tandem/node-base:20' } },
        ...(options.notifications ? { notifications: options.notifications } : {}),
      },
    },
    models: { [options.model]: { repo, environment: ENV } },
    ...(options.serve
      ? { serve: { tokens: options.serve.tokens, access: options.serve.access ?? {}, ...(options.serve.signingKeyFile ? { signingKeyFile: options.serve.signingKeyFile } : {}) } }
      : {}),
  });
  const worker = await startWorker(config, { cacheDir: join(options.workDir, 'worker'), namespace: options.namespace });
  const client = await TandemClient.connect({ namespace: options.namespace, taskQueue: config.taskQueue });
  // The same application `tandem serve` runs (src/serve/main.ts), without its log (the demo prints its own story).
  // With a signing key, what callers do through the API reaches the workflow signed (recorded via api).
  const signingKey = config.serve?.signingKeyFile ? loadSigningKey(config.serve.signingKeyFile) : undefined;
  const serveApp = config.serve && (await buildServeApp({ client, config, providers: [bearerTokenProvider(config.serve.tokens)], ...(signingKey ? { signingKey } : {}) })).app;
  const serveUrl = serveApp && (await serveApp.listen({ host: '127.0.0.1', port: options.serve?.port ?? 0 }));
  const stack: Stack = {
    config,
    client,
    gateway,
    gatewayToken: token,
    async restartGateway() {
      const port = (url: string) => Number(new URL(url).port);
      const { url, adminUrl } = stack.gateway;
      await stack.gateway.close();
      ({ gateway: stack.gateway, token: stack.gatewayToken } = await openGateway(port(url), port(adminUrl)));
      return stack.gateway;
    },
    worker,
    ...(serveUrl ? { serve: { url: serveUrl } } : {}),
    docker,
    model: options.model,
    repo,
    async stop() {
      await serveApp?.close();
      await client.close();
      await worker.stop();
      // a test may have replaced the gateway (restart): close the current one
      await stack.gateway.close();
    },
  };
  return stack;
}

/** Removes every container of a model (all versions), so a run starts from nothing. */
export async function removeModelContainers(docker: Docker, model: string): Promise<void> {
  const containers = await docker.listContainers({ all: true, filters: { label: [`tandem.model=${model}`] } });
  await Promise.all(containers.map((c) => docker.getContainer(c.Id).remove({ force: true })));
}

export interface TrafficTally {
  total: number;
  failed: number;
  byVersion: Record<string, number>;
  /** answers by the `version` the model wrote in its JSON answer (the example model does) */
  byAnswer: Record<string, number>;
  errors: string[];
}

/**
 * Sends prediction requests through the gateway at a steady rate until stopped, counting answers
 * per serving version and failures (non-2xx or network errors). `body` gives each request's JSON
 * (default: one fixed transaction).
 */
export function sendTraffic(gatewayUrl: string, model: string, ratePerSecond = 20, headers: Record<string, string> = {}, body?: () => string) {
  const tally: TrafficTally = { total: 0, failed: 0, byVersion: {}, byAnswer: {}, errors: [] };
  const one = async () => {
    try {
      const res = await predict(gatewayUrl, model, headers, 10_000, body?.());
      tally.total++;
      const version = res.headers.get('x-served-by-version') ?? 'none';
      tally.byVersion[version] = (tally.byVersion[version] ?? 0) + 1;
      const answeredBy = answerVersion(res.answer);
      tally.byAnswer[answeredBy] = (tally.byAnswer[answeredBy] ?? 0) + 1;
      if (!res.ok) {
        tally.failed++;
        if (tally.errors.length < 20) tally.errors.push(`${res.status} from ${version}`);
      }
    } catch (err) {
      tally.total++;
      tally.failed++;
      if (tally.errors.length < 20) tally.errors.push((err as Error).message);
    }
  };
  const pacer = paced(ratePerSecond, one);
  return {
    tally,
    async stop(): Promise<TrafficTally> {
      await pacer.stop();
      return tally;
    },
  };
}

/** Calls `one` `ratePerSecond` times a second, without waiting for answers, until stopped; stop() waits for those in flight. */
export function paced(ratePerSecond: number, one: () => Promise<void>): { stop(): Promise<void> } {
  let stopped = false;
  const inFlight = new Set<Promise<void>>();
  const loop = (async () => {
    while (!stopped) {
      const p = one().finally(() => inFlight.delete(p));
      inFlight.add(p);
      await new Promise((r) => setTimeout(r, 1000 / ratePerSecond));
    }
    await Promise.all(inFlight);
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

/** Sends `count` requests and counts the serving version of each. */
export async function sample(gatewayUrl: string, model: string, count: number, headers: Record<string, string> = {}): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < count; i++) {
    const res = await predict(gatewayUrl, model, headers);
    const version = res.ok ? (res.headers.get('x-served-by-version') ?? 'none') : `HTTP ${res.status}`;
    counts[version] = (counts[version] ?? 0) + 1;
  }
  return counts;
}

/** One prediction request through the gateway, body read to the end (in `answer`). */
export async function predict(gatewayUrl: string, model: string, headers: Record<string, string>, timeoutMs?: number, body?: string): Promise<Response & { answer: string }> {
  const res = await fetch(`${gatewayUrl}/${model}/predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: body ?? JSON.stringify({ amount: 120, country_risk: 0.3, velocity: 2, new_device: 0 }),
    signal: timeoutMs ? AbortSignal.timeout(timeoutMs) : undefined,
  });
  return Object.assign(res, { answer: await res.text() });
}

/** The `version` field of a JSON answer, or `(none)`. */
function answerVersion(answer: string): string {
  try {
    const version = (JSON.parse(answer) as { version?: unknown }).version;
    return typeof version === 'string' ? version : '(none)';
  } catch {
    return '(none)';
  }
}
