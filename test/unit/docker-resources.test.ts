/** tandem.yaml's `resources` as the Docker engine takes them. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { memoryBytes, nanoCpus } from '../../src/activities/docker/resources';

describe('nanoCpus', () => {
  it('reads cores and millicores', () => {
    assert.equal(nanoCpus('1'), 1_000_000_000);
    assert.equal(nanoCpus('0.5'), 500_000_000);
    assert.equal(nanoCpus('2.25'), 2_250_000_000);
    assert.equal(nanoCpus('500m'), 500_000_000);
    assert.equal(nanoCpus('1m'), 1_000_000);
    assert.equal(nanoCpus(' 250m '), 250_000_000);
  });

  it('rounds to whole nanocpus', () => {
    assert.equal(nanoCpus('0.1'), 100_000_000);
    assert.equal(nanoCpus('0.3333333333'), 333_333_333);
  });

  for (const bad of ['', 'm', '-1', '1.', '.5', '500M', '1 core', '1e3', '0.5m1']) {
    it(`rejects ${JSON.stringify(bad)}, naming the field`, () => {
      assert.throws(() => nanoCpus(bad), /^Error: resources\.cpu: ".*" is not cores \("0\.5"\) or millicores \("500m"\)$/);
    });
  }
});

describe('memoryBytes', () => {
  it('reads plain bytes and binary suffixes', () => {
    assert.equal(memoryBytes('1048576'), 1_048_576);
    assert.equal(memoryBytes('512Ki'), 512 * 1024);
    assert.equal(memoryBytes('256Mi'), 256 * 1024 * 1024);
    assert.equal(memoryBytes('1Gi'), 1024 ** 3);
    assert.equal(memoryBytes(' 2Gi '), 2 * 1024 ** 3);
  });

  for (const bad of ['', 'Mi', '1.5Gi', '256M', '256mi', '1G', '-1', '1Ti']) {
    it(`rejects ${JSON.stringify(bad)}, naming the field`, () => {
      assert.throws(() => memoryBytes(bad), /^Error: resources\.memory: ".*" is not bytes or a quantity like 256Mi$/);
    });
  }
});
