import path from 'node:path';
import picomatch from 'picomatch';
import type { ImageOverride } from '../config.js';
import type { Snapshot } from '../git/repo.js';
import { memoized } from '../tools/memo.js';
import type { FlagCatalog } from './catalog.js';
import { catalogDifferences } from './compare-catalogs.js';
import { parseHelp } from './frameworks/registry.js';
import { parseStoredHelp, type HelpProvenance } from './help-header.js';
import { formatImage, parseImageRef, type ImageRef } from './image-ref.js';
import { canonicalRegistry, imageReferenceProblem } from '../registry/distribution.js';
import type { ContainerCommand } from '../image/entrypoint.js';

export const DEFAULT_HELP_DIR = '.guard/help';

/** What a container runs, as Kubernetes says it: `command` replaces the image's ENTRYPOINT, `args` its CMD. */
export type { ContainerCommand };

export type CaptureOutcome<T> = { ok: true; value: T } | { ok: false; reason: string; unreachable?: boolean };

export interface CapturedHelp {
  text: string;
  provenance: HelpProvenance;
  /** The subcommand whose help this is, as the container's args name it (`proxy` of `kubectl proxy`). */
  subcommand?: string[];
}

/** Help taken from the image itself (src/flags/capture-image.ts). */
export interface ImageCapturer {
  /** The digest the reference points to now, to notice a tag that moved since its help was recorded. */
  currentDigest(image: ImageRef): Promise<CaptureOutcome<string>>;
  capture(image: ImageRef, container: ContainerCommand): Promise<CaptureOutcome<CapturedHelp>>;
}

interface FoundCatalog {
  status: 'found';
  image: ImageRef;
  catalog: FlagCatalog;
  /** Repository path of the help file, or a description of the capture ("captured from IMAGE@DIGEST"). */
  file: string;
  /** The help is a file of the repository (lines of flags point into it), not a capture. */
  inRepository: boolean;
  origin: 'recorded' | 'captured';
  provenance?: HelpProvenance;
  label: string;
  binary?: string;
  helpLines: string[];
  /** A help file the change adds or edits that the image itself contradicts. */
  conflict?: { file: string; differences: string[] };
  /** Said in the report next to the findings of this image (a moved tag re-captured). */
  notes?: string[];
  /** Captured for this subcommand of the program: only the args after it are its parser's. */
  subcommand?: string[];
}

export type CatalogLookup =
  | FoundCatalog
  | {
      status: 'missing';
      image: ImageRef;
      expectedFile: string;
      /** Why the help could not be taken from the image, when the guard tried. */
      captureFailure?: { reason: string; unreachable: boolean };
      /** A help file for this image that the change adds: not ground truth until merged. */
      untrustedFile?: string;
    }
  | { status: 'unparsable'; image: ImageRef; file: string; reason: string }
  | { status: 'skipped'; image: ImageRef; reason: string };

export interface CatalogStoreOptions {
  helpDir?: string;
  images?: ImageOverride[];
  /**
   * Where ground truth is read: the base revision only. A help file the change adds or edits describes
   * the change itself, so it is not used until merged; until then its image is unverified, or captured.
   */
  base: Snapshot;
  /** The revision checked: a help file it adds or edits is compared with the image's own help. */
  head?: Snapshot;
  /** Take help from the image when none is recorded, or the recorded one is for another digest. */
  capturer?: ImageCapturer;
  /** Images the base policy lets the guard pull (by registry or repository); others are never contacted. */
  sourceAllowed?: (image: ImageRef) => boolean;
}

export interface LookupContext {
  /** Repositories (registry/path) of the images this release ran at the base revision: a new tag of one may be pulled. */
  baseRepositories?: ReadonlySet<string>;
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
  private readonly digests = new Map<string, Promise<CaptureOutcome<string>>>();
  private readonly recordedLookups = new Map<string, CatalogLookup>();

  constructor(private readonly options: CatalogStoreOptions) {}

  /** The ground truth for a container's image; what it runs matters only when the help is captured (a subcommand's help). */
  lookup(imageText: string, container: ContainerCommand = {}, context: LookupContext = {}): Promise<CatalogLookup> {
    const image = parseImageRef(imageText);
    const allowed = this.registryAllowed(image, context);
    const key = this.options.capturer ? `${imageText}\0${allowed}\0${JSON.stringify([container.command ?? null, container.args ?? null])}` : imageText;
    return memoized(this.cache, key, () => this.load(image, container, allowed));
  }

  /**
   * A registry such as ghcr.io or docker.io holds anyone's images: what the base runs is decided per
   * repository, so a change cannot point a container at an image of its author's and have it run.
   */
  private registryAllowed(image: ImageRef, context: LookupContext): boolean {
    return context.baseRepositories?.has(repositoryOf(image)) === true || this.options.sourceAllowed?.(image) === true;
  }

  private async load(image: ImageRef, container: ContainerCommand, registryAllowed: boolean): Promise<CatalogLookup> {
    // A reference the runtime refuses names no image: its path must not pick another image's help file.
    const invalid = imageReferenceProblem(image);
    if (invalid) return { status: 'missing', image, expectedFile: 'a valid image reference', captureFailure: { reason: `${invalid}; Kubernetes cannot pull it (InvalidImageName)`, unreachable: false } };
    const override = this.options.images?.find((o) => matchesImage(o.image, image));
    if (override?.skip) return { status: 'skipped', image, reason: `flags.images entry "${override.image}" in .guard.yaml skips it` };
    const files = override?.help
      ? [override.help.replaceAll('{tag}', image.tag).replaceAll('{repository}', image.repository)]
      : helpFilesFor(image, this.options.helpDir);
    const recorded = await firstExisting(this.options.base, files);
    const changed = await this.changedHelpFile(files);
    const capturer = registryAllowed ? this.options.capturer : undefined;
    const notAllowed = this.options.capturer && !registryAllowed
      ? { reason: `${repositoryOf(image)} is not an image repository the base revision runs or records help for, so the guard does not pull it (list it, or its registry, in flags.registries of .guard.yaml, changed at the base revision first)`, unreachable: false }
      : undefined;
    if (recorded) {
      // One parse per image and file: lookups keyed by what each container runs share it (500 releases, one catalog).
      const lookup = memoized(this.recordedLookups, `${image.original}\0${recorded.file}`, () => this.fromText(image, recorded.file, recorded.data.toString('utf8'), override, 'recorded'));
      if (lookup.status !== 'found' || !capturer) return lookup;
      const moved = await this.movedTag(image, lookup.provenance, image.digest !== undefined && (override?.help !== undefined || recorded.file !== files[0]));
      if (moved) {
        const captured = await capturer.capture(image, container);
        if (!captured.ok) return { status: 'missing', image, expectedFile: recorded.file, captureFailure: { reason: `${moved}, and capturing it again failed: ${captured.reason}`, unreachable: captured.unreachable ?? false } };
        return this.withConflict(this.captured(image, captured.value, override, [`${moved}: re-captured`]), changed, override);
      }
      if (!changed) return lookup;
      const captured = await capturer.capture(image, container);
      return captured.ok ? this.withConflict(this.captured(image, captured.value, override), changed, override) : lookup;
    }
    if (!capturer) return { status: 'missing', image, expectedFile: files[0]!, ...(notAllowed ? { captureFailure: notAllowed } : {}), ...(changed ? { untrustedFile: changed.file } : {}) };
    const captured = await capturer.capture(image, container);
    if (!captured.ok) {
      return { status: 'missing', image, expectedFile: files[0]!, captureFailure: { reason: captured.reason, unreachable: captured.unreachable ?? false }, ...(changed ? { untrustedFile: changed.file } : {}) };
    }
    return this.withConflict(this.captured(image, captured.value, override), changed, override);
  }

  /** A help file the head adds, or edits, among the files this image's help may be read from. */
  private async changedHelpFile(files: string[]): Promise<{ file: string; data: Buffer } | undefined> {
    const head = this.options.head;
    if (!head || head === this.options.base) return undefined;
    for (const file of files) {
      const [after, before] = await Promise.all([head.readFile(file), this.options.base.readFile(file)]);
      if (after && !(before && before.equals(after))) return { file, data: after };
    }
    return undefined;
  }

  /** Why the recorded help no longer describes the tag, when it was recorded for another digest. */
  private async movedTag(image: ImageRef, provenance: HelpProvenance | undefined, pinnedOverTag: boolean): Promise<string | undefined> {
    const key = formatImage(image);
    // `tag@digest` runs the digest: the tag's recorded help holds only for the digest it was recorded for (or the tag points to).
    if (image.digest) {
      if (!pinnedOverTag || provenance?.digest === image.digest) return undefined;
      if (provenance?.digest) return `${key}@${image.digest} pins another digest than ${provenance.digest}, whose help is recorded for the tag`;
      const { digest: _pinned, ...tagOnly } = image;
      const current = await memoized(this.digests, key, () => this.options.capturer!.currentDigest(tagOnly));
      if (!current.ok || current.value === image.digest) return undefined;
      return `${key}@${image.digest} pins another digest than ${current.value}, where the tag points and whose help is recorded`;
    }
    if (!provenance?.digest) return undefined;
    const current = await memoized(this.digests, key, () => this.options.capturer!.currentDigest(image));
    if (!current.ok || current.value === provenance.digest) return undefined;
    return `${key} now points to ${current.value}, not ${provenance.digest} whose help is recorded`;
  }

  private captured(image: ImageRef, help: CapturedHelp, override: ImageOverride | undefined, notes?: string[]): CatalogLookup {
    const where = `captured from ${help.provenance.image}${help.provenance.digest ? `@${help.provenance.digest}` : ''} (${help.provenance.command ?? '--help'}, ${help.provenance.method ?? 'sandbox'})`;
    const lookup = this.fromText(image, where, help.text, override, 'captured');
    if (lookup.status !== 'found') return { status: 'unparsable', image, file: where, reason: lookup.status === 'unparsable' ? lookup.reason : 'no help' };
    const program = path.posix.basename(help.provenance.command?.split(' ')[0] ?? '');
    return { ...lookup, binary: override?.binary ?? (program || lookup.binary), provenance: help.provenance, ...(notes ? { notes } : {}), ...(help.subcommand?.length ? { subcommand: help.subcommand } : {}) };
  }

  private withConflict(lookup: CatalogLookup, changed: { file: string; data: Buffer } | undefined, override: ImageOverride | undefined): CatalogLookup {
    if (!changed || lookup.status !== 'found') return lookup;
    const claimed = parseHelp(parseStoredHelp(changed.data.toString('utf8')).text, override?.framework);
    const differences = claimed.ok ? catalogDifferences(claimed.catalog, lookup.catalog) : [`it cannot be read as help: ${claimed.reason}`];
    return differences.length > 0 ? { ...lookup, conflict: { file: changed.file, differences } } : lookup;
  }

  private fromText(image: ImageRef, file: string, content: string, override: ImageOverride | undefined, origin: 'recorded' | 'captured'): CatalogLookup {
    const stored = origin === 'recorded' ? parseStoredHelp(content) : { text: content, lineOffset: 0, provenance: undefined };
    const parsed = parseHelp(stored.text, override?.framework);
    if (!parsed.ok) return { status: 'unparsable', image, file, reason: parsed.reason };
    const catalog = shiftLines(parsed.catalog, stored.lineOffset);
    const program = catalog.program ?? override?.binary ?? path.posix.basename(image.repository);
    return {
      status: 'found',
      image,
      catalog,
      file,
      inRepository: origin === 'recorded',
      origin,
      ...(stored.provenance ? { provenance: stored.provenance } : {}),
      label: `${program} ${image.tag}`,
      binary: override?.binary ?? catalog.program,
      helpLines: content.split('\n'),
    };
  }
}

/** Flag lines counted in the file, past its provenance header. */
function shiftLines(catalog: FlagCatalog, offset: number): FlagCatalog {
  if (offset === 0) return catalog;
  return { ...catalog, flags: catalog.flags.map((flag) => (flag.line > 0 ? { ...flag, line: flag.line + offset } : flag)) };
}

async function firstExisting(snapshot: Snapshot, files: string[]): Promise<{ file: string; data: Buffer } | undefined> {
  for (const file of files) {
    const data = await snapshot.readFile(file);
    if (data) return { file, data };
  }
  return undefined;
}

/** host[:port] of an image reference, lower case; Docker Hub under any of its names is docker.io. */
export function registryOf(image: ImageRef): string {
  return canonicalRegistry(image.repository.split('/')[0] ?? '');
}

/** registry/path of an image, its registry named one way (Docker Hub's aliases are docker.io). */
export function repositoryOf(image: ImageRef): string {
  const slash = image.repository.indexOf('/');
  return `${registryOf(image)}${slash < 0 ? '' : image.repository.slice(slash)}`;
}

function matchesImage(pattern: string, image: ImageRef): boolean {
  const isMatch = picomatch(pattern, { dot: true, bash: true });
  return isMatch(image.repository) || isMatch(formatImage(image)) || isMatch(image.original);
}
