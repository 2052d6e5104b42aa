/**
 * Varied card transactions for the example model (examples/fraud-detector), the same on every
 * machine: live traffic whose inputs differ from request to request, so that comparing two
 * versions' predictions on it measures a share of disagreements, not all-or-nothing as one fixed
 * body would. Transaction `i` is derived from a SHA-256 of the seed and `i`; nothing is random.
 */
import { createHash } from 'node:crypto';

/** The features server.js scores: `POST /predict` takes this object as its JSON body. */
export interface Transaction {
  amount: number;
  country_risk: number;
  velocity: number;
  new_device: 0 | 1;
}

/**
 * How many transactions `transactionBodies` cycles through, and how many the agreement test of
 * the example's versions checks (test/unit/example-versions-agreement.test.ts): a version's
 * agreement with stable is known exactly for any traffic drawn from this generator.
 */
export const TRANSACTION_CYCLE = 1000;

const SEED = 'fraud-detector traffic';

/** Four numbers in [0, 1) from the hash of (seed, i). */
function uniforms(i: number): number[] {
  const digest = createHash('sha256').update(`${SEED}/${i}`).digest();
  return [0, 4, 8, 12].map((offset) => digest.readUInt32BE(offset) / 2 ** 32);
}

/**
 * The `i`-th transaction (i ≥ 0): amount 5–2000 (whole units), country risk 0–1 (two decimals),
 * 0–7 transactions in the last hour, and a new device on about a third of them.
 */
export function transaction(i: number): Transaction {
  const [a, c, v, d] = uniforms(i) as [number, number, number, number];
  return {
    amount: Math.round(5 + a * 1995),
    country_risk: Math.round(c * 100) / 100,
    velocity: Math.floor(v * 8),
    new_device: d < 1 / 3 ? 1 : 0,
  };
}

/** The first `count` transactions. */
export function transactions(count = TRANSACTION_CYCLE): Transaction[] {
  return Array.from({ length: count }, (_, i) => transaction(i));
}

/**
 * A source of request bodies for a traffic generator: each call returns the JSON body of the next
 * transaction, starting at 0 and cycling through the first TRANSACTION_CYCLE.
 */
export function transactionBodies(): () => string {
  let i = 0;
  return () => {
    const body = JSON.stringify(transaction(i));
    i = (i + 1) % TRANSACTION_CYCLE;
    return body;
  };
}
