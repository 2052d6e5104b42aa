/**
 * The Docker target: each version of a model runs as `replicas` containers on one Docker engine,
 * labelled with everything tandem knows about it (see labels.ts), joined to a user-defined
 * network and published on 127.0.0.1 with a random host port, so the gateway and the health
 * checks on the host reach every replica directly. The engine is the source of truth: nothing is
 * remembered between calls, every method reads the labels back.
 *
 * Serving replicas run under the `always` restart policy: an engine that restarts (even after a
 * SIGKILL, without live-restore) starts them again. `unless-stopped` is not enough there: the
 * engine stops the containers it finds running as if a user had, and then leaves them stopped. A
 * replica kept stopped for a version scaled to 0 gets the `no` policy, so it stays stopped.
 */
import { abortableSleep } from '../wait';
import { ApplicationFailure } from '@temporalio/common';
import type Docker from 'dockerode';
import { createHash } from 'node:crypto';
import { Socket } from 'node:net';
import { FailureType } from '../../errors';
import { describeNetworkError, fetchText } from '../../shared/http';
import type { DeployedVersion, RunningVersion } from '../types';
import type { ProgressFn, Target, VersionWorkload } from '../target';
import { Label, containerName, labelFilters, networkAlias, publishedPort } from '../../naming/docker';
import { repositoryOf } from '../../naming/image';
import { memoryBytes, nanoCpus } from './resources';

/** Credentials for pulling from a registry that needs them (the local registry does not). */
export interface RegistryAuth {
  username: string;
  password: string;
  /** registry host[:port]; Docker derives it from the image when absent */
  serveraddress?: string;
}

export interface DockerTargetOptions {
  /** user-defined bridge network the containers join; created when missing */
  network: string;
  registryAuth?: RegistryAuth;
  /** per-request timeout of the HTTP readiness probe; default 2000 ms */
  probeTimeoutMs?: number;
  /** pause between readiness polls in waitReady; default 500 ms */
  pollIntervalMs?: number;
}

/** What one replica looks like to the target: its container, state and published address. */
interface Replica {
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
const SERVING: Docker.HostRestartPolicy = { Name: 'always' };
const STOPPED: Docker.HostRestartPolicy = { Name: 'no' };

/** States a replica can be started from; `dead` and `removing` ones are replaced instead. */
const STARTABLE = new Set(['created', 'exited', 'paused']);

/** How long list() waits for a replica's port to accept a TCP connection before trusting the engine's state. */
const CONNECT_TIMEOUT_MS = 500;

const LOG_LINES = 20;

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
    await this.ensureNetwork();
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
    for (const replica of discard) await this.removeContainer(replica.id);

    const deployedAt = [...keep.values()][0]?.labels[Label.deployedAt] ?? new Date().toISOString();
    for (let index = 0; index < spec.replicas; index++) {
      const kept = keep.get(index);
      if (kept) {
        await this.ensureRunning(kept);
        continue;
      }
      await this.createReplica(workload, imageRef, index, configHash, deployedAt);
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
          throw ApplicationFailure.nonRetryable(`${model} ${version} cannot become ready: ${await this.describeCrash(replica, info)}`, FailureType.DeployFailed);
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
          await this.ensureRunning(found);
          continue;
        }
        if (found) await this.removeContainer(found.id);
        imageRef ??= await this.ensureImage(template.labels[Label.image] ?? '', template.labels[Label.digest] ?? '');
        await this.cloneReplica(template.id, imageRef, model, version, index);
      }
    }
    for (const replica of existing) {
      if (replica.index < replicas) continue;
      if (replicas === 0 && replica.index === 0) {
        await this.keepStopped(replica);
      } else {
        await this.removeContainer(replica.id);
      }
    }
  }

  /** Removes every container of the version (running or not). A missing version is not an error. */
  async remove(model: string, version: string): Promise<void> {
    for (const replica of await this.containers(model, version, true)) await this.removeContainer(replica.id);
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

  // ---------------------------------------------------------------- engine helpers

  /** The model's (or version's) containers, from the engine's labels. */
  private async containers(model: string, version: string | undefined, all: boolean): Promise<Replica[]> {
    const infos = await this.docker.listContainers({ all, filters: { label: labelFilters(model, version) } });
    return infos.map((info) => {
      const published = publishedPort(info);
      return {
        id: info.Id,
        name: (info.Names[0] ?? '').replace(/^\//, ''),
        index: Number(info.Labels[Label.replica]),
        labels: info.Labels,
        state: info.State,
        status: info.Status ?? '',
        hostPort: published?.PublicPort,
        address: info.NetworkSettings?.Networks?.[this.options.network]?.IPAddress || undefined,
      };
    });
  }

  private async ensureNetwork(): Promise<void> {
    const name = this.options.network;
    const networks = await this.docker.listNetworks({ filters: { name: [name] } });
    if (networks.some((n) => n.Name === name)) return;
    try {
      await this.docker.createNetwork({ Name: name, Driver: 'bridge', Labels: { [Label.managed]: 'true' }, CheckDuplicate: true });
    } catch (error) {
      if (statusOf(error) !== 409) throw error;
    }
  }

  /**
   * A reference the engine can run: the local image when it is the wanted one, else pulled from
   * the registry (by digest when one is given).
   */
  private async ensureImage(image: string, digest: string): Promise<string> {
    const repository = repositoryOf(image);
    if (digest) {
      const byDigest = `${repository}@${digest}`;
      if (await this.hasImage(byDigest)) return byDigest;
      const local = await this.inspectImage(image);
      if (local && (local.Id === digest || (local.RepoDigests ?? []).includes(byDigest))) return image;
      await this.pull(byDigest);
      return byDigest;
    }
    if (await this.hasImage(image)) return image;
    await this.pull(image);
    return image;
  }

  private async hasImage(ref: string): Promise<boolean> {
    return (await this.inspectImage(ref)) !== undefined;
  }

  private async inspectImage(ref: string): Promise<Docker.ImageInspectInfo | undefined> {
    try {
      return await this.docker.getImage(ref).inspect();
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  private async pull(ref: string): Promise<void> {
    const auth = this.options.registryAuth;
    let stream: NodeJS.ReadableStream;
    try {
      stream = await this.docker.pull(ref, auth ? { authconfig: auth } : {});
    } catch (error) {
      throw pullFailure(ref, error);
    }
    const events = await new Promise<Array<{ error?: string }>>((resolve, reject) => {
      this.docker.modem.followProgress(stream, (err: unknown, output: Array<{ error?: string }>) => (err ? reject(pullFailure(ref, err)) : resolve(output)));
    });
    const failed = events.find((e) => e.error);
    if (failed) throw pullFailure(ref, new Error(failed.error));
  }

  private async createReplica(workload: VersionWorkload, imageRef: string, index: number, configHash: string, deployedAt: string): Promise<void> {
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
      NetworkMode: this.options.network,
      PortBindings: { [`${spec.port}/tcp`]: [{ HostIp: '127.0.0.1', HostPort: '' }] },
      RestartPolicy: SERVING,
    };
    try {
      if (spec.resources.cpu) hostConfig.NanoCpus = nanoCpus(spec.resources.cpu);
      if (spec.resources.memory) hostConfig.Memory = memoryBytes(spec.resources.memory);
    } catch (error) {
      throw ApplicationFailure.nonRetryable((error as Error).message, FailureType.DeployFailed);
    }
    await this.createAndStart(model, version, index, {
      Image: imageRef,
      Labels: labels,
      Env: [`PORT=${spec.port}`, `TANDEM_MODEL=${model}`, `TANDEM_VERSION=${version}`],
      ExposedPorts: { [`${spec.port}/tcp`]: {} },
      HostConfig: hostConfig,
    });
  }

  /** A new replica with the configuration `templateId` records, running `imageRef`. */
  private async cloneReplica(templateId: string, imageRef: string, model: string, version: string, index: number): Promise<void> {
    const info = await this.docker.getContainer(templateId).inspect();
    await this.createAndStart(model, version, index, {
      Image: imageRef,
      Labels: { ...info.Config.Labels, [Label.replica]: String(index) },
      Env: info.Config.Env,
      ExposedPorts: info.Config.ExposedPorts,
      HostConfig: {
        NetworkMode: info.HostConfig.NetworkMode,
        PortBindings: info.HostConfig.PortBindings,
        RestartPolicy: SERVING,
        NanoCpus: info.HostConfig.NanoCpus || undefined,
        Memory: info.HostConfig.Memory || undefined,
      },
    });
  }

  /**
   * Creates the container of replica `index` on the target's network and starts it. When its name
   * is taken by a container of the same configuration (a concurrent apply or scale made it), that
   * one is started instead; any other container holding the name is a non-retryable DeployFailed.
   */
  private async createAndStart(
    model: string,
    version: string,
    index: number,
    options: Omit<Docker.ContainerCreateOptions, 'name' | 'NetworkingConfig'> & { Labels: Record<string, string> },
  ): Promise<void> {
    const name = containerName(model, version, index);
    let id: string;
    try {
      const container = await this.docker.createContainer({
        ...options,
        name,
        NetworkingConfig: { EndpointsConfig: { [this.options.network]: { Aliases: [networkAlias(model, version)] } } },
      });
      id = container.id;
    } catch (error) {
      if (statusOf(error) !== 409) throw error;
      const owner = await this.docker.getContainer(name).inspect().catch(() => undefined);
      if (!owner || owner.Config.Labels?.[Label.configHash] !== options.Labels[Label.configHash]) {
        throw ApplicationFailure.nonRetryable(`container name ${name} is taken by a container tandem did not create for this version; remove it`, FailureType.DeployFailed);
      }
      id = owner.Id;
    }
    await this.startContainer(id);
  }

  /** Starts a replica that is not running (unpauses a paused one) under the serving restart policy. */
  private async ensureRunning(replica: Replica): Promise<void> {
    if (!STARTABLE.has(replica.state)) return; // running or restarting
    const container = this.docker.getContainer(replica.id);
    if (replica.state === 'paused') {
      await container.unpause();
      return;
    }
    await container.update({ RestartPolicy: SERVING });
    await this.startContainer(replica.id);
  }

  /** Stops a replica and keeps it stopped, also across engine restarts. */
  private async keepStopped(replica: Replica): Promise<void> {
    await this.docker.getContainer(replica.id).update({ RestartPolicy: STOPPED });
    if (replica.state === 'running' || replica.state === 'restarting' || replica.state === 'paused') await this.stopContainer(replica.id);
  }

  private async startContainer(id: string): Promise<void> {
    try {
      await this.docker.getContainer(id).start();
    } catch (error) {
      if (statusOf(error) === 304) return; // already started
      throw error;
    }
  }

  private async stopContainer(id: string): Promise<void> {
    try {
      await this.docker.getContainer(id).stop({ t: 5 });
    } catch (error) {
      if (statusOf(error) === 304 || statusOf(error) === 404) return;
      throw error;
    }
  }

  private async removeContainer(id: string): Promise<void> {
    try {
      await this.docker.getContainer(id).remove({ force: true });
    } catch (error) {
      const status = statusOf(error);
      if (status === 404 || (status === 409 && /already in progress/.test(String(error)))) return;
      throw error;
    }
  }

  private async describeCrash(replica: Replica, info: Docker.ContainerInspectInfo): Promise<string> {
    const exitCode = info.State.Running ? await this.lastExitCode(replica.id, info.Created) : info.State.ExitCode;
    const how = info.State.OOMKilled ? 'was killed for using too much memory' : `exited with code ${exitCode ?? 'unknown'}`;
    const restarts = info.RestartCount > 0 ? ` (restarted ${info.RestartCount} time${info.RestartCount === 1 ? '' : 's'})` : '';
    const logs = await this.lastLogLines(replica.id);
    return `container ${replica.name} ${how}${restarts}${logs ? `; last log lines:\n${logs}` : '; it wrote no logs'}`;
  }

  /** The exit code of the container's last `die` event (a restarted container's state no longer holds it). */
  private async lastExitCode(id: string, created: string): Promise<string | undefined> {
    const since = Math.floor(new Date(created).getTime() / 1000);
    const until = Math.ceil(Date.now() / 1000);
    const stream = await this.docker.getEvents({ since, until, filters: { container: [id], event: ['die'] } });
    const text = await readAll(stream);
    let code: string | undefined;
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      try {
        const event = JSON.parse(line) as { Actor?: { Attributes?: Record<string, string> } };
        code = event.Actor?.Attributes?.exitCode ?? code;
      } catch {
        // a partial line: ignore
      }
    }
    return code;
  }

  private async lastLogLines(id: string): Promise<string> {
    try {
      const raw = (await this.docker.getContainer(id).logs({ stdout: true, stderr: true, tail: LOG_LINES, follow: false })) as unknown as Buffer;
      return printable(demuxLogs(raw));
    } catch {
      return '';
    }
  }

  /** HTTP GET of the health path through the published port. */
  private async probeReplica(replica: Replica): Promise<{ ok: boolean; detail: string }> {
    if (replica.state !== 'running') return { ok: false, detail: `${replica.name} is ${replica.state}` };
    if (!replica.hostPort) return { ok: false, detail: `${replica.name} has no published port yet` };
    const path = replica.labels[Label.healthPath] ?? '/healthz';
    const url = `http://127.0.0.1:${replica.hostPort}${path}`;
    try {
      const { response } = await fetchText(url, this.probeTimeoutMs);
      if (response.ok) return { ok: true, detail: `${replica.name}: GET ${path} → ${response.status}` };
      return { ok: false, detail: `${replica.name}: GET ${path} → status ${response.status}` };
    } catch (error) {
      return { ok: false, detail: `${replica.name}: GET ${path} → ${describeNetworkError(error)}` };
    }
  }
}

/** Hash of what makes a replica what it is; a change means the container must be replaced. */
function hashConfig(workload: VersionWorkload): string {
  const { image, digest, spec } = workload;
  const basis = JSON.stringify([image, digest, spec.port, spec.health.path, spec.resources.cpu ?? '', spec.resources.memory ?? '']);
  return createHash('sha256').update(basis).digest('hex').slice(0, 16);
}

function statusOf(error: unknown): number | undefined {
  return (error as { statusCode?: number }).statusCode;
}

function pullFailure(ref: string, error: unknown): Error {
  const text = String((error as { json?: { message?: string } }).json?.message ?? (error as Error).message ?? error);
  if (statusOf(error) === 404 || /not found|manifest unknown|does not exist|unauthorized|denied/i.test(text)) {
    return ApplicationFailure.nonRetryable(`image ${ref} cannot be pulled: ${text.trim()}`, FailureType.DeployFailed);
  }
  return new Error(`pulling image ${ref} failed: ${text.trim()}`);
}

/** Text of a non-TTY container log buffer (8-byte frame headers: stream, 0, 0, 0, size32). */
export function demuxLogs(raw: Buffer | string): string {
  if (typeof raw === 'string') return raw;
  const parts: string[] = [];
  let offset = 0;
  while (offset + 8 <= raw.length) {
    const kind = raw[offset];
    if (kind !== 0 && kind !== 1 && kind !== 2) return raw.toString('utf8');
    const size = raw.readUInt32BE(offset + 4);
    parts.push(raw.subarray(offset + 8, offset + 8 + size).toString('utf8'));
    offset += 8 + size;
  }
  return parts.join('');
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer | string>) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Whether a replica is ready by the engine's account plus a cheap check: running, not failing or
 * still starting a Docker health check, and its model port not refusing TCP connections on the
 * network. An address that does not answer within CONNECT_TIMEOUT_MS (not reachable from here)
 * leaves the engine's state to decide.
 */
async function readyByState(replica: Replica): Promise<boolean> {
  if (replica.state !== 'running' || /\((unhealthy|health: starting)\)/.test(replica.status)) return false;
  const port = Number(replica.labels[Label.port]);
  if (!replica.address || !port) return true;
  return (await connect(replica.address, port, CONNECT_TIMEOUT_MS)) !== 'refused';
}

/** Opens and closes one TCP connection: `open`, `refused`, or `unknown` (timeout, unreachable). */
function connect(host: string, port: number, timeoutMs: number): Promise<'open' | 'refused' | 'unknown'> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (result: 'open' | 'refused' | 'unknown') => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(timeoutMs, () => done('unknown'));
    socket.once('connect', () => done('open'));
    socket.once('error', (error: NodeJS.ErrnoException) => done(error.code === 'ECONNREFUSED' ? 'refused' : 'unknown'));
    socket.connect(port, host);
  });
}

/** Log text without terminal escapes, other control characters and trailing blank space. */
function printable(text: string): string {
  return text
    .replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '')
    .replace(/[^\S\n\t ]|[\x00-\x08\x0b-\x1f\x7f]/g, '')
    .replace(/[ \t]+$/gm, '')
    .trim();
}
