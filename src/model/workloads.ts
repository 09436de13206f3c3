import { isMap, isScalar, isSeq, parseAllDocuments, type Document, type Node } from 'yaml';
import { asRecord, asString } from '../flux/objects.js';
import { KUBERNETES_YAML } from '../yaml/kubernetes-schema.js';

/** A container as the rendered manifests would run it. */
export interface RenderedContainer {
  workload: { kind: string; name: string; namespace?: string };
  name: string;
  init: boolean;
  /** An ephemeral container (spec.ephemeralContainers). */
  ephemeral?: boolean;
  /**
   * Kubernetes restarts it when it exits, even with status 0: a container of a Deployment-like
   * workload, or an init container with restartPolicy Always (a sidecar). False for Jobs, init
   * containers and Pods that run to completion.
   */
  restartsOnExit?: boolean;
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

/** What reading the rendered output found that is not a container: said in the report, never dropped. */
export interface RenderedInspection {
  /** A mapping key written twice: helm-controller's post-renderer (kustomize) refuses the document; kubectl and the API server keep the last. */
  duplicateKeys: Array<{ kind?: string; name?: string; template?: string; key: string; path: string; line: number; firstLine: number }>;
  /** Objects that hold containers in a place the guard does not read. */
  notInspected: Array<{ kind: string; name: string; template?: string; path: string }>;
  /** Documents the guard could not read at all. */
  unreadable: Array<{ template?: string; message: string }>;
}

/** Kinds whose pod spec sits at a known place. Any other kind with spec.template.spec.containers (Argo Rollout, ...) is read too. */
const POD_SPEC_PATHS: Record<string, string[]> = {
  Pod: ['spec'],
  Deployment: ['spec', 'template', 'spec'],
  StatefulSet: ['spec', 'template', 'spec'],
  DaemonSet: ['spec', 'template', 'spec'],
  ReplicaSet: ['spec', 'template', 'spec'],
  ReplicationController: ['spec', 'template', 'spec'],
  Job: ['spec', 'template', 'spec'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template', 'spec'],
};
const GENERIC_POD_SPEC_PATHS = [
  ['spec', 'template', 'spec'],
  ['spec', 'jobTemplate', 'spec', 'template', 'spec'],
];
/** Kinds whose pods run to completion: exiting 0 is success, not a restart. */
const RUN_TO_COMPLETION = new Set(['Job', 'CronJob']);
const CONTAINER_FIELDS = [['initContainers', 'init'], ['containers', 'main'], ['ephemeralContainers', 'ephemeral']] as const;

/** List nesting (List of Lists) kustomize flattens; deeper is refused as unreadable. */
const MAX_LIST_DEPTH = 8;
/** Nodes walked per document when looking for containers out of reach or duplicate keys. */
const MAX_WALK_NODES = 200_000;

/** Part of every render cache key: a cached render holds what this module extracted, so a change here must miss. */
export const WORKLOADS_MODEL = 4;

export interface ExtractedWorkloads {
  containers: RenderedContainer[];
  /** Number of manifests rendered, for the report. */
  manifestCount: number;
  inspection: RenderedInspection;
}

/**
 * Every container of helm's output, read as Flux and the API server read it: `kind: List` and
 * `*List` objects are flattened (as kustomize does in helm-controller's post-renderer), a key
 * written twice keeps its last value (sigs.k8s.io/yaml) and is reported, init and ephemeral
 * containers count, and containers the guard cannot place are named, never skipped in silence.
 */
export function extractContainers(manifests: string, defaultNamespace: string): ExtractedWorkloads {
  const containers: RenderedContainer[] = [];
  const inspection: RenderedInspection = { duplicateKeys: [], notInspected: [], unreadable: [] };
  let manifestCount = 0;
  for (const document of parseAllDocuments(manifests, { ...KUBERNETES_YAML, uniqueKeys: false, merge: true })) {
    const template = sourceComment(document.commentBefore ?? (document.contents as { commentBefore?: string | null } | null)?.commentBefore);
    if (document.errors.length > 0) {
      inspection.unreadable.push({ template, message: document.errors[0]!.message.split('\n')[0] ?? 'YAML error' });
      continue;
    }
    let value: unknown;
    try {
      value = document.toJS({ maxAliasCount: 1000 });
    } catch (error) {
      inspection.unreadable.push({ template, message: (error as Error).message });
      continue;
    }
    const body = asRecord(value);
    if (!body) continue;
    const duplicates = duplicateKeys(document, manifests);
    for (const duplicate of duplicates) {
      inspection.duplicateKeys.push({ kind: asString(body.kind), name: asString(asRecord(body.metadata)?.name), template, ...duplicate });
    }
    for (const object of flattenLists(body, 0, inspection, template)) {
      manifestCount++;
      readObject(object, template, defaultNamespace, containers, inspection);
    }
  }
  return { containers, manifestCount, inspection };
}

function flattenLists(body: Record<string, unknown>, depth: number, inspection: RenderedInspection, template: string | undefined): Array<Record<string, unknown>> {
  const kind = asString(body.kind) ?? '';
  if (!kind.endsWith('List') || !Array.isArray(body.items)) return [body];
  if (depth >= MAX_LIST_DEPTH) {
    inspection.unreadable.push({ template, message: `${kind} nested more than ${MAX_LIST_DEPTH} levels deep` });
    return [];
  }
  return body.items.flatMap((item) => {
    const object = asRecord(item);
    return object ? flattenLists(object, depth + 1, inspection, template) : [];
  });
}

function readObject(body: Record<string, unknown>, template: string | undefined, defaultNamespace: string, containers: RenderedContainer[], inspection: RenderedInspection): void {
  const kind = asString(body.kind);
  const metadata = asRecord(body.metadata);
  const name = asString(metadata?.name);
  if (!kind || !name) return;
  const podSpecPath = POD_SPEC_PATHS[kind] ?? GENERIC_POD_SPEC_PATHS.find((p) => Array.isArray(asRecord(at(body, p))?.containers));
  const spec = podSpecPath ? asRecord(at(body, podSpecPath)) : undefined;
  const read = spec ? podSpecPath! : undefined;
  const elsewhere = containerPlaces(body, read);
  if (elsewhere.length > 0) inspection.notInspected.push({ kind, name, template, path: elsewhere.slice(0, 3).join(', ') });
  if (!spec) return;
  const workload = { kind, name, namespace: asString(metadata?.namespace) ?? defaultNamespace };
  const podRestartPolicy = asString(spec.restartPolicy) ?? (kind === 'Pod' ? 'Always' : undefined);
  const runsToCompletion = RUN_TO_COMPLETION.has(kind) || podSpecPath!.includes('jobTemplate');
  const podRestarts = !runsToCompletion && (podRestartPolicy === undefined || podRestartPolicy === 'Always');
  for (const [field, role] of CONTAINER_FIELDS) {
    const list = Array.isArray(spec[field]) ? (spec[field] as unknown[]) : [];
    for (const entry of list) {
      const container = asRecord(entry);
      if (!container) continue;
      const sidecar = role === 'init' && asString(container.restartPolicy) === 'Always';
      containers.push({
        workload,
        name: asString(container.name) ?? '(unnamed)',
        init: role === 'init',
        ...(role === 'ephemeral' ? { ephemeral: true } : {}),
        restartsOnExit: role === 'main' ? podRestarts : sidecar,
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

function at(body: unknown, path: readonly string[]): unknown {
  let value = body;
  for (const key of path) value = asRecord(value)?.[key];
  return value;
}

/**
 * Places in an object, other than the pod spec that is read, that hold containers: a
 * `containers`/`initContainers` list, or an object with an image and a command line
 * (Argo Workflow templates, Tekton steps). Bounded walk.
 */
function containerPlaces(body: Record<string, unknown>, read: string[] | undefined): string[] {
  const places: string[] = [];
  const readPointer = read ? read.join('.') : undefined;
  let budget = MAX_WALK_NODES;
  const walk = (value: unknown, path: string): void => {
    if (--budget < 0 || places.length >= 10) return;
    if (Array.isArray(value)) {
      value.forEach((item, index) => {
        if (isContainerLike(item)) places.push(`${path}[${index}]`);
        else walk(item, `${path}[${index}]`);
      });
      return;
    }
    const record = asRecord(value);
    if (!record) return;
    if (path === readPointer) return;
    for (const [key, item] of Object.entries(record)) {
      const childPath = path ? `${path}.${key}` : key;
      const holdsContainers = (key === 'containers' || key === 'initContainers' || key === 'ephemeralContainers')
        && Array.isArray(item) && item.some((entry) => asString(asRecord(entry)?.image) !== undefined);
      if (holdsContainers || isContainerLike(item)) places.push(childPath);
      else walk(item, childPath);
    }
  };
  walk(body, '');
  return places;
}

function isContainerLike(value: unknown): boolean {
  const record = asRecord(value);
  return asString(record?.image) !== undefined && (record?.args !== undefined || record?.command !== undefined);
}

/** Keys written twice in one mapping of the document, with both lines. */
function duplicateKeys(document: Document, text: string): Array<{ key: string; path: string; line: number; firstLine: number }> {
  const found: Array<{ key: string; path: string; line: number; firstLine: number }> = [];
  const lineOf = lineIndex(text);
  let budget = MAX_WALK_NODES;
  const walk = (node: unknown, path: string): void => {
    if (--budget < 0 || found.length >= 20) return;
    if (isMap(node)) {
      const seen = new Map<string, number>();
      for (const pair of node.items) {
        const keyNode = pair.key as Node | null;
        // yaml.v3 (kustomize) compares keys as written: `1` and "1" clash, `yes` and `true` do not.
        const key = isScalar(keyNode) ? keyNode.source ?? String(keyNode.value) : undefined;
        if (key !== undefined) {
          const offset = keyNode?.range?.[0] ?? 0;
          const first = seen.get(key);
          if (first !== undefined && found.length < 20) found.push({ key, path: path ? `${path}.${key}` : key, line: lineOf(offset), firstLine: lineOf(first) });
          else seen.set(key, offset);
        }
        walk(pair.value, path ? `${path}.${key ?? '?'}` : key ?? '?');
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, index) => walk(item, `${path}[${index}]`));
    }
  };
  walk(document.contents, '');
  return found;
}

/** 1-based line of an offset in the whole output, by binary search over line starts (computed once per call). */
function lineIndex(text: string): (offset: number) => number {
  let starts: number[] | undefined;
  return (offset) => {
    if (!starts) {
      starts = [0];
      for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
    }
    let low = 0;
    let high = starts.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (starts[mid]! <= offset) low = mid;
      else high = mid - 1;
    }
    return low + 1;
  };
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
