import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { parseShared } from '../yaml/shared-parse.js';
import type { Snapshot } from '../git/repo.js';
import { KUSTOMIZATION_FILES } from '../kustomize/confine.js';

export { KUSTOMIZATION_FILES };

/**
 * One revision for kustomize, with the content digest of every file: what a build reads decides
 * whether its output can be reused (base and head share unchanged builds). Written to disk only
 * when a build has to run (`onDisk`): a check whose builds all come from the cache writes nothing.
 */
export class RevisionTree {
  private readonly dirs = new Set<string>();
  private readonly reads = new Map<string, Set<string>>();
  /** Folders where the guard wrote Flux's generated kustomization.yaml. */
  readonly generated = new Set<string>();

  private constructor(
    readonly dir: string,
    readonly files: Map<string, string>,
    private readonly contents: Map<string, Buffer>,
  ) {
    for (const file of files.keys()) {
      for (let d = path.posix.dirname(file); d !== '.'; d = path.posix.dirname(d)) {
        if (this.dirs.has(d)) break;
        this.dirs.add(d);
      }
    }
  }

  /** The revision's files (what git tracks; for the working tree, also untracked files it does not ignore), to be written at `into`. */
  static async write(snapshot: Snapshot, into: string): Promise<RevisionTree> {
    const files = (await snapshot.listFiles()).filter((f) => !f.startsWith('.git/'));
    const contents = await snapshot.readFiles(files);
    const digests = new Map<string, string>();
    for (const [file, data] of contents) digests.set(file, createHash('sha1').update(data).digest('hex'));
    return new RevisionTree(into, digests, contents);
  }

  private written?: Promise<string>;

  /** The tree on disk at `dir`, written once, when the first build needs it. */
  onDisk(): Promise<string> {
    this.written ??= (async () => {
      const folders = new Set<string>();
      for (const file of this.contents.keys()) folders.add(path.dirname(path.join(this.dir, file)));
      await fs.mkdir(this.dir, { recursive: true });
      for (const folder of [...folders].sort()) await fs.mkdir(folder, { recursive: true });
      const files = [...this.contents];
      for (let i = 0; i < files.length; i += 64) await Promise.all(files.slice(i, i + 64).map(([file, data]) => fs.writeFile(path.join(this.dir, file), data)));
      return this.dir;
    })();
    return this.written;
  }

  isDir(relative: string): boolean {
    return relative === '' || this.dirs.has(relative);
  }

  text(relative: string): string | undefined {
    return this.contents.get(relative)?.toString('utf8');
  }

  kustomizationFile(dir: string): string | undefined {
    return KUSTOMIZATION_FILES.map((name) => (dir === '' ? name : `${dir}/${name}`)).find((f) => this.files.has(f));
  }

  filesUnder(dir: string): string[] {
    const prefix = dir === '' ? '' : `${dir}/`;
    return [...this.files.keys()].filter((f) => f.startsWith(prefix));
  }

  /**
   * Every file kustomize may read to build `dir`: its kustomization file and every path any of
   * its strings names (resources, components, patches, generator files), followed into other
   * kustomizations; a folder without a kustomization file is read whole. An over-estimate on purpose.
   */
  readsOf(dir: string): Set<string> {
    const cached = this.reads.get(dir);
    if (cached) return cached;
    const out = new Set<string>();
    this.reads.set(dir, out);
    const file = this.kustomizationFile(dir);
    if (!file) {
      for (const entry of this.generatedResources(dir)) {
        const target = dir === '' ? entry : `${dir}/${entry}`;
        if (this.files.has(target)) out.add(target);
        else for (const f of this.readsOf(target)) out.add(f);
      }
      return out;
    }
    // Every kustomization file name the folder holds: a second one makes kustomize refuse the folder, so it is an input too.
    for (const name of KUSTOMIZATION_FILES) if (this.files.has(dir === '' ? name : `${dir}/${name}`)) out.add(dir === '' ? name : `${dir}/${name}`);
    let document: unknown;
    try {
      document = parseShared(this.text(file) ?? '');
    } catch {
      return out;
    }
    const named: string[] = [];
    for (const target of this.pathsNamedIn(dir, document)) {
      if (this.files.has(target)) {
        out.add(target);
        named.push(target);
      } else if (this.isDir(target) && target !== dir) for (const f of this.readsOf(target)) out.add(f);
    }
    // Generator and transformer configs (`generators: [gen.yaml]`) name files of their own, read from the kustomization's folder.
    for (const config of named.filter((f) => /\.ya?ml$/i.test(f))) {
      let configDocument: unknown;
      try {
        configDocument = parseShared(this.text(config) ?? '');
      } catch {
        continue;
      }
      for (const target of this.pathsNamedIn(dir, configDocument)) if (this.files.has(target)) out.add(target);
    }
    return out;
  }

  /** Every string of a kustomize document that names a path of the revision, relative to `dir` (generator entries may be `key=file`). */
  private *pathsNamedIn(dir: string, document: unknown): Generator<string> {
    for (const value of strings(document)) {
      for (const candidate of value.includes('=') ? [value, value.slice(value.indexOf('=') + 1)] : [value]) {
        const target = this.resolve(dir, candidate);
        if (target !== undefined) yield target;
      }
    }
  }

  /**
   * What kustomize-controller's generator lists for a folder without a kustomization file: the YAML
   * files below it (candidates: the caller keeps the manifests), and each sub-folder that has a
   * kustomization file as a whole, not walked further. Paths relative to `dir`, in walk order.
   * Read from the revision's file list, never from disk: ignored or generated files are not in it.
   */
  generatedResources(dir: string): string[] {
    const prefix = dir === '' ? '' : `${dir}/`;
    const out = new Set<string>();
    for (const file of this.filesUnder(dir).sort(byPathParts)) {
      const parts = file.slice(prefix.length).split('/');
      let unit: string | undefined;
      for (let i = 1; i < parts.length && unit === undefined; i++) {
        const sub = parts.slice(0, i).join('/');
        if (this.kustomizationFile(prefix + sub) !== undefined) unit = sub;
      }
      if (unit !== undefined) out.add(unit);
      else if (/\.ya?ml$/.test(parts.at(-1)!)) out.add(parts.join('/'));
    }
    return [...out];
  }

  /** Content digest of what building `dir` reads. */
  digestOf(files: Iterable<string>): string {
    const hash = createHash('sha256');
    for (const file of [...files].sort()) hash.update(`${file}\0${this.files.get(file) ?? '-'}\n`);
    return hash.digest('hex');
  }

  resolve(dir: string, value: string): string | undefined {
    if (value === '' || value.length > 4096 || value.includes('\n') || /^[a-z][a-z0-9+.-]*:\/\//i.test(value) || value.startsWith('/')) return undefined;
    const joined = path.posix.normalize(path.posix.join(dir === '' ? '.' : dir, value)).replace(/\/$/, '');
    if (joined === '..' || joined.startsWith('../')) return undefined;
    return joined === '.' ? '' : joined;
  }
}

function* strings(value: unknown, depth = 0): Generator<string> {
  if (depth > 32) return;
  if (typeof value === 'string') yield value;
  else if (Array.isArray(value)) for (const item of value) yield* strings(item, depth + 1);
  else if (value !== null && typeof value === 'object') for (const item of Object.values(value)) yield* strings(item, depth + 1);
}

/** Depth-first walk order, each folder's entries by name (as the generator's walk visits them). */
function byPathParts(a: string, b: string): number {
  const left = a.split('/');
  const right = b.split('/');
  for (let i = 0; i < Math.min(left.length, right.length); i++) {
    const order = left[i]!.localeCompare(right[i]!);
    if (order !== 0) return order;
  }
  return left.length - right.length;
}
