/** The rollout verdict read from a Deployment and its pods: ready, progressing with what it waits for, or failed with the reason. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type * as k8s from '@kubernetes/client-node';
import { podFailure, rolloutVerdict } from '../../src/activities/kubernetes/rollout';

function deployment(status: k8s.V1DeploymentStatus, replicas = 2, generation = 3): k8s.V1Deployment {
  return { metadata: { name: 'm-v1', generation }, spec: { replicas, selector: {}, template: {} }, status: { observedGeneration: generation, ...status } };
}

function pod(status: k8s.V1PodStatus, name = 'm-v1-abc'): k8s.V1Pod {
  return { metadata: { name }, status };
}

function container(state: k8s.V1ContainerState, extra: Partial<k8s.V1ContainerStatus> = {}): k8s.V1ContainerStatus {
  return { name: 'model', image: 'm:v1', imageID: '', ready: false, restartCount: 0, state, ...extra };
}

const waiting = (reason: string, message?: string): k8s.V1Pod => pod({ phase: 'Pending', containerStatuses: [container({ waiting: { reason, message } })] });
const progressing = deployment({ replicas: 2, updatedReplicas: 2, availableReplicas: 0 });

describe('rolloutVerdict', () => {
  it('is done when the latest generation is observed and every replica is updated and available', () => {
    const verdict = rolloutVerdict(deployment({ replicas: 2, updatedReplicas: 2, availableReplicas: 2, readyReplicas: 2 }), []);
    assert.deepEqual(verdict, { done: true, ready: 2, desired: 2, detail: '2/2 replicas available' });
  });

  it('is not done while the controller has not seen the latest generation', () => {
    const d = deployment({ replicas: 2, updatedReplicas: 2, availableReplicas: 2, observedGeneration: 2 });
    const verdict = rolloutVerdict(d, []);
    assert.equal(verdict.done, false);
    assert.equal(verdict.failure, undefined);
    assert.match(verdict.detail, /controller has not seen the latest change yet/);
  });

  it('is not done while old pods remain (more replicas than desired)', () => {
    const verdict = rolloutVerdict(deployment({ replicas: 3, updatedReplicas: 2, availableReplicas: 2 }), []);
    assert.equal(verdict.done, false);
    assert.equal(verdict.failure, undefined);
  });

  it('fails a version scaled to 0', () => {
    const verdict = rolloutVerdict(deployment({}, 0), []);
    assert.match(verdict.failure!, /scaled to 0/);
  });

  it('fails on ProgressDeadlineExceeded, marked stuck, with what a pod waits for', () => {
    const d = deployment({
      replicas: 1,
      availableReplicas: 0,
      conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'ReplicaSet "m-v1-abc" has timed out progressing.' }],
    });
    const unschedulable = pod({ phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/1 nodes are available: 1 Insufficient cpu.' }] });
    const verdict = rolloutVerdict(d, [unschedulable]);
    assert.equal(verdict.stuck, true);
    assert.equal(verdict.detail, 'ProgressDeadlineExceeded');
    assert.equal(
      verdict.failure,
      'rollout did not progress within its deadline (ProgressDeadlineExceeded: ReplicaSet "m-v1-abc" has timed out progressing.); pod m-v1-abc is not scheduled (Unschedulable: 0/1 nodes are available: 1 Insufficient cpu.)',
    );
  });

  it('ignores a progress deadline the controller reported for an older generation', () => {
    const d = deployment({ observedGeneration: 2, conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' }] });
    assert.equal(rolloutVerdict(d, []).failure, undefined);
  });

  it('fails on the first failing pod, naming it', () => {
    const verdict = rolloutVerdict(progressing, [waiting('ContainerCreating'), waiting('CrashLoopBackOff', 'back-off 10s')]);
    assert.equal(verdict.done, false);
    assert.equal(verdict.failure, 'pod m-v1-abc: container model is in CrashLoopBackOff (back-off 10s)');
    assert.equal(verdict.detail, verdict.failure);
  });

  it('ignores pods being deleted', () => {
    const leaving = { ...waiting('CrashLoopBackOff'), metadata: { name: 'old', deletionTimestamp: new Date() } };
    assert.equal(rolloutVerdict(progressing, [leaving]).failure, undefined);
  });

  it('reports what a progressing rollout waits for: scheduling, pulling, readiness, a pod not started', () => {
    const unschedulable = pod({ phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: 'no nodes' }] });
    assert.equal(rolloutVerdict(progressing, [unschedulable]).detail, '0/2 replicas available; pod m-v1-abc is not scheduled (Unschedulable: no nodes)');
    assert.equal(rolloutVerdict(progressing, [waiting('ErrImagePull')]).detail, '0/2 replicas available; pod m-v1-abc: container model is ErrImagePull');
    const notReady = pod({ phase: 'Running', containerStatuses: [container({ running: {} })] });
    assert.equal(rolloutVerdict(progressing, [notReady]).detail, '0/2 replicas available; pod m-v1-abc: container model runs but is not ready (readiness probe)');
    assert.equal(rolloutVerdict(progressing, [pod({})]).detail, '0/2 replicas available; pod m-v1-abc is Pending');
  });
});

describe('podFailure', () => {
  for (const reason of ['CrashLoopBackOff', 'ImagePullBackOff', 'InvalidImageName', 'CreateContainerConfigError', 'CreateContainerError', 'RunContainerError', 'ErrImageNeverPull']) {
    it(`fails a container waiting in ${reason}`, () => {
      assert.equal(podFailure(waiting(reason, 'why')), `pod m-v1-abc: container model is in ${reason} (why)`);
    });
  }

  it('leaves ErrImagePull to progress: the kubelet retries the pull and reports ImagePullBackOff when it keeps failing', () => {
    assert.equal(podFailure(waiting('ErrImagePull', 'not found')), undefined);
    assert.equal(podFailure(waiting('ContainerCreating')), undefined);
  });

  it('names the last run of a crash-looping container', () => {
    const p = pod({
      phase: 'Running',
      containerStatuses: [container({ waiting: { reason: 'CrashLoopBackOff' } }, { restartCount: 4, lastState: { terminated: { exitCode: 3, reason: 'Error', message: 'model file missing\n' } } })],
    });
    assert.equal(podFailure(p), 'pod m-v1-abc: container model is in CrashLoopBackOff; last run: container model exited with code 3 (Error): model file missing');
  });

  it('says OOMKilled in words', () => {
    const p = pod({ phase: 'Running', containerStatuses: [container({ running: {} }, { restartCount: 2, lastState: { terminated: { exitCode: 137, reason: 'OOMKilled' } } })] });
    assert.equal(podFailure(p), 'pod m-v1-abc: container model restarted 2 times; last run: container model was killed for using too much memory (OOMKilled, exit code 137)');
  });

  it('fails a container that restarted twice after a non-zero exit, and not one that exited 0 or restarted once', () => {
    const crashed = pod({ phase: 'Running', containerStatuses: [container({ running: {} }, { restartCount: 2, lastState: { terminated: { exitCode: 1 } } })] });
    assert.equal(podFailure(crashed), 'pod m-v1-abc: container model restarted 2 times; last run: container model exited with code 1');
    const clean = pod({ phase: 'Running', containerStatuses: [container({ running: {} }, { restartCount: 1, lastState: { terminated: { exitCode: 0 } } })] });
    assert.equal(podFailure(clean), undefined);
    // The kubelet restarts a crashed container once right away; the verdict waits for its
    // CrashLoopBackOff (or a second restart) so the message carries the kubelet's reason.
    const once = pod({ phase: 'Running', containerStatuses: [container({ running: {} }, { restartCount: 1, lastState: { terminated: { exitCode: 3 } } })] });
    assert.equal(podFailure(once), undefined);
  });

  it('fails a pod in phase Failed with its reason and the terminated container', () => {
    const evicted = pod({ phase: 'Failed', reason: 'Evicted', message: 'The node was low on resource: memory.' });
    assert.equal(podFailure(evicted), 'pod m-v1-abc failed (Evicted: The node was low on resource: memory.)');
    const exited = pod({ phase: 'Failed', containerStatuses: [container({ terminated: { exitCode: 2, reason: 'Error' } })] });
    assert.equal(podFailure(exited), 'pod m-v1-abc failed: container model exited with code 2 (Error)');
  });

  it('reads init containers too', () => {
    const p = pod({ phase: 'Pending', initContainerStatuses: [{ ...container({ waiting: { reason: 'ImagePullBackOff' } }), name: 'init' }] });
    assert.equal(podFailure(p), 'pod m-v1-abc: container init is in ImagePullBackOff');
  });

  it('finds nothing wrong with a running, ready pod', () => {
    assert.equal(podFailure(pod({ phase: 'Running', containerStatuses: [container({ running: {} }, { ready: true })] })), undefined);
  });
});
