/**
 * The objects the Kubernetes target applies for one version: a Deployment and a Service, both
 * named by workloadName(model, version) and labelled so that the cluster alone tells what runs
 * (see naming/kubernetes.ts). Also checks a workload before anything is sent. Pure.
 */
import type * as k8s from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../errors';
import { KubeAnnotation, KubeLabel, MANAGED_BY, isQuantity, labelValue, selectorLabels, workloadName } from '../../naming/kubernetes';
import { imageReference } from '../../naming/image';
import { durationMs } from '../../shared/duration';
import { MAX_PORT, MAX_REPLICAS } from '../../model-spec/limits';
import type { VersionWorkload } from '../target';

/** Name of the model server's container in every pod. */
const CONTAINER_NAME = 'model';
/** Name of the container port (and the Service's target port). */
export const PORT_NAME = 'http';
/** Highest replica count the target accepts. */
/** Kubernetes' default progress deadline, used when the spec gives no readyTimeout. */
const DEFAULT_PROGRESS_DEADLINE_SECONDS = 600;

/** Extra metadata and scheduling for every pod of a target (sidecar injection, cost labels, KWOK stages in tests, a node pool). */
export interface PodMetadata {
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** node labels the pods require (environment config `target.nodeSelector`) */
  nodeSelector?: Record<string, string>;
  /** taints the pods tolerate (environment config `target.tolerations`) */
  tolerations?: k8s.V1Toleration[];
}

/** Workload spec as the target reads it: the release passes the whole spec, so readyTimeout is there at run time. */
type WorkloadSpec = VersionWorkload['spec'] & { readyTimeout?: string };

/**
 * Throws a non-retryable InvalidSpec ApplicationFailure naming the field when the workload cannot
 * be applied as it is: replicas not an integer in 0..MAX_REPLICAS, a port outside 1..MAX_PORT, resources that
 * are not Kubernetes quantities, a health path without a leading `/`, no image, an empty model or
 * version, a readyTimeout that is not a duration. Called before anything is sent to the cluster.
 */
export function validateWorkload(workload: VersionWorkload): void {
  const spec = workload.spec as WorkloadSpec;
  const problems: string[] = [];
  if (!workload.model) problems.push('model: must not be empty');
  if (!workload.version) problems.push('version: must not be empty');
  if (!workload.image) problems.push('image: must not be empty');
  if (workload.digest && !/^sha256:[0-9a-f]{64}$/.test(workload.digest)) problems.push(`digest: "${workload.digest}" is not sha256:<64 hex digits>`);
  problems.push(...replicaProblems(spec.replicas));
  if (!Number.isInteger(spec.port) || spec.port < 1 || spec.port > MAX_PORT) problems.push(`port: ${spec.port} is not a port number (1-${MAX_PORT})`);
  if (spec.resources.cpu !== undefined && !isQuantity(spec.resources.cpu)) problems.push(`resources.cpu: "${spec.resources.cpu}" is not a quantity such as 500m or 0.5`);
  if (spec.resources.memory !== undefined && !isQuantity(spec.resources.memory)) {
    problems.push(`resources.memory: "${spec.resources.memory}" is not a quantity such as 256Mi`);
  }
  if (!spec.health.path.startsWith('/')) problems.push(`health.path: "${spec.health.path}" must start with "/"`);
  for (const [field, value] of [['health.timeout', spec.health.timeout], ['readyTimeout', spec.readyTimeout]] as const) {
    if (value === undefined) continue;
    try {
      durationMs(value);
    } catch {
      problems.push(`${field}: "${value}" is not a duration such as 30s`);
    }
  }
  if (problems.length) {
    throw ApplicationFailure.nonRetryable(`cannot deploy ${workload.model} ${workload.version}: ${problems.join('; ')}`, FailureType.InvalidSpec);
  }
}

/** Problems with a replica count; empty when it is an integer in 0..MAX_REPLICAS. */
export function replicaProblems(replicas: number): string[] {
  if (!Number.isInteger(replicas) || replicas < 0 || replicas > MAX_REPLICAS) return [`replicas: ${replicas} is not a whole number from 0 to ${MAX_REPLICAS}`];
  return [];
}

/** Labels on the version's Deployment, Service and pods. */
function versionLabels(workload: Pick<VersionWorkload, 'model' | 'version' | 'commit'>): Record<string, string> {
  return {
    [KubeLabel.name]: labelValue(workload.model),
    [KubeLabel.managedBy]: MANAGED_BY,
    ...selectorLabels(workload.model, workload.version),
    [KubeLabel.commit]: labelValue(workload.commit),
  };
}

function seconds(duration: string | undefined, fallback: number): number {
  if (duration === undefined) return fallback;
  return Math.max(1, Math.ceil(durationMs(duration) / 1000));
}

/**
 * The Deployment, as tandem applies it. `spec.replicas` is left out on purpose: the replica count
 * is set through a separate update (scale), so re-applying never resets a count that scale or a
 * traffic router chose, and an autoscaler could own it.
 */
export function deploymentManifest(
  workload: VersionWorkload,
  namespace: string,
  deployedAt: string,
  pod: PodMetadata = {},
): k8s.V1Deployment {
  const spec = workload.spec as WorkloadSpec;
  const labels = versionLabels(workload);
  const resources: Record<string, string> = {};
  if (spec.resources.cpu) resources.cpu = spec.resources.cpu;
  if (spec.resources.memory) resources.memory = spec.resources.memory;
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: workloadName(workload.model, workload.version),
      namespace,
      labels,
      annotations: {
        [KubeAnnotation.model]: workload.model,
        [KubeAnnotation.version]: workload.version,
        [KubeAnnotation.commit]: workload.commit,
        [KubeAnnotation.image]: workload.image,
        [KubeAnnotation.digest]: workload.digest,
        [KubeAnnotation.release]: workload.releaseId,
        [KubeAnnotation.deployedAt]: deployedAt,
        [KubeAnnotation.specReplicas]: String(spec.replicas),
      },
    },
    spec: {
      selector: { matchLabels: selectorLabels(workload.model, workload.version) },
      progressDeadlineSeconds: seconds(spec.readyTimeout, DEFAULT_PROGRESS_DEADLINE_SECONDS),
      revisionHistoryLimit: 2,
      template: {
        metadata: {
          labels: { ...pod.labels, ...labels },
          annotations: { ...pod.annotations, [KubeAnnotation.version]: workload.version, [KubeAnnotation.digest]: workload.digest },
        },
        spec: {
          automountServiceAccountToken: false,
          ...(pod.nodeSelector && Object.keys(pod.nodeSelector).length ? { nodeSelector: pod.nodeSelector } : {}),
          ...(pod.tolerations?.length ? { tolerations: pod.tolerations } : {}),
          enableServiceLinks: false,
          containers: [
            {
              name: CONTAINER_NAME,
              image: imageReference(workload.image, workload.digest),
              ports: [{ name: PORT_NAME, containerPort: spec.port, protocol: 'TCP' }],
              env: [
                { name: 'PORT', value: String(spec.port) },
                { name: 'TANDEM_MODEL', value: workload.model },
                { name: 'TANDEM_VERSION', value: workload.version },
              ],
              readinessProbe: {
                httpGet: { path: spec.health.path, port: PORT_NAME },
                timeoutSeconds: seconds(spec.health.timeout, 5),
                periodSeconds: 5,
                failureThreshold: 3,
              },
              // A container that crashes without writing /dev/termination-log reports its last log
              // lines instead, so a failed deploy says why the model server exited.
              terminationMessagePolicy: 'FallbackToLogsOnError',
              ...(Object.keys(resources).length ? { resources: { requests: resources, limits: resources } } : {}),
            },
          ],
        },
      },
    },
  };
}

/** The version's own Service: `http://<name>.<namespace>.svc:<port>` reaches exactly this version. */
export function serviceManifest(workload: VersionWorkload, namespace: string): k8s.V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: workloadName(workload.model, workload.version),
      namespace,
      labels: versionLabels(workload),
      annotations: { [KubeAnnotation.model]: workload.model, [KubeAnnotation.version]: workload.version },
    },
    spec: {
      type: 'ClusterIP',
      selector: selectorLabels(workload.model, workload.version),
      ports: [{ name: PORT_NAME, port: workload.spec.port, targetPort: PORT_NAME, protocol: 'TCP' }],
    },
  };
}
