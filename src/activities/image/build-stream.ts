/**
 * What the legacy builder's progress messages say: the Dockerfile step running ("Step n/m : …"),
 * the container it runs in, the last lines of the build log, the image built and the error that
 * ended the build. Pure: it reads messages dockerode has already parsed.
 */

/** Lines of the build log kept for a failure message. */
const LOG_LINES = 10;

/** A Dockerfile step as the builder announces it. */
export interface Step {
  n: number;
  of: number;
  instruction: string;
  /** the container the builder runs the step in (" ---> Running in <id>"), for RUN steps */
  container?: string;
}

/** Reads a build's progress messages one at a time and keeps what the verdict on the build needs. */
export class BuildStream {
  /** the step running, or the last one that ran */
  step?: Step;
  /** the id of the built image, once the builder names it */
  imageId?: string;
  /** the error message that ended the build, if one did */
  failure?: string;
  /** the last LOG_LINES lines of the build's own output (no builder bookkeeping lines) */
  readonly log: string[] = [];

  /** Takes one message in; returns the step when the message starts one. */
  read(message: Record<string, unknown>): Step | undefined {
    let started: Step | undefined;
    if (typeof message.stream === 'string') {
      for (const line of message.stream.split('\n')) started = this.readLine(line) ?? started;
    }
    const aux = message.aux as { ID?: string } | undefined;
    if (aux?.ID) this.imageId = aux.ID;
    if (message.error || message.errorDetail) this.failure = errorOf(message);
    return started;
  }

  private readLine(line: string): Step | undefined {
    const text = line.replace(/\x1b\[[0-9;]*m/g, '').trimEnd();
    const running = /^ ---> Running in ([0-9a-f]+)/.exec(text);
    if (running && this.step) this.step.container = running[1];
    if (!text || text.startsWith(' ---> ') || text.startsWith('Removing intermediate container')) return undefined;
    this.log.push(text);
    if (this.log.length > LOG_LINES) this.log.shift();
    const built = /^Successfully built ([0-9a-f]+)/.exec(text);
    if (built) this.imageId = built[1];
    const m = /^Step (\d+)\/(\d+) : (.*)$/.exec(text);
    if (!m) return undefined;
    this.step = { n: Number(m[1]), of: Number(m[2]), instruction: m[3]! };
    return this.step;
  }
}

/** The error text of an engine progress message (`errorDetail.message`, else `error`). Pure. */
export function errorOf(message: Record<string, unknown>): string {
  return String((message.errorDetail as { message?: string } | undefined)?.message ?? message.error);
}

/** The exit code a failed RUN step reports ("returned a non-zero code: 3"), if the failure is one. Pure. */
export function exitCodeOf(failure: string): number | undefined {
  const exit = /returned a non-zero code: (\d+)/.exec(failure);
  return exit ? Number(exit[1]) : undefined;
}

/**
 * The message of a build the Dockerfile failed: the step and its instruction, the exit code (or
 * the builder's error when there is none) and the log tail on the following lines. Pure.
 */
export function stepFailureMessage(build: Pick<BuildStream, 'step' | 'log'>, failure: string, exitCode: number | undefined, oom: boolean): string {
  const { step, log } = build;
  const what = exitCode === undefined ? failure : `exit code ${exitCode}${oom ? ' (out of memory)' : ''}`;
  const where = step ? `step ${step.n}/${step.of} "${step.instruction}"` : 'the build';
  return `${where} failed: ${what}${log.length ? `\n${log.join('\n')}` : ''}`;
}
