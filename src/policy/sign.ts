/**
 * The signing side of operator identity (Node only: `tandem serve` and the worker). serve signs
 * each request it has authenticated with its Ed25519 private key (`serve.signingKeyFile`); the
 * worker hands the public key to workflows through the policy activity. Never imported by workflows.
 */
import { createPrivateKey, createPublicKey, sign, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { signedMessage, type RequestSigner, type SignedIdentity } from './identity';
import type { PolicyAction } from './evaluate';

const HOW_TO_MAKE = 'make one with `openssl genpkey -algorithm ed25519 -out serve-signing.pem` (PEM, PKCS#8)';

export class SigningKeyError extends Error {
  override name = 'SigningKeyError';
}

/** Reads an Ed25519 private key (PEM); throws SigningKeyError naming the file and the fix. */
export function loadSigningKey(file: string, field = 'serve.signingKeyFile'): KeyObject {
  const key = readKey(file, field, (pem) => createPrivateKey(pem));
  if (key.asymmetricKeyType !== 'ed25519') throw new SigningKeyError(`${field}: ${file} holds a ${key.asymmetricKeyType} key, not Ed25519; ${HOW_TO_MAKE}`);
  return key;
}

/**
 * The raw public key (64 hex digits) that verifies serve's signatures, from a PEM file that holds
 * the public key or the private key. What workflows receive; not a secret.
 */
export function loadVerifyKeyHex(file: string, field = 'serve.verifyKeyFile'): string {
  const key = readKey(file, field, (pem) => (pem.includes('PRIVATE KEY') ? createPublicKey(createPrivateKey(pem)) : createPublicKey(pem)));
  if (key.asymmetricKeyType !== 'ed25519') throw new SigningKeyError(`${field}: ${file} holds a ${key.asymmetricKeyType} key, not Ed25519; ${HOW_TO_MAKE}`);
  return publicKeyHex(key);
}

/** Raw Ed25519 public key of a key object (public or private), 64 hex digits. */
export function publicKeyHex(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return Buffer.from(pub.export({ format: 'jwk' }).x!, 'base64url').toString('hex');
}

/**
 * Signs what serve authenticated: who acts, in which groups, on which workflow, doing what (and
 * with which comment or reason). The result goes beside `who` and `text` in the request.
 */
export function signOperatorRequest(
  key: KeyObject,
  workflowId: string,
  action: PolicyAction,
  request: { who: string; groups?: readonly string[]; text?: string },
  now: Date = new Date(),
): SignedIdentity {
  const groups = [...(request.groups ?? [])];
  const issuedAt = now.toISOString();
  const message = signedMessage({ workflowId, action, who: request.who, groups, issuedAt, text: request.text });
  return { who: request.who, groups, issuedAt, signature: sign(null, Buffer.from(message, 'utf8'), key).toString('hex') };
}

/**
 * The signer TandemClient takes (act, start, rollback) for one caller that serve authenticated:
 * `who` and `groups` come from the credentials, never from a request body.
 */
export function signerFor(key: KeyObject, caller: { who: string; groups: readonly string[] }): RequestSigner {
  return (workflowId, action, text) => signOperatorRequest(key, workflowId, action, { who: caller.who, groups: caller.groups, ...(text ? { text } : {}) });
}

function readKey(file: string, field: string, parse: (pem: string) => KeyObject): KeyObject {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (err) {
    throw new SigningKeyError(`${field}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); ${HOW_TO_MAKE}`);
  }
  try {
    return parse(pem);
  } catch (err) {
    throw new SigningKeyError(`${field}: ${file} is not a PEM key (${(err as Error).message}); ${HOW_TO_MAKE}`);
  }
}
