/** Names and label values for Kubernetes objects: always valid, deterministic, never shared by two versions. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  isDns1035Label,
  isLabelValue,
  isQuantity,
  labelSelector,
  labelValue,
  modelObjectName,
  selectorLabels,
  workloadName,
} from '../../src/naming/kubernetes';

const ODD_TAGS = [
  'v1.0.0',
  'V1.0.0',
  'v1.0.0-rc.1',
  'v1.0.0+build.7',
  'release/2024-05-01',
  'release-2024-05-01',
  'release_2024_05_01',
  '1.2.3',
  '---',
  '...',
  '😀 emoji tag',
  'a'.repeat(250),
  `v${'9.'.repeat(60)}0`,
  'UPPER_case.Mixed-TAG',
  'v1..0',
  'v1.0.',
];

describe('kubernetes naming', () => {
  it('keeps plain release tags readable', () => {
    assert.equal(workloadName('fraud-detector', 'v1.0.0'), 'fraud-detector-v1-0-0');
    assert.equal(workloadName('fraud-detector', 'v12'), 'fraud-detector-v12');
    assert.equal(modelObjectName('fraud-detector'), 'fraud-detector');
  });

  it('makes a valid DNS-1035 name of ≤ 63 characters from any model and tag', () => {
    for (const model of ['fraud-detector', 'a', '3d-model', 'x'.repeat(40), 'Weird_Model.Name']) {
      for (const tag of ODD_TAGS) {
        const name = workloadName(model, tag);
        assert.ok(isDns1035Label(name), `${JSON.stringify(name)} from (${model}, ${tag})`);
      }
      assert.ok(isDns1035Label(modelObjectName(model)), model);
    }
    // Deterministic: pinned names, so a change of the slug or hash shows here (it would rename deployed objects).
    assert.equal(workloadName('Weird_Model.Name', 'release/2024-05-01'), 'weird-model-name-release-2024-05-01-f59b7f8d');
    assert.equal(workloadName('fraud-detector', 'v1.0.0+build.7'), 'fraud-detector-v1-0-0-build-7-5396bac9');
    assert.equal(modelObjectName('Weird_Model.Name'), 'weird-model-name-f595fabd');
  });

  it('never gives two versions, or two models, the same name', () => {
    const names = new Map<string, string>();
    const pairs: Array<[string, string]> = [];
    for (const model of ['fraud-detector', 'fraud', 'fraud-detector-v1', 'a-b', 'a']) {
      for (const tag of [...ODD_TAGS, 'v1', 'v1.0', 'v1-0', 'b.c', 'b-v1', 'v2', 'v1.v2', 'detector.v1.0.0', 'detector-v1.0.0']) pairs.push([model, tag]);
    }
    for (const [model, tag] of pairs) {
      const name = workloadName(model, tag);
      const previous = names.get(name);
      assert.equal(previous, undefined, `${name} from ${model} ${tag} and from ${previous}`);
      names.set(name, `${model} ${tag}`);
    }
    assert.notEqual(workloadName('m', 'release/1.0'), workloadName('m', 'release-1.0'));
    assert.notEqual(workloadName('m', 'V1.0.0'), workloadName('m', 'v1.0.0'));
  });

  it('cuts long names and ends them with a hash', () => {
    const name = workloadName('x'.repeat(40), `v${'1.'.repeat(30)}1`);
    assert.ok(name.length <= 63 && name.length > 55, name);
    assert.match(name, /-[0-9a-f]{8}$/);
  });

  it('makes label values that are valid and stand for the raw value', () => {
    assert.equal(labelValue('v1.0.0'), 'v1.0.0');
    assert.equal(labelValue('0123456789abcdef0123456789abcdef01234567'), '0123456789abcdef0123456789abcdef01234567');
    assert.equal(labelValue(''), '');
    for (const tag of ODD_TAGS) assert.ok(isLabelValue(labelValue(tag)), `${labelValue(tag)} from ${tag}`);
    assert.notEqual(labelValue('release/1.0'), labelValue('release-1.0'));
    assert.notEqual(labelValue('a/b'), labelValue('a+b'));
  });

  it('builds selectors from the model and version', () => {
    assert.deepEqual(selectorLabels('m', 'v1'), { 'tandem.dev/model': 'm', 'tandem.dev/version': 'v1' });
    assert.equal(labelSelector(selectorLabels('m')), 'tandem.dev/model=m');
  });

  it('recognises resource quantities', () => {
    for (const q of ['500m', '0.5', '1', '256Mi', '1Gi', '2G', '1e3', '100k']) assert.ok(isQuantity(q), q);
    for (const q of ['', 'lots', '1 GB', '-1', '5mb', '1.2.3']) assert.ok(!isQuantity(q), q);
  });
});
