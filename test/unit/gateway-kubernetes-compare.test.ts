/**
 * The mirror's `compare` on an HTTPRoute: the annotation tandem.dev/mirror-compare, read back by
 * the gateway-api router and by tandem's gateway in Kubernetes mode.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { trafficOfRoute } from '../../src/activities/traffic/gateway-api-router';
import { type HTTPRoute, translateRoute } from '../../src/gateway/kubernetes/routing';
import { KubeAnnotation } from '../../src/naming/kubernetes';
import { parseMirrorCompare } from '../../src/shared/traffic-state';

const COMPARE = { fields: [{ path: '$.label' }, { path: '$.score', tolerance: 0.05 }], redact: ['$.card'], samples: 3 };

/** A route as the gateway-api router writes it, mirrored to v2, with `annotation` as the compare annotation. */
function mirroredRoute(annotation: string | undefined, mirror = true): HTTPRoute {
  return {
    metadata: {
      name: 'fraud',
      namespace: 'models',
      annotations: {
        [KubeAnnotation.model]: 'fraud',
        [KubeAnnotation.backends]: JSON.stringify({ 'fraud-v1': 'v1', 'fraud-v2': 'v2' }),
        ...(annotation === undefined ? {} : { [KubeAnnotation.mirrorCompare]: annotation }),
      },
    },
    spec: {
      rules: [
        {
          matches: [{ path: { type: 'PathPrefix', value: '/' } }],
          ...(mirror ? { filters: [{ type: 'RequestMirror', requestMirror: { backendRef: { name: 'fraud-v2', port: 80 }, percent: 50 } }] } : {}),
          backendRefs: [{ name: 'fraud-v1', port: 80, weight: 100 }],
        },
      ],
    },
  };
}

describe('the mirror-compare annotation', () => {
  it('is read back into the mirror by the router and by tandem\'s gateway', () => {
    const route = mirroredRoute(JSON.stringify(COMPARE));
    const mirror = { version: 'v2', percent: 50, compare: COMPARE };
    assert.deepEqual(trafficOfRoute(route).mirror, mirror);
    assert.deepEqual(translateRoute(route).state.mirror, mirror);
    assert.equal(translateRoute(route).unsupported, undefined);
  });

  it('is ignored without a RequestMirror filter, and absent means no compare', () => {
    assert.equal(trafficOfRoute(mirroredRoute(JSON.stringify(COMPARE), false)).mirror, undefined);
    assert.equal(translateRoute(mirroredRoute(JSON.stringify(COMPARE), false)).state.mirror, undefined);
    assert.deepEqual(translateRoute(mirroredRoute(undefined)).state.mirror, { version: 'v2', percent: 50 });
  });

  it('leaves the mirror without comparison when it cannot be used, and the route still served', () => {
    for (const bad of ['{not json', JSON.stringify({ fields: [] }), JSON.stringify({ fields: [{ path: 'label' }] })]) {
      assert.deepEqual(translateRoute(mirroredRoute(bad)).state.mirror, { version: 'v2', percent: 50 }, bad);
      assert.equal(translateRoute(mirroredRoute(bad)).unsupported, undefined);
      assert.deepEqual(trafficOfRoute(mirroredRoute(bad)).mirror, { version: 'v2', percent: 50 }, bad);
    }
  });

  it('says why an annotation is unusable, naming the field', () => {
    assert.deepEqual(parseMirrorCompare(JSON.stringify(COMPARE)), { compare: COMPARE });
    assert.match((parseMirrorCompare('{not json') as { problem: string }).problem, /^not JSON/);
    assert.deepEqual(parseMirrorCompare(JSON.stringify({ fields: [{ path: 'label' }] })), {
      problem: 'compare.fields.0.path: must be a JSONPath starting with "$", such as "$.label" or "$.scores[0]" (got "label")',
    });
  });
});
