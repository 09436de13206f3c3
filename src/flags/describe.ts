import type { Arity, FlagCatalog, FlagSpec } from './catalog.js';

/** The catalog as `guard flags show` prints it: one line per flag, then positionals, groups and commands. */
export function describeCatalog(catalog: FlagCatalog): string {
  const command = [catalog.program ?? '(program)', ...(catalog.subcommand ?? [])].join(' ');
  const framework = catalog.variant ? `${catalog.framework} (${catalog.variant})` : catalog.framework;
  const lines = [`${command}: ${framework}, ${catalog.flags.length} flags${catalog.acceptsPositionals ? ', takes arguments' : ''}${catalog.envPrefix ? `, env prefix ${catalog.envPrefix}` : ''}`];
  const rows = catalog.flags.map((flag) => [spelling(flag, catalog), traits(flag, catalog).join(', ')] as const);
  const width = Math.min(40, Math.max(0, ...rows.map(([left]) => left.length)));
  for (const [left, right] of rows) lines.push(`  ${left.padEnd(width)}  ${right}`.trimEnd());
  if (catalog.positionals?.length) lines.push(`arguments: ${catalog.positionals.map((p) => `${p.name}${arityNote(p.arity, p.command)}`).join(' ')}`);
  for (const group of catalog.exclusiveGroups ?? []) lines.push(`${group.required ? 'exactly one of' : 'at most one of'}: ${group.flags.map((f) => `--${f}`).join(' | ')}`);
  if (catalog.commands?.length) lines.push(`commands: ${catalog.commands.join(', ')}`);
  return `${lines.join('\n')}\n`;
}

function spelling(flag: FlagSpec, catalog: FlagCatalog): string {
  const dashes = catalog.framework === 'goflag' ? '-' : '--';
  const names = flag.spellings ?? [...(flag.short ? [`-${flag.short}`] : []), `${dashes}${flag.name}`];
  // kingpin prints the default where a placeholder would be (`--server=""`).
  const placeholder = flag.placeholder && flag.placeholder !== flag.defaultValue && !/^["']/.test(flag.placeholder) ? flag.placeholder : 'value';
  const shown = /^[<{]/.test(placeholder) ? placeholder : `<${placeholder}>`;
  const value = flag.takesValue ? ` ${flag.optionalValue ? `[${shown}]` : shown}` : '';
  return `${names.join(', ')}${value}`;
}

function traits(flag: FlagSpec, catalog: FlagCatalog): string[] {
  return [
    flag.isBoolean ? (flag.valueType === 'count' ? 'counter' : 'bool') : flag.valueType ? `value (${flag.valueType})` : 'value',
    flag.arity !== undefined ? `takes ${arityNote(flag.arity).trim().replace(/^\(|\)$/g, '')}` : '',
    flag.negatable && flag.isBoolean && catalog.framework === 'kingpin' ? '--no- form' : '',
    flag.boolAcceptsValue && flag.isBoolean ? (catalog.framework === 'clap' ? 'an =value is ignored' : '=true/=false') : '',
    flag.enumValues ? `one of ${flag.enumValues.map((v) => (v === '' ? "''" : v)).join('|')}` : '',
    flag.defaultValue !== undefined && flag.defaultValue !== '' ? `default ${flag.defaultValue}` : '',
    flag.envVar ? `$${flag.envVar}` : '',
    // Elsewhere any flag may come again (the last value wins); these parsers refuse a repeat unless allowed.
    flag.repeatable && (catalog.framework === 'kingpin' || (catalog.framework === 'clap' && (flag.takesValue || catalog.variant !== 'clap2'))) ? 'repeatable' : '',
    flag.required ? 'required' : '',
    flag.overrides ? `overrides ${flag.overrides.map((o) => `--${o}`).join(' ')}` : '',
    flag.exitsWhenGiven ? 'prints and exits' : '',
    flag.deprecated ? 'deprecated' : '',
    flag.hidden ? 'hidden' : '',
  ].filter(Boolean);
}

function arityNote(arity: Arity, command?: boolean): string {
  if (command) return ' (command, then its own args)';
  switch (arity) {
    case 1: return '';
    case '?': return ' (optional)';
    case '*': return ' (any number)';
    case '+': return ' (one or more)';
    case '...': return ' (the rest)';
    default: return ` (${arity} values)`;
  }
}
