/** Image tags and container names: always valid for Docker, deterministic, never shared by two tags. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { commitTag, containerName, imageTag, networkAlias } from '../../src/naming/docker';

const DOCKER_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const CONTAINER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/** Tags Git accepts (`git check-ref-format`), chosen to collide under any lossy clean-up. */
const GIT_TAGS = [
  'v1.0.0',
  'V1.0.0',
  'v1.0.0-rc.1',
  'v1.0.0+build.7',
  'v1.0.0-build.7',
  'release/1.0',
  'release-1.0',
  'release_1.0',
  'release+1.0',
  'u-ä',
  'u-ö',
  'u--',
  'u-',
  'ä',
  'ö',
  '_x',
  '-x',
  '😀 emoji',
  '😀-emoji',
  'a'.repeat(128),
  'a'.repeat(129),
  'a'.repeat(300),
  `${'a'.repeat(300)}b`,
  `${'a'.repeat(120)}/x`,
  `${'a'.repeat(120)}/y`,
  'commit-0123456789ab',
  'commit-0123456789AB',
  'latest',
  'x.',
  'x.lock2',
];

describe('docker naming', () => {
  it('keeps tags Docker accepts as they are', () => {
    for (const tag of ['v1.0.0', 'V1.0.0', 'v1.0.0-rc.1', '1.2.3', 'release_1.0', 'release-1.0', '_x', 'a'.repeat(128), 'latest']) {
      assert.equal(imageTag(tag), tag);
    }
  });

  it('gives tags Docker refuses a cleaned-up form and a hash of the raw tag', () => {
    assert.match(imageTag('release/1.0'), /^release-1\.0\.\.[0-9a-f]{12}$/);
    assert.match(imageTag('u-ä'), /^u\.\.[0-9a-f]{12}$/);
    assert.match(imageTag('v1.0.0+build.7'), /^v1\.0\.0-build\.7\.\.[0-9a-f]{12}$/);
    assert.match(imageTag('ä'), /^v\.\.[0-9a-f]{12}$/);
    assert.match(imageTag('-x'), /^x\.\.[0-9a-f]{12}$/);
    assert.equal(imageTag('release/1.0'), imageTag('release/1.0'), 'deterministic');
  });

  it('never gives two tags the same image tag (issue #8: u-ä and u-ö, release/1.0 and release-1.0)', () => {
    assert.notEqual(imageTag('u-ä'), imageTag('u-ö'));
    assert.notEqual(imageTag('release/1.0'), imageTag('release-1.0'));
    const seen = new Map<string, string>();
    for (const tag of GIT_TAGS) {
      const made = imageTag(tag);
      assert.equal(seen.get(made), undefined, `${JSON.stringify(tag)} and ${JSON.stringify(seen.get(made))} share ${made}`);
      seen.set(made, tag);
    }
  });

  it('makes a valid Docker tag of every tag, however long or odd', () => {
    for (const tag of [...GIT_TAGS, '', '.', '..', '...', '.hidden', 'a..b', `${'.'.repeat(200)}`, 'ab'.repeat(200) + '/']) {
      const made = imageTag(tag);
      assert.match(made, DOCKER_TAG, `${JSON.stringify(tag)} → ${made}`);
      assert.ok(made.length <= 128, `${made.length} characters`);
    }
    assert.equal(imageTag('a'.repeat(300)).length, 128);
  });

  it('keeps a hashed tag apart from every tag used as it is', () => {
    // The hashed form holds `..`, which Git refuses in a tag and which is never kept as it is.
    const hashed = imageTag('release/1.0');
    assert.notEqual(imageTag(hashed), hashed);
    assert.ok(!imageTag('a..b').startsWith('a..b'), 'a tag with `..` is hashed too');
  });

  it('does not let a Git tag take the name of a commit marker', () => {
    const marker = commitTag('0123456789AB0123456789ab0123456789ab0123');
    assert.equal(marker, 'commit-0123456789ab');
    assert.notEqual(imageTag(marker), marker);
    assert.match(imageTag(marker), DOCKER_TAG);
    assert.equal(imageTag('commit-0123456789AB'), 'commit-0123456789AB', 'upper case is not a marker');
  });

  it('names containers injectively by model, version and replica', () => {
    assert.equal(containerName('fraud-detector', 'v1.2.0', 0), 'tandem-fraud-detector_v1.2.0_0');
    const names = new Map<string, string>();
    const add = (model: string, version: string, replica: number) => {
      const name = containerName(model, version, replica);
      assert.match(name, CONTAINER_NAME, name);
      const key = JSON.stringify([model, version, replica]);
      assert.equal(names.get(name), undefined, `${key} and ${names.get(name)} share ${name}`);
      names.set(name, key);
    };
    // A `-` in the model or the version cannot make two pairs meet.
    add('a', 'b-v1', 0);
    add('a-b', 'v1', 0);
    add('a', 'v1_0', 0);
    add('a', 'v1', 0);
    add('a', 'v1', 10);
    add('a', 'v1_1', 0);
    add('a', 'v1-1', 0);
    add('Odd.Model', 'v1', 0);
    add('odd-model', 'v1', 0);
    for (const tag of GIT_TAGS) add('m', tag, 0);
  });

  it('gives network aliases that are DNS labels, one per version', () => {
    assert.equal(networkAlias('fraud-detector', 'v1.2.0'), 'fraud-detector-v1-2-0');
    assert.notEqual(networkAlias('m', 'release/1.0'), networkAlias('m', 'release-1.0'));
    assert.notEqual(networkAlias('a', 'b-v1'), networkAlias('a-b', 'v1'));
    for (const tag of GIT_TAGS) assert.match(networkAlias('m', tag), /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/);
  });
});
