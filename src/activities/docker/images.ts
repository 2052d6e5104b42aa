/**
 * The image a replica runs: the engine's own copy when it is the wanted one, else pulled from the
 * registry (by digest when one is given).
 */
import type Docker from 'dockerode';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../errors';
import { repositoryOf } from '../../naming/image';
import { followStream, statusOf } from './engine';

/** Credentials for pulling from a registry that needs them (the local registry does not). */
export interface RegistryAuth {
  username: string;
  password: string;
  /** registry host[:port]; Docker derives it from the image when absent */
  serveraddress?: string;
}

/**
 * A reference the engine can run: `repository@digest` when the engine has it or pulls it, the
 * plain `image` when the local copy is the wanted digest (or no digest is asked for). Throws a
 * non-retryable DeployFailed ApplicationFailure when the registry has no such image or refuses
 * access; other pull failures are plain (retryable) errors.
 */
export async function ensureImage(docker: Docker, image: string, digest: string, auth?: RegistryAuth): Promise<string> {
  const repository = repositoryOf(image);
  if (digest) {
    const byDigest = `${repository}@${digest}`;
    if (await inspectImage(docker, byDigest)) return byDigest;
    const local = await inspectImage(docker, image);
    if (local && (local.Id === digest || (local.RepoDigests ?? []).includes(byDigest))) return image;
    await pull(docker, byDigest, auth);
    return byDigest;
  }
  if (await inspectImage(docker, image)) return image;
  await pull(docker, image, auth);
  return image;
}

async function inspectImage(docker: Docker, ref: string): Promise<Docker.ImageInspectInfo | undefined> {
  try {
    return await docker.getImage(ref).inspect();
  } catch (error) {
    if (statusOf(error) === 404) return undefined;
    throw error;
  }
}

async function pull(docker: Docker, ref: string, auth?: RegistryAuth): Promise<void> {
  let events: Array<{ error?: unknown }>;
  try {
    const stream = await docker.pull(ref, auth ? { authconfig: auth } : {});
    events = await followStream(docker, stream);
  } catch (error) {
    throw pullFailure(ref, error);
  }
  const failed = events.find((e) => e.error);
  if (failed) throw pullFailure(ref, new Error(String(failed.error)));
}

/**
 * The failure to throw for a pull of `ref` that failed with `error`: non-retryable DeployFailed
 * when the image does not exist or access is refused, a plain (retryable) Error otherwise. Pure.
 */
export function pullFailure(ref: string, error: unknown): Error {
  const text = String((error as { json?: { message?: string } }).json?.message ?? (error as Error).message ?? error);
  if (statusOf(error) === 404 || /not found|manifest unknown|does not exist|unauthorized|denied/i.test(text)) {
    return ApplicationFailure.nonRetryable(`image ${ref} cannot be pulled: ${text.trim()}`, FailureType.DeployFailed);
  }
  return new Error(`pulling image ${ref} failed: ${text.trim()}`);
}
