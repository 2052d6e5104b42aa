import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createAgreementBook, keptBody } from '../../src/gateway/shadow-agreement';
import { judgeAnswers, type ShadowAnswer, valuesAgree } from '../../src/gateway/shadow-compare';
import type { MirrorCompare } from '../../src/shared/traffic-state';

const ok = (body: unknown, status = 200): ShadowAnswer => ({ kind: 'answered', status, body: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)) });
const LABEL: MirrorCompare = { fields: [{ path: '$.label' }] };

describe('numbers within tolerance', () => {
  it('are equal exactly when no tolerance is given', () => {
    assert.equal(valuesAgree({}, 0.3, 0.3), true);
    assert.equal(valuesAgree({}, 0.1 + 0.2, 0.3), false);
    assert.equal(valuesAgree({}, 1, 1.0000001), false);
  });

  it('agree within an absolute tolerance, its edge included, also where decimals are not exact in binary', () => {
    assert.equal(valuesAgree({ tolerance: 0.05 }, 0.12, 0.17), true); // 0.17 - 0.12 is 0.05000000000000002
    assert.equal(valuesAgree({ tolerance: 0.05 }, 0.12, 0.07), true);
    assert.equal(valuesAgree({ tolerance: 0.05 }, 0.12, 0.1701), false);
    assert.equal(valuesAgree({ tolerance: 0 }, 2, 2), true);
    assert.equal(valuesAgree({ tolerance: 0 }, 2, 2.000001), false);
  });

  it('agree within a tolerance relative to the stable value, not the candidate\'s', () => {
    assert.equal(valuesAgree({ relativeTolerance: 0.1 }, 100, 110), true);
    assert.equal(valuesAgree({ relativeTolerance: 0.1 }, 100, 90), true);
    assert.equal(valuesAgree({ relativeTolerance: 0.1 }, 100, 110.01), false);
    // 11 is within 10% of the candidate's 111, but not of the stable 100.
    assert.equal(valuesAgree({ relativeTolerance: 0.1 }, 100, 111), false);
    assert.equal(valuesAgree({ relativeTolerance: 0.1 }, -50, -55), true);
    assert.equal(valuesAgree({ relativeTolerance: 0.5 }, 0, 0.001), false, 'relative to a stable 0 only 0 agrees');
  });

  it('agree when either tolerance holds', () => {
    const field = { tolerance: 0.01, relativeTolerance: 0.1 };
    assert.equal(valuesAgree(field, 0, 0.009), true, 'absolute holds near 0');
    assert.equal(valuesAgree(field, 100, 109), true, 'relative holds for large values');
    assert.equal(valuesAgree(field, 0.05, 0.07), false, 'neither holds');
  });

  it('compare other values by deep equality, and never a number with its string', () => {
    assert.equal(valuesAgree({ tolerance: 1 }, { a: [1, 'x'] }, { a: [1, 'x'] }), true);
    assert.equal(valuesAgree({ tolerance: 1 }, { a: [1, 'x'] }, { a: [1, 'y'] }), false);
    assert.equal(valuesAgree({ tolerance: 1 }, 1, '1'), false);
    assert.equal(valuesAgree({}, null, null), true);
  });
});

describe('judging a mirrored pair', () => {
  it('agrees when every field agrees, and names each differing field with both values', () => {
    const compare: MirrorCompare = { fields: [{ path: '$.label' }, { path: '$.score', tolerance: 0.05 }] };
    assert.deepEqual(judgeAnswers(compare, ok({ label: 'ok', score: 0.12, extra: 1 }), ok({ label: 'ok', score: 0.15, extra: 2 })), { result: 'agree', differences: [] });
    assert.deepEqual(judgeAnswers(compare, ok({ label: 'ok', score: 0.12 }), ok({ label: 'fraud', score: 0.31 })), {
      result: 'disagree',
      differences: ['$.label: stable "ok", candidate "fraud"', '$.score: stable 0.12, candidate 0.31 (tolerance 0.05)'],
    });
  });

  it('compares every match of a wildcard, and disagrees on a different number of matches', () => {
    const compare: MirrorCompare = { fields: [{ path: '$.scores[*]', relativeTolerance: 0.1 }] };
    assert.equal(judgeAnswers(compare, ok({ scores: [1, 2] }), ok({ scores: [1.05, 2.1] })).result, 'agree');
    assert.deepEqual(judgeAnswers(compare, ok({ scores: [1, 2] }), ok({ scores: [1, 3] })).differences, ["$['scores'][1]: stable 2, candidate 3 (relative tolerance 0.1)"]);
    assert.deepEqual(judgeAnswers(compare, ok({ scores: [1, 2] }), ok({ scores: [1] })).differences, ['$.scores[*]: stable has 2 values, candidate 1']);
  });

  it('disagrees when the field is missing in the candidate\'s answer', () => {
    assert.deepEqual(judgeAnswers(LABEL, ok({ label: 'ok' }), ok({ labels: ['ok'] })), { result: 'disagree', differences: ['$.label: missing in candidate\'s answer (stable "ok")'] });
  });

  it('disagrees when the candidate answered non-2xx, not JSON, or not at all, while stable answered 2xx JSON', () => {
    assert.deepEqual(judgeAnswers(LABEL, ok({ label: 'ok' }), ok({ error: 'boom' }, 500)), { result: 'disagree', differences: ['candidate answered 500'] });
    assert.deepEqual(judgeAnswers(LABEL, ok({ label: 'ok' }), ok('<html>')), { result: 'disagree', differences: ['candidate answer is not JSON'] });
    assert.deepEqual(judgeAnswers(LABEL, ok({ label: 'ok' }), { kind: 'failed', reason: 'timeout' }), { result: 'disagree', differences: ['candidate did not answer (timeout)'] });
    assert.deepEqual(judgeAnswers(LABEL, ok({ label: 'ok' }), { kind: 'failed', reason: 'error' }), { result: 'disagree', differences: ['candidate did not answer (error)'] });
  });

  it('does not compare when stable is no basis: non-2xx, not JSON, no answer, a field missing, or an answer over the limit', () => {
    const notCompared = (stable: ShadowAnswer, candidate: ShadowAnswer = ok({ label: 'ok' })) => judgeAnswers(LABEL, stable, candidate);
    assert.deepEqual(notCompared(ok({ label: 'ok' }, 500)), { result: 'not_compared', differences: ['stable answered 500'] });
    assert.deepEqual(notCompared(ok('plain text')), { result: 'not_compared', differences: ['stable answer is not JSON'] });
    assert.deepEqual(notCompared({ kind: 'failed', reason: 'error' }), { result: 'not_compared', differences: ['stable did not answer (error)'] });
    assert.deepEqual(notCompared(ok({ other: 1 }), ok({ other: 1 })), { result: 'not_compared', differences: ["$.label: missing in stable's answer"] });
    assert.equal(notCompared({ kind: 'too_large', status: 200, bytes: 70000 }).result, 'not_compared');
    assert.equal(notCompared(ok({ label: 'ok' }), { kind: 'too_large', status: 200, bytes: 70000 }).result, 'not_compared');
    // Stable's 500 is no basis even when the candidate answered well, and a candidate's 500 over the limit is still a 500.
    assert.equal(notCompared(ok({ label: 'x' }, 503), ok({ label: 'x' })).result, 'not_compared');
    assert.equal(notCompared(ok({ label: 'x' }), { kind: 'too_large', status: 500, bytes: 70000 }).result, 'disagree');
  });

  it('shows redacted values as "[redacted]" in the difference lines', () => {
    const compare: MirrorCompare = { fields: [{ path: '$.owner.name' }, { path: '$.label' }], redact: ['$.owner'] };
    const { differences } = judgeAnswers(compare, ok({ owner: { name: 'Ada' }, label: 'ok' }), ok({ owner: { name: 'Bob' }, label: 'ok' }));
    assert.deepEqual(differences, ['$.owner.name: stable "[redacted]", candidate "[redacted]"']);
  });

  it('keeps at most 10 difference lines', () => {
    const compare: MirrorCompare = { fields: [{ path: '$.v[*]' }] };
    const { differences } = judgeAnswers(compare, ok({ v: Array(15).fill(0) }), ok({ v: Array(15).fill(1) }));
    assert.equal(differences.length, 11);
    assert.equal(differences[10], '… and 5 more');
  });
});

describe('the agreement book', () => {
  const request = (body: unknown) => ({ method: 'POST', path: '/predict', body: Buffer.from(JSON.stringify(body)) });

  it('counts verdicts per version and keeps the latest `samples` disagreements, oldest first', () => {
    const book = createAgreementBook({ now: () => new Date('2026-01-02T03:04:05.000Z') });
    const compare: MirrorCompare = { ...LABEL, samples: 2 };
    for (let i = 0; i < 5; i++) book.record('m', 'v2', compare, request({ i }), ok({ label: 'ok' }), ok({ label: `bad${i}` }));
    book.record('m', 'v2', compare, request({ i: 9 }), ok({ label: 'ok' }), ok({ label: 'ok' }));
    book.record('m', 'v2', compare, request({ i: 9 }), ok({ label: 'ok' }, 500), ok({ label: 'ok' }));
    const reading = book.reading('m', 'v2');
    assert.deepEqual({ ...reading, samples: reading.samples.map((s) => s.request.body) }, { model: 'm', version: 'v2', agree: 1, disagree: 5, notCompared: 1, samples: [{ i: 3 }, { i: 4 }] });
    assert.deepEqual(reading.samples[1], {
      at: '2026-01-02T03:04:05.000Z',
      request: { method: 'POST', path: '/predict', body: { i: 4 } },
      stable: { status: 200, body: { label: 'ok' } },
      candidate: { status: 200, body: { label: 'bad4' } },
      differences: ['$.label: stable "ok", candidate "bad4"'],
    });
    assert.deepEqual(book.reading('m', 'v3'), { model: 'm', version: 'v3', agree: 0, disagree: 0, notCompared: 0, samples: [] });
  });

  it('keeps no samples with samples 0, five by default', () => {
    const book = createAgreementBook();
    for (let i = 0; i < 7; i++) {
      book.record('m', 'none', { ...LABEL, samples: 0 }, request({}), ok({ label: 'a' }), ok({ label: 'b' }));
      book.record('m', 'default', LABEL, request({}), ok({ label: 'a' }), ok({ label: 'b' }));
    }
    assert.equal(book.reading('m', 'none').samples.length, 0);
    assert.equal(book.reading('m', 'none').disagree, 7);
    assert.equal(book.reading('m', 'default').samples.length, 5);
  });

  it('redacts request and both answers before keeping them, and the originals appear nowhere', () => {
    const book = createAgreementBook();
    const compare: MirrorCompare = { fields: [{ path: '$.label' }], redact: ['$.card', '$.owner.name', '$.items[*].iban'] };
    book.record(
      'm',
      'v2',
      compare,
      request({ card: '4111-1111', owner: { name: 'Ada', city: 'Paris' }, items: [{ iban: 'DE89', n: 1 }] }),
      ok({ label: 'ok', card: '4111-1111' }),
      ok({ label: 'fraud', owner: { name: 'Ada' } }),
    );
    const [sample] = book.reading('m', 'v2').samples;
    assert.deepEqual(sample!.request.body, { card: '[redacted]', owner: { name: '[redacted]', city: 'Paris' }, items: [{ iban: '[redacted]', n: 1 }] });
    assert.deepEqual(sample!.stable.body, { label: 'ok', card: '[redacted]' });
    assert.deepEqual(sample!.candidate.body, { label: 'fraud', owner: { name: '[redacted]' } });
    const text = JSON.stringify(sample);
    for (const secret of ['4111', 'Ada', 'DE89']) assert.ok(!text.includes(secret), `${secret} was kept`);
  });

  it('replaces a body over 2 KiB, a text body when redaction is asked, and a missing answer by notes', () => {
    assert.equal(keptBody(Buffer.from(JSON.stringify({ x: 'a'.repeat(3000) })), []), '(3008 bytes, not kept)');
    assert.deepEqual(keptBody(Buffer.from(JSON.stringify({ x: 'a'.repeat(3000), y: 1 })), ['$.x']), { x: '[redacted]', y: 1 });
    assert.equal(keptBody(Buffer.from('plain words'), []), 'plain words');
    assert.equal(keptBody(Buffer.from('card 4111'), ['$.card']), '(9 bytes, not JSON, not kept: redaction applies to JSON)');
    const book = createAgreementBook();
    book.record('m', 'v2', LABEL, request({}), ok({ label: 'ok' }), { kind: 'failed', reason: 'timeout' });
    assert.deepEqual(book.reading('m', 'v2').samples[0]!.candidate, { status: 0, body: '(no answer: timeout)' });
  });

  it('tracks at most maxVersions versions, forgetting the one compared least recently', () => {
    const book = createAgreementBook({ maxVersions: 2 });
    const once = (version: string) => book.record('m', version, LABEL, request({}), ok({ label: 'a' }), ok({ label: 'a' }));
    once('a');
    once('b');
    once('a');
    once('c');
    assert.deepEqual(['a', 'b', 'c'].map((v) => book.reading('m', v).agree), [2, 0, 1]);
  });

  it('judges a pair once both sides are in, in either order, and makes no pair of a copy not sent', () => {
    const book = createAgreementBook();
    const first = book.pair('m', 'v2', LABEL, { method: 'POST', path: '/p' });
    first.candidate({ sent: true, body: Buffer.from('{}'), answer: ok({ label: 'b' }) });
    assert.equal(book.reading('m', 'v2').disagree, 0);
    first.stable(ok({ label: 'a' }));
    first.stable({ kind: 'failed', reason: 'error' }); // the caller's connection closing afterwards changes nothing
    const second = book.pair('m', 'v2', LABEL, { method: 'POST', path: '/p' });
    second.stable(ok({ label: 'a' }));
    second.candidate({ sent: true, body: Buffer.from('{}'), answer: ok({ label: 'a' }) });
    const dropped = book.pair('m', 'v2', LABEL, { method: 'POST', path: '/p' });
    dropped.candidate({ sent: false });
    assert.equal(dropped.abandoned(), true);
    dropped.stable(ok({ label: 'a' }));
    const { agree, disagree, notCompared } = book.reading('m', 'v2');
    assert.deepEqual({ agree, disagree, notCompared }, { agree: 1, disagree: 1, notCompared: 0 });
  });
});
