/** Why a replica died, as the DockerTarget reports it: exit code or OOM, restarts, log tail. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import Docker from 'dockerode';
import { crashDescription, demuxLogs, lastDieExitCode, printable } from '../../src/activities/docker/crash';

/** One frame of the engine's multiplexed log stream: stream type, three zero bytes, size, payload. */
function frame(kind: 1 | 2, text: string): Buffer {
  const payload = Buffer.from(text);
  const header = Buffer.alloc(8);
  header[0] = kind;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

// Constructing a client opens no connection; demuxLogs uses only its modem's demultiplexer.
const docker = new Docker({ socketPath: '/nonexistent.sock' });

describe('crashDescription', () => {
  it('names the exit code and the log tail', () => {
    assert.equal(
      crashDescription({ name: 'tandem-m_v1_0', oomKilled: false, exitCode: 3, restartCount: 0, logs: 'loading weights\nfile is corrupt' }),
      'container tandem-m_v1_0 exited with code 3; last log lines:\nloading weights\nfile is corrupt',
    );
  });

  it('says when the container wrote nothing, and counts restarts', () => {
    assert.equal(
      crashDescription({ name: 'c', oomKilled: false, exitCode: '4', restartCount: 1, logs: '' }),
      'container c exited with code 4 (restarted 1 time); it wrote no logs',
    );
    assert.equal(crashDescription({ name: 'c', oomKilled: false, exitCode: 4, restartCount: 3, logs: '' }), 'container c exited with code 4 (restarted 3 times); it wrote no logs');
  });

  it('names running out of memory instead of the exit code', () => {
    assert.equal(crashDescription({ name: 'c', oomKilled: true, exitCode: 137, restartCount: 0, logs: 'x' }), 'container c was killed for using too much memory; last log lines:\nx');
  });

  it('says when the exit code is not known', () => {
    assert.match(crashDescription({ name: 'c', oomKilled: false, restartCount: 2, logs: '' }), /^container c exited with code unknown \(restarted 2 times\)/);
  });
});

describe('lastDieExitCode', () => {
  it('takes the last die event that carries an exit code', () => {
    const events = [{ Actor: { Attributes: { exitCode: '1' } } }, { Actor: { Attributes: { exitCode: '3' } } }, { Actor: {} }, {}];
    assert.equal(lastDieExitCode(events), '3');
  });

  it('is undefined without events', () => {
    assert.equal(lastDieExitCode([]), undefined);
  });
});

describe('printable', () => {
  it('drops terminal escapes, control characters and trailing blanks', () => {
    assert.equal(printable('\x1b[31merror:\x1b[0m bad \x07weights  \r\n\tat line 3\t\n\n'), 'error: bad weights\n\tat line 3');
  });
});

describe('demuxLogs', () => {
  it('joins stdout and stderr frames in the order written', async () => {
    const raw = Buffer.concat([frame(1, 'starting\n'), frame(2, 'loading weights: '), frame(2, 'file is corrupt\n'), frame(1, 'bye\n')]);
    assert.equal(await demuxLogs(docker, raw), 'starting\nloading weights: file is corrupt\nbye\n');
  });

  it('passes unframed (TTY) logs through as they are', async () => {
    assert.equal(await demuxLogs(docker, Buffer.from('plain tty output\n')), 'plain tty output\n');
    assert.equal(await demuxLogs(docker, 'a string already\n'), 'a string already\n');
  });

  it('gives nothing for an empty log', async () => {
    assert.equal(await demuxLogs(docker, Buffer.alloc(0)), '');
  });
});
