/**
 * How tandem names and labels what it creates in Kubernetes. Every name and label value made
 * here satisfies Kubernetes' rules whatever the model name or Git tag (long tags, upper case,
 * `/`, `+`, `_`, ...): invalid characters become `-`, and whenever the raw value could not be
 * used as it is, a short hash of it keeps two odd tags apart (`release/1.0` and `release-1.0`
 * never share a name). The raw version is kept in an annotation; the labels are for selecting.
 * Pure (no Node built-ins), so workflows may import it too.
 */
import { hashHex } from './hash';

/** Label keys on every object tandem creates in a cluster. */
export const KubeLabel = {
  name: 'app.kubernetes.io/name',
  managedBy: 'app.kubernetes.io/managed-by',
  model: 'tandem.dev/model',
  version: 'tandem.dev/version',
  commit: 'tandem.dev/commit',
} as const;

/** Annotation keys: the raw facts that do not fit in a label value. */
export const KubeAnnotation = {
  /** the version tag exactly as released */
  version: 'tandem.dev/version',
  model: 'tandem.dev/model',
  commit: 'tandem.dev/commit',
  image: 'tandem.dev/image',
  digest: 'tandem.dev/image-digest',
  release: 'tandem.dev/release',
  deployedAt: 'tandem.dev/deployed-at',
  /** the replica count of the spec the version was deployed with (routers scale relative to it) */
  specReplicas: 'tandem.dev/spec-replicas',
  /** on a model's HTTPRoute: the version holding the stable role */
  stable: 'tandem.dev/stable',
  /** on the replica-ratio Service: the TrafficState in force, as JSON */
  traffic: 'tandem.dev/traffic',
  /** on a model's HTTPRoute: `{ "<service>": "<version>" }` for every backend (the gateway reads versions from it) */
  backends: 'tandem.dev/backends',
  /**
   * on a model's HTTPRoute with a RequestMirror filter: the mirror's `compare` as JSON. Only
   * tandem's gateway reads it (`tandem gateway --kubernetes`); other data planes ignore it, as
   * Gateway API discards the mirror's answers.
   */
  mirrorCompare: 'tandem.dev/mirror-compare',
} as const;

/** The Gateway API's group, and the version of it tandem writes and reads. */
export const GATEWAY_API_GROUP = 'gateway.networking.k8s.io';
export const GATEWAY_API_VERSION = 'v1';

/** Label of an EndpointSlice naming its Service. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

/** Value of `app.kubernetes.io/managed-by` on everything tandem creates. */
export const MANAGED_BY = 'tandem';


const DNS_LABEL_MAX = 63;
const HASH_LENGTH = 8;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** `HASH_LENGTH` hex digits of the hash of the parts (see hash.ts). */
const shortHash = (...parts: string[]): string => hashHex(parts, HASH_LENGTH);

/** True when `name` is a DNS-1035 label (Service names): lowercase alphanumerics and `-`, starts with a letter, ≤ 63. */
export function isDns1035Label(name: string): boolean {
  return name.length <= DNS_LABEL_MAX && DNS1035_LABEL.test(name);
}

/** True when `value` may be a label value: empty, or ≤ 63 alphanumerics, `-`, `_`, `.` starting and ending alphanumeric. */
export function isLabelValue(value: string): boolean {
  return value.length <= DNS_LABEL_MAX && LABEL_VALUE.test(value);
}

/**
 * True when `key` may be a label key (node selectors, taints): an optional DNS-1123 subdomain
 * prefix (≤ 253) and `/`, then a name of ≤ 63 alphanumerics, `-`, `_`, `.` starting and ending alphanumeric.
 */
export function isLabelKey(key: string): boolean {
  const slash = key.lastIndexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && (prefix.length > 253 || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(prefix))) return false;
  return name.length > 0 && isLabelValue(name);
}

/** Lowercase, every run of characters outside [a-z0-9] becomes one `-`, no `-` at either end. */
function slug(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

/** Cuts `text` to `max` characters without leaving a `-` at the end. */
function cut(text: string, max: number): string {
  return text.slice(0, max).replace(/-+$/, '');
}

/**
 * The version part of an object name. A plain release tag (`v1.2.0`: `v`, then dot-separated
 * numbers) maps to itself with dots as dashes (`v1-2-0`). Such a part contains no `-v`, so
 * `<model>-<part>` splits back into model and version in exactly one way and two models never
 * share a name. Any other tag gets the hash suffix, because there a dash may stand for several
 * different characters.
 */
function versionSlug(version: string): { text: string; exact: boolean } {
  return { text: slug(version) || 'v', exact: /^v\d+(\.\d+)*$/.test(version) };
}

/**
 * Name of the Deployment and of the Service of one version: `<model>-<version>`, e.g.
 * `fraud-detector-v1-2-0`. Always a DNS-1035 label (so valid for a Service, a Deployment and
 * as a pod-name prefix): at most 63 characters, starts with a letter. When the tag is not of
 * the plain `v1.2.0` kind, or the name would be too long, it is cut and ends in `-<hash8>` of
 * (model, version), so distinct versions never share a name.
 */
export function workloadName(model: string, version: string): string {
  const m = modelSlug(model);
  const v = versionSlug(version);
  const plain = `${m}-${v.text}`;
  if (v.exact && m === model && isDns1035Label(plain)) return plain;
  const hash = shortHash(model, version);
  return `${cut(plain, DNS_LABEL_MAX - HASH_LENGTH - 1)}-${hash}`;
}

/** Model part of names: the model name when it is a valid label starting with a letter, else a slug that is. */
function modelSlug(model: string): string {
  const s = slug(model) || 'model';
  return /^[a-z]/.test(s) ? s : `m-${s}`;
}

/**
 * Name of the objects that belong to a whole model (its HTTPRoute, the replica-ratio Service):
 * the model name itself when it is a DNS-1035 label, else a slug of it with a hash suffix.
 */
export function modelObjectName(model: string): string {
  if (isDns1035Label(model)) return model;
  return `${cut(modelSlug(model), DNS_LABEL_MAX - HASH_LENGTH - 1)}-${shortHash(model)}`;
}

/**
 * A label value that stands for `raw`: `raw` itself when it is a valid label value (`v1.2.0`,
 * a commit SHA), else the invalid characters replaced by `-`, cut, and a hash of `raw` appended.
 * Deterministic, so label selectors can be computed from the raw value.
 */
export function labelValue(raw: string): string {
  if (isLabelValue(raw)) return raw;
  const safe = raw
    .replace(/[^A-Za-z0-9_.-]+/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, DNS_LABEL_MAX - HASH_LENGTH - 1)
    .replace(/[^A-Za-z0-9]+$/, '');
  return safe ? `${safe}-${shortHash(raw)}` : shortHash(raw);
}

/** Labels that select every object of a model, or of one version when given. */
export function selectorLabels(model: string, version?: string): Record<string, string> {
  const labels: Record<string, string> = { [KubeLabel.model]: labelValue(model) };
  if (version !== undefined) labels[KubeLabel.version] = labelValue(version);
  return labels;
}

/** `k=v,k2=v2`: a label selector string for the API. */
export function labelSelector(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

/** True when `text` is a Kubernetes resource quantity (`500m`, `0.5`, `256Mi`, `1e3`, `2G`). */
export function isQuantity(text: string): boolean {
  return /^[+]?(\d+(\.\d*)?|\.\d+)(([KMGTPE]i)|[numkMGTPE]|[eE][+-]?\d+)?$/.test(text.trim());
}

/** Extra label on a version namespace (`isolation: namespace`): the environment namespace it belongs to. */
export const ENVIRONMENT_NAMESPACE_LABEL = 'tandem.dev/environment-namespace';

/**
 * Namespace of one version when an environment runs each version in its own namespace
 * (`isolation: namespace`): `<environment namespace>-<model>-<version>`, cut so that with the
 * `-<hash8>` of (environment namespace, model, version) it always ends in, it is at most 63
 * characters. Always a DNS-1035 label, so a valid namespace name. The hash is always there, since
 * environment namespace, model and version may all contain `-` and the readable part alone could
 * be shared (`a-b` + `c` and `a` + `b-c`); the target also refuses a namespace whose annotations
 * name another model or version, so even a hash collision never mixes two versions.
 */
export function versionNamespace(environmentNamespace: string, model: string, version: string): string {
  const readable = `${slug(environmentNamespace) || 'ns'}-${modelSlug(model)}-${versionSlug(version).text}`;
  const start = /^[a-z]/.test(readable) ? readable : `n-${readable}`;
  return `${cut(start, DNS_LABEL_MAX - HASH_LENGTH - 1)}-${shortHash(environmentNamespace, model, version)}`;
}
