import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { FetchPolicy } from '../../src/helm/guarded-fetch.js';
import { pullImage, resolveImage, type PulledImage } from '../../src/image/pull.js';
import { resolveInRoot } from '../../src/image/rootfs.js';
import { loadCredentials } from '../../src/registry/credentials.js';
import { buildImage, buildIndex, layerFromDirectory, layerFromEntries, pushImage, type BuiltIndex } from '../support/image-builder.js';
import { countingListener, routedServer, type Closers } from '../support/loopback.js';
import { OciRegistry } from '../support/oci-registry.js';
import { registryProxy } from '../support/registry-proxy.js';

/**
 * Images built here (no Docker), pushed to a real docker-registry on 127.0.0.1, and pulled by the
 * guard without a container runtime: index and platform, layers (gzip, zstd), whiteouts, digests,
 * credentials, the cache, and the allow-list.
 */

let registry: OciRegistry;
let work: string;
let index: BuiltIndex;
let indexDigest: string;
const closers: Closers = [];

const policy = (...hosts: string[]): FetchPolicy => ({ isAllowedUrl: (url) => hosts.includes(new URL(url).host), deadline: Date.now() + 20_000, allowPlainHttp: true });
const pulled = (result: Awaited<ReturnType<typeof pullImage>>): PulledImage => {
  if (!result.ok) throw new Error(`pull failed: ${result.kind} ${result.error}`);
  return result;
};
let rootCount = 0;
const rootfsDir = () => path.join(work, `rootfs-${++rootCount}`);

beforeAll(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-image-pull-'));
  registry = await OciRegistry.start();
  const tree = path.join(work, 'tree');
  await fs.mkdir(path.join(tree, 'opt/app/bin'), { recursive: true });
  await fs.mkdir(path.join(tree, 'usr/local/bin'), { recursive: true });
  await fs.mkdir(path.join(tree, 'etc/app.d'), { recursive: true });
  await fs.writeFile(path.join(tree, 'opt/app/bin/app'), '#!/bin/sh\necho app\n', { mode: 0o755 });
  await fs.symlink('/opt/app/bin/app', path.join(tree, 'usr/local/bin/app'));
  await fs.writeFile(path.join(tree, 'etc/obsolete.conf'), 'old');
  await fs.writeFile(path.join(tree, 'etc/app.d/lower.conf'), 'lower');
  const base = await layerFromDirectory(tree, { compression: 'gzip' });
  const patch = await layerFromEntries(
    [
      { name: 'etc/.wh.obsolete.conf', data: '' },
      { name: 'etc/app.d/', type: '5' },
      { name: 'etc/app.d/.wh..wh..opq', data: '' },
      { name: 'etc/app.d/upper.conf', data: 'upper' },
    ],
    'zstd',
  );
  const amd64 = buildImage({
    layers: [base, patch],
    platform: 'linux/amd64',
    config: { Entrypoint: ['/usr/local/bin/app'], Cmd: ['serve', '--port=80'], Env: ['PATH=/usr/local/bin:/usr/bin:/bin'], WorkingDir: '/srv', User: '65534' },
  });
  const arm64 = buildImage({ layers: [await layerFromEntries([{ name: 'arch', data: 'arm64' }])], platform: 'linux/arm64/v8', config: { Entrypoint: ['/app'] } });
  index = buildIndex([amd64, arm64]);
  indexDigest = await pushImage(registry, 'team/app', '1.0', index);
  const docker = buildImage({ layers: [await layerFromDirectory(tree, { format: 'docker' })], platform: 'linux/amd64', format: 'docker', config: { Cmd: ['/opt/app/bin/app'] } });
  await pushImage(registry, 'team/app', 'docker', buildIndex([docker], 'docker'));
  await pushImage(registry, 'team/app', 'single', amd64);
}, 30_000);
afterAll(async () => {
  await registry?.stop();
  await fs.rm(work, { recursive: true, force: true });
});
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

describe('pulling an image without a container runtime', () => {
  it('picks linux/amd64 from an OCI index and lays out its root filesystem: gzip and zstd layers, a whiteout, an opaque folder, a symlinked entrypoint', async () => {
    const image = pulled(await pullImage(`${registry.host}/team/app:1.0`, { policy: policy(registry.host), rootfsDir: rootfsDir() }));
    expect(image).toMatchObject({ digest: indexDigest, manifestDigest: index.images[0]!.digest, platform: 'linux/amd64', repository: `${registry.host}/team/app` });
    expect(image.config).toEqual({ entrypoint: ['/usr/local/bin/app'], cmd: ['serve', '--port=80'], env: ['PATH=/usr/local/bin:/usr/bin:/bin'], workingDir: '/srv', user: '65534' });
    expect(path.isAbsolute(image.rootfs)).toBe(true);
    const entry = await resolveInRoot(image.rootfs, image.config.entrypoint[0]!, { follow: true });
    expect(entry).toMatchObject({ ok: true, inRoot: '/opt/app/bin/app' });
    expect((await fs.stat(path.join(image.rootfs, 'opt/app/bin/app'))).mode & 0o777).toBe(0o755);
    expect(await fs.readlink(path.join(image.rootfs, 'usr/local/bin/app'))).toBe('/opt/app/bin/app');
    expect(await fs.readdir(path.join(image.rootfs, 'etc'))).toEqual(['app.d']);
    expect(await fs.readdir(path.join(image.rootfs, 'etc/app.d'))).toEqual(['upper.conf']);
  });

  it('picks linux/arm64/v8 (and linux/arm64) when asked, and names the platforms an image has when it lacks the one asked for', async () => {
    for (const platform of ['linux/arm64/v8', 'linux/arm64']) {
      const image = pulled(await pullImage(`${registry.host}/team/app:1.0`, { policy: policy(registry.host), platform, rootfsDir: rootfsDir() }));
      expect(image).toMatchObject({ platform: 'linux/arm64/v8', manifestDigest: index.images[1]!.digest });
      expect(await fs.readFile(path.join(image.rootfs, 'arch'), 'utf8')).toBe('arm64');
    }
    const none = await pullImage(`${registry.host}/team/app:1.0`, { policy: policy(registry.host), platform: 'linux/s390x' });
    expect(none).toMatchObject({ ok: false, kind: 'failed', host: registry.host, error: expect.stringContaining('no linux/s390x variant (it has linux/amd64, linux/arm64/v8)') });
  });

  it('reads a Docker manifest list with a schema 2 manifest, and a single-platform manifest', async () => {
    const docker = pulled(await pullImage(`${registry.host}/team/app:docker`, { policy: policy(registry.host), rootfsDir: rootfsDir() }));
    expect(docker.config.cmd).toEqual(['/opt/app/bin/app']);
    expect(await fs.readFile(path.join(docker.rootfs, 'etc/obsolete.conf'), 'utf8')).toBe('old');
    const single = pulled(await pullImage(`${registry.host}/team/app:single`, { policy: policy(registry.host), rootfsDir: rootfsDir() }));
    expect(single).toMatchObject({ digest: index.images[0]!.digest, manifestDigest: index.images[0]!.digest, platform: 'linux/amd64' });
    const wrong = await pullImage(`${registry.host}/team/app:single`, { policy: policy(registry.host), platform: 'linux/arm64' });
    expect(wrong).toMatchObject({ ok: false, error: expect.stringContaining('is for linux/amd64, not linux/arm64') });
  });

  it('resolves a tag to the digest it points at', async () => {
    expect(await resolveImage(`${registry.host}/team/app:1.0`, { policy: policy(registry.host) })).toEqual({ ok: true, repository: `${registry.host}/team/app`, digest: indexDigest });
  });

  it('serves a second pull from the cache: by tag only the manifest is asked for, by digest nothing at all', async () => {
    const proxy = await registryProxy(registry.host, { kind: 'none' }, closers);
    const cacheDir = path.join(work, 'cache');
    const options = () => ({ policy: policy(proxy.host), cacheDir, rootfsDir: rootfsDir() });
    pulled(await pullImage(`${proxy.host}/team/app:1.0`, options()));
    expect(proxy.requests.filter((r) => r.path.includes('/blobs/')).length).toBe(3);
    proxy.requests.length = 0;
    const again = pulled(await pullImage(`${proxy.host}/team/app:1.0`, options()));
    expect(proxy.requests.map((r) => r.path)).toEqual(['/v2/team/app/manifests/1.0']);
    expect((await resolveInRoot(again.rootfs, '/usr/local/bin/app', { follow: true })).ok).toBe(true);
    proxy.requests.length = 0;
    pulled(await pullImage(`${proxy.host}/team/app@${indexDigest}`, options()));
    expect(proxy.requests).toEqual([]);
    // A cached blob that no longer matches its digest is fetched again, not used.
    const cachedLayer = path.join(cacheDir, 'images/blobs/sha256', index.images[0]!.layers[1]!.digest.slice(7));
    await fs.writeFile(cachedLayer, 'tampered');
    pulled(await pullImage(`${proxy.host}/team/app@${indexDigest}`, options()));
    expect(proxy.requests.map((r) => r.path)).toEqual([`/v2/team/app/blobs/${index.images[0]!.layers[1]!.digest}`]);
  });
});

describe('registries that ask for credentials', () => {
  it('takes an anonymous bearer token from the realm the registry names', async () => {
    const proxy = await registryProxy(registry.host, { kind: 'bearer' }, closers);
    const image = pulled(await pullImage(`${proxy.host}/team/app:1.0`, { policy: policy(proxy.host), rootfsDir: rootfsDir() }));
    expect(image.digest).toBe(indexDigest);
    expect(proxy.tokensIssued()).toBe(1);
    expect(proxy.requests.filter((r) => r.path.startsWith('/v2/')).slice(1).every((r) => r.authorization?.startsWith('Bearer '))).toBe(true);
  });

  it('sends the Docker config credentials of exactly that host to its token realm, and fails clearly without them', async () => {
    const proxy = await registryProxy(registry.host, { kind: 'bearer', user: 'robot', password: 's3cret' }, closers);
    const other = await registryProxy(registry.host, { kind: 'none' }, closers);
    const configDir = path.join(work, 'docker-config');
    await fs.mkdir(configDir, { recursive: true });
    await fs.writeFile(path.join(configDir, 'config.json'), JSON.stringify({ auths: { [`http://${proxy.host}`]: { auth: Buffer.from('robot:s3cret').toString('base64') } } }));
    const { lookup, warnings } = await loadCredentials({ dockerConfigDir: configDir, env: {} });
    expect(warnings).toEqual([]);
    pulled(await pullImage(`${proxy.host}/team/app:1.0`, { policy: policy(proxy.host), credentials: lookup, rootfsDir: rootfsDir() }));
    expect(proxy.requests.find((r) => r.path.startsWith('/token'))?.authorization).toBe(`Basic ${Buffer.from('robot:s3cret').toString('base64')}`);
    pulled(await pullImage(`${other.host}/team/app:1.0`, { policy: policy(other.host), credentials: lookup, rootfsDir: rootfsDir() }));
    expect(other.requests.every((r) => r.authorization === undefined)).toBe(true);

    const anonymous = await pullImage(`${proxy.host}/team/app:1.0`, { policy: policy(proxy.host) });
    expect(anonymous).toMatchObject({ ok: false, kind: 'unreachable', host: proxy.host, error: expect.stringContaining('the registry needs credentials') });
  });

  it('trades a Docker config identitytoken for an access token (OAuth2 refresh_token POST to the realm)', async () => {
    const proxy = await registryProxy(registry.host, { kind: 'bearer', refreshToken: 'refresh-me' }, closers);
    const configDir = path.join(work, 'docker-config-identity');
    await fs.mkdir(configDir, { recursive: true });
    await fs.writeFile(path.join(configDir, 'config.json'), JSON.stringify({ auths: { [proxy.host]: { auth: Buffer.from('<token>:').toString('base64'), identitytoken: 'refresh-me' } }, credHelpers: { 'gcr.io': 'gcloud' } }));
    const { lookup, warnings } = await loadCredentials({ dockerConfigDir: configDir, env: {} });
    expect(warnings).toEqual([expect.stringContaining('does not run them')]);
    pulled(await pullImage(`${proxy.host}/team/app:1.0`, { policy: policy(proxy.host), credentials: lookup, rootfsDir: rootfsDir() }));
    expect(proxy.tokensIssued()).toBe(1);
  });

  it('answers a basic challenge with credentials from GUARD_REGISTRY_AUTH_*, and says which source a refused credential came from', async () => {
    const proxy = await registryProxy(registry.host, { kind: 'basic', user: 'ci', password: 'pa:ss' }, closers);
    const good = await loadCredentials({ dockerConfigDir: path.join(work, 'no-config'), env: { GUARD_REGISTRY_AUTH_MINE: `${proxy.host} ci:pa:ss` } });
    pulled(await pullImage(`${proxy.host}/team/app:1.0`, { policy: policy(proxy.host), credentials: good.lookup, rootfsDir: rootfsDir() }));
    const bad = await loadCredentials({ dockerConfigDir: path.join(work, 'no-config'), env: { GUARD_REGISTRY_AUTH_MINE: `${proxy.host} ci:wrong` } });
    const refused = await pullImage(`${proxy.host}/team/app:1.0`, { policy: policy(proxy.host), credentials: bad.lookup });
    expect(refused).toMatchObject({ ok: false, kind: 'unreachable', error: expect.stringContaining('refused the credentials from the environment variable GUARD_REGISTRY_AUTH_MINE') });
    expect(JSON.stringify(refused)).not.toContain('wrong');
  });
  it('sends credentials to the registry host only: not across a redirect to another host, not to a realm off the allow-list', async () => {
    const image = index.images[0]!;
    const seen: Array<string | undefined> = [];
    const cdn = await routedServer({ '/config': (_url, request) => (seen.push(request.headers.authorization), { status: 200, body: image.config }) }, closers);
    const basic = `Basic ${Buffer.from('ci:pw').toString('base64')}`;
    const gate = (body: () => { status: number; headers?: Record<string, string>; body?: string | Buffer }) => (_url: string, request: { headers: { authorization?: string } }) =>
      request.headers.authorization === basic ? body() : { status: 401, headers: { 'www-authenticate': 'Basic realm="r"' } };
    const routes: Record<string, ReturnType<typeof gate>> = {
      '/v2/team/app/manifests/1.0': gate(() => ({ status: 200, headers: { 'content-type': image.mediaType }, body: image.manifest })),
      [`/v2/team/app/blobs/${image.configDigest}`]: gate(() => ({ status: 307, headers: { location: `${cdn.url}/config` } })),
    };
    for (const layer of image.layers) routes[`/v2/team/app/blobs/${layer.digest}`] = gate(() => ({ status: 200, body: layer.data }));
    const origin = await routedServer(routes, closers);
    const env = { GUARD_REGISTRY_AUTH_A: `${origin.host} ci:pw` };
    const { lookup } = await loadCredentials({ dockerConfigDir: path.join(work, 'no-config'), env });
    pulled(await pullImage(`${origin.host}/team/app:1.0`, { policy: policy(origin.host, cdn.host), credentials: lookup, rootfsDir: rootfsDir() }));
    expect(seen).toEqual([undefined]);

    const offList = await countingListener(closers);
    const bearer = await routedServer({ '/v2/team/app/manifests/1.0': () => ({ status: 401, headers: { 'www-authenticate': `Bearer realm="http://${offList.host}/token",service="x"` } }) }, closers);
    const withCredential = await loadCredentials({ dockerConfigDir: path.join(work, 'no-config'), env: { GUARD_REGISTRY_AUTH_B: `${bearer.host} ci:pw` } });
    const refused = await pullImage(`${bearer.host}/team/app:1.0`, { policy: policy(bearer.host), credentials: withCredential.lookup });
    expect(refused).toMatchObject({ ok: false, kind: 'refused', host: offList.host });
    expect(offList.connections()).toBe(0);
  });
});

describe('what the guard refuses', () => {
  it('refuses a layer whose bytes do not match its digest, and a manifest whose digest header lies', async () => {
    const layer = index.images[0]!.layers[0]!.digest;
    const tampered = await registryProxy(registry.host, { kind: 'none' }, closers, (p, body) => (p.endsWith(layer) ? Buffer.concat([body.subarray(0, -1), Buffer.from([body.at(-1)! ^ 1])]) : undefined));
    const result = await pullImage(`${tampered.host}/team/app:1.0`, { policy: policy(tampered.host) });
    expect(result).toMatchObject({ ok: false, kind: 'failed', host: tampered.host, error: expect.stringMatching(/has digest sha256:[0-9a-f]{64}, not sha256:/) });
    const lying = await registryProxy(registry.host, { kind: 'none' }, closers, (p, _body, headers) => {
      if (p.includes('/manifests/')) headers['docker-content-digest'] = `sha256:${'0'.repeat(64)}`;
      return undefined;
    });
    expect(await resolveImage(`${lying.host}/team/app:1.0`, { policy: policy(lying.host) })).toMatchObject({ ok: false, kind: 'failed', error: expect.stringContaining(`not sha256:${'0'.repeat(64)}`) });
  });

  it('contacts no host the allow-list does not name, and reports an allowed registry that is down as unreachable', async () => {
    const silent = await countingListener(closers);
    const refused = await pullImage(`${silent.host}/team/app:1.0`, { policy: policy(registry.host) });
    expect(refused).toMatchObject({ ok: false, kind: 'refused', host: silent.host });
    expect(silent.connections()).toBe(0);
    const down = await pullImage(`${silent.host}/team/app:1.0`, { policy: policy(silent.host) });
    expect(down).toMatchObject({ ok: false, kind: 'unreachable', host: silent.host });
    const https = await pullImage(`${registry.host}/team/app:1.0`, { policy: { ...policy(registry.host), allowPlainHttp: false } });
    expect(https).toMatchObject({ ok: false, kind: 'unreachable' });
  });

  it('refuses a layer that climbs out of the root, leaving nothing outside', async () => {
    const evil = buildImage({ layers: [await layerFromEntries([{ name: 'ok', data: 'ok' }, { name: '../escaped', data: 'x' }])] });
    await pushImage(registry, 'team/evil', 'latest', evil);
    const parent = path.join(work, 'evil-parent');
    const result = await pullImage(`${registry.host}/team/evil`, { policy: policy(registry.host), rootfsDir: path.join(parent, 'rootfs') });
    expect(result).toMatchObject({ ok: false, kind: 'failed', error: expect.stringContaining('leaves the image: ../escaped') });
    expect(await fs.readdir(parent)).toEqual(['rootfs']);
  });
});
