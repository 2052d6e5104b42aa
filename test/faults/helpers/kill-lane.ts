/**
 * What the worker-kill fault test runs against, all real: a model repository made from
 * examples/fraud-detector and served over Git smart HTTP, a tandem gateway, the Docker engine and
 * registry started by scripts/docker-up.sh, the Temporal dev server, and `tandem worker` as a
 * process of its own, started exactly as the README documents (`node bin/tandem.js worker --config
 * FILE` with TEMPORAL_ADDRESS and TEMPORAL_NAMESPACE set), so it can be SIGKILLed.
 *
 * A lane is one model (unique per run) with its own repository, configuration and worker process;
 * lanes share the gateway, engine, registry and Temporal server, so they can run side by side.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, writeFileSync, type WriteStream } from 'node:fs';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Docker from 'dockerode';
import { simpleGit } from 'simple-git';
import { parse, stringify } from 'yaml';
import { labelFilters } from '../../../src/naming/docker';
import { RegistryClient } from '../../../src/activities/image/registry';
import { commitTag } from '../../../src/naming/docker';
import { serveRepository, type GitServer } from '../../helpers/git-http';

export const ROOT = join(__dirname, '..', '..', '..');
export const ENV = 'local';
export const NAMESPACE = 'tandem-test';
export const TEMPORAL_ADDRESS = process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233';
export const REGISTRY = { url: '127.0.0.1:5000', insecure: true };
export const REPLICAS = 2;

const EXAMPLE = join(ROOT, 'examples', 'fraud-detector');
const VERSIONS = join(ROOT, 'examples', 'fraud-detector-versions');

/** Which of the example's model weights a tag carries: v1.0.0's, v1.1.0's (both good), or v1.2.0's (answers 500). */
export type Weights = 'v1.0.0' | 'v1.1.0' | 'v1.2.0';

/**
 * The canary every tag uses, with short durations. The approval gate has a timeout long enough
 * that only the test's approval (or its absence, when a test fails) ends it.
 */
export const ROLLOUT = {
  strategy: 'canary',
  steps: [
    { setWeight: 20 },
    { pause: { duration: '3s' } },
    { analysis: { interval: '3s', count: 1, maxErrorRate: 0.05, minRequests: 2 } },
    { setWeight: 50 },
    { approval: { timeout: '10m' } },
  ],
};

/**
 * The example's Dockerfile with one more step, standing in for compiling or quantizing a model:
 * it takes a few seconds and adds a 16 MiB layer of its own, so the build and the push last long
 * enough for the test to kill the worker in the middle of them. Only tags marked `slowBuild` use it.
 */
const SLOW_STEP = `RUN node -e "require('fs').writeFileSync('model/compiled.bin', require('crypto').randomBytes(16 << 20)); setTimeout(() => {}, 4000)"\n`;
const COPY_MODEL = 'COPY model/ ./model/\n';

/**
 * The example's server answers a request with `?delay_ms=N` after N ms (at most 10 s): a tag
 * marked `slowSmoke` has a smoke test that uses it (a slow warm-up request), so its verification
 * lasts long enough to be caught.
 */
const DELAY_PATCH = [
  'const server = http.createServer((req, res) => {',
  `const server = http.createServer((req, res) => {
  const delay = Math.min(Number(new URL(req.url, 'http://localhost').searchParams.get('delay_ms')) || 0, 10000);
  if (delay > 0 && !req.delayed) return setTimeout(() => server.emit('request', Object.assign(req, { delayed: true }), res), delay);`,
] as const;

export const SLOW_SMOKE_MS = 4000;

export interface TagPlan {
  tag: string;
  weights: Weights;
  /** the Dockerfile with the slow step above */
  slowBuild?: boolean;
  /** a smoke test that takes SLOW_SMOKE_MS */
  slowSmoke?: boolean;
  /**
   * an analysis window of SLOW_ANALYSIS instead of 3 s: on a loaded machine the test's status
   * query, activity lookup and kill took longer than 3 s and the analysis had already passed
   */
  slowAnalysis?: boolean;
}

const SLOW_ANALYSIS = '12s';

/** A spec for the weights: the example's smoke tests for them (and a slow one), the canary above. */
function specFor(plan: TagPlan): string {
  const example = parse(readFileSync(plan.weights === 'v1.0.0' ? join(EXAMPLE, 'tandem.yaml') : join(VERSIONS, 'v1.1.0', 'tandem.yaml'), 'utf8')) as Record<string, unknown>;
  const slow = { name: 'warm-up request answers (slow)', request: { method: 'GET', path: `/healthz?delay_ms=${SLOW_SMOKE_MS}` }, expect: { status: 200 } };
  return stringify({
    port: 8080,
    health: { path: '/healthz', timeout: '5s' },
    readyTimeout: '1m',
    replicas: REPLICAS,
    resources: { cpu: '250m', memory: '128Mi' },
    smoke: [...(plan.slowSmoke ? [slow] : []), ...(example.smoke as unknown[])],
    rollout: plan.slowAnalysis ? { ...ROLLOUT, steps: ROLLOUT.steps.map((step) => ('analysis' in step ? { analysis: { ...step.analysis, interval: SLOW_ANALYSIS } } : step)) } : ROLLOUT,
    retention: { keepPrevious: 1 },
  });
}

/**
 * Makes the lane's model repository at `dir`: one commit and tag per entry of `tags`, each the
 * example with the given weights, the spec above, the example's Dockerfile (or the slow one) and a
 * file naming the run, model and tag (so no two builds anywhere share a layer cache entry and
 * every build is a real one). Returns each tag's commit.
 */
export async function createRepository(dir: string, label: string, tags: TagPlan[]): Promise<Record<string, string>> {
  await cp(EXAMPLE, dir, { recursive: true });
  const server = await readFile(join(dir, 'server.js'), 'utf8');
  const dockerfile = await readFile(join(dir, 'Dockerfile'), 'utf8');
  if (!server.includes(DELAY_PATCH[0]) || !dockerfile.includes(COPY_MODEL)) throw new Error('examples/fraud-detector changed: update DELAY_PATCH or COPY_MODEL');
  await writeFile(join(dir, 'server.js'), server.replace(DELAY_PATCH[0], DELAY_PATCH[1]));
  const git = simpleGit(dir);
  await git.init(['--initial-branch=main']);
  await git.addConfig('user.name', 'Fault Suite');
  await git.addConfig('user.email', 'faults@example.com');
  await git.addConfig('commit.gpgsign', 'false');
  await git.addConfig('tag.gpgsign', 'false');
  const commits: Record<string, string> = {};
  for (const plan of tags) {
    const { tag, weights } = plan;
    const source = weights === 'v1.0.0' ? join(EXAMPLE, 'model') : join(VERSIONS, weights, 'model');
    await cp(source, join(dir, 'model'), { recursive: true, force: true });
    await writeFile(join(dir, 'model', 'release.txt'), `${label} ${tag}\n`);
    await writeFile(join(dir, 'tandem.yaml'), specFor(plan));
    await writeFile(join(dir, 'Dockerfile'), plan.slowBuild ? dockerfile.replace(COPY_MODEL, COPY_MODEL + SLOW_STEP) : dockerfile);
    await git.add('.');
    await git.commit(`${tag} with the weights of ${weights}`);
    await git.addAnnotatedTag(tag, tag);
    commits[tag] = (await git.revparse([`${tag}^{commit}`])).trim();
  }
  return commits;
}

let workerArgs: string[] | undefined;
/**
 * `worker --config FILE`, plus `--health-port 0` where the worker serves a health endpoint (its
 * default port is fixed, and the lanes run several workers on this host).
 */
function tandemWorkerArgs(configPath: string): string[] {
  workerArgs ??= execFileSync(process.execPath, [join(ROOT, 'bin', 'tandem.js'), 'worker', '--help'], { cwd: ROOT, encoding: 'utf8' }).includes('--health-port')
    ? ['--health-port', '0']
    : [];
  return ['worker', '--config', configPath, ...workerArgs];
}

/** `tandem worker` as its own process (and process group, so a SIGKILL takes its Git children too). */
export class WorkerProcess {
  private exited: Promise<number | null>;

  private constructor(
    readonly child: ChildProcess,
    private readonly log: WriteStream,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  /** Starts the worker and resolves once it says it serves its task queue. */
  static async start(configPath: string, cacheDir: string, logPath: string): Promise<WorkerProcess> {
    const log = createWriteStream(logPath, { flags: 'a' });
    await new Promise((resolve) => log.once('open', resolve));
    log.write(`--- ${new Date().toISOString()} starting tandem worker\n`);
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'tandem.js'), ...tandemWorkerArgs(configPath)], {
      cwd: ROOT,
      env: { ...process.env, TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE: NAMESPACE, TANDEM_CACHE: cacheDir },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const worker = new WorkerProcess(child, log);
    child.stderr!.pipe(log, { end: false });
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`tandem worker did not start within 120 s (log: ${logPath})`)), 120_000);
      child.stdout!.on('data', (chunk: Buffer) => {
        log.write(chunk);
        out += chunk.toString();
        if (out.includes('tandem worker: task queue')) {
          clearTimeout(timer);
          resolve();
        }
      });
      void worker.exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`tandem worker exited with ${code} before it started (log: ${logPath})`));
      });
    });
    return worker;
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** SIGKILL to the worker's process group; resolves when the worker is gone. */
  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      try {
        process.kill(-this.pid, 'SIGKILL');
      } catch {
        this.child.kill('SIGKILL');
      }
    }
    await this.exited;
    this.log.write(`--- ${new Date().toISOString()} SIGKILLed\n`);
  }

  /** SIGTERM (graceful), then SIGKILL if it is still there after 10 s. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => void this.kill(), 10_000);
    await this.exited;
    clearTimeout(timer);
    this.log.end();
  }
}

export interface Lane {
  model: string;
  dir: string;
  git: GitServer;
  commits: Record<string, string>;
  configPath: string;
  cacheDir: string;
  logPath: string;
  worker?: WorkerProcess;
}

/** Creates a lane: repository, its Git server, and a tandem.config.yaml naming the gateway. */
export async function createLane(options: {
  model: string;
  dir: string;
  tags: TagPlan[];
  gatewayAdminUrl: string;
  tokenFile: string;
}): Promise<Lane> {
  const repo = join(options.dir, options.model);
  mkdirSync(repo, { recursive: true });
  const commits = await createRepository(repo, `${options.model} ${Date.now()}`, options.tags);
  const git = await serveRepository(repo);
  // JSON is YAML: the configuration as a person would write it, in a file the worker reads.
  const config = {
    taskQueue: `tandem-${options.model}`,
    environments: {
      [ENV]: {
        target: { kind: 'docker', network: 'tandem' },
        registry: REGISTRY,
        traffic: { router: 'gateway', url: options.gatewayAdminUrl, tokenFile: options.tokenFile },
        build: { buildArgs: { BASE_IMAGE: 'tandem/node-base:20' } },
      },
    },
    models: { [options.model]: { repo: git.url, environment: ENV } },
  };
  const configPath = join(options.dir, `${options.model}.tandem.config.yaml`);
  writeFileSync(configPath, stringify(config));
  return {
    model: options.model,
    dir: options.dir,
    git,
    commits,
    configPath,
    cacheDir: join(options.dir, `${options.model}-worker-cache`),
    logPath: join(options.dir, `${options.model}-worker.log`),
  };
}

export async function startLaneWorker(lane: Lane): Promise<WorkerProcess> {
  lane.worker = await WorkerProcess.start(lane.configPath, lane.cacheDir, lane.logPath);
  return lane.worker;
}

// ------------------------------------------------------------------ what the real parts hold

const docker = new Docker();
const registry = new RegistryClient(REGISTRY, undefined);

/** Distinct images on the engine built for the version (by the labels buildImage sets). */
export async function engineImages(model: string, version: string): Promise<string[]> {
  const images = await docker.listImages({ all: true, filters: { label: [`tandem.model=${model}`, `tandem.version=${version}`] } });
  return [...new Set(images.map((i) => i.Id))];
}

/** Tags the registry holds for the model. */
export async function registryTags(model: string): Promise<string[]> {
  return registry.tags(model).catch(() => []);
}

export async function registryDigest(model: string, tag: string): Promise<string | undefined> {
  return registry.manifestDigest(model, tag);
}

export { commitTag };

/** The version's containers (running or not), with their replica index and state. */
export async function versionContainers(model: string, version: string): Promise<{ name: string; replica: string; state: string }[]> {
  const containers = await docker.listContainers({ all: true, filters: { label: labelFilters(model, version) } });
  return containers.map((c) => ({ name: c.Names[0] ?? c.Id, replica: c.Labels['tandem.replica'] ?? '?', state: c.State }));
}

/** Removes every container and local image of the model. */
export async function removeModel(model: string): Promise<void> {
  const containers = await docker.listContainers({ all: true, filters: { label: [`tandem.model=${model}`] } });
  await Promise.all(containers.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
  const images = await docker.listImages({ filters: { label: [`tandem.model=${model}`] } });
  for (const image of images) await docker.getImage(image.Id).remove({ force: true }).catch(() => undefined);
}

// ------------------------------------------------------------------ the gateway's traffic split

export interface TrafficWatch {
  /** most versions with weight > 0 seen at once */
  maxWeighted: number;
  /** every distinct split seen, in order */
  splits: string[];
  reads: number;
  errors: number;
  /** starts a new window: maxWeighted and splits from now on */
  reset(): void;
  stop(): Promise<void>;
}

/**
 * Reads the model's traffic from the gateway's admin API every `everyMs` and keeps the most
 * versions that had a weight above 0 at once, and every split seen.
 */
export function watchTraffic(adminUrl: string, token: () => string, model: string, everyMs = 100): TrafficWatch {
  let stopped = false;
  const watch: TrafficWatch = {
    maxWeighted: 0,
    splits: [],
    reads: 0,
    errors: 0,
    reset() {
      watch.maxWeighted = 0;
      watch.splits = watch.splits.slice(-1);
    },
    async stop() {
      stopped = true;
      await loop;
    },
  };
  const loop = (async () => {
    while (!stopped) {
      try {
        const res = await fetch(`${adminUrl}/_tandem/models/${encodeURIComponent(model)}/traffic`, {
          headers: { authorization: `Bearer ${token()}` },
          signal: AbortSignal.timeout(5000),
        });
        if (res.ok) {
          const state = (await res.json()) as { weights?: Record<string, number> };
          const weighted = Object.entries(state.weights ?? {}).filter(([, w]) => w > 0);
          watch.reads++;
          watch.maxWeighted = Math.max(watch.maxWeighted, weighted.length);
          const split = weighted.map(([v, w]) => `${v} ${w}%`).join(', ') || 'none';
          if (watch.splits.at(-1) !== split) watch.splits.push(split);
        } else {
          await res.arrayBuffer();
          if (res.status !== 404) watch.errors++;
        }
      } catch {
        watch.errors++;
      }
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return watch;
}

// ------------------------------------------------------------------ the engine's containers

export interface ContainerWatch {
  /** every container id seen per version, since the watch started */
  ids(version: string): Set<string>;
  /** most containers of the version that existed at once */
  maxAtOnce(version: string): number;
  stop(): Promise<void>;
}

/**
 * Lists the model's containers on the engine every `everyMs`: a version deployed once has as many
 * container ids, ever, as it has replicas (a deploy run twice would create more, or recreate one).
 */
export function watchContainers(model: string, everyMs = 250): ContainerWatch {
  let stopped = false;
  const ids = new Map<string, Set<string>>();
  const most = new Map<string, number>();
  const loop = (async () => {
    while (!stopped) {
      // The Docker target's label filter: a build's step containers carry tandem.model too, not tandem.managed.
      const containers = await docker.listContainers({ all: true, filters: { label: labelFilters(model) } }).catch(() => undefined);
      const now = new Map<string, number>();
      for (const c of containers ?? []) {
        const version = c.Labels['tandem.version'] ?? '?';
        if (!ids.has(version)) ids.set(version, new Set());
        ids.get(version)!.add(c.Id);
        now.set(version, (now.get(version) ?? 0) + 1);
      }
      for (const [version, count] of now) most.set(version, Math.max(most.get(version) ?? 0, count));
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    ids: (version) => ids.get(version) ?? new Set(),
    maxAtOnce: (version) => most.get(version) ?? 0,
    async stop() {
      stopped = true;
      await loop;
    },
  };
}
