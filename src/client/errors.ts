/**
 * The few error classes the client throws. Only the CLI's entry point turns them into exit codes:
 * BadInput and Refused -> 2, ReleaseFailed -> 1.
 */
export class BadInputError extends Error {
  override name = 'BadInputError';
}

/** A request that was understood but cannot apply now (a second release, an approval nothing awaits). */
export class RefusedError extends Error {
  override name = 'RefusedError';
}

/**
 * What was asked about does not exist: a model with no release in the environment. A RefusedError,
 * so the CLI's exit code (2) is unchanged; the HTTP API answers 404 instead of 409.
 */
export class NotFoundError extends RefusedError {
  override name = 'NotFoundError';
}

/**
 * The approval policy refused who asked (the message names the rule and who may). A RefusedError,
 * so the CLI exits 2; the HTTP API can answer 403.
 */
export class PolicyRefusedError extends RefusedError {
  override name = 'PolicyRefusedError';
}

/** The release ended rolled back or failed; `status` holds its final state. */
export class ReleaseFailedError extends Error {
  override name = 'ReleaseFailedError';
  constructor(
    message: string,
    readonly status: unknown,
    readonly failureType?: string,
  ) {
    super(message);
  }
}
