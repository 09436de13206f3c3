import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveKubectl } from '../../src/kustomize/binary.js';
import { extractContainers } from '../../src/model/workloads.js';
import { runTool, toolEnvironment } from '../../src/tools/sandbox.js';

const container = (name: string, args: string[]) => `{name: ${name}, image: example/app:1, args: [${args.join(', ')}]}`;
const podSpec = (extra = '') => `{containers: [${container('main', ['--a'])}]${extra}}`;

describe('containers of rendered output, read as the API server reads them', () => {
  it('reads every workload kind with a pod template, CRDs with spec.template included', () => {
    const manifests = [
      `apiVersion: v1\nkind: ReplicationController\nmetadata: {name: rc}\nspec: {template: {spec: ${podSpec()}}}`,
      `apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {name: ro}\nspec: {template: {spec: ${podSpec()}}}`,
      `apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: cj}\nspec: {jobTemplate: {spec: {template: {spec: ${podSpec()}}}}}`,
      `apiVersion: example.com/v1\nkind: ScheduledThing\nmetadata: {name: st}\nspec: {jobTemplate: {spec: {template: {spec: ${podSpec()}}}}}`,
      `apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {restartPolicy: Never, containers: [${container('c', [])}], initContainers: [${container('i', [])}, {name: s, image: x, restartPolicy: Always}], ephemeralContainers: [${container('e', [])}]}`,
    ].join('\n---\n');
    const { containers } = extractContainers(manifests, 'ns');
    expect(containers.map((c) => `${c.workload.kind}/${c.name}`)).toEqual([
      'ReplicationController/main', 'Rollout/main', 'CronJob/main', 'ScheduledThing/main', 'Pod/i', 'Pod/s', 'Pod/c', 'Pod/e',
    ]);
    expect(Object.fromEntries(containers.map((c) => [`${c.workload.kind}/${c.name}`, c.restartsOnExit]))).toMatchObject({
      'ReplicationController/main': true, 'Rollout/main': true, 'CronJob/main': false, 'ScheduledThing/main': false, 'Pod/c': false, 'Pod/i': false, 'Pod/s': true,
    });
    expect(containers.find((c) => c.name === 'e')?.ephemeral).toBe(true);
  });

  it('names objects that hold containers elsewhere, and the kinds it reads are not named', () => {
    const { inspection } = extractContainers([
      `apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {name: wf}\nspec: {templates: [{name: m, container: {image: x, args: [--a]}}]}`,
      `apiVersion: tekton.dev/v1\nkind: Task\nmetadata: {name: t}\nspec: {steps: [{name: s, image: x, command: [run]}]}`,
      `apiVersion: v1\nkind: PodTemplate\nmetadata: {name: pt}\ntemplate: {spec: ${podSpec()}}`,
      `apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {template: {spec: ${podSpec()}}}`,
    ].join('\n---\n'), 'ns');
    expect(inspection.notInspected.map((o) => `${o.kind} ${o.path}`)).toEqual(['Workflow spec.templates[0].container', 'Task spec.steps[0]', 'PodTemplate template.spec.containers']);
  });
});

/** kubectl's built-in kustomize reads resources as helm-controller's post-renderer does (resmap.NewResMapFromBytes). */
describe('against kustomize, which every Flux release passes through', () => {
  let work: string;
  beforeAll(async () => {
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-workloads-'));
  });
  afterAll(async () => fs.rm(work, { recursive: true, force: true }));

  async function kustomize(manifests: string): Promise<{ ok: true; objects: Array<Record<string, unknown>> } | { ok: false; error: string }> {
    const kubectl = await resolveKubectl();
    const dir = await fs.mkdtemp(path.join(work, 'k-'));
    await fs.writeFile(path.join(dir, 'all.yaml'), manifests);
    await fs.writeFile(path.join(dir, 'kustomization.yaml'), 'resources:\n- all.yaml\n');
    const result = await runTool(kubectl.path, ['kustomize', dir], { env: toolEnvironment(work), timeoutMs: 60_000, maxBuffer: 16 << 20 });
    if (result.exitCode !== 0) return { ok: false, error: String(result.stderr) };
    return { ok: true, objects: parseAllDocuments(String(result.stdout)).map((d) => d.toJS() as Record<string, unknown>).filter(Boolean) };
  }

  const deployment = (name: string, args: string) => `apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: ${name}}\nspec:\n  template:\n    spec:\n      containers:\n        - name: c\n          image: example/app:1\n${args}`;
  const CASES: Record<string, string> = {
    'plain deployment': deployment('d', '          args: [--a]\n'),
    'duplicate args key': deployment('d', '          args: [--a]\n          args: [--b]\n'),
    'duplicate metadata key': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\nmetadata: {name: d}\n',
    'keys 1 and "1"': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {"1": a, 1: b}\n',
    'keys yes and "true"': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {"yes": a, "true": b}\n',
    'two objects without a document separator': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n',
    'List of a List of a Deployment': `apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: List\n  items:\n  - ${deployment('d', '          args: [--a]').replace(/\n/g, '\n    ')}\n`,
    'DeploymentList': `apiVersion: apps/v1\nkind: DeploymentList\nitems:\n- ${deployment('first', '          args: [--a]').replace(/\n/g, '\n  ')}\n- ${deployment('second', '          args: [--b]').replace(/\n/g, '\n  ')}\n`,
    'ConfigMapList beside a Deployment': `apiVersion: v1\nkind: ConfigMapList\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n---\n${deployment('d', '          args: [--a]\n')}`,
  };

  it.each(Object.keys(CASES))('%s: refused exactly when a duplicate key is reported, else the same objects', async (name) => {
    const manifests = CASES[name]!;
    const guard = extractContainers(manifests, 'ns');
    const truth = await kustomize(manifests);
    if (!truth.ok) {
      expect(truth.error).toMatch(/already defined/);
      expect(guard.inspection.duplicateKeys.length).toBeGreaterThan(0);
      return;
    }
    expect(guard.inspection.duplicateKeys).toEqual([]);
    expect(guard.manifestCount).toBe(truth.objects.length);
    const deployments = truth.objects.filter((o) => o.kind === 'Deployment').map((o) => (o.metadata as { name: string }).name).sort();
    expect([...new Set(guard.containers.map((c) => c.workload.name))].sort()).toEqual(deployments);
  }, 60_000);

  it('keeps the last of two keys, as kubectl and the API server do', () => {
    const { containers } = extractContainers(CASES['duplicate args key']!, 'ns');
    expect(containers[0]?.args).toEqual(['--b']);
  });
});

describe('duplicate keys as kustomize (yaml.v3) sees them', () => {
  it('compares keys as written, not as YAML 1.1 values', async () => {
    const clash = extractContainers('kind: ConfigMap\nmetadata: {name: c}\ndata: {"1": a, 1: b}\n', 'ns');
    expect(clash.inspection.duplicateKeys.map((d) => d.path)).toEqual(['data.1']);
    const distinct = extractContainers('kind: ConfigMap\nmetadata: {name: c}\ndata: {yes: a, "true": b}\n', 'ns');
    expect(distinct.inspection.duplicateKeys).toEqual([]);
  });
});
