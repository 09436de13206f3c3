/**
 * Where a stored help text came from. `guard flags capture` writes it above the help:
 *
 *   # gitops-guard help capture
 *   # image: registry.k8s.io/external-dns/external-dns:v0.19.0
 *   # digest: sha256:…
 *   # platform: linux/amd64
 *   # command: /bin/external-dns --help
 *   # method: bubblewrap
 *   # captured: 2026-11-29T18:00:00Z
 *   (one blank line, then the help exactly as the binary printed it)
 *
 * Help files without the first line are read as they are (captured by hand, no provenance).
 */

export const HEADER_MARK = '# gitops-guard help capture';

export interface HelpProvenance {
  image: string;
  /** The digest the image reference resolved to when captured (index or manifest). */
  digest?: string;
  platform?: string;
  /** The command run in the image, as words. */
  command?: string;
  /** bubblewrap, docker, podman, or "file" for help given by hand. */
  method?: string;
  captured?: string;
}

export interface StoredHelp {
  provenance?: HelpProvenance;
  /** The help output itself. */
  text: string;
  /** Lines above the help text in the file: added to a flag's help line to point into the file. */
  lineOffset: number;
}

const KEYS: Array<keyof HelpProvenance> = ['image', 'digest', 'platform', 'command', 'method', 'captured'];
/** A header longer than this is not one: the text is read as plain help. */
const MAX_HEADER_LINES = 16;

export function formatStoredHelp(provenance: HelpProvenance, text: string): string {
  const lines = [HEADER_MARK];
  for (const key of KEYS) {
    const value = provenance[key];
    if (value !== undefined) lines.push(`# ${key}: ${oneLine(value)}`);
  }
  return `${lines.join('\n')}\n\n${text.endsWith('\n') ? text : `${text}\n`}`;
}

export function parseStoredHelp(content: string): StoredHelp {
  if (!content.startsWith(`${HEADER_MARK}\n`)) return { text: content, lineOffset: 0 };
  const lines = content.split('\n');
  const provenance: Partial<HelpProvenance> = {};
  let index = 1;
  for (; index < lines.length && index <= MAX_HEADER_LINES; index++) {
    const match = /^# ([a-z]+): (.*)$/.exec(lines[index]!);
    if (!match) break;
    const key = match[1] as keyof HelpProvenance;
    if (KEYS.includes(key)) provenance[key] = match[2]!;
  }
  if (lines[index] !== '' || provenance.image === undefined) return { text: content, lineOffset: 0 };
  const lineOffset = index + 1;
  return { provenance: provenance as HelpProvenance, text: lines.slice(lineOffset).join('\n'), lineOffset };
}

function oneLine(value: string): string {
  return value.replace(/[\r\n]+/g, ' ');
}
