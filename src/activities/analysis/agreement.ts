/**
 * The verdict of a shadow window: how often the new version's predictions agreed with stable's on
 * the same live requests (tandem's gateway compares each mirrored pair and counts the results).
 * Pure.
 */
import type { AgreementRule, DisagreementSample, ShadowResult } from '../types';

/** What the gateway had counted for a version at one reading (cumulative since it started). */
export interface AgreementReading {
  agree: number;
  disagree: number;
  notCompared: number;
  /** the latest disagreements it keeps, oldest first */
  samples: DisagreementSample[];
}

/** Shares closer than this are equal: 49 of 50 is 0.98. */
const EPSILON = 1e-9;

const percent = (x: number): string => `${(x * 100).toFixed(1)}%`;
const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/**
 * The pairs compared between two readings. A count that went down means the gateway restarted in
 * between: the second reading alone is then what the window saw (it is at most what it counted).
 */
export function agreementWindow(start: AgreementReading, end: AgreementReading, windowStartedAt: string): AgreementReading {
  const restarted = end.agree < start.agree || end.disagree < start.disagree || end.notCompared < start.notCompared;
  const from = restarted ? { agree: 0, disagree: 0, notCompared: 0 } : start;
  return {
    agree: end.agree - from.agree,
    disagree: end.disagree - from.disagree,
    notCompared: end.notCompared - from.notCompared,
    samples: end.samples.filter((s) => s.at >= windowStartedAt),
  };
}

/** One disagreement in a line: what differed, on which request. */
export function describeSample(sample: DisagreementSample): string {
  const input = sample.request.body === undefined ? '' : ` ${truncate(JSON.stringify(sample.request.body), 160)}`;
  return `${sample.request.method} ${sample.request.path}${input}: ${sample.differences.join('; ')}`;
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/**
 * Judges a window against the rule: `inconclusive` when fewer than rule.minSamples pairs were
 * compared, `fail` when agree / (agree + disagree) is below rule.min (the detail then gives the
 * rate, the counts and the first kept disagreement), else `pass`. Pairs the gateway could not
 * compare (stable failed, an answer too large) count in neither. Pure.
 */
export function judgeAgreement(window: AgreementReading, rule: AgreementRule, stable: string): ShadowResult {
  const { agree, disagree, notCompared, samples } = window;
  const compared = agree + disagree;
  const pairs = { agree, disagree, notCompared };
  const counted = `${plural(compared, 'request')} compared with ${stable}${disagree ? `, ${disagree} disagree` : ''}${notCompared ? `, ${notCompared} not comparable` : ''}`;
  const condition = `≥ ${percent(rule.min)}`;
  if (compared < rule.minSamples || compared === 0) {
    return { outcome: 'inconclusive', pairs, ...(compared ? { agreement: agree / compared } : {}), samples, detail: `${counted}: fewer than the ${rule.minSamples} needed to judge agreement` };
  }
  const agreement = agree / compared;
  if (agreement + EPSILON < rule.min) {
    const example = samples.at(-1);
    return { outcome: 'fail', pairs, agreement, samples, detail: `prediction agreement ${percent(agreement)} below ${percent(rule.min)} (${counted})${example ? `; e.g. ${describeSample(example)}` : ''}` };
  }
  return { outcome: 'pass', pairs, agreement, samples, detail: `prediction agreement ${percent(agreement)} (${condition}; ${counted})` };
}
