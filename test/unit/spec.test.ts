import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseSpec, SpecError } from '../../src/model-spec/parse';
import { specJsonSchema } from '../../src/model-spec/json-schema';
import { parseConfig, ConfigError } from '../../src/config/load';

const ROOT = join(__dirname, '..', '..');

describe('tandem.yaml', () => {
  it('applies defaults', () => {
    const spec = parseSpec('port: 8080\n');
    assert.equal(spec.replicas, 1);
    assert.equal(spec.health.path, '/healthz');
    assert.deepEqual(spec.rollout, { strategy: 'direct' });
    assert.equal(spec.retention.keepPrevious, 1);
  });

  it('names every bad field', () => {
    assert.throws(
      () => parseSpec('port: 0\nhealth: { path: healthz }\nrollout: { strategy: canary, steps: [{ pause: { duration: soon } }] }\nunknown: 1\n'),
      (err: Error) => {
        assert.ok(err instanceof SpecError);
        assert.match(err.message, /port: /);
        assert.match(err.message, /health\.path: must start with "\/"/);
        assert.match(err.message, /rollout\.steps\[0\]/);
        assert.match(err.message, /unknown/);
        return true;
      },
    );
  });

  it('bounds every duration and count, so a spec that validates can run', () => {
    const cases: [string, RegExp][] = [
      ['rollout: { strategy: canary, steps: [{ pause: { duration: 99999999999d } }] }', /rollout\.steps\[0\]\.pause\.duration: must be at most 30d/],
      ['rollout: { strategy: canary, steps: [{ approval: { timeout: 31d } }] }', /approval\.timeout: must be at most 30d/],
      ['readyTimeout: 2h', /readyTimeout: must be at most 1h/],
      ['health: { timeout: 5m }', /health\.timeout: must be at most 1m/],
      ['rollout: { strategy: canary, steps: [{ analysis: { interval: 2h } }] }', /analysis\.interval: must be at most 1h/],
      ['rollout: { strategy: canary, steps: [{ analysis: { count: 101 } }] }', /analysis\.count/],
      ['replicas: 101', /replicas/],
      ['rollout: { strategy: blue-green, previewDuration: 40d }', /previewDuration: must be at most 30d/],
    ];
    for (const [yaml, message] of cases) assert.throws(() => parseSpec(`port: 8080\n${yaml}\n`), message, yaml);
    assert.doesNotThrow(() => parseSpec('port: 8080\nreadyTimeout: 1h\nrollout: { strategy: canary, steps: [{ pause: { duration: 30d } }, { approval: { timeout: 30d } }] }\n'));
  });

  it('refuses a smoke body too large for workflow history, naming the field and the limit', () => {
    const body = { blob: 'x'.repeat(65 * 1024) };
    const yaml = `port: 8080\nsmoke:\n  - name: big\n    request: { path: /predict, body: ${JSON.stringify(body)} }\n    expect: { status: 200 }\n`;
    assert.throws(() => parseSpec(yaml), /smoke\[0\]\.request\.body: is larger than 64 KiB as JSON/);
  });

  it('rejects an unknown strategy', () => {
    assert.throws(() => parseSpec('port: 8080\nrollout: { strategy: yolo }\n'), /rollout\.strategy/);
  });

  it('the published JSON Schema is generated from the same schema (run `npm run schema` after changing it)', () => {
    const published = JSON.parse(readFileSync(join(ROOT, 'schema', 'tandem.schema.json'), 'utf8'));
    assert.deepEqual(published, JSON.parse(JSON.stringify(specJsonSchema())));
  });

  it('the example model spec is valid', () => {
    const spec = parseSpec(readFileSync(join(ROOT, 'examples', 'fraud-detector', 'tandem.yaml'), 'utf8'));
    assert.equal(spec.rollout.strategy, 'canary');
  });
});

describe('tandem.config.yaml', () => {
  const good = `
environments:
  local:
    target: { kind: docker }
    registry: { url: 127.0.0.1:5000, insecure: true }
    traffic: { router: gateway, url: http://127.0.0.1:7070 }
models:
  fraud-detector: { repo: /srv/models/fraud-detector, environment: local }
`;
  it('accepts a valid configuration with defaults', () => {
    const config = parseConfig(good);
    assert.equal(config.taskQueue, 'tandem');
    assert.equal(config.environments.local!.target.kind, 'docker');
  });

  it('names the key that is wrong', () => {
    assert.throws(() => parseConfig(good.replace('environment: local', 'environment: prod')), (err: Error) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /models\.fraud-detector\.environment: names environment "prod"/);
      return true;
    });
    assert.throws(() => parseConfig(good.replace('kind: docker', 'kind: nomad')), /environments\.local\.target\.kind/);
    assert.throws(() => parseConfig('environments: [1'), /not valid YAML/);
  });

  it('takes node selectors and tolerations for the version pods of a Kubernetes environment, naming a bad field', () => {
    const k8s = (scheduling: string) =>
      `environments:\n  prod:\n    target: { kind: kubernetes, namespace: models${scheduling} }\n    registry: { url: 127.0.0.1:5000 }\n    traffic: { router: replica-ratio }\n`;
    const target = parseConfig(k8s(', nodeSelector: { tandem.dev/node: real }, tolerations: [{ key: tandem.dev/node, value: real, effect: NoSchedule }, { operator: Exists }]'))
      .environments.prod!.target;
    assert.ok(target.kind === 'kubernetes');
    assert.deepEqual(target.nodeSelector, { 'tandem.dev/node': 'real' });
    assert.deepEqual(target.tolerations, [{ key: 'tandem.dev/node', operator: 'Equal', value: 'real', effect: 'NoSchedule' }, { operator: 'Exists' }]);
    const refused: [string, RegExp][] = [
      [', nodeSelector: { "pool name": gpu }', /environments\.prod\.target\.nodeSelector\.pool name: "pool name" is not a label key/],
      [', nodeSelector: { pool: "a b" }', /environments\.prod\.target\.nodeSelector\.pool: "a b" is not a label value/],
      [', tolerations: [{ key: pool, operator: Exists, value: gpu }]', /environments\.prod\.target\.tolerations\[0\]\.value: must be empty when operator is Exists/],
      [', tolerations: [{ value: gpu }]', /environments\.prod\.target\.tolerations\[0\]\.key: is required unless operator is Exists/],
      [', tolerations: [{ key: pool, effect: NoSchedule, tolerationSeconds: 30 }]', /environments\.prod\.target\.tolerations\[0\]\.tolerationSeconds: is only allowed with effect NoExecute/],
      [', tolerations: [{ key: pool, effect: Never }]', /environments\.prod\.target\.tolerations\[0\]\.effect/],
      [', tolerations: [{ key: pool, tolerate: true }]', /environments\.prod\.target\.tolerations\[0\]: Unrecognized key: "tolerate"/],
    ];
    for (const [scheduling, message] of refused) assert.throws(() => parseConfig(k8s(scheduling)), message, scheduling);
  });
});
