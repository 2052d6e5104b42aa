/**
 * Every failure type, defined once. Activities throw non-retryable ApplicationFailures with one of
 * these types for what retrying cannot fix; workflows branch on the type and end with one; the
 * client and CLI map them to errors and exit codes. Pure: imported by workflows.
 */
export const FailureType = {
  TagNotFound: 'TagNotFound',
  RepositoryUnreadable: 'RepositoryUnreadable',
  InvalidSpec: 'InvalidSpec',
  BuildFailed: 'BuildFailed',
  DeployFailed: 'DeployFailed',
  VerificationFailed: 'VerificationFailed',
  AnalysisFailed: 'AnalysisFailed',
  PermissionDenied: 'PermissionDenied',
  UnknownEnvironment: 'UnknownEnvironment',
  TargetNotAvailable: 'TargetNotAvailable',
  VersionNotRunning: 'VersionNotRunning',
  InvalidAnalysisQuery: 'InvalidAnalysisQuery',
  InvalidTraffic: 'InvalidTraffic',
  /** the version asked for is already the stable one, same commit: nothing to release */
  AlreadyStable: 'AlreadyStable',
  /** a release into an environment of a model's path that does not carry the artifact the previous environment promoted */
  NotOnPath: 'NotOnPath',
  /** a promoted version's image digest is not in the target environment's registry */
  ImageNotFound: 'ImageNotFound',
  /** a notification receiver refused the message (4xx other than 408/429), or is no longer configured */
  NotificationRejected: 'NotificationRejected',

  // Thrown by the release workflow itself.
  /** a signal or update payload the workflow cannot read */
  MalformedRequest: 'MalformedRequest',
  /** an operator refused the release at a step */
  Refused: 'Refused',
  /** the approval policy refused who asked (src/policy): the message names the rule and who may */
  PolicyRefused: 'PolicyRefused',
  /** no approval arrived before the approval step's timeout */
  ApprovalTimeout: 'ApprovalTimeout',
  /** an operator aborted the release */
  Aborted: 'Aborted',
  /** the release workflow was cancelled without an abort request */
  Cancelled: 'Cancelled',

  // What a release ends with: its record's outcome, the original failure's type in its status.
  /** the release was rolled back; the message is the reason */
  RolledBack: 'RolledBack',
  /** the release failed before anything was deployed (bad tag, invalid spec, failed build) */
  ReleaseFailed: 'ReleaseFailed',
} as const;
export type FailureType = (typeof FailureType)[keyof typeof FailureType];

/**
 * What a release records as its failure type when the failure carried none (not an
 * ApplicationFailure). Kept out of FailureType on purpose: activity retry policies list every
 * FailureType as non-retryable, and a plain Error's type is "Error" too, so it must stay retryable.
 */
export const UNTYPED_FAILURE = 'Error';

/** The failure types that mean a release failed because of its input (the CLI exits 2 for them). */
export const BAD_INPUT_FAILURES: ReadonlySet<string> = new Set<FailureType>([
  FailureType.TagNotFound,
  FailureType.InvalidSpec,
  FailureType.RepositoryUnreadable,
  FailureType.UnknownEnvironment,
  FailureType.VersionNotRunning,
  FailureType.AlreadyStable,
  FailureType.PolicyRefused,
  FailureType.NotOnPath,
]);
