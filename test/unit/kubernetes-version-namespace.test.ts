/**
 * `isolation: namespace`: the name of a version's namespace, the ResourceQuota and LimitRange
 * derived from its spec, the ReferenceGrant rule, and the config that refuses replica-ratio with it.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  isVersionNamespaceOf,
  limitRangeManifest,
  multiplyQuantity,
  namespaceManifest,
  quantityValue,
  quotaHard,
  referenceGrantAllows,
  referenceGrantManifest,
  subjectOf,
  surgePods,
} from '../../src/activities/kubernetes/version-namespace';
import { configSchema } from '../../src/config/schema';
import { isDns1035Label, workloadName, versionNamespace } from '../../src/naming/kubernetes';

const TAGS = ['v1.0.0', 'V1.0.0', 'v1.0.0-rc.1', 'release/2024-05-01', 'release-2024-05-01', '---', '😀', 'a'.repeat(250), 'b-v1', 'v1', 'v1-0', 'v1.0'];

describe('version namespace names', () => {
  it('are readable, deterministic and pinned', () => {
    // Pinned: a change of the slug or hash would orphan deployed namespaces.
    assert.equal(versionNamespace('models', 'fraud-detector', 'v1.0.0'), 'models-fraud-detector-v1-0-0-10606177');
    assert.equal(versionNamespace('models', 'Weird', 'release/2024-05-01'), 'models-weird-release-2024-05-01-07e57af8');
  });

  it('are valid namespace names of at most 63 characters for any environment namespace, model and tag', () => {
    for (const ns of ['models', 'default', 'n'.repeat(63), '0-starts-with-digit', 'a-b']) {
      for (const model of ['fraud-detector', 'a', '3d-model', 'x'.repeat(40)]) {
        for (const tag of TAGS) {
          const name = versionNamespace(ns, model, tag);
          assert.ok(isDns1035Label(name), `${name} from (${ns}, ${model}, ${tag})`);
          assert.match(name, /-[0-9a-f]{8}$/);
        }
      }
    }
  });

  it('never give two (environment namespace, model, version) the same namespace, even where dashes make the readable part alike', () => {
    const seen = new Map<string, string>();
    for (const ns of ['a', 'a-b', 'models', 'models-fraud']) {
      for (const model of ['b', 'b-c', 'c', 'fraud', 'fraud-detector', 'detector']) {
        for (const tag of TAGS) {
          const name = versionNamespace(ns, model, tag);
          const key = `${ns} ${model} ${tag}`;
          assert.equal(seen.get(name), undefined, `${name} from ${key} and ${seen.get(name)}`);
          seen.set(name, key);
        }
      }
    }
    assert.equal(versionNamespace('a-b', 'c', 'v1').slice(0, -9), versionNamespace('a', 'b-c', 'v1').slice(0, -9), 'same readable part ...');
    assert.notEqual(versionNamespace('a-b', 'c', 'v1'), versionNamespace('a', 'b-c', 'v1'), '... different namespace');
  });

  it('are labelled and annotated so tandem finds them and deletes only its own', () => {
    const ns = namespaceManifest('models-fraud-detector-v1-0-0-x', 'models', 'fraud-detector', 'release/1.0');
    assert.deepEqual(ns.metadata?.labels, {
      'app.kubernetes.io/name': 'fraud-detector',
      'app.kubernetes.io/managed-by': 'tandem',
      'tandem.dev/model': 'fraud-detector',
      'tandem.dev/version': ns.metadata!.labels!['tandem.dev/version'],
      'tandem.dev/environment-namespace': 'models',
      'pod-security.kubernetes.io/enforce': 'baseline',
    });
    assert.equal(ns.metadata?.annotations?.['tandem.dev/version'], 'release/1.0');
    assert.ok(isVersionNamespaceOf(ns, 'fraud-detector', 'release/1.0'));
    assert.ok(!isVersionNamespaceOf(ns, 'fraud-detector', 'release-1.0'));
    assert.ok(!isVersionNamespaceOf({ metadata: { name: 'x', annotations: ns.metadata!.annotations } }, 'fraud-detector', 'release/1.0'), 'not managed by tandem');
  });
});

describe('ResourceQuota and LimitRange of a version namespace', () => {
  it('allows replicas plus one rollout surge (25 %, at least 1) of the spec resources', () => {
    assert.deepEqual([0, 1, 2, 4, 5, 10, 100].map(surgePods), [1, 1, 1, 1, 2, 3, 25]);
    assert.deepEqual(quotaHard({ replicas: 2, resources: { cpu: '100m', memory: '64Mi' } }), {
      pods: '3',
      services: '1',
      'count/deployments.apps': '1',
      'requests.cpu': '300m',
      'limits.cpu': '300m',
      'requests.memory': '192Mi',
      'limits.memory': '192Mi',
    });
    assert.deepEqual(quotaHard({ replicas: 4, resources: { cpu: '0.5', memory: '1Gi' } }), {
      pods: '5',
      services: '1',
      'count/deployments.apps': '1',
      'requests.cpu': '2500m',
      'limits.cpu': '2500m',
      'requests.memory': '5Gi',
      'limits.memory': '5Gi',
    });
    assert.deepEqual(quotaHard({ replicas: 1, resources: {} }), { pods: '2', services: '1', 'count/deployments.apps': '1' }, 'no resources: counts only');
    assert.deepEqual(quotaHard({ replicas: 3, resources: { memory: '100M' } })['limits.memory'], '390625Ki');
  });

  it('multiplies quantities exactly, rounding up', () => {
    assert.equal(quantityValue('250m'), 0.25);
    assert.equal(quantityValue('1e3'), 1000);
    assert.equal(quantityValue('2Ki'), 2048);
    assert.equal(multiplyQuantity('0.1', 3, 'cpu'), '300m');
    assert.equal(multiplyQuantity('1', 3, 'cpu'), '3');
    assert.equal(multiplyQuantity('1500m', 2, 'cpu'), '3');
    assert.equal(multiplyQuantity('1.5Gi', 3, 'memory'), '4608Mi');
    assert.equal(multiplyQuantity('1k', 3, 'memory'), '3000');
    assert.equal(multiplyQuantity('1Ti', 2, 'memory'), '2Ti');
    assert.throws(() => quantityValue('lots'), /not a Kubernetes quantity/);
  });

  it('makes the spec resources every container\'s default request, default limit and maximum', () => {
    const lr = limitRangeManifest('ns', { cpu: '100m', memory: '64Mi' });
    assert.deepEqual(lr.spec!.limits, [{ type: 'Container', default: { cpu: '100m', memory: '64Mi' }, defaultRequest: { cpu: '100m', memory: '64Mi' }, max: { cpu: '100m', memory: '64Mi' } }]);
    assert.deepEqual((limitRangeManifest('ns', { memory: '64Mi' }).spec!.limits[0] as unknown as Record<string, unknown>).default, { memory: '64Mi' });
    assert.deepEqual(limitRangeManifest('ns', {}).spec!.limits, [{ type: 'Container' }]);
  });
});

describe('ReferenceGrant and RoleBinding subject', () => {
  it('lets HTTPRoutes of the environment namespace reach the version Service only', () => {
    const grant = referenceGrantManifest('models-x', 'models', 'fraud-detector', 'v1.0.0');
    assert.ok(referenceGrantAllows(grant, 'models', workloadName('fraud-detector', 'v1.0.0')));
    assert.ok(!referenceGrantAllows(grant, 'other', workloadName('fraud-detector', 'v1.0.0')));
    assert.ok(!referenceGrantAllows(grant, 'models', workloadName('fraud-detector', 'v1.1.0')));
  });

  it('binds the service account the worker runs as, or a user', () => {
    assert.deepEqual(subjectOf('system:serviceaccount:tandem:tandem-worker'), { kind: 'ServiceAccount', namespace: 'tandem', name: 'tandem-worker' });
    assert.deepEqual(subjectOf('alice'), { kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'alice' });
  });
});

describe('isolation in tandem.config.yaml', () => {
  const env = (target: Record<string, unknown>, traffic: Record<string, unknown>) =>
    configSchema.safeParse({ environments: { prod: { target: { kind: 'kubernetes', namespace: 'models', ...target }, registry: { url: 'r' }, traffic } } });

  it('defaults to shared', () => {
    const parsed = env({}, { router: 'replica-ratio' });
    assert.ok(parsed.success);
    assert.equal((parsed.data.environments.prod!.target as { isolation: string }).isolation, 'shared');
  });

  it('accepts namespace isolation with the Gateway API router', () => {
    const parsed = env({ isolation: 'namespace' }, { router: 'gateway-api', gateway: 'public' });
    assert.ok(parsed.success, JSON.stringify(parsed.error?.issues));
  });

  it('refuses replica-ratio with namespace isolation, naming the fields and the fix', () => {
    const parsed = env({ isolation: 'namespace' }, { router: 'replica-ratio' });
    assert.ok(!parsed.success);
    const issue = parsed.error.issues.find((i) => i.path.join('.') === 'environments.prod.traffic.router');
    assert.ok(issue, JSON.stringify(parsed.error.issues));
    assert.match(issue.message, /replica-ratio/);
    assert.match(issue.message, /target\.isolation "namespace"/);
    assert.match(issue.message, /router: gateway-api/);
    assert.match(issue.message, /target\.isolation: shared/);
  });

  it('refuses an unknown isolation', () => {
    assert.ok(!env({ isolation: 'pod' }, { router: 'gateway-api', gateway: 'g' }).success);
  });
});
