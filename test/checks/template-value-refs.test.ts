import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { create as createArchive } from 'tar';
import { afterEach, describe, expect, it } from 'vitest';
import { referencesInValueStrings, templateValueRefs, valueReferences, type KnownNode } from '../../src/checks/template-value-refs.js';
import { checkValuesSchema, type ChartValuesModel } from '../../src/checks/values-schema.js';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => fs.rm(d, { recursive: true, force: true })));
});

async function chart(files: Record<string, string>): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-refs-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) {
    await fs.mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await fs.writeFile(path.join(dir, name), text);
  }
  return dir;
}

/** Whether `path` is known in the tree, and whether as a whole. */
function lookup(root: KnownNode, keys: string[]): 'whole' | 'known' | 'unknown' {
  let node: KnownNode | undefined = root;
  for (const key of keys) {
    if (node.whole) return 'whole';
    node = node.children?.get(key);
    if (!node) return 'unknown';
  }
  return node.whole ? 'whole' : 'known';
}

const refs = (text: string) => valueReferences(text).map((r) => `${r.path.join('.')}${r.whole ? '*' : ''}`);

describe('value paths a template reads', () => {
  it('reads dotted paths from every context form, whole unless only tested, inspected or printed bare', () => {
    expect(refs('{{ .Values.a.b | toYaml }} {{ toYaml $.Values.c }} {{ include "x" $root.Values.d.e }} {{ $x := .context.Values.f }}')).toEqual(['a.b*', 'c*', 'd.e*', 'f*']);
    expect(refs('{{- if .Values.podMonitor.enabled }}{{- if ( .Values.x.on ) -}}{{ else if and .Values.y (not $.Values.z.w) }}')).toEqual(['podMonitor.enabled', 'x.on', 'y', 'z.w']);
    expect(refs('{{ if eq .Values.mode "a" }}{{ range $k, $v := .Values.r }}{{ toYaml .Values.t | nindent 2 }}')).toEqual(['mode*', 'r*', 't*']);
    expect(refs('{{ .Values.image.tag }} {{- if eq (typeOf .Values.provider) "string" }}{{ kindIs "map" .Values.p }}')).toEqual(['image.tag', 'provider', 'p']);
  });

  it('follows dot into with blocks and else branches', () => {
    expect(refs('{{ with .Values.m }}{{ .a.b }}{{ toYaml .c }}{{ else }}{{ .Values.n | toYaml }}{{ end }}')).toEqual(['m', 'm.a.b', 'm.c*', 'n*']);
    expect(refs('{{ with $.Values.m }}{{ with .k }}{{ toYaml . }}{{ end }}{{ end }}')).toEqual(['m', 'm.k', 'm.k*']);
    expect(refs('{{ with .Values.m }}x: {{ printf "%s.%s}}" .a "." }}{{ end }}')).toEqual(['m', 'm.a*']);
    // Blocks that do not nest as parsed: every with-bound path is read whole.
    expect(refs('{{ with .Values.m }}{{ .a }}')).toEqual(['m', 'm.a', 'm*']);
  });

  it('follows index/get with literal keys and stops at the first computed one', () => {
    expect(refs('{{ index .Values "a" "b-c" }} {{ index .Values.x `y` $k "z" }} {{ get .Values.g "h" "i" }} {{ index .Values $name }}')).toEqual(['a.b-c*', 'x.y*', 'g.h*', '*']);
  });

  it('sees the whole values read (so no key is unknown) and scopes .Subcharts', () => {
    expect(refs('{{ toYaml .Values }} {{ .Subcharts.redis.Values.auth | toYaml }} {{ .ValuesFrom }}')).toEqual(['*', 'redis.auth*']);
  });

  it('is linear on hostile text (unclosed actions, long chains)', () => {
    const hostile = '{{ .Values.a'.repeat(200_000) + '.b'.repeat(200_000) + '{{ index .Values'.repeat(100_000);
    const started = performance.now();
    const found = valueReferences(hostile);
    expect(performance.now() - started).toBeLessThan(2000);
    expect(found.length).toBe(300_000);
  });

  it('reads templates of the chart, its unpacked and packaged subcharts (by alias), and library templates in the parent scope', async () => {
    const sub = await chart({
      'postgresql/Chart.yaml': 'apiVersion: v2\nname: postgresql\nversion: 1.0.0\n',
      'postgresql/values.yaml': 'auth:\n  username: app\n',
      'postgresql/templates/sts.yaml': '{{ .Values.primary.resources | toYaml }} {{ .Values.global.storageClass | quote }}\n',
    });
    const dir = await chart({
      'Chart.yaml': 'apiVersion: v2\nname: app\nversion: 1.0.0\ndependencies:\n  - name: postgresql\n    alias: db\n    version: 1.0.0\n  - name: common\n    version: 1.0.0\n',
      'values.yaml': 'reloader:\n  podMonitor:\n    enabled: false\n',
      'templates/_helpers.tpl': '{{- define "x" -}}{{ .Values.reloader.podMonitor.namespace | quote }}{{- end -}}\n',
      'templates/cm.yaml': '{{- if .Values.reloader.podMonitor.enabled }}\n{{ index .Values "extra" "with-dash" }}\n{{- end }}\n',
      'charts/common/Chart.yaml': 'apiVersion: v2\nname: common\ntype: library\nversion: 1.0.0\n',
      'charts/common/templates/_lib.tpl': '{{- define "lib" -}}{{ range $n, $c := $.Values.controllers }}{{ end }}{{- end -}}\n',
    });
    await fs.mkdir(path.join(dir, 'charts'), { recursive: true });
    await createArchive({ gzip: true, file: path.join(dir, 'charts', 'postgresql-1.0.0.tgz'), cwd: sub }, ['postgresql']);
    const found = await templateValueRefs(dir);
    expect(found.capped).toBe(false);
    expect(lookup(found.root, ['reloader', 'podMonitor', 'namespace'])).toBe('whole');
    expect(lookup(found.root, ['reloader', 'podMonitor', 'enabled'])).toBe('known');
    expect(lookup(found.root, ['reloader', 'podMonitor', 'nameSpace'])).toBe('unknown');
    expect(lookup(found.root, ['extra', 'with-dash'])).toBe('whole');
    expect(lookup(found.root, ['db', 'primary', 'resources'])).toBe('whole');
    expect(lookup(found.root, ['db', 'auth', 'username'])).toBe('known');
    expect(lookup(found.root, ['postgresql'])).toBe('unknown');
    expect(lookup(found.root, ['global', 'storageClass'])).toBe('whole');
    expect(lookup(found.root, ['common', 'controllers', 'main'])).toBe('whole');
    expect(lookup(found.root, ['controllers', 'main'])).toBe('whole');
  });

  it('follows a with-bound values path into the named templates it is passed to (like external-dns provider.webhook)', async () => {
    const dir = await chart({
      'Chart.yaml': 'apiVersion: v2\nname: external-dns\nversion: 1.0.0\n',
      'templates/_helpers.tpl': '{{- define "wh.image" -}}{{ .image.repository }}:{{ .image.tag | default "x" }}{{ include "wh.more" . }}{{- end -}}\n{{- define "wh.more" -}}{{ .imageFlags | toYaml }}{{ with .image }}{{ $.dollar.tag }}{{ toYaml $.dollarWhole }}{{ end }}{{- end -}}\n{{- define "loop" -}}{{ include "loop" . }}{{- end -}}\n',
      'templates/deploy.yaml':
        '{{- with .Values.provider.webhook }}\n- image: {{ include "wh.image" . }}\n  {{- with .args }}\n  args: {{- toYaml . | nindent 4 }}\n  {{- end }}\n  env: {{ toYaml .env }}\n{{- end }}\n' +
        '{{- with .Values.other }}{{ include "missing" . }}{{ end }}{{- with .Values.looped }}{{ include "loop" . }}{{ end }}\n',
    });
    const found = await templateValueRefs(dir);
    expect(lookup(found.root, ['provider', 'webhook', 'args', 'x'])).toBe('whole');
    expect(lookup(found.root, ['provider', 'webhook', 'env'])).toBe('whole');
    expect(lookup(found.root, ['provider', 'webhook', 'image', 'repository'])).toBe('known');
    expect(lookup(found.root, ['provider', 'webhook', 'imageFlags'])).toBe('whole');
    expect(lookup(found.root, ['provider', 'webhook', 'extraArgs'])).toBe('unknown');
    expect(lookup(found.root, ['provider', 'webhook', 'dollar', 'tag'])).toBe('known');
    expect(lookup(found.root, ['provider', 'webhook', 'dollarWhole', 'k'])).toBe('whole');
    expect(lookup(found.root, ['other', 'anything'])).toBe('whole');
    expect(lookup(found.root, ['looped', 'anything'])).toBe('whole');
  });

  it('reads files outside templates/ only when a template tpl-renders .Files, and is capped past its byte budget', async () => {
    const dir = await chart({
      'Chart.yaml': 'apiVersion: v2\nname: app\nversion: 1.0.0\n',
      'templates/cm.yaml': 'data: {{ tpl (.Files.Get "conf/app.yaml") . }}\n',
      'conf/app.yaml': 'port: {{ .Values.server.port | int }}\n',
    });
    const found = await templateValueRefs(dir);
    expect(found.usesTpl).toBe(true);
    expect(lookup(found.root, ['server', 'port'])).toBe('whole');
    const big = await chart({
      'Chart.yaml': 'apiVersion: v2\nname: big\nversion: 1.0.0\n',
      'templates/huge.yaml': `# ${'x'.repeat(17 * 1024 * 1024)}\n{{ .Values.a }}\n`,
    });
    expect((await templateValueRefs(big)).capped).toBe(true);
  });

  it('does not follow a link out of the chart', async () => {
    const outside = await chart({ 'secret.tpl': '{{ .Values.leaked | quote }}' });
    const dir = await chart({ 'Chart.yaml': 'apiVersion: v2\nname: app\nversion: 1.0.0\n', 'templates/cm.yaml': '{{ .Values.a | quote }}' });
    await fs.symlink(path.join(outside, 'secret.tpl'), path.join(dir, 'templates', 'link.tpl'));
    await fs.symlink(outside, path.join(dir, 'templates', 'dir'));
    const found = await templateValueRefs(dir);
    expect(lookup(found.root, ['leaked'])).toBe('unknown');
    expect(lookup(found.root, ['a'])).toBe('whole');
  });

  it('reads .Values paths inside value strings (for charts that tpl them)', () => {
    const known = referencesInValueStrings({ annotations: { a: '{{ .Values.myDomain }}' }, list: ['{{ index .Values "x" "y" }}'] });
    expect(lookup(known, ['myDomain'])).toBe('known');
    expect(lookup(known, ['x', 'y'])).toBe('whole');
  });
});

describe('values-schema/unknown-key with what the templates read', () => {
  const subject = { kind: 'HelmRelease' as const, namespace: 'ns', name: 'r' };
  const fallback = { path: 'hr.yaml', line: 1 };
  const warn = (chartModel: ChartValuesModel, values: Record<string, unknown>) =>
    checkValuesSchema({ values: { values, positions: new Map() }, chart: chartModel, subject, fallback }).warnings.filter((w) => w.rule === 'values-schema/unknown-key').map((w) => `${w.identity} ${w.suggestion ?? ''}`.trim());

  it('knows a key only the templates read, still warns about a typo, and suggests template-read keys', async () => {
    const dir = await chart({
      'Chart.yaml': 'apiVersion: v2\nname: reloader\nversion: 1.0.0\n',
      'templates/pm.yaml': '{{- if .Values.reloader.podMonitor.enabled }}\nnamespace: {{ .Values.reloader.podMonitor.namespace }}\nlabels: {{ toYaml .Values.reloader.podMonitor.labels }}\n{{- end }}\n',
    });
    const model: ChartValuesModel = { chartName: 'reloader', defaults: { reloader: { podMonitor: { enabled: false } }, extraArgs: [] }, templateRefs: await templateValueRefs(dir) };
    expect(warn(model, { reloader: { podMonitor: { enabled: true, namespace: 'monitoring', labels: { any: 'x' } } } })).toEqual([]);
    expect(warn(model, { reloader: { podMonitor: { namespce: 'monitoring' } }, extraArg: ['--x'] })).toEqual(['reloader.podMonitor.namespce reloader.podMonitor.namespace', 'extraArg extraArgs']);
    expect(warn({ ...model, templateRefs: undefined }, { reloader: { podMonitor: { namespace: 'monitoring' } } })).toEqual(['reloader.podMonitor.namespace']);
  });

  it('says nothing for a chart it could not read in full, nor for keys a tpl-rendered value reads', () => {
    const defaults = { a: 1 };
    expect(warn({ chartName: 'c', defaults, templateRefs: { root: {}, capped: true, usesTpl: false } }, { typo: 1 })).toEqual([]);
    expect(warn({ chartName: 'c', defaults, templateRefs: { root: {}, capped: false, usesTpl: true } }, { myHost: 'h', a: '{{ .Values.myHost }}', other: 1 })).toEqual(['other']);
  });
});
