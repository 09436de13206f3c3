/** One file of a unified diff, on its new side. */
export interface FileDiff {
  path: string;
  /** New-side start line of each hunk, in order. */
  hunkStarts: number[];
  /** New-side lines the diff shows: added and context lines inside hunks. */
  newLines: Set<number>;
}

/** The files of a unified diff (`git diff`, or a forge's pull request diff) that exist on the new side. */
export function parseUnifiedDiff(diff: string): Map<string, FileDiff> {
  const files = new Map<string, FileDiff>();
  let file: FileDiff | undefined;
  let line = 0;
  let inHunk = false;
  for (const text of diff.split('\n')) {
    if (text.startsWith('diff --git ')) {
      file = undefined;
      inHunk = false;
    } else if (text.startsWith('+++ ')) {
      const path = text === '+++ /dev/null' ? undefined : text.slice(4).replace(/^b\//, '');
      file = path === undefined ? undefined : { path, hunkStarts: [], newLines: new Set() };
      if (file) files.set(file.path, file);
      inHunk = false;
    } else if (text.startsWith('@@') && file) {
      line = Number(/\+(\d+)/.exec(text)?.[1] ?? 0);
      file.hunkStarts.push(line);
      inHunk = true;
    } else if (inHunk && file) {
      if (text.startsWith('+') || text.startsWith(' ')) file.newLines.add(line++);
      else if (!text.startsWith('-') && !text.startsWith('\\')) inHunk = false;
    }
  }
  return files;
}

/** Lines a review comment may sit on: added and context lines inside hunks, per file. */
export function commentableLines(diff: string): Map<string, Set<number>> {
  return new Map([...parseUnifiedDiff(diff).values()].filter((f) => f.newLines.size > 0).map((f) => [f.path, f.newLines]));
}
