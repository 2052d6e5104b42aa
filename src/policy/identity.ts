/**
 * Operator identity that is not self-declared. `tandem serve` authenticates the caller and signs
 * `{workflowId, action, who, groups, issuedAt, text}` with its Ed25519 key (src/policy/sign.ts);
 * the workflow verifies the signature with the public key its policy activity returned. Pure and
 * deterministic (@noble/ed25519 with @noble/hashes' SHA-512, no Node built-ins): workflows import it.
 */
import type { PolicyAction } from './evaluate';

/**
 * Ed25519 with a synchronous SHA-512 (the default one needs WebCrypto, which the workflow sandbox
 * lacks), required at the first signature: a worker evaluates its workflow bundle's modules once
 * per workflow it holds, and most releases never check a signature.
 */
function ed25519() {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const ed = require('@noble/ed25519') as typeof import('@noble/ed25519');
  const { sha512 } = require('@noble/hashes/sha2.js') as typeof import('@noble/hashes/sha2.js');
  const { hexToBytes, utf8ToBytes } = require('@noble/hashes/utils.js') as typeof import('@noble/hashes/utils.js');
  /* eslint-enable @typescript-eslint/no-require-imports */
  ed.hashes.sha512 = sha512;
  return { verify: ed.verify, hexToBytes, utf8ToBytes };
}

/** What serve adds to a request it has authenticated. */
export interface SignedIdentity {
  who: string;
  groups: string[];
  /** ISO time of signing; older than SIGNATURE_MAX_AGE_MS (or from the future) is refused */
  issuedAt: string;
  /** Ed25519 signature of signedMessage(), 128 hex digits */
  signature: string;
}

/** How long a signed request stays valid: long enough for a slow round trip, short enough that a captured one soon expires. */
export const SIGNATURE_MAX_AGE_MS = 5 * 60_000;
/** Clock skew allowed between serve and the workflow's time. */
export const SIGNATURE_MAX_SKEW_MS = 60_000;

export interface SignedFields {
  workflowId: string;
  action: PolicyAction;
  who: string;
  groups: readonly string[];
  issuedAt: string;
  /** the comment or reason, so a signed approval cannot be replayed with other words */
  text?: string;
}

/** The exact bytes that are signed: versioned, one JSON array, field order fixed. */
export function signedMessage(f: SignedFields): string {
  return `tandem/operator-request/v1\n${JSON.stringify([f.workflowId, f.action, f.who, [...f.groups], f.issuedAt, f.text ?? ''])}`;
}

export type Verification = { ok: true } | { ok: false; why: string };

/**
 * Checks a signed identity against the public key (64 hex digits) at `nowMs` (workflow time).
 * Never throws: a malformed key or signature is a failed verification with its reason.
 */
export function verifySignedIdentity(publicKeyHex: string, fields: Omit<SignedFields, 'who' | 'groups' | 'issuedAt'>, identity: SignedIdentity, nowMs: number): Verification {
  const issued = Date.parse(identity.issuedAt);
  if (Number.isNaN(issued)) return { ok: false, why: `issuedAt "${identity.issuedAt}" is not a time` };
  if (issued > nowMs + SIGNATURE_MAX_SKEW_MS) return { ok: false, why: `issuedAt ${identity.issuedAt} is in the future` };
  if (nowMs - issued > SIGNATURE_MAX_AGE_MS) return { ok: false, why: `the signature expired (issued ${identity.issuedAt}, valid ${SIGNATURE_MAX_AGE_MS / 60_000} minutes)` };
  if (!/^[0-9a-f]{128}$/i.test(identity.signature)) return { ok: false, why: 'signature is not 128 hex digits' };
  const message = signedMessage({ ...fields, who: identity.who, groups: identity.groups, issuedAt: identity.issuedAt });
  try {
    const { verify, hexToBytes, utf8ToBytes } = ed25519();
    const valid = verify(hexToBytes(identity.signature.toLowerCase()), utf8ToBytes(message), hexToBytes(publicKeyHex));
    return valid ? { ok: true } : { ok: false, why: 'the signature does not verify with the configured serve key' };
  } catch (err) {
    return { ok: false, why: `the signature cannot be checked: ${err instanceof Error ? err.message : String(err)}` };
  }
}

/**
 * Signs requests of one authenticated caller (src/policy/sign.ts signerFor makes one): the client
 * calls it once it knows the workflow id, with the action and its comment or reason.
 */
export type RequestSigner = (workflowId: string, action: PolicyAction, text?: string) => SignedIdentity;

/** How a request's `who` is known: `api` (signed by serve, verified) or `temporal` (self-declared). */
export type Channel = 'api' | 'temporal';

export type Identification =
  | { ok: true; actor: { who: string; groups: string[] }; via: Channel }
  | { ok: false; why: string; via: Channel };

/**
 * Who asks, and how that is known. Unsigned: the claimed name, no groups (claimed groups are never
 * trusted), via temporal. Signed: verified against `verifyKey`, via api; a signature that does not
 * verify is refused, not downgraded, so a forgery is visible in the record.
 */
export function identify(
  verifyKey: string | undefined,
  workflowId: string,
  action: PolicyAction,
  request: { who: string; text?: string; groups?: string[]; issuedAt?: string; signature?: string },
  nowMs: number,
): Identification {
  if (!request.signature) return { ok: true, actor: { who: request.who, groups: [] }, via: 'temporal' };
  if (!verifyKey) return { ok: false, via: 'temporal', why: 'the request is signed but this worker has no key to check it (serve.signingKeyFile or serve.verifyKeyFile)' };
  const identity = { who: request.who, groups: request.groups ?? [], issuedAt: request.issuedAt ?? '', signature: request.signature };
  const checked = verifySignedIdentity(verifyKey, { workflowId, action, text: request.text }, identity, nowMs);
  if (!checked.ok) return { ok: false, via: 'temporal', why: `identity not verified: ${checked.why}` };
  return { ok: true, actor: { who: identity.who, groups: identity.groups }, via: 'api' };
}

/** How the record names a channel: what an auditor reads. */
export function describeChannel(via: Channel): string {
  return via === 'api' ? 'via api' : 'via temporal (self-declared)';
}
