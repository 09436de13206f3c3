import path from 'node:path';
import picomatch from 'picomatch';
import type { ImageOverride } from '../config.js';
import type { Snapshot } from '../git/repo.js';
import { memoized } from '../tools/memo.js';
import type { FlagCatalog } from './catalog.js';
import { parseHelp } from './frameworks/registry.js';
import { formatImage, parseImageRef, type ImageRef } from './image-ref.js';

export const DEFAULT_HELP_DIR = '.guard/help';

export type CatalogLookup =
  | { status: 'found'; image: ImageRef; catalog: FlagCatalog; file: string; label: string; binary?: string; helpLines: string[] }
  | { status: 'missing'; image: ImageRef; expectedFile: string }
  | { status: 'unparsable'; image: ImageRef; file: string; reason: string }
  | { status: 'skipped'; image: ImageRef; reason: string };

export interface CatalogStoreOptions {
  helpDir?: string;
  images?: ImageOverride[];
  /**
   * Where ground truth is read: the base revision only. A help file the change adds or edits describes
   * the change itself, so it is not used until merged; until then its image is unverified.
   */
  base: Snapshot;
}

/** Help file path for an image: <helpDir>/<repository>/<tag>.txt, or <digest>.txt (sha256-<hex>) when the reference pins one. */
export function helpFileFor(image: ImageRef, helpDir = DEFAULT_HELP_DIR): string {
  return helpFilesFor(image, helpDir)[0]!;
}

/** Where the help of an image may be stored, most specific first: by digest (when known), then by tag. */
export function helpFilesFor(image: ImageRef, helpDir = DEFAULT_HELP_DIR): string[] {
  const byTag = path.posix.join(helpDir, image.repository, `${image.tag}.txt`);
  return image.digest ? [path.posix.join(helpDir, image.repository, `${image.digest.replace(':', '-')}.txt`), byTag] : [byTag];
}

export class CatalogStore {
  private readonly cache = new Map<string, Promise<CatalogLookup>>();

  constructor(private readonly options: CatalogStoreOptions) {}

  lookup(imageText: string): Promise<CatalogLookup> {
    return memoized(this.cache, imageText, () => this.load(parseImageRef(imageText)));
  }

  private async load(image: ImageRef): Promise<CatalogLookup> {
    const override = this.options.images?.find((o) => matchesImage(o.image, image));
    if (override?.skip) return { status: 'skipped', image, reason: `flags.images entry "${override.image}" in .guard.yaml skips it` };
    const files = override?.help
      ? [override.help.replaceAll('{tag}', image.tag).replaceAll('{repository}', image.repository)]
      : helpFilesFor(image, this.options.helpDir);
    const file = files[0]!;
    const found = await firstExisting(this.options.base, files);
    if (found) {
      const { file, data } = found;
      const text = data.toString('utf8');
      const parsed = parseHelp(text, override?.framework);
      if (!parsed.ok) return { status: 'unparsable', image, file, reason: parsed.reason };
      const program = parsed.catalog.program ?? override?.binary ?? path.posix.basename(image.repository);
      return {
        status: 'found',
        image,
        catalog: parsed.catalog,
        file,
        label: `${program} ${image.tag}`,
        binary: override?.binary ?? parsed.catalog.program,
        helpLines: text.split('\n'),
      };
    }
    return { status: 'missing', image, expectedFile: file };
  }
}

async function firstExisting(snapshot: Snapshot, files: string[]): Promise<{ file: string; data: Buffer } | undefined> {
  for (const file of files) {
    const data = await snapshot.readFile(file);
    if (data) return { file, data };
  }
  return undefined;
}

function matchesImage(pattern: string, image: ImageRef): boolean {
  const isMatch = picomatch(pattern, { dot: true, bash: true });
  return isMatch(image.repository) || isMatch(formatImage(image)) || isMatch(image.original);
}
