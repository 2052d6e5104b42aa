/**
 * Why a replica died, in one message: how it ended (exit code or out of memory), how often the
 * engine restarted it, and the last lines it wrote.
 */
import type Docker from 'dockerode';
import { once } from 'node:events';
import { PassThrough, Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { followStream } from './engine';
import type { Replica } from './replicas';

const LOG_LINES = 20;

/** What crashDescription needs to know about a dead or restarting container. */
export interface Crash {
  name: string;
  oomKilled: boolean;
  /** the exit code of the last run, when known */
  exitCode?: number | string;
  restartCount: number;
  /** the last log lines, already printable; '' when it wrote none */
  logs: string;
}

/** Reads why the replica's container died from the engine (its state, `die` events and log tail). */
export async function describeCrash(docker: Docker, replica: Replica, info: Docker.ContainerInspectInfo): Promise<string> {
  const exitCode = info.State.Running ? await lastExitCode(docker, replica.id, info.Created) : info.State.ExitCode;
  return crashDescription({
    name: replica.name,
    oomKilled: info.State.OOMKilled,
    exitCode,
    restartCount: info.RestartCount,
    logs: await lastLogLines(docker, replica.id),
  });
}

/** `container <name> exited with code 3 (restarted 2 times); last log lines:\n…`. Pure. */
export function crashDescription(crash: Crash): string {
  const how = crash.oomKilled ? 'was killed for using too much memory' : `exited with code ${crash.exitCode ?? 'unknown'}`;
  const restarts = crash.restartCount > 0 ? ` (restarted ${crash.restartCount} time${crash.restartCount === 1 ? '' : 's'})` : '';
  return `container ${crash.name} ${how}${restarts}${crash.logs ? `; last log lines:\n${crash.logs}` : '; it wrote no logs'}`;
}

/** The exit code of the last `die` event among `events` (engine event messages, oldest first). Pure. */
export function lastDieExitCode(events: ReadonlyArray<{ Actor?: { Attributes?: Record<string, string> } }>): string | undefined {
  let code: string | undefined;
  for (const event of events) code = event.Actor?.Attributes?.exitCode ?? code;
  return code;
}

/** The exit code of the container's last `die` event (a restarted container's state no longer holds it). */
async function lastExitCode(docker: Docker, id: string, created: string): Promise<string | undefined> {
  const since = Math.floor(new Date(created).getTime() / 1000);
  const until = Math.ceil(Date.now() / 1000);
  const stream = await docker.getEvents({ since, until, filters: { container: [id], event: ['die'] } });
  return lastDieExitCode(await followStream(docker, stream));
}

async function lastLogLines(docker: Docker, id: string): Promise<string> {
  try {
    const raw = (await docker.getContainer(id).logs({ stdout: true, stderr: true, tail: LOG_LINES, follow: false })) as unknown as Buffer | string;
    return printable(await demuxLogs(docker, raw));
  } catch {
    return '';
  }
}

/** Text of a container log buffer: stdout and stderr frames in the order written (TTY logs, unframed, pass as they are). */
export async function demuxLogs(docker: Pick<Docker, 'modem'>, raw: Buffer | string): Promise<string> {
  const source = Readable.from([Buffer.from(raw)]);
  const out = new PassThrough();
  docker.modem.demuxStream(source, out, out);
  await once(source, 'end');
  out.end();
  return text(out);
}

/** Log text without terminal escapes, other control characters and trailing blank space. Pure. */
export function printable(logText: string): string {
  return logText
    .replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '')
    .replace(/[^\S\n\t ]|[\x00-\x08\x0b-\x1f\x7f]/g, '')
    .replace(/[ \t]+$/gm, '')
    .trim();
}
