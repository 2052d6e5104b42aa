/**
 * The verdict on one mirrored request: does the candidate's answer agree with the stable answer
 * the caller got, at the JSONPaths the mirror's `compare` names? Pure: the answers are read and
 * bounded by shadow-capture.ts, the verdicts counted and sampled by shadow-agreement.ts.
 */
import { isDeepStrictEqual } from 'node:util';
import { matchesAt, type PathMatch } from '../shared/json-path';
import type { MirrorCompare, MirrorCompareField } from '../shared/traffic-state';

/** One side's answer: complete (body decoded, within the size limit), over the limit, or none at all. */
export type ShadowAnswer =
  | { kind: 'answered'; status: number; body: Buffer }
  | { kind: 'too_large'; status: number; bytes: number }
  | { kind: 'failed'; reason: 'error' | 'timeout' };

export type ShadowResult = 'agree' | 'disagree' | 'not_compared';

/** A verdict and, for disagree and not_compared, short lines saying why. */
export interface ShadowJudgement {
  result: ShadowResult;
  differences: string[];
}

/** Difference lines kept per pair; wildcard paths can select many values. */
const MAX_DIFFERENCES = 10;
const MAX_VALUE_CHARS = 80;

/**
 * Judges a pair. not_compared when the stable answer is no basis (not 2xx JSON, over the size
 * limit, a field missing) or the candidate's is over the limit; disagree when the candidate did
 * not answer 2xx JSON or some field differs (numbers beyond both tolerances, exactly when none is
 * given; other values by deep equality; a different number of matches); agree otherwise. Values at
 * `compare.redact` paths show as "[redacted]" in the lines. Never throws.
 */
export function judgeAnswers(compare: MirrorCompare, stable: ShadowAnswer, candidate: ShadowAnswer): ShadowJudgement {
  const basis = jsonOf(stable);
  if (!basis.ok) return { result: 'not_compared', differences: [`stable ${basis.why}`] };
  if (candidate.kind === 'failed') return disagree([`candidate did not answer (${candidate.reason})`]);
  if (!is2xx(candidate.status)) return disagree([`candidate answered ${candidate.status}`]);
  const other = jsonOf(candidate);
  if (!other.ok) return other.tooLarge ? { result: 'not_compared', differences: [`candidate ${other.why}`] } : disagree([`candidate ${other.why}`]);

  try {
    const hidden = [...redactedLocations(basis.json, compare.redact), ...redactedLocations(other.json, compare.redact)];
    const show = (match: PathMatch): string => (hidden.some((at) => match.at === at || match.at.startsWith(`${at}[`)) ? '"[redacted]"' : shown(match.value));
    const fields = compare.fields.map((field) => ({ field, stable: matchesAt(basis.json, field.path), candidate: matchesAt(other.json, field.path) }));
    const missing = fields.filter((f) => f.stable.length === 0).map((f) => `${f.field.path}: missing in stable's answer`);
    if (missing.length > 0) return { result: 'not_compared', differences: missing };
    const differences = fields.flatMap((f) => fieldDifferences(f.field, f.stable, f.candidate, show));
    if (differences.length === 0) return { result: 'agree', differences: [] };
    const more = differences.length - MAX_DIFFERENCES;
    return disagree(more > 0 ? [...differences.slice(0, MAX_DIFFERENCES), `… and ${more} more`] : differences);
  } catch (error) {
    return { result: 'not_compared', differences: [(error as Error).message] };
  }
}

function disagree(differences: string[]): ShadowJudgement {
  return { result: 'disagree', differences };
}

const is2xx = (status: number): boolean => status >= 200 && status < 300;

type Parsed = { ok: true; json: unknown } | { ok: false; why: string; tooLarge?: boolean };

/** The answer as JSON, or why it is none (the words follow "stable " or "candidate "). */
function jsonOf(answer: ShadowAnswer): Parsed {
  if (answer.kind === 'failed') return { ok: false, why: `did not answer (${answer.reason})` };
  if (!is2xx(answer.status)) return { ok: false, why: `answered ${answer.status}` };
  if (answer.kind === 'too_large') return { ok: false, why: `answer is over the size limit (${answer.bytes} bytes)`, tooLarge: true };
  const json = parseJson(answer.body);
  return json.ok ? json : { ok: false, why: `answer is not JSON` };
}

/** The body as JSON, if it is. */
export function parseJson(body: Buffer): { ok: true; json: unknown } | { ok: false } {
  try {
    return { ok: true, json: JSON.parse(body.toString('utf8')) };
  } catch {
    return { ok: false };
  }
}

function redactedLocations(json: unknown, paths: readonly string[] | undefined): string[] {
  return (paths ?? []).flatMap((path) => matchesAt(json, path).map((m) => m.at));
}

function fieldDifferences(field: MirrorCompareField, stable: PathMatch[], candidate: PathMatch[], show: (m: PathMatch) => string): string[] {
  const { path } = field;
  if (candidate.length === 0) return [`${path}: missing in candidate's answer (stable ${stable.map(show).join(', ')})`];
  if (candidate.length !== stable.length) return [`${path}: stable has ${stable.length} values, candidate ${candidate.length}`];
  const lines: string[] = [];
  stable.forEach((s, i) => {
    const c = candidate[i]!;
    if (valuesAgree(field, s.value, c.value)) return;
    const where = stable.length === 1 ? path : s.at;
    const both = typeof s.value === 'number' && typeof c.value === 'number';
    lines.push(`${where}: stable ${show(s)}, candidate ${show(c)}${both ? toleranceNote(field) : ''}`);
  });
  return lines;
}

/**
 * Numbers agree within `tolerance` or `relativeTolerance` × |stable| (exactly when neither is
 * given); anything else by deep equality.
 */
export function valuesAgree(field: Pick<MirrorCompareField, 'tolerance' | 'relativeTolerance'>, stable: unknown, candidate: unknown): boolean {
  if (typeof stable !== 'number' || typeof candidate !== 'number') return isDeepStrictEqual(stable, candidate);
  if (stable === candidate) return true;
  const difference = Math.abs(stable - candidate);
  // Decimal tolerances are not exact in binary: 0.17 - 0.12 is 0.05000000000000002, which a
  // person writing tolerance 0.05 means to accept. Allow a few units in the last place.
  const slack = 4 * Number.EPSILON * Math.max(Math.abs(stable), Math.abs(candidate));
  const within = (limit: number | undefined): boolean => limit !== undefined && difference <= limit + slack;
  return within(field.tolerance) || within(field.relativeTolerance === undefined ? undefined : field.relativeTolerance * Math.abs(stable));
}

function toleranceNote(field: MirrorCompareField): string {
  const notes = [
    ...(field.tolerance === undefined ? [] : [`tolerance ${field.tolerance}`]),
    ...(field.relativeTolerance === undefined ? [] : [`relative tolerance ${field.relativeTolerance}`]),
  ];
  return notes.length ? ` (${notes.join(', ')})` : '';
}

function shown(value: unknown): string {
  const text = value === undefined ? 'undefined' : JSON.stringify(value);
  return text.length > MAX_VALUE_CHARS ? `${text.slice(0, MAX_VALUE_CHARS)}…` : text;
}
