import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseOperatorRequest } from '../../src/workflows/messages';

describe('operator message payloads', () => {
  it('accepts {who, text} and drops unknown fields', () => {
    assert.deepEqual(parseOperatorRequest({ who: 'alice', text: 'ok', extra: 1 }), { ok: true, request: { who: 'alice', text: 'ok' } });
    assert.deepEqual(parseOperatorRequest({ who: 'ci', text: null }), { ok: true, request: { who: 'ci' } });
  });

  it('refuses what the Web UI or a raw `temporal workflow signal` can send, naming the field and the shape', () => {
    const cases: [unknown, RegExp][] = [
      [null, /malformed payload null: send a JSON object such as \{"who"/],
      [undefined, /malformed payload \(none\)/],
      [42, /malformed payload 42/],
      ['approve', /malformed payload "approve"/],
      [[{ who: 'a' }], /malformed payload \[/],
      [{}, /who: who is required/],
      [{ who: '  ' }, /who: who must name/],
      [{ who: 5 }, /who: who is required/],
      [{ who: 'x'.repeat(201) }, /who: who is longer than 200/],
      [{ who: 'a', text: 5 }, /text: text must be a string/],
      [{ who: 'a', text: 'y'.repeat(2001) }, /text: text is longer than 2000/],
    ];
    for (const [payload, why] of cases) {
      const parsed = parseOperatorRequest(payload);
      assert.equal(parsed.ok, false, JSON.stringify(payload));
      assert.match((parsed as { why: string }).why, why);
    }
  });

  it('quotes at most 60 characters of what was sent', () => {
    const parsed = parseOperatorRequest('z'.repeat(10_000));
    assert.ok(!parsed.ok && parsed.why.length < 200);
  });
});
