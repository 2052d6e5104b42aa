/**
 * How tandem names and labels what it runs on a Docker engine. The labels are the record: the
 * Docker target and the gateway read every fact about a running version back from them, so a
 * worker or gateway that restarts loses nothing. Container names and network aliases are made in
 * src/naming/docker.ts. Pure.
 */
import type Docker from 'dockerode';

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

/** `"0.5"` or `"500m"` → NanoCpus (0.5 CPU = 500_000_000). Throws on anything else. */
export function nanoCpus(cpu: string): number {
  const match = /^(\d+(?:\.\d+)?)(m?)$/.exec(cpu.trim());
  if (!match) throw new Error(`resources.cpu: "${cpu}" is not cores ("0.5") or millicores ("500m")`);
  const cores = Number(match[1]) / (match[2] === 'm' ? 1000 : 1);
  return Math.round(cores * 1e9);
}

/** `"256Mi"`, `"1Gi"`, `"512Ki"` or plain bytes → bytes. Throws on anything else. */
export function memoryBytes(memory: string): number {
  const match = /^(\d+)(Ki|Mi|Gi)?$/.exec(memory.trim());
  if (!match) throw new Error(`resources.memory: "${memory}" is not bytes or a quantity like 256Mi`);
  const unit = match[2] === 'Ki' ? 1024 : match[2] === 'Mi' ? 1024 ** 2 : match[2] === 'Gi' ? 1024 ** 3 : 1;
  return Number(match[1]) * unit;
}

/** `registry/model:tag` → `registry/model` (keeps a registry port such as `127.0.0.1:5000`). */
export function repositoryOf(image: string): string {
  const at = image.indexOf('@');
  const noDigest = at >= 0 ? image.slice(0, at) : image;
  const slash = noDigest.lastIndexOf('/');
  const colon = noDigest.lastIndexOf(':');
  return colon > slash ? noDigest.slice(0, colon) : noDigest;
}

/** The host port the engine published for the container's model port (label `tandem.port`), if any. */
export function publishedPort(info: Pick<Docker.ContainerInfo, 'Labels' | 'Ports'>): Docker.Port | undefined {
  const port = Number(info.Labels[Label.port]);
  return info.Ports.find((p) => p.PrivatePort === port && p.PublicPort && p.Type === 'tcp');
}
