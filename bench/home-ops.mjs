// A home-ops shaped repository (onedr0p/cluster-template and its descendants) for `npm run bench`:
// flux-system applies cluster-apps, whose folder (no kustomization.yaml: Flux generates one) holds
// one namespace folder per app, each with the `common` component and a child Kustomization
// (targetNamespace, components, the parent's patches and postBuild). HelmReleases use app-template
// (an application chart over a shared `common` library chart, with a values schema), half through
// OCIRepository chartRef, half through an HTTP HelmRepository, both served on 127.0.0.1, with
// valuesFrom ConfigMaps made by configMapGenerator.
import { execa } from 'execa';
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { stringify } from 'yaml';

export const CHART = 'app-template';
export const CHART_VERSION = '3.7.0';
const IMAGE = 'registry.k8s.io/external-dns/external-dns:v0.19.0';

const COMMON_CHART = {
  'Chart.yaml': stringify({ apiVersion: 'v2', name: 'common', version: '3.7.0', type: 'library' }),
  'values.yaml': stringify({ global: {} }),
  'values.schema.json': JSON.stringify({ $schema: 'http://json-schema.org/draft-07/schema#', type: 'object', properties: { global: { type: 'object' } } }, null, 2),
  'templates/_controller.tpl': `{{- define "common.controller" -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
  labels:
    app.kubernetes.io/name: {{ .Release.Name }}
    app.kubernetes.io/instance: {{ .Release.Name }}
spec:
  replicas: {{ .Values.controller.replicas }}
  selector:
    matchLabels:
      app.kubernetes.io/name: {{ .Release.Name }}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: {{ .Release.Name }}
    spec:
      containers:
        - name: app
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
          args:
            {{- range .Values.args }}
            - {{ . | quote }}
            {{- end }}
          env:
            {{- range $name, $value := .Values.env }}
            - name: {{ $name }}
              value: {{ $value | quote }}
            {{- end }}
{{- end -}}
{{- define "common.service" -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}
spec:
  selector:
    app.kubernetes.io/name: {{ .Release.Name }}
  ports:
    - port: {{ .Values.service.port }}
{{- end -}}
`,
};

const APP_CHART = {
  'Chart.yaml': stringify({ apiVersion: 'v2', name: CHART, version: CHART_VERSION, appVersion: CHART_VERSION, dependencies: [{ name: 'common', version: '3.7.0' }] }),
  'values.yaml': stringify({ controller: { replicas: 1 }, image: { repository: 'registry.k8s.io/external-dns/external-dns', tag: 'v0.19.0' }, args: [], env: {}, service: { port: 7979 } }),
  'values.schema.json': JSON.stringify(
    {
      $schema: 'http://json-schema.org/draft-07/schema#',
      type: 'object',
      properties: {
        controller: { type: 'object', properties: { replicas: { type: 'integer', minimum: 0 } } },
        image: { type: 'object', required: ['repository', 'tag'], properties: { repository: { type: 'string' }, tag: { type: 'string' } } },
        args: { type: 'array', items: { type: 'string' } },
        env: { type: 'object', additionalProperties: { type: 'string' } },
        service: { type: 'object', properties: { port: { type: 'integer' } } },
      },
    },
    null,
    2,
  ),
  'templates/controller.yaml': '{{ include "common.controller" . }}\n---\n{{ include "common.service" . }}\n',
};

async function writeFiles(dir, files) {
  for (const [file, text] of Object.entries(files)) {
    await fs.mkdir(path.dirname(path.join(dir, file)), { recursive: true });
    await fs.writeFile(path.join(dir, file), text);
  }
}

/** app-template (with `common` vendored under charts/) packaged by the real helm: the .tgz path. */
export async function packageChart(work, helm) {
  const source = path.join(work, 'chart-src', CHART);
  await writeFiles(source, APP_CHART);
  await writeFiles(path.join(source, 'charts', 'common'), COMMON_CHART);
  const out = path.join(work, 'chart-repo');
  await fs.mkdir(out, { recursive: true });
  await execa(helm, ['package', source, '--destination', out], { env: helmEnv(work) });
  return path.join(out, `${CHART}-${CHART_VERSION}.tgz`);
}

function helmEnv(work) {
  return { HELM_CONFIG_HOME: path.join(work, 'helm-config'), HELM_CACHE_HOME: path.join(work, 'helm-cache'), HELM_DATA_HOME: path.join(work, 'helm-data') };
}

/** An HTTP chart repository (index.yaml by `helm repo index`) and an OCI registry (docker-registry) on loopback. */
export async function serveCharts(work, helm, archive) {
  const dir = path.dirname(archive);
  const server = http.createServer((request, response) => {
    const file = path.join(dir, path.basename(decodeURIComponent((request.url ?? '/').split('?')[0])));
    fs.readFile(file).then(
      (data) => response.writeHead(200).end(data),
      () => response.writeHead(404).end('not found'),
    );
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const httpUrl = `http://127.0.0.1:${server.address().port}`;
  await execa(helm, ['repo', 'index', dir, '--url', httpUrl], { env: helmEnv(work) });

  const port = await freePort();
  const registryDir = path.join(work, 'registry');
  await fs.mkdir(registryDir, { recursive: true });
  await fs.writeFile(path.join(registryDir, 'config.yml'), `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${registryDir}/data\nhttp:\n  addr: 127.0.0.1:${port}\n`);
  const registry = spawn('/usr/bin/docker-registry', ['serve', path.join(registryDir, 'config.yml')], { stdio: 'ignore' });
  const ociHost = `127.0.0.1:${port}`;
  for (let i = 0; i < 100 && !(await fetch(`http://${ociHost}/v2/`).then((r) => r.ok, () => false)); i++) await new Promise((r) => setTimeout(r, 100));
  await execa(helm, ['push', archive, `oci://${ociHost}/charts`, '--plain-http'], { env: helmEnv(work) });
  const stop = async () => {
    await new Promise((resolve) => server.close(resolve));
    if (registry.exitCode === null) {
      const exited = new Promise((resolve) => registry.once('exit', resolve));
      registry.kill();
      await exited;
    }
  };
  return { httpUrl, ociHost, stop };
}

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/** What cluster-apps gives every Kustomization it applies, and so what each app's build lays over its folder. */
const HELMRELEASE_PATCHES = [{ target: { group: 'helm.toolkit.fluxcd.io', kind: 'HelmRelease' }, patch: stringify({ apiVersion: 'helm.toolkit.fluxcd.io/v2', kind: 'HelmRelease', metadata: { name: 'not-used' }, spec: { install: { remediation: { retries: -1 } }, upgrade: { cleanupOnFail: true, remediation: { retries: 3, remediateLastFailure: true } } } }) }];
const CLUSTER_APPS_PATCHES = [{
  target: { group: 'kustomize.toolkit.fluxcd.io', kind: 'Kustomization' },
  patch: stringify({ apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', metadata: { name: 'not-used' }, spec: { postBuild: { substituteFrom: [{ kind: 'ConfigMap', name: 'cluster-settings' }] }, patches: HELMRELEASE_PATCHES } }),
}];
const APP_COMPONENTS = ['../../../../components/alerts'];

const doc = (apiVersion, kind, metadata, spec) => stringify({ apiVersion, kind, metadata, ...(spec ? { spec } : {}) });

/** Values of release `j`: what its ConfigMap gives and what the HelmRelease adds on top. */
export function releaseValues(j, revision) {
  const fromConfigMap = { controller: { replicas: 1 + (j % 3) }, env: { TZ: 'Europe/Stockholm' } };
  const inline = {
    image: { repository: 'registry.k8s.io/external-dns/external-dns', tag: 'v0.19.0' },
    args: ['--source=service', '--source=ingress', '--provider=cloudflare', `--txt-owner-id=owner-${j}`, `--interval=${revision === 'one' && j === 0 ? '2m' : '1m'}`],
  };
  return { fromConfigMap, inline };
}

/** The repository's files: `apps` child Kustomizations (one namespace each) holding `releases` HelmReleases. */
export function homeOpsFiles({ apps, releases, httpUrl, ociHost, revision = 'main' }) {
  const files = {
    'clusters/main/flux-system/gotk-sync.yaml': [
      doc('source.toolkit.fluxcd.io/v1', 'GitRepository', { name: 'flux-system', namespace: 'flux-system' }, { interval: '1h', ref: { branch: 'main' }, url: 'ssh://git@example.net/home-ops' }),
      doc('kustomize.toolkit.fluxcd.io/v1', 'Kustomization', { name: 'flux-system', namespace: 'flux-system' }, { interval: '1h', path: './clusters/main', prune: true, sourceRef: { kind: 'GitRepository', name: 'flux-system' } }),
    ].join('---\n'),
    'clusters/main/flux-system/kustomization.yaml': 'resources:\n  - gotk-sync.yaml\n',
    'clusters/main/kustomization.yaml': 'resources:\n  - ./flux-system\n  - ./repositories.yaml\n  - ./cluster-apps.yaml\n',
    'clusters/main/repositories.yaml': [
      doc('source.toolkit.fluxcd.io/v1', 'HelmRepository', { name: 'loopback', namespace: 'flux-system' }, { interval: '1h', url: httpUrl }),
      doc('source.toolkit.fluxcd.io/v1', 'OCIRepository', { name: CHART, namespace: 'flux-system' }, { interval: '1h', url: `oci://${ociHost}/charts/${CHART}`, ref: { tag: CHART_VERSION }, insecure: true, layerSelector: { mediaType: 'application/vnd.cncf.helm.chart.content.v1.tar+gzip', operation: 'copy' } }),
    ].join('---\n'),
    'clusters/main/cluster-apps.yaml': doc('kustomize.toolkit.fluxcd.io/v1', 'Kustomization', { name: 'cluster-apps', namespace: 'flux-system' }, {
      interval: '1h',
      path: './kubernetes/apps',
      prune: true,
      sourceRef: { kind: 'GitRepository', name: 'flux-system' },
      patches: CLUSTER_APPS_PATCHES,
    }),
    'kubernetes/components/common/kustomization.yaml': 'apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources:\n  - ./namespace.yaml\n  - ./cluster-settings.yaml\n',
    'kubernetes/components/common/namespace.yaml': doc('v1', 'Namespace', { name: '_', annotations: { 'kustomize.toolkit.fluxcd.io/prune': 'disabled' } }),
    'kubernetes/components/common/cluster-settings.yaml': doc('v1', 'ConfigMap', { name: 'cluster-settings' }).replace(/\n$/, '') + '\ndata:\n  TIMEZONE: Europe/Stockholm\n  CLUSTER: main\n',
    'kubernetes/components/alerts/kustomization.yaml': stringify({
      apiVersion: 'kustomize.config.k8s.io/v1alpha1',
      kind: 'Component',
      patches: [{ target: { kind: 'HelmRelease' }, patch: stringify([{ op: 'add', path: '/metadata/labels', value: { 'cluster': '${CLUSTER}' } }]) }],
    }),
  };
  const byApp = Array.from({ length: apps }, () => []);
  for (let j = 0; j < releases; j++) byApp[j % apps].push(j);
  for (let k = 0; k < apps; k++) {
    const ns = `ns-${k}`;
    const dir = `kubernetes/apps/${ns}`;
    files[`${dir}/kustomization.yaml`] = stringify({ apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', namespace: ns, components: ['../../components/common'], resources: [`./app-${k}/ks.yaml`] });
    files[`${dir}/app-${k}/ks.yaml`] = doc('kustomize.toolkit.fluxcd.io/v1', 'Kustomization', { name: `app-${k}` }, {
      interval: '1h',
      path: `./${dir}/app-${k}/app`,
      targetNamespace: ns,
      components: APP_COMPONENTS,
      prune: true,
      wait: false,
      sourceRef: { kind: 'GitRepository', name: 'flux-system', namespace: 'flux-system' },
    });
    const appDir = `${dir}/app-${k}/app`;
    files[`${appDir}/kustomization.yaml`] = stringify({
      apiVersion: 'kustomize.config.k8s.io/v1beta1',
      kind: 'Kustomization',
      resources: byApp[k].map((j) => `./helmrelease-${j}.yaml`),
      configMapGenerator: byApp[k].map((j) => ({ name: `release-${j}-values`, files: [`values.yaml=./values-${j}.yaml`] })),
      generatorOptions: { disableNameSuffixHash: true },
    });
    for (const j of byApp[k]) {
      const { fromConfigMap, inline } = releaseValues(j, revision);
      files[`${appDir}/values-${j}.yaml`] = stringify(fromConfigMap);
      const source = j % 2 === 0
        ? { chartRef: { kind: 'OCIRepository', name: CHART, namespace: 'flux-system' } }
        : { chart: { spec: { chart: CHART, version: CHART_VERSION, sourceRef: { kind: 'HelmRepository', name: 'loopback', namespace: 'flux-system' } } } };
      files[`${appDir}/helmrelease-${j}.yaml`] = doc('helm.toolkit.fluxcd.io/v2', 'HelmRelease', { name: `release-${j}` }, {
        interval: '1h',
        ...source,
        valuesFrom: [{ kind: 'ConfigMap', name: `release-${j}-values` }],
        values: inline,
      });
    }
  }
  return files;
}

/**
 * The floor's builds: each Flux Kustomization's folder with what Flux lays over it (targetNamespace,
 * the parent's patches, components), as kustomize-controller builds it, written as plain
 * kustomizations under `.floor/` (plus the kustomization Flux generates for cluster-apps' folder).
 * Files to write, and the folders to build in graph order.
 */
export function floorBuilds(apps) {
  const files = { 'kubernetes/apps/kustomization.yaml': stringify({ resources: Array.from({ length: apps }, (_, k) => `ns-${k}`) }) };
  const folders = ['clusters/main'];
  files['.floor/cluster-apps/kustomization.yaml'] = stringify({ resources: ['../../kubernetes/apps'], patches: CLUSTER_APPS_PATCHES });
  folders.push('.floor/cluster-apps');
  for (let k = 0; k < apps; k++) {
    const app = `kubernetes/apps/ns-${k}/app-${k}/app`;
    files[`.floor/app-${k}/kustomization.yaml`] = stringify({ resources: [`../../${app}`], namespace: `ns-${k}`, patches: HELMRELEASE_PATCHES, components: APP_COMPONENTS.map((c) => path.posix.join('../..', app, c)) });
    folders.push(`.floor/app-${k}`);
  }
  return { files, folders };
}

export { writeFiles };
