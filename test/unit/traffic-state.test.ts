import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { validateTrafficState } from '../../src/activities/traffic/validate';
import { FailureType } from '../../src/errors';
import { formatTrafficIssues, parseTrafficState, TrafficStateSchema } from '../../src/shared/traffic-state';
import { parseTrafficState as parseRoutes } from '../../src/gateway/routes';

const OBJECT = 'must be a JSON object {"weights": {...}, "pinned": [...], "stable": "...", "mirror": {...}}';
const WEIGHTS_OBJECT = 'must be an object mapping versions to percents, e.g. {"v1.0.0": 90, "v1.1.0": 10}';
const UNKNOWN = 'is not a known field (weights, pinned, stable, mirror)';
const percent = (got: string): string => `must be an integer percent from 0 to 100 (got ${got})`;

describe('traffic state parsing', () => {
  it('accepts weights summing to 100 and leaves no stable key when none is given', () => {
    assert.deepEqual(parseTrafficState({ weights: { v1: 90, v2: 10 }, pinned: ['v2'] }), { state: { weights: { v1: 90, v2: 10 }, pinned: ['v2'] }, issues: [] });
    const { state } = parseTrafficState({ weights: { v1: 100 }, pinned: [] });
    assert.ok(state && !('stable' in state));
  });

  it('accepts empty weights: the model serves pinned requests only', () => {
    assert.deepEqual(parseTrafficState({ weights: {}, pinned: ['v1'] }).state, { weights: {}, pinned: ['v1'] });
  });

  it('normalises: absent pinned is [], duplicate pins are dropped in order, null stable is no stable', () => {
    assert.deepEqual(parseTrafficState({ weights: { v1: 100 } }).state, { weights: { v1: 100 }, pinned: [] });
    assert.deepEqual(parseTrafficState({ weights: { v1: 100 }, pinned: ['v2', 'v1', 'v2', 'v1'] }).state?.pinned, ['v2', 'v1']);
    assert.deepEqual(parseTrafficState({ weights: { v1: 100 }, stable: null }).state, { weights: { v1: 100 }, pinned: [] });
    assert.deepEqual(parseTrafficState({ weights: { v1: 100 }, stable: 'v1' }).state, { weights: { v1: 100 }, pinned: [], stable: 'v1' });
  });

  it('accepts a mirror version without weight; percent defaults to 100; null mirror is no mirror', () => {
    assert.deepEqual(parseTrafficState({ weights: { v1: 100 }, mirror: { version: 'v2' } }).state, { weights: { v1: 100 }, pinned: [], mirror: { version: 'v2', percent: 100 } });
    assert.deepEqual(parseTrafficState({ weights: { v1: 100, v2: 0 }, mirror: { version: 'v2', percent: 25 } }).state?.mirror, { version: 'v2', percent: 25 });
    assert.deepEqual(parseTrafficState({ weights: { v1: 100 }, mirror: null }).state, { weights: { v1: 100 }, pinned: [] });
  });

  it('is what the schema itself parses to', () => {
    assert.deepEqual(TrafficStateSchema.parse({ weights: { v1: 100 }, pinned: ['v1', 'v1'], stable: null }), { weights: { v1: 100 }, pinned: ['v1'] });
  });

  const refused: Array<[string, unknown, Array<[string, string]>]> = [
    ['a list body', [], [['(body)', OBJECT]]],
    ['a null body', null, [['(body)', OBJECT]]],
    ['a string body', 'v1', [['(body)', OBJECT]]],
    ['weights missing', { pinned: ['v1'] }, [['weights', WEIGHTS_OBJECT]]],
    ['weights as a list', { weights: [100] }, [['weights', WEIGHTS_OBJECT]]],
    ['weights null', { weights: null }, [['weights', WEIGHTS_OBJECT]]],
    ['weights summing to 90', { weights: { v1: 50, v2: 40 } }, [['weights', 'must sum to 100 (got 90), or be {} to serve pinned requests only']]],
    ['weights summing to 110', { weights: { v1: 60, v2: 50 } }, [['weights', 'must sum to 100 (got 110), or be {} to serve pinned requests only']]],
    ['a negative weight and one above 100', { weights: { v1: 110, v2: -10 } }, [['weights.v1', percent('110')], ['weights.v2', percent('-10')]]],
    ['a fractional weight', { weights: { v1: 49.5, v2: 50.5 } }, [['weights.v1', percent('49.5')], ['weights.v2', percent('50.5')]]],
    ['a weight as a string', { weights: { v2: '100' } }, [['weights.v2', percent('"100"')]]],
    ['a weight null', { weights: { v2: null } }, [['weights.v2', percent('null')]]],
    ['a version name with dots', { weights: { 'v1.0.0': true } }, [['weights.v1.0.0', percent('true')]]],
    ['pinned not a list', { weights: { v1: 100 }, pinned: 'v1' }, [['pinned', 'must be a list of version names']]],
    ['pinned entries not names', { weights: { v1: 100 }, pinned: ['v1', 3, ''] }, [['pinned.1', 'must be a version name'], ['pinned.2', 'must be a version name']]],
    ['stable not a string', { weights: { v1: 100 }, stable: 1 }, [['stable', 'must be a version name']]],
    ['stable empty', { weights: { v1: 100 }, stable: '' }, [['stable', 'must be a version name']]],
    ['an unknown field', { weights: { v1: 100 }, weight: { v2: 100 } }, [['weight', UNKNOWN]]],
    ['a mirror as a string', { weights: { v1: 100 }, mirror: 'v2' }, [['mirror', 'must be an object {"version": "v1.1.0", "percent": 100}']]],
    ['a mirror without a version and with percent 150', { weights: { v1: 100 }, mirror: { percent: 150 } }, [['mirror.version', 'must be a version name'], ['mirror.percent', percent('150')]]],
    ['a mirror to a version that has weight', { weights: { v1: 90, v2: 10 }, mirror: { version: 'v2' } }, [['mirror.version', 'v2 already has traffic weight; mirror a version that answers no caller']]],
    ['an unknown field of the mirror', { weights: { v1: 100 }, mirror: { version: 'v2', share: 5 } }, [['mirror.share', 'is not a known field (version, percent, compare)']]],
    ['unknown fields come first', { stable: 2, weights: { v1: 100 }, foo: 1, bar: 2 }, [['foo', UNKNOWN], ['bar', UNKNOWN], ['stable', 'must be a version name']]],
  ];
  for (const [name, body, expected] of refused) {
    it(`refuses ${name}, naming each field`, () => {
      const result = parseTrafficState(body);
      assert.equal(result.state, undefined);
      assert.deepEqual(
        result.issues.map((i) => [i.field, i.message]),
        expected,
      );
    });
  }

  it('formats issues as one line, field first', () => {
    assert.equal(
      formatTrafficIssues([
        { field: 'weights.v1', message: 'a' },
        { field: 'pinned.0', message: 'b' },
      ]),
      'weights.v1: a; pinned.0: b',
    );
  });
});

describe("the gateway's traffic check", () => {
  const reachable = (version: string): boolean => version !== 'v9';

  it('refuses a weight above 0 or a pin to a version it cannot reach, by path', () => {
    const result = parseRoutes('fraud', { weights: { v1: 50, v9: 50 }, pinned: ['v1', 'v9'] }, reachable);
    assert.deepEqual(result.issues, [
      { field: 'weights.v9', message: 'fraud v9 has no running replica the gateway can reach' },
      { field: 'pinned.1', message: 'fraud v9 has no running replica the gateway can reach' },
    ]);
  });

  it('refuses a mirror version it cannot reach', () => {
    assert.deepEqual(parseRoutes('fraud', { weights: { v1: 100 }, mirror: { version: 'v9' } }, reachable).issues, [{ field: 'mirror.version', message: 'fraud v9 has no running replica the gateway can reach' }]);
  });

  it('allows weight 0 to a version it cannot reach', () => {
    assert.deepEqual(parseRoutes('fraud', { weights: { v1: 100, v9: 0 } }, reachable).state, { weights: { v1: 100, v9: 0 }, pinned: [] });
  });

  it('checks reachability only once the body parses', () => {
    assert.deepEqual(
      parseRoutes('fraud', { weights: { v9: 50 } }, reachable).issues.map((i) => i.field),
      ['weights'],
    );
  });
});

describe("the routers' traffic check", () => {
  const refusal = (fn: () => unknown): ApplicationFailure => {
    try {
      fn();
    } catch (error) {
      assert.ok(error instanceof ApplicationFailure);
      return error;
    }
    assert.fail('expected a refusal');
  };

  it('returns the normalised state', () => {
    assert.deepEqual(validateTrafficState('fraud', { weights: { v1: 100 }, pinned: ['v1', 'v1'] }), { weights: { v1: 100 }, pinned: ['v1'] });
  });

  it('refuses bad weights as non-retryable InvalidTraffic naming the fields', () => {
    const error = refusal(() => validateTrafficState('fraud', { weights: { v1: 50, v2: 40 }, pinned: [] }));
    assert.equal(error.type, FailureType.InvalidTraffic);
    assert.equal(error.nonRetryable, true);
    assert.equal(error.message, 'invalid traffic for fraud: weights: must sum to 100 (got 90), or be {} to serve pinned requests only');
  });

  it('refuses more weighted or pinned versions than the router carries', () => {
    const weights = { a: 25, b: 25, c: 25, d: 25 };
    const error = refusal(() => validateTrafficState('fraud', { weights, pinned: ['a', 'b', 'c'] }, { maxWeighted: 3, maxPinned: 2 }));
    assert.equal(error.message, 'invalid traffic for fraud: weights: at most 3 weighted versions, got 4; pinned: at most 2 pinned versions, got 3');
    assert.doesNotThrow(() => validateTrafficState('fraud', { weights, pinned: ['a', 'a', 'b'] }, { maxWeighted: 4, maxPinned: 2 }), 'duplicate pins count once');
  });
});
