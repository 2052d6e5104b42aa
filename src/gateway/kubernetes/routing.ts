/**
 * The Gateway API subset tandem's gateway implements, free of I/O: from the cluster's
 * GatewayClasses, Gateways, HTTPRoutes, Services and EndpointSlices, the routing table the proxy
 * uses (the same TrafficState per model as in Docker mode), the endpoints of each version, and
 * the status each object should carry.
 *
 * What is implemented, and nothing more:
 *   - GatewayClasses named by the gateway's `--gateway-class` whose controllerName is
 *     `tandem.dev/gateway-controller`; Gateways of that class; HTTP listeners only (other
 *     protocols are not Accepted); `allowedRoutes.namespaces.from` Same (default) or All;
 *   - HTTPRoutes whose parentRefs name such a Gateway (sectionName and port narrow the listeners);
 *   - a route serves one model at the path prefix `/<model>/`, stripped before forwarding, as in
 *     Docker mode: the model is the route's `tandem.dev/model` annotation, else its name; its
 *     rules' path match must be PathPrefix `/` (the default);
 *   - rules without header matches: the weighted rule, `backendRefs` weights (relative, default
 *     1) become the version weights; the first such rule wins, as Gateway API precedence says;
 *   - rules matching the header `X-Model-Version` exactly: the header value is a pinned version
 *     served by the rule's backendRefs;
 *   - a RequestMirror filter on the weighted rule (one, to one Service; `percent` or `fraction`):
 *     a copy of that share of the rule's requests goes to the mirror version, its answer discarded
 *     unless the route's `tandem.dev/mirror-compare` annotation (written by tandem's gateway-api
 *     router) says how to compare it with the caller's answer — tandem's extension: Gateway API
 *     discards mirror answers and other data planes ignore the annotation; an annotation tandem
 *     cannot parse leaves the mirror without comparison (the route is still Accepted);
 *   - backendRefs to Services in the route's namespace, or in another one whose ReferenceGrant
 *     allows HTTPRoutes of the route's namespace to reach it; a version is named by the route's
 *     `tandem.dev/backends` annotation ({service: version}, written by tandem's gateway-api
 *     router), else by the Service's name; endpoints are the ready addresses of the Service's
 *     EndpointSlices at the slice port named like the Service port (pod IPs: no kube-proxy).
 * Anything else in a rule (other filters, query or method matches, other headers, other paths, regular
 * expressions) makes the route not Accepted, reason UnsupportedValue, naming what. Hostnames are
 * not matched. A model served by an older route makes a newer one not Accepted (ModelConflict).
 */
import type { EndpointTable } from '../discovery';
import { VERSION_HEADER } from '../../naming/headers';
import { parseMirrorCompare, type TrafficState } from '../../shared/traffic-state';
import type { Metadata, Condition, GatewayClass, Listener, ListenerStatus, GatewayStatus, Gateway, ParentRef, BackendRef, HTTPRouteFilter, HTTPRouteMatch, HTTPRouteRule, RouteParentStatus, HTTPRoute, Service, EndpointSlice, ReferenceGrant } from '../../shared/gateway-api';
import { GATEWAY_API_GROUP, KubeAnnotation, SERVICE_NAME_LABEL } from '../../naming/kubernetes';

export type { Metadata, Condition, GatewayClass, Listener, ListenerStatus, GatewayStatus, Gateway, ParentRef, BackendRef, HTTPRouteMatch, HTTPRouteRule, RouteParentStatus, HTTPRoute, Service, EndpointSlice, ReferenceGrant };


export interface ClusterObjects {
  gatewayClasses: readonly GatewayClass[];
  gateways: readonly Gateway[];
  routes: readonly HTTPRoute[];
  services: readonly Service[];
  endpointSlices: readonly EndpointSlice[];
  /** absent: no cross-namespace backendRef is allowed */
  referenceGrants?: readonly ReferenceGrant[];
}

export interface RoutingOptions {
  /** the GatewayClass served */
  gatewayClass: string;
  /** its required controllerName */
  controllerName: string;
}

/** A status this gateway wants an object to have (conditions without lastTransitionTime). */
export interface Desired<S> {
  namespace?: string;
  name: string;
  status: S;
}

export interface ClusterRouting {
  /** model → routing, for the proxy */
  models: Record<string, TrafficState>;
  /** model → version → base URLs */
  endpoints: EndpointTable;
  /** model → `namespace/name` of the HTTPRoute serving it */
  servedBy: Record<string, string>;
  /** the served GatewayClass's conditions, when it exists and is ours */
  gatewayClass?: Desired<{ conditions: Condition[] }>;
  gateways: Array<Desired<GatewayStatus>>;
  /** every route that has or should have a parent status of this controller: ours only */
  routes: Array<Desired<RouteParentStatus[]>>;
}

const key = (namespace: string | undefined, name: string | undefined): string => `${namespace ?? ''}/${name ?? ''}`;

function condition(type: string, ok: boolean, reason: string, message: string, generation: number | undefined): Condition {
  return { type, status: ok ? 'True' : 'False', reason, message, ...(generation !== undefined ? { observedGeneration: generation } : {}) };
}

const ROUTE_KIND = { group: GATEWAY_API_GROUP, kind: 'HTTPRoute' };

/** The routing table and statuses for everything this gateway serves. Pure; never throws on odd objects. */
export function buildRouting(objects: ClusterObjects, options: RoutingOptions): ClusterRouting {
  const result: ClusterRouting = { models: {}, endpoints: new Map(), servedBy: {}, gateways: [], routes: [] };
  const ours = objects.gatewayClasses.find((c) => c.metadata?.name === options.gatewayClass && c.spec?.controllerName === options.controllerName);
  const ownRoutes = (): void => {
    // Routes still carrying a status of ours from an earlier time get it removed.
    for (const route of objects.routes) {
      const known = result.routes.some((r) => r.namespace === route.metadata?.namespace && r.name === route.metadata?.name);
      if (!known && route.status?.parents?.some((p) => p.controllerName === options.controllerName)) {
        result.routes.push({ namespace: route.metadata?.namespace, name: route.metadata?.name ?? '', status: [] });
      }
    }
  };
  if (!ours) {
    ownRoutes();
    return result;
  }
  result.gatewayClass = {
    name: options.gatewayClass,
    status: { conditions: [condition('Accepted', true, 'Accepted', `served by tandem's gateway (${options.controllerName})`, ours.metadata?.generation)] },
  };

  const services = new Map(objects.services.map((s) => [key(s.metadata?.namespace, s.metadata?.name), s]));
  const slices = new Map<string, EndpointSlice[]>();
  for (const slice of objects.endpointSlices) {
    const service = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
    if (!service) continue;
    const k = key(slice.metadata?.namespace, service);
    slices.set(k, [...(slices.get(k) ?? []), slice]);
  }

  interface GatewayState {
    gateway: Gateway;
    listeners: Array<{ listener: Listener; valid: boolean; status: ListenerStatus }>;
  }
  const gateways = new Map<string, GatewayState>();
  for (const gateway of objects.gateways) {
    if (gateway.spec?.gatewayClassName !== options.gatewayClass) continue;
    const generation = gateway.metadata?.generation;
    const listeners = (gateway.spec.listeners ?? []).map((listener) => {
      const valid = listener.protocol === 'HTTP';
      const kindsOk = !listener.allowedRoutes?.kinds?.length || listener.allowedRoutes.kinds.some((k) => k.kind === 'HTTPRoute' && (k.group ?? GATEWAY_API_GROUP) === GATEWAY_API_GROUP);
      const conditions = valid
        ? [
            condition('Accepted', true, 'Accepted', 'HTTP listener', generation),
            condition('Programmed', true, 'Programmed', "routes are served by tandem's gateway", generation),
            condition('ResolvedRefs', kindsOk, kindsOk ? 'ResolvedRefs' : 'InvalidRouteKinds', kindsOk ? 'HTTPRoute' : 'only HTTPRoute is supported', generation),
            condition('Conflicted', false, 'NoConflicts', 'no conflicts', generation),
          ]
        : [
            condition('Accepted', false, 'UnsupportedProtocol', `protocol ${listener.protocol} is not supported: tandem's gateway serves HTTP only`, generation),
            condition('Programmed', false, 'Invalid', 'the listener is not accepted', generation),
            condition('ResolvedRefs', true, 'ResolvedRefs', 'no references', generation),
            condition('Conflicted', false, 'NoConflicts', 'no conflicts', generation),
          ];
      return { listener, valid: valid && kindsOk, status: { name: listener.name, supportedKinds: valid ? [ROUTE_KIND] : [], attachedRoutes: 0, conditions } };
    });
    gateways.set(key(gateway.metadata?.namespace, gateway.metadata?.name), { gateway, listeners });
  }

  const byAge = [...objects.routes].sort((a, b) => {
    const ta = new Date(a.metadata?.creationTimestamp ?? 0).getTime();
    const tb = new Date(b.metadata?.creationTimestamp ?? 0).getTime();
    return ta - tb || key(a.metadata?.namespace, a.metadata?.name).localeCompare(key(b.metadata?.namespace, b.metadata?.name));
  });
  for (const route of byAge) {
    const namespace = route.metadata?.namespace ?? '';
    const name = route.metadata?.name ?? '';
    const generation = route.metadata?.generation;
    const parents: RouteParentStatus[] = [];
    const translated = translateRoute(route);
    const model = translated.model;
    const resolved = resolveBackends(route, translated, services, slices, objects.referenceGrants ?? []);
    let served = false;
    for (const parentRef of route.spec?.parentRefs ?? []) {
      if ((parentRef.group ?? GATEWAY_API_GROUP) !== GATEWAY_API_GROUP || (parentRef.kind ?? 'Gateway') !== 'Gateway') continue;
      const gateway = gateways.get(key(parentRef.namespace ?? namespace, parentRef.name));
      if (!gateway) continue;
      const status = (ok: boolean, reason: string, message: string): void => {
        parents.push({
          parentRef,
          controllerName: options.controllerName,
          conditions: [condition('Accepted', ok, reason, message, generation), resolved.condition(generation)],
        });
      };
      const named = gateway.listeners.filter(
        (l) => (parentRef.sectionName === undefined || l.listener.name === parentRef.sectionName) && (parentRef.port === undefined || l.listener.port === parentRef.port),
      );
      if (named.length === 0) {
        status(false, 'NoMatchingParent', `Gateway ${parentRef.name} has no listener${parentRef.sectionName ? ` named ${parentRef.sectionName}` : ''}${parentRef.port ? ` on port ${parentRef.port}` : ''}`);
        continue;
      }
      const gatewayNamespace = gateway.gateway.metadata?.namespace ?? '';
      const allowed = named.filter((l) => {
        if (!l.valid) return false;
        const from = l.listener.allowedRoutes?.namespaces?.from ?? 'Same';
        return from === 'All' || (from === 'Same' && namespace === gatewayNamespace);
      });
      if (allowed.length === 0) {
        status(false, 'NotAllowedByListeners', `no listener of Gateway ${parentRef.name} accepts HTTPRoutes from namespace ${namespace} (allowedRoutes: Same or All are supported)`);
        continue;
      }
      if (translated.unsupported) {
        status(false, 'UnsupportedValue', translated.unsupported);
        continue;
      }
      const owner = result.servedBy[model];
      if (owner && owner !== key(namespace, name)) {
        status(false, 'ModelConflict', `model ${model} is already served at /${model}/ by the older HTTPRoute ${owner}`);
        continue;
      }
      for (const l of allowed) l.status.attachedRoutes += 1;
      status(true, 'Accepted', `served at /${model}/ by tandem's gateway`);
      served = true;
    }
    if (served) {
      result.servedBy[model] = key(namespace, name);
      result.models[model] = translated.state;
      result.endpoints.set(model, resolved.endpoints);
    }
    if (parents.length > 0) result.routes.push({ namespace, name, status: parents });
  }

  for (const { gateway, listeners } of gateways.values()) {
    const generation = gateway.metadata?.generation;
    const valid = listeners.filter((l) => l.valid).length;
    const all = valid === listeners.length && valid > 0;
    result.gateways.push({
      namespace: gateway.metadata?.namespace,
      name: gateway.metadata?.name ?? '',
      status: {
        conditions: [
          condition('Accepted', valid > 0, all ? 'Accepted' : 'ListenersNotValid', all ? 'accepted by tandem\'s gateway' : `${listeners.length - valid} of ${listeners.length} listeners are not valid`, generation),
          condition('Programmed', valid > 0, valid > 0 ? 'Programmed' : 'Invalid', valid > 0 ? "served by tandem's gateway" : 'no valid listener', generation),
        ],
        listeners: listeners.map((l) => l.status),
      },
    });
  }
  ownRoutes();
  return result;
}

interface TranslatedRoute {
  model: string;
  state: TrafficState;
  /** version → the backendRefs serving it */
  backends: Map<string, BackendRef[]>;
  /** why the route cannot be served, when it cannot */
  unsupported?: string;
}

/** One route's rules as a TrafficState, or what in them tandem's gateway does not implement. */
export function translateRoute(route: HTTPRoute): TranslatedRoute {
  const annotations = route.metadata?.annotations ?? {};
  const model = annotations[KubeAnnotation.model] ?? route.metadata?.name ?? '';
  let names: Record<string, string> = {};
  try {
    const parsed = JSON.parse(annotations[KubeAnnotation.backends] ?? '{}') as unknown;
    if (parsed && typeof parsed === 'object') names = parsed as Record<string, string>;
  } catch {
    names = {};
  }
  const weights: Record<string, number> = {};
  const pinned: string[] = [];
  const backends = new Map<string, BackendRef[]>();
  const serve = (version: string, ref: BackendRef): void => {
    const list = backends.get(version) ?? [];
    if (!list.some((r) => r.name === ref.name && r.port === ref.port)) list.push(ref);
    backends.set(version, list);
  };
  const problems: string[] = [];
  let weighted = false;
  let mirror: TrafficState['mirror'];
  (route.spec?.rules ?? []).forEach((rule, i) => {
    const where = `rule ${rule.name ?? i}`;
    const mirrors = (rule.filters ?? []).filter((f) => f.type === 'RequestMirror');
    if ((rule.filters?.length ?? 0) > mirrors.length || rule.backendRefs?.some((r) => r.filters?.length)) problems.push(`${where}: filters other than a rule's RequestMirror are not supported`);
    if (mirrors.length > 1) problems.push(`${where}: mirroring to more than one backend is not supported`);
    const matches = rule.matches?.length ? rule.matches : [{}];
    const pins: string[] = [];
    let plain = false;
    for (const match of matches) {
      const pathType = match.path?.type ?? 'PathPrefix';
      const pathValue = match.path?.value ?? '/';
      if (pathType !== 'PathPrefix' || pathValue !== '/') problems.push(`${where}: path ${pathType} ${pathValue} (only PathPrefix "/": the route serves /<model>/)`);
      if (match.queryParams?.length || match.method) problems.push(`${where}: query parameter and method matches are not supported`);
      const headers = match.headers ?? [];
      if (headers.length === 0) {
        plain = true;
        continue;
      }
      const header = headers[0]!;
      if (headers.length > 1 || header.name.toLowerCase() !== VERSION_HEADER.toLowerCase() || (header.type ?? 'Exact') !== 'Exact') {
        problems.push(`${where}: only an Exact match of the one header ${VERSION_HEADER} is supported`);
        continue;
      }
      pins.push(header.value);
    }
    if (plain && pins.length) problems.push(`${where}: mixes matches with and without ${VERSION_HEADER}`);
    const refs = rule.backendRefs ?? [];
    if (mirrors.length && !(plain && !weighted && !pins.length)) problems.push(`${where}: RequestMirror is supported on the weighted rule only (the first rule without ${VERSION_HEADER})`);
    if (pins.length) {
      for (const pin of pins) {
        if (!pinned.includes(pin)) pinned.push(pin);
        for (const ref of refs) if ((ref.weight ?? 1) > 0) serve(pin, ref);
      }
    } else if (plain && !weighted) {
      // Later rules with the same match never match (Gateway API: the first rule wins).
      weighted = true;
      for (const ref of refs) {
        const version = names[ref.name] ?? ref.name;
        weights[version] = (weights[version] ?? 0) + (ref.weight ?? 1);
        if ((ref.weight ?? 1) > 0) serve(version, ref);
      }
      const copy = mirrorOf(mirrors[0]);
      if (copy) {
        const compareText = annotations[KubeAnnotation.mirrorCompare];
        const compare = compareText === undefined ? undefined : parseMirrorCompare(compareText);
        mirror = { version: names[copy.ref.name] ?? copy.ref.name, percent: copy.percent, ...(compare && 'compare' in compare ? { compare: compare.compare } : {}) };
        serve(mirror.version, copy.ref);
      }
    }
  });
  const state: TrafficState = { weights, pinned, ...(mirror ? { mirror } : {}) };
  const translated: TranslatedRoute = { model, state, backends };
  if (problems.length) translated.unsupported = `not supported by tandem's gateway: ${problems.join('; ')}`;
  return translated;
}

/** A RequestMirror filter's backend and share in whole percent (fraction rounded; neither: all). */
function mirrorOf(filter: HTTPRouteFilter | undefined): { ref: BackendRef; percent: number } | undefined {
  const spec = filter?.requestMirror;
  if (!spec?.backendRef) return undefined;
  const { fraction } = spec;
  const share = spec.percent ?? (fraction ? (100 * fraction.numerator) / (fraction.denominator ?? 100) : 100);
  return { ref: spec.backendRef, percent: Math.min(100, Math.max(0, Math.round(share))) };
}

/** Endpoints of every version, and the ResolvedRefs condition naming the first unresolved backend. */
function resolveBackends(
  route: HTTPRoute,
  translated: TranslatedRoute,
  services: Map<string, Service>,
  slices: Map<string, EndpointSlice[]>,
  grants: readonly ReferenceGrant[],
): { endpoints: Map<string, string[]>; condition: (generation: number | undefined) => Condition } {
  const namespace = route.metadata?.namespace ?? '';
  const endpoints = new Map<string, string[]>();
  const problems: Array<{ reason: string; message: string }> = [];
  for (const [version, refs] of translated.backends) {
    const urls: string[] = [];
    for (const ref of refs) {
      if ((ref.group ?? '') !== '' || (ref.kind ?? 'Service') !== 'Service') {
        problems.push({ reason: 'InvalidKind', message: `backendRef ${ref.name}: only Services are supported (got ${ref.group ?? ''}/${ref.kind})` });
        continue;
      }
      const target = ref.namespace ?? namespace;
      if (target !== namespace && !granted(grants, namespace, target, ref.name)) {
        problems.push({ reason: 'RefNotPermitted', message: `backendRef ${target}/${ref.name}: no ReferenceGrant in ${target} lets HTTPRoutes of ${namespace} reach it` });
        continue;
      }
      const service = services.get(key(target, ref.name));
      if (!service) {
        problems.push({ reason: 'BackendNotFound', message: `Service ${target}/${ref.name} not found` });
        continue;
      }
      const ports = service.spec?.ports ?? [];
      const port = ref.port === undefined ? (ports.length === 1 ? ports[0] : undefined) : ports.find((p) => p.port === ref.port);
      if (!port) {
        problems.push({ reason: 'BackendNotFound', message: `Service ${target}/${ref.name} has no port ${ref.port ?? '(backendRef names none)'}` });
        continue;
      }
      for (const url of sliceUrls(slices.get(key(target, ref.name)) ?? [], port)) if (!urls.includes(url)) urls.push(url);
    }
    endpoints.set(version, urls.sort());
  }
  return {
    endpoints,
    condition: (generation) =>
      problems.length === 0
        ? condition('ResolvedRefs', true, 'ResolvedRefs', 'all backendRefs resolved', generation)
        : condition('ResolvedRefs', false, problems[0]!.reason, problems.map((p) => p.message).join('; '), generation),
  };
}

/** True when a ReferenceGrant in `to` lets HTTPRoutes of namespace `from` reference Service `name` there. */
function granted(grants: readonly ReferenceGrant[], from: string, to: string, name: string): boolean {
  return grants.some(
    (g) =>
      g.metadata?.namespace === to &&
      (g.spec?.from ?? []).some((f) => f.group === GATEWAY_API_GROUP && f.kind === 'HTTPRoute' && f.namespace === from) &&
      (g.spec?.to ?? []).some((t) => (t.group ?? '') === '' && t.kind === 'Service' && (t.name === undefined || t.name === name)),
  );
}

/** `http://<address>:<port>` of every ready endpoint of the slices, at the slice port named like the Service port. */
function sliceUrls(slices: EndpointSlice[], servicePort: { name?: string; port: number; targetPort?: number | string }): string[] {
  const urls: string[] = [];
  for (const slice of slices) {
    if (slice.addressType !== 'IPv4' && slice.addressType !== 'IPv6') continue;
    const ports = slice.ports ?? [];
    const slicePort = ports.find((p) => (p.name ?? '') === (servicePort.name ?? ''))?.port ?? (typeof servicePort.targetPort === 'number' ? servicePort.targetPort : undefined);
    if (slicePort === undefined) continue;
    for (const endpoint of slice.endpoints ?? []) {
      // Gateway API and EndpointSlice: an absent `ready` means ready.
      if (endpoint.conditions?.ready === false) continue;
      const address = endpoint.addresses?.[0];
      if (!address) continue;
      urls.push(`http://${address.includes(':') ? `[${address}]` : address}:${slicePort}`);
    }
  }
  return urls;
}

/** Conditions equal but for lastTransitionTime. */
export function sameConditions(a: readonly Condition[] | undefined, b: readonly Condition[] | undefined): boolean {
  const strip = (list: readonly Condition[] | undefined) =>
    JSON.stringify((list ?? []).map(({ type, status, reason, message, observedGeneration }) => ({ type, status, reason, message, observedGeneration })));
  return strip(a) === strip(b);
}

/**
 * `next` with lastTransitionTime set: kept from `previous` for a condition of the same type and
 * status, else `now` (RFC 3339, seconds).
 */
export function stampConditions(next: readonly Condition[], previous: readonly Condition[] | undefined, now: Date): Condition[] {
  const time = now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  return next.map((c) => {
    const before = previous?.find((p) => p.type === c.type);
    return { ...c, lastTransitionTime: before && before.status === c.status && before.lastTransitionTime ? before.lastTransitionTime : time };
  });
}
