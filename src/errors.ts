/**
 * Failure types. Activities throw non-retryable ApplicationFailures with one of these types for
 * what retrying cannot fix; workflows branch on the type; the CLI maps them to exit codes.
 * Pure: imported by workflows.
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
} as const;
export type FailureType = (typeof FailureType)[keyof typeof FailureType];
