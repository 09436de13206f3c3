/**
 * A help continuation line appended to what came before, with one space. Appending without
 * re-trimming the whole text keeps a flag with thousands of help lines linear, not quadratic.
 */
export function joinHelp(help: string, more: string): string {
  if (more === '') return help;
  return help === '' ? more : `${help} ${more}`;
}
