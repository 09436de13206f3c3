import path from 'node:path';

const SHELLS = new Set(['sh', 'bash', 'ash', 'dash', 'ksh', 'mksh', 'zsh']);
/** Longest script the splitter reads; longer ones are "complex". */
const MAX_SCRIPT = 16_384;

export type ShellInvocation =
  /** The script is one plain command line: `exec BIN args` or `BIN args`. */
  | { kind: 'simple'; script: string; program: string; args: string[] }
  /** A shell runs something the guard does not read word by word. */
  | { kind: 'complex'; script: string; reason: string };

/**
 * `sh -c SCRIPT` (or bash, `/bin/sh -ec`, `busybox sh -c`) as a container runs it: command and
 * args joined as the kubelet does. undefined when the container does not start a shell.
 */
export function shellInvocation(command: string[] | undefined, args: string[] | undefined): ShellInvocation | undefined {
  if (!command || command.length === 0) return undefined;
  const argv = [...command, ...(args ?? [])];
  let position = 0;
  let program = path.posix.basename(argv[0] ?? '');
  if (program === 'busybox' && argv[1] !== undefined && SHELLS.has(argv[1])) {
    position = 1;
    program = argv[1];
  }
  if (!SHELLS.has(program)) return undefined;
  for (let i = position + 1; i < argv.length; i++) {
    const option = argv[i]!;
    if (!/^[-+][A-Za-z]+$/.test(option)) {
      return { kind: 'complex', script: argv.slice(i).join(' '), reason: option.startsWith('-') ? `shell option ${option}` : `${program} runs the script file ${option}` };
    }
    if (!option.startsWith('-') || !option.includes('c')) {
      if (option.includes('o')) return { kind: 'complex', script: argv.slice(i).join(' '), reason: `shell option ${option}` };
      continue;
    }
    const script = argv[i + 1];
    if (script === undefined) return { kind: 'complex', script: '', reason: `${program} -c without a script` };
    const split = splitPlainCommand(script);
    if ('reason' in split) return { kind: 'complex', script, reason: split.reason };
    return { kind: 'simple', script, program: split.program, args: split.args };
  }
  return { kind: 'complex', script: argv.slice(position + 1).join(' '), reason: `${program} reads its commands from standard input` };
}

/**
 * The command a plain script ends with, split as a POSIX shell would: words with quotes and
 * backslashes (a backslash-newline joins lines), commands separated by newlines, `;` or `&&`,
 * `#` comments, an optional leading `exec`. Commands before the last may only be ones that cannot
 * change what the last one receives (`set -e`, `cd`, `echo`, `sleep`, any program, but no
 * `export`, `source`, `eval`, assignment or `exit`). Anything a shell would expand, redirect, pipe
 * or branch on (`$`, backticks, globs, `|`, `||`, `>`, `if`) is refused: the guard then says the
 * script is not verified instead of guessing what it runs.
 */
export function splitPlainCommand(script: string): { program: string; args: string[] } | { reason: string } {
  if (script.length > MAX_SCRIPT) return { reason: `the script is longer than ${MAX_SCRIPT} characters` };
  const commands = splitCommands(script);
  if ('reason' in commands) return commands;
  if (commands.length === 0) return { reason: 'no command' };
  for (const earlier of commands.slice(0, -1)) {
    const why = changesTheShell(earlier);
    if (why) return { reason: why };
  }
  const words = [...commands[commands.length - 1]!];
  if (words[0] === 'exec') words.shift();
  const program = words[0];
  if (program === undefined || program === '') return { reason: 'no command' };
  if (program.startsWith('-')) return { reason: `exec option ${program}` };
  if (ASSIGNMENT.test(program)) return { reason: 'a variable assignment' };
  if (SHELL_WORDS.has(program)) return { reason: `the shell builtin ${program}` };
  return { program, args: words.slice(1) };
}

const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*=/;

/** Why an earlier command could change the words or environment the last one gets (or stop it from running). */
function changesTheShell(words: string[]): string | undefined {
  const program = words[0] ?? '';
  if (ASSIGNMENT.test(program)) return 'a variable assignment';
  if (ENV_CHANGING.has(program)) return `the shell builtin ${program} before the last command`;
  // `set -o pipefail` is refused by dash and fine in bash: which shell runs is not known here.
  if (program === 'set' && words.slice(1).some((w) => !/^[-+][A-Za-z]+$/.test(w) || w.includes('o'))) return '`set` with arguments';
  if (program === 'set' && words.includes('-a')) return '`set -a` (exports later assignments)';
  return undefined;
}

/** Commands separated by newlines, `;` and `&&`, each a list of words; or why the script is not plain. */
function splitCommands(script: string): string[][] | { reason: string } {
  const commands: string[][] = [];
  let words: string[] = [];
  let word = '';
  let inWord = false;
  const endWord = () => {
    if (inWord) words.push(word);
    word = '';
    inWord = false;
  };
  const endCommand = () => {
    endWord();
    if (words.length > 0) commands.push(words);
    words = [];
  };
  const text = script;
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!;
    if (char === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) return { reason: 'an unterminated quote' };
      word += text.slice(i + 1, end);
      inWord = true;
      i = end;
    } else if (char === '"') {
      let j = i + 1;
      for (; j < text.length && text[j] !== '"'; j++) {
        const inner = text[j]!;
        if (inner === '$' || inner === '`') return { reason: `expansion (${inner}) inside double quotes` };
        if (inner === '\\' && j + 1 < text.length && '$`"\\\n'.includes(text[j + 1]!)) {
          j++;
          if (text[j] !== '\n') word += text[j];
        } else {
          word += inner;
        }
      }
      if (j >= text.length) return { reason: 'an unterminated quote' };
      inWord = true;
      i = j;
    } else if (char === '\\') {
      if (i + 1 >= text.length) return { reason: 'a trailing backslash' };
      i++;
      if (text[i] !== '\n') {
        word += text[i];
        inWord = true;
      }
    } else if (char === ' ' || char === '\t') {
      endWord();
    } else if (char === '\n' || char === ';') {
      if (char === ';' && words.length === 0 && !inWord) return { reason: 'shell syntax ";"' };
      endCommand();
    } else if (char === '&' && text[i + 1] === '&') {
      if (words.length === 0 && !inWord) return { reason: 'shell syntax "&&"' };
      endCommand();
      i++;
    } else if ('$`&|<>()*?[]{}'.includes(char)) {
      return { reason: `shell syntax "${char}"` };
    } else if (!inWord && char === '#') {
      const end = text.indexOf('\n', i);
      i = end < 0 ? text.length : end - 1;
    } else if (!inWord && char === '~') {
      return { reason: 'a ~ expansion' };
    } else {
      word += char;
      inWord = true;
    }
  }
  endCommand();
  return commands;
}

/** Builtins that change the environment, the arguments or whether the next command runs. */
const ENV_CHANGING = new Set(['export', 'source', '.', 'eval', 'unset', 'read', 'alias', 'typeset', 'declare', 'local', 'readonly', 'shift', 'getopts', 'exit', 'exec', 'return', 'trap', 'if', 'then', 'else', 'elif', 'fi', 'for', 'while', 'until', 'do', 'done', 'case', 'esac', 'function', '!']);
const SHELL_WORDS = new Set([...ENV_CHANGING, 'set', 'cd', 'test', 'echo', 'printf', 'sleep', 'true', 'false', ':']);
