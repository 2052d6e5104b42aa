/**
 * A lock shared by processes on one machine, that survives its holder being SIGKILLed.
 *
 * Taking it is `link(tmp, lock)`: atomic, fails when the lock exists, and the lock file carries
 * its holder's pid from the first instant. A lock whose holder is dead (or a zombie) is broken by
 * linking it to `<lock>.stale-<inode>` first and unlinking it only then: two processes breaking
 * the same dead lock at once cannot both succeed (the second link fails), and neither can take
 * away a lock that a live process has since taken (its inode differs, and an inode stays unique
 * while the stale name still links to it). Stale names are left in place until `cleanStale`.
 *
 * Within one process, callers queue on a promise chain per lock first, so at most one waiter per
 * process polls the file.
 */
import { closeSync, fstatSync, linkSync, openSync, readFileSync, readdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

const queues = new Map<string, Promise<unknown>>();

/** Runs `fn` while holding the lock at `path` (in this process and across processes). */
export function withFileLock<T>(path: string, fn: () => Promise<T> | T): Promise<T> {
  const previous = queues.get(path) ?? Promise.resolve();
  const run = previous.then(async () => {
    await acquire(path);
    try {
      return await fn();
    } finally {
      unlinkSync(path);
    }
  });
  const tail = run.catch(() => undefined);
  queues.set(path, tail);
  void tail.then(() => queues.get(path) === tail && queues.delete(path));
  return run;
}

async function acquire(path: string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, String(process.pid));
  try {
    for (let round = 0; ; round++) {
      try {
        linkSync(tmp, path);
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      breakIfDead(path);
      await new Promise((r) => setTimeout(r, Math.min(2 + round, 20)));
    }
  } finally {
    unlinkSync(tmp);
  }
}

/** Breaks the lock when its holder no longer runs; does nothing when in doubt. */
function breakIfDead(path: string): void {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return; // released meanwhile
  }
  let ino: number;
  let pid: number;
  try {
    ino = fstatSync(fd).ino;
    pid = Number(readFileSync(fd, 'utf8'));
  } finally {
    closeSync(fd);
  }
  if (!pid || alive(pid)) return;
  try {
    linkSync(path, `${path}.stale-${ino}`);
  } catch {
    return; // someone else broke it (or it is gone)
  }
  try {
    unlinkSync(path);
  } catch {
    // gone already
  }
}

/** True when the process runs; a zombie (killed, not yet reaped) counts as dead. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Removes the names of broken locks left beside `path`; returns how many locks were broken. */
export function cleanStale(path: string): number {
  const prefix = `${basename(path)}.stale-`;
  let broken = 0;
  for (const name of readdirSync(dirname(path))) {
    if (!name.startsWith(prefix)) continue;
    unlinkSync(join(dirname(path), name));
    broken++;
  }
  return broken;
}
