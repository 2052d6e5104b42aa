/**
 * What a Deployment and its pods say about a rollout: ready, still progressing (and what it waits
 * for), or failed with a reason a person can act on. The Kubernetes target feeds it what its
 * watches see; the controllers decide, this only reads their verdict. Pure.
 */
import type * as k8s from '@kubernetes/client-node';

/** Container waiting reasons that mean the pod will not become ready by itself. */
const FATAL_WAITING = new Set(['CrashLoopBackOff', 'ImagePullBackOff', 'InvalidImageName', 'CreateContainerConfigError', 'CreateContainerError', 'RunContainerError', 'ErrImageNeverPull']);

/** What the Deployment and its pods say about a rollout. */
export interface RolloutVerdict {
  done: boolean;
  /** why it cannot become ready, when it cannot */
  failure?: string;
  /** true when the failure is the progress deadline (worth adding events to) */
  stuck?: boolean;
  ready: number;
  desired: number;
  detail: string;
}

/**
 * Judges a rollout from the Deployment and the version's pods. Done when the controller observed
 * the latest generation and every desired replica is updated and available, with no old pod left.
 * Failed when the Deployment reports ProgressDeadlineExceeded, when it is scaled to 0, or when a
 * pod failed, crash-loops or cannot pull or start its container. Pure.
 */
export function rolloutVerdict(deployment: k8s.V1Deployment, pods: k8s.V1Pod[]): RolloutVerdict {
  const desired = deployment.spec?.replicas ?? 1;
  const status = deployment.status ?? {};
  const available = status.availableReplicas ?? 0;
  const observed = (status.observedGeneration ?? 0) >= (deployment.metadata?.generation ?? 0);
  const live = pods.filter((p) => !p.metadata?.deletionTimestamp);
  if (desired === 0) {
    return { done: false, failure: 'it is scaled to 0: no replica runs; deploy or scale it up first', ready: 0, desired, detail: 'scaled to 0' };
  }
  if (observed && status.updatedReplicas === desired && available === desired && (status.replicas ?? 0) === desired) {
    return { done: true, ready: available, desired, detail: `${available}/${desired} replicas available` };
  }
  for (const pod of live) {
    const problem = podFailure(pod);
    if (problem) return { done: false, failure: problem, ready: available, desired, detail: problem };
  }
  const progressing = status.conditions?.find((c) => c.type === 'Progressing');
  if (observed && progressing?.status === 'False' && progressing.reason === 'ProgressDeadlineExceeded') {
    const pending = live.map(podWaiting).find(Boolean);
    return {
      done: false,
      stuck: true,
      failure: `rollout did not progress within its deadline (ProgressDeadlineExceeded: ${progressing.message ?? ''})${pending ? `; ${pending}` : ''}`,
      ready: available,
      desired,
      detail: 'ProgressDeadlineExceeded',
    };
  }
  const waiting = live.map(podWaiting).find(Boolean);
  const detail = `${available}/${desired} replicas available${observed ? '' : ' (controller has not seen the latest change yet)'}${waiting ? `; ${waiting}` : ''}`;
  return { done: false, ready: available, desired, detail };
}

/** Why a pod will not become ready by itself, or undefined. */
export function podFailure(pod: k8s.V1Pod): string | undefined {
  const name = pod.metadata?.name ?? '?';
  const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  if (pod.status?.phase === 'Failed') {
    const terminated = statuses.map((s) => s.state?.terminated && describeTermination(s.name, s.state.terminated)).find(Boolean);
    const why = [pod.status.reason, pod.status.message].filter(Boolean).join(': ');
    return `pod ${name} failed${why ? ` (${why})` : ''}${terminated ? `: ${terminated}` : ''}`;
  }
  for (const s of statuses) {
    const waiting = s.state?.waiting;
    const last = s.lastState?.terminated;
    if (waiting?.reason && FATAL_WAITING.has(waiting.reason)) {
      return `pod ${name}: container ${s.name} is in ${waiting.reason}${waiting.message ? ` (${waiting.message})` : ''}${last ? `; last run: ${describeTermination(s.name, last)}` : ''}`;
    }
    // The kubelet restarts a crashed container once at once, then backs off (CrashLoopBackOff,
    // caught above with its reason); a second restart after a failure counts the same.
    if ((s.restartCount ?? 0) >= 2 && last && last.exitCode !== 0) {
      return `pod ${name}: container ${s.name} restarted ${s.restartCount} time${s.restartCount === 1 ? '' : 's'}; last run: ${describeTermination(s.name, last)}`;
    }
  }
  return undefined;
}

function describeTermination(container: string, t: k8s.V1ContainerStateTerminated): string {
  const how = t.reason === 'OOMKilled' ? `was killed for using too much memory (OOMKilled, exit code ${t.exitCode})` : `exited with code ${t.exitCode}${t.reason ? ` (${t.reason})` : ''}`;
  return `container ${container} ${how}${t.message ? `: ${t.message.trim()}` : ''}`;
}

/** What a not-yet-ready pod waits for (unschedulable, pulling, probe failing), or undefined. */
function podWaiting(pod: k8s.V1Pod): string | undefined {
  const name = pod.metadata?.name ?? '?';
  const scheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
  if (scheduled?.status === 'False') return `pod ${name} is not scheduled (${scheduled.reason}: ${scheduled.message ?? ''})`;
  for (const s of pod.status?.containerStatuses ?? []) {
    if (s.state?.waiting?.reason) return `pod ${name}: container ${s.name} is ${s.state.waiting.reason}`;
    if (s.state?.running && !s.ready) return `pod ${name}: container ${s.name} runs but is not ready (readiness probe)`;
  }
  if (!pod.status?.containerStatuses?.length) return `pod ${name} is ${pod.status?.phase ?? 'Pending'}`;
  return undefined;
}
