/**
 * The Kubernetes target: each version of a model is its own Deployment and Service in the
 * environment's namespace (manifests.ts), applied with server-side apply under the field manager
 * `tandem`. The cluster is the source of truth: nothing is remembered between calls, every method
 * reads labels and annotations back. waitReady follows the rollout by watching the Deployment and
 * its pods, so the real controllers decide readiness and tandem only reads their verdict.
 */
import * as k8s from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../errors';
import { KubeAnnotation, KubeLabel, MANAGED_BY, labelSelector, selectorLabels, workloadName } from '../../naming/kubernetes';
import type { ProgressFn, Target, VersionWorkload } from '../target';
import type { DeployedVersion, RunningVersion } from '../types';
import { MERGE, SSA } from './client';
import { kubeCall, kubeFailure, kubeRead } from './errors';
import { type PodMetadata, deploymentManifest, replicaProblems, serviceManifest, validateWorkload } from './manifests';
import { replicaPlan } from './replica-split';
import { rolloutVerdict } from './rollout';
import { type WatchEvent, type WatchSpec, WatchError, watchUntil } from './watch';

export interface KubernetesTargetOptions {
  /** namespace of the environment; every version of every model lives here */
  namespace: string;
  /** field manager of server-side apply; default `tandem` */
  fieldManager?: string;
  /** take over fields owned by other managers instead of failing; default false */
  force?: boolean;
  /** extra labels and annotations on every pod (sidecar injection, cost centres, KWOK stages in tests) */
  pod?: PodMetadata;
  /** how often waitReady re-reports progress while nothing changes (keeps heartbeats flowing); default 5000 ms */
  progressEveryMs?: number;
}

/**
 * Target implementation for one namespace of a Kubernetes cluster. Every method is idempotent:
 * server-side apply of the same configuration is a no-op (the resourceVersion does not change),
 * scale changes the count only when it differs, remove ignores what is already gone.
 *
 * Permissions it uses (deploy/rbac.yaml): deployments get/list/watch/create/patch/delete, services
 * get/create/patch/delete, pods list/watch, events list (apply that creates is checked as create).
 */
export class KubernetesTarget implements Target {
  private readonly apps: k8s.AppsV1Api;
  private readonly core: k8s.CoreV1Api;
  private readonly namespace: string;
  private readonly fieldManager: string;

  constructor(
    private readonly kubeConfig: k8s.KubeConfig,
    private readonly options: KubernetesTargetOptions,
  ) {
    this.apps = kubeConfig.makeApiClient(k8s.AppsV1Api);
    this.core = kubeConfig.makeApiClient(k8s.CoreV1Api);
    this.namespace = options.namespace;
    this.fieldManager = options.fieldManager ?? MANAGED_BY;
  }

  /**
   * Server-side applies the version's Deployment and Service, then sets the Deployment's replica
   * count to `spec.replicas` if it differs. The workload is checked first: invalid replicas,
   * ports, quantities or durations throw a non-retryable InvalidSpec failure and nothing is sent.
   * Idempotent: the deployed-at annotation is kept from the existing Deployment, so applying the
   * same workload twice changes nothing (same resourceVersion). Throws non-retryable
   * PermissionDenied (403), DeployFailed naming the other field manager on an apply conflict or
   * when a Deployment of that name exists that tandem did not create, TargetNotAvailable when the
   * namespace is missing; plain retryable Errors when the API server cannot be reached.
   */
  async apply(workload: VersionWorkload): Promise<void> {
    validateWorkload(workload);
    const name = workloadName(workload.model, workload.version);
    const existing = await this.readDeployment(name);
    if (existing && existing.metadata?.labels?.[KubeLabel.managedBy] !== MANAGED_BY) {
      throw ApplicationFailure.nonRetryable(
        `Deployment ${this.namespace}/${name} exists and was not created by tandem; rename or remove it before deploying ${workload.model} ${workload.version}`,
        FailureType.DeployFailed,
      );
    }
    const deployedAt = existing?.metadata?.annotations?.[KubeAnnotation.deployedAt] ?? new Date().toISOString();
    const manifest = deploymentManifest(workload, this.namespace, deployedAt, this.options.pod);
    const applied = await kubeCall({ verb: 'patch', resource: 'deployments.apps', name, namespace: this.namespace }, () =>
      this.apps.patchNamespacedDeployment({ name, namespace: this.namespace, body: manifest, fieldManager: this.fieldManager, force: this.options.force }, SSA),
    );
    const service = serviceManifest(workload, this.namespace);
    await kubeCall({ verb: 'patch', resource: 'services', name, namespace: this.namespace }, () =>
      this.core.patchNamespacedService({ name, namespace: this.namespace, body: service, fieldManager: this.fieldManager, force: this.options.force }, SSA),
    );
    if (applied.spec?.replicas !== workload.spec.replicas) await this.setReplicas(name, workload.spec.replicas);
  }

  /**
   * Watches the Deployment and its pods until the rollout is complete: the controller has observed
   * the latest generation and `availableReplicas`, `updatedReplicas` and `replicas` all equal the
   * desired count. Reports progress through `onProgress` on every change and every few seconds.
   * Throws a non-retryable DeployFailed ApplicationFailure naming the cause when the Deployment's
   * progress deadline passes (ProgressDeadlineExceeded, with the latest warning events), when a pod
   * fails or crash-loops (pod name, reason, message, last exit code), when the version has no
   * Deployment or is scaled to 0, or when `timeoutMs` passes; rethrows the signal's reason when
   * aborted; a plain Error when the API server cannot be reached. Read-only.
   */
  async waitReady(model: string, version: string, timeoutMs: number, onProgress: ProgressFn, signal?: AbortSignal): Promise<DeployedVersion> {
    const name = workloadName(model, version);
    const deployment = await this.readDeployment(name);
    if (!deployment) {
      throw ApplicationFailure.nonRetryable(`${model} ${version} has no Deployment in namespace ${this.namespace}; deploy it first`, FailureType.DeployFailed);
    }
    const podSelector = labelSelector(selectorLabels(model, version));
    const listPods = () => this.core.listNamespacedPod({ namespace: this.namespace, labelSelector: podSelector });
    const podList = await kubeCall({ verb: 'list', resource: 'pods', namespace: this.namespace }, listPods);
    const pods = new Map<string, k8s.V1Pod>(podList.items.map((p) => [p.metadata!.name!, p]));
    let current: k8s.V1Deployment = deployment;

    const judge = async (): Promise<DeployedVersion | undefined> => {
      const verdict = rolloutVerdict(current, [...pods.values()]);
      onProgress(verdict.ready, verdict.desired, verdict.detail);
      if (verdict.done) return { version, replicas: verdict.desired, readyReplicas: verdict.ready };
      if (verdict.failure) {
        const events = verdict.stuck ? await this.warningEvents(name) : '';
        throw ApplicationFailure.nonRetryable(`${model} ${version} cannot become ready: ${verdict.failure}${events}`, FailureType.DeployFailed);
      }
      return undefined;
    };
    const first = await judge();
    if (first) return first;

    const byName = `metadata.name=${name}`;
    const watches: WatchSpec[] = [
      {
        path: `/apis/apps/v1/namespaces/${this.namespace}/deployments`,
        fieldSelector: byName,
        list: () => this.apps.listNamespacedDeployment({ namespace: this.namespace, fieldSelector: byName }),
        onEvent: (event: WatchEvent) => {
          if (event.type === 'DELETED') {
            throw ApplicationFailure.nonRetryable(`${model} ${version}: its Deployment was deleted while waiting for it to become ready`, FailureType.DeployFailed);
          }
          current = event.object as k8s.V1Deployment;
        },
      },
      {
        path: `/api/v1/namespaces/${this.namespace}/pods`,
        labelSelector: podSelector,
        list: listPods,
        onEvent: (event: WatchEvent) => {
          const pod = event.object as k8s.V1Pod;
          if (event.type === 'DELETED') pods.delete(pod.metadata!.name!);
          else pods.set(pod.metadata!.name!, pod);
        },
      },
    ];
    try {
      return await watchUntil(this.kubeConfig, watches, judge, {
        timeoutMs,
        signal,
        tickMs: this.options.progressEveryMs ?? 5000,
        onTimeout: () => {
          const verdict = rolloutVerdict(current, [...pods.values()]);
          return ApplicationFailure.nonRetryable(
            `${model} ${version} not ready after ${Math.round(timeoutMs / 1000)}s: ${verdict.ready}/${verdict.desired} replicas available; ${verdict.detail}`,
            FailureType.DeployFailed,
          );
        },
      });
    } catch (error) {
      if (!(error instanceof WatchError)) throw error;
      const resource = error.path.endsWith('/pods') ? 'pods' : 'deployments.apps';
      throw kubeFailure(error, { verb: 'watch', resource, namespace: this.namespace });
    }
  }

  /**
   * Versions of the model that have a Deployment in the namespace, read from its labels and
   * annotations: `replicas` are the pods that exist, `readyReplicas` those that are ready. A
   * version scaled to 0 is listed with 0 replicas (its definition is kept). Sorted by deploy time.
   */
  async list(model: string): Promise<RunningVersion[]> {
    const selector = labelSelector({ ...selectorLabels(model), [KubeLabel.managedBy]: MANAGED_BY });
    const list = await kubeCall({ verb: 'list', resource: 'deployments.apps', namespace: this.namespace }, () => this.apps.listNamespacedDeployment({ namespace: this.namespace, labelSelector: selector }));
    return list.items
      .filter((d) => d.metadata?.annotations?.[KubeAnnotation.model] === model)
      .map((d) => {
        const a = d.metadata?.annotations ?? {};
        return {
          version: a[KubeAnnotation.version] ?? d.metadata?.labels?.[KubeLabel.version] ?? '',
          commit: a[KubeAnnotation.commit] ?? '',
          image: a[KubeAnnotation.image] ?? '',
          digest: a[KubeAnnotation.digest] ?? '',
          replicas: d.status?.replicas ?? 0,
          readyReplicas: d.status?.readyReplicas ?? 0,
          releaseId: a[KubeAnnotation.release] ?? '',
          deployedAt: a[KubeAnnotation.deployedAt] ?? '',
        };
      })
      .sort((x, y) => x.deployedAt.localeCompare(y.deployedAt));
  }

  /**
   * Sets the Deployment's replica count; 0 keeps the Deployment and Service but stops every pod.
   * Idempotent: nothing is written when the count is already `replicas`. Scaling a version that
   * has no Deployment to 0 is a no-op; to more than 0 throws a non-retryable VersionNotRunning.
   * A bad count throws InvalidSpec before anything is sent.
   */
  async scale(model: string, version: string, replicas: number): Promise<void> {
    const problems = replicaProblems(replicas);
    if (problems.length) throw ApplicationFailure.nonRetryable(`cannot scale ${model} ${version}: ${problems.join('; ')}`, FailureType.InvalidSpec);
    const name = workloadName(model, version);
    const deployment = await this.readDeployment(name);
    if (!deployment) {
      if (replicas === 0) return;
      throw ApplicationFailure.nonRetryable(`${model} ${version} has no Deployment in namespace ${this.namespace} to scale; deploy it first`, FailureType.VersionNotRunning);
    }
    if (deployment.spec?.replicas !== replicas) await this.setReplicas(name, replicas);
  }

  /**
   * Sets the replica counts that make a shared Service carry `weights` (replica-split.ts: the
   * weighted versions share the largest spec replica count among them; versions outside the
   * weights keep their pods while one version takes all traffic, and go to 0 while traffic is
   * split), increases first so capacity never dips. For environments whose router splits traffic
   * by pod counts; the router itself only routes. Idempotent: only counts that differ are written.
   * Throws a non-retryable VersionNotRunning when a weighted version has no Deployment.
   */
  async scaleForTraffic(model: string, weights: Record<string, number>): Promise<void> {
    const selector = labelSelector({ ...selectorLabels(model), [KubeLabel.managedBy]: MANAGED_BY });
    const list = await kubeCall({ verb: 'list', resource: 'deployments.apps', namespace: this.namespace }, () => this.apps.listNamespacedDeployment({ namespace: this.namespace, labelSelector: selector }));
    const byVersion = new Map<string, k8s.V1Deployment>();
    for (const d of list.items) {
      if (d.metadata?.annotations?.[KubeAnnotation.model] === model) byVersion.set(d.metadata.annotations[KubeAnnotation.version] ?? '', d);
    }
    const missing = Object.entries(weights).filter(([v, w]) => w > 0 && !byVersion.has(v));
    if (missing.length) {
      throw ApplicationFailure.nonRetryable(
        `cannot route traffic to ${missing.map(([v]) => v).join(', ')} of ${model}: no Deployment in namespace ${this.namespace}; deploy it first`,
        FailureType.VersionNotRunning,
      );
    }
    const versions = [...byVersion].map(([version, d]) => ({ version, replicas: d.spec?.replicas ?? 0, specReplicas: specReplicas(d) }));
    for (const change of replicaPlan(weights, versions)) await this.setReplicas(byVersion.get(change.version)!.metadata!.name!, change.to);
  }

  /**
   * Deletes the version's Service and Deployment (its ReplicaSets and pods follow through the
   * garbage collector). Objects already gone are fine, so it is idempotent. The version owns no
   * routes: a model's HTTPRoute or shared Service belongs to its traffic router.
   */
  async remove(model: string, version: string): Promise<void> {
    const name = workloadName(model, version);
    await kubeRead({ verb: 'delete', resource: 'services', name, namespace: this.namespace }, () => this.core.deleteNamespacedService({ name, namespace: this.namespace }));
    await kubeRead({ verb: 'delete', resource: 'deployments.apps', name, namespace: this.namespace }, () =>
      this.apps.deleteNamespacedDeployment({ name, namespace: this.namespace, propagationPolicy: 'Background' }),
    );
  }

  /**
   * `http://<service>.<namespace>.svc:<port>`: the version's own Service, which reaches only its
   * pods. It resolves inside the cluster (a worker running there); outside it, and on KWOK's fake
   * nodes where no pod really runs, the URL does not answer. Throws a non-retryable
   * VersionNotRunning when the version has no Deployment, no replicas, or no Service.
   */
  async endpoint(model: string, version: string): Promise<string> {
    const name = workloadName(model, version);
    const deployment = await this.readDeployment(name);
    if (!deployment || !deployment.spec?.replicas) {
      throw ApplicationFailure.nonRetryable(`${model} ${version} has no running replicas in namespace ${this.namespace}`, FailureType.VersionNotRunning);
    }
    const service = await kubeRead({ verb: 'get', resource: 'services', name, namespace: this.namespace }, () => this.core.readNamespacedService({ name, namespace: this.namespace }));
    if (!service) {
      throw ApplicationFailure.nonRetryable(`${model} ${version} has no Service in namespace ${this.namespace}; deploy it again`, FailureType.VersionNotRunning);
    }
    const port = service.spec?.ports?.[0]?.port ?? 80;
    return `http://${name}.${this.namespace}.svc:${port}`;
  }

  // ---------------------------------------------------------------- API helpers

  private readDeployment(name: string): Promise<k8s.V1Deployment | undefined> {
    return kubeRead({ verb: 'get', resource: 'deployments.apps', name, namespace: this.namespace }, () => this.apps.readNamespacedDeployment({ name, namespace: this.namespace }));
  }

  /** Replica count through a merge patch (an update, not part of the applied configuration). */
  private async setReplicas(name: string, replicas: number): Promise<void> {
    await kubeCall({ verb: 'patch', resource: 'deployments.apps', name, namespace: this.namespace }, () =>
      this.apps.patchNamespacedDeployment({ name, namespace: this.namespace, body: { spec: { replicas } }, fieldManager: this.fieldManager }, MERGE),
    );
  }

  /** Up to three latest warning events about the Deployment, its ReplicaSets and pods, as `; events: ...`. */
  private async warningEvents(name: string): Promise<string> {
    try {
      const list = await this.core.listNamespacedEvent({ namespace: this.namespace, fieldSelector: 'type=Warning' });
      const mine = list.items
        .filter((e) => e.involvedObject.name === name || e.involvedObject.name?.startsWith(`${name}-`))
        .sort((a, b) => eventTime(b) - eventTime(a))
        .slice(0, 3)
        .map((e) => `${e.involvedObject.kind} ${e.involvedObject.name}: ${e.reason}: ${e.message?.trim()}`);
      return mine.length ? `; events: ${mine.join(' | ')}` : '';
    } catch {
      return '';
    }
  }
}

/** Replica count the version was deployed with (its spec), else its current count, at least 1. */
function specReplicas(deployment: k8s.V1Deployment): number {
  const fromSpec = Number(deployment.metadata?.annotations?.[KubeAnnotation.specReplicas]);
  return Math.max(1, Number.isInteger(fromSpec) && fromSpec > 0 ? fromSpec : (deployment.spec?.replicas ?? 1));
}

function eventTime(event: k8s.CoreV1Event): number {
  const t = event.lastTimestamp ?? event.eventTime ?? event.metadata?.creationTimestamp;
  return t ? new Date(t as unknown as string).getTime() : 0;
}
