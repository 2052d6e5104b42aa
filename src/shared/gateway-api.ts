/**
 * The Gateway API objects tandem writes (the gateway-api router) and reads (the gateway's
 * Kubernetes mode), typed as far as either uses them. Group and version are in
 * naming/kubernetes.ts. Types only.
 */

export interface Metadata {
  name?: string;
  namespace?: string;
  generation?: number;
  resourceVersion?: string;
  creationTimestamp?: string | Date;
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
}

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  observedGeneration?: number;
  lastTransitionTime?: string;
}

export interface GatewayClass {
  apiVersion?: string;
  kind?: string;
  metadata?: Metadata;
  spec?: { controllerName?: string };
  status?: { conditions?: Condition[] };
}

export interface Listener {
  name: string;
  port: number;
  protocol: string;
  hostname?: string;
  allowedRoutes?: { namespaces?: { from?: string }; kinds?: Array<{ group?: string; kind: string }> };
}

export interface ListenerStatus {
  name: string;
  supportedKinds: Array<{ group?: string; kind: string }>;
  attachedRoutes: number;
  conditions: Condition[];
}

export interface GatewayStatus {
  conditions?: Condition[];
  listeners?: ListenerStatus[];
}

export interface Gateway {
  apiVersion?: string;
  kind?: string;
  metadata?: Metadata;
  spec?: { gatewayClassName?: string; listeners?: Listener[] };
  status?: GatewayStatus;
}

export interface ParentRef {
  group?: string;
  kind?: string;
  namespace?: string;
  name: string;
  sectionName?: string;
  port?: number;
}

export interface BackendRef {
  group?: string;
  kind?: string;
  name: string;
  namespace?: string;
  port?: number;
  weight?: number;
}

export interface HTTPRouteMatch {
  path?: { type?: string; value?: string };
  headers?: Array<{ type?: string; name: string; value: string }>;
  queryParams?: unknown[];
  method?: string;
}

/** A rule's filter; tandem's gateway implements RequestMirror only. */
export interface HTTPRouteFilter {
  type: string;
  requestMirror?: {
    backendRef: Omit<BackendRef, 'weight'>;
    /** share of requests copied, 0..100; with neither percent nor fraction, all of them */
    percent?: number;
    fraction?: { numerator: number; denominator?: number };
  };
}

export interface HTTPRouteRule {
  name?: string;
  matches?: HTTPRouteMatch[];
  filters?: HTTPRouteFilter[];
  backendRefs?: Array<BackendRef & { filters?: unknown[] }>;
}

export interface RouteParentStatus {
  parentRef: ParentRef;
  controllerName: string;
  conditions: Condition[];
}

export interface HTTPRoute {
  apiVersion?: string;
  kind?: string;
  metadata?: Metadata;
  spec?: { parentRefs?: ParentRef[]; hostnames?: string[]; rules?: HTTPRouteRule[] };
  status?: { parents?: RouteParentStatus[] };
}

export interface Service {
  metadata?: Metadata;
  spec?: { type?: string; ports?: Array<{ name?: string; port: number; targetPort?: number | string }> };
}

export interface EndpointSlice {
  metadata?: Metadata;
  addressType?: string;
  ports?: Array<{ name?: string; port?: number }>;
  endpoints?: Array<{ addresses?: string[]; conditions?: { ready?: boolean } }>;
}

export interface ReferenceGrant {
  metadata?: Metadata;
  spec?: { from?: Array<{ group?: string; kind?: string; namespace?: string }>; to?: Array<{ group?: string; kind?: string; name?: string }> };
}
