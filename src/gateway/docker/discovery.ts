/**
 * Where the gateway learns the replica endpoints of every version: the Docker engine's labels.
 * Running containers labelled `tandem.managed=true` are listed with their published host port;
 * the table is refreshed when the engine reports a container event and periodically, so a
 * restarted gateway (or a restarted container with a new port) is routed again within seconds.
 */
import type Docker from 'dockerode';
import { Label, publishedPort } from '../../naming/docker';
import type { EndpointDiscovery, EndpointTable } from '../discovery';
import { coalesced } from '../../shared/coalesce';

export interface DiscoveryOptions {
  /** periodic refresh; default 5000 ms */
  refreshIntervalMs?: number;
  log?: (message: string) => void;
}

const CONTAINER_EVENTS = ['start', 'die', 'stop', 'kill', 'destroy', 'restart', 'pause', 'unpause'];

/**
 * Keeps an EndpointTable in step with the engine. `refresh()` replaces the table whole; readers
 * never see a half-built one. Errors talking to the engine are logged and the last table is kept.
 */
export class DockerDiscovery implements EndpointDiscovery {
  private table: EndpointTable = new Map();
  private timer?: NodeJS.Timeout;
  private events?: NodeJS.ReadableStream & { destroy?: () => void };
  private debounce?: NodeJS.Timeout;
  private stopped = false;
  private readonly log: (message: string) => void;

  constructor(
    private readonly docker: Docker,
    private readonly options: DiscoveryOptions = {},
  ) {
    this.log = options.log ?? (() => undefined);
  }

  /** Reads the table once, then follows container events and refreshes periodically. */
  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.options.refreshIntervalMs ?? 5000);
    this.timer.unref();
    void this.followEvents();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.debounce) clearTimeout(this.debounce);
    this.events?.destroy?.();
  }

  /** Base URLs of the version's running replicas (empty when none). */
  endpoints(model: string, version: string): string[] {
    return this.table.get(model)?.get(version) ?? [];
  }

  /** The whole table, for the admin API. */
  snapshot(): EndpointTable {
    return this.table;
  }

  /**
   * Re-reads the engine. Concurrent callers share one listing; a call made while one runs
   * schedules exactly one more, so the result is never older than the call.
   */
  readonly refresh: () => Promise<void> = coalesced(async () => {
    try {
      this.table = await this.read();
    } catch (error) {
      this.log(`gateway: cannot list containers from the Docker engine: ${(error as Error).message}`);
    }
  });

  private async read(): Promise<EndpointTable> {
    const containers = await this.docker.listContainers({ filters: { label: [`${Label.managed}=true`], status: ['running'] } });
    const table: EndpointTable = new Map();
    for (const info of containers.sort((a, b) => Number(a.Labels[Label.replica]) - Number(b.Labels[Label.replica]))) {
      const model = info.Labels[Label.model];
      const version = info.Labels[Label.version];
      const published = publishedPort(info);
      if (!model || !version || !published) continue;
      const host = published.IP && published.IP !== '0.0.0.0' && published.IP !== '::' ? published.IP : '127.0.0.1';
      const url = `http://${host.includes(':') ? `[${host}]` : host}:${published.PublicPort}`;
      const versions = table.get(model) ?? new Map<string, string[]>();
      const urls = versions.get(version) ?? [];
      if (!urls.includes(url)) urls.push(url);
      versions.set(version, urls);
      table.set(model, versions);
    }
    return table;
  }

  private async followEvents(): Promise<void> {
    while (!this.stopped) {
      try {
        const stream = (await this.docker.getEvents({
          filters: { type: ['container'], label: [`${Label.managed}=true`], event: CONTAINER_EVENTS },
        })) as NodeJS.ReadableStream & { destroy?: () => void };
        this.events = stream;
        await new Promise<void>((resolve) => {
          stream.on('data', () => this.soon());
          stream.on('end', resolve);
          stream.on('close', resolve);
          stream.on('error', resolve);
        });
      } catch (error) {
        this.log(`gateway: cannot follow Docker events: ${(error as Error).message}`);
      }
      if (this.stopped) return;
      await new Promise((resolve) => setTimeout(resolve, 2000).unref());
      void this.refresh();
    }
  }

  /** Coalesces bursts of events (a deploy starts several containers) into one refresh. */
  private soon(): void {
    if (this.debounce) return;
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      void this.refresh();
    }, 100);
    this.debounce.unref();
  }
}
