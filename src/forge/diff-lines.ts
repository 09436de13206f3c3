/** Lines of the new side of a unified diff that a review comment may sit on: added and context lines inside hunks. */
export type CommentableLines = Map<string, Set<number>>;

export function commentableLines(diff: string): CommentableLines {
  const result: CommentableLines = new Map();
  let file: string | undefined;
  let line = 0;
  let inHunk = false;
  for (const text of diff.split('\n')) {
    if (text.startsWith('diff --git ')) {
      file = undefined;
      inHunk = false;
    } else if (text.startsWith('+++ ')) {
      file = text === '+++ /dev/null' ? undefined : text.slice(4).replace(/^b\//, '');
      inHunk = false;
    } else if (text.startsWith('@@')) {
      const match = /\+(\d+)(?:,(\d+))?/.exec(text);
      line = Number(match?.[1] ?? 0);
      inHunk = file !== undefined;
    } else if (inHunk && file) {
      if (text.startsWith('+') || text.startsWith(' ')) {
        let lines = result.get(file);
        if (!lines) result.set(file, (lines = new Set()));
        lines.add(line);
        line++;
      } else if (text.startsWith('\\')) {
        // "\ No newline at end of file"
      } else if (!text.startsWith('-')) {
        inHunk = false;
      }
    }
  }
  return result;
}
