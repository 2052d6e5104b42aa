/**
 * The Docker target: each version of a model runs as `replicas` containers on one Docker engine,
 * labelled with everything tandem knows about it (Label in src/naming/docker.ts), joined to a user-defined
 * network and published on 127.0.0.1 with a random host port, so the gateway and the health
 * checks on the host reach every replica directly. The engine is the source of truth: nothing is
 * remembered between calls, every method reads the labels back.
 *
 * Serving replicas run under the `always` restart policy: an engine that restarts (even after a
 * SIGKILL, without live-restore) starts them again. `unless-stopped` is not enough there: the
 * engine stops the containers it finds running as if a user had, and then leaves them stopped. A
 * replica kept stopped for a version scaled to 0 gets the `no` policy, so it stays stopped.
 */
import { ApplicationFailure } from '@temporalio/common';
import type Docker from 'dockerode';
import { FailureType } from '../../errors';
import { Label } from '../../naming/docker';
import type { ProgressFn, Target, VersionWorkload } from '../target';
import type { DeployedVersion, RunningVersion } from '../types';
import { abortableSleep } from '../wait';
import { describeCrash } from './crash';
import { ensureImage, type RegistryAuth } from './images';
import { createAndStart, ensureNetwork, ensureRunning, keepStopped, removeContainer } from './lifecycle';
import { probeReplica, readyByState } from './readiness';
import { cloneDefinition, hashConfig, listReplicas, replicaDefinition, type Replica } from './replicas';

export type { RegistryAuth } from './images';

export interface DockerTargetOptions {
  /** user-defined bridge network the containers join; created when missing */
  network: string;
  registryAuth?: RegistryAuth;
  /** per-request timeout of the HTTP readiness probe; default 2000 ms */
  probeTimeoutMs?: number;
  /** pause between readiness polls in waitReady; default 500 ms */
  pollIntervalMs?: number;
}

/**
 * Target implementation for a single Docker engine (the embedded default and single-host setups).
 * Every method is idempotent: it compares what the engine reports with what is wanted and changes
 * only the difference.
 */
export class DockerTarget implements Target {
  private readonly probeTimeoutMs: number;
  private readonly pollIntervalMs: number;

  constructor(
    private readonly docker: Docker,
    private readonly options: DockerTargetOptions,
  ) {
    this.probeTimeoutMs = options.probeTimeoutMs ?? 2000;
    this.pollIntervalMs = options.pollIntervalMs ?? 500;
  }

  /**
   * Brings the version to `spec.replicas` containers running the workload's image. Containers
   * whose configuration (image, digest, port, resources, health path) already matches are kept,
   * missing replicas are created, extra ones and ones built from another image are removed;
   * stopped matching replicas are started. Running it twice changes nothing the second time.
   * Pulls the image when the engine does not have it. Throws a non-retryable DeployFailed
   * ApplicationFailure when the image cannot be found or the spec's resources are invalid;
   * engine and registry connection errors are plain (retryable) errors.
   */
  async apply(workload: VersionWorkload): Promise<void> {
    const { model, version, spec } = workload;
    const configHash = hashConfig(workload);
    const network = this.options.network;
    await ensureNetwork(this.docker, network);
    const imageRef = await this.ensureImage(workload.image, workload.digest);

    const existing = await this.containers(model, version, true);
    const keep = new Map<number, Replica>();
    const discard: Replica[] = [];
    for (const replica of existing.sort((a, b) => a.name.localeCompare(b.name))) {
      const matches = replica.labels[Label.configHash] === configHash;
      if (!matches || replica.index >= spec.replicas || keep.has(replica.index) || Number.isNaN(replica.index)) {
        discard.push(replica);
      } else {
        keep.set(replica.index, replica);
      }
    }
    for (const replica of discard) await removeContainer(this.docker, replica.id);

    const deployedAt = [...keep.values()][0]?.labels[Label.deployedAt] ?? new Date().toISOString();
    for (let index = 0; index < spec.replicas; index++) {
      const kept = keep.get(index);
      if (kept) {
        await ensureRunning(this.docker, kept);
        continue;
      }
      await createAndStart(this.docker, network, model, version, index, replicaDefinition(workload, imageRef, index, configHash, deployedAt, network));
    }
  }

  /**
   * Polls until every replica of the version is ready: its container is running (not restarting,
   * not exited) and an HTTP GET of the health path through the published port answers 2xx.
   * Reports progress through `onProgress`. Throws a non-retryable DeployFailed ApplicationFailure
   * naming the cause when a container exits or restarts (with its exit code and last log lines),
   * when the version has no containers, or when `timeoutMs` passes; rethrows the signal's reason
   * when aborted.
   */
  async waitReady(model: string, version: string, timeoutMs: number, onProgress: ProgressFn, signal?: AbortSignal): Promise<DeployedVersion> {
    const deadline = Date.now() + timeoutMs;
    let lastDetail = '';
    for (;;) {
      signal?.throwIfAborted();
      const all = await this.containers(model, version, true);
      if (all.length === 0) {
        throw ApplicationFailure.nonRetryable(`${model} ${version} has no containers on the Docker engine; deploy it first`, FailureType.DeployFailed);
      }
      const replicas: Replica[] = [];
      for (const replica of all) {
        const info = await this.docker.getContainer(replica.id).inspect();
        const crashed = info.State.Restarting || info.RestartCount > 0 || info.State.OOMKilled || info.State.Status === 'dead';
        if (crashed) {
          throw ApplicationFailure.nonRetryable(`${model} ${version} cannot become ready: ${await describeCrash(this.docker, replica, info)}`, FailureType.DeployFailed);
        }
        // Under the `always` restart policy a crash shows as restarting; exited without restarts means stopped on purpose (scale 0).
        if (info.State.Status !== 'exited') replicas.push(replica);
      }
      if (replicas.length === 0) {
        throw ApplicationFailure.nonRetryable(`${model} ${version} is scaled to 0: no replica runs; deploy or scale it up first`, FailureType.DeployFailed);
      }
      const checks = await Promise.all(replicas.map((r) => this.probeReplica(r)));
      const ready = checks.filter((c) => c.ok).length;
      const notReady = checks.find((c) => !c.ok);
      lastDetail = notReady ? notReady.detail : 'all replicas answer their health check';
      onProgress(ready, replicas.length, lastDetail);
      if (ready === replicas.length) return { version, replicas: replicas.length, readyReplicas: ready };
      if (Date.now() >= deadline) {
        throw ApplicationFailure.nonRetryable(
          `${model} ${version} not ready after ${Math.round(timeoutMs / 1000)}s: ${ready}/${replicas.length} replicas ready; ${lastDetail}`,
          FailureType.DeployFailed,
        );
      }
      await abortableSleep(Math.min(this.pollIntervalMs, Math.max(0, deadline - Date.now())), signal);
    }
  }

  /**
   * Versions of the model that have containers on the engine, read from their labels, grouped per
   * version. `replicas` counts running containers; `readyReplicas` those that are ready by the
   * engine's account — running, not restarting, not failing a Docker health check — and whose
   * model port accepts a TCP connection on the network (a cheap check: a refused connection is
   * answered at once; when the address cannot be reached from here, the engine's state decides).
   * The HTTP health check is waitReady's. A version scaled to 0 is listed with 0 replicas (its
   * definition is kept).
   */
  async list(model: string): Promise<RunningVersion[]> {
    const all = await this.containers(model, undefined, true);
    const byVersion = new Map<string, Replica[]>();
    for (const replica of all) {
      const version = replica.labels[Label.version]!;
      byVersion.set(version, [...(byVersion.get(version) ?? []), replica]);
    }
    const readiness = new Map(await Promise.all(all.map(async (r) => [r.id, await readyByState(r)] as const)));
    const result: RunningVersion[] = [];
    for (const [version, replicas] of byVersion) {
      const running = replicas.filter((r) => r.state === 'running');
      const ready = running.filter((r) => readiness.get(r.id)).length;
      const labels = replicas[0]!.labels;
      result.push({
        version,
        commit: labels[Label.commit] ?? '',
        image: labels[Label.image] ?? '',
        digest: labels[Label.digest] ?? '',
        replicas: running.length,
        readyReplicas: ready,
        releaseId: labels[Label.release] ?? '',
        deployedAt: labels[Label.deployedAt] ?? '',
      });
    }
    return result.sort((a, b) => a.deployedAt.localeCompare(b.deployedAt));
  }

  /**
   * Brings the version to `replicas` running replicas, whatever happened to them meanwhile:
   * stopped or exited replicas are started again, paused ones unpaused, and missing or dead ones
   * recreated from the definition the version's remaining containers record (labels, image,
   * resources, port), pulling the image when the engine lost it. Scaling up comes first, so
   * capacity never dips. Scaling down removes the highest replicas; scaling to 0 keeps replica 0
   * as a stopped container (restart policy `no`) so the version's definition survives and a later
   * scale up can start it again. Idempotent. Throws a non-retryable VersionNotRunning
   * ApplicationFailure when scaling up a version that has no container left to take the
   * definition from; engine errors are plain (retryable) errors.
   */
  async scale(model: string, version: string, replicas: number): Promise<void> {
    const existing = (await this.containers(model, version, true)).sort((a, b) => a.index - b.index);
    if (replicas > 0) {
      const template = existing.find((r) => r.state === 'running') ?? existing.find((r) => r.state !== 'dead' && r.state !== 'removing') ?? existing[0];
      if (!template) {
        throw ApplicationFailure.nonRetryable(`${model} ${version} has no containers to scale; deploy it first`, FailureType.VersionNotRunning);
      }
      let imageRef: string | undefined;
      for (let index = 0; index < replicas; index++) {
        const found = existing.find((r) => r.index === index);
        if (found && found.state !== 'dead' && found.state !== 'removing') {
          await ensureRunning(this.docker, found);
          continue;
        }
        if (found) await removeContainer(this.docker, found.id);
        imageRef ??= await this.ensureImage(template.labels[Label.image] ?? '', template.labels[Label.digest] ?? '');
        const info = await this.docker.getContainer(template.id).inspect();
        await createAndStart(this.docker, this.options.network, model, version, index, cloneDefinition(info, imageRef, index));
      }
    }
    for (const replica of existing) {
      if (replica.index < replicas) continue;
      if (replicas === 0 && replica.index === 0) {
        await keepStopped(this.docker, replica);
      } else {
        await removeContainer(this.docker, replica.id);
      }
    }
  }

  /** Removes every container of the version (running or not). A missing version is not an error. */
  async remove(model: string, version: string): Promise<void> {
    for (const replica of await this.containers(model, version, true)) await removeContainer(this.docker, replica.id);
  }

  /**
   * `http://127.0.0.1:<hostPort>` of the first ready replica, else of the first running one (so
   * a health check can report what is wrong). Throws a non-retryable VersionNotRunning
   * ApplicationFailure when no replica runs.
   */
  async endpoint(model: string, version: string): Promise<string> {
    const running = (await this.containers(model, version, false)).filter((r) => r.hostPort);
    if (running.length === 0) {
      throw ApplicationFailure.nonRetryable(`${model} ${version} has no running replica on the Docker engine`, FailureType.VersionNotRunning);
    }
    for (const replica of running) {
      if ((await this.probeReplica(replica)).ok) return `http://127.0.0.1:${replica.hostPort}`;
    }
    return `http://127.0.0.1:${running[0]!.hostPort}`;
  }

  /** The model's (or version's) containers, from the engine's labels. */
  private containers(model: string, version: string | undefined, all: boolean): Promise<Replica[]> {
    return listReplicas(this.docker, this.options.network, model, version, all);
  }

  private ensureImage(image: string, digest: string): Promise<string> {
    return ensureImage(this.docker, image, digest, this.options.registryAuth);
  }

  private probeReplica(replica: Replica): Promise<{ ok: boolean; detail: string }> {
    return probeReplica(replica, this.probeTimeoutMs);
  }
}
