/**
 * The README as a test reads it: the shell lines of one section, found by pattern, run with bash
 * exactly as written, `tandem` being this checkout's bin.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN } from './processes';
import { ROOT } from './temporal';

export interface ReadmeSection {
  text: string;
  /** the lines of the section's shell blocks (```-fenced without a language), in order */
  shellLines: string[];
  /** the first shell line matching `pattern`; fails the test when there is none */
  line(pattern: RegExp): string;
  /** the text of the first ```yaml block that matches `pattern` */
  yaml(pattern: RegExp): string;
}

/** The README from the heading `from` up to the heading `to`. */
export function readmeSection(from: string, to: string): ReadmeSection {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const text = readme.slice(readme.indexOf(from), readme.indexOf(to));
  const blocks = [...text.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)];
  const shellLines = blocks.filter((m) => !m[1]).flatMap((m) => m[2]!.split('\n').filter((l) => l.trim()));
  return {
    text,
    shellLines,
    line(pattern) {
      const line = shellLines.find((l) => pattern.test(l));
      assert.ok(line, `no README line in "${from}" matching ${pattern}`);
      return line;
    },
    yaml(pattern) {
      const block = blocks.find((m) => m[1] === 'yaml' && pattern.test(m[2]!));
      assert.ok(block, `no yaml block in "${from}" matching ${pattern}`);
      return block[2]!;
    },
  };
}

/** Runs one README shell line with bash in `cwd`, `tandem` being this checkout's bin. */
export function sh(line: string, cwd: string, env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('bash', ['-c', `tandem() { "${process.execPath}" "${BIN}" "$@"; }\n${line}`], { cwd, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr }),
    );
  });
}
