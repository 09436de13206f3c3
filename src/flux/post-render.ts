import { promises as fs } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { kustomizeBuild } from '../kustomize/build.js';
import type { HelmRelease } from './helmrelease.js';
import { asRecord } from './objects.js';

/** spec.postRenderers[].kustomize as a kustomization over the rendered manifests, in order. */
export function postRendererKustomizations(release: HelmRelease): Array<Record<string, unknown>> {
  const postRenderers = asRecord(release.object.body.spec)?.postRenderers;
  if (!Array.isArray(postRenderers)) return [];
  return postRenderers.flatMap((entry) => {
    const kustomize = asRecord(asRecord(entry)?.kustomize);
    if (!kustomize) return [];
    // Flux's Patch type has only `patch` and `target`: the API server prunes anything else (a `path` to a file included).
    const patches: unknown[] = (Array.isArray(kustomize.patches) ? kustomize.patches : []).flatMap((entry) => {
      const record = asRecord(entry);
      return record ? [{ ...(record.patch !== undefined ? { patch: record.patch } : {}), ...(record.target !== undefined ? { target: record.target } : {}) }] : [];
    });
    // v2beta1 forms, still accepted by helm-controller: strategic merge objects and JSON 6902 operation lists.
    for (const patch of Array.isArray(kustomize.patchesStrategicMerge) ? kustomize.patchesStrategicMerge : []) patches.push({ patch: stringify(patch) });
    for (const json6902 of Array.isArray(kustomize.patchesJson6902) ? kustomize.patchesJson6902 : []) {
      const record = asRecord(json6902);
      if (record) patches.push({ target: record.target, patch: JSON.stringify(record.patch ?? []) });
    }
    const kustomization: Record<string, unknown> = { apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', resources: ['manifests.yaml'] };
    if (patches.length > 0) kustomization.patches = patches;
    if (Array.isArray(kustomize.images) && kustomize.images.length > 0) kustomization.images = kustomize.images;
    return [kustomization];
  });
}

export type PostRenderResult = { ok: true; manifests: string } | { ok: false; error: string };

/** Run the release's kustomize post-renderers over helm's output, as helm-controller does before applying. */
export async function postRender(manifests: string, kustomizations: Array<Record<string, unknown>>, workDir: string, timeoutMs: number): Promise<PostRenderResult> {
  let current = manifests;
  for (const [index, kustomization] of kustomizations.entries()) {
    const dir = path.join(workDir, `post-render-${index}`);
    await fs.mkdir(dir, { recursive: true });
    await fs.writeFile(path.join(dir, 'manifests.yaml'), current);
    await fs.writeFile(path.join(dir, 'kustomization.yaml'), stringify(kustomization));
    // Confined to its own folder: helm's output and the generated kustomization, nothing else.
    const result = await kustomizeBuild(dir, timeoutMs, { roots: [dir] });
    await fs.rm(dir, { recursive: true, force: true });
    if (!result.ok) return { ok: false, error: result.error.replaceAll(`${dir}/`, '').replaceAll(dir, '.') };
    current = result.output;
  }
  return { ok: true, manifests: current };
}
