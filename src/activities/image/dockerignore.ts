/**
 * `.dockerignore` rules, as the Docker CLI applies them when it sends a build context: one pattern
 * a line, `#` comments, `!` re-includes, `*` and `?` within one path segment, `**` across
 * segments, `[...]` character classes, and a pattern that matches a folder matches everything in
 * it. The last pattern that matches a path decides. Pure.
 */

interface Rule {
  negate: boolean;
  re: RegExp;
}

/** Files the build always needs, whatever `.dockerignore` says (the CLI sends them too). */
const ALWAYS_SENT = new Set(['Dockerfile', '.dockerignore']);

function escapeRe(ch: string): string {
  return /[\\^$.*+?()[\]{}|/]/.test(ch) ? `\\${ch}` : ch;
}

/** Regex for one path segment's pattern (no `/` inside). */
function segmentRe(seg: string): string {
  let re = '';
  for (let i = 0; i < seg.length; i++) {
    const ch = seg[i]!;
    if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else if (ch === '\\' && i + 1 < seg.length) re += escapeRe(seg[++i]!);
    else if (ch === '[') {
      const end = seg.indexOf(']', i + 2);
      if (end < 0) {
        re += '\\[';
        continue;
      }
      let cls = seg.slice(i + 1, end);
      if (cls.startsWith('!')) cls = '^' + cls.slice(1);
      re += `[${cls.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else re += escapeRe(ch);
  }
  return re;
}

/** Cleans a pattern like Go's filepath.Clean, without a leading `/`. */
function clean(pattern: string): string {
  const out: string[] = [];
  for (const part of pattern.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  return out.join('/');
}

function compile(pattern: string): RegExp {
  const segs = pattern.split('/');
  let re = '^';
  segs.forEach((seg, i) => {
    const last = i === segs.length - 1;
    if (seg === '**') {
      if (i === 0) re += last ? '.*' : '(?:.*/)?';
      else re += last ? '(?:/.*)?' : '(?:/.*)?/';
      return;
    }
    if (i > 0 && segs[i - 1] !== '**') re += '/';
    re += segmentRe(seg);
  });
  return new RegExp(re + '$');
}

/** Parses the text of a `.dockerignore` into rules; blank lines and comments are skipped. */
function parseDockerignore(text: string): Rule[] {
  const rules: Rule[] = [];
  for (const raw of text.split(/\r?\n/)) {
    let line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const negate = line.startsWith('!');
    if (negate) line = line.slice(1).trim();
    const pattern = clean(line);
    if (!pattern) continue;
    rules.push({ negate, re: compile(pattern) });
  }
  return rules;
}

/**
 * A predicate that says whether a context path (relative, `/`-separated, no leading `./`) is
 * excluded by the given `.dockerignore` text. A pattern also matches the path's parent folders.
 */
export function dockerignoreFilter(text: string): (path: string) => boolean {
  const rules = parseDockerignore(text);
  return (path: string) => {
    const p = clean(path);
    if (ALWAYS_SENT.has(p) || rules.length === 0) return false;
    const prefixes: string[] = [];
    const parts = p.split('/');
    for (let i = 1; i <= parts.length; i++) prefixes.push(parts.slice(0, i).join('/'));
    let excluded = false;
    for (const rule of rules) {
      if (prefixes.some((prefix) => rule.re.test(prefix))) excluded = !rule.negate;
    }
    return excluded;
  };
}
