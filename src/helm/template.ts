import { runHelm, type HelmRunOptions } from './run.js';

export interface TemplateRequest {
  releaseName: string;
  namespace: string;
  chartDir: string;
  values: Record<string, unknown>;
  kubeVersion?: string;
  apiVersions?: string[];
  includeCrds?: boolean;
  noHooks?: boolean;
  skipSchemaValidation?: boolean;
}

/** `helm template` as helm-controller would install the release; returns the rendered manifests. */
export async function helmTemplate(request: TemplateRequest, options: HelmRunOptions): Promise<{ ok: true; manifests: string } | { ok: false; error: string }> {
  const args = ['template', request.releaseName, request.chartDir, '--namespace', request.namespace, '--skip-tests'];
  // The merged values go in on stdin: nothing of them is written to disk.
  args.push('--values', '-');
  if (request.kubeVersion) args.push('--kube-version', request.kubeVersion);
  for (const apiVersion of request.apiVersions ?? []) args.push('--api-versions', apiVersion);
  if (request.includeCrds) args.push('--include-crds');
  if (request.noHooks) args.push('--no-hooks');
  if (request.skipSchemaValidation) args.push('--skip-schema-validation');
  const result = await runHelm(args, options, JSON.stringify(request.values));
  return result.ok ? { ok: true, manifests: result.stdout } : { ok: false, error: result.error };
}
