/**
 * Image references (`registry:port/name:tag@sha256:...`), split one way everywhere. Pure.
 */

/** An image reference's parts; `tag` and `digest` are absent when the reference has none. */
export interface ImageRef {
  /** everything before the tag and digest, registry and port included (`127.0.0.1:5000/fraud`) */
  repository: string;
  tag?: string;
  digest?: string;
}

/** Splits `registry/name:tag@digest`; a registry port (`127.0.0.1:5000/...`) is not taken for a tag. */
export function parseImageRef(image: string): ImageRef {
  const at = image.indexOf('@');
  const digest = at >= 0 ? image.slice(at + 1) : undefined;
  const noDigest = at >= 0 ? image.slice(0, at) : image;
  const slash = noDigest.lastIndexOf('/');
  const colon = noDigest.lastIndexOf(':');
  const hasTag = colon > slash;
  return {
    repository: hasTag ? noDigest.slice(0, colon) : noDigest,
    ...(hasTag ? { tag: noDigest.slice(colon + 1) } : {}),
    ...(digest ? { digest } : {}),
  };
}

/** `registry/model:tag` → `registry/model`. */
export function repositoryOf(image: string): string {
  return parseImageRef(image).repository;
}

/**
 * The reference to run: `<repository>@<digest>` when a digest is known, so a moved tag can never
 * change what runs; else the image as given.
 */
export function imageReference(image: string, digest: string): string {
  return digest ? `${repositoryOf(image)}@${digest}` : image;
}
