import { isValidReleaseName } from '../flux/release-name.js';
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
  /** helm-controller upgrades a release that exists: `.Release.IsUpgrade` true, `.Release.IsInstall` false. */
  isUpgrade?: boolean;
}

/**
 * The `helm template` command line. Every value is attached to its option (`--namespace=VALUE`)
 * and the two positional words come after `--`: whatever a pull request writes into a name or
 * namespace, helm reads it as that value, never as an option of its own.
 */
export function templateArguments(request: TemplateRequest): string[] {
  const args = ['template', `--namespace=${request.namespace}`, '--skip-tests'];
  // The merged values go in on stdin: nothing of them is written to disk.
  args.push('--values=-');
  if (request.kubeVersion) args.push(`--kube-version=${request.kubeVersion}`);
  for (const apiVersion of request.apiVersions ?? []) args.push(`--api-versions=${apiVersion}`);
  if (request.includeCrds) args.push('--include-crds');
  if (request.noHooks) args.push('--no-hooks');
  if (request.skipSchemaValidation) args.push('--skip-schema-validation');
  if (request.isUpgrade) args.push('--is-upgrade');
  args.push('--', request.releaseName, request.chartDir);
  return args;
}

/** `helm template` as helm-controller would install or upgrade the release; returns the rendered manifests. */
export async function helmTemplate(request: TemplateRequest, options: HelmRunOptions): Promise<{ ok: true; manifests: string } | { ok: false; error: string }> {
  if (!isValidReleaseName(request.releaseName)) {
    return { ok: false, error: `release name ${JSON.stringify(request.releaseName.slice(0, 80))} is invalid (helm needs a DNS-1123 subdomain of at most 53 characters); not rendered` };
  }
  const result = await runHelm(templateArguments(request), options, JSON.stringify(request.values));
  return result.ok ? { ok: true, manifests: result.stdout } : { ok: false, error: result.error };
}
