/**
 * Signed operator identity: what serve signs (node:crypto, src/policy/sign.ts) verifies with the
 * deterministic checker workflows use (@noble/ed25519, src/policy/identity.ts), and nothing else does.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { identify, verifySignedIdentity } from '../../src/policy/identity';
import { parseOperatorRequest } from '../../src/workflows/messages';
import { loadSigningKey, loadVerifyKeyHex, publicKeyHex, signerFor, signOperatorRequest, SigningKeyError } from '../../src/policy/sign';

const { privateKey } = generateKeyPairSync('ed25519');
const other = generateKeyPairSync('ed25519').privateKey;
const key = publicKeyHex(privateKey);
const now = Date.parse('2026-11-29T12:00:00.000Z');
const at = new Date(now - 1000);

describe('signed operator identity', () => {
  it('a request signed by serve verifies: who and groups are then known, via api', () => {
    const signed = signOperatorRequest(privateKey, 'release/wf-1', 'approve', { who: 'bob', groups: ['ml-leads'], text: 'ok' }, at);
    assert.deepEqual(verifySignedIdentity(key, { workflowId: 'release/wf-1', action: 'approve', text: 'ok' }, signed, now), { ok: true });
    assert.deepEqual(identify(key, 'release/wf-1', 'approve', { ...signed, text: 'ok' }, now), { ok: true, actor: { who: 'bob', groups: ['ml-leads'] }, via: 'api' });
  });

  it('anything changed after signing fails: who, groups, workflow, action, comment; another key; an old or future signature', () => {
    const signed = signOperatorRequest(privateKey, 'release/wf-1', 'approve', { who: 'bob', groups: ['ml-leads'], text: 'ok' }, at);
    const fields = { workflowId: 'release/wf-1', action: 'approve' as const, text: 'ok' };
    const fails = (why: RegExp, f = fields, s = signed, k = key, t = now) => {
      const result = verifySignedIdentity(k, f, s, t);
      assert.equal(result.ok, false);
      assert.match((result as { why: string }).why, why);
    };
    fails(/does not verify/, fields, { ...signed, who: 'mallory' });
    fails(/does not verify/, fields, { ...signed, groups: ['ml-leads', 'admins'] });
    fails(/does not verify/, { ...fields, workflowId: 'release/wf-2' });
    fails(/does not verify/, { ...fields, action: 'abort' as never });
    fails(/does not verify/, { ...fields, text: 'rubber stamp' });
    fails(/does not verify/, fields, signed, publicKeyHex(other));
    fails(/expired/, fields, signed, key, now + 10 * 60_000);
    fails(/in the future/, fields, { ...signOperatorRequest(privateKey, 'release/wf-1', 'approve', { who: 'bob', groups: ['ml-leads'], text: 'ok' }, new Date(now + 5 * 60_000)) });
    fails(/not 128 hex digits/, fields, { ...signed, signature: 'zz' });
    fails(/not a time/, fields, { ...signed, issuedAt: 'yesterday' });
  });

  it('unsigned requests are self-declared: the claimed name, no groups; a signature no key can check is refused', () => {
    assert.deepEqual(identify(key, 'w', 'approve', { who: 'alice', groups: ['ml-leads'] }, now), { ok: true, actor: { who: 'alice', groups: [] }, via: 'temporal' });
    const signed = signOperatorRequest(privateKey, 'w', 'approve', { who: 'bob' }, at);
    const noKey = identify(undefined, 'w', 'approve', signed, now);
    assert.equal(noKey.ok, false);
    assert.match((noKey as { why: string }).why, /no key to check it/);
  });

  it('payloads: signed fields are kept only with a signature; a signature without issuedAt is malformed', () => {
    assert.deepEqual(parseOperatorRequest({ who: 'bob', groups: ['ml-leads'], via: 'api' }), { ok: true, request: { who: 'bob' } });
    const signed = signOperatorRequest(privateKey, 'w', 'approve', { who: 'bob', groups: ['ml-leads'] }, at);
    assert.deepEqual(parseOperatorRequest(signed), { ok: true, request: signed });
    const missing = parseOperatorRequest({ who: 'bob', signature: signed.signature });
    assert.equal(missing.ok, false);
    assert.match((missing as { why: string }).why, /issuedAt: issuedAt is required with a signature/);
    assert.match((parseOperatorRequest({ who: 'bob', groups: 'ml-leads' }) as { why: string }).why, /groups: groups must be a list of names/);
  });

  it('signerFor signs as the authenticated caller, whatever the request claims', () => {
    const sign = signerFor(privateKey, { who: 'bob', groups: ['ml-leads'] });
    const identity = sign('release/wf-1', 'abort', 'latency');
    assert.equal(identity.who, 'bob');
    assert.deepEqual(verifySignedIdentity(key, { workflowId: 'release/wf-1', action: 'abort', text: 'latency' }, identity, Date.parse(identity.issuedAt)), { ok: true });
  });

  it('key files: PEM private or public key; a missing or wrong file names the field and how to make one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tandem-keys-'));
    const priv = join(dir, 'serve.pem');
    const pub = join(dir, 'serve.pub.pem');
    writeFileSync(priv, privateKey.export({ type: 'pkcs8', format: 'pem' }));
    writeFileSync(pub, createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }));
    assert.equal(loadVerifyKeyHex(priv), key);
    assert.equal(loadVerifyKeyHex(pub), key);
    assert.equal(publicKeyHex(loadSigningKey(priv)), key);
    assert.throws(() => loadSigningKey(join(dir, 'missing.pem')), (e: Error) => e instanceof SigningKeyError && /serve\.signingKeyFile: cannot read .*missing\.pem \(ENOENT\); make one with `openssl genpkey -algorithm ed25519/.test(e.message));
    const rsa = join(dir, 'rsa.pem');
    writeFileSync(rsa, generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
    assert.throws(() => loadSigningKey(rsa), /holds a rsa key, not Ed25519/);
    const junk = join(dir, 'junk.pem');
    writeFileSync(junk, 'not a key');
    assert.throws(() => loadVerifyKeyHex(junk), /serve\.verifyKeyFile: .*junk\.pem is not a PEM key/);
  });
});

