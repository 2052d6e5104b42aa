/**
 * Container lifecycle on one engine: the network, creating, starting, stopping and removing
 * replicas. Each call tolerates the state a concurrent or earlier call left (already started,
 * already gone, name taken by the same definition).
 */
import type Docker from 'dockerode';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../errors';
import { Label, containerName, networkAlias } from '../../naming/docker';
import { SERVING, STOPPED, type Replica, type ReplicaDefinition } from './replicas';
import { statusOf } from './engine';

/** States a replica can be started from; `dead` and `removing` ones are replaced instead. */
const STARTABLE = new Set(['created', 'exited', 'paused']);

/** Creates the user-defined bridge network `name` unless it exists. */
export async function ensureNetwork(docker: Docker, name: string): Promise<void> {
  const networks = await docker.listNetworks({ filters: { name: [name] } });
  if (networks.some((n) => n.Name === name)) return;
  try {
    await docker.createNetwork({ Name: name, Driver: 'bridge', Labels: { [Label.managed]: 'true' }, CheckDuplicate: true });
  } catch (error) {
    if (statusOf(error) !== 409) throw error;
  }
}

/**
 * Creates the container of replica `index` on `network` and starts it. When its name is taken by
 * a container of the same configuration (a concurrent apply or scale made it), that one is
 * started instead; any other container holding the name is a non-retryable DeployFailed.
 */
export async function createAndStart(docker: Docker, network: string, model: string, version: string, index: number, definition: ReplicaDefinition): Promise<void> {
  const name = containerName(model, version, index);
  let id: string;
  try {
    const container = await docker.createContainer({
      ...definition,
      name,
      NetworkingConfig: { EndpointsConfig: { [network]: { Aliases: [networkAlias(model, version)] } } },
    });
    id = container.id;
  } catch (error) {
    if (statusOf(error) !== 409) throw error;
    const owner = await docker.getContainer(name).inspect().catch(() => undefined);
    if (!owner || owner.Config.Labels?.[Label.configHash] !== definition.Labels[Label.configHash]) {
      throw ApplicationFailure.nonRetryable(`container name ${name} is taken by a container tandem did not create for this version; remove it`, FailureType.DeployFailed);
    }
    id = owner.Id;
  }
  await startContainer(docker, id);
}

/** Starts a replica that is not running (unpauses a paused one) under the serving restart policy. */
export async function ensureRunning(docker: Docker, replica: Replica): Promise<void> {
  if (!STARTABLE.has(replica.state)) return; // running or restarting
  const container = docker.getContainer(replica.id);
  if (replica.state === 'paused') {
    await container.unpause();
    return;
  }
  await container.update({ RestartPolicy: SERVING });
  await startContainer(docker, replica.id);
}

/** Stops a replica and keeps it stopped, also across engine restarts. */
export async function keepStopped(docker: Docker, replica: Replica): Promise<void> {
  await docker.getContainer(replica.id).update({ RestartPolicy: STOPPED });
  if (replica.state === 'running' || replica.state === 'restarting' || replica.state === 'paused') await stopContainer(docker, replica.id);
}

async function startContainer(docker: Docker, id: string): Promise<void> {
  try {
    await docker.getContainer(id).start();
  } catch (error) {
    if (statusOf(error) === 304) return; // already started
    throw error;
  }
}

async function stopContainer(docker: Docker, id: string): Promise<void> {
  try {
    await docker.getContainer(id).stop({ t: 5 });
  } catch (error) {
    if (statusOf(error) === 304 || statusOf(error) === 404) return;
    throw error;
  }
}

/** Removes a container, running or not; one already gone or being removed is not an error. */
export async function removeContainer(docker: Docker, id: string): Promise<void> {
  try {
    await docker.getContainer(id).remove({ force: true });
  } catch (error) {
    const status = statusOf(error);
    if (status === 404 || (status === 409 && /already in progress/.test(String(error)))) return;
    throw error;
  }
}
