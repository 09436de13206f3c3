import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FRAMEWORKS } from '../../src/flags/catalog.js';
import { describeCatalog } from '../../src/flags/describe.js';
import { frameworkNamed, parseHelp } from '../../src/flags/frameworks/registry.js';
import { externalDnsData, fixtures } from '../support/paths.js';

/** Every real help output in the fixtures, with the framework that printed it. */
const REAL_HELP: Array<{ file: string; framework: string; program: string; flag: string }> = [
  { file: path.join(externalDnsData, 'help-v0.19.0.txt'), framework: 'kingpin', program: 'external-dns', flag: '--traefik-enable-legacy' },
  { file: path.join(externalDnsData, 'help-v0.14.0.txt'), framework: 'kingpin', program: 'external-dns', flag: '--source' },
  { file: path.join(fixtures, 'help/prometheus-alertmanager/0.25.0.txt'), framework: 'kingpin', program: 'prometheus-alertmanager', flag: '--cluster.peer' },
  { file: path.join(fixtures, 'help/helm/4.1.4/version.txt'), framework: 'pflag', program: 'helm version', flag: '--template' },
  { file: path.join(fixtures, 'help/kubectl/1.35.2/version.txt'), framework: 'pflag', program: 'kubectl version', flag: '--output' },
  { file: path.join(fixtures, 'help/etcd/3.4.23.txt'), framework: 'goflag', program: 'etcd', flag: '-listen-client-urls' },
  { file: path.join(fixtures, 'help/snowflake-client/2.5.1.txt'), framework: 'goflag', program: 'snowflake-client', flag: '-ampcache' },
  { file: path.join(fixtures, 'help/runc/1.1.5.txt'), framework: 'urfave', program: 'runc', flag: '--systemd-cgroup' },
  { file: path.join(fixtures, 'help/ripgrep/13.0.0.txt'), framework: 'clap', program: 'rg', flag: '--after-context' },
  { file: path.join(fixtures, 'help/python3-calendar/3.11.2.txt'), framework: 'argparse', program: 'calendar.py', flag: '--type' },
  { file: path.join(fixtures, 'help/python3-json-tool/3.11.2.txt'), framework: 'argparse', program: 'python -m json.tool', flag: '--indent' },
  { file: path.join(fixtures, 'help/python3-tarfile/3.11.2.txt'), framework: 'argparse', program: 'tarfile.py', flag: '--extract' },
  { file: path.join(fixtures, 'help/python3-zipfile/3.11.2.txt'), framework: 'argparse', program: 'zipfile.py', flag: '--metadata-encoding' },
];

describe('framework detection over every real help output', () => {
  it('covers all six frameworks', () => {
    expect(new Set(REAL_HELP.map((h) => h.framework))).toEqual(new Set(FRAMEWORKS));
  });

  it.each(REAL_HELP)('reads $file as $framework help', ({ file, framework, program, flag }) => {
    const text = readFileSync(file, 'utf8');
    const parsed = parseHelp(text);
    expect(parsed).toMatchObject({ ok: true, catalog: { framework } });
    if (!parsed.ok) return;
    expect([parsed.catalog.program, ...(parsed.catalog.subcommand ?? [])].join(' ')).toBe(program);
    expect(describeCatalog(parsed.catalog)).toContain(flag);
    // No other framework claims it: detection does not depend on the order of the list.
    const claimants = FRAMEWORKS.filter((name) => frameworkNamed(name)!.looksLike(text));
    expect(claimants).toEqual([framework]);
  });
});
