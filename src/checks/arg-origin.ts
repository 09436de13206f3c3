import type { SourceLocation } from '../findings.js';
import { locate, type PositionedValues } from '../flux/values-merge.js';
import { jsonPointer, locatePath } from '../yaml/source.js';
import type { RenderedRelease } from '../model/release.js';

interface Leaf {
  path: Array<string | number>;
  value: string;
}

/**
 * The line a human must edit to change a rendered argument: the values entry that produced it
 * (an extraArgs item, a map key, a scalar such as `policy: upsert-only`), else the valuesFiles
 * line in the repository that gave the chart that default, else the post-renderer patch, else the
 * chart version line, since the argument then comes from the chart's own defaults.
 */
export function locateArgument(rendered: RenderedRelease, arg: string, flagName?: string): { location: SourceLocation; fromValues: boolean } {
  const location = locateIn(rendered.values, arg, flagName)
    ?? (rendered.chartDefaults && locateIn(rendered.chartDefaults, arg, flagName))
    ?? locateInPostRenderers(rendered, arg);
  return location ? { location, fromValues: true } : { location: rendered.release.locations.version, fromValues: false };
}

function locateIn(values: PositionedValues, arg: string, flagName?: string): SourceLocation | undefined {
  const leaves = collectLeaves(values.values);
  const equalsIndex = arg.indexOf('=');
  const flagValue = arg.startsWith('-') && equalsIndex > 0 ? arg.slice(equalsIndex + 1) : arg.startsWith('-') ? undefined : arg;
  const keyMatches = (leaf: Leaf) => {
    const key = leaf.path[leaf.path.length - 1];
    return typeof key === 'string' && flagName !== undefined && key.replace(/^-+/, '') === flagName;
  };
  const argish = (leaf: Leaf) => leaf.path.some((p) => typeof p === 'string' && /arg/i.test(p));
  const ranked: Array<(leaf: Leaf) => boolean> = [
    (leaf) => leaf.value === arg,
    (leaf) => keyMatches(leaf),
    (leaf) => flagValue !== undefined && flagValue.length > 1 && leaf.value === flagValue && argish(leaf),
    (leaf) => flagValue !== undefined && flagValue.length > 1 && leaf.value === flagValue,
    (leaf) => arg.length > 3 && leaf.value.includes(arg),
  ];
  for (const matches of ranked) {
    const found = leaves.filter(matches);
    const best = found.find(argish) ?? found[0];
    const location = best ? locate(values.positions, best.path) : undefined;
    if (location) return location;
  }
  return undefined;
}

/** An argument a post-renderer patch puts in: the patch line that writes it. */
function locateInPostRenderers(rendered: RenderedRelease, arg: string): SourceLocation | undefined {
  const object = rendered.release.object;
  const postRenderers = (object.body.spec as Record<string, unknown> | undefined)?.postRenderers;
  for (const leaf of collectLeaves(postRenderers, ['spec', 'postRenderers'])) {
    const lineIndex = leaf.value.split('\n').findIndex((line) => line.includes(arg));
    if (lineIndex < 0) continue;
    const pointer = jsonPointer(leaf.path);
    const blockLine = object.document.literalBlocks.get(pointer);
    if (blockLine !== undefined) return { path: object.file, line: blockLine + lineIndex + 1 };
    return locatePath(object.document.positions, leaf.path) ?? object.document.start;
  }
  return undefined;
}

/** Where an image is chosen in the values (its tag or repository), else the chart version line. */
export function locateImage(rendered: RenderedRelease, repository: string, tag: string): SourceLocation {
  const leaves = collectLeaves(rendered.values.values);
  const byTag = leaves.find((l) => l.value === tag && l.path.some((p) => typeof p === 'string' && /image|tag/i.test(p)));
  const byRepository = leaves.find((l) => l.value !== '' && repository.endsWith(l.value));
  const leaf = byTag ?? byRepository;
  return (leaf && locate(rendered.values.positions, leaf.path)) ?? rendered.release.locations.version;
}

function collectLeaves(value: unknown, path: Array<string | number> = [], out: Leaf[] = []): Leaf[] {
  if (Array.isArray(value)) {
    value.forEach((item, index) => collectLeaves(item, [...path, index], out));
  } else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) collectLeaves(item, [...path, key], out);
  } else if (value !== null && value !== undefined) {
    out.push({ path, value: String(value) });
  }
  return out;
}
