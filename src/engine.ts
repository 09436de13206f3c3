import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pLimit from 'p-limit';
import picomatch from 'picomatch';
import { checkRemediation } from './checks/helmrelease-remediation.js';
import { fenceWarning, unfollowedLinks } from './checks/revision-safety.js';
import { judgeUncheckedSource } from './checks/source-moved.js';
import { networkFence } from './tools/sandbox.js';
import { checkContainerFlags, containerSlot, type CatalogLookups, type PreviousRender } from './checks/container-flags.js';
import { CONFIG_FILE, loadConfig, parseConfig, type GuardConfig } from './config.js';
import { GuardError } from './errors.js';
import { atOrAbove, findingKey, SEVERITY_RANK, type DraftFinding, type Finding, type Severity, type Verdict } from './findings.js';
import { CatalogStore, DEFAULT_HELP_DIR, registryOf, repositoryOf } from './flags/store.js';
import { RegistryCapturer } from './flags/capture-image.js';
import { parseImageRef, type ImageRef } from './flags/image-ref.js';
import { loadCredentials } from './registry/credentials.js';
import type { CatalogLookup } from './flags/store.js';
import type { RepoInventory } from './flux/discover.js';
import { applyRevisions } from './flux/apply-revisions.js';
import { escalateRemovedSources } from './flux/kustomize-apply.js';
import { kustomizeRuns } from './flux/kustomize-build.js';
import { releaseFingerprint } from './flux/fingerprint.js';
import { describeRelease, isHelmRelease, isSupportedHelmReleaseVersion, readHelmRelease, type HelmRelease } from './flux/helmrelease.js';
import { locationOf } from './flux/objects.js';
import { renderRelease, type RenderOutcome } from './flux/render.js';
import { CommitSnapshot, defaultBase, normalizeDir, remoteUrls, repositoryRoot, resolveCommit, WorktreeSnapshot, type Snapshot } from './git/repo.js';
import { resolveHelm } from './helm/binary.js';
import { urlHost } from './helm/guarded-fetch.js';
import type { RangePulls } from './helm/pull.js';
import { RenderCache } from './helm/render-cache.js';
import { SchemaVerdicts } from './checks/schema-verdicts.js';
import { assembleReport } from './report/assemble.js';
import { redactReport, sensitiveEnvironment } from './report/redact.js';
import { checkMultiSite } from './checks/deploy-multi-site.js';
import { checkSiteHealth } from './checks/deploy-site-unhealthy.js';
import { checkUnsafeSettings } from './checks/deploy-unsafe-settings.js';
import { evaluateDeploy } from './deploy/evaluate.js';
import type { ApprovalsLookup } from './deploy/approvals.js';
import type { DeployPlan } from './deploy/plan.js';
import type { DeployCheckInput } from './deploy/policy.js';

export interface CheckOptions {
  cwd: string;
  base?: string;
  /** Omitted: the working tree (uncommitted changes included). */
  head?: string;
  /** Check every HelmRelease, not only those the change affects. */
  all?: boolean;
  failOn?: Severity;
  cacheDir?: string;
  /** Repository-relative path of the policy file (default .guard.yaml). */
  configFile?: string;
  /** Do not read or write the on-disk render cache. */
  noCache?: boolean;
  /** Check only this deterministic share of the affected work (1-based index of total). */
  shard?: { index: number; total: number };
  /** Called as releases finish, for a progress display. */
  onProgress?: (progress: { done: number; total: number; current: string }) => void;
  /** Who approved the head commit on the forge (pull request runs); a deploy override trailer counts only with it. */
  approvals?: ApprovalsLookup;
  /** No network for charts: ranges from the chart cache, a chart not in it is "could not check" (as charts.resolve: cached). */
  offline?: boolean;
}

export interface Timings {
  /** Milliseconds per phase. */
  discoverMs: number;
  renderAndCheckMs: number;
  deployMs: number;
  totalMs: number;
  helmRenders: number;
  renderCacheHits: number;
  /** `kubectl kustomize` runs this check started (a build shared by base and head, or read from the cache, is not one). */
  kustomizeBuilds: number;
  /** Both revisions as Flux applies them came from the cache (a rerun of the same revisions): nothing parsed or built. */
  appliedFromCache: boolean;
}

export interface RevisionInfo {
  ref: string;
  sha: string;
}

export interface ReleaseStatus {
  namespace: string;
  name: string;
  file: string;
  /**
   * rendered: rendered and checked; failed: could not be rendered, so nothing in it was checked;
   * not-checked: deliberately not rendered (a source that is not this repository); unchanged: not affected.
   */
  status: 'rendered' | 'failed' | 'not-checked' | 'unchanged';
  containers: number;
  /** The folder of its root Flux Kustomization's file: the same namespace/name in two clusters is two releases. */
  cluster?: string;
}

export interface DeployPlanSummary {
  tool: string;
  targets: Array<{
    node: string;
    hostname: string;
    site?: string;
    siteSource: string;
    groups: Record<string, string>;
    change: 'changed' | 'added' | 'removed' | 'unchanged';
    contacted: boolean;
    profiles: Array<{ profile: string; before?: string; after?: string }>;
  }>;
}

export interface Report {
  version: 1;
  tool: { name: 'gitops-guard'; version: string };
  base: RevisionInfo;
  head: RevisionInfo;
  policy: string;
  failOn: Severity;
  findings: Finding[];
  releases: ReleaseStatus[];
  /** The NixOS deploy plan, when the repository has deploy targets. */
  deploy?: DeployPlanSummary;
  /** Set when this report covers one shard of the work (merge the shards with `guard report merge`). */
  shard?: { index: number; total: number };
  summary: {
    errors: number;
    warnings: number;
    notices: number;
    introduced: number;
    /** Findings at or above failOn. */
    blocking: number;
    /** releasesChecked + releasesFailed + releasesNotChecked + releasesUnchanged. */
    releasesTotal: number;
    /** Rendered and checked. */
    releasesChecked: number;
    releasesFailed: number;
    releasesNotChecked: number;
    releasesUnchanged: number;
    verdict: Verdict;
  };
}

const TOOL_VERSION = '0.1.0';

/** Only the deploy plan (for `guard targets`), without rendering HelmReleases. */
export async function deployPlan(options: Pick<CheckOptions, 'cwd' | 'base' | 'head'>): Promise<DeployPlanSummary | undefined> {
  const { root, baseInfo, headSnapshot, baseSnapshot } = await openRevisions(options);
  const { config } = await loadConfig(baseSnapshot, headSnapshot);
  const evaluation = await evaluateDeploy(
    { root, baseSha: baseInfo.sha, headRev: options.head ? headSnapshot.id : undefined, base: baseSnapshot, head: headSnapshot },
    config.deploy ?? {},
    { cacheDir: path.join(defaultCacheDir(), 'deploy'), networkAllowedHosts: config.network?.allowedHosts },
  );
  if (evaluation.kind === 'none') return undefined;
  if (evaluation.kind === 'failed') throw new GuardError(evaluation.findings.map((f) => `${f.message}\n${(f.evidence ?? []).join('\n')}`).join('\n'));
  return describePlan(evaluation.input.plan);
}

async function openRevisions(options: Pick<CheckOptions, 'cwd' | 'base' | 'head'>) {
  const root = await repositoryRoot(options.cwd);
  const baseInfo = options.base
    ? { ref: options.base, sha: await resolveCommit(root, options.base) }
    : await defaultBase(root).then((b) => ({ ref: `merge-base with ${b.ref}`, sha: b.sha }));
  const headSnapshot: Snapshot = options.head
    ? new CommitSnapshot(root, await resolveCommit(root, options.head), options.head)
    : new WorktreeSnapshot(root);
  const headInfo = { ref: options.head ?? 'working tree', sha: options.head ? headSnapshot.id : await resolveCommit(root, 'HEAD') };
  const baseSnapshot = new CommitSnapshot(root, baseInfo.sha, `base ${baseInfo.sha.slice(0, 12)}`);
  return { root, baseInfo, headInfo, headSnapshot, baseSnapshot };
}

export async function runCheck(options: CheckOptions): Promise<Report> {
  return (await checkRevisions(options)).report;
}

export interface CheckResult {
  report: Report;
  timings: Timings;
  /** Values from Secrets: already removed from the report; reporters that show source lines must redact them too. */
  secrets: string[];
  /** How the run went where the report does not say: the nix version, why the fleet was (not) evaluated. */
  log: string[];
}

export async function checkRevisions(options: CheckOptions): Promise<CheckResult> {
  const started = performance.now();
  const kustomizeBefore = kustomizeRuns.count;
  const { root, baseInfo, headInfo, headSnapshot, baseSnapshot } = await openRevisions(options);
  const configFile = options.configFile ?? CONFIG_FILE;
  const { config, source: policy } = await loadConfig(baseSnapshot, headSnapshot, configFile);
  const failOn = options.failOn ?? config.failOn ?? 'error';

  const cacheDir = options.cacheDir ?? defaultCacheDir();
  const scratchDir = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-run-'));
  try {
    const remotes = await remoteUrls(root);
    const { base: baseBuilt, head: headBuilt, identity: repositoryIdentity, fromCache: appliedFromCache } = await applyRevisions(baseSnapshot, headSnapshot, {
      root,
      remoteUrls: remotes,
      configFile,
      helpDir: config.flags?.helpDir ?? DEFAULT_HELP_DIR,
      all: options.all === true,
      gitRepositories: config.gitRepositories ?? {},
      clusterObjects: config.cluster?.objects ?? [],
      timeoutMs: (config.helm?.timeoutSeconds ?? 120) * 1000,
      scratchDir,
      ...(options.noCache ? {} : { cacheDir }),
    });
    escalateRemovedSources(baseBuilt.substitutionSources, headBuilt.substitutionSources);
    const baseInventory = baseBuilt.inventory;
    const headInventory = headBuilt.inventory;
    const discovered = performance.now();
    const firstShard = !options.shard || options.shard.index === 1;
    const drafts: { head: DraftFinding[]; base: DraftFinding[] } = { head: [], base: [] };
    const secrets = new Set<string>([...baseBuilt.secrets, ...headBuilt.secrets]);
    if (firstShard) {
      drafts.head.push(...yamlFindings(headInventory), ...headBuilt.findings);
      drafts.base.push(...yamlFindings(baseInventory), ...baseBuilt.findings);
      drafts.head.push(...(await policyNotices(baseSnapshot, headSnapshot, configFile)));
      drafts.head.push(...(await helpFileNotices(baseSnapshot, headSnapshot, config.flags?.helpDir ?? DEFAULT_HELP_DIR)));
      drafts.head.push(...(await unfollowedLinks(headSnapshot)), ...fenceWarning(networkFence()));
      drafts.base.push(...(await unfollowedLinks(baseSnapshot)), ...fenceWarning(networkFence()));
    }

    const headReleases = helmReleases(headInventory, firstShard ? drafts.head : []).filter((r) => inShard(releaseKey(r), options.shard));
    if (headReleases.length > 0) await resolveHelm();
    const baseReleases = new Map(helmReleases(baseInventory, []).map((r) => [releaseKey(r), r]));
    const guardFilesChanged = await guardPolicyChanged(baseSnapshot, headSnapshot, config, configFile);

    // One more than the cores: while helm renders on every core, the guard prepares the next call.
    const limit = pLimit(config.helm?.concurrency ?? os.availableParallelism() + 1);
    const helmOptions = { homeDir: path.join(cacheDir, 'helm-home'), timeoutMs: (config.helm?.timeoutSeconds ?? 120) * 1000 };
    const renderCache = new RenderCache(options.noCache ? undefined : path.join(cacheDir, 'renders'));
    const schemaVerdicts = new SchemaVerdicts(options.noCache ? undefined : path.join(cacheDir, 'schema-verdicts'));
    const rangePulls: RangePulls = new Map();
    const contextFor = (snapshot: Snapshot, inventory: RepoInventory, label: string) => ({
      snapshot,
      inventory,
      scratchDir: path.join(scratchDir, label),
      cacheDir,
      helm: helmOptions,
      gitRepositories: config.gitRepositories ?? {},
      repoRoot: root,
      isAllowedUrl: allowedHosts(baseInventory, config),
      renderCache,
      schemaVerdicts,
      rangePulls,
      remoteUrls: remotes,
      // A chart from the GitRepository the root Kustomizations build from is this repository's, whatever its URL.
      rootSources: snapshot === headSnapshot ? headBuilt.rootSources : baseBuilt.rootSources,
      repositoryIdentity,
      clusterObjects: config.cluster?.objects,
      charts: { ...config.charts, ...(options.offline ? { resolve: 'cached' as const } : {}) },
      // Rendering the head, an object the base had and the head lacks was removed by this change.
      ...(snapshot === headSnapshot ? { baseInventory } : {}),
    });
    const headContext = contextFor(headSnapshot, headInventory, 'head');
    const baseContext = contextFor(baseSnapshot, baseInventory, 'base');
    const settings = { kubeVersion: config.helm?.kubeVersion, apiVersions: config.helm?.apiVersions };
    const catalogs = await catalogStore(config, baseSnapshot, headSnapshot, { offline: options.offline, cacheDir: options.noCache ? undefined : cacheDir });

    const releases: ReleaseStatus[] = [];
    // HelmReleases of Kustomizations the change cannot reach: unchanged by proof, named as written.
    for (const r of headBuilt.unbuilt.releases) if (inShard(r.cluster ? `${r.cluster}|${r.namespace}/${r.name}` : `${r.namespace}/${r.name}`, options.shard)) releases.push({ ...r, status: 'unchanged', containers: 0 });
    if (firstShard) {
      // A HelmRelease of an API version the guard cannot render is still one of the releases: not checked, and counted.
      for (const object of headInventory.objects.filter((o) => isHelmRelease(o) && !isSupportedHelmReleaseVersion(o))) {
        releases.push({ namespace: object.namespace ?? 'default', name: object.name, file: object.file, status: 'not-checked', containers: 0, ...clusterOf(object.cluster) });
      }
    }
    let deployDone = discovered;
    const deployRun = (firstShard
      ? evaluateDeploy(
          { root, baseSha: baseInfo.sha, headRev: options.head ? headSnapshot.id : undefined, base: baseSnapshot, head: headSnapshot },
          config.deploy ?? {},
          { approvals: options.approvals, networkAllowedHosts: config.network?.allowedHosts, ...(options.noCache ? {} : { cacheDir: path.join(cacheDir, 'deploy') }) },
        )
      : Promise.resolve({ kind: 'none' } as const)
    ).finally(() => (deployDone = performance.now()));
    // Awaited after the renders: a rejection before then must not crash the process as unhandled.
    deployRun.catch(() => undefined);
    let done = 0;
    await Promise.all(
      headReleases.map(async (release) => {
        const key = releaseKey(release);
        const baseRelease = baseReleases.get(key);
        const status: ReleaseStatus = { namespace: release.namespace, name: release.name, file: release.object.file, status: 'unchanged', containers: 0, ...clusterOf(release.object.cluster) };
        releases.push(status);
        if (!options.all && baseRelease && !guardFilesChanged) {
          const [before, after] = await Promise.all([
            releaseFingerprint(baseRelease, baseInventory, baseSnapshot),
            releaseFingerprint(release, headInventory, headSnapshot),
          ]);
          if (before === after) return;
        }
        const [headRendered, baseOutcome] = await Promise.all([
          limit(() => renderSafely(release, headContext, { ...settings, action: baseRelease ? 'upgrade' : 'install' })),
          baseRelease ? limit(() => renderSafely(baseRelease, baseContext, { ...settings, action: 'upgrade' })) : Promise.resolve(undefined),
        ]);
        for (const outcome of [headRendered, baseOutcome]) outcome?.secrets.forEach((s) => secrets.add(s));
        const headOutcome = judgeUncheckedSource(headRendered, baseOutcome);
        status.status = headOutcome.ok ? 'rendered' : headOutcome.notChecked ? 'not-checked' : 'failed';
        status.containers = headOutcome.ok ? headOutcome.rendered.containers.length : 0;
        const baseRepositories = repositoriesOf(baseOutcome);
        drafts.head.push(...inCluster(release, [...(await findingsOf(headOutcome, release, catalogs, baseRepositories, baseOutcome)), ...checkRemediation(release)]));
        if (baseRelease) drafts.base.push(...inCluster(baseRelease, checkRemediation(baseRelease)));
        if (baseOutcome && baseRelease) drafts.base.push(...inCluster(baseRelease, await findingsOf(baseOutcome, baseRelease, catalogs, baseRepositories)));
        options.onProgress?.({ done: ++done, total: headReleases.length, current: describeInCluster(release) });
      }),
    );
    const rendered = performance.now();

    const deployment = await deployRun;
    if (deployment.kind !== 'none') drafts.head.push(...deployment.findings);
    if (deployment.kind !== 'none') drafts.base.push(...deployment.baseFindings);
    if (deployment.kind === 'planned') drafts.head.push(...runDeployChecks(deployment.input));
    if (firstShard) drafts.head.push(...vanishedReleases(helmReleases(headInventory, []).length, [...baseReleases.values()], baseInfo.sha));
    const marked = markIntroduced(drafts.head, drafts.base);
    const findings = applyRuleSettings(marked, config);
    findings.push(...uncheckedReleaseFloor(releases, marked, findings, configFile));
    const deploy = deployment.kind === 'planned' ? describePlan(deployment.input.plan) : undefined;
    const report = assembleReport({
      tool: { name: 'gitops-guard', version: TOOL_VERSION },
      base: baseInfo,
      head: headInfo,
      policy,
      failOn,
      findings,
      releases,
      ...(deploy ? { deploy } : {}),
      ...(options.shard ? { shard: options.shard } : {}),
    });
    for (const value of sensitiveEnvironment(process.env)) secrets.add(value);
    const timings: Timings = {
      discoverMs: Math.round(discovered - started),
      renderAndCheckMs: Math.round(rendered - discovered),
      deployMs: Math.round(deployDone - discovered),
      totalMs: Math.round(performance.now() - started),
      helmRenders: renderCache.misses,
      renderCacheHits: renderCache.hits,
      kustomizeBuilds: kustomizeRuns.count - kustomizeBefore,
      appliedFromCache,
    };
    return { report: redactReport(report, [...secrets], sensitiveEnvironment(process.env)), secrets: [...secrets], timings, log: ('log' in deployment ? deployment.log : undefined) ?? [] };
  } finally {
    await fs.rm(scratchDir, { recursive: true, force: true });
  }
}

/** Tokens and keys in the guard's own environment never reach a report (see report/redact.ts). */
export { sensitiveEnvironment };

export function defaultCacheDir(): string {
  if (process.env.GUARD_CACHE_DIR) return process.env.GUARD_CACHE_DIR;
  const xdg = process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache');
  return path.join(xdg, 'gitops-guard');
}

/**
 * Hosts the guard may fetch charts from: those of the HelmRepositories and OCIRepositories in the base
 * revision and `network.allowedHosts` of the base policy. A change cannot make the guard contact a new host.
 */
export function allowedHosts(baseInventory: RepoInventory, config: GuardConfig): (url: string) => boolean {
  const hosts = new Set<string>();
  for (const object of baseInventory.objects) {
    if (object.kind !== 'HelmRepository' && object.kind !== 'OCIRepository') continue;
    const url = (object.body.spec as { url?: unknown } | undefined)?.url;
    if (typeof url === 'string') hosts.add(urlHost(url));
  }
  const patterns = (config.network?.allowedHosts ?? []).map((p) => picomatch(p, { nocase: true }));
  return (url) => {
    const host = urlHost(url);
    return host !== '' && (hosts.has(host) || patterns.some((matches) => matches(host)));
  };
}

function runDeployChecks(input: DeployCheckInput): DraftFinding[] {
  return [...checkMultiSite(input), ...checkUnsafeSettings(input), ...checkSiteHealth(input)];
}

function describePlan(plan: DeployPlan): DeployPlanSummary {
  return {
    tool: plan.tool,
    targets: plan.targets.map((t) => ({
      node: t.node.name,
      hostname: t.node.hostname,
      ...(t.site ? { site: t.site } : {}),
      siteSource: t.siteSource,
      groups: t.groups,
      change: t.change,
      contacted: t.contacted,
      profiles: t.changedProfiles.map((p) => ({ profile: p.profile, ...(p.before ? { before: p.before } : {}), ...(p.after ? { after: p.after } : {}) })),
    })),
  };
}

export function helmReleases(inventory: RepoInventory, findings: DraftFinding[]): HelmRelease[] {
  const releases: HelmRelease[] = [];
  for (const object of inventory.objects.filter(isHelmRelease)) {
    if (!isSupportedHelmReleaseVersion(object)) {
      findings.push({
        rule: 'helmrelease/unsupported-api-version',
        severity: 'warning',
        message: `HelmRelease ${object.namespace ?? 'default'}/${object.name} uses ${object.apiVersion}, which the guard does not render (supported: v2, v2beta2, v2beta1)`,
        location: locationOf(object, ['apiVersion']),
        subject: { kind: 'HelmRelease', namespace: object.namespace ?? 'default', name: object.name, ...clusterOf(object.cluster) },
      });
      continue;
    }
    releases.push(readHelmRelease(object));
  }
  return releases;
}

/** A release across revisions and shards: the same namespace/name in two clusters is two releases. */
export function releaseKey(release: HelmRelease): string {
  const id = `${release.namespace}/${release.name}`;
  return release.object.cluster === undefined ? id : `${release.object.cluster}|${id}`;
}

function clusterOf(cluster: string | undefined): { cluster?: string } {
  return cluster === undefined ? {} : { cluster };
}

function describeInCluster(release: HelmRelease): string {
  return `${release.namespace}/${release.name}${release.object.cluster === undefined ? '' : ` (${release.object.cluster})`}`;
}

/** The release's findings name its cluster, so the same finding in two clusters is two findings. */
function inCluster(release: HelmRelease, findings: DraftFinding[]): DraftFinding[] {
  const cluster = release.object.cluster;
  if (cluster === undefined) return findings;
  const own = (s: DraftFinding['subject']) => s.kind === 'HelmRelease' && s.namespace === release.namespace && s.name === release.name;
  return findings.map((f) => (own(f.subject) ? { ...f, subject: { ...f.subject, cluster } } : f));
}

/** Deterministic partition: a release always lands in the same shard, whatever else changes. */
export function inShard(key: string, shard: { index: number; total: number } | undefined): boolean {
  if (!shard || shard.total <= 1) return true;
  const bucket = parseInt(createHash('sha256').update(key).digest('hex').slice(0, 8), 16) % shard.total;
  return bucket === shard.index - 1;
}

/** A crash while rendering one release becomes that release's finding; the others still run. */
export async function renderSafely(release: HelmRelease, context: Parameters<typeof renderRelease>[1], settings: Parameters<typeof renderRelease>[2]): Promise<RenderOutcome> {
  try {
    return await renderRelease(release, context, settings);
  } catch (error) {
    if (error instanceof GuardError && !error.location) throw error;
    const message = error instanceof Error ? error.message : String(error);
    return { ok: false, secrets: [], failures: [{ rule: 'render/failed', message: `rendering crashed: ${message}`, location: release.locations.name }] };
  }
}

/**
 * Where an image's flags are checked against: help recorded at the base revision, or taken from the
 * image itself (flags.capture, default auto) from registries the base policy allows.
 */
async function catalogStore(config: GuardConfig, base: Snapshot, head: Snapshot, options: { offline?: boolean; cacheDir?: string }): Promise<CatalogStore> {
  const helpDir = config.flags?.helpDir ?? DEFAULT_HELP_DIR;
  const common = { helpDir, images: config.flags?.images, base, head };
  if (config.flags?.capture === 'off') return new CatalogStore(common);
  // Repositories with help recorded at base: <helpDir>/<registry>/<path>/<tag>.txt.
  const prefix = `${normalizeDir(helpDir)}/`;
  const recorded = new Set((await base.listFiles()).filter((f) => f.startsWith(prefix)).map((f) => repositoryOf(parseImageRef(path.posix.dirname(f.slice(prefix.length))))));
  const networkAllowed = (config.network?.allowedHosts ?? []).map((p) => picomatch(p, { nocase: true }));
  const patterns = [...(config.flags?.registries ?? []).map((p) => picomatch(p, { nocase: true })), ...networkAllowed];
  const capturer = new RegistryCapturer({
    platform: config.flags?.platform,
    cacheDir: options.cacheDir,
    offline: options.offline,
    credentials: (await loadCredentials()).lookup,
    timeoutMs: config.flags?.captureTimeoutSeconds ? config.flags.captureTimeoutSeconds * 1000 : undefined,
    captureLimit: config.flags?.captureLimit,
    frameworkOf: (image) => config.flags?.images?.find((o) => picomatch(o.image, { bash: true })(image.repository))?.framework,
    isAllowedUrl: (url) => networkAllowed.some((matches) => matches(urlHost(url))),
  });
  const sourceAllowed = (image: ImageRef) => recorded.has(repositoryOf(image)) || patterns.some((matches) => matches(registryOf(image)) || matches(repositoryOf(image)));
  return new CatalogStore({ ...common, capturer, sourceAllowed });
}

/** Repositories of the images a release runs at the base revision: the guard may pull new tags of them. */
function repositoriesOf(baseOutcome: RenderOutcome | undefined): ReadonlySet<string> {
  return new Set((baseOutcome?.ok ? baseOutcome.rendered.containers : []).map((c) => repositoryOf(parseImageRef(c.image))));
}

async function findingsOf(outcome: RenderOutcome, release: HelmRelease, store: CatalogStore, baseRepositories: ReadonlySet<string>, before?: RenderOutcome): Promise<DraftFinding[]> {
  const subject = { kind: 'HelmRelease' as const, namespace: release.namespace, name: release.name };
  if (!outcome.ok) {
    return outcome.failures.map((failure) => ({
      rule: failure.rule,
      severity: failure.severity ?? 'error',
      message: `${describeRelease(release)}: ${failure.message}`,
      location: failure.location,
      subject,
      ...(failure.detail ? { evidence: [failure.detail] } : {}),
      ...(failure.suggestion ? { suggestion: failure.suggestion } : {}),
      ...(failure.identity ? { identity: failure.identity } : {}),
    }));
  }
  const lookups = new Map<string, CatalogLookup>();
  for (const container of outcome.rendered.containers) lookups.set(containerSlot(container), await store.lookup(container.image, container, { baseRepositories }));
  const warnings: DraftFinding[] = (outcome.warnings ?? []).map((warning) => ({
    rule: warning.rule,
    severity: warning.severity ?? 'warning',
    message: `${describeRelease(release)}: ${warning.message}`,
    location: warning.location,
    subject,
    ...(warning.suggestion ? { suggestion: warning.suggestion } : {}),
    ...(warning.identity ? { identity: warning.identity } : {}),
  }));
  let previous: PreviousRender | undefined;
  if (before?.ok) {
    const images = new Map(before.rendered.containers.map((c) => [containerSlot(c), c.image]));
    const previousCatalogs = new Map<string, CatalogLookup>();
    const headImages = new Map(outcome.rendered.containers.map((c) => [containerSlot(c), c.image]));
    // Only a container whose image this change replaces is compared with what it ran before.
    for (const container of before.rendered.containers) {
      const slot = containerSlot(container);
      if (headImages.has(slot) && headImages.get(slot) !== container.image) previousCatalogs.set(slot, await store.lookup(container.image, container, { baseRepositories }));
    }
    previous = { images, catalogs: previousCatalogs };
  }
  return [...warnings, ...checkContainerFlags(outcome.rendered, lookups as CatalogLookups, previous)];
}

function yamlFindings(inventory: RepoInventory): DraftFinding[] {
  return inventory.problems.map((problem) => ({
    rule: 'yaml/invalid',
    severity: 'error' as const,
    message: `${problem.location.path}: ${problem.message}`,
    location: problem.location,
    subject: { kind: 'Config' as const, name: problem.location.path },
  }));
}

async function policyNotices(base: Snapshot, head: Snapshot, configFile: string): Promise<DraftFinding[]> {
  const [before, after] = await Promise.all([base.readFile(configFile), head.readFile(configFile)]);
  if (!after || (before && before.equals(after))) return [];
  try {
    parseConfig(after.toString('utf8'), configFile);
  } catch (error) {
    if (!(error instanceof GuardError)) throw error;
    return [{
      rule: 'config/invalid',
      severity: 'error',
      message: `${configFile} in this revision is invalid and would stop the guard after merge: ${error.message}`,
      location: error.location ?? { path: configFile, line: 1 },
      subject: { kind: 'Config', name: configFile },
      suggestion: error.hint,
    }];
  }
  return [{
    rule: 'config/changed',
    severity: 'notice',
    message: before
      ? `${configFile} changes in this revision; this check used the base revision's policy, the new one applies after merge`
      : `${configFile} is new in this revision; it applies after merge`,
    location: { path: configFile, line: 1 },
    subject: { kind: 'Config', name: configFile },
  }];
}

/** Help outputs are policy too: an edited one is not trusted until it is merged. */
async function helpFileNotices(base: Snapshot, head: Snapshot, helpDir: string): Promise<DraftFinding[]> {
  const prefix = helpDir.replace(/\/$/, '') + '/';
  const baseFiles = (await base.listFiles()).filter((f) => f.startsWith(prefix));
  const headFiles = new Set((await head.listFiles()).filter((f) => f.startsWith(prefix)));
  const shared = baseFiles.filter((f) => headFiles.has(f));
  const added = [...headFiles].filter((f) => !baseFiles.includes(f));
  const [before, after] = await Promise.all([base.readFiles(shared), head.readFiles(shared)]);
  return [
    ...shared.filter((file) => !before.get(file)?.equals(after.get(file) ?? Buffer.alloc(0))).map((file) => ({ file, why: `${file} changes in this revision; this check used the base revision's help output, the new one applies after merge` })),
    ...added.map((file) => ({ file, why: `${file} is new in this revision; help outputs are ground truth only from the base revision, so it takes effect after merge (until then its image is checked as unverified)` })),
  ].map(({ file, why }) => ({ rule: 'config/help-changed', severity: 'notice' as const, message: why, location: { path: file, line: 1 }, subject: { kind: 'Config' as const, name: file } }));
}

/** A changed policy or help catalog can change any release's verdict. */
async function guardPolicyChanged(base: Snapshot, head: Snapshot, config: GuardConfig, configFile: string): Promise<boolean> {
  const helpDir = config.flags?.helpDir ?? DEFAULT_HELP_DIR;
  const [before, after] = await Promise.all([base.treeDigest(helpDir), head.treeDigest(helpDir)]);
  if (before !== after) return true;
  const [configBefore, configAfter] = await Promise.all([base.readFile(configFile), head.readFile(configFile)]);
  return !(configBefore ?? Buffer.alloc(0)).equals(configAfter ?? Buffer.alloc(0));
}

function markIntroduced(head: DraftFinding[], base: DraftFinding[]): Finding[] {
  const before = new Set(base.map(findingKey));
  return head.map((finding) => ({ ...finding, introduced: !before.has(findingKey(finding)) }));
}

/**
 * Rules that say what the guard did not check. A policy may raise them, never lower them below a
 * warning or switch them off: a release that was not checked cannot pass in silence.
 */
const GUARD_RAILS = new Set(['render/not-checked', 'render/no-releases']);

function applyRuleSettings(findings: Finding[], config: GuardConfig): Finding[] {
  const rules = config.rules ?? {};
  return findings.flatMap((finding) => {
    const setting = rules[finding.rule];
    if (GUARD_RAILS.has(finding.rule)) return [setting && setting !== 'off' && SEVERITY_RANK[setting] > SEVERITY_RANK[finding.severity] ? { ...finding, severity: setting } : finding];
    if (setting === 'off') return [];
    return [setting ? { ...finding, severity: setting } : finding];
  });
}

/**
 * A release that failed to render (or was deliberately not rendered) stays named in the findings,
 * whatever the policy did to the finding that says why: at least a warning for a failed render,
 * at least a notice for a release deliberately not checked.
 */
function uncheckedReleaseFloor(releases: ReleaseStatus[], before: Finding[], after: Finding[], configFile: string): Finding[] {
  const floor: Finding[] = [];
  for (const release of releases) {
    if (release.status !== 'failed' && release.status !== 'not-checked') continue;
    const about = (f: Finding) => f.subject.kind === 'HelmRelease' && f.subject.namespace === release.namespace && f.subject.name === release.name && f.subject.cluster === release.cluster;
    const least: Severity = release.status === 'failed' ? 'warning' : 'notice';
    if (after.some((f) => about(f) && atOrAbove(f.severity, least))) continue;
    const causes = [...new Set(before.filter(about).map((f) => f.rule))];
    const why = causes.length > 0 ? ` (${causes.join(', ')}: set to ${after.some(about) ? 'a lower severity' : 'off'} in ${configFile}; that changes the severity of the reason, not whether the release was checked)` : '';
    const source = before.find(about);
    floor.push({
      rule: 'render/not-checked',
      severity: least,
      message: `HelmRelease ${release.namespace}/${release.name}${release.cluster === undefined ? '' : ` (cluster ${release.cluster})`} was ${release.status === 'failed' ? 'not rendered' : 'deliberately not rendered'}, so nothing in it was checked${why}`,
      location: source?.location ?? { path: release.file, line: 1 },
      subject: { kind: 'HelmRelease', namespace: release.namespace, name: release.name, ...clusterOf(release.cluster) },
      introduced: source?.introduced ?? true,
    });
  }
  return floor;
}

/** A change after which the guard finds no HelmRelease at all, where the base had some, is said loudly. */
function vanishedReleases(headCount: number, base: HelmRelease[], baseSha: string): DraftFinding[] {
  const baseCount = base.length;
  if (headCount > 0 || baseCount === 0) return [];
  return [{
    rule: 'render/no-releases',
    severity: 'warning',
    message: `the base revision (${baseSha.slice(0, 12)}) has ${baseCount} HelmRelease(s) that Flux applies; this revision has none, so no HelmRelease was rendered or checked. If they were not removed on purpose, a Kustomization, a path or a file the change touches no longer reaches them`,
    location: { path: base[0]!.object.file, line: 1 },
    subject: { kind: 'Config', name: 'HelmReleases' },
  }];
}

