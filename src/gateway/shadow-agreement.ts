/**
 * What the gateway knows about a mirror version's agreement with the versions answering callers:
 * per (model, version) the verdicts counted since the gateway started and the latest few
 * disagreements, redacted before they are kept. Memory is bounded: `samples` (at most 20)
 * disagreements per version, each body at most 2 KiB of JSON text, and at most `maxVersions`
 * versions (the one least recently compared is forgotten first). Never the whole traffic.
 */
import { replaceAt } from '../shared/json-path';
import { DEFAULT_COMPARE_SAMPLES, type MirrorCompare } from '../shared/traffic-state';
import type { GatewayMetrics } from './metrics';
import type { CopyOutcome } from './mirror';
import { SHADOW_BODY_LIMIT } from './shadow-capture';
import { judgeAnswers, parseJson, type ShadowAnswer, type ShadowJudgement } from './shadow-compare';

/** A kept body: JSON, or the text when not JSON, or a note saying why it was not kept. */
export type KeptBody = unknown;

/** One disagreement as the admin API shows it. */
export interface DisagreementSample {
  /** ISO time the pair was judged */
  at: string;
  request: { method: string; path: string; body: KeptBody };
  /** status 0: no answer (error or timeout; the body says which) */
  stable: { status: number; body: KeptBody };
  candidate: { status: number; body: KeptBody };
  differences: string[];
}

/** GET /_tandem/models/<model>/versions/<version>/agreement */
export interface AgreementReading {
  model: string;
  version: string;
  agree: number;
  disagree: number;
  notCompared: number;
  /** oldest first */
  samples: DisagreementSample[];
}

/** The request of a mirrored pair as the proxy saw it (path without the model prefix). */
export interface PairRequest {
  method: string;
  path: string;
}

/** One mirrored request whose two answers are awaited; each side is reported once, in any order. */
export interface ShadowPair {
  /** the answer the caller got */
  stable(answer: ShadowAnswer): void;
  /** what became of the copy; a copy not sent makes no pair */
  candidate(outcome: CopyOutcome): void;
  /** true once the copy was not sent: the stable answer need not be read */
  abandoned(): boolean;
}

export interface AgreementBook {
  /** A pair for one mirrored request, judged with `compare` once both sides are in. */
  pair(model: string, version: string, compare: MirrorCompare, request: PairRequest): ShadowPair;
  /** Records a judged pair (the pair() path ends here; tests call it directly). */
  record(model: string, version: string, compare: MirrorCompare, request: PairRequest & { body: Buffer }, stable: ShadowAnswer, candidate: ShadowAnswer): ShadowJudgement;
  /** Counts and samples of a version; zeros and [] when it was never compared. */
  reading(model: string, version: string): AgreementReading;
}

export interface AgreementBookOptions {
  metrics?: GatewayMetrics;
  /** versions tracked at once; default 256 */
  maxVersions?: number;
  now?: () => Date;
}

/** A kept body whose JSON text is longer than this is replaced by a note. */
export const MAX_KEPT_BODY_BYTES = 2048;
const REDACTED = '[redacted]';

interface Tally {
  agree: number;
  disagree: number;
  notCompared: number;
  samples: DisagreementSample[];
}

export function createAgreementBook(options: AgreementBookOptions = {}): AgreementBook {
  const maxVersions = options.maxVersions ?? 256;
  const now = options.now ?? (() => new Date());
  // Map order is insertion order: a version is moved to the end when compared, so the first is the stalest.
  const tallies = new Map<string, Tally>();
  const keyOf = (model: string, version: string): string => `${model}\u0000${version}`;

  const record: AgreementBook['record'] = (model, version, compare, request, stable, candidate) => {
    const judgement = judgeAnswers(compare, stable, candidate);
    options.metrics?.shadowComparisons.inc({ model, version, result: judgement.result });
    const key = keyOf(model, version);
    const tally = tallies.get(key) ?? { agree: 0, disagree: 0, notCompared: 0, samples: [] };
    tallies.delete(key);
    tallies.set(key, tally);
    if (tallies.size > maxVersions) tallies.delete(tallies.keys().next().value!);
    if (judgement.result === 'agree') tally.agree += 1;
    else if (judgement.result === 'not_compared') tally.notCompared += 1;
    else {
      tally.disagree += 1;
      const limit = compare.samples ?? DEFAULT_COMPARE_SAMPLES;
      if (limit > 0) tally.samples.push(sampleOf(compare, request, stable, candidate, judgement.differences, now()));
      tally.samples.splice(0, Math.max(0, tally.samples.length - limit));
    }
    return judgement;
  };

  const pair: AgreementBook['pair'] = (model, version, compare, request) => {
    let stable: ShadowAnswer | undefined;
    let copy: CopyOutcome | undefined;
    const judgeWhenBoth = (): void => {
      if (!stable || !copy?.sent) return;
      record(model, version, compare, { ...request, body: copy.body }, stable, copy.answer);
    };
    return {
      stable(answer) {
        if (stable) return;
        stable = answer;
        judgeWhenBoth();
      },
      candidate(outcome) {
        if (copy) return;
        copy = outcome;
        judgeWhenBoth();
      },
      abandoned: () => copy?.sent === false,
    };
  };

  const reading: AgreementBook['reading'] = (model, version) => {
    const tally = tallies.get(keyOf(model, version));
    return { model, version, agree: tally?.agree ?? 0, disagree: tally?.disagree ?? 0, notCompared: tally?.notCompared ?? 0, samples: [...(tally?.samples ?? [])] };
  };

  return { pair, record, reading };
}

function sampleOf(compare: MirrorCompare, request: PairRequest & { body: Buffer }, stable: ShadowAnswer, candidate: ShadowAnswer, differences: string[], at: Date): DisagreementSample {
  const redact = compare.redact ?? [];
  const requestBody = request.body.length > SHADOW_BODY_LIMIT ? notKept(request.body.length) : keptBody(request.body, redact);
  return {
    at: at.toISOString(),
    request: { method: request.method, path: request.path, body: requestBody },
    stable: keptAnswer(stable, redact),
    candidate: keptAnswer(candidate, redact),
    differences,
  };
}

function keptAnswer(answer: ShadowAnswer, redact: readonly string[]): { status: number; body: KeptBody } {
  // Status 0 for no answer, as fetch() reports a network error: readers expect a number.
  if (answer.kind === 'failed') return { status: 0, body: `(no answer: ${answer.reason})` };
  if (answer.kind === 'too_large') return { status: answer.status, body: notKept(answer.bytes) };
  return { status: answer.status, body: keptBody(answer.body, redact) };
}

/**
 * The body as it is kept: JSON with every `redact` path replaced by "[redacted]", the text when
 * not JSON and nothing is to be redacted, or a note when over 2 KiB or when redaction cannot apply
 * (text that is not JSON may hold what the paths name).
 */
export function keptBody(body: Buffer, redact: readonly string[]): KeptBody {
  if (body.length === 0) return '';
  const parsed = parseJson(body);
  if (!parsed.ok) {
    if (redact.length > 0) return `(${body.length} bytes, not JSON, not kept: redaction applies to JSON)`;
    return body.length > MAX_KEPT_BODY_BYTES ? notKept(body.length) : body.toString('utf8');
  }
  let json: unknown;
  try {
    json = replaceAt(parsed.json, redact, REDACTED).json;
  } catch {
    return `(${body.length} bytes, not kept: a redact path cannot be evaluated)`;
  }
  const bytes = Buffer.byteLength(JSON.stringify(json));
  return bytes > MAX_KEPT_BODY_BYTES ? notKept(bytes) : json;
}

function notKept(bytes: number): string {
  return `(${bytes} bytes, not kept)`;
}
