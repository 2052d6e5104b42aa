/**
 * tandem on the Kubernetes cluster of scripts/k8s-node-up.sh (control plane, KWOK nodes and the
 * real node tandem-node-0), for the end-to-end test, `npm run demo -- --kubernetes` and the
 * benchmark: `tandem gateway --kubernetes <kubeconfig> --gateway-class <class>` and `tandem worker`
 * as separate processes, exactly as the README runs them, the gateway with the token of
 * deploy/gateway-rbac.yaml's ServiceAccount, deploy/gateway-class.yaml's GatewayClass and Gateway,
 * and a tandem.config.yaml whose Kubernetes environment places versions on the real node, routes
 * with gateway-api and reads analysis from the gateway's per-version counters.
 */
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as k8s from '@kubernetes/client-node';
import YAML, { parseAllDocuments } from 'yaml';
import { TandemClient } from '../src/client';
import { configSchema } from '../src/config/schema';
import { createExampleRepo } from './example-repo';
import { predict, ROOT, up } from './stack';

export const K8S_ENV = 'k8s';
export const BIN = join(ROOT, 'bin', 'tandem.js');
const GROUP = 'gateway.networking.k8s.io';
const NODE_LABEL = 'tandem.dev/node';
const LISTENING = /models at (http:\/\/[\d.]+:\d+)\/<model>\/\.\.\.; admin API (http:\/\/[\d.]+:\d+)\/_tandem\//;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- manifests are edited field by field
type Json = any;

/**
 * Starts (or reuses) the control plane and the real node: the admin kubeconfig, or `skip` with
 * the script's reason when it exits 3 (this machine cannot run a node); other failures throw.
 */
export function startNode(): { kubeconfig: string } | { skip: string } {
  const result = spawnSync('bash', [join(ROOT, 'scripts', 'k8s-node-up.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 1_800_000 });
  if (result.status === 3) return { skip: result.stderr.trim().split('\n').pop()! };
  if (result.status !== 0) throw new Error(`scripts/k8s-node-up.sh failed (exit ${result.status ?? result.signal}): ${result.stderr.trim().split('\n').slice(-5).join(' | ')}`);
  return { kubeconfig: result.stdout.trim().split('\n').pop()! };
}

export interface KubernetesStackOptions {
  /** the admin kubeconfig (scripts/k8s-node-up.sh prints it) */
  kubeconfig: string;
  model: string;
  /** example repository, gateway state, worker cache, tandem.config.yaml */
  workDir: string;
  /** Kubernetes namespace of the versions, the Gateway, the HTTPRoutes and the gateway's ServiceAccount; made afresh */
  namespace: string;
  /** GatewayClass the gateway serves (deploy/gateway-class.yaml's, renamed) */
  gatewayClass: string;
  /** suffix of the cluster-wide RBAC objects' names ('' keeps deploy/gateway-rbac.yaml's) */
  clusterSuffix: string;
  temporalNamespace: string;
  taskQueue: string;
  gatewayPort?: number;
  gatewayAdminPort?: number;
  /** labels of the namespace (a test run's) */
  labels?: Record<string, string>;
  /** who the CLI calls record as acting (TANDEM_ACTOR); default e2e */
  actor?: string;
}

export interface Daemon {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

export interface KubernetesStack {
  kc: k8s.KubeConfig;
  client: TandemClient;
  gateway: Daemon;
  worker: Daemon;
  /** where models are served: <url>/<model>/... */
  gatewayUrl: string;
  adminUrl: string;
  configPath: string;
  repo: string;
  /** environment of the tandem processes (TEMPORAL_NAMESPACE ...) */
  env: NodeJS.ProcessEnv;
  /** one `tandem` CLI call with this stack's config: its exit code and output */
  cli(...args: string[]): Promise<{ code: number; out: string }>;
  /** SIGTERM to worker and gateway, waits for them; closes the client */
  stop(): Promise<void>;
  /** deletes the namespace (and so every version) and the cluster-wide objects */
  remove(): Promise<void>;
}

/** Starts a long-running `tandem` command; resolves once its output matches `ready`. */
export function daemon(args: string[], ready: RegExp, env: NodeJS.ProcessEnv, timeoutMs = 180_000): Promise<Daemon> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      reject(new Error(`tandem ${args[0]} not ready in ${timeoutMs} ms: ${text}`));
    }, timeoutMs);
    const onData = (chunk: Buffer) => {
      text += chunk.toString();
      if (ready.test(text)) {
        clearTimeout(timer);
        resolve({ child, output: () => text, exited });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then((code) => reject(new Error(`tandem ${args[0]} exited with ${code}: ${text}`)));
  });
}

/** deploy/gateway-rbac.yaml and deploy/gateway-class.yaml moved into `options`' names. */
function gatewayManifests(options: KubernetesStackOptions): Json[] {
  return ['deploy/gateway-rbac.yaml', 'deploy/gateway-class.yaml'].flatMap((file) =>
    parseAllDocuments(readFileSync(join(ROOT, file), 'utf8'), { version: '1.1' })
      .filter((d) => d.contents !== null)
      .map((d) => {
        const o = d.toJSON() as Json;
        if (o.metadata.namespace) o.metadata.namespace = options.namespace;
        if (o.kind === 'ClusterRole' || o.kind === 'ClusterRoleBinding') o.metadata.name += options.clusterSuffix;
        if (o.kind === 'ClusterRoleBinding') {
          o.roleRef.name += options.clusterSuffix;
          for (const s of o.subjects) s.namespace = options.namespace;
        }
        if (o.kind === 'GatewayClass') o.metadata.name = options.gatewayClass;
        if (o.kind === 'Gateway') o.spec.gatewayClassName = options.gatewayClass;
        return o;
      }),
  );
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

/** Deletes `name` if it exists and waits until it is gone, then creates it and waits for its default ServiceAccount. */
async function freshNamespace(core: k8s.CoreV1Api, name: string, labels: Record<string, string>): Promise<void> {
  if (await core.readNamespace({ name }).then(() => true, () => false)) {
    await core.deleteNamespace({ name }).catch(() => undefined);
    await until(`namespace ${name} deleted`, () => core.readNamespace({ name }).then(() => undefined, () => true), 180_000);
  }
  await core.createNamespace({ body: { metadata: { name, labels } } });
  await until(`ServiceAccount default in ${name}`, () => core.readNamespacedServiceAccount({ name: 'default', namespace: name }).then(() => true));
}

export async function startKubernetesStack(options: KubernetesStackOptions): Promise<KubernetesStack> {
  up('temporal-up.sh');
  up('docker-up.sh');
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(options.kubeconfig);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  mkdirSync(options.workDir, { recursive: true });
  const { path: repo } = await createExampleRepo(join(options.workDir, 'fraud-detector'));
  const remove = async () => {
    const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
    if (options.clusterSuffix) {
      await rbac.deleteClusterRoleBinding({ name: `tandem-gateway${options.clusterSuffix}` }).catch(() => undefined);
      await rbac.deleteClusterRole({ name: `tandem-gateway${options.clusterSuffix}` }).catch(() => undefined);
      await custom.deleteClusterCustomObject({ group: GROUP, version: 'v1', plural: 'gatewayclasses', name: options.gatewayClass }).catch(() => undefined);
    }
    await core.deleteNamespace({ name: options.namespace }).catch(() => undefined);
    // Until it is gone its pods still hold the node's CPU requests: whatever runs next must find them freed.
    await until(`namespace ${options.namespace} deleted`, () => core.readNamespace({ name: options.namespace }).then(() => undefined, () => true), 180_000);
  };
  try {
    return await start(options, kc, repo, remove);
  } catch (error) {
    await remove();
    throw error;
  }
}

async function start(options: KubernetesStackOptions, kc: k8s.KubeConfig, repo: string, remove: () => Promise<void>): Promise<KubernetesStack> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  await freshNamespace(core, options.namespace, options.labels ?? {});

  // kubectl apply -f deploy/gateway-rbac.yaml -f deploy/gateway-class.yaml
  const objects = k8s.KubernetesObjectApi.makeApiClient(kc);
  for (const object of gatewayManifests(options)) await objects.patch(object, undefined, undefined, 'tandem', true, k8s.PatchStrategy.ServerSideApply);
  // The gateway's kubeconfig: the token of deploy/gateway-rbac.yaml's ServiceAccount.
  const token = await core.createNamespacedServiceAccountToken({ name: 'tandem-gateway', namespace: options.namespace, body: { spec: { audiences: [], expirationSeconds: 24 * 3600 } } });
  const cluster = kc.getCurrentCluster()!;
  const gatewayKc = new k8s.KubeConfig();
  gatewayKc.loadFromOptions({
    clusters: [{ name: 'tandem', server: cluster.server, caData: cluster.caData }],
    users: [{ name: 'tandem-gateway', token: token.status!.token }],
    contexts: [{ name: 'gateway', cluster: 'tandem', user: 'tandem-gateway' }],
    currentContext: 'gateway',
  });
  const gatewayKubeconfig = join(options.workDir, 'gateway.kubeconfig');
  writeFileSync(gatewayKubeconfig, gatewayKc.exportConfig(), { mode: 0o600 });

  const env: NodeJS.ProcessEnv = { ...process.env, TEMPORAL_NAMESPACE: options.temporalNamespace, TANDEM_CACHE: join(options.workDir, 'worker'), TANDEM_ACTOR: options.actor ?? 'e2e' };
  delete env.KUBECONFIG;
  delete env.TANDEM_GATEWAY_TOKEN; // the gateway generates its token into its state directory; the worker reads it there
  const stateDir = join(options.workDir, 'gateway');
  const port = (p: number | undefined) => String(p ?? 0);
  // tandem gateway --kubernetes <kubeconfig> --gateway-class <class>
  const gateway = await daemon(
    ['gateway', '--kubernetes', gatewayKubeconfig, '--gateway-class', options.gatewayClass, '--port', port(options.gatewayPort), '--admin-port', port(options.gatewayAdminPort), '--state-dir', stateDir],
    LISTENING,
    env,
  );
  const [, gatewayUrl, adminUrl] = LISTENING.exec(gateway.output())!;
  await until('Gateway public Programmed', async () => {
    const g: Json = await custom.getNamespacedCustomObject({ group: GROUP, version: 'v1', namespace: options.namespace, plural: 'gateways', name: 'public' });
    return g.status?.conditions?.some((c: Json) => c.type === 'Programmed' && c.status === 'True') ? true : undefined;
  });

  const configPath = join(options.workDir, 'tandem.config.yaml');
  const config = {
    taskQueue: options.taskQueue,
    environments: {
      [K8S_ENV]: {
        target: {
          kind: 'kubernetes',
          kubeconfig: options.kubeconfig,
          namespace: options.namespace,
          nodeSelector: { [NODE_LABEL]: 'real' },
          tolerations: [{ key: NODE_LABEL, value: 'real', effect: 'NoSchedule' }],
        },
        registry: { url: '127.0.0.1:5000', insecure: true },
        build: { buildArgs: { BASE_IMAGE: 'tandem/node-base:20' } },
        traffic: { router: 'gateway-api', gateway: 'public' },
        analysis: { gateway: { url: adminUrl!, tokenFile: join(stateDir, 'admin-token') } },
      },
    },
    models: { [options.model]: { repo, environment: K8S_ENV } },
  };
  configSchema.parse(config);
  writeFileSync(configPath, YAML.stringify(config));
  // tandem worker --config tandem.config.yaml
  let worker: Daemon;
  try {
    worker = await daemon(['worker', '--config', configPath, '--health-host', '127.0.0.1', '--health-port', '0'], /tandem worker: task queue .*health and metrics at/, env);
  } catch (error) {
    gateway.child.kill('SIGTERM');
    throw error;
  }
  const client = await TandemClient.connect({ namespace: options.temporalNamespace, taskQueue: options.taskQueue });

  return {
    kc,
    client,
    gateway,
    worker,
    gatewayUrl: gatewayUrl!,
    adminUrl: adminUrl!,
    configPath,
    repo,
    env,
    cli: (...args) =>
      new Promise((resolve) => {
        execFile(process.execPath, [BIN, ...args, '--config', configPath], { cwd: ROOT, env, timeout: 120_000 }, (err, stdout, stderr) => {
          const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
          resolve({ code, out: stdout + stderr });
        });
      }),
    async stop() {
      await client.close();
      for (const d of [worker, gateway]) {
        if (d.child.exitCode === null && d.child.signalCode === null) {
          d.child.kill('SIGTERM');
          await Promise.race([d.exited, sleep(30_000)]);
        }
      }
    },
    remove,
  };
}

export interface SwitchObserved {
  /** from calling `trigger` until the first request of the run of stable-only answers that lasts to the end */
  ms: number;
  /** how long `trigger` itself took */
  triggerMs: number;
  requests: number;
  failed: number;
  errors: string[];
}

/**
 * What a client sees when `trigger` (an abort, a rollback) sends every request back to `stable`:
 * `concurrency` request loops through the gateway from just before the trigger until 2 s of
 * answers only from `stable` have passed after the trigger finished; the switch time is when the
 * first request of that unbroken stable-only run was sent. Failures are counted, not thrown.
 */
export async function observeSwitch(gatewayUrl: string, model: string, stable: string, trigger: () => Promise<unknown>, concurrency = 4): Promise<SwitchObserved> {
  const answers: { sent: number; version: string }[] = [];
  const errors: string[] = [];
  let failed = 0;
  let requests = 0;
  let triggered: number | undefined = undefined;
  let lastOther = 0;
  const t0 = performance.now();
  const done = () => triggered !== undefined && performance.now() - Math.max(lastOther, triggered) > 2000;
  const loop = async () => {
    while (!done() && performance.now() - t0 < 120_000) {
      const sent = performance.now();
      requests++;
      try {
        const res = await predict(gatewayUrl, model, {}, 10_000);
        const version = res.headers.get('x-served-by-version') ?? 'none';
        if (!res.ok) {
          failed++;
          if (errors.length < 20) errors.push(`${res.status} from ${version}`);
        }
        answers.push({ sent, version });
        if (version !== stable) lastOther = Math.max(lastOther, performance.now());
      } catch (error) {
        failed++;
        if (errors.length < 20) errors.push((error as Error).message);
      }
    }
  };
  const loops = Array.from({ length: concurrency }, loop);
  const triggerMs = await trigger().then(() => performance.now() - t0);
  triggered = performance.now();
  await Promise.all(loops);
  const lastOtherSent = Math.max(0, ...answers.filter((a) => a.version !== stable).map((a) => a.sent));
  const switchedAt = Math.min(...answers.filter((a) => a.version === stable && a.sent > lastOtherSent).map((a) => a.sent));
  return { ms: Math.max(0, switchedAt - t0), triggerMs, requests, failed, errors };
}
