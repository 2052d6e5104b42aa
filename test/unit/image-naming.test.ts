/** Image references are split one way: a registry port is never a tag, a digest is kept apart. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { imageReference, parseImageRef, repositoryOf } from '../../src/naming/image';

const digest = 'sha256:' + 'a'.repeat(64);

describe('image references', () => {
  it('splits repository, tag and digest', () => {
    assert.deepEqual(parseImageRef('127.0.0.1:5000/fraud:v1'), { repository: '127.0.0.1:5000/fraud', tag: 'v1' });
    assert.deepEqual(parseImageRef('127.0.0.1:5000/fraud'), { repository: '127.0.0.1:5000/fraud' });
    assert.deepEqual(parseImageRef(`registry:5000/team/fraud:v1@${digest}`), { repository: 'registry:5000/team/fraud', tag: 'v1', digest });
    assert.deepEqual(parseImageRef(`fraud@${digest}`), { repository: 'fraud', digest });
    assert.deepEqual(parseImageRef('fraud:1.0.0..0a1b2c3d4e5f'), { repository: 'fraud', tag: '1.0.0..0a1b2c3d4e5f' });
  });

  it('keeps the repository whatever follows it', () => {
    assert.equal(repositoryOf('127.0.0.1:5000/fraud:commit-0123456789ab'), '127.0.0.1:5000/fraud');
    assert.equal(repositoryOf('localhost:5000/fraud'), 'localhost:5000/fraud');
  });

  it('references images by digest when one is known', () => {
    assert.equal(imageReference('127.0.0.1:5000/fraud:v1', digest), `127.0.0.1:5000/fraud@${digest}`);
    assert.equal(imageReference('registry:5000/team/fraud', digest), `registry:5000/team/fraud@${digest}`);
    assert.equal(imageReference('fraud:v1', ''), 'fraud:v1');
  });
});
