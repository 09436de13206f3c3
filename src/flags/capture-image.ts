import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pLimit from 'p-limit';
import picomatch from 'picomatch';
import type { FetchFailure, FetchPolicy } from '../helm/guarded-fetch.js';
import { captureImageHelp } from './capture-image-help.js';
import { pullImage, resolveImage, type PulledImage } from '../image/pull.js';
import { detectSandbox } from '../image/sandbox-run.js';
import type { CredentialLookup } from '../registry/credentials.js';
import { GuardError } from '../errors.js';
import { canonicalRegistry, registryApiHost } from '../registry/distribution.js';
import { memoized } from '../tools/memo.js';
import type { Framework } from './catalog.js';
import { HelpCache, TagCache } from './help-cache.js';
import { formatImage, type ImageRef } from './image-ref.js';
import { registryOf, type CaptureOutcome, type CapturedHelp, type ContainerCommand, type ImageCapturer } from './store.js';

export const DEFAULT_PLATFORM = 'linux/amd64';
/** Images a run may take from registries (resolved or pulled); past it, images are unverified with the reason. */
export const DEFAULT_CAPTURE_LIMIT = 20;

export interface RegistryCaptureSettings {
  /** Hosts the base policy allows besides an image's registry and its companions (network.allowedHosts). */
  isAllowedUrl?: (url: string) => boolean;
  platform?: string;
  /** Images (blobs by digest) and captured help, kept across runs. */
  cacheDir?: string;
  /** Only what the cache holds: no registry is contacted. */
  offline?: boolean;
  credentials?: CredentialLookup;
  timeoutMs?: number;
  memoryMB?: number;
  /** The framework to read an image's help as, when .guard.yaml names one. */
  frameworkOf?: (image: ImageRef) => Framework | undefined;
  /** Absolute time after which no request is started (the run's deadline). */
  deadline?: number;
  /** Distinct images this run may ask registries about (flags.captureLimit); default DEFAULT_CAPTURE_LIMIT. */
  captureLimit?: number;
  /** Time for the registry work of one image (resolving its tag, or pulling it); default 5 minutes. */
  imageTimeoutMs?: number;
}

/** A registry that answers a byte at a time holds one image this long at most; all of them, deadline (else 20 minutes from the first). */
const IMAGE_TIMEOUT_MS = 5 * 60_000;
const RUN_TIMEOUT_MS = 20 * 60_000;

/**
 * The image's own help, captured as the container would run: the image pulled from its registry
 * (by digest, every blob verified), the program found as Kubernetes starts it, its (sub)command's
 * --help run in a sandbox with no network. Kept by image digest, platform and command.
 */
export class RegistryCapturer implements ImageCapturer {
  private readonly help: HelpCache;
  private readonly tags: TagCache;
  /** Pulls and sandboxed runs at a time: each unpacks an image and starts a program. */
  private readonly limit = pLimit(2);
  /** Images this run asked registries about: a pull request naming hundreds of tags costs at most captureLimit of them. */
  private readonly asked = new Set<string>();
  private readonly resolved = new Map<string, Promise<CaptureOutcome<string>>>();

  private readonly deadline: number;

  constructor(private readonly settings: RegistryCaptureSettings) {
    this.help = new HelpCache(settings.cacheDir ? path.join(settings.cacheDir, 'help') : undefined);
    this.tags = new TagCache(settings.cacheDir ? path.join(settings.cacheDir, 'image-tags') : undefined);
    this.deadline = settings.deadline ?? Date.now() + RUN_TIMEOUT_MS;
  }

  /**
   * Where a tag points now. Asked for images whose help the base records (a moved tag), which the
   * base bounds: not counted against captureLimit, which bounds what the change itself names.
   */
  currentDigest(image: ImageRef): Promise<CaptureOutcome<string>> {
    return this.resolve(image, false);
  }

  private async resolve(image: ImageRef, counted: boolean): Promise<CaptureOutcome<string>> {
    if (image.digest) return { ok: true, value: image.digest };
    const key = formatImage(image);
    if (this.settings.offline) {
      // Where the tag pointed when a registry was last asked: the cache's view, as --offline promises.
      const known = await this.tags.get(key);
      return known ? { ok: true, value: known } : { ok: false, reason: 'offline, and no earlier run asked its registry where the tag points', unreachable: true };
    }
    if (counted && !this.resolved.has(key)) {
      const refused = this.admit(image);
      if (refused) return refused;
    }
    return memoized(this.resolved, key, async () => {
      const resolved = await resolveImage(image, { policy: this.policy(image), credentials: this.settings.credentials, cacheDir: this.imageCache() });
      if (!resolved.ok) return failure(resolved);
      await this.tags.put(key, resolved.digest);
      return { ok: true, value: resolved.digest };
    });
  }

  /**
   * Whether this run may still ask a registry about `image`: each distinct image counts once, up to
   * captureLimit. Past it the image is not verified, and the report says why (never a silent pass,
   * never hundreds of pulls for one pull request). Counted as could-not-check: the guard's limit,
   * not a defect of the change.
   */
  private admit(image: ImageRef): CaptureOutcome<never> | undefined {
    const key = `${image.repository}${image.digest ? `@${image.digest}` : `:${image.tag}`}`;
    const limit = this.settings.captureLimit ?? DEFAULT_CAPTURE_LIMIT;
    if (this.asked.has(key)) return undefined;
    if (this.asked.size >= limit) {
      return { ok: false, reason: `not taken from its registry: this run already took ${limit} images from registries, its limit (flags.captureLimit in .guard.yaml raises it, or record the help with guard flags capture)`, unreachable: true };
    }
    this.asked.add(key);
    return undefined;
  }

  async capture(image: ImageRef, container: ContainerCommand): Promise<CaptureOutcome<CapturedHelp>> {
    // The runner's shortcoming, not the change's: could-not-check.
    if (!detectSandbox()) return { ok: false, reason: 'there is no sandbox to run the image\'s binary in (install bubblewrap: apt-get install bubblewrap; or run Docker or Podman)', unreachable: true };
    const platform = this.settings.platform ?? DEFAULT_PLATFORM;
    const digest = await this.resolve(image, true);
    if (!digest.ok) return digest;
    const key = HelpCache.key({ digest: digest.value, platform, command: container.command, args: container.args, framework: this.settings.frameworkOf?.(image) });
    const cached = await this.help.get(key);
    if (cached) return { ok: true, value: cached };
    if (this.settings.offline) return { ok: false, reason: `offline, and its help was never captured into the cache (${formatImage(image)}@${digest.value})`, unreachable: true };
    const refused = this.admit(image);
    if (refused) return refused;
    return this.limit(() => this.pullAndRun(image, digest.value, platform, key, container));
  }

  private async pullAndRun(image: ImageRef, digest: string, platform: string, key: string, container: ContainerCommand): Promise<CaptureOutcome<CapturedHelp>> {
    const rootfsDir = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-image-'));
    try {
      const pulled = await pullImage({ ...image, digest }, { policy: this.policy(image), credentials: this.settings.credentials, cacheDir: this.imageCache(), platform, rootfsDir });
      if (!pulled.ok) return failure(pulled);
      const captured = await this.run(image, pulled, container);
      if (captured.ok) await this.help.put(key, captured.value);
      return captured;
    } finally {
      await fs.rm(rootfsDir, { recursive: true, force: true });
    }
  }

  private async run(image: ImageRef, pulled: PulledImage, container: ContainerCommand): Promise<CaptureOutcome<CapturedHelp>> {
    try {
      const help = await captureImageHelp({
        rootfs: pulled.rootfs,
        config: { Entrypoint: pulled.config.entrypoint, Cmd: pulled.config.cmd, Env: pulled.config.env, WorkingDir: pulled.config.workingDir },
        container,
        image: `${image.repository}@${pulled.digest}`,
        framework: this.settings.frameworkOf?.(image),
        timeoutMs: this.settings.timeoutMs,
        memoryMB: this.settings.memoryMB,
      });
      if (!help.ok) return { ok: false, reason: help.error };
      const command = [help.helpArgv, ...(help.globalFlagsArgv ? [help.globalFlagsArgv] : [])].map((argv) => argv.join(' ')).join('; ');
      return {
        ok: true,
        value: {
          text: help.text,
          provenance: { image: formatImage(image), digest: pulled.digest, platform: pulled.platform, command, method: help.method, captured: new Date().toISOString() },
          subcommand: help.subcommand,
        },
      };
    } catch (error) {
      if (error instanceof GuardError) return { ok: false, reason: error.message };
      throw error;
    }
  }

  private imageCache(): string | undefined {
    return this.settings.cacheDir;
  }

  /**
   * The image's registry (the caller decided it may be contacted) with its token service and blob
   * storage. Plain http only to a registry on this machine, as container runtimes allow by default.
   */
  private policy(image: ImageRef): FetchPolicy {
    const host = registryOf(image);
    const registry = registryAllowList([host]);
    const extra = this.settings.isAllowedUrl;
    return { isAllowedUrl: (url) => registry(url) || (extra?.(url) ?? false), deadline: Math.min(this.deadline, Date.now() + (this.settings.imageTimeoutMs ?? IMAGE_TIMEOUT_MS)), allowPlainHttp: isLoopbackHost(host) };
  }
}

function failure(fetched: FetchFailure): CaptureOutcome<never> {
  return { ok: false, reason: fetched.error, unreachable: fetched.kind === 'unreachable' };
}

export function isLoopbackHost(host: string): boolean {
  const name = host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '').toLowerCase();
  return name === 'localhost' || name === '::1' || /^127\.\d+\.\d+\.\d+$/.test(name);
}

/**
 * Hosts a registry sends its clients to: its API host, token service and blob storage. Allowing a
 * registry allows these; blobs are checked against their digest whatever host serves them.
 */
const REGISTRY_COMPANIONS: Record<string, string[]> = {
  'docker.io': ['registry-1.docker.io', 'auth.docker.io', 'production.cloudflare.docker.com'],
  'ghcr.io': ['pkg-containers.githubusercontent.com'],
  'quay.io': ['cdn.quay.io', 'cdn01.quay.io', 'cdn02.quay.io', 'cdn03.quay.io'],
  'registry.k8s.io': ['*.pkg.dev', '*.amazonaws.com'],
  'gcr.io': ['storage.googleapis.com'],
};

/**
 * The registries the guard may pull from, each with its companion hosts. A registry is one exact
 * host[:port] (an IPv6 `[::1]:5000` is no glob); only the companions, written here, are globs.
 */
export function registryAllowList(registries: Iterable<string>): (url: string) => boolean {
  const exact = new Set<string>();
  const patterns: string[] = [];
  for (const registry of registries) {
    const host = canonicalRegistry(registry);
    exact.add(host);
    if (host === 'docker.io') exact.add(registryApiHost(host));
    patterns.push(...(REGISTRY_COMPANIONS[host] ?? []));
  }
  const matchers = patterns.map((pattern) => picomatch(pattern, { nocase: true }));
  return (url: string) => {
    let host: string;
    try {
      host = new URL(url).host.toLowerCase();
    } catch {
      return false;
    }
    return exact.has(host) || matchers.some((match) => match(host));
  };
}
