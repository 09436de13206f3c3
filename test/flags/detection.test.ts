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
  // Beyond the project's own test set: one more layout per framework, each checked against its binary (differential-<binary>.test.ts).
  { file: path.join(fixtures, 'help/prometheus-node-exporter/1.5.0.txt'), framework: 'kingpin', program: 'prometheus-node-exporter', flag: '--collector.textfile.directory' },
  { file: path.join(fixtures, 'help/prometheus-pushgateway/1.5.1.txt'), framework: 'kingpin', program: 'prometheus-pushgateway', flag: '--persistence.file' },
  { file: path.join(fixtures, 'help/prometheus-blackbox-exporter/0.23.0.txt'), framework: 'kingpin', program: 'prometheus-blackbox-exporter', flag: '--timeout-offset' },
  { file: path.join(fixtures, 'help/prometheus/2.42.0.txt'), framework: 'kingpin', program: 'prometheus', flag: '--storage.tsdb.retention.time' },
  { file: path.join(fixtures, 'help/restic/0.14.0/version.txt'), framework: 'pflag', program: 'restic version', flag: '--verbose' },
  { file: path.join(fixtures, 'help/etcdctl/3.4.23/version.txt'), framework: 'pflag', program: 'etcdctl version', flag: '--endpoints' },
  { file: path.join(fixtures, 'help/skopeo/1.9.3/list-tags.txt'), framework: 'pflag', program: 'skopeo list-tags', flag: '--creds' },
  { file: path.join(fixtures, 'help/gh/2.23.0/completion.txt'), framework: 'pflag', program: 'gh completion', flag: '--shell' },
  { file: path.join(fixtures, 'help/rclone/1.60.1/version.txt'), framework: 'pflag', program: 'rclone version', flag: '--s3-chunk-size' },
  { file: path.join(fixtures, 'help/obfs4proxy/0.0.14.txt'), framework: 'goflag', program: 'obfs4proxy', flag: '-logLevel' },
  { file: path.join(fixtures, 'help/snowflake-proxy/2.5.1.txt'), framework: 'goflag', program: 'snowflake-proxy', flag: '-capacity' },
  { file: path.join(fixtures, 'help/webhook/2.8.0.txt'), framework: 'goflag', program: 'webhook', flag: '-hooks' },
  { file: path.join(fixtures, 'help/mtail/3.0.0-rc50.txt'), framework: 'goflag', program: 'mtail', flag: '-progs' },
  { file: path.join(fixtures, 'help/ctr/1.6.20.txt'), framework: 'urfave', program: 'ctr', flag: '--namespace' },
  { file: path.join(fixtures, 'help/lego/4.9.1.txt'), framework: 'urfave', program: 'lego', flag: '--dns.resolvers' },
  { file: path.join(fixtures, 'help/umoci/0.4.7.txt'), framework: 'urfave', program: 'umoci', flag: '--log' },
  { file: path.join(fixtures, 'help/ripgrep/13.0.0.txt'), framework: 'clap', program: 'rg', flag: '--after-context' },
  { file: path.join(fixtures, 'help/python3-calendar/3.11.2.txt'), framework: 'argparse', program: 'calendar.py', flag: '--type' },
  { file: path.join(fixtures, 'help/python3-json-tool/3.11.2.txt'), framework: 'argparse', program: 'python -m json.tool', flag: '--indent' },
  { file: path.join(fixtures, 'help/python3-tarfile/3.11.2.txt'), framework: 'argparse', program: 'tarfile.py', flag: '--extract' },
  { file: path.join(fixtures, 'help/python3-zipfile/3.11.2.txt'), framework: 'argparse', program: 'zipfile.py', flag: '--metadata-encoding' },
];

/**
 * Layouts another framework's detection also claims, read right only because the list tries the
 * right one first: etcdctl's cobra template has clap 2's `USAGE:` / `OPTIONS:` headings (its flag
 * lines, pflag's with tabs, are not clap's).
 */
const KNOWN_OVERLAPS: Record<string, string[]> = { 'help/etcdctl/3.4.23/version.txt': ['clap'] };

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
    expect(claimants.filter((name) => !KNOWN_OVERLAPS[file.replace(fixtures, '')]?.includes(name))).toEqual([framework]);
  });
});
