import { describe, expect, it } from 'vitest';
import { helpFileFor } from '../../src/flags/store.js';
import { parseImageRef } from '../../src/flags/image-ref.js';

describe('parseImageRef', () => {
  it.each([
    ['registry.k8s.io/external-dns/external-dns:v0.19.0', 'registry.k8s.io/external-dns/external-dns', 'v0.19.0', undefined],
    ['nginx', 'docker.io/library/nginx', 'latest', undefined],
    ['bitnami/redis:7.2', 'docker.io/bitnami/redis', '7.2', undefined],
    ['localhost:5000/tool:1', 'localhost:5000/tool', '1', undefined],
    ['ghcr.io/a/b:1.0@sha256:abc', 'ghcr.io/a/b', '1.0', 'sha256:abc'],
    ['registry:5000/team/app', 'registry:5000/team/app', 'latest', undefined],
  ])('%s', (image, repository, tag, digest) => {
    expect(parseImageRef(image)).toMatchObject({ repository, tag, digest });
  });

  it('maps an image to its help file', () => {
    expect(helpFileFor(parseImageRef('registry.k8s.io/external-dns/external-dns:v0.19.0'))).toBe('.guard/help/registry.k8s.io/external-dns/external-dns/v0.19.0.txt');
  });
});
