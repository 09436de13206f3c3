import { execa } from 'execa';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { sourceStorePath } from '../../src/nix/store-path.js';

describe('the store path of a locked input, computed without nix', () => {
  it('matches the path nix gives the same tree, for SRI and base16 hashes; anything else is undefined', async () => {
    expect(sourceStorePath('sha256-qqF82XNtE8mwMqRbzhCA0ldYzD2QYetpBTvJ9nEwkj4=')).toBe('/nix/store/4h156fy64jm5acjfysx73il2gqqn4wid-source');
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-store-path-'));
    try {
      await fs.mkdir(path.join(dir, 'source'));
      await fs.writeFile(path.join(dir, 'source', 'a.nix'), `{ x = "${Math.random()}"; }\n`);
      const added = (await execa('nix-store', ['--add', path.join(dir, 'source')])).stdout.trim();
      const sri = (await execa('nix', ['--extra-experimental-features', 'nix-command', 'hash', 'path', added])).stdout.trim();
      const base16 = (await execa('nix', ['--extra-experimental-features', 'nix-command', 'hash', 'path', '--base16', added])).stdout.trim();
      expect(sourceStorePath(sri)).toBe(added);
      expect(sourceStorePath(`sha256:${base16}`)).toBe(added);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
    expect(sourceStorePath('sha512-abc')).toBeUndefined();
    expect(sourceStorePath('')).toBeUndefined();
  });
});
