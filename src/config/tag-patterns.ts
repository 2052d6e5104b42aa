/**
 * Per-model tag filters of the webhooks (`models.<name>.tags: "v*"`). A pattern is a tiny glob:
 * `*` matches any run of characters (`/` included), every other character only itself. That is
 * all a tag filter needs, so no glob library (with its `?`, `[...]`, `{a,b}` and `**` rules to
 * learn) is involved. Pure.
 */
import { z } from 'zod';

const patternSchema = z
  .string()
  .trim()
  .min(1, 'a tag pattern cannot be empty; leave tags out to accept every tag')
  .max(200, 'a tag pattern is at most 200 characters');

/** One pattern or a list of them; a tag matching any one is released. */
export const tagPatternsSchema = z.union([patternSchema, z.array(patternSchema).min(1, 'lists no pattern; leave tags out to accept every tag')]);
export type TagPatterns = z.output<typeof tagPatternsSchema>;

/** True when `tag` matches `pattern` as a whole (`*` = any characters, possibly none). */
export function tagMatches(pattern: string, tag: string): boolean {
  const parts = pattern.split('*');
  if (parts.length === 1) return tag === pattern;
  const first = parts[0]!;
  const last = parts[parts.length - 1]!;
  if (tag.length < first.length + last.length || !tag.startsWith(first) || !tag.endsWith(last)) return false;
  // Greedy left to right is exact for `*`-only globs: each middle part taken at its earliest place
  // leaves the most room for the rest.
  let at = first.length;
  const end = tag.length - last.length;
  for (const part of parts.slice(1, -1)) {
    const found = tag.indexOf(part, at);
    if (found < 0 || found + part.length > end) return false;
    at = found + part.length;
  }
  return true;
}

/** The first pattern that `tag` matches, or undefined; no patterns (undefined) accept every tag. */
export function matchingPattern(patterns: TagPatterns | undefined, tag: string): string | undefined {
  if (patterns === undefined) return '*';
  return [patterns].flat().find((p) => tagMatches(p, tag));
}
