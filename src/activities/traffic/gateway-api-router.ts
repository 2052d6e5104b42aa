/**
 * TrafficRouter for Kubernetes' Gateway API: one HTTPRoute per model, attached to the configured
 * Gateway and server-side applied under the field manager `tandem`. Its rules are the whole
 * traffic policy, so whatever Gateway implementation serves the Gateway enforces it:
 *   - one rule per pinned version: header `X-Model-Version: <version>` → that version's Service
 *     (a header match is more specific than none, so pins win over the weighted rule);
 *   - a default rule: backendRefs to each version's Service with its `weight`, and a RequestMirror
 *     filter to the mirror version's Service when the state has one; the mirror's `compare` goes
 *     into the annotation `tandem.dev/mirror-compare` as JSON. Only tandem's own data plane
 *     (`tandem gateway --kubernetes`) reads it and compares the answers; other data planes ignore
 *     it, since Gateway API discards the mirror's answers.
 * The stable version and the Service → version mapping are kept in annotations of the route, so
 * getState reads everything back from the route itself.
 */
import * as k8s from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../errors';
import { GATEWAY_API_GROUP, GATEWAY_API_VERSION, KubeAnnotation, KubeLabel, MANAGED_BY, labelValue, modelObjectName, selectorLabels, versionNamespace, workloadName } from '../../naming/kubernetes';
import { VERSION_HEADER } from '../../naming/headers';
import { type KubeApis, kubeApis, SSA } from '../kubernetes/client';
import { type KubeFailureTypes, kubeCall, kubeRead } from '../kubernetes/errors';
import type { TrafficRouter } from '../target';
import type { TrafficState } from '../types';
import { validateTrafficState } from './validate';
import type { BackendRef, HTTPRoute, HTTPRouteRule } from '../../shared/gateway-api';
import { parseMirrorCompare } from '../../shared/traffic-state';

const HTTPROUTES = 'httproutes';
/** Gateway API allows at most 16 rules per HTTPRoute: 15 pins and the default rule. */
const MAX_PINNED = 15;
/** ... and at most 16 backendRefs per rule. */
const MAX_WEIGHTED = 16;
/** A refused or conflicting route is a traffic problem, not a failed deploy. */
const TRAFFIC_FAILURES: KubeFailureTypes = { conflict: FailureType.InvalidTraffic, invalid: FailureType.InvalidTraffic };

export interface GatewayApiRouterOptions {
  namespace: string;
  /** name of the Gateway the routes attach to */
  gateway: string;
  /** namespace of the Gateway; default: the routes' namespace */
  gatewayNamespace?: string;
  fieldManager?: string;
  /**
   * Where the versions' Services are: `shared` (default) beside the route in `namespace`;
   * `namespace`: each in its version namespace (naming/kubernetes.ts versionNamespace), referenced
   * with `namespace` in the backendRef and allowed by the ReferenceGrant the target puts there.
   */
  isolation?: 'shared' | 'namespace';
}

/**
 * Routes a model's traffic with an HTTPRoute in `namespace`. Idempotent: the same state is the
 * same applied route, and server-side apply of an unchanged route is a no-op. Throws
 * non-retryable InvalidTraffic for a state it refuses (weights, too many versions, a route field
 * owned by another manager), VersionNotRunning when a version has no Service, PermissionDenied
 * on 403; plain retryable Errors when the API server cannot be reached.
 */
export class GatewayApiRouter implements TrafficRouter {
  constructor(kubeConfig: k8s.KubeConfig, private readonly options: GatewayApiRouterOptions, private readonly api: KubeApis = kubeApis(kubeConfig)) {}

  /**
   * Applies the model's HTTPRoute: a header rule per pinned version and the weighted default
   * rule; versions are reached through their own Services (port read from the Service). The stable
   * version goes into an annotation. Checks the state first and applies nothing when it is invalid.
   */
  async setState(model: string, requested: TrafficState): Promise<void> {
    const state = validateTrafficState(model, requested, { maxPinned: MAX_PINNED, maxWeighted: MAX_WEIGHTED });
    const versions = [...new Set([...Object.keys(state.weights), ...state.pinned, ...(state.mirror ? [state.mirror.version] : [])])];
    const backends: Record<string, string> = {};
    const ports = new Map<string, number>();
    for (const version of versions) {
      const service = workloadName(model, version);
      ports.set(version, await this.servicePort(model, version, service, this.serviceNamespace(model, version)));
      backends[service] = version;
    }
    const service = (version: string): Omit<BackendRef, 'weight'> => ({
      group: '',
      kind: 'Service',
      name: workloadName(model, version),
      ...(this.options.isolation === 'namespace' ? { namespace: this.serviceNamespace(model, version) } : {}),
      port: ports.get(version)!,
    });
    const ref = (version: string, weight: number): BackendRef => ({ ...service(version), weight });
    const everything = { type: 'PathPrefix', value: '/' };
    const rules: HTTPRouteRule[] = state.pinned.map((version) => ({
      matches: [{ path: everything, headers: [{ type: 'Exact', name: VERSION_HEADER, value: version }] }],
      backendRefs: [ref(version, 1)],
    }));
    const weighted = Object.entries(state.weights);
    if (weighted.length) {
      const mirror = state.mirror ? [{ type: 'RequestMirror', requestMirror: { backendRef: service(state.mirror.version), percent: state.mirror.percent } }] : [];
      rules.push({ matches: [{ path: everything }], ...(mirror.length ? { filters: mirror } : {}), backendRefs: weighted.map(([version, weight]) => ref(version, weight)) });
    }

    const annotations: Record<string, string> = { [KubeAnnotation.model]: model, [KubeAnnotation.backends]: JSON.stringify(backends) };
    if (state.stable !== undefined) annotations[KubeAnnotation.stable] = state.stable;
    if (weighted.length && state.mirror?.compare) annotations[KubeAnnotation.mirrorCompare] = JSON.stringify(state.mirror.compare);
    const name = modelObjectName(model);
    const route: HTTPRoute = {
      apiVersion: `${GATEWAY_API_GROUP}/${GATEWAY_API_VERSION}`,
      kind: 'HTTPRoute',
      metadata: {
        name,
        namespace: this.options.namespace,
        labels: { [KubeLabel.name]: labelValue(model), [KubeLabel.managedBy]: MANAGED_BY, ...selectorLabels(model) },
        annotations,
      },
      spec: {
        parentRefs: [
          {
            group: GATEWAY_API_GROUP,
            kind: 'Gateway',
            name: this.options.gateway,
            ...(this.options.gatewayNamespace ? { namespace: this.options.gatewayNamespace } : {}),
          },
        ],
        rules,
      },
    };
    await kubeCall(
      { verb: 'patch', resource: `${HTTPROUTES}.${GATEWAY_API_GROUP}`, name, namespace: this.options.namespace },
      () =>
        this.api.custom.patchNamespacedCustomObject(
          { group: GATEWAY_API_GROUP, version: GATEWAY_API_VERSION, namespace: this.options.namespace, plural: HTTPROUTES, name, body: route, fieldManager: this.options.fieldManager ?? MANAGED_BY },
          SSA,
        ),
      TRAFFIC_FAILURES,
    );
  }

  /**
   * The policy the model's HTTPRoute holds: weights from the default rule's backendRefs, pins from
   * the header rules, the stable version and the mirror's compare from their annotations. Empty
   * weights when there is no route.
   */
  async getState(model: string): Promise<TrafficState> {
    const route = await this.readRoute(model);
    if (!route) return { weights: {}, pinned: [] };
    return trafficOfRoute(route);
  }

  /** Deletes the model's HTTPRoute; a missing route is not an error. */
  async remove(model: string): Promise<void> {
    const name = modelObjectName(model);
    await kubeRead({ verb: 'delete', resource: `${HTTPROUTES}.${GATEWAY_API_GROUP}`, name, namespace: this.options.namespace }, () =>
      this.api.custom.deleteNamespacedCustomObject({ group: GATEWAY_API_GROUP, version: GATEWAY_API_VERSION, namespace: this.options.namespace, plural: HTTPROUTES, name }),
    );
  }

  private async readRoute(model: string): Promise<HTTPRoute | undefined> {
    const name = modelObjectName(model);
    return (await kubeRead({ verb: 'get', resource: `${HTTPROUTES}.${GATEWAY_API_GROUP}`, name, namespace: this.options.namespace }, () =>
      this.api.custom.getNamespacedCustomObject({ group: GATEWAY_API_GROUP, version: GATEWAY_API_VERSION, namespace: this.options.namespace, plural: HTTPROUTES, name }),
    )) as HTTPRoute | undefined;
  }

  /** Namespace of the version's Service: the route's, or the version's own with `isolation: namespace`. */
  private serviceNamespace(model: string, version: string): string {
    return this.options.isolation === 'namespace' ? versionNamespace(this.options.namespace, model, version) : this.options.namespace;
  }

  private async servicePort(model: string, version: string, name: string, namespace: string): Promise<number> {
    // A version namespace that does not exist answers 403, not 404 (the worker's rights there come with it): ask for it first.
    const missing =
      namespace !== this.options.namespace &&
      !(await kubeRead({ verb: 'get', resource: 'namespaces', name: namespace, namespace }, () => this.api.core.readNamespace({ name: namespace })));
    const service = missing ? undefined : await kubeRead({ verb: 'get', resource: 'services', name, namespace }, () => this.api.core.readNamespacedService({ name, namespace }));
    if (!service) {
      throw ApplicationFailure.nonRetryable(
        `cannot route traffic to ${model} ${version}: it has no Service ${name} in namespace ${namespace}; deploy it first`,
        FailureType.VersionNotRunning,
      );
    }
    return service.spec?.ports?.[0]?.port ?? 80;
  }
}

/** Reads the TrafficState back from an HTTPRoute written by GatewayApiRouter. Pure. */
export function trafficOfRoute(route: HTTPRoute): TrafficState {
  const annotations = route.metadata?.annotations ?? {};
  let backends: Record<string, string> = {};
  try {
    backends = JSON.parse(annotations[KubeAnnotation.backends] ?? '{}') as Record<string, string>;
  } catch {
    backends = {};
  }
  const weights: Record<string, number> = {};
  const pinned: string[] = [];
  let mirror: TrafficState['mirror'];
  for (const rule of route.spec?.rules ?? []) {
    const header = rule.matches?.flatMap((m) => m.headers ?? []).find((h) => h.name.toLowerCase() === VERSION_HEADER.toLowerCase());
    if (header) {
      pinned.push(header.value);
      continue;
    }
    for (const ref of rule.backendRefs ?? []) weights[backends[ref.name] ?? ref.name] = ref.weight ?? 1;
    const copy = rule.filters?.find((f) => f.type === 'RequestMirror')?.requestMirror;
    if (copy) mirror = { version: backends[copy.backendRef.name] ?? copy.backendRef.name, percent: copy.percent ?? 100 };
  }
  const compareText = annotations[KubeAnnotation.mirrorCompare];
  const compare = mirror && compareText ? parseMirrorCompare(compareText) : undefined;
  // An annotation edited into something unusable reads as no compare: the mirror itself still holds.
  if (mirror && compare && 'compare' in compare) mirror = { ...mirror, compare: compare.compare };
  const state: TrafficState = { weights, pinned, ...(mirror ? { mirror } : {}) };
  if (annotations[KubeAnnotation.stable]) state.stable = annotations[KubeAnnotation.stable];
  return state;
}
