import { execa } from 'execa';
import fc from 'fast-check';
import { promises as fs, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FlagCatalog, FlagSpec } from '../../src/flags/catalog.js';
import { parsePflagHelp } from '../../src/flags/frameworks/pflag.js';
import { resolveHelm } from '../../src/helm/binary.js';
import { resolveKubectl } from '../../src/kustomize/binary.js';
import { badValue, compareVerdicts, goodValue, sample } from '../support/differential.js';
import { fixtures } from '../support/paths.js';

/**
 * pflag/cobra: the guard's verdict against the real parsers of the bundled helm (`helm version`)
 * and kubectl (`kubectl version --client`). Both exit 0 right after parsing accepted args and
 * non-zero with "Error:"/"error:" when cobra or pflag refuse them.
 */
let work: string;
let env: Record<string, string>;
beforeAll(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-pflag-'));
  env = { PATH: process.env.PATH ?? '', HOME: '/home/guard', KUBECONFIG: '/dev/null', HELM_CACHE_HOME: path.join(work, 'c'), HELM_CONFIG_HOME: path.join(work, 'g'), HELM_DATA_HOME: path.join(work, 'd') };
});
afterAll(async () => fs.rm(work, { recursive: true, force: true }));

const helpOf = (file: string) => readFileSync(path.join(fixtures, 'help', file), 'utf8');

function argumentLists(catalog: FlagCatalog, exclude: string[]): fc.Arbitrary<string[]> {
  const flags = catalog.flags.filter((f) => !f.hidden && !exclude.includes(f.name));
  const values = flags.filter((f) => !f.isBoolean);
  const booleans = flags.filter((f) => f.isBoolean);
  const shorts = flags.filter((f) => f.short);
  const typed = values.filter((f) => badValue(f) !== undefined);
  const token = fc.oneof(
    { weight: 5, arbitrary: fc.constantFrom(...values).chain((f: FlagSpec) => fc.constantFrom([`--${f.name}=${goodValue(f)}`], [`--${f.name}`, goodValue(f)])) },
    { weight: 3, arbitrary: fc.constantFrom(...booleans).chain((f: FlagSpec) => fc.constantFrom([`--${f.name}`], [`--${f.name}=false`], [`--${f.name}=T`], [`--${f.name}=maybe`], [`--${f.name}`, 'true'])) },
    { weight: 2, arbitrary: shorts.length > 0 ? fc.constantFrom(...shorts).chain((f: FlagSpec) => (f.isBoolean ? fc.constantFrom([`-${f.short}`], [`-${f.short}=false`]) : fc.constantFrom([`-${f.short}`, goodValue(f)], [`-${f.short}${goodValue(f)}`], [`-${f.short}=${goodValue(f)}`], [`-${f.short}`]))) : fc.constant([]) },
    { weight: 2, arbitrary: typed.length > 0 ? fc.constantFrom(...typed).map((f: FlagSpec) => [`--${f.name}=${badValue(f)}`]) : fc.constant([]) },
    { weight: 3, arbitrary: fc.constantFrom(['--not-a-flag'], [`--${values[0]!.name}x`], ['---x'], ['-'], ['--'], ['stray'], ['-Z'], [`--${values[0]!.name}`], ['--=x']) },
  );
  return fc.array(token, { minLength: 1, maxLength: 5 }).map((groups) => groups.flat());
}

async function accepts(binary: string, prefix: string[], args: string[]): Promise<boolean | undefined> {
  const result = await execa(binary, [...prefix, ...args], { reject: false, timeout: 20_000, cwd: work, env, extendEnv: false });
  if (result.timedOut) throw new Error(`${binary} ${args.join(' ')} did not exit`);
  // `helm version` refuses arguments with its own cobra Args check, which no help shows: not compared.
  if (/accepts no arguments|accepts 0 arg\(s\)/.test(result.stderr)) return undefined;
  return result.exitCode === 0;
}

describe('pflag/cobra: the guard against the real parsers of helm and kubectl', () => {
  const cases = [
    { name: 'helm 4.1.4 version', file: 'helm/4.1.4/version.txt', prefix: ['version'], binary: async () => (await resolveHelm()).path,
      // helm checks --color/--colour in a pre-run hook whose outcome depends on --help and on the alias pair's order.
      exclude: ['help', 'color', 'colour'] },
    { name: 'kubectl 1.35.2 version --client', file: 'kubectl/1.35.2/version.txt', prefix: ['version', '--client'], binary: async () => (await resolveKubectl()).path, // These read or write files named by their value: what happens next is not argument parsing.
      exclude: ['profile', 'profile-output', 'kuberc', 'client'] },
  ];

  for (const c of cases) {
    it(`the fixture is what ${c.name} prints`, async () => {
      const binary = await c.binary();
      const live = c.file.startsWith('kubectl')
        ? `${(await execa(binary, ['version', '--help'], { env, extendEnv: false, stripFinalNewline: false })).stdout}\n${(await execa(binary, ['options'], { env, extendEnv: false, stripFinalNewline: false })).stdout}`
        : (await execa(binary, ['version', '--help'], { env: { ...env, HELM_CACHE_HOME: '', HELM_CONFIG_HOME: '', HELM_DATA_HOME: '' }, extendEnv: false, stripFinalNewline: false })).stdout;
      expect(live).toBe(helpOf(c.file));
    });

    it(`agrees with ${c.name} on every generated argument list`, async () => {
      const catalog = parsePflagHelp(helpOf(c.file));
      const binary = await c.binary();
      const samples = sample(argumentLists(catalog, c.exclude), 300);
      const result = await compareVerdicts(catalog, samples, (args) => accepts(binary, c.prefix, args), { prefix: c.prefix });
      console.log(`pflag differential (${c.name}): ${result.total - result.disagreements.length}/${result.total} agree (${result.accepted} accepted by the binary)`);
      expect(result.disagreements).toEqual([]);
      expect(result.accepted).toBeGreaterThan(25);
      expect(result.total - result.accepted).toBeGreaterThan(25);
    });
  }
});
