/**
 * The example model's shadow-test versions stay what they are for: over the varied traffic the
 * tests send (test/helpers/transactions.ts), v1.4.0 agrees with the stable v1.1.0 (same label,
 * score within 0.05, as its tandem.yaml's agreement step compares them) and v1.5.0 does not.
 * Scores come from each tag's own server.js over its own weights (test/helpers/example-model.ts).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { examplePredict, exampleFile, type Prediction } from '../helpers/example-model';
import { transaction, transactionBodies, transactions, TRANSACTION_CYCLE } from '../helpers/transactions';

/** The stable version when v1.4.0 or v1.5.0 is released after v1.0.0 and v1.1.0 (v1.2.0 and v1.3.0 never promote). */
const STABLE = 'v1.1.0';
const SCORE_TOLERANCE = 0.05;
/** The shadow step's minSamples: the smallest window a verdict is given for. */
const WINDOW = 20;

const traffic = transactions();
const stable = traffic.map(examplePredict(STABLE));

/** Per transaction of the cycle: whether `tag`'s label differs from stable's, and its score's distance from stable's. */
function compare(tag: string): { flipped: boolean[]; scoreDelta: number[]; disagrees: boolean[] } {
  const answers: Prediction[] = traffic.map(examplePredict(tag));
  const flipped = answers.map((a, i) => a.label !== stable[i]!.label);
  const scoreDelta = answers.map((a, i) => Math.abs(a.score - stable[i]!.score));
  return { flipped, scoreDelta, disagrees: flipped.map((f, i) => f || scoreDelta[i]! > SCORE_TOLERANCE) };
}

/** The fewest `true`s in any `size` consecutive entries, wrapping around as the traffic cycles. */
function fewestInAnyWindow(flags: boolean[], size: number): number {
  let fewest = Infinity;
  for (let start = 0; start < flags.length; start++) {
    let count = 0;
    for (let k = 0; k < size; k++) if (flags[(start + k) % flags.length]) count++;
    fewest = Math.min(fewest, count);
  }
  return fewest;
}

const share = (flags: boolean[]) => flags.filter(Boolean).length / flags.length;

describe('the transaction traffic', () => {
  it('is the same sequence on every call, cycling after TRANSACTION_CYCLE bodies', () => {
    assert.deepEqual(transaction(7), transaction(7));
    const next = transactionBodies();
    const first = Array.from({ length: TRANSACTION_CYCLE + 2 }, () => JSON.parse(next()) as unknown);
    assert.deepEqual(first.slice(0, 3), traffic.slice(0, 3));
    assert.deepEqual(first.slice(TRANSACTION_CYCLE), traffic.slice(0, 2));
  });

  it('is varied: both labels are common under stable, so a drifting version has something to flip', () => {
    const fraud = share(stable.map((p) => p.label === 'fraud'));
    assert.ok(fraud > 0.25 && fraud < 0.75, `stable labels ${(fraud * 100).toFixed(1)}% of the traffic fraud`);
    assert.ok(new Set(traffic.map((t) => JSON.stringify(t))).size > 0.99 * TRANSACTION_CYCLE, 'bodies repeat');
  });
});

describe('the example versions against stable v1.1.0', () => {
  it('v1.4.0 gives the same label to every transaction and a score within 0.05', () => {
    const { flipped, scoreDelta } = compare('v1.4.0');
    assert.equal(share(flipped), 0, `labels differ on transactions ${flipped.flatMap((f, i) => (f ? [i] : [])).slice(0, 10).join(', ')}`);
    const worst = Math.max(...scoreDelta);
    assert.ok(worst <= SCORE_TOLERANCE, `a score is ${worst} from stable's (transaction ${scoreDelta.indexOf(worst)})`);
  });

  it('v1.5.0 flips the label on 15–45% of the traffic, and every window of minSamples has disagreements', () => {
    const { flipped, disagrees } = compare('v1.5.0');
    const flips = share(flipped);
    assert.ok(flips >= 0.15 && flips <= 0.45, `v1.5.0 flips ${(flips * 100).toFixed(1)}% of labels`);
    // Wherever the shadow window falls in the traffic, agreement is far below the 0.98 its spec asks.
    const fewest = fewestInAnyWindow(disagrees, WINDOW);
    assert.ok(fewest / WINDOW >= 0.25, `only ${fewest} of ${WINDOW} consecutive answers disagree somewhere`);
  });

  it("both release with a shadow step that compares the label, and the score within the tolerance this test uses", () => {
    for (const tag of ['v1.4.0', 'v1.5.0']) {
      const spec = parse(exampleFile(tag, 'tandem.yaml')) as { rollout: { steps: Array<Record<string, { agreement?: { min: number; minSamples: number; fields: Array<{ path: string; tolerance?: number }> } }>> } };
      const first = spec.rollout.steps[0]?.shadow;
      assert.ok(first?.agreement, `${tag}'s rollout starts with a shadow step that compares predictions`);
      assert.deepEqual(first.agreement.fields, [{ path: '$.label' }, { path: '$.score', tolerance: SCORE_TOLERANCE }], tag);
      assert.equal(first.agreement.minSamples, WINDOW, tag);
    }
  });

  it("v1.4.0 and v1.5.0 answer their own smoke requests as their tandem.yaml expects, far from the decision boundary", () => {
    for (const tag of ['v1.4.0', 'v1.5.0']) {
      const predict = examplePredict(tag);
      const spec = parse(exampleFile(tag, 'tandem.yaml')) as { smoke: Array<{ name: string; request: { body: Parameters<typeof predict>[0] }; expect: { json: Prediction; tolerance: number } }> };
      for (const smoke of spec.smoke) {
        const answer = predict(smoke.request.body);
        assert.equal(answer.label, smoke.expect.json.label, `${tag} ${smoke.name}`);
        assert.ok(Math.abs(answer.score - smoke.expect.json.score) <= smoke.expect.tolerance, `${tag} ${smoke.name}: ${answer.score}`);
        assert.ok(Math.abs(answer.score - 0.5) >= 0.4, `${tag} ${smoke.name}: ${answer.score} is near the threshold`);
      }
    }
  });
});
