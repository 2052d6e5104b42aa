/**
 * TrafficRouter for clusters without a Gateway: one Service per model (`<model>`, port 80), with
 * the TrafficState kept as JSON in its annotation. A plain Service cannot weigh versions, so the
 * split is the versions' pod counts, which the Kubernetes target sets before this router runs
 * (kubernetes/replica-split.ts; the router only routes, as Flagger's `pkg/router` does). While
 * traffic is split the Service selects every pod of the model; when one version takes all of it,
 * the Service selects that version alone, so warm versions keep their pods without taking
 * requests. So `{v1: 90, v2: 10}` with 4 replicas runs 3 + 1 pods (75/25), with 10 replicas
 * 9 + 1 (90/10). Pins cannot be honoured by a plain Service: they are recorded, and a pinned
 * version is reached at its own Service (`http://<model>-<version>.<namespace>.svc:<port>`),
 * not by header.
 */
import * as k8s from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../errors';
import { KubeAnnotation, KubeLabel, MANAGED_BY, labelSelector, labelValue, modelObjectName, selectorLabels } from '../../naming/kubernetes';
import { type KubeApis, kubeApis, SSA } from '../kubernetes/client';
import { type KubeFailureTypes, kubeCall, kubeRead } from '../kubernetes/errors';
import { PORT_NAME } from '../kubernetes/manifests';
import { soleVersion } from '../kubernetes/replica-split';
import type { TrafficRouter } from '../target';
import type { TrafficState } from '../types';
import { validateTrafficState } from './validate';

/** Port of the model's shared Service. */
const MODEL_SERVICE_PORT = 80;
/** A refused or conflicting Service is a traffic problem, not a failed deploy. */
const TRAFFIC_FAILURES: KubeFailureTypes = { conflict: FailureType.InvalidTraffic, invalid: FailureType.InvalidTraffic };

export interface ReplicaRatioRouterOptions {
  namespace: string;
  fieldManager?: string;
}

/**
 * Routes a model's traffic through one shared Service; the replica counts that make its split are
 * the target's (`splitsByReplicas`). Idempotent: the Service is applied with server-side apply.
 * Throws non-retryable InvalidTraffic for weights it refuses, VersionNotRunning when a weighted
 * version has no Deployment, PermissionDenied on 403; plain retryable Errors when the API server
 * is unreachable.
 */
export class ReplicaRatioRouter implements TrafficRouter {
  readonly splitsByReplicas = true;
  constructor(kubeConfig: k8s.KubeConfig, private readonly options: ReplicaRatioRouterOptions, private readonly api: KubeApis = kubeApis(kubeConfig)) {}

  /**
   * Applies the shared Service with the state in its annotation, selecting the one version that
   * takes all traffic, else the whole model. Checks the state first and changes nothing when it is
   * invalid or a weighted version has no Deployment. Changes no replica count.
   */
  async setState(model: string, state: TrafficState): Promise<void> {
    // kube-proxy balances connections over a Service's pods: it has no way to copy a request.
    validateTrafficState(model, state, { mirrors: false });
    const namespace = this.options.namespace;
    const selector = labelSelector({ ...selectorLabels(model), [KubeLabel.managedBy]: MANAGED_BY });
    const list = await kubeCall(
      { verb: 'list', resource: 'deployments.apps', namespace },
      () => this.api.apps.listNamespacedDeployment({ namespace, labelSelector: selector }),
      TRAFFIC_FAILURES,
    );
    const deployed = new Set(list.items.filter((d) => d.metadata?.annotations?.[KubeAnnotation.model] === model).map((d) => d.metadata!.annotations![KubeAnnotation.version]));
    const missing = Object.entries(state.weights).filter(([v, w]) => w > 0 && !deployed.has(v));
    if (missing.length) {
      throw ApplicationFailure.nonRetryable(
        `cannot route traffic to ${missing.map(([v]) => v).join(', ')} of ${model}: no Deployment in namespace ${namespace}; deploy it first`,
        FailureType.VersionNotRunning,
      );
    }

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
        selector: selectorLabels(model, soleVersion(state.weights)),
        ports: [{ name: PORT_NAME, port: MODEL_SERVICE_PORT, targetPort: PORT_NAME, protocol: 'TCP' }],
      },
    };
    await kubeCall(
      { verb: 'patch', resource: 'services', name, namespace },
      () => this.api.core.patchNamespacedService({ name, namespace, body: service, fieldManager: this.options.fieldManager ?? MANAGED_BY }, SSA),
      TRAFFIC_FAILURES,
    );
  }

  /** The state recorded on the model's Service; empty weights when there is none. */
  async getState(model: string): Promise<TrafficState> {
    const name = modelObjectName(model);
    const service = await kubeRead({ verb: 'get', resource: 'services', name, namespace: this.options.namespace }, () =>
      this.api.core.readNamespacedService({ name, namespace: this.options.namespace }),
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
      this.api.core.deleteNamespacedService({ name, namespace: this.options.namespace }),
    );
  }
}
