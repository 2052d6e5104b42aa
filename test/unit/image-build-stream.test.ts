/**
 * The build's progress stream, from streams the legacy builder recorded (test/unit/fixtures):
 * the steps it heartbeats, the log tail, the image id, and the verdict on a failed step.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import Docker from 'dockerode';
import { CancelledFailure } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../src/errors';
import { BuildStream, exitCodeOf, stepFailureMessage } from '../../src/activities/image/build-stream';
import { build, DockerUnavailable } from '../../src/activities/image/engine';
import { judgeStepEvents } from '../../src/activities/image/verdict';
import { followStream } from '../../src/activities/docker/engine';

const FAILED = readFileSync(join(__dirname, 'fixtures/build-step-failed.jsonl'));
const SUCCEEDED = readFileSync(join(__dirname, 'fixtures/build-succeeded.jsonl'));

// Constructing a client opens no connection; the tests use its modem's stream reader, or fake the calls.
const client = new Docker({ socketPath: '/nonexistent.sock' });

/** The recording cut into chunks of `size` bytes, so lines and JSON objects straddle chunks. */
function chunked(recording: Buffer, size: number): Readable {
  const chunks: Buffer[] = [];
  for (let i = 0; i < recording.length; i += size) chunks.push(recording.subarray(i, i + size));
  return Readable.from(chunks);
}

async function readRecording(recording: Buffer, chunkSize = 7): Promise<{ progress: BuildStream; steps: string[] }> {
  const progress = new BuildStream();
  const steps: string[] = [];
  await followStream(client, chunked(recording, chunkSize), (message) => {
    const started = progress.read(message);
    if (started) steps.push(`${started.n}/${started.of}`);
  });
  return { progress, steps };
}

/** A Docker client whose engine answers the build with `stream` and is alive, with no events. */
function fakeEngine(stream: () => NodeJS.ReadableStream, events: object[] = []): Docker {
  return {
    modem: client.modem,
    buildImage: async () => stream(),
    ping: async () => 'OK',
    getEvents: async () => Readable.from(events.map((e) => JSON.stringify(e) + '\n')),
  } as unknown as Docker;
}

function buildOptions(signal = new AbortController().signal, steps: string[] = []) {
  return { t: 'repo:tag', buildargs: {}, labels: {}, signal, onStep: (n: number, of: number) => steps.push(`${n}/${of}`) };
}

describe('BuildStream', () => {
  it('follows the steps of a build and the image it made', async () => {
    const { progress, steps } = await readRecording(SUCCEEDED);
    assert.deepEqual(steps, ['1/4', '2/4', '3/4', '4/4']);
    // The aux ID comes first; the closing "Successfully built" line names the same image, shortened.
    assert.equal(progress.imageId, '27a5bb0aea28');
    assert.equal(progress.failure, undefined);
    assert.deepEqual(progress.step, { n: 4, of: 4, instruction: 'CMD ["node"]', container: 'fa49f96e5724' });
  });

  it('takes the failing step, its container, the error and the log tail without builder bookkeeping', async () => {
    for (const size of [1, 7, 64, FAILED.length]) {
      const { progress, steps } = await readRecording(FAILED, size);
      assert.deepEqual(steps, ['1/6', '2/6', '3/6', '4/6', '5/6'], `chunks of ${size} bytes`);
      assert.deepEqual(progress.step, { n: 5, of: 6, instruction: 'RUN sh /check.sh', container: '44e665d73de8' });
      assert.equal(progress.failure, "The command '/bin/sh -c sh /check.sh' returned a non-zero code: 3");
      assert.equal(progress.imageId, undefined);
      assert.deepEqual(progress.log, [
        'Step 1/6 : FROM tandem/node-base:20',
        'Step 2/6 : ENV A=1',
        'Step 3/6 : COPY check.sh /check.sh',
        'Step 4/6 : RUN echo "one line" && echo two',
        'one line',
        'two',
        'Step 5/6 : RUN sh /check.sh',
        'checking weights',
        'weights are not in the format the server reads',
      ]);
    }
  });

  it('keeps only the last 10 log lines', () => {
    const progress = new BuildStream();
    progress.read({ stream: Array.from({ length: 25 }, (_, i) => `line ${i}`).join('\n') + '\n' });
    assert.equal(progress.log.length, 10);
    assert.equal(progress.log[0], 'line 15');
    assert.equal(progress.log[9], 'line 24');
  });

  it('takes the error text from errorDetail, else from error', () => {
    const a = new BuildStream();
    a.read({ errorDetail: { message: 'detailed' }, error: 'short' });
    assert.equal(a.failure, 'detailed');
    const b = new BuildStream();
    b.read({ error: 'only short' });
    assert.equal(b.failure, 'only short');
  });
});

describe('exitCodeOf and stepFailureMessage', () => {
  it('reads the exit code of a failed RUN step', () => {
    assert.equal(exitCodeOf("The command '/bin/sh -c exit 3' returned a non-zero code: 3"), 3);
    assert.equal(exitCodeOf('COPY failed: file not found in build context'), undefined);
  });

  it('names the step and instruction, then the log tail', () => {
    const step = { n: 5, of: 6, instruction: 'RUN sh /check.sh' };
    assert.equal(stepFailureMessage({ step, log: ['a', 'b'] }, 'ignored', 3, false), 'step 5/6 "RUN sh /check.sh" failed: exit code 3\na\nb');
    assert.equal(stepFailureMessage({ step, log: [] }, 'ignored', 137, true), 'step 5/6 "RUN sh /check.sh" failed: exit code 137 (out of memory)');
    assert.equal(stepFailureMessage({ log: [] }, 'dockerfile parse error line 3', undefined, false), 'the build failed: dockerfile parse error line 3');
  });
});

describe('judgeStepEvents', () => {
  it('blames the Dockerfile for a plain non-zero exit and for running out of memory', () => {
    assert.deepEqual(judgeStepEvents(3, []), {});
    assert.deepEqual(judgeStepEvents(137, [{ Action: 'oom' }, { Action: 'kill', Actor: { Attributes: { signal: '9' } } }]), { oom: true });
  });

  it('blames the engine for a step killed from outside the build', () => {
    assert.match(judgeStepEvents(1, [{ Action: 'kill', Actor: { Attributes: { signal: '15' } } }]).engine!, /got signal 15 from outside the build/);
    assert.equal(judgeStepEvents(143, []).engine, 'the step was killed by signal 15');
    assert.equal(judgeStepEvents(137, []).engine, 'the step was killed by signal 9');
  });
});

describe('build', () => {
  it('heartbeats every step and returns the image id', async () => {
    const steps: string[] = [];
    const id = await build(fakeEngine(() => chunked(SUCCEEDED, 13)), Readable.from([]), buildOptions(undefined, steps));
    assert.equal(id, '27a5bb0aea28');
    assert.deepEqual(steps, ['1/4', '2/4', '3/4', '4/4']);
  });

  it('fails non-retryably with BuildFailed, naming the failing step, with the log tail and details', async () => {
    const error = await build(fakeEngine(() => chunked(FAILED, 13)), Readable.from([]), buildOptions()).then(
      () => assert.fail('the build succeeded'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof ApplicationFailure, String(error));
    assert.equal(error.nonRetryable, true);
    assert.equal(error.type, FailureType.BuildFailed);
    assert.match(error.message, /^step 5\/6 "RUN sh \/check\.sh" failed: exit code 3\nStep 1\/6 : FROM/);
    assert.match(error.message, /\nchecking weights\nweights are not in the format the server reads$/);
    const [details] = error.details as [{ step: number; of: number; instruction: string; exitCode: number; log: string[] }];
    assert.deepEqual({ ...details, log: details.log.length }, { step: 5, of: 6, instruction: 'RUN sh /check.sh', exitCode: 3, log: 9 });
  });

  it('retries a step the engine killed from outside the build', async () => {
    const engine = fakeEngine(() => chunked(FAILED, 64), [{ Action: 'kill', Actor: { Attributes: { signal: '15' } } }]);
    const error = await build(engine, Readable.from([]), buildOptions()).catch((e: unknown) => e);
    assert.ok(error instanceof ApplicationFailure, String(error));
    assert.equal(error.nonRetryable, false);
    assert.equal(error.type, DockerUnavailable);
    assert.match(error.message, /^Docker engine failed the build at step 5\/6: .*got signal 15 from outside the build/);
  });

  it('retries a build whose stream ends without a result', async () => {
    const cut = FAILED.subarray(0, FAILED.indexOf('Step 3/6'));
    const error = await build(fakeEngine(() => Readable.from([cut])), Readable.from([]), buildOptions()).catch((e: unknown) => e);
    assert.ok(error instanceof ApplicationFailure, String(error));
    assert.equal(error.type, DockerUnavailable);
    assert.equal(error.message, 'Docker engine ended the build without a final status after step 2/6');
  });

  it('retries a build whose stream breaks', async () => {
    const broken = () => {
      const stream = new PassThrough();
      stream.write(SUCCEEDED.subarray(0, SUCCEEDED.indexOf('Step 2/4')));
      setImmediate(() => stream.destroy(new Error('socket hang up')));
      return stream;
    };
    const error = await build(fakeEngine(broken), Readable.from([]), buildOptions()).catch((e: unknown) => e);
    assert.ok(error instanceof ApplicationFailure, String(error));
    assert.equal(error.type, DockerUnavailable);
    assert.equal(error.message, 'Docker engine dropped the build at step 1/4: socket hang up');
  });

  it('is cancelled when the signal aborts mid-build, and closes the build stream', async () => {
    const controller = new AbortController();
    const stream = new PassThrough();
    stream.write(SUCCEEDED.subarray(0, SUCCEEDED.indexOf('Step 3/4')));
    const steps: string[] = [];
    const pending = build(fakeEngine(() => stream), Readable.from([]), buildOptions(controller.signal, steps));
    setTimeout(() => controller.abort(new CancelledFailure('cancelled by the test')), 20);
    const error = await pending.catch((e: unknown) => e);
    assert.ok(error instanceof CancelledFailure, String(error));
    assert.equal(error.message, 'cancelled by the test');
    assert.deepEqual(steps, ['1/4', '2/4']);
    assert.equal(stream.destroyed, true);
  });
});
