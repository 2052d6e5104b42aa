/**
 * How tandem names what it puts in an image registry and on a Docker engine: image tags and
 * container names. Each is an injective function of what it names — two different Git tags never
 * share an image tag, two different (model, version, replica) never share a container name — and
 * every result is valid whatever the tag holds (`/`, `+`, `ä`, 300 characters, ...). Pure (no
 * Node built-ins), so workflows may import it too.
 */
import { hashHex } from './hash';
import { workloadName } from './kubernetes';

/** What Docker accepts as a tag: a word character, then up to 127 word characters, `.` or `-`. */
const DOCKER_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const TAG_MAX = 128;
const HASH_LENGTH = 12;
/**
 * Joins a cleaned-up tag to the hash of the raw one. Git refuses `..` in any ref name, and a tag
 * containing it is never used as it is, so a hashed tag can never equal a tag used as it is.
 */
const HASH_SEPARATOR = '..';
/** The tags commitTag() makes; a Git tag that looks like one is hashed so it cannot move a marker. */
const COMMIT_MARKER = /^commit-[0-9a-f]{12}$/;
/** Model names as tandem.config.yaml allows them: nothing but `[a-z0-9-]`. */
const PLAIN_MODEL = /^[a-z0-9][a-z0-9-]*$/;

/** `commit-<first 12 hex digits>`: the registry tag that marks an image as built from that commit. */
export function commitTag(commit: string): string {
  return `commit-${commit.slice(0, 12).toLowerCase()}`;
}

/**
 * The registry tag of a version: the Git tag itself when Docker accepts it as a tag (`v1.2.0`,
 * `1.0_rc-1`), else a cleaned-up form and a hash of the raw tag, joined by `..`
 * (`release/1.0` → `release-1.0..3f1c…`, `u-ä` and `u-ö` get different hashes). At most 128
 * characters; never refuses a tag. The result is also safe in container names.
 */
export function imageTag(version: string): string {
  if (DOCKER_TAG.test(version) && !version.includes(HASH_SEPARATOR) && !COMMIT_MARKER.test(version)) return version;
  const safe = version
    .replace(/[^A-Za-z0-9_.-]+/g, '-')
    .replace(/\.{2,}/g, '.')
    .replace(/^[.-]+/, '')
    .slice(0, TAG_MAX - HASH_SEPARATOR.length - HASH_LENGTH)
    .replace(/[.-]+$/, '');
  return `${safe || 'v'}${HASH_SEPARATOR}${hashHex([version], HASH_LENGTH)}`;
}

/**
 * The model part of container names: the model name when it is one tandem.config.yaml allows
 * (no `.` or `_`), else a cleaned-up form with `.` and a hash, so it still holds no `_`.
 */
function modelPart(model: string): string {
  if (PLAIN_MODEL.test(model)) return model;
  const safe = model.toLowerCase().replace(/[^a-z0-9-]+/g, '-').slice(0, 40);
  return `${safe || 'm'}.${hashHex([model], HASH_LENGTH)}`;
}

/**
 * `tandem-<model>_<version>_<replica>`, e.g. `tandem-fraud-detector_v1.2.0_0`: the container
 * name of one replica. The model part holds no `_` and the replica is digits, so the name splits
 * back in exactly one way; the version part is imageTag(version).
 */
export function containerName(model: string, version: string, replica: number): string {
  return `tandem-${modelPart(model)}_${imageTag(version)}_${replica}`;
}

/**
 * The network alias under which a version's replicas answer other containers on the network: a
 * DNS label, the same name the Kubernetes target gives the version's Service (`fraud-detector-v1-2-0`).
 */
export function networkAlias(model: string, version: string): string {
  return workloadName(model, version);
}

/*
 * Labels are the record: the Docker target and the gateway read every fact about a running
 * version back from them, so a worker or gateway that restarts loses nothing.
 */

/** A published port as the engine lists it (dockerode's Port). */
export interface PortBinding {
  PrivatePort: number;
  PublicPort?: number;
  Type: string;
}

/** Label keys set on every container tandem runs. */
export const Label = {
  managed: 'tandem.managed',
  model: 'tandem.model',
  version: 'tandem.version',
  commit: 'tandem.commit',
  image: 'tandem.image',
  digest: 'tandem.digest',
  release: 'tandem.release',
  deployedAt: 'tandem.deployed-at',
  /** index of the replica, 0-based */
  replica: 'tandem.replica',
  /** port the model server listens on inside the container */
  port: 'tandem.port',
  /** health path of the spec, so readiness can be checked from labels alone */
  healthPath: 'tandem.health-path',
  /** hash of everything that makes a replica what it is (image, digest, port, resources, health path) */
  configHash: 'tandem.config-hash',
} as const;

/** Docker label filters selecting a model's containers, or one version's. */
export function labelFilters(model: string, version?: string): string[] {
  const filters = [`${Label.managed}=true`, `${Label.model}=${model}`];
  if (version !== undefined) filters.push(`${Label.version}=${version}`);
  return filters;
}




/** The host port the engine published for the container's model port (label `tandem.port`), if any. */
export function publishedPort<P extends PortBinding>(info: { Labels: Record<string, string>; Ports: P[] }): P | undefined {
  const port = Number(info.Labels[Label.port]);
  return info.Ports.find((p) => p.PrivatePort === port && p.PublicPort && p.Type === 'tcp');
}
