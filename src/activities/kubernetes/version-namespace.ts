/**
 * `isolation: namespace`: each version of a model runs in a namespace of its own
 * (naming/kubernetes.ts versionNamespace), which tandem creates on apply and deletes when the
 * version is retired. This file holds the objects that go with such a namespace, all pure:
 *   - the Namespace, labelled managed-by / model / version / environment namespace so that tandem
 *     finds its versions by label and never deletes a namespace it did not create;
 *   - a RoleBinding of the worker to the ClusterRole of namespaced rules (deploy/rbac-namespace-isolation.yaml),
 *     so the worker's rights in version namespaces exist only where tandem created one;
 *   - a ResourceQuota and a LimitRange derived from the spec's `resources` and `replicas`;
 *   - a ReferenceGrant that lets the model's HTTPRoute in the environment namespace send traffic
 *     to the version's Service.
 */
import type * as k8s from '@kubernetes/client-node';
import {
  ENVIRONMENT_NAMESPACE_LABEL,
  KubeAnnotation,
  KubeLabel,
  MANAGED_BY,
  labelValue,
  selectorLabels,
  workloadName,
} from '../../naming/kubernetes';
import type { VersionWorkload } from '../target';

/** Where an environment's versions run: all in its namespace (`shared`), or each in its own (`namespace`). */
export type Isolation = 'shared' | 'namespace';

/** Name of the ResourceQuota, LimitRange, RoleBinding and ReferenceGrant in every version namespace. */
export const VERSION_NAMESPACE_OBJECT = 'tandem-version';
/** The ClusterRole of namespaced rules the worker binds itself to in each version namespace. */
export const DEFAULT_VERSION_ROLE = 'tandem-worker-version';
export const REFERENCE_GRANT_API = { group: 'gateway.networking.k8s.io', version: 'v1beta1', plural: 'referencegrants' } as const;

type Resources = VersionWorkload['spec']['resources'];

/** Labels of the version namespace: what tandem selects on (list) and checks before deleting (remove). */
export function versionNamespaceLabels(environmentNamespace: string, model: string, version: string): Record<string, string> {
  return {
    [KubeLabel.name]: labelValue(model),
    [KubeLabel.managedBy]: MANAGED_BY,
    ...selectorLabels(model, version),
    [ENVIRONMENT_NAMESPACE_LABEL]: environmentNamespace,
  };
}

/** Selects every version namespace of a model in one environment. */
export function modelNamespaceSelector(environmentNamespace: string, model: string): Record<string, string> {
  return { [KubeLabel.managedBy]: MANAGED_BY, ...selectorLabels(model), [ENVIRONMENT_NAMESPACE_LABEL]: environmentNamespace };
}

/**
 * The Namespace of one version. Pod Security `baseline` is enforced: tandem's pods need nothing it
 * forbids, and nobody who can create pods there gets a privileged one.
 */
export function namespaceManifest(name: string, environmentNamespace: string, model: string, version: string): k8s.V1Namespace {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name,
      labels: { ...versionNamespaceLabels(environmentNamespace, model, version), 'pod-security.kubernetes.io/enforce': 'baseline' },
      annotations: { [KubeAnnotation.model]: model, [KubeAnnotation.version]: version },
    },
  };
}

/** True when `namespace` is the version namespace tandem made for exactly this model and version. */
export function isVersionNamespaceOf(namespace: k8s.V1Namespace, model: string, version: string): boolean {
  const { labels = {}, annotations = {} } = namespace.metadata ?? {};
  return labels[KubeLabel.managedBy] === MANAGED_BY && annotations[KubeAnnotation.model] === model && annotations[KubeAnnotation.version] === version;
}

/**
 * RBAC subject of the user a kubeconfig authenticates as (from a SelfSubjectReview):
 * `system:serviceaccount:<ns>:<name>` is that ServiceAccount, anything else a User.
 */
export function subjectOf(username: string): k8s.RbacV1Subject {
  const sa = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(username);
  if (sa) return { kind: 'ServiceAccount', namespace: sa[1]!, name: sa[2]! };
  return { kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: username };
}

/** Binds `subject` to ClusterRole `role` inside the version namespace only. */
export function roleBindingManifest(namespace: string, role: string, subject: k8s.RbacV1Subject): k8s.V1RoleBinding {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: VERSION_NAMESPACE_OBJECT, namespace, labels: { [KubeLabel.managedBy]: MANAGED_BY } },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
    subjects: [subject],
  };
}

/**
 * Extra pods a rollout may run beside `replicas`: the Deployment's default maxSurge, 25 % rounded
 * up, at least 1 (so a version at 0 or 1 replica can still roll).
 */
export function surgePods(replicas: number): number {
  return Math.max(1, Math.ceil(replicas * 0.25));
}

/**
 * `hard` of the version namespace's ResourceQuota: (replicas + surge) pods, one Service, one
 * Deployment, and for each of cpu and memory the spec gives, requests and limits of
 * (replicas + surge) × the spec's value. So the version can roll out at its spec's size and no
 * more: scaling it above `replicas` leaves the extra pods uncreated (FailedCreate, exceeded quota).
 */
export function quotaHard(spec: Pick<VersionWorkload['spec'], 'replicas' | 'resources'>): Record<string, string> {
  const pods = spec.replicas + surgePods(spec.replicas);
  const hard: Record<string, string> = { pods: String(pods), services: '1', 'count/deployments.apps': '1' };
  if (spec.resources.cpu) hard['requests.cpu'] = hard['limits.cpu'] = multiplyQuantity(spec.resources.cpu, pods, 'cpu');
  if (spec.resources.memory) hard['requests.memory'] = hard['limits.memory'] = multiplyQuantity(spec.resources.memory, pods, 'memory');
  return hard;
}

export function resourceQuotaManifest(namespace: string, spec: Pick<VersionWorkload['spec'], 'replicas' | 'resources'>): k8s.V1ResourceQuota {
  return {
    apiVersion: 'v1',
    kind: 'ResourceQuota',
    metadata: { name: VERSION_NAMESPACE_OBJECT, namespace, labels: { [KubeLabel.managedBy]: MANAGED_BY } },
    spec: { hard: quotaHard(spec) },
  };
}

/**
 * The LimitRange: every container in the namespace defaults to (and may not exceed) the spec's
 * resources, requests = limits as tandem sets them on its own container. A container without
 * resources therefore still fits the quota, which counts requests and limits.
 */
export function limitRangeManifest(namespace: string, resources: Resources): k8s.V1LimitRange {
  const values: Record<string, string> = {};
  if (resources.cpu) values.cpu = resources.cpu;
  if (resources.memory) values.memory = resources.memory;
  // Written as the API spells it (`default`): server-side apply sends the object as it is, not through client-node's `_default`.
  const item = (Object.keys(values).length ? { type: 'Container', default: values, defaultRequest: values, max: values } : { type: 'Container' }) as k8s.V1LimitRangeItem;
  return {
    apiVersion: 'v1',
    kind: 'LimitRange',
    metadata: { name: VERSION_NAMESPACE_OBJECT, namespace, labels: { [KubeLabel.managedBy]: MANAGED_BY } },
    spec: { limits: [item] },
  };
}

/** Allows HTTPRoutes in the environment namespace to reference the version's Service (and nothing else). */
export function referenceGrantManifest(namespace: string, environmentNamespace: string, model: string, version: string): k8s.KubernetesObject & { spec: ReferenceGrantSpec } {
  return {
    apiVersion: `${REFERENCE_GRANT_API.group}/${REFERENCE_GRANT_API.version}`,
    kind: 'ReferenceGrant',
    metadata: { name: VERSION_NAMESPACE_OBJECT, namespace, labels: { [KubeLabel.managedBy]: MANAGED_BY } },
    spec: {
      from: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: environmentNamespace }],
      to: [{ group: '', kind: 'Service', name: workloadName(model, version) }],
    },
  };
}

export interface ReferenceGrantSpec {
  from: Array<{ group: string; kind: string; namespace: string }>;
  to: Array<{ group: string; kind: string; name?: string }>;
}

/**
 * Gateway API's rule for a cross-namespace backendRef: an HTTPRoute in `routeNamespace` may
 * reference Service `service` in the grant's namespace when one of the grant's `from` names
 * HTTPRoutes of that namespace and one of its `to` names Services (all of them, or that one). Pure.
 */
export function referenceGrantAllows(grant: { spec: ReferenceGrantSpec }, routeNamespace: string, service: string): boolean {
  const from = grant.spec.from.some((f) => f.group === 'gateway.networking.k8s.io' && f.kind === 'HTTPRoute' && f.namespace === routeNamespace);
  const to = grant.spec.to.some((t) => t.group === '' && t.kind === 'Service' && (t.name === undefined || t.name === service));
  return from && to;
}

const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DECIMAL: Record<string, number> = { n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };

/** Value of a Kubernetes quantity in base units (cores, bytes). Throws on text that is not one. */
export function quantityValue(text: string): number {
  const match = /^[+]?(\d+(?:\.\d*)?|\.\d+)(?:([KMGTPE]i)|([numkMGTPE])|[eE]([+-]?\d+))?$/.exec(text.trim());
  if (!match) throw new Error(`"${text}" is not a Kubernetes quantity`);
  const number = Number(match[1]);
  if (match[2]) return number * BINARY[match[2]]!;
  if (match[3]) return number * DECIMAL[match[3]]!;
  if (match[4]) return number * 10 ** Number(match[4]);
  return number;
}

/** Rounds up, ignoring float noise below a millionth (0.1 × 3 is 0.30000000000000004). */
const ceil = (x: number) => Math.ceil(Math.round(x * 1e6) / 1e6);

/**
 * `factor` × the quantity, written the way Kubernetes would keep it: cpu in whole cores or
 * millicores (`300m`, `2`), memory in the largest binary unit that divides it (`192Mi`) or bytes,
 * rounded up so the product is never below the exact value.
 */
export function multiplyQuantity(text: string, factor: number, kind: 'cpu' | 'memory'): string {
  const total = quantityValue(text) * factor;
  if (kind === 'cpu') {
    const milli = ceil(total * 1000);
    return milli % 1000 === 0 ? String(milli / 1000) : `${milli}m`;
  }
  const bytes = ceil(total);
  for (const unit of ['Ti', 'Gi', 'Mi', 'Ki']) {
    if (bytes !== 0 && bytes % BINARY[unit]! === 0) return `${bytes / BINARY[unit]!}${unit}`;
  }
  return String(bytes);
}
