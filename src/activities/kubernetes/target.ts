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
import { KubeAnnotation, KubeLabel, MANAGED_BY, labelSelector, selectorLabels, versionNamespace, workloadName } from '../../naming/kubernetes';
import type { ProgressFn, Target, VersionWorkload } from '../target';
import type { DeployedVersion, RunningVersion } from '../types';
import { MERGE, SSA } from './client';
import { kubeCall, kubeFailure, kubeRead } from './errors';
import { PORT_NAME, type PodMetadata, deploymentManifest, replicaProblems, serviceManifest, validateWorkload } from './manifests';
import { replicaPlan } from './replica-split';
import { rolloutVerdict } from './rollout';
import {
  DEFAULT_VERSION_ROLE,
  type Isolation,
  REFERENCE_GRANT_API,
  isVersionNamespaceOf,
  limitRangeManifest,
  modelNamespaceSelector,
  namespaceManifest,
  referenceGrantManifest,
  resourceQuotaManifest,
  roleBindingManifest,
  subjectOf,
} from './version-namespace';
import { type WatchEvent, type WatchSpec, WatchError, watchUntil } from './watch';

export interface KubernetesTargetOptions {
  /** namespace of the environment; with `isolation: shared` every version of every model lives here */
  namespace: string;
  /**
   * `shared` (default): every version in `namespace`. `namespace`: each version in a namespace of
   * its own (version-namespace.ts), created on apply with a ResourceQuota, a LimitRange, a
   * ReferenceGrant for HTTPRoutes of `namespace`, and a RoleBinding of the worker to `versionRole`;
   * deleted by remove.
   */
  isolation?: Isolation;
  /** ClusterRole of namespaced rules bound in each version namespace (deploy/rbac-namespace-isolation.yaml); default `tandem-worker-version` */
  versionRole?: string;
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
  private readonly rbac: k8s.RbacAuthorizationV1Api;
  private readonly custom: k8s.CustomObjectsApi;
  /** who the kubeconfig authenticates as, the subject of the RoleBinding in version namespaces; asked once */
  private identity?: Promise<k8s.RbacV1Subject>;

  constructor(
    private readonly kubeConfig: k8s.KubeConfig,
    private readonly options: KubernetesTargetOptions,
  ) {
    this.apps = kubeConfig.makeApiClient(k8s.AppsV1Api);
    this.core = kubeConfig.makeApiClient(k8s.CoreV1Api);
    this.namespace = options.namespace;
    this.fieldManager = options.fieldManager ?? MANAGED_BY;
    this.rbac = kubeConfig.makeApiClient(k8s.RbacAuthorizationV1Api);
    this.custom = kubeConfig.makeApiClient(k8s.CustomObjectsApi);
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
    const namespace = this.options.isolation === 'namespace' ? await this.prepareVersionNamespace(workload) : this.namespace;
    const existing = await this.readDeployment(name, namespace);
    if (existing && existing.metadata?.labels?.[KubeLabel.managedBy] !== MANAGED_BY) {
      throw ApplicationFailure.nonRetryable(
        `Deployment ${namespace}/${name} exists and was not created by tandem; rename or remove it before deploying ${workload.model} ${workload.version}`,
        FailureType.DeployFailed,
      );
    }
    const deployedAt = existing?.metadata?.annotations?.[KubeAnnotation.deployedAt] ?? new Date().toISOString();
    const manifest = deploymentManifest(workload, namespace, deployedAt, this.options.pod);
    const applied = await kubeCall({ verb: 'patch', resource: 'deployments.apps', name, namespace }, () =>
      this.apps.patchNamespacedDeployment({ name, namespace, body: manifest, fieldManager: this.fieldManager, force: this.options.force }, SSA),
    );
    const service = serviceManifest(workload, namespace);
    await kubeCall({ verb: 'patch', resource: 'services', name, namespace }, () =>
      this.core.patchNamespacedService({ name, namespace, body: service, fieldManager: this.fieldManager, force: this.options.force }, SSA),
    );
    if (applied.spec?.replicas !== workload.spec.replicas) await this.setReplicas(name, workload.spec.replicas, namespace);
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
    const namespace = this.namespaceOf(model, version);
    const deployment = await this.readDeployment(name, namespace);
    if (!deployment) {
      throw ApplicationFailure.nonRetryable(`${model} ${version} has no Deployment in namespace ${namespace}; deploy it first`, FailureType.DeployFailed);
    }
    const podSelector = labelSelector(selectorLabels(model, version));
    const listPods = () => this.core.listNamespacedPod({ namespace, labelSelector: podSelector });
    const podList = await kubeCall({ verb: 'list', resource: 'pods', namespace }, listPods);
    const pods = new Map<string, k8s.V1Pod>(podList.items.map((p) => [p.metadata!.name!, p]));
    let current: k8s.V1Deployment = deployment;

    const judge = async (): Promise<DeployedVersion | undefined> => {
      const verdict = rolloutVerdict(current, [...pods.values()]);
      onProgress(verdict.ready, verdict.desired, verdict.detail);
      if (verdict.done) return { version, replicas: verdict.desired, readyReplicas: verdict.ready };
      if (verdict.failure) {
        const events = verdict.stuck ? await this.warningEvents(name, namespace) : '';
        throw ApplicationFailure.nonRetryable(`${model} ${version} cannot become ready: ${verdict.failure}${events}`, FailureType.DeployFailed);
      }
      return undefined;
    };
    const first = await judge();
    if (first) return first;

    const byName = `metadata.name=${name}`;
    const watches: WatchSpec[] = [
      {
        path: `/apis/apps/v1/namespaces/${namespace}/deployments`,
        fieldSelector: byName,
        list: () => this.apps.listNamespacedDeployment({ namespace, fieldSelector: byName }),
        onEvent: (event: WatchEvent) => {
          if (event.type === 'DELETED') {
            throw ApplicationFailure.nonRetryable(`${model} ${version}: its Deployment was deleted while waiting for it to become ready`, FailureType.DeployFailed);
          }
          current = event.object as k8s.V1Deployment;
        },
      },
      {
        path: `/api/v1/namespaces/${namespace}/pods`,
        labelSelector: podSelector,
        list: listPods,
        onEvent: (event: WatchEvent) => {
          const pod = event.object as k8s.V1Pod;
          if (event.type === 'DELETED') pods.delete(pod.metadata!.name!);
          else pods.set(pod.metadata!.name!, pod);
        },
      },
    ];
    let timedOut: ApplicationFailure | undefined;
    try {
      return await watchUntil(this.kubeConfig, watches, judge, {
        timeoutMs,
        signal,
        tickMs: this.options.progressEveryMs ?? 5000,
        onTimeout: () => {
          const verdict = rolloutVerdict(current, [...pods.values()]);
          const counts = `${verdict.ready}/${verdict.desired} replicas available`;
          timedOut = ApplicationFailure.nonRetryable(
            `${model} ${version} not ready after ${Math.round(timeoutMs / 1000)}s: ${verdict.detail.startsWith(counts) ? verdict.detail : `${counts}; ${verdict.detail}`}`,
            FailureType.DeployFailed,
          );
          return timedOut;
        },
      });
    } catch (error) {
      // Why the pods are not ready is in the kubelet's events (e.g. "Unhealthy: Readiness probe failed: HTTP probe failed with statuscode: 503").
      if (timedOut && error === timedOut) throw ApplicationFailure.nonRetryable(`${timedOut.message}${await this.warningEvents(name, namespace)}`, FailureType.DeployFailed);
      if (!(error instanceof WatchError)) throw error;
      const resource = error.path.endsWith('/pods') ? 'pods' : 'deployments.apps';
      throw kubeFailure(error, { verb: 'watch', resource, namespace });
    }
  }

  /**
   * Versions of the model that have a Deployment in the namespace, read from its labels and
   * annotations: `replicas` are the pods that exist, `readyReplicas` those that are ready. A
   * version scaled to 0 is listed with 0 replicas (its definition is kept). Sorted by deploy time.
   */
  async list(model: string): Promise<RunningVersion[]> {
    const selector = labelSelector({ ...selectorLabels(model), [KubeLabel.managedBy]: MANAGED_BY });
    const items =
      this.options.isolation === 'namespace'
        ? await this.isolatedDeployments(model)
        : (await kubeCall({ verb: 'list', resource: 'deployments.apps', namespace: this.namespace }, () => this.apps.listNamespacedDeployment({ namespace: this.namespace, labelSelector: selector }))).items;
    return items
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
    const namespace = this.namespaceOf(model, version);
    const deployment = await this.readDeployment(name, namespace);
    if (!deployment) {
      if (replicas === 0) return;
      throw ApplicationFailure.nonRetryable(`${model} ${version} has no Deployment in namespace ${namespace} to scale; deploy it first`, FailureType.VersionNotRunning);
    }
    if (deployment.spec?.replicas !== replicas) await this.setReplicas(name, replicas, namespace);
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
    if (this.options.isolation === 'namespace') {
      // Refused at config load too (schema.ts): a Service only selects pods of its own namespace.
      throw ApplicationFailure.nonRetryable(`cannot split ${model}'s traffic by replica counts: its versions run in namespaces of their own`, FailureType.InvalidSpec);
    }
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
    if (this.options.isolation === 'namespace') return this.removeVersionNamespace(model, version);
    const name = workloadName(model, version);
    await kubeRead({ verb: 'delete', resource: 'services', name, namespace: this.namespace }, () => this.core.deleteNamespacedService({ name, namespace: this.namespace }));
    await kubeRead({ verb: 'delete', resource: 'deployments.apps', name, namespace: this.namespace }, () =>
      this.apps.deleteNamespacedDeployment({ name, namespace: this.namespace, propagationPolicy: 'Background' }),
    );
  }

  /**
   * Where the version answers, bypassing traffic routing: a ready pod's address (see
   * readyPodAddress), else its own Service, `http://<clusterIP>:<port>` when it has a cluster IP
   * (answers inside the cluster and on any node running kube-proxy), else
   * `http://<service>.<namespace>.svc:<port>`. On KWOK's fake nodes no pod really runs, so none
   * answers. Throws a non-retryable VersionNotRunning when the version has no Deployment, no
   * replicas, or no Service.
   */
  async endpoint(model: string, version: string): Promise<string> {
    const name = workloadName(model, version);
    const namespace = this.namespaceOf(model, version);
    const deployment = await this.readDeployment(name, namespace);
    if (!deployment || !deployment.spec?.replicas) {
      throw ApplicationFailure.nonRetryable(`${model} ${version} has no running replicas in namespace ${namespace}`, FailureType.VersionNotRunning);
    }
    const service = await kubeRead({ verb: 'get', resource: 'services', name, namespace }, () => this.core.readNamespacedService({ name, namespace }));
    if (!service) {
      throw ApplicationFailure.nonRetryable(`${model} ${version} has no Service in namespace ${namespace}; deploy it again`, FailureType.VersionNotRunning);
    }
    const pod = await this.readyPodAddress(model, version, namespace);
    if (pod) return pod;
    const port = service.spec?.ports?.[0]?.port ?? 80;
    const clusterIP = service.spec?.clusterIP;
    if (clusterIP && clusterIP !== 'None') return `http://${hostOf(clusterIP)}:${port}`;
    return `http://${name}.${namespace}.svc:${port}`;
  }

  /**
   * `http://<pod IP>:<model port>` of a ready pod of the version, if any. A pod address answers as
   * soon as the pod is ready, wherever the worker runs on the pod network (in the cluster, or on a
   * node); a Service address only once kube-proxy has caught up with the Service, seconds later on
   * a loaded node, and meanwhile a request to it may leave the node and be answered by whatever is
   * on the default route.
   */
  private async readyPodAddress(model: string, version: string, namespace: string): Promise<string | undefined> {
    const pods = await kubeRead({ verb: 'list', resource: 'pods', namespace }, () =>
      this.core.listNamespacedPod({ namespace, labelSelector: labelSelector(selectorLabels(model, version)) }),
    );
    for (const pod of pods?.items ?? []) {
      const ready = pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
      const port = pod.spec?.containers.flatMap((c) => c.ports ?? []).find((p) => p.name === PORT_NAME)?.containerPort;
      if (ready && pod.status?.podIP && port && !pod.metadata?.deletionTimestamp) return `http://${hostOf(pod.status.podIP)}:${port}`;
    }
    return undefined;
  }

  // ---------------------------------------------------------------- version namespaces (isolation: namespace)

  /** Namespace the version's Deployment and Service live in: the environment's, or its own. */
  private namespaceOf(model: string, version: string): string {
    return this.options.isolation === 'namespace' ? versionNamespace(this.namespace, model, version) : this.namespace;
  }

  /**
   * Makes the version's namespace ready for its Deployment and Service: creates it (labelled for
   * list and remove) unless it exists, binds the worker to the namespaced ClusterRole there, and
   * applies the ResourceQuota, LimitRange and ReferenceGrant. Returns the namespace. Throws a
   * non-retryable DeployFailed when a namespace of that name was not made by tandem for this
   * version; a plain retryable Error while it is still being deleted (a retired version coming back).
   */
  private async prepareVersionNamespace(workload: VersionWorkload): Promise<string> {
    const { model, version } = workload;
    const namespace = versionNamespace(this.namespace, model, version);
    const call = { resource: 'namespaces', name: namespace, namespace } as const;
    let existing = await kubeRead({ verb: 'get', ...call }, () => this.core.readNamespace({ name: namespace }));
    if (!existing) {
      try {
        await this.core.createNamespace({ body: namespaceManifest(namespace, this.namespace, model, version) });
      } catch (error) {
        if (statusOf(error) !== 409) throw kubeFailure(error, { verb: 'create', ...call });
      }
      existing = await kubeCall({ verb: 'get', ...call }, () => this.core.readNamespace({ name: namespace }));
    }
    if (!isVersionNamespaceOf(existing, model, version)) {
      throw ApplicationFailure.nonRetryable(
        `namespace ${namespace} exists and was not created by tandem for ${model} ${version}; remove it before deploying ${model} ${version}`,
        FailureType.DeployFailed,
      );
    }
    if (existing.metadata?.deletionTimestamp) throw new Error(`namespace ${namespace} of ${model} ${version} is still being deleted (the version was retired); retrying`);

    const binding = roleBindingManifest(namespace, this.options.versionRole ?? DEFAULT_VERSION_ROLE, await this.whoAmI());
    let bound = false;
    try {
      await this.rbac.createNamespacedRoleBinding({ namespace, body: binding });
      bound = true;
    } catch (error) {
      if (statusOf(error) !== 409) throw kubeFailure(error, { verb: 'create', resource: 'rolebindings.rbac.authorization.k8s.io', name: binding.metadata!.name, namespace });
    }
    const ssa = { fieldManager: this.fieldManager, force: this.options.force };
    const quota = resourceQuotaManifest(namespace, workload.spec);
    // A new RoleBinding reaches the API server's authorizer within moments: retry a refused first write briefly.
    await retryForbidden(bound ? 10_000 : 0, () =>
      kubeCall({ verb: 'patch', resource: 'resourcequotas', name: quota.metadata!.name, namespace }, () =>
        this.core.patchNamespacedResourceQuota({ name: quota.metadata!.name!, namespace, body: quota, ...ssa }, SSA),
      ),
    );
    const limits = limitRangeManifest(namespace, workload.spec.resources);
    await kubeCall({ verb: 'patch', resource: 'limitranges', name: limits.metadata!.name, namespace }, () =>
      this.core.patchNamespacedLimitRange({ name: limits.metadata!.name!, namespace, body: limits, ...ssa }, SSA),
    );
    const grant = referenceGrantManifest(namespace, this.namespace, model, version);
    const { group, version: apiVersion, plural } = REFERENCE_GRANT_API;
    await kubeCall({ verb: 'patch', resource: `${plural}.${group}`, name: grant.metadata!.name, namespace }, () =>
      this.custom.patchNamespacedCustomObject({ group, version: apiVersion, plural, namespace, name: grant.metadata!.name!, body: grant, ...ssa }, SSA),
    );
    return namespace;
  }

  /** The RBAC subject the kubeconfig authenticates as (SelfSubjectReview, allowed to every authenticated user). */
  private whoAmI(): Promise<k8s.RbacV1Subject> {
    this.identity ??= kubeCall({ verb: 'create', resource: 'selfsubjectreviews.authentication.k8s.io', namespace: '' }, () =>
      this.kubeConfig.makeApiClient(k8s.AuthenticationV1Api).createSelfSubjectReview({ body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' } }),
    ).then((review) => subjectOf(review.status?.userInfo?.username ?? ''));
    this.identity.catch(() => (this.identity = undefined));
    return this.identity;
  }

  /** Deployments of the model in its version namespaces (found by label; namespaces being deleted are retired versions). */
  private async isolatedDeployments(model: string): Promise<k8s.V1Deployment[]> {
    const selector = labelSelector(modelNamespaceSelector(this.namespace, model));
    const namespaces = await kubeCall({ verb: 'list', resource: 'namespaces', namespace: '' }, () => this.core.listNamespace({ labelSelector: selector }));
    const deployments: k8s.V1Deployment[] = [];
    for (const ns of namespaces.items) {
      const version = ns.metadata?.annotations?.[KubeAnnotation.version];
      if (ns.metadata?.deletionTimestamp || version === undefined || !isVersionNamespaceOf(ns, model, version)) continue;
      const deployment = await this.readDeployment(workloadName(model, version), ns.metadata!.name!);
      if (deployment) deployments.push(deployment);
    }
    return deployments;
  }

  /**
   * Retires a version by deleting its namespace; the namespace controller deletes what is in it.
   * Idempotent: a namespace already gone or already terminating is fine. Refuses (non-retryable
   * DeployFailed) to delete a namespace of that name that tandem did not create for this version.
   */
  private async removeVersionNamespace(model: string, version: string): Promise<void> {
    const name = versionNamespace(this.namespace, model, version);
    const call = { resource: 'namespaces', name, namespace: name } as const;
    const existing = await kubeRead({ verb: 'get', ...call }, () => this.core.readNamespace({ name }));
    if (!existing || existing.metadata?.deletionTimestamp) return;
    if (!isVersionNamespaceOf(existing, model, version)) {
      throw ApplicationFailure.nonRetryable(`namespace ${name} was not created by tandem for ${model} ${version}; not deleting it`, FailureType.DeployFailed);
    }
    try {
      await this.core.deleteNamespace({ name, propagationPolicy: 'Background' });
    } catch (error) {
      // 404: gone meanwhile; 409: already being deleted ("the system is ensuring all content is removed").
      if (statusOf(error) !== 404 && statusOf(error) !== 409) throw kubeFailure(error, { verb: 'delete', ...call });
    }
  }

  // ---------------------------------------------------------------- API helpers

  private async readDeployment(name: string, namespace = this.namespace): Promise<k8s.V1Deployment | undefined> {
    if (namespace !== this.namespace && !(await this.liveNamespace(namespace))) return undefined;
    return kubeRead({ verb: 'get', resource: 'deployments.apps', name, namespace }, () => this.apps.readNamespacedDeployment({ name, namespace }));
  }

  /**
   * True when a version namespace exists and is not being deleted. Asked before reading inside it:
   * the worker's rights there come from the RoleBinding in it, so a version never deployed (or
   * retired) would answer 403, not 404.
   */
  private async liveNamespace(name: string): Promise<boolean> {
    const namespace = await kubeRead({ verb: 'get', resource: 'namespaces', name, namespace: name }, () => this.core.readNamespace({ name }));
    return namespace !== undefined && !namespace.metadata?.deletionTimestamp;
  }

  /** Replica count through a merge patch (an update, not part of the applied configuration). */
  private async setReplicas(name: string, replicas: number, namespace = this.namespace): Promise<void> {
    await kubeCall({ verb: 'patch', resource: 'deployments.apps', name, namespace }, () =>
      this.apps.patchNamespacedDeployment({ name, namespace, body: { spec: { replicas } }, fieldManager: this.fieldManager }, MERGE),
    );
  }

  /** Up to three latest warning events about the Deployment, its ReplicaSets and pods, as `; events: ...`. */
  private async warningEvents(name: string, namespace: string): Promise<string> {
    try {
      const list = await this.core.listNamespacedEvent({ namespace, fieldSelector: 'type=Warning' });
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

/** HTTP status of a client-node ApiException, if the server answered. */
function statusOf(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** Runs `fn`, retrying every 250 ms for up to `ms` while it fails with PermissionDenied. */
async function retryForbidden<T>(ms: number, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (error) {
      if (!(error instanceof ApplicationFailure && error.type === FailureType.PermissionDenied) || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250));
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

/** An IP address as the host part of a URL (IPv6 in brackets). */
function hostOf(ip: string): string {
  return ip.includes(':') ? `[${ip}]` : ip;
}
