/** Hostile text (archive and layer names, registry answers) as quoted in a message: printable characters only, bounded. */
export function printable(text: string): string {
  const clean = text.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > 200 ? `${clean.slice(0, 200)}...` : clean;
}
