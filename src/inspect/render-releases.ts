import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pLimit from 'p-limit';
import { isMap, parseAllDocuments } from 'yaml';
import { loadConfig } from '../config.js';
import { allowedHosts, defaultCacheDir, helmReleases, renderSafely, sensitiveEnvironment } from '../engine.js';
import { GuardError } from '../errors.js';
import { discoverObjects } from '../flux/discover.js';
import { describeRelease, type HelmRelease } from '../flux/helmrelease.js';
import { applyFluxKustomizations } from '../flux/kustomize-apply.js';
import { CommitSnapshot, remoteUrls, repositoryRoot, resolveCommit, WorktreeSnapshot, type Snapshot } from '../git/repo.js';
import { RenderCache } from '../helm/render-cache.js';
import { REDACTED, redactFindings } from '../report/redact.js';

export interface ReleaseManifests {
  /** namespace/name. */
  key: string;
  /** The folder of its root Flux Kustomization's file: the same namespace/name in two clusters is two releases. */
  cluster?: string;
  title: string;
  /** The manifests Flux would apply, secrets redacted; undefined when rendering failed. */
  manifests?: string;
  error?: string;
}

export interface RevisionManifests {
  label: string;
  releases: ReleaseManifests[];
}

export interface RenderRevisionOptions {
  cwd: string;
  /** Commit to render; the working tree when absent. */
  rev?: string;
  /** HelmRelease names (`name` or `namespace/name`); all when empty. */
  names?: string[];
  cacheDir?: string;
}

/** Every selected HelmRelease of one revision, rendered as Flux would apply it (for `guard render` and `guard diff`). */
export async function renderRevision(options: RenderRevisionOptions): Promise<RevisionManifests> {
  const root = await repositoryRoot(options.cwd);
  const snapshot: Snapshot = options.rev ? new CommitSnapshot(root, await resolveCommit(root, options.rev), options.rev) : new WorktreeSnapshot(root);
  const { config } = await loadConfig(undefined, snapshot);
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  const scratchDir = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-render-'));
  try {
    const raw = await discoverObjects(snapshot);
    const remotes = await remoteUrls(root);
    const built = await applyFluxKustomizations(snapshot, raw, {
      scratchDir: path.join(scratchDir, 'kustomize'),
      gitRepositories: config.gitRepositories ?? {},
      repoRoot: root,
      timeoutMs: (config.helm?.timeoutSeconds ?? 120) * 1000,
      remoteUrls: remotes,
      clusterObjects: config.cluster?.objects ?? [],
    });
    const inventory = built.inventory;
    const selected = helmReleases(inventory, []).filter((release) => matchesAny(release, options.names ?? []));
    const unmatched = (options.names ?? []).filter((name) => !selected.some((release) => matchesAny(release, [name])));
    if (unmatched.length > 0) {
      const known = helmReleases(inventory, []).map((r) => `${r.namespace}/${r.name}`).join(', ') || 'none';
      throw new GuardError(`no HelmRelease named ${unmatched.join(', ')} at ${snapshot.label}`, undefined, `HelmReleases there: ${known}`);
    }
    const context = {
      snapshot,
      inventory,
      scratchDir: path.join(scratchDir, 'render'),
      cacheDir,
      helm: { homeDir: path.join(cacheDir, 'helm-home'), timeoutMs: (config.helm?.timeoutSeconds ?? 120) * 1000 },
      gitRepositories: config.gitRepositories ?? {},
      repoRoot: root,
      isAllowedUrl: allowedHosts(inventory, config),
      renderCache: new RenderCache(path.join(cacheDir, 'renders')),
      rangePulls: new Map(),
      remoteUrls: remotes,
      rootSources: built.rootSources,
      clusterObjects: config.cluster?.objects,
      charts: config.charts,
    };
    const settings = { kubeVersion: config.helm?.kubeVersion, apiVersions: config.helm?.apiVersions, keepManifests: true };
    const limit = pLimit(os.availableParallelism());
    const secrets = [...built.secrets, ...sensitiveEnvironment(process.env)];
    const releases = await Promise.all(
      selected.map((release) =>
        limit(async (): Promise<ReleaseManifests> => {
          const outcome = await renderSafely(release, context, settings);
          secrets.push(...outcome.secrets);
          const key = `${release.namespace}/${release.name}`;
          const cluster = release.object.cluster;
          const title = `${describeRelease(release)} (${release.object.file}${cluster === undefined ? '' : `, cluster ${cluster}`})`;
          const where = cluster === undefined ? {} : { cluster };
          if (!outcome.ok) return { key, ...where, title, error: outcome.failures.map((f) => `${f.location.path}:${f.location.line}: ${f.message}`).join('\n') };
          return { key, ...where, title: `${title}, chart ${outcome.rendered.chartDescription}`, manifests: redactSecretObjects(outcome.rendered.manifests ?? '') };
        }),
      ),
    );
    return { label: snapshot.label, releases: redactFindings(releases.sort((a, b) => a.key.localeCompare(b.key) || (a.cluster ?? '').localeCompare(b.cluster ?? '')), secrets) };
  } finally {
    await fs.rm(scratchDir, { recursive: true, force: true });
  }
}

function matchesAny(release: HelmRelease, names: string[]): boolean {
  return names.length === 0 || names.some((name) => name === release.name || name === `${release.namespace}/${release.name}`);
}

/** Rendered Secrets keep their keys, never their values. */
function redactSecretObjects(manifests: string): string {
  return parseAllDocuments(manifests)
    .map((document) => {
      if (isMap(document.contents) && document.get('kind') === 'Secret') {
        for (const field of ['data', 'stringData']) {
          const map = document.get(field);
          if (isMap(map)) for (const pair of map.items) map.set(pair.key, REDACTED);
        }
      }
      return document.toString({ lineWidth: 0 });
    })
    .join('');
}
