import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promises as fs } from 'node:fs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { runCheck } from '../../src/engine.js';
import { kingpin } from '../../src/flags/frameworks/kingpin.js';
import { pflag } from '../../src/flags/frameworks/pflag.js';
import { goflag } from '../../src/flags/frameworks/goflag.js';
import { urfave } from '../../src/flags/frameworks/urfave.js';
import { clap } from '../../src/flags/frameworks/clap.js';
import { argparse } from '../../src/flags/frameworks/argparse.js';
import { MAX_HELP_BYTES, parseHelp, validateArgs } from '../../src/flags/frameworks/registry.js';
import { isGoDuration, isGoInt, isGoFloat } from '../../src/flags/value-types.js';
import { splitPlainCommand } from '../../src/flags/shell-script.js';
import { extractContainers } from '../../src/model/workloads.js';
import { parseYamlFile } from '../../src/yaml/source.js';
import type { TestRepo } from '../support/git-repo.js';
import { externalDnsData } from '../support/paths.js';
import { assertValidReport } from '../support/report-schema.js';
import { BASE_VALUES, exampleRepo, externalDnsRelease } from '../support/scenario.js';

/**
 * Class 9 of issue 12 (the parser part): a hostile help file or rendered output must not stall the
 * guard. Help over MAX_HELP_BYTES is refused with its reason; below it every parser is linear. Each
 * case asserts its result; vitest's timeout is what catches a parser that does not finish.
 */
const FRAMEWORKS = [kingpin, pflag, goflag, urfave, clap, argparse];
const BOUNDED = MAX_HELP_BYTES - 1024;
const TIMEOUT = 60_000;

/** `head`, then `unit` repeated up to just under the size the guard reads. */
function fill(head: string, unit: string, size = BOUNDED): string {
  return head + unit.repeat(Math.max(1, Math.floor((size - head.length) / unit.length)));
}

const LONG = 8000;
/** Inputs that make naive line parsers and regexes quadratic or exponential. */
const PATHOLOGICAL: Record<string, string> = {
  'many short kingpin flags': fill('usage: x [<flags>]\n\nFlags:\n', '  --a=b   c\n'),
  'many empty lines': fill('usage: x\n', '\n'),
  'long runs of spaces': fill('usage: x\nFlags:\n', `  --a${' '.repeat(LONG)}x\n`),
  'unclosed brackets in a usage line': fill('Flags:\n', `usage: x ${'['.repeat(LONG)}\n`),
  'escaped quotes in a default': fill('Flags:\n', `  --a="${'\\"'.repeat(LONG / 2)}\n`),
  'one flag with endless help lines': fill('usage: x\n\nFlags:\n  --a=b  c\n', '                                 more help\n'),
  'argparse option with endless help lines': fill('usage: p [-h]\n\noptions:\n  -h, --help  show\n', '                        more help\n'),
  'an option list without its closing paren': fill('Flags:\n', `  --a=b  (options: ${'x, '.repeat(LONG / 3)}\n`),
  'a usage line of thousands of groups': fill('usage: prog [-h] ', '[--x X | --y] '),
  'clap options': fill('prog 1.0\n\nUSAGE:\n    prog [OPTIONS]\n\nOPTIONS:\n', '    -a, --aa <X>    help\n'),
  'cobra flags': fill('Usage:\n  prog [flags]\n\nFlags:\n', '      --aa string   help (default "x")\n'),
  'kubectl-style flags': fill('Options:\n', "    --aa='':\n\tHelp\n"),
  'urfave flags': fill('NAME:\n   prog\n\nGLOBAL OPTIONS:\n', '   --aa value  help (default: x)\n'),
  'go flag usage': fill('Usage of prog:\n', '  -aa string\n    \thelp (default "x")\n'),
  'nested braces and angles': fill('usage: prog ', `${'{<'.repeat(LONG / 2)}\n`),
  'dashes': fill('Flags:\n', `  -${'-'.repeat(LONG)}\n`),
  'open parens in help': fill('Flags:\n  --a=b  ', `(default: ${'('.repeat(LONG / 10)}\n`),
};

describe('help parsers on hostile input (issue 12 class 9)', () => {
  it('refuses a 1 MB help file with a clear reason instead of parsing it', () => {
    const help = readFileSync(path.join(externalDnsData, 'help-v0.19.0.txt'), 'utf8').repeat(21);
    const parsed = parseHelp(help);
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.reason).toMatch(/help output is \d+ KB, more than the 256 KB the guard reads/);
  }, TIMEOUT);

  it('refuses a 100k-line help file and a help file with a 1 MB line', () => {
    const lines = parseHelp(`usage: x [<flags>]\n\nFlags:\n${'  --a=b   c\n'.repeat(100_000)}`);
    expect(!lines.ok && lines.reason).toMatch(/KB, more than/);
    const longLine = parseHelp(`usage: x ${'a'.repeat(200_000)}\n`);
    expect(!longLine.ok && longLine.reason).toMatch(/line 1 of the help output is 200009 characters long/);
  }, TIMEOUT);

  it.each(Object.keys(PATHOLOGICAL))('every framework reads "%s" (just under the bound) to the end', (name) => {
    const text = PATHOLOGICAL[name]!;
    expect(text.length).toBeLessThanOrEqual(MAX_HELP_BYTES);
    for (const framework of FRAMEWORKS) {
      framework.looksLike(text);
      const catalog = framework.parse(text);
      expect(Array.isArray(catalog.flags)).toBe(true);
    }
    const outcome = parseHelp(text);
    expect(typeof outcome.ok).toBe('boolean');
  }, TIMEOUT);

  it('still reads the real external-dns help, which is well under the bound', () => {
    const parsed = parseHelp(readFileSync(path.join(externalDnsData, 'help-v0.22.0.txt'), 'utf8'));
    expect(parsed.ok && parsed.catalog.flags.length).toBeGreaterThan(100);
  });
});

describe('argument checks on hostile input', () => {
  const help = parseHelp(readFileSync(path.join(externalDnsData, 'help-v0.19.0.txt'), 'utf8'));
  const catalog = help.ok ? help.catalog : undefined;

  it('validates 20k unknown flags and a 100 KB flag name (did-you-mean stays cheap)', () => {
    const many = Array.from({ length: 20_000 }, (_, i) => `--unknown-${i}=x`);
    expect(validateArgs(catalog!, ['--source=service', '--provider=aws', ...many])).toHaveLength(20_000);
    const huge = validateArgs(catalog!, ['--source=service', '--provider=aws', `--${'a'.repeat(100_000)}`]);
    expect(huge).toHaveLength(1);
    expect(huge[0]!.suggestion).toBeUndefined();
  }, TIMEOUT);

  it('reads Go values of any length without backtracking', () => {
    expect(isGoDuration(`${'1'.repeat(100_000)}`)).toBe(false);
    expect(isGoDuration(`${'1.'.repeat(50_000)}s`)).toBe(false);
    expect(isGoDuration(`0.${'0'.repeat(100_000)}1s`)).toBe(true);
    expect(isGoDuration(`${'1h'.repeat(50_000)}`)).toBe(true); // 50000 hours fit in int64 nanoseconds
    expect(isGoDuration(`${'3000000h'.repeat(10_000)}`)).toBe(false); // past int64 nanoseconds, as Go says
    expect(isGoInt(`0x${'_1'.repeat(50_000)}`)).toBe(false);
    expect(isGoFloat(`${'1'.repeat(100_000)}e`)).toBe(false);
  }, TIMEOUT);

  it('gives up on a shell script past its bound and on deeply quoted input', () => {
    expect(splitPlainCommand(`exec x ${'a '.repeat(20_000)}`)).toMatchObject({ reason: expect.stringMatching(/longer than/) });
    expect(splitPlainCommand(`exec x ${'"'.repeat(15_001)}`)).toHaveProperty('reason');
    expect(splitPlainCommand(`exec x ${'"'.repeat(15_000)}`)).toEqual({ program: 'x', args: [''] });
    expect(splitPlainCommand(`exec x ${"'".repeat(5_001)}`)).toHaveProperty('reason');
  }, TIMEOUT);
});

describe('rendered output on hostile input', () => {
  it('reads a List of 20k objects, a List nested 1000 deep and a map with 50k duplicate keys', () => {
    const item = '  - {apiVersion: v1, kind: ConfigMap, metadata: {name: c}}\n';
    expect(extractContainers(`apiVersion: v1\nkind: List\nitems:\n${item.repeat(20_000)}`, 'ns').manifestCount).toBe(20_000);
    const nestedList = (depth: number) => {
      let nested = '{apiVersion: v1, kind: ConfigMap, metadata: {name: c}}';
      for (let i = 0; i < depth; i++) nested = `{kind: List, items: [${nested}]}`;
      return nested;
    };
    expect(extractContainers(nestedList(4), 'ns').manifestCount).toBe(1);
    expect(extractContainers(nestedList(20), 'ns').inspection.unreadable[0]?.message).toMatch(/nested more than 8 levels/);
    // deeper than the YAML reader's own stack: reported as unreadable, never a crash
    expect(extractContainers(nestedList(5000), 'ns').inspection.unreadable).toHaveLength(1);
    const duplicates = extractContainers(`kind: ConfigMap\nmetadata: {name: c}\ndata:\n${'  k: v\n'.repeat(50_000)}`, 'ns');
    expect(duplicates.inspection.duplicateKeys.length).toBeGreaterThan(0);
    expect(duplicates.inspection.duplicateKeys.length).toBeLessThanOrEqual(20);
  }, TIMEOUT);

  it('walks an object with 100k nested containers-like entries without stalling', () => {
    const entries = Array.from({ length: 20_000 }, (_, i) => `    - {name: c${i}, image: busybox, args: [x]}`).join('\n');
    const result = extractContainers(`apiVersion: example.com/v1\nkind: Thing\nmetadata: {name: t}\nspec:\n  steps:\n${entries}\n`, 'ns');
    expect(result.inspection.notInspected[0]).toMatchObject({ kind: 'Thing', name: 't' });
  }, TIMEOUT);

  it('follows merge keys chained 10 deep to the anchor line, and refuses a 1000-deep chain as an alias attack', () => {
    const chain = (depth: number) => {
      const lines = ['a0: &a0 {x: 1}'];
      for (let i = 1; i < depth; i++) lines.push(`a${i}: &a${i}\n  <<: *a${i - 1}\n  y${i}: 2`);
      return `${lines.join('\n')}\n`;
    };
    const short = parseYamlFile(chain(10), 'chain.yaml');
    expect(short.documents[0]?.positions.get('/a9/x')?.line).toBe(1);
    expect(short.documents[0]?.positions.get('/a9/y1')?.line).toBe(4);
    const long = parseYamlFile(chain(1000), 'chain.yaml');
    expect(long.documents).toHaveLength(0);
    expect(long.problems[0]?.message).toMatch(/alias/i);
  }, TIMEOUT);
});

describe('a huge help file in the base repository', () => {
  const cacheDir = path.join(os.tmpdir(), `guard-test-cache-bounds-${process.pid}`);
  let repo: TestRepo | undefined;
  afterEach(async () => {
    await repo?.remove();
    repo = undefined;
  });
  afterAll(async () => {
    await fs.rm(cacheDir, { recursive: true, force: true });
  });

  it('makes the image unverified with the reason, at once, instead of stalling the check', async () => {
    const help = readFileSync(path.join(externalDnsData, 'help-v0.19.0.txt'), 'utf8').repeat(21);
    const HR = 'infrastructure/external-dns/helmrelease.yaml';
    repo = await exampleRepo({ '.guard/help/registry.k8s.io/external-dns/external-dns/v0.19.0.txt': help });
    await repo.commit('change', { [HR]: externalDnsRelease({ ...BASE_VALUES, txtOwnerId: 'prod' }) });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
    assertValidReport(report);
    const unverified = report.findings.find((f) => f.rule === 'container-flags/unverified');
    expect(unverified?.message).toMatch(/more than the 256 KB the guard reads/);
  }, TIMEOUT);
});
