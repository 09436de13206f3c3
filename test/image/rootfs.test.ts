import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyLayer, prepareMountPoints, resolveInRoot, type RootfsBudget } from '../../src/image/rootfs.js';
import { layerFromDirectory, layerFromEntries } from '../support/image-builder.js';
import type { CraftedEntry } from '../support/tar-craft.js';

/**
 * Layers are hostile data: applied in order as a runtime would, but nothing lands outside the
 * root, whatever names, links and whiteouts they hold.
 */

let work: string;
let root: string;
let outside: string;
const budget = (): RootfsBudget => ({ remainingBytes: 64 * 1024 * 1024, remainingEntries: 10_000 });

beforeEach(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-rootfs-'));
  root = path.join(work, 'root');
  outside = path.join(work, 'outside');
  await fs.mkdir(root);
  await fs.mkdir(outside);
});
afterEach(async () => {
  await fs.rm(work, { recursive: true, force: true });
});

const exists = (file: string) => fs.lstat(file).then(() => true, () => false);

describe('applying layers', () => {
  it('applies gzip, zstd and plain tar layers in order, with whiteouts and an opaque folder (only lower layers hidden)', async () => {
    const lower = await layerFromEntries(
      [
        { name: 'etc/', type: '5' },
        { name: 'etc/keep', data: 'keep' },
        { name: 'etc/gone', data: 'gone' },
        { name: 'cfg/', type: '5' },
        { name: 'cfg/old-a', data: 'a' },
        { name: 'cfg/sub/', type: '5' },
        { name: 'cfg/sub/old-b', data: 'b' },
      ],
      'gzip',
    );
    const upper = await layerFromEntries(
      [
        { name: 'etc/.wh.gone', data: '' },
        { name: 'cfg/', type: '5' },
        { name: 'cfg/.wh..wh..opq', data: '' },
        { name: 'cfg/new', data: 'new' },
      ],
      'zstd',
    );
    const top = await layerFromEntries([{ name: 'etc/keep', data: 'replaced' }], 'none');
    for (const layer of [lower, upper, top]) {
      const applied = await applyLayer(root, layer.data, budget());
      expect(applied).toMatchObject({ ok: true, diffId: layer.diffId });
    }
    expect(await fs.readFile(path.join(root, 'etc/keep'), 'utf8')).toBe('replaced');
    expect(await exists(path.join(root, 'etc/gone'))).toBe(false);
    expect(await exists(path.join(root, 'etc/.wh.gone'))).toBe(false);
    expect((await fs.readdir(path.join(root, 'cfg'))).sort()).toEqual(['new']);
  });

  it('refuses absolute paths and paths with .., writing nothing outside the root', async () => {
    for (const name of ['../outside/escaped', '/abs-escaped', 'a/../../outside/escaped2']) {
      const layer = await layerFromEntries([{ name, data: 'x' }]);
      const applied = await applyLayer(root, layer.data, budget());
      expect(applied.ok).toBe(false);
      expect(applied.ok ? '' : applied.error).toMatch(/absolute path|leaves the image/);
    }
    expect(await fs.readdir(outside)).toEqual([]);
    expect(await exists('/abs-escaped')).toBe(false);
  });

  it('resolves a path under a planted symlink inside the root, never through it to the host', async () => {
    const plant = await layerFromEntries([
      { name: 'rel', type: '2', linkname: '../../outside' },
      { name: 'abs', type: '2', linkname: outside },
      { name: 'victim', type: '2', linkname: path.join(outside, 'victim-file') },
    ]);
    await fs.writeFile(path.join(outside, 'victim-file'), 'host data');
    expect(await applyLayer(root, plant.data, budget())).toMatchObject({ ok: true });
    const attack = await layerFromEntries([
      { name: 'rel/pwned', data: 'x' },
      { name: 'abs/pwned', data: 'x' },
      { name: 'victim', data: 'overwritten?' },
    ]);
    expect(await applyLayer(root, attack.data, budget())).toMatchObject({ ok: true });
    expect((await fs.readdir(outside)).sort()).toEqual(['victim-file']);
    expect(await fs.readFile(path.join(outside, 'victim-file'), 'utf8')).toBe('host data');
    // Inside the container, rel -> ../../outside is /outside, and abs -> <host path> is that path under /.
    expect(await fs.readFile(path.join(root, 'outside/pwned'), 'utf8')).toBe('x');
    expect(await fs.readFile(path.join(root, outside, 'pwned'), 'utf8')).toBe('x');
    expect((await fs.lstat(path.join(root, 'victim'))).isFile()).toBe(true);
    // The links themselves are kept as written.
    expect(await fs.readlink(path.join(root, 'rel'))).toBe('../../outside');
  });

  it('refuses a hard link to a file outside the root, skips devices and pipes, and drops setuid/setgid', async () => {
    const link = await layerFromEntries([{ name: 'passwd', type: '1', linkname: '../outside/secret' }]);
    await fs.writeFile(path.join(outside, 'secret'), 's');
    const refused = await applyLayer(root, link.data, budget());
    expect(refused.ok).toBe(false);
    const inside = await layerFromEntries([
      { name: 'real', data: 'r' },
      { name: 'hard', type: '1', linkname: 'real' },
      { name: 'dev-null', type: '3' },
      { name: 'fifo', type: '6' },
    ]);
    expect(await applyLayer(root, inside.data, budget())).toMatchObject({ ok: true, skipped: 2 });
    expect((await fs.stat(path.join(root, 'hard'))).ino).toBe((await fs.stat(path.join(root, 'real'))).ino);
    expect(await exists(path.join(root, 'dev-null'))).toBe(false);
    expect(await exists(path.join(root, 'fifo'))).toBe(false);

    const tree = path.join(work, 'tree');
    await fs.mkdir(path.join(tree, 'bin'), { recursive: true });
    await fs.writeFile(path.join(tree, 'bin/tool'), '#!/bin/sh\n');
    await fs.chmod(path.join(tree, 'bin/tool'), 0o6755);
    const suid = await layerFromDirectory(tree);
    expect(await applyLayer(root, suid.data, budget())).toMatchObject({ ok: true });
    expect((await fs.stat(path.join(root, 'bin/tool'))).mode & 0o7777).toBe(0o755);
  });

  it('stops a layer that unpacks to more than the budget, and a file that is not a layer', async () => {
    const big = await layerFromEntries([{ name: 'big', data: Buffer.alloc(4 * 1024 * 1024) }]);
    const small: RootfsBudget = { remainingBytes: 1024 * 1024, remainingEntries: 10 };
    const over = await applyLayer(root, big.data, small);
    expect(over).toMatchObject({ ok: false });
    expect(over.ok ? '' : over.error).toMatch(/more bytes/);
    const garbage = await applyLayer(root, zlib.gzipSync(Buffer.from('not a tar archive at all'.repeat(40))), budget());
    expect(garbage.ok).toBe(false);
  });
});

describe('hostile layer sequences', () => {
  it('never write, link or delete outside the root, whatever names, links and whiteouts they combine', async () => {
    const component = fc.constantFrom('a', 'a', 'b', '..', '.', '.wh.a', '.wh..wh..opq');
    const name = fc.tuple(fc.integer({ min: 0, max: 9 }), fc.array(component, { minLength: 1, maxLength: 2 })).map(([n, parts]) => `${n === 0 ? '/' : ''}${parts.join('/')}`);
    const target = () => fc.constantFrom('../outside', '../outside/sentinel', outside, path.join(outside, 'sentinel'), '/', '..', 'a', '/a/b', '../../..');
    const entry: fc.Arbitrary<CraftedEntry> = fc.oneof(
      name.map((n) => ({ name: n, data: 'x' })),
      name.map((n) => ({ name: `${n}/`, type: '5' as const })),
      fc.tuple(name, target()).map(([n, t]) => ({ name: n, type: '2' as const, linkname: t })),
      fc.tuple(name, target()).map(([n, t]) => ({ name: n, type: '1' as const, linkname: t })),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(entry, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 3 }), async (layers) => {
        await fs.rm(root, { recursive: true, force: true });
        await fs.rm(outside, { recursive: true, force: true });
        await fs.mkdir(root);
        await fs.mkdir(outside);
        await fs.writeFile(path.join(outside, 'sentinel'), 'host');
        for (const entries of layers) {
          const layer = await layerFromEntries(entries, 'none');
          await applyLayer(root, layer.data, budget());
        }
        await prepareMountPoints(root);
        expect((await fs.readdir(work)).sort()).toEqual(['outside', 'root']);
        expect(await fs.readdir(outside)).toEqual(['sentinel']);
        expect(await fs.readFile(path.join(outside, 'sentinel'), 'utf8')).toBe('host');
        expect((await fs.stat(path.join(outside, 'sentinel'))).nlink).toBe(1);
      }),
      { numRuns: Number(process.env.GUARD_ROOTFS_RUNS ?? 100) },
    );
  });
});

describe('prepareMountPoints', () => {
  it('makes /proc, /dev, /sys and /tmp folders, replacing a link or a file a layer put there', async () => {
    const layer = await layerFromEntries([
      { name: 'proc', type: '2', linkname: outside },
      { name: 'dev', data: 'not a folder' },
      { name: 'sys/', type: '5' },
      { name: 'sys/kept', data: 'k' },
    ]);
    expect(await applyLayer(root, layer.data, budget())).toMatchObject({ ok: true });
    await prepareMountPoints(root);
    for (const name of ['proc', 'dev', 'sys', 'tmp']) expect((await fs.lstat(path.join(root, name))).isDirectory()).toBe(true);
    expect((await fs.stat(path.join(root, 'tmp'))).mode & 0o7777).toBe(0o1777);
    expect(await fs.readdir(path.join(root, 'sys'))).toEqual(['kept']);
    expect(await fs.readdir(outside)).toEqual([]);
  });
});

describe('resolveInRoot', () => {
  it('follows absolute and relative links inside the root, stops loops, and never climbs above /', async () => {
    const layer = await layerFromEntries([
      { name: 'opt/app/bin/', type: '5' },
      { name: 'opt/app/bin/app', data: 'bin' },
      { name: 'usr/local/bin/', type: '5' },
      { name: 'usr/local/bin/app', type: '2', linkname: '/opt/app/bin/app' },
      { name: 'usr/bin/', type: '5' },
      { name: 'usr/bin/app', type: '2', linkname: '../local/bin/app' },
      { name: 'loop-a', type: '2', linkname: 'loop-b' },
      { name: 'loop-b', type: '2', linkname: 'loop-a' },
      { name: 'up', type: '2', linkname: '../../../..' },
    ]);
    expect(await applyLayer(root, layer.data, budget())).toMatchObject({ ok: true });
    expect(await resolveInRoot(root, '/usr/bin/app', { follow: true })).toEqual({ ok: true, path: path.join(root, 'opt/app/bin/app'), inRoot: '/opt/app/bin/app' });
    expect(await resolveInRoot(root, '/usr/bin/app', { follow: false })).toEqual({ ok: true, path: path.join(root, 'usr/bin/app'), inRoot: '/usr/bin/app' });
    expect(await resolveInRoot(root, '/up/opt/app/bin/app', { follow: true })).toMatchObject({ ok: true, inRoot: '/opt/app/bin/app' });
    expect(await resolveInRoot(root, '/../../../etc/passwd', { follow: true })).toMatchObject({ ok: false, error: expect.stringMatching(/does not exist/) });
    expect(await resolveInRoot(root, '/loop-a', { follow: true })).toMatchObject({ ok: false, error: expect.stringMatching(/loop/) });
  });
});
