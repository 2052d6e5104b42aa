/**
 * The Gateway API subset tandem's gateway implements (src/gateway/kubernetes/routing.ts), from
 * objects as the API server returns them: the routing table, endpoints and statuses.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  type ClusterObjects,
  type EndpointSlice,
  type Gateway,
  type HTTPRoute,
  type Service,
  buildRouting,
  stampConditions,
} from '../../src/gateway/kubernetes/routing';

const CONTROLLER = 'tandem.dev/gateway-controller';
const OPTIONS = { gatewayClass: 'tandem', controllerName: CONTROLLER };
const NS = 'models';

const gateway = (listeners: Gateway['spec'] extends infer S ? (S extends { listeners?: infer L } ? L : never) : never = [{ name: 'http', port: 80, protocol: 'HTTP' }]): Gateway => ({
  metadata: { name: 'public', namespace: NS, generation: 1 },
  spec: { gatewayClassName: 'tandem', listeners },
});

/** A route as tandem's gateway-api router writes it. */
function route(name: string, weights: Record<string, number>, pinned: string[] = [], extra: Partial<HTTPRoute['metadata']> = {}): HTTPRoute {
  const service = (v: string) => `${name}-${v.replace(/\./g, '-')}`;
  const everything = { type: 'PathPrefix', value: '/' };
  return {
    metadata: {
      name,
      namespace: NS,
      generation: 3,
      creationTimestamp: '2026-01-01T00:00:00Z',
      annotations: { 'tandem.dev/model': name, 'tandem.dev/backends': JSON.stringify(Object.fromEntries([...Object.keys(weights), ...pinned].map((v) => [service(v), v]))) },
      ...extra,
    },
    spec: {
      parentRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'public' }],
      rules: [
        ...pinned.map((v) => ({ matches: [{ path: everything, headers: [{ type: 'Exact', name: 'X-Model-Version', value: v }] }], backendRefs: [{ group: '', kind: 'Service', name: service(v), port: 80, weight: 1 }] })),
        { matches: [{ path: everything }], backendRefs: Object.entries(weights).map(([v, w]) => ({ group: '', kind: 'Service', name: service(v), port: 80, weight: w })) },
      ],
    },
  };
}

const service = (name: string): Service => ({ metadata: { name, namespace: NS }, spec: { ports: [{ name: 'http', port: 80, targetPort: 8080 }] } });
const slice = (serviceName: string, addresses: Array<[string, boolean | undefined]>): EndpointSlice => ({
  metadata: { name: `${serviceName}-abc`, namespace: NS, labels: { 'kubernetes.io/service-name': serviceName } },
  addressType: 'IPv4',
  ports: [{ name: 'http', port: 8080 }],
  endpoints: addresses.map(([ip, ready]) => ({ addresses: [ip], conditions: ready === undefined ? {} : { ready } })),
});

function objects(partial: Partial<ClusterObjects>): ClusterObjects {
  return {
    gatewayClasses: [{ metadata: { name: 'tandem', generation: 1 }, spec: { controllerName: CONTROLLER } }],
    gateways: [gateway()],
    routes: [],
    services: [],
    endpointSlices: [],
    ...partial,
  };
}

describe('the Gateway API subset of tandem\'s gateway', () => {
  it('turns a route of the gateway-api router into weights, pins and ready endpoints', () => {
    const routing = buildRouting(
      objects({
        routes: [route('fraud', { 'v1.0.0': 90, 'v1.1.0': 10 }, ['v1.1.0'])],
        services: [service('fraud-v1-0-0'), service('fraud-v1-1-0')],
        endpointSlices: [slice('fraud-v1-0-0', [['10.0.0.1', true], ['10.0.0.2', false], ['10.0.0.3', undefined]]), slice('fraud-v1-1-0', [['10.0.0.9', true]])],
      }),
      OPTIONS,
    );
    assert.deepEqual(routing.models, { fraud: { weights: { 'v1.0.0': 90, 'v1.1.0': 10 }, pinned: ['v1.1.0'] } });
    assert.deepEqual(routing.endpoints.get('fraud'), new Map([['v1.1.0', ['http://10.0.0.9:8080']], ['v1.0.0', ['http://10.0.0.1:8080', 'http://10.0.0.3:8080']]]));
    const [parent] = routing.routes[0]!.status;
    assert.equal(parent!.controllerName, CONTROLLER);
    assert.deepEqual(parent!.conditions.map((c) => [c.type, c.status, c.reason, c.observedGeneration]), [['Accepted', 'True', 'Accepted', 3], ['ResolvedRefs', 'True', 'ResolvedRefs', 3]]);
    assert.equal(routing.gateways[0]!.status.listeners![0]!.attachedRoutes, 1);
    assert.deepEqual(routing.gateways[0]!.status.conditions!.map((c) => `${c.type}=${c.status}`), ['Accepted=True', 'Programmed=True']);
    assert.equal(routing.gatewayClass!.status.conditions[0]!.status, 'True');
  });

  it('a missing Service: ResolvedRefs False, BackendNotFound; the route still serves the versions it can', () => {
    const routing = buildRouting(objects({ routes: [route('fraud', { 'v1.0.0': 50, 'v2.0.0': 50 })], services: [service('fraud-v1-0-0')] }), OPTIONS);
    const resolved = routing.routes[0]!.status[0]!.conditions.find((c) => c.type === 'ResolvedRefs')!;
    assert.equal(resolved.status, 'False');
    assert.equal(resolved.reason, 'BackendNotFound');
    assert.match(resolved.message, /Service models\/fraud-v2-0-0 not found/);
    assert.deepEqual(routing.endpoints.get('fraud')!.get('v2.0.0'), []);
    assert.ok(routing.models.fraud);
  });

  it('serves nothing for another class, or a class of another controller; its old statuses are removed', () => {
    const mine = { ...route('fraud', { v1: 100 }), status: { parents: [{ parentRef: { name: 'public' }, controllerName: CONTROLLER, conditions: [] }] } };
    const other = buildRouting(objects({ gatewayClasses: [{ metadata: { name: 'tandem' }, spec: { controllerName: 'example.com/other' } }], routes: [mine] }), OPTIONS);
    assert.deepEqual(other.models, {});
    assert.equal(other.gatewayClass, undefined);
    assert.deepEqual(other.routes, [{ namespace: NS, name: 'fraud', status: [] }]);
  });

  it('refuses what it does not implement, naming it: filters, other paths and headers, other namespaces, HTTPS listeners', () => {
    const filtered = route('fraud', { v1: 100 });
    filtered.spec!.rules![0]!.filters = [{ type: 'RequestHeaderModifier' }];
    filtered.spec!.rules![0]!.matches = [{ path: { type: 'PathPrefix', value: '/api' } }];
    const elsewhere = route('other', { v1: 100 });
    elsewhere.metadata!.namespace = 'team-b';
    elsewhere.spec!.parentRefs = [{ name: 'public', namespace: NS }];
    const routing = buildRouting(objects({ routes: [filtered, elsewhere], gateways: [gateway([{ name: 'http', port: 80, protocol: 'HTTP' }, { name: 'tls', port: 443, protocol: 'HTTPS' }])] }), OPTIONS);
    const accepted = (name: string) => routing.routes.find((r) => r.name === name)!.status[0]!.conditions[0]!;
    assert.equal(accepted('fraud').reason, 'UnsupportedValue');
    assert.match(accepted('fraud').message, /filters other than a rule's RequestMirror are not supported.*path PathPrefix \/api/);
    assert.equal(accepted('other').reason, 'NotAllowedByListeners');
    assert.deepEqual(routing.models, {});
    const gw = routing.gateways[0]!.status;
    assert.deepEqual(gw.listeners!.map((l) => `${l.name}:${l.conditions[0]!.reason}`), ['http:Accepted', 'tls:UnsupportedProtocol']);
    assert.equal(gw.conditions![0]!.reason, 'ListenersNotValid');
    assert.equal(gw.conditions![0]!.status, 'True');
  });

  it('a RequestMirror filter on the weighted rule mirrors to its version: percent, or fraction rounded; its endpoints resolve', () => {
    const mirrored = (filter: object) => {
      const r = route('fraud', { 'v1.0.0': 100 });
      r.metadata!.annotations!['tandem.dev/backends'] = JSON.stringify({ 'fraud-v1-0-0': 'v1.0.0', 'fraud-v1-1-0': 'v1.1.0' });
      r.spec!.rules![0]!.filters = [{ type: 'RequestMirror', requestMirror: { backendRef: { name: 'fraud-v1-1-0', port: 80 }, ...filter } }];
      return buildRouting(objects({ routes: [r], services: [service('fraud-v1-0-0'), service('fraud-v1-1-0')], endpointSlices: [slice('fraud-v1-1-0', [['10.0.0.9', true]])] }), OPTIONS);
    };
    const routing = mirrored({ percent: 25 });
    assert.deepEqual(routing.models.fraud, { weights: { 'v1.0.0': 100 }, pinned: [], mirror: { version: 'v1.1.0', percent: 25 } });
    assert.deepEqual(routing.endpoints.get('fraud')!.get('v1.1.0'), ['http://10.0.0.9:8080']);
    assert.equal(routing.routes[0]!.status[0]!.conditions[0]!.status, 'True');
    assert.deepEqual(mirrored({ fraction: { numerator: 1, denominator: 3 } }).models.fraud!.mirror, { version: 'v1.1.0', percent: 33 });
    assert.deepEqual(mirrored({}).models.fraud!.mirror, { version: 'v1.1.0', percent: 100 });
  });

  it('refuses RequestMirror on a pinned rule, or two mirrors in one rule', () => {
    const pinnedMirror = route('fraud', { v1: 100 }, ['v2']);
    pinnedMirror.spec!.rules![0]!.filters = [{ type: 'RequestMirror', requestMirror: { backendRef: { name: 'fraud-v1' } } }];
    const twice = route('other', { v1: 100 });
    twice.spec!.rules![0]!.filters = [1, 2].map(() => ({ type: 'RequestMirror', requestMirror: { backendRef: { name: 'other-v2' } } }));
    const routing = buildRouting(objects({ routes: [pinnedMirror, twice] }), OPTIONS);
    const accepted = (name: string) => routing.routes.find((r) => r.name === name)!.status[0]!.conditions[0]!;
    assert.match(accepted('fraud').message, /RequestMirror is supported on the weighted rule only/);
    assert.match(accepted('other').message, /mirroring to more than one backend is not supported/);
    assert.deepEqual(routing.models, {});
  });

  it('a backendRef to another namespace needs a ReferenceGrant there (a namespace per version)', () => {
    const crossing = route('fraud', { v1: 100 });
    crossing.spec!.rules![0]!.backendRefs![0]!.namespace = 'fraud-v1';
    const v1 = { ...service('fraud-v1'), metadata: { name: 'fraud-v1', namespace: 'fraud-v1' } };
    const v1Slice = { ...slice('fraud-v1', [['10.1.0.1', true]]), metadata: { name: 'fraud-v1-x', namespace: 'fraud-v1', labels: { 'kubernetes.io/service-name': 'fraud-v1' } } };
    const grant = { metadata: { name: 'g', namespace: 'fraud-v1' }, spec: { from: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: NS }], to: [{ group: '', kind: 'Service' }] } };
    const refused = buildRouting(objects({ routes: [crossing], services: [v1], endpointSlices: [v1Slice] }), OPTIONS);
    assert.equal(refused.routes[0]!.status[0]!.conditions[1]!.reason, 'RefNotPermitted');
    assert.deepEqual(refused.endpoints.get('fraud')!.get('v1'), []);
    const allowed = buildRouting(objects({ routes: [crossing], services: [v1], endpointSlices: [v1Slice], referenceGrants: [grant] }), OPTIONS);
    assert.equal(allowed.routes[0]!.status[0]!.conditions[1]!.status, 'True');
    assert.deepEqual(allowed.endpoints.get('fraud')!.get('v1'), ['http://10.1.0.1:8080']);
  });

  it('two routes for one model: the older serves it, the newer is not Accepted (ModelConflict)', () => {
    const older = route('fraud', { v1: 100 });
    const newer = route('fraud-copy', { v2: 100 }, [], { creationTimestamp: '2026-02-01T00:00:00Z', annotations: { 'tandem.dev/model': 'fraud' } });
    const routing = buildRouting(objects({ routes: [newer, older] }), OPTIONS);
    assert.deepEqual(routing.servedBy, { fraud: 'models/fraud' });
    assert.equal(routing.routes.find((r) => r.name === 'fraud-copy')!.status[0]!.conditions[0]!.reason, 'ModelConflict');
  });

  it('keeps lastTransitionTime while a condition keeps its status', () => {
    const before = [{ type: 'Accepted', status: 'True' as const, reason: 'Accepted', message: 'a', lastTransitionTime: '2026-01-01T00:00:00Z' }];
    const now = new Date('2026-03-01T12:00:00.123Z');
    assert.equal(stampConditions([{ ...before[0]!, message: 'b' }], before, now)[0]!.lastTransitionTime, '2026-01-01T00:00:00Z');
    assert.equal(stampConditions([{ ...before[0]!, status: 'False' }], before, now)[0]!.lastTransitionTime, '2026-03-01T12:00:00Z');
  });
});
