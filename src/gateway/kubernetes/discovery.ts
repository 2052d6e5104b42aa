/**
 * Kubernetes mode of the gateway: a Gateway API data plane. Informers (list + watch) follow
 * GatewayClasses, Gateways, HTTPRoutes, Services and EndpointSlices in every namespace; every
 * change rebuilds the routing table (routing.ts) and swaps it whole, so the proxy routes what the
 * HTTPRoutes say within milliseconds of the API server reporting it. Endpoints are the ready
 * addresses of the EndpointSlices (pod IPs), so no kube-proxy is involved. Statuses are written
 * back: GatewayClass Accepted, Gateway Accepted/Programmed with its listeners, HTTPRoute parent
 * status Accepted/ResolvedRefs for this controller (entries of other controllers are kept).
 */
import * as k8s from '@kubernetes/client-node';
import type { TrafficState } from '../../shared/traffic-state';
import type { EndpointTable, RouteDiscovery } from '../discovery';
import {
  type ClusterObjects,
  type ClusterRouting,
  type Condition,
  type Desired,
  type Gateway,
  type GatewayClass,
  type GatewayStatus,
  type HTTPRoute,
  type ReferenceGrant,
  type RouteParentStatus,
  buildRouting,
  sameConditions,
  stampConditions,
} from './routing';
import { GATEWAY_API_GROUP, GATEWAY_API_VERSION } from '../../naming/kubernetes';
import { coalesced } from '../../shared/coalesce';

export interface KubernetesDiscoveryOptions {
  /** the GatewayClass whose Gateways this gateway serves */
  gatewayClass: string;
  /** the controllerName that class must have */
  controllerName: string;
  log?: (message: string) => void;
  /** delay before restarting a failed watch; default 2000 ms */
  retryMs?: number;
}

type Informer<T extends k8s.KubernetesObject> = k8s.Informer<T> & k8s.ObjectCache<T>;

/** What the informers hold, by kind. */
interface Informers {
  gatewayClasses: Informer<GatewayClass & k8s.KubernetesObject>;
  gateways: Informer<Gateway & k8s.KubernetesObject>;
  routes: Informer<HTTPRoute & k8s.KubernetesObject>;
  services: Informer<k8s.V1Service>;
  endpointSlices: Informer<k8s.V1EndpointSlice>;
  referenceGrants: Informer<ReferenceGrant & k8s.KubernetesObject>;
}

export class KubernetesDiscovery implements RouteDiscovery {
  readonly routesFrom: string;
  private routing: ClusterRouting = { models: {}, endpoints: new Map(), servedBy: {}, gateways: [], routes: [] };
  private readonly informers: Informers;
  private readonly custom: k8s.CustomObjectsApi;
  private readonly log: (message: string) => void;
  private stopped = false;
  private rebuildTimer?: NodeJS.Timeout;
  private lastSummary = '';

  constructor(
    kubeConfig: k8s.KubeConfig,
    private readonly options: KubernetesDiscoveryOptions,
  ) {
    this.log = options.log ?? (() => undefined);
    this.routesFrom = `the HTTPRoutes of Gateways of GatewayClass "${options.gatewayClass}"`;
    this.custom = kubeConfig.makeApiClient(k8s.CustomObjectsApi);
    const core = kubeConfig.makeApiClient(k8s.CoreV1Api);
    const discovery = kubeConfig.makeApiClient(k8s.DiscoveryV1Api);
    const custom = this.custom;
    const gatewayApi = (plural: string) => () =>
      custom.listClusterCustomObject({ group: GATEWAY_API_GROUP, version: GATEWAY_API_VERSION, plural }) as Promise<k8s.KubernetesListObject<never>>;
    this.informers = {
      gatewayClasses: k8s.makeInformer(kubeConfig, `/apis/${GATEWAY_API_GROUP}/${GATEWAY_API_VERSION}/gatewayclasses`, gatewayApi('gatewayclasses')),
      gateways: k8s.makeInformer(kubeConfig, `/apis/${GATEWAY_API_GROUP}/${GATEWAY_API_VERSION}/gateways`, gatewayApi('gateways')),
      routes: k8s.makeInformer(kubeConfig, `/apis/${GATEWAY_API_GROUP}/${GATEWAY_API_VERSION}/httproutes`, gatewayApi('httproutes')),
      services: k8s.makeInformer(kubeConfig, '/api/v1/services', () => core.listServiceForAllNamespaces()),
      endpointSlices: k8s.makeInformer(kubeConfig, '/apis/discovery.k8s.io/v1/endpointslices', () => discovery.listEndpointSliceForAllNamespaces()),
      // v1beta1: the version every Gateway API release serves (v1 only from v1.5)
      referenceGrants: k8s.makeInformer(kubeConfig, `/apis/${GATEWAY_API_GROUP}/v1beta1/referencegrants`, () =>
        custom.listClusterCustomObject({ group: GATEWAY_API_GROUP, version: 'v1beta1', plural: 'referencegrants' }) as Promise<k8s.KubernetesListObject<never>>,
      ),
    };
  }

  /**
   * Lists every kind and starts watching. Rejects naming the resource when a first list fails
   * (no permission, Gateway API CRDs not installed, API server unreachable); later failures are
   * logged and the watch restarts.
   */
  async start(): Promise<void> {
    for (const [name, informer] of Object.entries(this.informers) as Array<[string, Informer<k8s.KubernetesObject>]>) {
      let failed: unknown;
      const onStartError = (error: unknown): void => {
        failed = error;
      };
      informer.on('error', onStartError);
      await informer.start().catch(onStartError);
      informer.off('error', onStartError);
      if (failed !== undefined) {
        await this.stopInformers();
        throw new Error(`cannot list and watch ${resourceOf(name)}: ${describe(failed)}`);
      }
      informer.on('change', () => this.soon());
      informer.on('error', (error: unknown) => {
        if (this.stopped) return;
        this.log(`gateway: watching ${resourceOf(name)} failed (${describe(error)}); retrying`);
        setTimeout(() => {
          if (!this.stopped) informer.start().catch(() => undefined);
        }, this.options.retryMs ?? 2000).unref();
      });
    }
    this.rebuild();
  }

  stop(): void {
    this.stopped = true;
    if (this.rebuildTimer) clearTimeout(this.rebuildTimer);
    void this.stopInformers();
  }

  routes(): Record<string, TrafficState> {
    return this.routing.models;
  }

  endpoints(model: string, version: string): string[] {
    return this.routing.endpoints.get(model)?.get(version) ?? [];
  }

  snapshot(): EndpointTable {
    return this.routing.endpoints;
  }

  /** Rebuilds from the informers' caches now (they are kept current by their watches). */
  refresh(): Promise<void> {
    this.rebuild();
    return Promise.resolve();
  }

  /** Coalesces a burst of watch events (a route and its status, a deploy's slices) into one rebuild. */
  private soon(): void {
    if (this.rebuildTimer || this.stopped) return;
    this.rebuildTimer = setTimeout(() => {
      this.rebuildTimer = undefined;
      this.rebuild();
    }, 10);
    this.rebuildTimer.unref();
  }

  private rebuild(): void {
    const objects: ClusterObjects = {
      gatewayClasses: this.informers.gatewayClasses.list(),
      gateways: this.informers.gateways.list(),
      routes: this.informers.routes.list(),
      services: this.informers.services.list() as ClusterObjects['services'],
      endpointSlices: this.informers.endpointSlices.list() as ClusterObjects['endpointSlices'],
      referenceGrants: this.informers.referenceGrants.list(),
    };
    this.routing = buildRouting(objects, { gatewayClass: this.options.gatewayClass, controllerName: this.options.controllerName });
    const summary = JSON.stringify(this.routing.models);
    if (summary !== this.lastSummary) {
      this.lastSummary = summary;
      this.log(`gateway: routes from the cluster: ${summary}`);
    }
    void this.writeStatuses();
  }

  /** Writes the statuses of the last rebuild; one writer at a time, re-run when a rebuild came meanwhile. */
  private readonly writeStatuses = coalesced(
    () => this.writeOnce(this.routing),
    () => this.stopped,
  );

  private async writeOnce(routing: ClusterRouting): Promise<void> {
    const now = new Date();
    if (routing.gatewayClass) {
      const current = this.informers.gatewayClasses.get(routing.gatewayClass.name);
      if (current && !sameConditions(mergeConditions(current.status?.conditions, routing.gatewayClass.status.conditions), current.status?.conditions)) {
        const conditions = stampConditions(mergeConditions(current.status?.conditions, routing.gatewayClass.status.conditions), current.status?.conditions, now);
        await this.put('gatewayclasses', current, { ...current.status, conditions });
      }
    }
    for (const desired of routing.gateways) {
      const current = this.informers.gateways.get(desired.name, desired.namespace);
      if (!current || sameGatewayStatus(current.status, desired.status)) continue;
      await this.put('gateways', current, stampGateway(desired, current.status, now));
    }
    for (const desired of routing.routes) {
      const current = this.informers.routes.get(desired.name, desired.namespace);
      if (!current) continue;
      const others = (current.status?.parents ?? []).filter((p) => p.controllerName !== this.options.controllerName);
      const mine = (current.status?.parents ?? []).filter((p) => p.controllerName === this.options.controllerName);
      if (sameParents(mine, desired.status)) continue;
      const parents = [...others, ...desired.status.map((p) => stampParent(p, mine, now))];
      await this.put('httproutes', current, { ...current.status, parents });
    }
  }

  /** Replaces the object's status (optimistic: a conflict means a newer object, whose watch event brings another write). */
  private async put(plural: string, object: k8s.KubernetesObject & { status?: unknown }, status: unknown): Promise<void> {
    const name = object.metadata?.name ?? '';
    const namespace = object.metadata?.namespace;
    const body = { ...object, status };
    try {
      if (namespace) await this.custom.replaceNamespacedCustomObjectStatus({ group: GATEWAY_API_GROUP, version: GATEWAY_API_VERSION, namespace, plural, name, body });
      else await this.custom.replaceClusterCustomObjectStatus({ group: GATEWAY_API_GROUP, version: GATEWAY_API_VERSION, plural, name, body });
    } catch (error) {
      if (statusCode(error) === 409 || statusCode(error) === 404) return;
      this.log(`gateway: cannot update the status of ${plural}.${GATEWAY_API_GROUP} ${namespace ? `${namespace}/` : ''}${name}: ${describe(error)}`);
    }
  }

  private async stopInformers(): Promise<void> {
    await Promise.all(Object.values(this.informers).map((i: Informer<k8s.KubernetesObject>) => i.stop().catch(() => undefined)));
  }
}

/** The existing conditions with ours replacing those of the same type (others, e.g. SupportedVersion, kept). */
function mergeConditions(existing: readonly Condition[] | undefined, ours: readonly Condition[]): Condition[] {
  const types = new Set(ours.map((c) => c.type));
  return [...(existing ?? []).filter((c) => !types.has(c.type)), ...ours];
}

function sameGatewayStatus(current: GatewayStatus | undefined, desired: GatewayStatus): boolean {
  if (!sameConditions(current?.conditions, desired.conditions)) return false;
  const a = current?.listeners ?? [];
  const b = desired.listeners ?? [];
  return (
    a.length === b.length &&
    a.every((l, i) => {
      const d = b[i]!;
      return l.name === d.name && l.attachedRoutes === d.attachedRoutes && JSON.stringify(l.supportedKinds) === JSON.stringify(d.supportedKinds) && sameConditions(l.conditions, d.conditions);
    })
  );
}

function stampGateway(desired: Desired<GatewayStatus>, current: GatewayStatus | undefined, now: Date): GatewayStatus {
  return {
    ...current,
    conditions: stampConditions(desired.status.conditions ?? [], current?.conditions, now),
    listeners: (desired.status.listeners ?? []).map((l) => ({
      ...l,
      conditions: stampConditions(l.conditions, current?.listeners?.find((c) => c.name === l.name)?.conditions, now),
    })),
  };
}

const refKey = (p: RouteParentStatus): string => JSON.stringify([p.parentRef.namespace, p.parentRef.name, p.parentRef.sectionName, p.parentRef.port]);

function sameParents(current: readonly RouteParentStatus[], desired: readonly RouteParentStatus[]): boolean {
  return current.length === desired.length && current.every((c, i) => refKey(c) === refKey(desired[i]!) && sameConditions(c.conditions, desired[i]!.conditions));
}

function stampParent(parent: RouteParentStatus, previous: readonly RouteParentStatus[], now: Date): RouteParentStatus {
  const before = previous.find((p) => refKey(p) === refKey(parent));
  return { ...parent, conditions: stampConditions(parent.conditions, before?.conditions, now) };
}

function resourceOf(informer: string): string {
  return (
    { gatewayClasses: 'gatewayclasses.gateway.networking.k8s.io', gateways: 'gateways.gateway.networking.k8s.io', routes: 'httproutes.gateway.networking.k8s.io', services: 'services', endpointSlices: 'endpointslices.discovery.k8s.io', referenceGrants: 'referencegrants.gateway.networking.k8s.io' }[informer] ?? informer
  );
}

function statusCode(error: unknown): number | undefined {
  const e = error as { code?: unknown; statusCode?: unknown };
  const code = typeof e?.code === 'number' ? e.code : typeof e?.statusCode === 'number' ? e.statusCode : undefined;
  return code;
}

/** An API error as one line: status code and the server's message when there is one. */
function describe(error: unknown): string {
  const e = error as { code?: number; statusCode?: number; body?: unknown; message?: string };
  let message = e?.message ?? String(error);
  const body = typeof e?.body === 'string' ? safeJson(e.body) : e?.body;
  if (body && typeof body === 'object' && typeof (body as { message?: unknown }).message === 'string') message = (body as { message: string }).message;
  const code = statusCode(error);
  return code ? `${code}: ${message}` : message;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
