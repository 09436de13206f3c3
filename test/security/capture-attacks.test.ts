import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { promises as fs, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runCheck } from '../../src/engine.js';
import { DEFAULT_CAPTURE_LIMIT, RegistryCapturer, registryAllowList } from '../../src/flags/capture-image.js';
import { validateArgs } from '../../src/flags/frameworks/registry.js';
import { HelpCache } from '../../src/flags/help-cache.js';
import { parseImageRef } from '../../src/flags/image-ref.js';
import { CatalogStore, registryOf, type CatalogLookup } from '../../src/flags/store.js';
import { DEFAULT_IMAGE_LIMITS, pullImage } from '../../src/image/pull.js';
import { applyLayer } from '../../src/image/rootfs.js';
import { runInSandbox, sandboxIdentity, SANDBOX_HOST_ID } from '../../src/image/sandbox-run.js';
import { loadCredentials } from '../../src/registry/credentials.js';
import { APP_CHART, appRelease } from '../support/capture-scenario.js';
import { TestRepo } from '../support/git-repo.js';
import { compileHelpProgram, hostileRegistry, memorySnapshot, type HostileReply } from '../support/hostile-registry.js';
import { buildImage, buildIndex, hostBinaryFiles, layerFromEntries, layerFromFiles, layerFromTar, type BuiltImage } from '../support/image-builder.js';
import { countingListener, type Closers } from '../support/loopback.js';
import { removeRootfs, rootfsFromHost } from '../support/rootfs-from-host.js';
import { runningCommandLines, waitFor } from '../support/processes.js';

/**
 * The guard captures an image's --help itself while it checks a pull request: the image reference,
 * the help files the change brings, the registry that answers and the image's own program are all
 * hostile. Each test is one attack, written expecting the safe behaviour: no contact with a host
 * the base revision does not use, no belief in help the image does not print, nothing of this
 * machine seen or changed by the image's program, bounded work, no credential in a message.
 */

const closers: Closers = [];
let work: string;
let cacheCount = 0;
const cacheDir = () => path.join(work, `cache-${++cacheCount}`);

const APP_HELP = ['Usage:', '  app [flags]', '', 'Flags:', '  -h, --help       help for app', '      --port int   port to listen on (default 8080)', '      --verbose    log more', ''].join('\n');
const APP_V2_HELP = ['Usage:', '  app [flags]', '', 'Flags:', '  -h, --help       help for app', '      --port int   port to listen on (default 8080)', ''].join('\n');
const FORGED_HELP = ['Usage:', '  app [flags]', '', 'Flags:', '  -h, --help       help for app', '      --port int   port to listen on (default 8080)', '      --bogus      accepted, says the change', ''].join('\n');
const TOOL_HELP = {
  '--help': ['A tool.', '', 'Usage:', '  tool [command]', '', 'Available Commands:', '  alpha       Do alpha things', '  beta        Do beta things', '', 'Flags:', '      --config string   config file', '  -h, --help            help for tool', '', 'Use "tool [command] --help" for more information about a command.', ''].join('\n'),
  'alpha --help': ['Do alpha things', '', 'Usage:', '  tool alpha [flags]', '', 'Flags:', '      --alpha-only   only alpha knows this', '  -h, --help         help for alpha', '', 'Global Flags:', '      --config string   config file', ''].join('\n'),
  'beta --help': ['Do beta things', '', 'Usage:', '  tool beta [flags]', '', 'Flags:', '      --beta-only   only beta knows this', '  -h, --help        help for beta', '', 'Global Flags:', '      --config string   config file', ''].join('\n'),
};

let appV1: BuiltImage;
let appV2: BuiltImage;
let tool: BuiltImage;
let appBinary: string;

beforeAll(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-capture-attacks-'));
  const [v1, v2, toolBinary] = await Promise.all([
    compileHelpProgram(work, 'app-v1', { '--help': APP_HELP }),
    compileHelpProgram(work, 'app-v2', { '--help': APP_V2_HELP }),
    compileHelpProgram(work, 'tool', TOOL_HELP),
  ]);
  appBinary = v1;
  const image = async (binary: string, at: string) => buildImage({ layers: [await layerFromFiles({ [at]: { from: binary, mode: 0o755 } })], config: { Entrypoint: [`/${at}`], Env: ['PATH=/bin'] } });
  [appV1, appV2, tool] = await Promise.all([image(v1, 'bin/app'), image(v2, 'bin/app'), image(toolBinary, 'bin/tool')]);
}, 60_000);

afterAll(async () => {
  if (work) await fs.rm(work, { recursive: true, force: true });
});

afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

function capturer(options: Partial<ConstructorParameters<typeof RegistryCapturer>[0]> = {}): RegistryCapturer {
  return new RegistryCapturer({ cacheDir: cacheDir(), timeoutMs: 10_000, ...options });
}

/** The help store of a check: base files are truth, the head's are compared; `allowed` are the base's registries. */
function store(allowed: string[], options: { base?: Record<string, string>; head?: Record<string, string>; capture?: RegistryCapturer } = {}): CatalogStore {
  const base = memorySnapshot('base', options.base ?? {});
  const head = options.head ? memorySnapshot('head', { ...(options.base ?? {}), ...options.head }) : base;
  return new CatalogStore({ base, head, capturer: options.capture ?? capturer(), sourceAllowed: (image) => allowed.includes(registryOf(image)) });
}

const found = (lookup: CatalogLookup) => {
  if (lookup.status !== 'found') throw new Error(`expected help, got ${JSON.stringify(lookup)}`);
  return lookup;
};
const flagNames = (lookup: CatalogLookup) => found(lookup).catalog.flags.map((f) => f.name);
const reasonOf = (lookup: CatalogLookup) => (lookup.status === 'missing' ? lookup.captureFailure?.reason ?? '' : JSON.stringify(lookup));

describe('hosts a pull request cannot make the guard contact', () => {
  it('an image reference with user info is no registry: nothing is contacted, nothing is believed', async () => {
    const registry = await hostileRegistry(closers);
    registry.serve('app/x', '1', appV1);
    const lookups = await Promise.all([
      `user:pw@${registry.host}/app/x:1`,
      `${registry.host}@sha256:${'a'.repeat(64)}`,
      `http://${registry.host}/app/x:1`,
    ].map((ref) => store([registry.host, 'docker.io', 'http:']).lookup(ref, { args: ['--port=1'] })));
    for (const lookup of lookups) expect(lookup.status).not.toBe('found');
    expect(registry.requests).toEqual([]);
  });

  it('another spelling of an allowed registry (localhost, a zero-padded port, a longer name) is not that registry', async () => {
    const registry = await hostileRegistry(closers);
    registry.serve('app/x', '1', appV1);
    const port = registry.host.split(':')[1]!;
    for (const ref of [`localhost:${port}/app/x:1`, `127.0.0.1:0${port}/app/x:1`, `127.0.0.1.nip.io:${port}/app/x:1`, `127.0.0.01:${port}/app/x:1`]) {
      const lookup = await store([registry.host]).lookup(ref, { args: ['--port=1'] });
      expect(lookup.status, ref).toBe('missing');
      expect(reasonOf(lookup), ref).toMatch(/is not an image repository the base revision runs|is not a valid image reference/);
    }
    expect(registry.requests).toEqual([]);
  });

  it('an allowed registry name plus a suffix, or inside user info, is another host', () => {
    const allowed = registryAllowList(['ghcr.io', 'docker.io']);
    for (const url of ['https://ghcr.io.evil.net/v2/', 'https://evilghcr.io/v2/', 'https://ghcr.io@evil.net/v2/', 'https://docker.io.evil.net/v2/', 'https://registry-1.docker.io.evil.net/v2/', 'https://auth.docker.io:8443/token', 'http://127.0.0.1/']) {
      expect(allowed(url), url).toBe(false);
    }
    expect(allowed('https://ghcr.io/v2/')).toBe(true);
    expect(allowed('https://registry-1.docker.io/v2/')).toBe(true);
  });

  it('Docker Hub under its other names is Docker Hub: allowed as one registry, its API host and token service with it', () => {
    for (const name of ['index.docker.io/library/nginx:1', 'registry-1.docker.io/library/nginx:1', 'docker.io/library/nginx:1', 'nginx:1', 'Docker.IO/library/nginx:1']) {
      expect(registryOf(parseImageRef(name)), name).toBe('docker.io');
    }
    const allowed = registryAllowList(['index.docker.io']);
    expect(allowed('https://registry-1.docker.io/v2/library/nginx/manifests/1')).toBe(true);
    expect(allowed('https://auth.docker.io/token')).toBe(true);
  });

  it('an IPv6 registry is matched as that host, not read as a glob', async () => {
    const registry = await hostileRegistry(closers, { ipv6: true });
    registry.serve('app/x', '1', appV1);
    const allowed = registryAllowList([registry.host]);
    expect(allowed(`http://${registry.host}/v2/`)).toBe(true);
    expect(allowed(`http://[::2]:${registry.host.split(':').at(-1)}/v2/`)).toBe(false);
    expect(flagNames(await store([registry.host]).lookup(`${registry.host}/app/x:1`, { args: ['--port=1'] }))).toContain('verbose');
    const other = await store([registry.host]).lookup(`[::1]:1/app/x:1`, { args: ['--port=1'] });
    expect(reasonOf(other)).toContain('is not an image repository the base revision runs');
  });

  it('a redirect from an allowed registry to another host: refused when that host is not allowed, and never with the credentials', async () => {
    const elsewhere = await countingListener(closers);
    const cdn = await hostileRegistry(closers);
    cdn.serve('app/x', '1', appV1);
    const registry = await hostileRegistry(closers);
    registry.serve('app/x', '1', appV1);
    const basic = `Basic ${Buffer.from('ci:hunter2-registry-password').toString('base64')}`;
    let target = elsewhere.host;
    registry.override = (pathname, request): HostileReply | undefined => {
      if (request.headers.authorization !== basic) return { status: 401, headers: { 'www-authenticate': 'Basic realm="r"' } };
      if (pathname.includes('/blobs/')) return { status: 307, headers: { location: `http://${target}${pathname}?X-Amz-Signature=presigned-secret-123456` } };
      return undefined;
    };
    const { lookup: credentials } = await loadCredentials({ dockerConfigDir: path.join(work, 'none'), env: { GUARD_REGISTRY_AUTH_X: `${registry.host} ci:hunter2-registry-password` } });
    const refused = await store([registry.host], { capture: capturer({ credentials }) }).lookup(`${registry.host}/app/x:1`, { args: ['--port=1'] });
    expect(reasonOf(refused)).toContain(`on host ${elsewhere.host}, which the base revision does not allow`);
    expect(reasonOf(refused)).not.toContain('presigned-secret');
    expect(elsewhere.connections()).toBe(0);

    target = cdn.host;
    const viaCdn = await store([registry.host], { capture: capturer({ credentials, isAllowedUrl: (url) => new URL(url).host === cdn.host }) }).lookup(`${registry.host}/app/x:1`, { args: ['--port=1'] });
    expect(flagNames(viaCdn)).toContain('verbose');
    expect(cdn.requests.length).toBeGreaterThan(0);
    expect(cdn.requests.map((r) => r.authorization)).toEqual(cdn.requests.map(() => undefined));
  });

  it('a token realm on a host off the allow-list, or with user info, is never asked', async () => {
    const elsewhere = await countingListener(closers);
    const registry = await hostileRegistry(closers);
    registry.serve('app/x', '1', appV1);
    for (const realm of [`http://${elsewhere.host}/token`, `http://ci:pw@${registry.host}/token`]) {
      registry.override = (pathname, request) => (pathname.startsWith('/v2/app') && !request.headers.authorization ? { status: 401, headers: { 'www-authenticate': `Bearer realm="${realm}",service="x"` } } : undefined);
      const lookup = await store([registry.host]).lookup(`${registry.host}/app/x:1`, { args: ['--port=1'] });
      expect(lookup.status).toBe('missing');
      expect(reasonOf(lookup)).not.toContain('ci:pw');
    }
    expect(elsewhere.connections()).toBe(0);
    expect(registry.requests.filter((r) => r.path.startsWith('/token'))).toEqual([]);
  });

  describe('in a check', () => {
    let repo: TestRepo | undefined;
    afterEach(async () => {
      await repo?.remove();
      repo = undefined;
    });

    it('a container moved to another repository of the same registry (anyone can push to ghcr.io) is not pulled: its author could choose the help', async () => {
      const registry = await hostileRegistry(closers);
      registry.serve('evil/a', '1', appV1);
      repo = await TestRepo.create();
      await repo.commit('base', { ...APP_CHART, 'apps/a.yaml': appRelease('a', [{ name: 'a', image: `${registry.host}/app/a:1`, args: ['--port=1'] }]), [`.guard/help/${registry.host}/app/a/1.txt`]: APP_HELP });
      await repo.branch('change');
      await repo.commit('change', { 'apps/a.yaml': appRelease('a', [{ name: 'a', image: `${registry.host}/evil/a:1`, args: ['--port=1', '--verbose'] }]) });
      const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir: cacheDir() });
      const finding = report.findings.find((f) => f.rule === 'container-flags/unverified-upgrade');
      expect(finding?.message).toContain(`${registry.host}/evil/a is not an image repository the base revision runs`);
      expect(report.summary.verdict).toBe('fail');
      expect(registry.requests.filter((r) => r.path.includes('/evil/'))).toEqual([]);
    });

    it('a new release cannot borrow the registry another release runs at base, and a help folder the change adds allows no host', async () => {
      const registry = await hostileRegistry(closers);
      registry.serve('app/a', '2', appV1);
      const added = await countingListener(closers);
      repo = await TestRepo.create();
      await repo.commit('base', { ...APP_CHART, 'apps/a.yaml': appRelease('a', [{ name: 'a', image: `${registry.host}/app/a:1`, args: ['--port=1'] }]) });
      await repo.branch('change');
      await repo.commit('change', {
        // The existing release moves to a new tag of its own registry: captured.
        'apps/a.yaml': appRelease('a', [{ name: 'a', image: `${registry.host}/app/a:2`, args: ['--port=1', '--verbose'] }]),
        // A new release on the same registry, and one on a host only a help folder of the change names.
        'apps/b.yaml': appRelease('b', [{ name: 'b', image: `${registry.host}/app/b:1`, args: ['--port=1'] }]),
        'apps/c.yaml': appRelease('c', [{ name: 'c', image: `${added.host}/app/c:1`, args: ['--port=1'] }]),
        [`.guard/help/${added.host}/app/c/1.txt`]: APP_HELP,
      });
      const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir: cacheDir() });
      const about = (name: string) => report.findings.filter((f) => f.subject.name === name && f.rule.startsWith('container-flags/'));
      expect(about('a').map((f) => f.rule)).toEqual([]);
      expect(registry.requests.some((r) => r.path === '/v2/app/a/manifests/2')).toBe(true);
      expect(about('b').map((f) => [f.rule, f.severity])).toEqual([['container-flags/unverified', 'warning']]);
      expect(about('b')[0]!.message).toContain(`${registry.host}/app/b is not an image repository the base revision runs`);
      expect(registry.requests.filter((r) => r.path.includes('/app/b/'))).toEqual([]);
      expect(about('c').map((f) => f.rule)).toEqual(['container-flags/unverified']);
      expect(about('c')[0]!.message).toContain(`.guard/help/${added.host}/app/c/1.txt comes with this change`);
      expect(added.connections()).toBe(0);
    });

    it('a program started through env or nice: the wrapper\'s help is not taken for the program\'s, and the container is never passed in silence', async () => {
      const registry = await hostileRegistry(closers);
      const env = await hostBinaryFiles('/usr/bin/env');
      const nice = await hostBinaryFiles('/usr/bin/nice');
      registry.serve('app/wrapped', '1', buildImage({ layers: [await layerFromFiles({ ...env, ...nice, 'bin/app': { from: appBinary, mode: 0o755 } })], config: { Entrypoint: ['/bin/app'], Env: ['PATH=/bin:/usr/bin'] } }));
      const image = `${registry.host}/app/wrapped:1`;
      const containers = (bad: boolean) => [
        { name: 'env', image, command: ['env', 'LOG=1', 'app', bad ? '--bogus' : '--verbose'] },
        { name: 'nice', image, command: ['nice', '-n', '5', '/bin/app', bad ? '--bogus' : '--verbose'] },
      ];
      repo = await TestRepo.create();
      await repo.commit('base', { ...APP_CHART, 'apps/w.yaml': appRelease('w', containers(false)) });
      await repo.branch('change');
      await repo.commit('change', { 'apps/w.yaml': appRelease('w', containers(true)) });
      const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir: cacheDir() });
      for (const name of ['env', 'nice']) {
        const findings = report.findings.filter((f) => f.subject.container === name && f.rule.startsWith('container-flags/'));
        // The wrapper's own help is no help of the program's: the container is said to be unverified (or its program checked), never passed in silence.
        expect(findings.map((f) => f.rule), name).not.toEqual([]);
        expect(findings.some((f) => f.rule === 'container-flags/unverified' || f.message.includes('--bogus')), name).toBe(true);
      }
    });

    it('flags.captureLimit of the base bounds a run: the images past it are unverified and say why', async () => {
      const registry = await hostileRegistry(closers);
      for (const name of ['c', 'd', 'e']) registry.serve(`app/${name}`, '1', appV1);
      repo = await TestRepo.create();
      await repo.commit('base', { ...APP_CHART, '.guard.yaml': `flags:\n  captureLimit: 1\n  registries: ["${registry.host}"]\n` });
      await repo.branch('change');
      await repo.commit('change', { 'apps/many.yaml': appRelease('many', ['c', 'd', 'e'].map((name) => ({ name, image: `${registry.host}/app/${name}:1`, args: ['--port=1'] }))) });
      const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir: cacheDir() });
      const unverified = report.findings.filter((f) => f.rule === 'container-flags/unverified');
      expect(unverified).toHaveLength(2);
      for (const finding of unverified) expect(finding.message).toContain('flags.captureLimit');
      expect(new Set(registry.requests.filter((r) => r.path.includes('/manifests/')).map((r) => r.path.split('/')[3]))).toHaveProperty('size', 1);
    });
  });
});

describe('help the guard must not believe', () => {
  it('a help file the change adds for a pinned digest, its header claiming that digest, is compared with the image', async () => {
    const registry = await hostileRegistry(closers);
    registry.serve('app/x', '1', appV1);
    const digest = appV1.digest;
    const file = `.guard/help/${registry.host}/app/x/${digest.replace(':', '-')}.txt`;
    const forged = `# gitops-guard help capture\n# image: ${registry.host}/app/x:1\n# digest: ${digest}\n# platform: linux/amd64\n# method: bubblewrap\n\n${FORGED_HELP}`;
    const lookup = found(await store([registry.host], { head: { [file]: forged } }).lookup(`${registry.host}/app/x@${digest}`, { args: ['--bogus'] }));
    expect(lookup.origin).toBe('captured');
    expect(lookup.catalog.flags.map((f) => f.name)).not.toContain('bogus');
    expect(lookup.conflict?.file).toBe(file);
    expect(validateArgs(lookup.catalog, ['--bogus']).map((p) => p.kind)).toEqual(['unknown-flag']);

    // Where the image cannot be captured, the file is not truth either.
    const unreachable = await store([], { head: { [file]: forged } }).lookup(`${registry.host}/app/x@${digest}`, { args: ['--bogus'] });
    expect(unreachable).toMatchObject({ status: 'missing', untrustedFile: file });
  });

  it('a tag pinned to the digest of another image is checked against that image, not the help recorded for the tag', async () => {
    const registry = await hostileRegistry(closers);
    registry.serve('app/x', '1', appV1);
    registry.serve('app/x', '2', appV2);
    const file = `.guard/help/${registry.host}/app/x/1.txt`;
    const header = `# gitops-guard help capture\n# image: ${registry.host}/app/x:1\n# digest: ${appV1.digest}\n\n`;
    // `app:1@<digest of 2>`: Kubernetes runs the digest, whose program has no --verbose.
    for (const recorded of [header + APP_HELP, APP_HELP]) {
      const lookup = found(await store([registry.host], { base: { [file]: recorded } }).lookup(`${registry.host}/app/x:1@${appV2.digest}`, { args: ['--verbose'] }));
      expect(lookup.catalog.flags.map((f) => f.name)).not.toContain('verbose');
      expect(lookup.origin).toBe('captured');
    }
    // The digest the tag is recorded for is that help's own.
    const same = found(await store([registry.host], { base: { [file]: header + APP_HELP } }).lookup(`${registry.host}/app/x:1@${appV1.digest}`, { args: ['--verbose'] }));
    expect(same.origin).toBe('recorded');
  });

  it('an image reference the runtime would refuse does not borrow the help of another image through its path', async () => {
    const registry = await hostileRegistry(closers);
    const otherHelp = `.guard/help/${registry.host}/trusted/tool/v1.txt`;
    const base = { [otherHelp]: FORGED_HELP, 'docs/notes.txt': FORGED_HELP };
    for (const ref of [`${registry.host}/../${registry.host}/trusted/tool:v1`, `${registry.host}/app/../../../docs/notes:txt`, `${registry.host}/App/X:1`]) {
      const lookup = await store([registry.host], { base }).lookup(ref, { args: ['--bogus'] });
      expect(lookup.status, ref).not.toBe('found');
    }
    expect(registry.requests).toEqual([]);
  });

  it('a tag that moves between resolving and pulling: the image pulled and run is the digest resolved', async () => {
    const registry = await hostileRegistry(closers);
    registry.serve('app/x', '1', appV1);
    registry.override = (pathname) => {
      // After the first answer for the tag, it points to another image.
      if (pathname === '/v2/app/x/manifests/1' && registry.requests.filter((r) => r.path === pathname).length > 1) return { status: 200, headers: { 'content-type': appV2.mediaType }, body: appV2.manifest };
      return undefined;
    };
    registry.serveBlob(appV2.configDigest, appV2.config);
    for (const layer of appV2.layers) registry.serveBlob(layer.digest, layer.data);
    const captured = await capturer().capture(parseImageRef(`${registry.host}/app/x:1`), { args: ['--verbose'] });
    if (!captured.ok) throw new Error(captured.reason);
    expect(captured.value.provenance.digest).toBe(appV1.digest);
    expect(captured.value.text).toContain('--verbose');
    const manifests = registry.requests.filter((r) => r.path.includes('/manifests/')).map((r) => r.path);
    expect(manifests.filter((p) => p.endsWith('/manifests/1'))).toHaveLength(1);
    expect(registry.requests.some((r) => r.path.includes(appV2.configDigest))).toBe(false);
  });

  it('the platform run is part of what the help is kept under: an arm64 capture is not served the amd64 help', async () => {
    const registry = await hostileRegistry(closers);
    const arm = buildImage({ platform: 'linux/arm64/v8', layers: appV2.layers, config: { Entrypoint: ['/bin/app'], Env: ['PATH=/bin'] } });
    registry.serve('app/multi', '1', buildIndex([{ ...appV1, platform: 'linux/amd64' }, arm]));
    const shared = cacheDir();
    const amd = await new RegistryCapturer({ cacheDir: shared }).capture(parseImageRef(`${registry.host}/app/multi:1`), { args: [] });
    const arm64 = await new RegistryCapturer({ cacheDir: shared, platform: 'linux/arm64/v8' }).capture(parseImageRef(`${registry.host}/app/multi:1`), { args: [] });
    expect(amd.ok && amd.value.text).toContain('--verbose');
    // This machine runs the arm64 binary only if it can (binfmt); either way it is not served amd64's help.
    if (arm64.ok) expect(arm64.value.text).not.toContain('--verbose');
  });

  it('help kept for one subcommand is not served for another (the cache key names the subcommand, not only the leading words)', async () => {
    const registry = await hostileRegistry(closers);
    registry.serve('app/tool', '1', tool);
    const help = store([registry.host]);
    const alpha = found(await help.lookup(`${registry.host}/app/tool:1`, { args: ['--config', 'x', 'alpha', '--alpha-only'] }));
    expect(alpha.subcommand).toEqual(['alpha']);
    const beta = found(await help.lookup(`${registry.host}/app/tool:1`, { args: ['--config', 'x', 'beta', '--alpha-only'] }));
    expect(beta.subcommand).toEqual(['beta']);
    expect(beta.catalog.flags.map((f) => f.name)).not.toContain('alpha-only');
  });

  it('a cache entry altered on disk, or moved under another image\'s key, is not believed', async () => {
    const registry = await hostileRegistry(closers);
    registry.serve('app/x', '1', appV1);
    registry.serve('app/x', '2', appV2);
    const dir = cacheDir();
    const first = await new RegistryCapturer({ cacheDir: dir }).capture(parseImageRef(`${registry.host}/app/x:1`), { args: [] });
    const second = await new RegistryCapturer({ cacheDir: dir }).capture(parseImageRef(`${registry.host}/app/x:2`), { args: [] });
    expect(first.ok && second.ok).toBe(true);
    const entries = (await fs.readdir(path.join(dir, 'help'), { recursive: true })).filter((f) => f.endsWith('.json')).map((f) => path.join(dir, 'help', f));
    expect(entries).toHaveLength(2);
    const v1Entry = entries.find((f) => readFileSync(f, 'utf8').includes('--verbose'))!;
    const v2Entry = entries.find((f) => f !== v1Entry)!;
    // v2's entry replaced by v1's (which knows --verbose), and v1's text edited in place.
    await fs.copyFile(v1Entry, v2Entry);
    await fs.writeFile(v1Entry, readFileSync(v1Entry, 'utf8').replace('log more', 'log less'));
    const again = new RegistryCapturer({ cacheDir: dir });
    const v2 = await again.capture(parseImageRef(`${registry.host}/app/x:2`), { args: [] });
    const v1 = await again.capture(parseImageRef(`${registry.host}/app/x:1`), { args: [] });
    expect(v2.ok && v2.value.text).not.toContain('--verbose');
    expect(v1.ok && v1.value.text).toContain('log more');
    expect(HelpCache.key({ digest: appV1.digest, platform: 'linux/amd64', args: ['a'] })).not.toBe(HelpCache.key({ digest: appV2.digest, platform: 'linux/amd64', args: ['a'] }));
  });
});

describe('offline', () => {
  it('resolves a tag to where it pointed when a registry was last asked, captures nothing new, and says "could not check" for the rest', async () => {
    const registry = await hostileRegistry(closers);
    registry.serve('app/x', '1', appV1);
    const dir = cacheDir();
    const online = await new RegistryCapturer({ cacheDir: dir }).capture(parseImageRef(`${registry.host}/app/x:1`), { args: [] });
    expect(online.ok).toBe(true);
    const before = registry.requests.length;
    const offline = new RegistryCapturer({ cacheDir: dir, offline: true });
    const again = await offline.capture(parseImageRef(`${registry.host}/app/x:1`), { args: [] });
    expect(again.ok && online.ok && again.value.text).toBe(online.ok && online.value.text);
    const unknown = await offline.capture(parseImageRef(`${registry.host}/app/x:2`), { args: [] });
    expect(unknown).toMatchObject({ ok: false, unreachable: true });
    expect(registry.requests.length).toBe(before);
  });
});

describe('what an image can do to the guard while pulled and unpacked', () => {
  it('a manifest with ten thousand layers is refused before any blob is fetched', async () => {
    const registry = await hostileRegistry(closers);
    const layer = appV1.layers[0]!;
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: appV1.configDigest, size: appV1.config.length }, layers: Array.from({ length: 10_000 }, () => ({ mediaType: layer.mediaType, digest: layer.digest, size: layer.size })) }));
    registry.serveManifest('app/x', '1', manifest, 'application/vnd.oci.image.manifest.v1+json');
    const lookup = await store([registry.host]).lookup(`${registry.host}/app/x:1`, { args: ['--port=1'] });
    expect(reasonOf(lookup)).toContain('10000 layers');
    expect(registry.requests.filter((r) => r.path.includes('/blobs/'))).toEqual([]);
  });

  it('a config blob bigger than it says, or huge, is not read whole', async () => {
    const registry = await hostileRegistry(closers);
    const big = Buffer.alloc(9 * 1024 * 1024, 0x20);
    const configDigest = `sha256:${createHash('sha256').update(big).digest('hex')}`;
    for (const [tag, size] of [['huge', big.length], ['lying', 100]] as const) {
      const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size }, layers: [] }));
      registry.serveManifest('app/x', tag, manifest, 'application/vnd.oci.image.manifest.v1+json');
    }
    registry.serveBlob(configDigest, big);
    for (const tag of ['huge', 'lying']) {
      const result = await pullImage(`${registry.host}/app/x:${tag}`, { policy: { isAllowedUrl: () => true, deadline: Date.now() + 10_000, allowPlainHttp: true }, rootfsDir: path.join(work, `config-${tag}`) });
      expect(result, tag).toMatchObject({ ok: false, kind: 'failed', error: expect.stringMatching(/more than the \d+ (bytes )?the guard accepts|bytes the guard accepts/) });
    }
  });

  it('gzip and zstd bombs and a layer of countless tiny files stop at the budget, quickly', async () => {
    const registry = await hostileRegistry(closers);
    const zeros = zlib.gunzipSync(await (async () => {
      const { craftTgz } = await import('../support/tar-craft.js');
      return craftTgz([{ name: 'zeros', size: 64 * 1024 * 1024 }]);
    })());
    const gzipBomb = await layerFromTar(zeros, 'gzip');
    const zstdBomb = await layerFromTar(zeros, 'zstd');
    expect(gzipBomb.size + zstdBomb.size).toBeLessThan(1024 * 1024);
    const tiny = await layerFromEntries(Array.from({ length: 3000 }, (_, i) => ({ name: `f/${i}`, data: '' })));
    const limits = { maxRootfsBytes: 16 * 1024 * 1024, maxEntries: 1000 };
    const started = Date.now();
    for (const [tag, layer, expected] of [['gzip', gzipBomb, 'more bytes'], ['zstd', zstdBomb, 'more bytes'], ['tiny', tiny, 'more files']] as const) {
      registry.serve('app/bomb', tag, buildImage({ layers: [layer], config: { Entrypoint: ['/zeros'] } }));
      const rootfsDir = path.join(work, `bomb-${tag}`);
      const result = await pullImage(`${registry.host}/app/bomb:${tag}`, { policy: { isAllowedUrl: () => true, deadline: Date.now() + 10_000, allowPlainHttp: true }, rootfsDir, limits });
      expect(result, tag).toMatchObject({ ok: false, error: expect.stringContaining(expected) });
      await fs.rm(rootfsDir, { recursive: true, force: true });
    }
    expect(Date.now() - started).toBeLessThan(10_000);
    // The defaults bound every image too.
    expect(DEFAULT_IMAGE_LIMITS.maxLayers).toBeLessThanOrEqual(128);
    expect(DEFAULT_IMAGE_LIMITS.maxEntries).toBeLessThanOrEqual(500_000);
    expect(DEFAULT_IMAGE_LIMITS.maxRootfsBytes).toBeLessThanOrEqual(4 * 1024 ** 3);
  });

  it('layers that are gigabytes of nothing (gzip empty blocks) are bounded by what is fetched, not only by what they unpack to', async () => {
    const registry = await hostileRegistry(closers);
    const { craftTgz } = await import('../support/tar-craft.js');
    const tar = zlib.gunzipSync(craftTgz([{ name: 'x', data: 'x' }]));
    const padded = (blocks: number) => {
      const empty = Buffer.from([0x00, 0x00, 0x00, 0xff, 0xff]);
      const last = Buffer.concat([Buffer.from([0x01]), Buffer.from(Uint16Array.of(tar.length, ~tar.length & 0xffff).buffer), tar]);
      const trailer = Buffer.alloc(8);
      trailer.writeUInt32LE(zlib.crc32(tar), 0);
      trailer.writeUInt32LE(tar.length, 4);
      return Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]), ...Array.from({ length: blocks }, () => empty), last, trailer]);
    };
    const layers = [0, 1, 2].map((i) => padded(60_000 + i)).map((data) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', data, digest: `sha256:${createHash('sha256').update(data).digest('hex')}`, size: data.length, diffId: `sha256:${createHash('sha256').update(tar).digest('hex')}` }));
    expect(zlib.gunzipSync(layers[0]!.data)).toEqual(tar);
    registry.serve('app/padded', '1', buildImage({ layers, config: { Entrypoint: ['/x'] } }));
    const result = await pullImage(`${registry.host}/app/padded:1`, { policy: { isAllowedUrl: () => true, deadline: Date.now() + 10_000, allowPlainHttp: true }, rootfsDir: path.join(work, 'padded'), limits: { maxDownloadBytes: 700_000 } });
    expect(result).toMatchObject({ ok: false, error: expect.stringContaining('bytes the guard fetches for one image') });
    expect(registry.requests.filter((r) => r.path.includes(layers[2]!.digest))).toEqual([]);
    expect(DEFAULT_IMAGE_LIMITS.maxDownloadBytes).toBeLessThanOrEqual(4 * 1024 ** 3);
  });

  it('a layer or index entry that names other URLs to fetch it from: only the registry is asked', async () => {
    const elsewhere = await countingListener(closers);
    const registry = await hostileRegistry(closers);
    const layer = appV1.layers[0]!;
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: appV1.configDigest, size: appV1.config.length }, layers: [{ mediaType: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip', digest: layer.digest, size: layer.size, urls: [`http://${elsewhere.host}/layer`] }] }));
    registry.serveManifest('app/foreign', '1', manifest, 'application/vnd.oci.image.manifest.v1+json');
    registry.serveBlob(appV1.configDigest, appV1.config);
    const lookup = await store([registry.host]).lookup(`${registry.host}/app/foreign:1`, { args: ['--port=1'] });
    expect(reasonOf(lookup)).toContain('404');
    expect(elsewhere.connections()).toBe(0);
  });

  it('a registry that answers a byte at a time holds a capture only so long', async () => {
    const http = await import('node:http');
    const server = http.createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' });
      const timer = setInterval(() => response.write(' '), 100);
      response.on('close', () => clearInterval(timer));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
    const host = `127.0.0.1:${(server.address() as import('node:net').AddressInfo).port}`;
    const started = Date.now();
    const lookup = await store([host], { capture: capturer({ imageTimeoutMs: 800 }) }).lookup(`${host}/app/drip:1`, { args: ['--port=1'] });
    expect(lookup.status).toBe('missing');
    expect(Date.now() - started).toBeLessThan(4_000);
  });

  it('one huge file in a layer is written as it arrives, never held in memory whole', async () => {
    const dir = path.join(work, 'huge-file');
    await fs.mkdir(path.join(dir, 'root'), { recursive: true });
    await execa('sh', ['-c', 'head -c 134217728 /dev/zero > big && tar czf layer.tgz big && rm big'], { cwd: dir });
    const blob = await fs.readFile(path.join(dir, 'layer.tgz'));
    const base = process.memoryUsage().arrayBuffers;
    let peak = 0;
    const sample = setInterval(() => (peak = Math.max(peak, process.memoryUsage().arrayBuffers - base)), 1);
    const applied = await applyLayer(path.join(dir, 'root'), blob, { remainingBytes: 1024 ** 3, remainingEntries: 10 }).finally(() => clearInterval(sample));
    expect(applied.ok, JSON.stringify(applied)).toBe(true);
    expect((await fs.stat(path.join(dir, 'root', 'big'))).size).toBe(134217728);
    expect(peak).toBeLessThan(64 * 1024 * 1024);
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('an entrypoint symlink that climbs out of the image root runs nothing of this machine', async () => {
    const registry = await hostileRegistry(closers);
    for (const [tag, link] of [['relative', '../../../../../../../../usr/bin/rg'], ['absolute', '/usr/bin/rg'], ['proc', '/proc/1/root/usr/bin/rg']] as const) {
      registry.serve('app/escape', tag, buildImage({ layers: [await layerFromEntries([{ name: 'bin/', type: '5' }, { name: 'bin/app', type: '2', linkname: link }])], config: { Entrypoint: ['/bin/app'] } }));
      const lookup = await store([registry.host]).lookup(`${registry.host}/app/escape:${tag}`, { args: ['--hidden'] });
      expect(lookup.status, tag).toBe('missing');
      expect(reasonOf(lookup), tag).toMatch(/not in the image|does not exist in the image/);
    }
  });
});

describe('what an image\'s layers can hold', () => {
  it('a hard link to a host file, a device node, a whiteout of `..`: refused or skipped, nothing of this machine linked', async () => {
    const registry = await hostileRegistry(closers);
    const cases = [
      ['hardlink', [{ name: 'etc/', type: '5' as const }, { name: 'etc/copy', type: '1' as const, linkname: '/etc/shadow' }], 'hard link'],
      ['climbing-link', [{ name: 'x', type: '1' as const, linkname: '../../../../etc/passwd' }], 'outside the image'],
      ['whiteout', [{ name: 'a/', type: '5' as const }, { name: 'a/.wh...', data: '' }], 'not a valid whiteout'],
    ] as const;
    for (const [tag, entries, expected] of cases) {
      registry.serve('app/layers', tag, buildImage({ layers: [await layerFromEntries([...entries])], config: { Entrypoint: ['/x'] } }));
      const result = await pullImage(`${registry.host}/app/layers:${tag}`, { policy: { isAllowedUrl: () => true, deadline: Date.now() + 10_000, allowPlainHttp: true }, rootfsDir: path.join(work, `layers-${tag}`) });
      expect(result, tag).toMatchObject({ ok: false, error: expect.stringContaining(expected) });
    }
    registry.serve('app/layers', 'device', buildImage({ layers: [await layerFromEntries([{ name: 'dev-kmsg', type: '3', data: '' }, { name: 'fifo', type: '6', data: '' }, { name: 'ok', data: 'ok' }])], config: { Entrypoint: ['/x'] } }));
    const device = await pullImage(`${registry.host}/app/layers:device`, { policy: { isAllowedUrl: () => true, deadline: Date.now() + 10_000, allowPlainHttp: true }, rootfsDir: path.join(work, 'layers-device') });
    expect(device.ok).toBe(true);
    expect(readdirSync(path.join(work, 'layers-device')).sort()).toEqual(['dev', 'ok', 'proc', 'sys', 'tmp']);
  });
});

describe('what the image\'s program can do in the sandbox', () => {
  let root: string;
  beforeAll(() => {
    root = rootfsFromHost({
      entries: [
        { from: '/usr/bin/bash', to: '/bin/bash' },
        { from: '/usr/bin/dash', to: '/bin/sh' },
        { from: '/usr/bin/sleep', to: '/bin/sleep' },
        { from: '/usr/bin/setsid', to: '/bin/setsid' },
        { from: '/usr/bin/head', to: '/bin/head' },
        { from: '/usr/bin/cat', to: '/bin/cat' },
        { from: '/usr/bin/stat', to: '/bin/stat' },
        { from: '/usr/bin/seq', to: '/bin/seq' },
        { to: '/etc/passwd', content: 'image-user:x:1000:1000::/:/bin/sh\n', mode: 0o644 },
      ],
    });
  });
  afterAll(() => removeRootfs(root));
  const ENV = ['PATH=/bin'];
  const sh = (script: string, timeoutMs = 5_000) => runInSandbox({ rootfs: root, argv: ['/bin/bash', '-c', script], env: ENV, timeoutMs });

  it('reads none of this machine: its passwd, the guard\'s environment, Docker credentials, the checkout\'s git config', async () => {
    process.env.GUARD_ATTACK_TOKEN = 'ghp_sandbox-attack-token-0123456789';
    try {
      const paths = ['/etc/passwd', '/proc/1/environ', '/proc/self/environ', `${os.homedir()}/.docker/config.json`, path.join(process.cwd(), '.git/config'), '/proc/1/root/etc/hostname', '/sys/class/net'];
      const result = await sh(paths.map((p) => `echo "== ${p}"; cat ${p} 2>&1 | head -c 300; echo`).join('; ') + '; echo "== pids"; ls /proc 2>/dev/null; for p in /proc/[0-9]*; do echo ${p}; done');
      expect(result.stdout).toContain('image-user');
      expect(result.stdout).not.toMatch(/root:x:0:0|ghp_sandbox|GUARD_ATTACK|\[remote|url =|auths/);
      const pids = result.stdout.split('== pids')[1]!.split('\n').filter((l) => /^\/proc\/\d+$/.test(l));
      expect(pids.length).toBeLessThanOrEqual(4);
    } finally {
      delete process.env.GUARD_ATTACK_TOKEN;
    }
  });

  it('writes nowhere but its private /tmp, which is bounded', async () => {
    const before = readdirSync(root).sort();
    // Host-wide kernel settings: the current value written back (harmless if it got through), the rest only asked.
    const result = await sh('for p in /x /bin/x /etc/passwd /proc/sys/kernel/hostname; do (echo x > $p) 2>/dev/null && echo "wrote $p"; done; v=$(cat /proc/sys/vm/swappiness); (echo $v > /proc/sys/vm/swappiness) 2>/dev/null && echo "wrote swappiness"; for p in /proc/sys/kernel/core_pattern /proc/sysrq-trigger /proc/irq/default_smp_affinity; do test -w $p && echo "wrote (writable) $p"; done; head -c 200000000 /dev/zero > /tmp/fill 2>/dev/null; echo "size $(stat -c %s /tmp/fill)"', 15_000);
    expect(result.stdout).not.toContain('wrote');
    const size = Number(/size (\d+)/.exec(result.stdout)?.[1] ?? 'NaN');
    expect(size).toBeGreaterThan(0);
    expect(size).toBeLessThanOrEqual(64 * 1024 * 1024);
    expect(readdirSync(root).sort()).toEqual(before);
    expect(readFileSync(path.join(root, 'etc/passwd'), 'utf8')).toBe('image-user:x:1000:1000::/:/bin/sh\n');
    // An image root the sandbox user cannot reach (a closed folder above it) runs as nobody mapped to
    // root: the kernel's settings stay read-only there too.
    const closed = path.join(work, 'closed-root');
    await execa('cp', ['-r', '--no-dereference', root, closed]);
    const fallback = await runInSandbox({ rootfs: closed, argv: ['/bin/bash', '-c', 'v=$(cat /proc/sys/vm/swappiness); (echo $v > /proc/sys/vm/swappiness) 2>/dev/null && echo "wrote swappiness"; for p in /proc/sys/kernel/core_pattern /proc/sysrq-trigger; do test -w $p && echo "writable $p"; done; echo ran'], env: ENV });
    expect(fallback.stdout, fallback.stderr).toBe('ran\n');
  });

  it('leaves no process behind: a daemon that detaches, or many children, end with the run', async () => {
    const detached = await sh('setsid sleep 41.77 </dev/null >/dev/null 2>&1 & for i in $(seq 1 20); do sleep 43.19 </dev/null >/dev/null 2>&1 & done; echo started');
    expect(detached.stdout).toContain('started');
    await waitFor(() => !runningCommandLines().some((line) => line.includes('41.77') || line.includes('43.19')));
    // A daemon holding the output open ends when the program does (the sandbox's pid namespace goes with it).
    const started = Date.now();
    const held = await sh('setsid sleep 47.31 & echo started', 3_000);
    expect(held.stdout).toContain('started');
    expect(Date.now() - started).toBeLessThan(8_000);
    await waitFor(() => !runningCommandLines().some((line) => line.includes('47.31')));
  });

  it('cannot gain privileges: no capabilities, no new privileges, no setuid bit from a layer', async () => {
    const result = await sh('while read -r line; do case "$line" in CapEff*|CapPrm*|NoNewPrivs*|Uid*) echo "$line";; esac; done < /proc/self/status');
    expect(result.stdout).toMatch(/CapEff:\s+0{16}/);
    expect(result.stdout).toMatch(/CapPrm:\s+0{16}/);
    expect(result.stdout).toMatch(/NoNewPrivs:\s+1/);
    expect(result.stdout).toMatch(/Uid:\s+65534/);
    // Started by root, the program is no one outside either (bwrap maps its user to whoever starts it), and its processes are bounded.
    const running = sh('echo "nproc=$(ulimit -u)"; sleep 1.379');
    let uidOutside: string | undefined;
    await waitFor(() => {
      const pid = readdirSync('/proc').find((p) => /^\d+$/.test(p) && readOr(`/proc/${p}/cmdline`).replaceAll('\0', ' ').startsWith('sleep 1.379'));
      uidOutside = pid ? /^Uid:\s+(\d+)/m.exec(readOr(`/proc/${pid}/status`))?.[1] : undefined;
      return uidOutside !== undefined;
    });
    const outside = await running;
    expect(uidOutside).not.toBe('0');
    if (process.getuid?.() === 0) {
      expect(sandboxIdentity()).toBe('dropped');
      expect(uidOutside).toBe(String(SANDBOX_HOST_ID));
      expect(Number(/nproc=(\d+)/.exec(outside.stdout)?.[1])).toBeLessThanOrEqual(1024);
    }
  });
});

describe('resource exhaustion by a pull request', () => {
  it('many distinct images on an allowed registry: only so many are captured per run, the rest are unverified with the reason', async () => {
    const registry = await hostileRegistry(closers);
    const count = 6;
    for (let i = 0; i < count; i++) registry.serve('app/many', `t${i}`, buildImage({ layers: appV1.layers, config: { Entrypoint: ['/bin/app'], Env: ['PATH=/bin', `N=${i}`] } }));
    const help = store([registry.host], { capture: capturer({ captureLimit: 3 }) });
    const lookups = await Promise.all(Array.from({ length: count }, (_, i) => help.lookup(`${registry.host}/app/many:t${i}`, { args: ['--port=1'] })));
    const captured = lookups.filter((l) => l.status === 'found');
    expect(captured).toHaveLength(3);
    for (const lookup of lookups.filter((l) => l.status !== 'found')) expect(reasonOf(lookup)).toContain('flags.captureLimit');
    const resolved = new Set(registry.requests.filter((r) => /\/manifests\/t\d$/.test(r.path)).map((r) => r.path));
    expect(resolved.size).toBeLessThanOrEqual(3);
    expect(DEFAULT_CAPTURE_LIMIT).toBeGreaterThan(0);
    expect(DEFAULT_CAPTURE_LIMIT).toBeLessThanOrEqual(50);
  });
});

describe('time', () => {
  it('an image whose every --help answers just before the limit: one capture costs at most twice the limit', async () => {
    const slow = (text: string) => ({ text, delayMs: 1_200 });
    const nested = ['Do alpha things', '', 'Usage:', '  tool alpha [command]', '', 'Available Commands:', '  beta        Do beta things', '', 'Flags:', '  -h, --help   help for alpha', ''].join('\n');
    const binary = await compileHelpProgram(work, 'slow-tool', { '--help': slow(TOOL_HELP['--help']), 'alpha --help': slow(nested), 'alpha beta --help': slow(TOOL_HELP['beta --help']) });
    const registry = await hostileRegistry(closers);
    registry.serve('app/slow', '1', buildImage({ layers: [await layerFromFiles({ 'bin/tool': { from: binary, mode: 0o755 } })], config: { Entrypoint: ['/bin/tool'] } }));
    const started = Date.now();
    const captured = await capturer({ timeoutMs: 1_500 }).capture(parseImageRef(`${registry.host}/app/slow:1`), { args: ['alpha', 'beta', '--beta-only'] });
    expect(captured).toMatchObject({ ok: false, reason: expect.stringContaining('did not finish in time') });
    expect(Date.now() - started).toBeLessThan(3 * 1_200);
  });
});

describe('redaction of what registries answer', () => {
  it('a reason phrase echoing the credentials or the token the registry issued is not quoted', async () => {
    const password = 'hunter2-registry-password';
    const basic = Buffer.from(`ci:${password}`).toString('base64');
    const registry = await hostileRegistry(closers);
    registry.override = (pathname, request) => {
      if (pathname === '/token') return { status: 200, body: JSON.stringify({ token: 'issued-token-abcdef0123456789' }) };
      if (!request.headers.authorization?.startsWith('Bearer ')) return { status: 401, headers: { 'www-authenticate': `Bearer realm="http://${registry.host}/token",service="x"` } };
      return { status: 404, statusText: `Nope ${request.headers.authorization} ${password} ${basic}` };
    };
    const { lookup: credentials } = await loadCredentials({ dockerConfigDir: path.join(work, 'none'), env: { GUARD_REGISTRY_AUTH_X: `${registry.host} ci:${password}` } });
    const lookup = await store([registry.host], { capture: capturer({ credentials }) }).lookup(`${registry.host}/app/x:1`, { args: ['--port=1'] });
    const reason = reasonOf(lookup);
    expect(reason).toContain('404');
    expect(reason).not.toContain(password);
    expect(reason).not.toContain(basic);
    expect(reason).not.toContain('issued-token-abcdef0123456789');
  });
});

function readOr(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
