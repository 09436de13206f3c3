import { execa } from 'execa';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { writeFileWhole } from '../tools/cache-file.js';
import pLimit from 'p-limit';
import { GuardError } from '../errors.js';
import { parseHelp } from './frameworks/registry.js';
import { parseImageRef } from './image-ref.js';
import { imageReferenceProblem } from '../registry/distribution.js';
import { formatStoredHelp, type HelpProvenance } from './help-header.js';
import { DEFAULT_HELP_DIR, helpFileFor } from './store.js';

export interface CaptureRequest {
  image: string;
  repoRoot: string;
  helpDir?: string;
  /** Read the help text from this file ('-' for stdin text given as `stdinText`). */
  fromFile?: string;
  /** Run this shell command and capture what it prints (kingpin prints help on stderr). */
  run?: string;
  stdinText?: string;
  timeoutMs?: number;
  /** Written above the help in the file (src/flags/help-header.ts). */
  provenance?: HelpProvenance;
  /** The help itself, already captured (from the image). */
  text?: string;
}

export interface CaptureResult {
  image: string;
  file: string;
  /** The help file was already there and --force was not given: nothing ran. */
  cached?: boolean;
  framework?: string;
  flagCount: number;
  warning?: string;
}

/**
 * Store a binary's help output where `guard check` looks for it: <helpDir>/<repository>/<tag>.txt.
 * Only help that a framework reads is stored: an error message (a container runtime without its
 * daemon, a binary that is not there) is refused, and nothing is written.
 */
export async function captureHelp(request: CaptureRequest): Promise<CaptureResult> {
  const text = await readHelpText(request);
  if (text.trim() === '') throw new GuardError('the captured help output is empty', undefined, 'check the command or file; kingpin binaries print --help on stderr, which --run captures too');
  const parsed = parseHelp(text);
  if (!parsed.ok) {
    const firstLine = text.trim().split('\n')[0]!.slice(0, 200);
    throw new GuardError(`not stored: the output is not help that the guard can read (${parsed.reason}); it begins: ${firstLine}`, undefined, 'run the command by hand and check it prints the binary\'s --help; or capture from the registry without --run');
  }
  const relative = helpFileFor(parseImageRef(request.image), request.helpDir ?? DEFAULT_HELP_DIR);
  await writeHelpFile(path.join(request.repoRoot, relative), request.provenance ? formatStoredHelp(request.provenance, text) : text);
  return { image: request.image, file: relative, framework: parsed.catalog.framework, flagCount: parsed.catalog.flags.filter((f) => !f.hidden).length };
}

/** Written whole or not at all. */
export async function writeHelpFile(target: string, content: string): Promise<void> {
  await writeFileWhole(target, content.endsWith('\n') ? content : content + '\n');
}

async function readHelpText(request: CaptureRequest): Promise<string> {
  if (request.text !== undefined) return request.text;
  if (request.fromFile !== undefined && request.run !== undefined) throw new GuardError('use either --from or --run, not both');
  if (request.fromFile === '-') return request.stdinText ?? '';
  if (request.fromFile !== undefined) {
    try {
      return await fs.readFile(request.fromFile, 'utf8');
    } catch {
      throw new GuardError(`cannot read ${request.fromFile}`, undefined, 'pass the path of a file holding the binary\'s --help output');
    }
  }
  if (request.run !== undefined) {
    const result = await execa(request.run, { shell: true, reject: false, timeout: request.timeoutMs ?? 120_000, all: true });
    if (result.timedOut) throw new GuardError(`"${request.run}" did not finish in time`);
    // Help goes to stdout or stderr depending on the framework, and some exit non-zero after printing it.
    const combined = [String(result.stdout), String(result.stderr)].filter((s) => s.trim() !== '').join('\n');
    if (combined.trim() === '') throw new GuardError(`"${request.run}" printed nothing (exit code ${result.exitCode})`);
    return combined;
  }
  throw new GuardError('nothing to capture', undefined, 'pass --from FILE or --run "COMMAND"');
}

export interface BatchCaptureRequest {
  images: string[];
  repoRoot: string;
  helpDir?: string;
  /** Command template; {image} is replaced by each image reference. */
  runTemplate?: string;
  /** Capture command for an image from .guard.yaml, when no template is given. */
  configuredRun: (image: string) => Promise<string | undefined>;
  force: boolean;
  concurrency: number;
}

export type BatchOutcome = CaptureResult | { image: string; error: string };

/**
 * Capture many images at once (for example every image a cluster runs). An image whose help file
 * exists is not captured again unless forced; one pinned by digest is stored by digest, so the
 * same content is never captured twice.
 */
export async function captureMany(request: BatchCaptureRequest): Promise<BatchOutcome[]> {
  const limit = pLimit(Math.max(1, request.concurrency));
  return Promise.all(
    request.images.map((image) =>
      limit(async (): Promise<BatchOutcome> => {
        const relative = helpFileFor(parseImageRef(image), request.helpDir ?? DEFAULT_HELP_DIR);
        if (!request.force && (await fs.access(path.join(request.repoRoot, relative)).then(() => true, () => false))) {
          return { image, file: relative, cached: true, flagCount: 0 };
        }
        // The reference goes into a shell command: only one the distribution grammar accepts (no spaces, quotes, `;` or `$`).
        const invalid = imageReferenceProblem(parseImageRef(image));
        if (invalid) return { image, error: `${invalid}; nothing run` };
        const run = request.runTemplate?.replaceAll('{image}', image) ?? (await request.configuredRun(image));
        if (!run) return { image, error: 'no capture command: pass --run "docker run --rm {image} --help" or set flags.images[].capture in .guard.yaml' };
        try {
          return await captureHelp({ image, repoRoot: request.repoRoot, helpDir: request.helpDir, run });
        } catch (error) {
          return { image, error: error instanceof GuardError ? error.message : String(error) };
        }
      }),
    ),
  );
}

/** Image references from a list file: one per line, blank lines and # comments ignored. */
export function imagesFromList(text: string): string[] {
  return text.split('\n').map((line) => line.replace(/#.*$/, '').trim()).filter((line) => line !== '');
}
