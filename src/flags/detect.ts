import type { FlagCatalog, Framework } from './catalog.js';
import { looksLikeKingpin, parseKingpinHelp } from './kingpin.js';

interface HelpParser {
  framework: Framework;
  looksLike(text: string): boolean;
  parse(text: string): FlagCatalog;
}

const PARSERS: HelpParser[] = [{ framework: 'kingpin', looksLike: looksLikeKingpin, parse: parseKingpinHelp }];

export type ParseOutcome = { ok: true; catalog: FlagCatalog } | { ok: false; reason: string };

/** Pick the parser whose framework produced this help text. */
export function parseHelp(text: string): ParseOutcome {
  const parser = PARSERS.find((p) => p.looksLike(text));
  if (!parser) {
    return { ok: false, reason: `no parser recognises this help output (known frameworks: ${PARSERS.map((p) => p.framework).join(', ')})` };
  }
  const catalog = parser.parse(text);
  if (catalog.flags.filter((f) => !f.hidden).length === 0) {
    return { ok: false, reason: `looks like ${parser.framework} help but no flags could be read from it` };
  }
  return { ok: true, catalog };
}
