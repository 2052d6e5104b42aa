/**
 * What a replica is to the Docker target: a container found by its labels, and the definition a
 * new one is created from. The engine is the source of truth; these read it or describe it.
 */
import type Docker from 'dockerode';
import { createHash } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../errors';
import type { VersionWorkload } from '../target';
import { Label, labelFilters, publishedPort } from '../../naming/docker';
import { memoryBytes, nanoCpus } from './resources';

/** What one replica looks like to the target: its container, state and published address. */
export interface Replica {
  id: string;
  name: string;
  index: number;
  labels: Record<string, string>;
  state: string;
  /** the engine's one-line status, e.g. `Up 3 minutes (healthy)` */
  status: string;
  hostPort?: number;
  /** the container's address on the target's network */
  address?: string;
}

/** Restart policy of a serving replica, and of a replica kept stopped (scaled to 0). */
export const SERVING: Docker.HostRestartPolicy = { Name: 'always' };
export const STOPPED: Docker.HostRestartPolicy = { Name: 'no' };

/** Container options of a replica, less the name and network endpoint createAndStart adds. */
export type ReplicaDefinition = Omit<Docker.ContainerCreateOptions, 'name' | 'NetworkingConfig'> & { Labels: Record<string, string> };

/** The model's (or version's) containers, from the engine's labels; `all` includes stopped ones. */
export async function listReplicas(docker: Docker, network: string, model: string, version: string | undefined, all: boolean): Promise<Replica[]> {
  const infos = await docker.listContainers({ all, filters: { label: labelFilters(model, version) } });
  return infos.map((info) => toReplica(info, network));
}

/** A listed container as a replica; `network` is the one whose address is taken. Pure. */
export function toReplica(info: Docker.ContainerInfo, network: string): Replica {
  return {
    id: info.Id,
    name: (info.Names[0] ?? '').replace(/^\//, ''),
    index: Number(info.Labels[Label.replica]),
    labels: info.Labels,
    state: info.State,
    status: info.Status ?? '',
    hostPort: publishedPort(info)?.PublicPort,
    address: info.NetworkSettings?.Networks?.[network]?.IPAddress || undefined,
  };
}

/** Hash of what makes a replica what it is; a change means the container must be replaced. Pure. */
export function hashConfig(workload: VersionWorkload): string {
  const { image, digest, spec } = workload;
  const basis = JSON.stringify([image, digest, spec.port, spec.health.path, spec.resources.cpu ?? '', spec.resources.memory ?? '']);
  return createHash('sha256').update(basis).digest('hex').slice(0, 16);
}

/**
 * The definition of replica `index` of a workload: its labels, environment, published port
 * (127.0.0.1, random host port), restart policy and resource limits. Pure. Throws a
 * non-retryable DeployFailed ApplicationFailure when the spec's resources cannot be converted.
 */
export function replicaDefinition(
  workload: VersionWorkload,
  imageRef: string,
  index: number,
  configHash: string,
  deployedAt: string,
  network: string,
): ReplicaDefinition {
  const { model, version, spec } = workload;
  const labels: Record<string, string> = {
    [Label.managed]: 'true',
    [Label.model]: model,
    [Label.version]: version,
    [Label.commit]: workload.commit,
    [Label.image]: workload.image,
    [Label.digest]: workload.digest,
    [Label.release]: workload.releaseId,
    [Label.deployedAt]: deployedAt,
    [Label.replica]: String(index),
    [Label.port]: String(spec.port),
    [Label.healthPath]: spec.health.path,
    [Label.configHash]: configHash,
  };
  const hostConfig: Docker.HostConfig = {
    NetworkMode: network,
    PortBindings: { [`${spec.port}/tcp`]: [{ HostIp: '127.0.0.1', HostPort: '' }] },
    RestartPolicy: SERVING,
  };
  try {
    if (spec.resources.cpu) hostConfig.NanoCpus = nanoCpus(spec.resources.cpu);
    if (spec.resources.memory) hostConfig.Memory = memoryBytes(spec.resources.memory);
  } catch (error) {
    throw ApplicationFailure.nonRetryable((error as Error).message, FailureType.DeployFailed);
  }
  return {
    Image: imageRef,
    Labels: labels,
    Env: [`PORT=${spec.port}`, `TANDEM_MODEL=${model}`, `TANDEM_VERSION=${version}`],
    ExposedPorts: { [`${spec.port}/tcp`]: {} },
    HostConfig: hostConfig,
  };
}

/** The definition of a new replica `index` copied from an existing one's configuration, running `imageRef`. Pure. */
export function cloneDefinition(template: Docker.ContainerInspectInfo, imageRef: string, index: number): ReplicaDefinition {
  return {
    Image: imageRef,
    Labels: { ...template.Config.Labels, [Label.replica]: String(index) },
    Env: template.Config.Env,
    ExposedPorts: template.Config.ExposedPorts,
    HostConfig: {
      NetworkMode: template.HostConfig.NetworkMode,
      PortBindings: template.HostConfig.PortBindings,
      RestartPolicy: SERVING,
      NanoCpus: template.HostConfig.NanoCpus || undefined,
      Memory: template.HostConfig.Memory || undefined,
    },
  };
}
