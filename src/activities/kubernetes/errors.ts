/**
 * What a failed Kubernetes API call means for a release. Retrying cannot fix a refused permission,
 * rejected credentials, a field another manager owns, a missing namespace or an object the API
 * calls invalid: those become non-retryable ApplicationFailures with a type and a message a
 * person can act on. An unreachable API server, a timeout, throttling (429) or a 5xx answer may
 * pass: those stay plain (retryable) Errors.
 */
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../errors';

/** The call that failed, as a person would say it: `patch deployments.apps "x" in namespace "ns"`. */
export interface KubeCall {
  verb: 'get' | 'list' | 'watch' | 'create' | 'patch' | 'delete';
  /** plural resource with its group, e.g. `deployments.apps`, `services`, `httproutes.gateway.networking.k8s.io` */
  resource: string;
  namespace: string;
  name?: string;
}

/** The parts of an API error tandem reads: client-node's ApiException (code, body) or a network error. */
interface ApiErrorLike {
  code?: number | string;
  /** set by client-node's Watch when the server refuses a watch */
  statusCode?: number;
  body?: unknown;
  message?: string;
  cause?: { code?: string; message?: string };
}

interface StatusBody {
  message?: string;
  reason?: string;
  details?: { causes?: Array<{ type?: string; message?: string; field?: string }> };
}

/** HTTP status of an API error, when the server answered. */
function statusCode(error: unknown): number | undefined {
  const { code, statusCode: status } = (error as ApiErrorLike | undefined) ?? {};
  if (typeof code === 'number') return code;
  return typeof status === 'number' ? status : undefined;
}

/** True when the API answered 404 Not Found. */
export function isNotFound(error: unknown): boolean {
  return statusCode(error) === 404;
}

/** The `Status` object of an API error's body, parsed when it came as text. */
function statusBody(error: unknown): StatusBody {
  const body = (error as ApiErrorLike | undefined)?.body;
  if (typeof body === 'string') {
    try {
      return JSON.parse(body) as StatusBody;
    } catch {
      return { message: body };
    }
  }
  return (body as StatusBody | undefined) ?? {};
}

/** `patch deployments.apps "x" in namespace "ns"` */
function describeCall(call: KubeCall): string {
  return `${call.verb} ${call.resource}${call.name ? ` "${call.name}"` : ''} in namespace "${call.namespace}"`;
}

/**
 * Field managers named in a server-side apply conflict (`conflict with "kubectl-edit" using apps/v1: .spec.replicas`),
 * with the fields each holds.
 */
function conflictManagers(error: unknown): Map<string, string[]> {
  const managers = new Map<string, string[]>();
  for (const cause of statusBody(error).details?.causes ?? []) {
    const match = /conflict with "([^"]+)"/.exec(cause.message ?? '');
    if (!match) continue;
    const fields = managers.get(match[1]!) ?? [];
    if (cause.field) fields.push(cause.field);
    managers.set(match[1]!, fields);
  }
  return managers;
}

/** Failure types that replace DeployFailed for a 409 conflict or a 400/422 refusal (the routers use InvalidTraffic). */
export interface KubeFailureTypes {
  conflict?: FailureType;
  invalid?: FailureType;
}

/**
 * Turns any error of `call` into what the activity should throw: non-retryable
 * `PermissionDenied` (403, 401), `conflictType` (409 from server-side apply: the other field
 * managers are named), `TargetNotAvailable` (404 on a namespace), `invalidType` (400, 422);
 * a plain retryable Error for everything else (network, 429, 5xx, 404 of the object itself).
 */
export function kubeFailure(error: unknown, call: KubeCall, types: KubeFailureTypes = {}): Error {
  if (error instanceof ApplicationFailure) return error;
  const code = statusCode(error);
  const status = statusBody(error);
  const apiMessage = status.message ?? (error as Error).message ?? String(error);
  const what = describeCall(call);
  switch (code) {
    case 401:
      return ApplicationFailure.nonRetryable(
        `the Kubernetes API server rejected tandem's credentials while trying to ${what} (${apiMessage}); check the kubeconfig or service-account token`,
        FailureType.PermissionDenied,
      );
    case 403: {
      // The API names the verb it checked: a server-side apply that creates the object is checked as `create`.
      const denied = /cannot (\w+) resource "([^"]+)"(?: in API group "([^"]*)")?/.exec(apiMessage);
      const verb = denied?.[1] ?? call.verb;
      const resource = denied ? (denied[3] ? `${denied[2]}.${denied[3]}` : denied[2]!) : call.resource;
      return ApplicationFailure.nonRetryable(
        `permission denied: tandem may not ${verb} ${resource} in namespace "${call.namespace}" (while trying to ${what}: ${apiMessage}); grant "${verb}" on "${resource}" in the worker's Role (deploy/rbac.yaml)`,
        FailureType.PermissionDenied,
      );
    }
    case 409: {
      const managers = conflictManagers(error);
      if (managers.size === 0) return new Error(`conflict while trying to ${what}: ${apiMessage}`);
      const owners = [...managers].map(([manager, fields]) => `"${manager}" (${fields.join(', ') || 'fields'})`).join(', ');
      return ApplicationFailure.nonRetryable(
        `cannot ${what}: fields tandem applies are owned by another field manager: ${owners}. Remove that manager's ownership of those fields, or delete the object so that tandem creates it anew`,
        types.conflict ?? FailureType.DeployFailed,
      );
    }
    case 404:
      if (/namespaces? "[^"]*" not found/.test(apiMessage)) {
        return ApplicationFailure.nonRetryable(`cannot ${what}: ${apiMessage}; create the namespace first`, FailureType.TargetNotAvailable);
      }
      return new Error(`cannot ${what}: ${apiMessage}`);
    case 400:
    case 422:
      return ApplicationFailure.nonRetryable(`the Kubernetes API refused to ${what}: ${apiMessage}`, types.invalid ?? FailureType.DeployFailed);
    case undefined: {
      const cause = (error as ApiErrorLike).cause;
      const reason = cause?.code ?? (error as ApiErrorLike).code ?? cause?.message ?? apiMessage;
      return new Error(`the Kubernetes API server is unreachable while trying to ${what} (${reason}): ${apiMessage}`);
    }
    default:
      return new Error(`the Kubernetes API answered ${code} while trying to ${what}: ${apiMessage}`);
  }
}

/** Runs one API call `fn`; any error it throws becomes kubeFailure(error, call, types). */
export async function kubeCall<T>(call: KubeCall, fn: () => Promise<T>, types?: KubeFailureTypes): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw kubeFailure(error, call, types);
  }
}

/**
 * Like kubeCall, but a 404 Not Found answer is `undefined` instead of an error: a get of an
 * object that does not exist, or a delete of one already gone.
 */
export async function kubeRead<T>(call: KubeCall, fn: () => Promise<T>, types?: KubeFailureTypes): Promise<T | undefined> {
  try {
    return await fn();
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw kubeFailure(error, call, types);
  }
}
