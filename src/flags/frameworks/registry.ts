import type { FlagCatalog, FlagFramework, Framework } from '../catalog.js';
import { kingpin } from './kingpin.js';
import { pflag } from './pflag.js';
import { goflag } from './goflag.js';
import { urfave } from './urfave.js';
import { clap } from './clap.js';
import { argparse } from './argparse.js';

/** Detection order: the first framework whose looksLike() accepts a help text parses it. */
const FRAMEWORKS: FlagFramework[] = [kingpin, pflag, goflag, urfave, clap, argparse];

export type ParseOutcome = { ok: true; catalog: FlagCatalog } | { ok: false; reason: string };

export function frameworkNamed(name: Framework): FlagFramework | undefined {
  return FRAMEWORKS.find((f) => f.framework === name);
}

/** Read a help text with the framework that produced it: the one named (config override) or the one detected. */
export function parseHelp(text: string, framework?: Framework): ParseOutcome {
  const bounds = outOfBounds(text);
  if (bounds) return { ok: false, reason: bounds };
  const parser = framework ? frameworkNamed(framework) : FRAMEWORKS.find((p) => p.looksLike(text));
  if (!parser) {
    return framework
      ? { ok: false, reason: `framework "${framework}" is not supported (supported: ${FRAMEWORKS.map((p) => p.framework).join(', ')})` }
      : { ok: false, reason: `no parser recognises this help output (known frameworks: ${FRAMEWORKS.map((p) => p.framework).join(', ')}); name the framework in .guard.yaml flags.images[].framework` };
  }
  const catalog = parser.parse(text);
  if (catalog.flags.filter((f) => !f.hidden).length === 0) {
    return { ok: false, reason: `read as ${parser.framework} help but no flags could be found in it` };
  }
  return { ok: true, catalog };
}

/** Real help outputs are tens of KB (external-dns 50 KB, kubectl's longest under 30 KB). */
export const MAX_HELP_BYTES = 256 * 1024;
export const MAX_HELP_LINE = 8 * 1024;

/** A help text too large for the guard to read: refused with the reason, so the image counts as unverified. */
function outOfBounds(text: string): string | undefined {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_HELP_BYTES) return `the help output is ${Math.ceil(bytes / 1024)} KB, more than the ${MAX_HELP_BYTES / 1024} KB the guard reads (a real --help is tens of KB)`;
  let start = 0;
  let line = 1;
  while (start < text.length) {
    const end = text.indexOf('\n', start);
    const stop = end < 0 ? text.length : end;
    if (stop - start > MAX_HELP_LINE) return `line ${line} of the help output is ${stop - start} characters long, more than the ${MAX_HELP_LINE} the guard reads`;
    start = stop + 1;
    line++;
  }
  return undefined;
}

/** Parse args the way the catalog's framework does. */
export function validateArgs(catalog: FlagCatalog, args: string[], options?: Parameters<FlagFramework['validate']>[2]) {
  const parser = frameworkNamed(catalog.framework);
  if (!parser) throw new Error(`no validator for framework ${catalog.framework}`);
  return parser.validate(catalog, args, options);
}
