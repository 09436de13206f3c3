import { execa } from 'execa';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { resolveKubectl } from '../../src/kustomize/binary.js';
import { buildImage, buildIndex, hostBinaryFiles, layerFromDirectory, layerFromEntries, layerFromFiles, pushImage, type BuiltImage, type BuiltIndex, type Compression, type ImageFile } from './image-builder.js';
import { fixtures as fixturesDir } from './paths.js';
import { removeRootfs, rootfsFromHost } from './rootfs-from-host.js';

/**
 * Images for the capture-from-registry end-to-end tests, built without Docker from this machine's
 * Debian binaries (and, for external-dns, a stand-in program printing its real help), plus the
 * small charts and HelmReleases that run them.
 */

/**
 * A stand-in for the external-dns binary, which is not available here: a static C program that
 * prints the REAL `external-dns --help` text (captured from the real v0.19.0/v0.18.0 binaries,
 * fixtures/external-dns/help-*.txt) on stderr for `--help` and exits 0, as kingpin does; with any
 * other arguments it exits 0. `help: undefined` builds a program that prints nothing and exits with `exitCode`.
 */
export async function compileStandIn(work: string, name: string, help: string | undefined, exitCode = 127): Promise<string> {
  const source = path.join(work, `${name}.c`);
  const binary = path.join(work, name);
  const bytes = help === undefined ? '' : [...Buffer.from(help)].map((b) => `0x${b.toString(16)}`).join(',');
  const program = help === undefined
    ? `int main(void) { return ${exitCode}; }\n`
    : [
        '#include <string.h>',
        '#include <unistd.h>',
        `static const unsigned char help[] = {${bytes}};`,
        'int main(int argc, char **argv) {',
        '  for (int i = 1; i < argc; i++) {',
        '    if (strcmp(argv[i], "--help") == 0) {',
        '      size_t done = 0;',
        '      while (done < sizeof help) { ssize_t n = write(2, help + done, sizeof help - done); if (n <= 0) return 1; done += (size_t)n; }',
        '      return 0;',
        '    }',
        '  }',
        '  return 0;',
        '}',
        '',
      ].join('\n');
  await fs.writeFile(source, program);
  await execa('gcc', ['-static', '-O1', '-o', binary, source]);
  return binary;
}

/** An argparse program, run in its image by /usr/bin/python3 through its shebang. */
export const ARGPARSE_SCRIPT = [
  '#!/usr/bin/python3',
  'import argparse',
  'parser = argparse.ArgumentParser(prog="serve.py", description="Serves a folder.")',
  'parser.add_argument("--port", type=int, default=8080, help="port to listen on")',
  'parser.add_argument("--mode", choices=["fast", "safe"], default="safe", help="how to serve")',
  'parser.add_argument("--verbose", action="store_true", help="log every request")',
  'args = parser.parse_args()',
  '',
].join('\n');

export interface TestImages {
  /** host:port of the registry. */
  host: string;
  digests: Record<string, string>;
  /** The images as built, to push again under another name. */
  built: Record<string, BuiltImage | BuiltIndex>;
}

const DASH = '/usr/bin/dash';

/**
 * Every image the tests run, pushed once to `host` (a docker-registry on 127.0.0.1). Names:
 * external-dns/external-dns:v0.19.0 and :v0.18.0 (stand-ins), debian/{etcd,alertmanager,runc,
 * ripgrep,argparse,kubectl}:1, multi/search:1 (an index: amd64 + arm64, whiteout, zstd, symlinked
 * entrypoint), wrapped/search:1 (exec wrapper script), broken/silent:1 (prints nothing, exits 127), broken/mute:1
 * (prints nothing, exits 0).
 */
export async function pushTestImages(host: string, work: string): Promise<TestImages> {
  const [externalDns19, externalDns18, silent, mute] = await Promise.all([
    fs.readFile(path.join(fixturesDir, 'external-dns', 'help-v0.19.0.txt'), 'utf8').then((help) => compileStandIn(work, 'external-dns-v0.19.0', help)),
    fs.readFile(path.join(fixturesDir, 'external-dns', 'help-v0.18.0.txt'), 'utf8').then((help) => compileStandIn(work, 'external-dns-v0.18.0', help)),
    compileStandIn(work, 'silent', undefined, 127),
    compileStandIn(work, 'mute', undefined, 0),
  ]);
  const kubectl = (await resolveKubectl()).path;
  const rg = await hostBinaryFiles('/usr/bin/rg');
  const dash = await hostBinaryFiles(DASH);
  const { [DASH]: dashBinary, ...dashLibraries } = dash;
  const shell: Record<string, ImageFile> = { ...dashLibraries, 'bin/sh': dashBinary! };
  // Big Go binaries go in uncompressed layers (plain tar, as OCI allows): compressing tens of MB
  // would cost more than the tests' checks.
  const simple = async (files: Record<string, ImageFile>, entrypoint: string[], compression: Compression = 'gzip') =>
    buildImage({ layers: [await layerFromFiles(files, { compression })], config: { Entrypoint: entrypoint, Env: ['PATH=/usr/local/bin:/usr/bin:/bin'] } });

  const python = rootfsFromHost({ entries: [{ to: '/app/serve.py', content: ARGPARSE_SCRIPT, mode: 0o755 }], python: { script: ARGPARSE_SCRIPT } });
  let argparseImage: BuiltImage;
  try {
    argparseImage = buildImage({ layers: [await layerFromDirectory(python)], config: { Entrypoint: ['/app/serve.py'], WorkingDir: '/app' } });
  } finally {
    removeRootfs(python);
  }

  // amd64: a decoy `search` earlier on PATH, removed by a whiteout in the zstd layer that also adds
  // the real entrypoint, a symlink to rg. arm64: another program under the same name.
  const amd64 = buildImage({
    platform: 'linux/amd64',
    layers: [
      await layerFromFiles({ ...rg, 'opt/decoy/bin/search': { from: externalDns18 } }),
      await layerFromEntries([{ name: 'opt/decoy/bin/.wh.search', data: '' }, { name: 'usr/local/bin/', type: '5' }, { name: 'usr/local/bin/search', type: '2', linkname: '/usr/bin/rg' }], 'zstd'),
    ],
    config: { Entrypoint: ['search'], Env: ['PATH=/opt/decoy/bin:/usr/local/bin:/usr/bin:/bin'] },
  });
  const arm64 = buildImage({
    platform: 'linux/arm64/v8',
    layers: [await layerFromFiles({ 'usr/local/bin/search': { from: externalDns19 } })],
    config: { Entrypoint: ['search'], Env: ['PATH=/usr/local/bin:/usr/bin:/bin'] },
  });

  const images: Array<[string, Promise<BuiltImage | BuiltIndex>]> = [
    ['external-dns/external-dns:v0.19.0', simple({ 'bin/external-dns': { from: externalDns19 } }, ['/bin/external-dns'])],
    ['external-dns/external-dns:v0.18.0', simple({ 'bin/external-dns': { from: externalDns18 } }, ['/bin/external-dns'])],
    ['debian/etcd:1', hostBinaryFiles('/usr/bin/etcd').then((files) => simple(files, ['/usr/bin/etcd'], 'none'))],
    ['debian/alertmanager:1', hostBinaryFiles('/usr/bin/prometheus-alertmanager').then((files) => simple(files, ['/usr/bin/prometheus-alertmanager'], 'none'))],
    ['debian/runc:1', hostBinaryFiles('/usr/sbin/runc').then((files) => simple(files, ['/usr/sbin/runc'], 'none'))],
    ['debian/ripgrep:1', simple(rg, ['/usr/bin/rg'])],
    ['debian/argparse:1', Promise.resolve(argparseImage)],
    ['debian/kubectl:1', simple({ 'usr/local/bin/kubectl': { from: kubectl } }, ['/usr/local/bin/kubectl'], 'none')],
    ['multi/search:1', Promise.resolve(buildIndex([amd64, arm64]))],
    ['wrapped/search:1', simple({ ...rg, ...shell, 'docker-entrypoint.sh': { text: '#!/bin/sh\nset -e\nexec /usr/bin/rg "$@"\n', mode: 0o755 } }, ['/docker-entrypoint.sh'])],
    ['broken/silent:1', simple({ 'bin/silent': { from: silent } }, ['/bin/silent'])],
    ['broken/mute:1', simple({ 'bin/mute': { from: mute } }, ['/bin/mute'])],
  ];
  const digests: Record<string, string> = {};
  const built: Record<string, BuiltImage | BuiltIndex> = {};
  for (const [name, image] of images) {
    const [repository, tag] = name.split(':') as [string, string];
    built[name] = await image;
    digests[name] = await pushImage(host, repository, tag, built[name]);
  }
  return { host, digests, built };
}

/** A chart whose one Deployment runs the containers listed in its values (name, image, command, args). */
export const APP_CHART: Record<string, string> = {
  'charts/app/Chart.yaml': 'apiVersion: v2\nname: app\nversion: 1.0.0\nappVersion: "1"\n',
  'charts/app/values.yaml': 'containers: []\n',
  'charts/app/templates/deployment.yaml': [
    'apiVersion: apps/v1',
    'kind: Deployment',
    'metadata:',
    '  name: {{ .Release.Name }}',
    'spec:',
    '  selector:',
    '    matchLabels:',
    '      app: {{ .Release.Name }}',
    '  template:',
    '    metadata:',
    '      labels:',
    '        app: {{ .Release.Name }}',
    '    spec:',
    '      containers:',
    '        {{- range .Values.containers }}',
    '        - name: {{ .name }}',
    '          image: {{ .image | quote }}',
    '          {{- with .command }}',
    '          command: {{ toJson . }}',
    '          {{- end }}',
    '          {{- with .args }}',
    '          args: {{ toJson . }}',
    '          {{- end }}',
    '        {{- end }}',
    '',
  ].join('\n'),
};

export interface AppContainer {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
}

/** A HelmRelease of charts/app (from this repository) running these containers. */
export function appRelease(name: string, containers: AppContainer[]): string {
  return stringify({
    apiVersion: 'helm.toolkit.fluxcd.io/v2',
    kind: 'HelmRelease',
    metadata: { name, namespace: 'apps' },
    spec: {
      interval: '30m',
      chart: { spec: { chart: './charts/app', version: '1.0.0', sourceRef: { kind: 'GitRepository', name: 'flux-system', namespace: 'flux-system' } } },
      values: { containers },
    },
  });
}

/** The line (1-based) of the first line of `text` holding `needle`. */
export function lineOf(text: string, needle: string): number {
  const index = text.split('\n').findIndex((line) => line.includes(needle));
  if (index < 0) throw new Error(`${needle} not in text`);
  return index + 1;
}
