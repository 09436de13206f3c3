import { execa } from 'execa';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { GuardError } from '../errors.js';
import { parseHelp } from './frameworks/registry.js';
import { parseImageRef } from './image-ref.js';
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
}

export interface CaptureResult {
  file: string;
  framework?: string;
  flagCount: number;
  warning?: string;
}

/** Store a binary's help output where `guard check` looks for it: <helpDir>/<repository>/<tag>.txt */
export async function captureHelp(request: CaptureRequest): Promise<CaptureResult> {
  const text = await readHelpText(request);
  if (text.trim() === '') throw new GuardError('the captured help output is empty', undefined, 'check the command or file; kingpin binaries print --help on stderr, which --run captures too');
  const relative = helpFileFor(parseImageRef(request.image), request.helpDir ?? DEFAULT_HELP_DIR);
  const target = path.join(request.repoRoot, relative);
  await fs.mkdir(path.dirname(target), { recursive: true });
  const temporary = `${target}.${process.pid}.partial`;
  await fs.writeFile(temporary, text.endsWith('\n') ? text : text + '\n');
  await fs.rename(temporary, target);
  const parsed = parseHelp(text);
  if (!parsed.ok) return { file: relative, flagCount: 0, warning: `stored, but ${parsed.reason}; containers using this image will be reported as unverified` };
  return { file: relative, framework: parsed.catalog.framework, flagCount: parsed.catalog.flags.filter((f) => !f.hidden).length };
}

async function readHelpText(request: CaptureRequest): Promise<string> {
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
