/**
 * TrafficRouter for clusters without a Gateway: one Service per model (`<model>`, port 80) whose
 * selector is the model label only, so it spreads requests over the pods of every version, and
 * the weights are approximated by the versions' replica counts. State (weights, pins, stable) is
 * kept as JSON in an annotation of that Service.
 *
 * Rounding: the total is the largest spec.replicas among the weighted versions (as deployed,
 * from their tandem.dev/spec-replicas annotation). Each version with a weight above 0 gets at
 * least one replica; the rest of the total goes by largest remainder of weight × total / 100.
 * Versions at weight 0, and versions of the model not in the weights, are scaled to 0: with one
 * shared Service, any pod that runs receives traffic. So `{v1: 90, v2: 10}` with 4 replicas runs
 * 3 + 1 pods (75/25), with 10 replicas 9 + 1 (90/10). Pins cannot be honoured by a plain Service:
 * they are recorded, and a pinned version is reached at its own Service
 * (`http://<model>-<version>.<namespace>.svc:<port>`), not by header.
 */
import * as k8s from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../errors';
import { KubeAnnotation, KubeLabel, MANAGED_BY, labelSelector, labelValue, modelObjectName, selectorLabels } from '../../naming/kubernetes';
import { MERGE, SSA } from '../kubernetes/client';
import { type KubeFailureTypes, kubeCall, kubeRead } from '../kubernetes/errors';
import { PORT_NAME } from '../kubernetes/manifests';
import type { TrafficRouter } from '../target';
import type { TrafficState } from '../types';
import { validateTrafficState } from './validate';

/** Port of the model's shared Service. */
const MODEL_SERVICE_PORT = 80;
/** A refused or conflicting Service or scale is a traffic problem, not a failed deploy. */
const TRAFFIC_FAILURES: KubeFailureTypes = { conflict: FailureType.InvalidTraffic, invalid: FailureType.InvalidTraffic };

export interface ReplicaRatioRouterOptions {
  namespace: string;
  fieldManager?: string;
}

/**
 * Replica counts that approximate `weights` (percent) with `total` replicas: largest remainder,
 * at least one replica for every weight above 0, zero for weight 0. Pure.
 */
export function replicaSplit(weights: Record<string, number>, total: number): Record<string, number> {
  const entries = Object.entries(weights);
  const positive = entries.filter(([, w]) => w > 0);
  const n = Math.max(total, positive.length);
  const counts: Record<string, number> = {};
  const remainders: Array<[string, number]> = [];
  let assigned = 0;
  for (const [version, weight] of entries) {
    const exact = (weight * n) / 100;
    counts[version] = weight > 0 ? Math.max(1, Math.floor(exact)) : 0;
    assigned += counts[version]!;
    if (weight > 0) remainders.push([version, exact - Math.floor(exact)]);
  }
  remainders.sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  for (let i = 0; assigned < n && remainders.length; i = (i + 1) % remainders.length) {
    counts[remainders[i]![0]]! += 1;
    assigned += 1;
  }
  return counts;
}

/**
 * Approximates a model's traffic split by replica counts behind one shared Service. Idempotent:
 * replica counts and the Service are written only where they differ. Throws non-retryable
 * InvalidTraffic for weights it refuses, VersionNotRunning when a weighted version has no
 * Deployment, PermissionDenied on 403; plain retryable Errors when the API server is unreachable.
 */
export class ReplicaRatioRouter implements TrafficRouter {
  private readonly apps: k8s.AppsV1Api;
  private readonly core: k8s.CoreV1Api;
  private readonly fieldManager: string;

  constructor(
    kubeConfig: k8s.KubeConfig,
    private readonly options: ReplicaRatioRouterOptions,
  ) {
    this.apps = kubeConfig.makeApiClient(k8s.AppsV1Api);
    this.core = kubeConfig.makeApiClient(k8s.CoreV1Api);
    this.fieldManager = options.fieldManager ?? MANAGED_BY;
  }

  /**
   * Scales the model's versions to the split of the weights (up first, then down, so capacity
   * never dips), then applies the shared Service with the state in its annotation. Checks the
   * state first and changes nothing when it is invalid.
   */
  async setState(model: string, state: TrafficState): Promise<void> {
    validateTrafficState(model, state);
    const namespace = this.options.namespace;
    const selector = labelSelector({ ...selectorLabels(model), [KubeLabel.managedBy]: MANAGED_BY });
    const list = await kubeCall(
      { verb: 'list', resource: 'deployments.apps', namespace },
      () => this.apps.listNamespacedDeployment({ namespace, labelSelector: selector }),
      TRAFFIC_FAILURES,
    );
    const byVersion = new Map<string, k8s.V1Deployment>();
    for (const d of list.items) {
      if (d.metadata?.annotations?.[KubeAnnotation.model] !== model) continue;
      byVersion.set(d.metadata.annotations[KubeAnnotation.version] ?? '', d);
    }
    const missing = Object.entries(state.weights).filter(([v, w]) => w > 0 && !byVersion.has(v));
    if (missing.length) {
      throw ApplicationFailure.nonRetryable(
        `cannot route traffic to ${missing.map(([v]) => v).join(', ')} of ${model}: no Deployment in namespace ${namespace}; deploy it first`,
        FailureType.VersionNotRunning,
      );
    }
    const total = Math.max(
      1,
      ...Object.entries(state.weights)
        .filter(([, w]) => w > 0)
        .map(([v]) => specReplicas(byVersion.get(v)!)),
    );
    // No weights at all: leave every replica count as it is.
    const wanted = Object.keys(state.weights).length > 0 ? replicaSplit(state.weights, total) : undefined;
    const changes = [...byVersion].map(([version, d]) => ({
      name: d.metadata!.name!,
      from: d.spec?.replicas ?? 0,
      to: wanted ? (wanted[version] ?? 0) : (d.spec?.replicas ?? 0),
    }));
    for (const change of changes.filter((c) => c.to > c.from)) await this.setReplicas(change.name, change.to);
    for (const change of changes.filter((c) => c.to < c.from)) await this.setReplicas(change.name, change.to);

    const name = modelObjectName(model);
    const traffic: TrafficState = { weights: state.weights, pinned: state.pinned };
    if (state.stable !== undefined) traffic.stable = state.stable;
    const service: k8s.V1Service = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        name,
        namespace,
        labels: { [KubeLabel.name]: labelValue(model), [KubeLabel.managedBy]: MANAGED_BY, ...selectorLabels(model) },
        annotations: { [KubeAnnotation.model]: model, [KubeAnnotation.traffic]: JSON.stringify(traffic) },
      },
      spec: {
        type: 'ClusterIP',
        selector: selectorLabels(model),
        ports: [{ name: PORT_NAME, port: MODEL_SERVICE_PORT, targetPort: PORT_NAME, protocol: 'TCP' }],
      },
    };
    await kubeCall(
      { verb: 'patch', resource: 'services', name, namespace },
      () => this.core.patchNamespacedService({ name, namespace, body: service, fieldManager: this.fieldManager }, SSA),
      TRAFFIC_FAILURES,
    );
  }

  /** The state recorded on the model's Service; empty weights when there is none. */
  async getState(model: string): Promise<TrafficState> {
    const name = modelObjectName(model);
    const service = await kubeRead({ verb: 'get', resource: 'services', name, namespace: this.options.namespace }, () =>
      this.core.readNamespacedService({ name, namespace: this.options.namespace }),
    );
    if (!service) return { weights: {}, pinned: [] };
    try {
      const state = JSON.parse(service.metadata?.annotations?.[KubeAnnotation.traffic] ?? '') as TrafficState;
      return { weights: state.weights ?? {}, pinned: state.pinned ?? [], ...(state.stable !== undefined ? { stable: state.stable } : {}) };
    } catch {
      return { weights: {}, pinned: [] };
    }
  }

  /** Deletes the model's shared Service (replica counts stay as they are); a missing Service is fine. */
  async remove(model: string): Promise<void> {
    const name = modelObjectName(model);
    await kubeRead({ verb: 'delete', resource: 'services', name, namespace: this.options.namespace }, () =>
      this.core.deleteNamespacedService({ name, namespace: this.options.namespace }),
    );
  }

  private async setReplicas(name: string, replicas: number): Promise<void> {
    await kubeCall(
      { verb: 'patch', resource: 'deployments.apps', name, namespace: this.options.namespace },
      () => this.apps.patchNamespacedDeployment({ name, namespace: this.options.namespace, body: { spec: { replicas } }, fieldManager: this.fieldManager }, MERGE),
      TRAFFIC_FAILURES,
    );
  }
}

/** Replica count the version was deployed with (its spec), else its current count, at least 1. */
function specReplicas(deployment: k8s.V1Deployment): number {
  const fromSpec = Number(deployment.metadata?.annotations?.[KubeAnnotation.specReplicas]);
  return Math.max(1, Number.isInteger(fromSpec) && fromSpec > 0 ? fromSpec : (deployment.spec?.replicas ?? 1));
}
