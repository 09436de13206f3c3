import type { YamlDocument } from '../yaml/source.js';
import type { RepoObject } from './objects.js';

/**
 * A value a strategic-merge patch file sets is written in the patch, not in the resource: findings
 * about it point at the patch's line. Positions of patch files (listed under `patches:`) that name
 * a built object are laid over the object's own.
 */
export function withPatchPositions(objects: RepoObject[], patchObjects: RepoObject[], readBy?: (index: number) => ReadonlySet<string> | undefined): RepoObject[] {
  if (patchObjects.length === 0) return objects;
  return objects.map((object, index) => {
    // Only patches the object's own build read: two clusters' overlays patch the same object differently.
    const reads = readBy?.(index);
    const patches = patchObjects.filter((p) => (!reads || reads.has(p.file)) && p.kind === object.kind && p.name === object.name && (p.namespace === undefined || object.namespace === undefined || p.namespace === object.namespace));
    if (patches.length === 0) return object;
    const positions = new Map(object.document.positions);
    const literalBlocks = new Map(object.document.literalBlocks);
    for (const patch of patches) {
      for (const [pointer, location] of patch.document.positions) if (pointer.startsWith('/spec/')) positions.set(pointer, location);
      for (const [pointer, line] of patch.document.literalBlocks) if (pointer.startsWith('/spec/')) literalBlocks.set(pointer, line);
    }
    const document: YamlDocument = { ...object.document, positions, literalBlocks };
    return { ...object, document };
  });
}
