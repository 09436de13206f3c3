import { stringify } from 'yaml';

/**
 * A small chart that runs external-dns v0.19.0 in the workload shape its values pick: the shapes
 * a hostile or unusual chart can render (a duplicate `args:` key, `kind: List`, a
 * ReplicationController, an Argo Rollout, a CronJob, init and ephemeral containers, an Argo
 * Workflow the guard cannot read, a `sh -c` command). `extraArgs` go after the chart's own args.
 */
export const SHAPED_CHART: Record<string, string> = {
  'charts/shaped/Chart.yaml': 'apiVersion: v2\nname: shaped\nversion: 0.1.0\nappVersion: v0.19.0\n',
  'charts/shaped/values.yaml': 'shape: deployment\nextraArgs: []\ncommand: []\nenv: []\n',
  'charts/shaped/templates/_container.tpl': `{{- define "shaped.container" -}}
- name: external-dns
  image: registry.k8s.io/external-dns/external-dns:v0.19.0
  {{- with .Values.command }}
  command:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.env }}
  env:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- if .Values.args }}
  args:
    {{- toYaml .Values.args | nindent 4 }}
  {{- else }}
  args:
    - --source=service
    - --provider=cloudflare
    {{- range .Values.extraArgs }}
    - {{ . | quote }}
    {{- end }}
  {{- end }}
{{- end -}}
{{- define "shaped.podspec" -}}
{{- if eq .Values.shape "init" }}
initContainers:
  {{- include "shaped.container" . | nindent 2 }}
containers:
  - name: main
    image: registry.k8s.io/pause:3.9
{{- else if eq .Values.shape "ephemeral" }}
containers:
  - name: main
    image: registry.k8s.io/pause:3.9
ephemeralContainers:
  {{- include "shaped.container" . | nindent 2 }}
{{- else }}
containers:
  {{- include "shaped.container" . | nindent 2 }}
{{- end }}
{{- end -}}
`,
  'charts/shaped/templates/workload.yaml': `{{- if has .Values.shape (list "deployment" "init" "ephemeral") }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  selector:
    matchLabels: {app: shaped}
  template:
    metadata:
      labels: {app: shaped}
    spec:
      {{- include "shaped.podspec" . | nindent 6 }}
{{- else if eq .Values.shape "duplicate-args" }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  selector:
    matchLabels: {app: shaped}
  template:
    metadata:
      labels: {app: shaped}
    spec:
      containers:
        - name: external-dns
          image: registry.k8s.io/external-dns/external-dns:v0.19.0
          args:
            - --source=service
            - --provider=cloudflare
          {{- if .Values.extraArgs }}
          args:
            - --source=service
            - --provider=cloudflare
            {{- range .Values.extraArgs }}
            - {{ . | quote }}
            {{- end }}
          {{- end }}
{{- else if eq .Values.shape "list" }}
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: List
    items:
      - apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: {{ .Release.Name }}
        spec:
          selector:
            matchLabels: {app: shaped}
          template:
            metadata:
              labels: {app: shaped}
            spec:
              {{- include "shaped.podspec" . | nindent 14 }}
{{- else if eq .Values.shape "deployment-list" }}
apiVersion: apps/v1
kind: DeploymentList
items:
  - apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: {{ .Release.Name }}
    spec:
      selector:
        matchLabels: {app: shaped}
      template:
        metadata:
          labels: {app: shaped}
        spec:
          {{- include "shaped.podspec" . | nindent 10 }}
{{- else if eq .Values.shape "replication-controller" }}
apiVersion: v1
kind: ReplicationController
metadata:
  name: {{ .Release.Name }}
spec:
  replicas: 1
  selector: {app: shaped}
  template:
    metadata:
      labels: {app: shaped}
    spec:
      {{- include "shaped.podspec" . | nindent 6 }}
{{- else if eq .Values.shape "rollout" }}
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: {{ .Release.Name }}
spec:
  strategy:
    canary: {steps: [{setWeight: 20}]}
  selector:
    matchLabels: {app: shaped}
  template:
    metadata:
      labels: {app: shaped}
    spec:
      {{- include "shaped.podspec" . | nindent 6 }}
{{- else if eq .Values.shape "cronjob" }}
apiVersion: batch/v1
kind: CronJob
metadata:
  name: {{ .Release.Name }}
spec:
  schedule: "*/5 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          {{- include "shaped.podspec" . | nindent 10 }}
{{- else if eq .Values.shape "workflow" }}
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  name: {{ .Release.Name }}
spec:
  entrypoint: main
  templates:
    - name: main
      container:
        image: registry.k8s.io/external-dns/external-dns:v0.19.0
        args:
          - --source=service
          {{- range .Values.extraArgs }}
          - {{ . | quote }}
          {{- end }}
{{- end }}
`,
};

/** A HelmRelease of the shaped chart. */
export function shapedRelease(values: Record<string, unknown>): string {
  return stringify({
    apiVersion: 'helm.toolkit.fluxcd.io/v2',
    kind: 'HelmRelease',
    metadata: { name: 'shaped', namespace: 'networking' },
    spec: {
      interval: '30m',
      chart: { spec: { chart: './charts/shaped', version: '0.1.0', sourceRef: { kind: 'GitRepository', name: 'flux-system', namespace: 'flux-system' } } },
      upgrade: { remediation: { retries: 3, remediateLastFailure: true } },
      values,
    },
  });
}

export const SHAPED_HR = 'apps/shaped/helmrelease.yaml';
