import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseTrafficState } from '../../src/shared/traffic-state';
import { parseTrafficState as parseRoutes } from '../../src/gateway/routes';

const withCompare = (compare: unknown): unknown => ({ weights: { v1: 100 }, mirror: { version: 'v2', compare } });
const issuesOf = (body: unknown): Array<[string, string]> => parseTrafficState(body).issues.map((i) => [i.field, i.message]);

describe('mirror.compare in the traffic state', () => {
  it('accepts fields with tolerances, redactions and samples, and keeps them as given', () => {
    const compare = { fields: [{ path: '$.label' }, { path: '$.scores[0]', tolerance: 0.05, relativeTolerance: 0.1 }], redact: ['$.customer'], samples: 0 };
    assert.deepEqual(parseTrafficState(withCompare(compare)).state?.mirror, { version: 'v2', percent: 100, compare });
  });

  it('leaves no compare key when it is absent or null, so states compare the same', () => {
    assert.deepEqual(parseTrafficState(withCompare(null)).state?.mirror, { version: 'v2', percent: 100 });
    assert.ok(!('compare' in (parseTrafficState(withCompare(undefined)).state?.mirror ?? {})));
  });

  const refused: Array<[string, unknown, Array<[string, string]>]> = [
    ['compare as a string', '$.label', [['mirror.compare', 'must be an object {"fields": [{"path": "$.label"}], "redact": [...], "samples": 5}']]],
    ['no fields', {}, [['mirror.compare.fields', 'must be a list of fields such as [{"path": "$.label"}, {"path": "$.score", "tolerance": 0.05}]']]],
    ['an empty field list', { fields: [] }, [['mirror.compare.fields', 'must name at least one field to compare, e.g. [{"path": "$.label"}]']]],
    [
      '21 fields',
      { fields: Array.from({ length: 21 }, (_, i) => ({ path: `$.f${i}` })) },
      [['mirror.compare.fields', 'must name at most 20 fields; compare the ones that decide the prediction']],
    ],
    ['a field as a string', { fields: ['$.label'] }, [['mirror.compare.fields.0', 'must be an object {"path": "$.score", "tolerance": 0.05}']]],
    [
      'a path without $',
      { fields: [{ path: '$.ok' }, { path: 'label' }] },
      [['mirror.compare.fields.1.path', 'must be a JSONPath starting with "$", such as "$.label" or "$.scores[0]" (got "label")']],
    ],
    ['a negative tolerance', { fields: [{ path: '$.s', tolerance: -0.1 }] }, [['mirror.compare.fields.0.tolerance', 'must be a number >= 0, e.g. 0.05 (got -0.1)']]],
    ['a relative tolerance as a string', { fields: [{ path: '$.s', relativeTolerance: '5%' }] }, [['mirror.compare.fields.0.relativeTolerance', 'must be a number >= 0, e.g. 0.05 (got "5%")']]],
    ['a redact path that is not a string', { fields: [{ path: '$.s' }], redact: ['$.a', 7] }, [['mirror.compare.redact.1', 'must be a JSONPath string such as "$.label" or "$.scores[0]"']]],
    ['a redact path without $', { fields: [{ path: '$.s' }], redact: ['name'] }, [['mirror.compare.redact.0', 'must be a JSONPath starting with "$", such as "$.label" or "$.scores[0]" (got "name")']]],
    ['21 redactions', { fields: [{ path: '$.s' }], redact: Array.from({ length: 21 }, (_, i) => `$.r${i}`) }, [['mirror.compare.redact', 'must name at most 20 paths; redact a parent object instead']]],
    ['samples above 20', { fields: [{ path: '$.s' }], samples: 21 }, [['mirror.compare.samples', 'must be an integer from 0 to 20, the disagreements kept (got 21)']]],
    ['fractional samples', { fields: [{ path: '$.s' }], samples: 2.5 }, [['mirror.compare.samples', 'must be an integer from 0 to 20, the disagreements kept (got 2.5)']]],
    ['negative samples', { fields: [{ path: '$.s' }], samples: -1 }, [['mirror.compare.samples', 'must be an integer from 0 to 20, the disagreements kept (got -1)']]],
    [
      'unknown fields at each level, listed first',
      { fields: [{ path: '$.s', tol: 1 }], sample: 3, samples: 99 },
      [
        ['mirror.compare.fields.0.tol', 'is not a known field (path, tolerance, relativeTolerance)'],
        ['mirror.compare.sample', 'is not a known field (fields, redact, samples)'],
        ['mirror.compare.samples', 'must be an integer from 0 to 20, the disagreements kept (got 99)'],
      ],
    ],
  ];
  for (const [name, compare, expected] of refused) {
    it(`refuses ${name}, naming the field`, () => {
      assert.equal(parseTrafficState(withCompare(compare)).state, undefined);
      assert.deepEqual(issuesOf(withCompare(compare)), expected);
    });
  }

  it('names mirror fields, compare among them, for an unknown mirror field', () => {
    assert.deepEqual(issuesOf({ weights: { v1: 100 }, mirror: { version: 'v2', comapre: {} } }), [['mirror.comapre', 'is not a known field (version, percent, compare)']]);
  });
});

describe("the gateway's check of mirror.compare paths", () => {
  it('refuses a filter expression jsonpath-plus will not evaluate, naming the field', () => {
    const issues = parseRoutes('fraud', withCompare({ fields: [{ path: '$.label' }], redact: ['$.items[?(@.secret)]'] }), () => true).issues;
    assert.deepEqual(
      issues.map((i) => i.field),
      ['mirror.compare.redact.0'],
    );
    assert.match(issues[0]!.message, /is not a JSONPath tandem can evaluate .*use a plain path such as \$\.label/);
  });

  it('accepts plain, indexed and wildcard paths', () => {
    assert.ok(parseRoutes('fraud', withCompare({ fields: [{ path: '$.label' }, { path: '$.scores[0]' }, { path: '$.items[*].p' }, { path: '$..id' }] }), () => true).state);
  });
});
