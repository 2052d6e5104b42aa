/**
 * The processes of the suite's own infrastructure that the restart faults act on: the Kubernetes
 * control plane started by scripts/k8s-up.sh and the Temporal dev server started by
 * scripts/temporal-up.sh. Each is found by the pid file its script wrote and checked by its
 * command line before anything is sent to it, so a recycled pid is never signalled.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';

const ROOT = join(__dirname, '..', '..', '..');
/** Asynchronous on purpose: the workers, the gateway and the traffic of a test run in its process and must keep running meanwhile. */
const run = promisify(execFile);
const TANDEM_HOME = process.env.TANDEM_HOME ?? join(homedir(), '.cache', 'tandem');
const K8S_STATE = join(TANDEM_HOME, 'k8s');
const TEMPORAL_PID_FILE = join(TANDEM_HOME, 'temporal', 'server.pid');

export const CONTROL_PLANE = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kwok'] as const;
export type Component = (typeof CONTROL_PLANE)[number];

function readPid(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** The command line of a live process, or undefined when it is gone (a zombie counts as gone). */
function commandLine(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (/\) Z /.test(stat)) return undefined;
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return undefined;
  }
}

/** The pid of each control-plane component as k8s-up.sh recorded it, when that process is alive and is that component. */
export function controlPlanePids(): Record<Component, number | undefined> {
  const pids = {} as Record<Component, number | undefined>;
  for (const name of CONTROL_PLANE) {
    const pid = readPid(join(K8S_STATE, `${name}.pid`));
    pids[name] = pid !== undefined && commandLine(pid)?.includes(`/${name} `) ? pid : undefined;
  }
  return pids;
}

async function waitGone(pid: number, what: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (commandLine(pid) === undefined) return;
    await sleep(50);
  }
  throw new Error(`${what} (pid ${pid}) still runs 5 s after SIGKILL`);
}

/** SIGKILLs the kube-apiserver that k8s-up.sh started; returns its pid once it is gone. */
export async function killApiServer(): Promise<number> {
  const pid = controlPlanePids()['kube-apiserver'];
  if (pid === undefined) throw new Error(`no kube-apiserver started by scripts/k8s-up.sh runs (pid file ${join(K8S_STATE, 'kube-apiserver.pid')})`);
  process.kill(pid, 'SIGKILL');
  await waitGone(pid, 'kube-apiserver');
  return pid;
}

/** Runs scripts/k8s-up.sh, which starts what is down and reuses the rest; returns what it logged. */
export async function controlPlaneUp(): Promise<string> {
  try {
    const { stderr } = await run('bash', [join(ROOT, 'scripts', 'k8s-up.sh')], { encoding: 'utf8', timeout: 300_000 });
    return stderr;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`scripts/k8s-up.sh failed: ${e.stderr ?? e.message}`);
  }
}

/** GET /readyz of the API server with the given kubeconfig (client certificate, the cluster's CA). */
export async function apiServerReady(kc: k8s.KubeConfig): Promise<boolean> {
  return new k8s.Health(kc).readyz({ signal: AbortSignal.timeout(5000) }).catch(() => false);
}

/** The Temporal dev server that temporal-up.sh started, when it runs. */
export function temporalServerPid(): number | undefined {
  const pid = readPid(TEMPORAL_PID_FILE);
  const cmd = pid === undefined ? undefined : commandLine(pid);
  return cmd && /temporal/.test(cmd) && cmd.includes('start-dev') ? pid : undefined;
}

/** SIGKILLs the Temporal dev server started by scripts/temporal-up.sh; returns its pid once it is gone. */
export async function killTemporalServer(): Promise<number> {
  const pid = temporalServerPid();
  if (pid === undefined) throw new Error(`no Temporal dev server started by scripts/temporal-up.sh runs (pid file ${TEMPORAL_PID_FILE})`);
  process.kill(pid, 'SIGKILL');
  await waitGone(pid, 'Temporal dev server');
  return pid;
}

/** Runs scripts/temporal-up.sh: starts the dev server again from its SQLite file, or reuses the running one. */
export async function temporalUp(): Promise<void> {
  await run('bash', [join(ROOT, 'scripts', 'temporal-up.sh')], { timeout: 120_000 });
}
