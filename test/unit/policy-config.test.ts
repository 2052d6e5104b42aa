/** The policy in tandem.config.yaml: validation that names the key, and how environment and model policies merge. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/load';
import { policyFor } from '../../src/policy/resolve';

const config = (extra: string, models = '') =>
  [
    'environments:',
    '  staging:',
    '    target: { kind: docker }',
    '    registry: { url: 127.0.0.1:5000 }',
    '  prod:',
    '    production: true',
    '    target: { kind: docker }',
    '    registry: { url: 127.0.0.1:5000 }',
    extra,
    'models:',
    '  fraud-detector:',
    '    repo: /srv/fraud',
    '    environment: staging',
    models,
    '',
  ].join('\n');

describe('approval policy configuration', () => {
  it('defaults: one approval by anyone; four-eyes on in production environments only', () => {
    const c = parseConfig(config(''));
    assert.deepEqual(policyFor(c, 'fraud-detector', 'staging'), { policy: { approvals: 1, fourEyes: false }, source: 'defaults' });
    assert.deepEqual(policyFor(c, 'fraud-detector', 'prod'), { policy: { approvals: 1, fourEyes: true }, source: 'defaults + environments.prod.production' });
    assert.equal(policyFor(c, 'fraud-detector', 'nowhere'), undefined);
  });

  it('the environment policy, then the model override for that environment, key by key', () => {
    const c = parseConfig(
      config('    policy:\n      approvals: 2\n      approvers: { groups: [ml-leads] }\n      abort: { groups: [sre] }', '    policy:\n      prod: { approvals: 3, fourEyes: false }'),
    );
    assert.deepEqual(policyFor(c, 'fraud-detector', 'prod'), {
      policy: { approvals: 3, fourEyes: false, approvers: { groups: ['ml-leads'] }, abort: { groups: ['sre'] } },
      source: 'defaults + environments.prod.production + environments.prod.policy + models.fraud-detector.policy.prod',
    });
    assert.deepEqual(policyFor(c, 'other-model', 'prod')?.policy.approvals, 2);
  });

  it('bad policies are refused naming the key and the fix', () => {
    const cases: [string, string, RegExp][] = [
      ['    policy: { approvals: 0 }', '', /environments\.prod\.policy\.approvals.*at least 1/],
      ['    policy: { approvals: 1.5 }', '', /environments\.prod\.policy\.approvals.*whole number/],
      ['    policy: { approvers: {} }', '', /environments\.prod\.policy\.approvers.*give users and\/or groups/],
      ['    policy: { approve: { users: [a] } }', '', /environments\.prod\.policy.*approve/],
      ['    policy: { approvals: 3, approvers: { users: [a, b] } }', '', /environments\.prod\.policy\.approvals.*needs 3 distinct approvers but approvers lists 2 users and no group/],
      ['    policy: { abort: { groups: [""] } }', '', /environments\.prod\.policy\.abort\.groups\[0\]: a user or group name cannot be empty/],
      ['', '    policy:\n      qa: { approvals: 2 }', /models\.fraud-detector\.policy\.qa.*environment "qa", which is not under "environments"/],
    ];
    for (const [env, model, why] of cases) assert.throws(() => parseConfig(config(env, model)), why, `${env} ${model}`);
  });
});
