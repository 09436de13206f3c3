export interface ImageRef {
  /** Fully qualified repository, e.g. "registry.k8s.io/external-dns/external-dns" or "docker.io/library/nginx". */
  repository: string;
  tag: string;
  digest?: string;
  /** As written in the manifest. */
  original: string;
}

/** Parse an image reference the way container runtimes do (docker.io and :latest defaults). */
export function parseImageRef(image: string): ImageRef {
  let rest = image.trim();
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  let tag = 'latest';
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  const first = rest.split('/')[0] ?? '';
  const hasRegistry = rest.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  let repository = rest;
  if (!hasRegistry) repository = rest.includes('/') ? `docker.io/${rest}` : `docker.io/library/${rest}`;
  return { repository, tag, digest, original: image };
}

export function formatImage(ref: ImageRef): string {
  return `${ref.repository}:${ref.tag}`;
}
