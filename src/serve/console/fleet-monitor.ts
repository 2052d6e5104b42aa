/**
 * What the fleet page shows, kept current by serve: every model × environment (the configured
 * models in their default environment, and every pair that has had a release), the running
 * versions (read through a worker, the same call as `tandem versions`), the active release (its
 * status query: stage, weights, what it waits for) and live per-version series from the gateway's
 * counters. Temporal is polled only while someone watches (a stream is open, or the fleet was read
 * within the last minute), so an idle serve starts no workflows.
 */
import type { Config } from '../../config/schema';
import type { ModelState } from '../../activities/types';
import { snapshotOf } from '../../activities/analysis/gateway/snapshot';
import type { ServeClient } from '../client';
import type { Fleet, FleetEntry } from './fleet-schema';
import { gatewayMetricsSource, readGatewayMetrics, type GatewayMetricsSource } from './gateway-metrics';
import { readPrometheusPoint, type PrometheusConfig } from './prometheus-metrics';
import { MetricsRing } from './metrics-ring';
import { roleOf } from './roles';

export interface FleetMonitorOptions {
  /** how often the fleet is read and pushed; default 2000 ms */
  intervalMs?: number;
  /** running versions are read again after this long, or at once when the active release moves; default 15000 ms */
  versionsMaxAgeMs?: number;
  /** points kept per version; default 150 */
  points?: number;
  temporalUi: { url: string; namespace: string };
  /** warnings (a gateway that cannot be read), once per distinct message */
  warn?: (message: string) => void;
}

type Listener = (fleet: Fleet) => void;

interface PairState {
  model: string;
  environment: string;
  versions?: ModelState;
  readAt?: number;
  reading?: boolean;
  error?: string;
  release?: FleetEntry['release'];
  /** the active release's stage and weights when the versions were last read */
  seen?: string;
  /** the read of running versions in progress */
  pending?: Promise<void>;
}

const WATCH_MS = 60_000;
const PAIRS_EVERY_MS = 30_000;

export class FleetMonitor {
  private readonly pairs = new Map<string, PairState>();
  private readonly ring: MetricsRing;
  private readonly listeners = new Set<Listener>();
  private readonly warned = new Set<string>();
  private readonly metricsSources = new Map<string, MetricsSource>();
  private fleet: Fleet;
  private timer: NodeJS.Timeout | undefined;
  private watchedAt = 0;
  private pairsReadAt = 0;
  private closed = false;
  private started = false;
  private running: Promise<void> | undefined;

  constructor(
    private readonly client: ServeClient,
    private readonly config: Config,
    private readonly options: FleetMonitorOptions,
  ) {
    this.ring = new MetricsRing(options.points ?? 150);
    for (const [name, env] of Object.entries(config.environments)) this.metricsSources.set(name, metricsSourceOf(env));
    for (const [model, { environment }] of Object.entries(config.models)) this.pair(model, environment);
    this.fleet = this.build();
  }

  /** The fleet now; reading it keeps the monitor polling for a minute. The first read waits for one round. */
  async current(): Promise<Fleet> {
    this.watchedAt = Date.now();
    if (!this.started && !this.closed) {
      this.start();
      await this.running;
      await this.settleVersions();
    }
    return this.fleet;
  }

  /** Calls `listener` with every new fleet until the returned function is called. */
  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    this.watchedAt = Date.now();
    if (!this.started && !this.closed) this.start();
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
  }

  /** Runs a round now, then one every intervalMs until closed. */
  private start(): void {
    this.started = true;
    this.running = this.tick().finally(() => {
      if (this.closed) return;
      this.timer = setTimeout(() => this.start(), this.options.intervalMs ?? 2000);
      this.timer.unref();
    });
  }

  private watched(): boolean {
    return this.listeners.size > 0 || Date.now() - this.watchedAt < WATCH_MS;
  }

  private async tick(): Promise<void> {
    try {
      await this.sampleMetrics();
      if (this.watched()) {
        await this.readPairs();
        await this.readReleases();
        for (const state of this.pairs.values()) this.refreshVersions(state);
      }
      this.fleet = this.build();
      for (const listener of this.listeners) listener(this.fleet);
    } catch (error) {
      this.warnOnce(`fleet: ${(error as Error).message}`);
    }
  }

  private pair(model: string, environment: string): PairState {
    const key = `${model}\0${environment}`;
    let state = this.pairs.get(key);
    if (!state && environment in this.config.environments) this.pairs.set(key, (state = { model, environment }));
    return state ?? { model, environment };
  }

  /** Every pair that has had a release of this installation (read every 30 s). */
  private async readPairs(): Promise<void> {
    if (Date.now() - this.pairsReadAt < PAIRS_EVERY_MS) return;
    this.pairsReadAt = Date.now();
    const all = await this.client.releases({ running: false }, 500, 0).catch(() => []);
    for (const release of all) this.pair(release.model, release.environment);
  }

  /** The active releases and, for each, its status (weights, stage, what it waits for). */
  private async readReleases(): Promise<void> {
    const active = await this.client.releases({ running: true }, 200, 3000);
    const activeKeys = new Set<PairState>();
    await Promise.all(
      active.map(async (summary) => {
        const state = this.pair(summary.model, summary.environment);
        activeKeys.add(state);
        const status = await withTimeout(this.client.status(summary.model, summary.environment), 3000).catch(() => undefined);
        state.release = {
          workflowId: summary.workflowId,
          version: summary.version,
          stage: status?.stage ?? summary.stage,
          status: summary.status,
          startTime: summary.startTime,
          ...(status?.waitingFor ?? summary.waitingFor ? { waitingFor: status?.waitingFor ?? summary.waitingFor } : {}),
          ...(status || summary.paused !== undefined ? { paused: status?.paused ?? summary.paused ?? false } : {}),
          ...(status ? { weights: status.weights } : {}),
        };
        if (status && status.releaseId !== summary.workflowId) delete state.release.weights;
      }),
    );
    for (const state of this.pairs.values()) if (!activeKeys.has(state)) delete state.release;
  }

  /**
   * Reads the running versions again when they are old or the active release moved (a new version
   * deployed, weights changed, the release ended). In the background: a read waits for a worker.
   */
  private refreshVersions(state: PairState): void {
    const seen = state.release ? `${state.release.workflowId} ${state.release.stage} ${JSON.stringify(state.release.weights ?? {})}` : 'none';
    const stale = state.readAt === undefined || Date.now() - state.readAt >= (this.options.versionsMaxAgeMs ?? 15_000) || seen !== state.seen;
    if (!stale || state.reading) return;
    state.reading = true;
    state.seen = seen;
    state.pending = this.client
      .versions(state.model, state.environment)
      .then(
        (versions) => {
          state.versions = versions;
          delete state.error;
        },
        (error: Error) => {
          state.error = `running versions could not be read: ${error.message}`;
        },
      )
      .finally(() => {
        state.reading = false;
        state.readAt = Date.now();
      });
  }

  /** Waits (up to 5 s) for the first reads of running versions, so a first answer is not empty. */
  private async settleVersions(): Promise<void> {
    const pending = [...this.pairs.values()].map((s) => s.pending).filter((p): p is Promise<void> => p !== undefined);
    await withTimeout(Promise.all(pending), 5000).catch(() => undefined);
    this.fleet = this.build();
  }

  private async sampleMetrics(): Promise<void> {
    const now = Date.now();
    await Promise.all(
      [...this.metricsSources].map(async ([environment, source]) => {
        if (source.kind === 'none') return;
        const pairs = [...this.pairs.values()].filter((s) => s.environment === environment && s.versions);
        if (pairs.length === 0) return;
        if (source.kind === 'prometheus') {
          await Promise.all(
            pairs.flatMap((state) =>
              state.versions!.running.map(async ({ version }) => {
                const point = await readPrometheusPoint(source.prometheus, { model: state.model, version, namespace: source.namespace }).catch((error: Error) => this.warnOnce(error.message));
                if (point) this.ring.push(seriesKey(state, version), now, point);
              }),
            ),
          );
          return;
        }
        const metrics = await readGatewayMetrics(source.gateway).catch((error: Error) => this.warnOnce(error.message));
        if (!metrics) return;
        for (const state of pairs) {
          for (const { version } of state.versions!.running) this.ring.add(seriesKey(state, version), now, snapshotOf(metrics, state.model, version));
        }
      }),
    );
    const live = new Set([...this.pairs.values()].flatMap((s) => (s.versions?.running ?? []).map((v) => seriesKey(s, v.version))));
    this.ring.prune((key) => live.has(key));
  }

  private build(): Fleet {
    const entries = [...this.pairs.values()]
      .sort((a, b) => a.model.localeCompare(b.model) || a.environment.localeCompare(b.environment))
      .map((state): FleetEntry => {
        const env = this.config.environments[state.environment]!;
        const source = this.metricsSources.get(state.environment)!;
        const running = state.versions?.running ?? [];
        const traffic = state.versions?.traffic;
        const weights = state.release?.weights ?? traffic?.weights ?? {};
        const releasing = state.release?.version;
        const versions = running.map((v) => {
          const metrics = this.ring.get(seriesKey(state, v.version));
          return {
            version: v.version,
            role: roleOf(v, running, weights, traffic?.stable, releasing),
            weight: weights[v.version] ?? 0,
            replicas: v.replicas,
            readyReplicas: v.readyReplicas,
            commit: v.commit,
            image: v.image,
            digest: v.digest,
            deployedAt: v.deployedAt,
            ...(metrics ? { metrics } : {}),
          };
        });
        return {
          model: state.model,
          environment: state.environment,
          target: env.target.kind,
          versions,
          ...(state.release ? { release: state.release } : {}),
          metrics: source.kind === 'none' ? { source: 'none', note: source.note } : { source: source.kind },
          ...(state.error ? { error: state.error } : {}),
          ...(state.readAt !== undefined ? { readAt: new Date(state.readAt).toISOString() } : {}),
        };
      });
    return { generatedAt: new Date().toISOString(), temporalUi: this.options.temporalUi, entries };
  }

  private warnOnce(message: string): undefined {
    if (!this.warned.has(message)) {
      this.warned.add(message);
      this.options.warn?.(message);
    }
    return undefined;
  }
}

type MetricsSource =
  | { kind: 'gateway'; gateway: GatewayMetricsSource }
  | { kind: 'prometheus'; prometheus: PrometheusConfig; namespace: string }
  | { kind: 'none'; note: string };

/** Where an environment's live series come from: the tandem gateway's counters, else the Prometheus analysis reads, else none (with why). */
function metricsSourceOf(env: Config['environments'][string]): MetricsSource {
  const gateway = gatewayMetricsSource(env);
  if (gateway) return { kind: 'gateway', gateway };
  const prometheus = env.analysis?.prometheus;
  if (prometheus) return { kind: 'prometheus', prometheus, namespace: env.target.kind === 'kubernetes' ? env.target.namespace : '' };
  return { kind: 'none', note: 'no tandem gateway routes this environment and it names no analysis.prometheus, so there are no live charts' };
}

function seriesKey(state: { model: string; environment: string }, version: string): string {
  return `${state.model}\0${state.environment}\0${version}`;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
