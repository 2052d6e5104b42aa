/** The definitions the DockerTarget creates replicas from, and how it reads a listed container. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type Docker from 'dockerode';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../src/errors';
import { Label } from '../../src/naming/docker';
import type { VersionWorkload } from '../../src/activities/target';
import { cloneDefinition, hashConfig, replicaDefinition, toReplica } from '../../src/activities/docker/replicas';
import { pullFailure } from '../../src/activities/docker/images';

function workload(overrides: Partial<VersionWorkload['spec']> = {}): VersionWorkload {
  return {
    model: 'fraud',
    version: 'v1.0.0',
    commit: 'a'.repeat(40),
    image: '127.0.0.1:5000/fraud:v1.0.0',
    digest: 'sha256:' + 'b'.repeat(64),
    releaseId: 'release-1',
    spec: { port: 8080, replicas: 2, health: { path: '/healthz', timeout: '5s' }, resources: { cpu: '500m', memory: '256Mi' }, ...overrides },
  };
}

describe('hashConfig', () => {
  it('changes with what makes a replica what it is', () => {
    const base = hashConfig(workload());
    assert.match(base, /^[0-9a-f]{16}$/);
    assert.equal(hashConfig(workload()), base);
    assert.equal(hashConfig(workload({ replicas: 5 })), base, 'the replica count is not part of a replica');
    assert.notEqual(hashConfig(workload({ port: 9090 })), base);
    assert.notEqual(hashConfig(workload({ health: { path: '/ready', timeout: '5s' } })), base);
    assert.notEqual(hashConfig(workload({ resources: { cpu: '1' } })), base);
    assert.notEqual(hashConfig({ ...workload(), digest: 'sha256:' + 'c'.repeat(64) }), base);
  });
});

describe('replicaDefinition', () => {
  it('labels the replica with everything tandem reads back, and publishes its port on loopback', () => {
    const def = replicaDefinition(workload(), 'repo@sha256:x', 1, 'hash1', '2024-01-01T00:00:00.000Z', 'tandem-net');
    assert.equal(def.Image, 'repo@sha256:x');
    assert.deepEqual(def.Labels, {
      [Label.managed]: 'true',
      [Label.model]: 'fraud',
      [Label.version]: 'v1.0.0',
      [Label.commit]: 'a'.repeat(40),
      [Label.image]: '127.0.0.1:5000/fraud:v1.0.0',
      [Label.digest]: 'sha256:' + 'b'.repeat(64),
      [Label.release]: 'release-1',
      [Label.deployedAt]: '2024-01-01T00:00:00.000Z',
      [Label.replica]: '1',
      [Label.port]: '8080',
      [Label.healthPath]: '/healthz',
      [Label.configHash]: 'hash1',
    });
    assert.deepEqual(def.Env, ['PORT=8080', 'TANDEM_MODEL=fraud', 'TANDEM_VERSION=v1.0.0']);
    assert.deepEqual(def.ExposedPorts, { '8080/tcp': {} });
    assert.deepEqual(def.HostConfig, {
      NetworkMode: 'tandem-net',
      PortBindings: { '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] },
      RestartPolicy: { Name: 'always' },
      NanoCpus: 500_000_000,
      Memory: 256 * 1024 * 1024,
    });
  });

  it('sets no limits the spec does not ask for', () => {
    const def = replicaDefinition(workload({ resources: {} }), 'img', 0, 'h', 'now', 'net');
    assert.equal('NanoCpus' in def.HostConfig!, false);
    assert.equal('Memory' in def.HostConfig!, false);
  });

  it('turns unreadable resources into a non-retryable DeployFailed', () => {
    assert.throws(
      () => replicaDefinition(workload({ resources: { memory: '1G' } }), 'img', 0, 'h', 'now', 'net'),
      (error: unknown) =>
        error instanceof ApplicationFailure && error.nonRetryable && error.type === FailureType.DeployFailed && /^resources\.memory: "1G"/.test(error.message),
    );
  });
});

describe('cloneDefinition', () => {
  it('copies the template replica with its own index, serving again, dropping zero limits', () => {
    const template = {
      Config: { Labels: { [Label.model]: 'fraud', [Label.replica]: '0' }, Env: ['PORT=8080'], ExposedPorts: { '8080/tcp': {} } },
      HostConfig: { NetworkMode: 'net', PortBindings: { '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] }, RestartPolicy: { Name: 'no' }, NanoCpus: 0, Memory: 1024 },
    } as unknown as Docker.ContainerInspectInfo;
    assert.deepEqual(cloneDefinition(template, 'repo@sha256:x', 3), {
      Image: 'repo@sha256:x',
      Labels: { [Label.model]: 'fraud', [Label.replica]: '3' },
      Env: ['PORT=8080'],
      ExposedPorts: { '8080/tcp': {} },
      HostConfig: {
        NetworkMode: 'net',
        PortBindings: { '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] },
        RestartPolicy: { Name: 'always' },
        NanoCpus: undefined,
        Memory: 1024,
      },
    });
  });
});

describe('toReplica', () => {
  it('reads index, published port and network address from a listed container', () => {
    const info = {
      Id: 'abc',
      Names: ['/tandem-fraud_v1.0.0_1'],
      Labels: { [Label.replica]: '1', [Label.port]: '8080' },
      State: 'running',
      Status: 'Up 3 minutes (healthy)',
      Ports: [
        { PrivatePort: 8080, PublicPort: 49153, Type: 'tcp', IP: '127.0.0.1' },
        { PrivatePort: 9000, PublicPort: 49154, Type: 'tcp', IP: '127.0.0.1' },
      ],
      NetworkSettings: { Networks: { other: { IPAddress: '10.0.0.9' }, net: { IPAddress: '172.18.0.3' } } },
    } as unknown as Docker.ContainerInfo;
    assert.deepEqual(toReplica(info, 'net'), {
      id: 'abc',
      name: 'tandem-fraud_v1.0.0_1',
      index: 1,
      labels: info.Labels,
      state: 'running',
      status: 'Up 3 minutes (healthy)',
      hostPort: 49153,
      address: '172.18.0.3',
    });
  });

  it('leaves port and address out while the container has none', () => {
    const info = { Id: 'abc', Names: [], Labels: {}, State: 'created', Ports: [], NetworkSettings: { Networks: { net: { IPAddress: '' } } } } as unknown as Docker.ContainerInfo;
    const replica = toReplica(info, 'net');
    assert.equal(replica.name, '');
    assert.ok(Number.isNaN(replica.index), 'a container without a replica label is discarded by apply');
    assert.equal(replica.status, '');
    assert.equal(replica.hostPort, undefined);
    assert.equal(replica.address, undefined);
  });
});

describe('pullFailure', () => {
  it('is a non-retryable DeployFailed when the image does not exist or access is refused', () => {
    for (const error of [
      Object.assign(new Error('(HTTP code 404) no such image'), { statusCode: 404 }),
      new Error('manifest unknown: manifest unknown'),
      { json: { message: 'pull access denied for x, repository does not exist' } },
      new Error('unauthorized: authentication required'),
    ]) {
      const failure = pullFailure('reg/x@sha256:1', error);
      assert.ok(failure instanceof ApplicationFailure && failure.nonRetryable, String(failure));
      assert.equal((failure as ApplicationFailure).type, FailureType.DeployFailed);
      assert.match(failure.message, /^image reg\/x@sha256:1 cannot be pulled: /);
    }
  });

  it('is a plain (retryable) error otherwise', () => {
    const failure = pullFailure('reg/x:1', new Error('connect ECONNREFUSED 127.0.0.1:5000 '));
    assert.equal(failure instanceof ApplicationFailure, false);
    assert.equal(failure.message, 'pulling image reg/x:1 failed: connect ECONNREFUSED 127.0.0.1:5000');
  });
});
