import { parseAllDocuments } from 'yaml';
import { asRecord, asString } from '../flux/objects.js';
import { KUBERNETES_YAML } from '../yaml/kubernetes-schema.js';

/** A container as the rendered manifests would run it. */
export interface RenderedContainer {
  workload: { kind: string; name: string; namespace?: string };
  name: string;
  init: boolean;
  image: string;
  command?: string[];
  args?: string[];
  /** Plain env values (valueFrom entries are unknown at render time and left out). */
  env: Record<string, string>;
  /** Every env variable name, valueFrom ones included. */
  envNames?: string[];
  /** The template file helm rendered it from, e.g. "external-dns/templates/deployment.yaml". */
  template?: string;
}

const POD_SPEC_PATHS: Record<string, string[]> = {
  Pod: ['spec'],
  Deployment: ['spec', 'template', 'spec'],
  StatefulSet: ['spec', 'template', 'spec'],
  DaemonSet: ['spec', 'template', 'spec'],
  ReplicaSet: ['spec', 'template', 'spec'],
  Job: ['spec', 'template', 'spec'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template', 'spec'],
};

export interface ExtractedWorkloads {
  containers: RenderedContainer[];
  /** Number of manifests rendered, for the report. */
  manifestCount: number;
}

/** Every container (and init container) of the workload kinds in helm's output. */
export function extractContainers(manifests: string, defaultNamespace: string): ExtractedWorkloads {
  const containers: RenderedContainer[] = [];
  let manifestCount = 0;
  for (const document of parseAllDocuments(manifests, KUBERNETES_YAML)) {
    if (document.errors.length > 0) continue;
    const body = asRecord(document.toJS({ maxAliasCount: 1000 }));
    if (!body) continue;
    manifestCount++;
    const kind = asString(body.kind);
    const metadata = asRecord(body.metadata);
    const name = asString(metadata?.name);
    const podSpecPath = kind ? POD_SPEC_PATHS[kind] : undefined;
    if (!kind || !name || !podSpecPath) continue;
    let podSpec: unknown = body;
    for (const key of podSpecPath) podSpec = asRecord(podSpec)?.[key];
    const spec = asRecord(podSpec);
    if (!spec) continue;
    const template = sourceComment(document.commentBefore);
    const workload = { kind, name, namespace: asString(metadata?.namespace) ?? defaultNamespace };
    for (const [field, init] of [['initContainers', true], ['containers', false]] as const) {
      const list = Array.isArray(spec[field]) ? (spec[field] as unknown[]) : [];
      for (const entry of list) {
        const container = asRecord(entry);
        if (!container) continue;
        containers.push({
          workload,
          name: asString(container.name) ?? '(unnamed)',
          init,
          image: asString(container.image) ?? '',
          command: stringList(container.command),
          args: stringList(container.args),
          env: plainEnv(container.env),
          envNames: envNames(container.env),
          template,
        });
      }
    }
  }
  return { containers, manifestCount };
}

function stringList(value: unknown): string[] | undefined {
  if (!Array.isArray(value)) return undefined;
  return value.map((item) => (typeof item === 'string' ? item : JSON.stringify(item)));
}

function envNames(value: unknown): string[] {
  if (!Array.isArray(value)) return [];
  return value.map((entry) => asString(asRecord(entry)?.name)).filter((name): name is string => name !== undefined);
}

function plainEnv(value: unknown): Record<string, string> {
  const env: Record<string, string> = {};
  if (!Array.isArray(value)) return env;
  for (const entry of value) {
    const variable = asRecord(entry);
    const name = asString(variable?.name);
    if (name && variable && variable.value !== undefined && variable.value !== null) env[name] = String(variable.value);
  }
  return env;
}

function sourceComment(comment: string | null | undefined): string | undefined {
  const match = comment?.match(/Source:\s*(\S+)/);
  return match?.[1];
}
