import { describe, expect, it } from 'vitest';
import { evalConcurrency, ESTIMATED_HOST_PEAK_MB } from '../../src/deploy/eval-memory.js';
import { supportedNix } from '../../src/nix/nix-version.js';
import { firstReadChange, parseTrace, type ReadSet } from '../../src/nix/read-set.js';
import { identityInSources } from '../../src/nix/self-dependence.js';

const SOURCE = '/nix/store/ja3hapq2wm3g6c910iplkh237yr35xap-source';

describe('parseTrace: what an strace log of nix says it read of the source', () => {
  it('files opened, paths probed, folders resolved and folders listed, as repository paths', () => {
    const log = [
      `101 execve("/usr/bin/nix", ["nix", "eval"], 0x7ffd /* 9 vars */) = 0`,
      `101 newfstatat(AT_FDCWD, "${SOURCE}", {st_mode=S_IFDIR|0555, st_size=4096, ...}, AT_SYMLINK_NOFOLLOW) = 0`,
      `101 openat(AT_FDCWD, "${SOURCE}/flake.nix", O_RDONLY|O_CLOEXEC) = 12`,
      `101 newfstatat(AT_FDCWD, "${SOURCE}//flake.lock", 0x7ffca9912440, AT_SYMLINK_NOFOLLOW) = -1 ENOENT (No such file or directory)`,
      `101 newfstatat(AT_FDCWD, "${SOURCE}/hosts", {st_mode=S_IFDIR|0555, st_size=4096, ...}, AT_SYMLINK_NOFOLLOW) = 0`,
      `102 openat(AT_FDCWD, "${SOURCE}/keys", O_RDONLY|O_NONBLOCK|O_CLOEXEC|O_DIRECTORY <unfinished ...>`,
      `101 openat(AT_FDCWD, "/nix/store", O_RDONLY|O_DIRECTORY) = 14`,
      `102 <... openat resumed>) = 13`,
      `101 newfstatat(14, "abc.drv", 0x7ffe, 0) = -1 ENOENT (No such file or directory)`,
      `101 newfstatat(13, "alice.pub", {st_mode=S_IFREG|0444, st_size=21, ...}, AT_SYMLINK_NOFOLLOW) = 0`,
      `101 newfstatat(3, "", {st_mode=S_IFREG|0644, st_size=1, ...}, AT_EMPTY_PATH) = 0`,
      `101 openat(AT_FDCWD, "${SOURCE}/caf\\303\\251.json", O_RDONLY) = 15`,
      `101 +++ exited with 0 +++`,
    ].join('\n');
    const parsed = parseTrace(log, SOURCE);
    expect(parsed).toEqual({ ok: true, reads: { paths: ['café.json', 'flake.lock', 'flake.nix', 'keys/alice.pub'], dirs: ['', 'hosts'], listed: ['keys'] } });
  });

  it('never guesses: a path relative to an unknown folder, a write into the source, or a second program makes the log unusable', () => {
    expect(parseTrace(`7 newfstatat(9, "hosts/a.json", 0x1, 0) = 0`, SOURCE)).toMatchObject({ ok: false, reason: expect.stringContaining('relative') });
    expect(parseTrace(`7 openat(AT_FDCWD, "hosts/a.json", O_RDONLY) = 3`, SOURCE)).toMatchObject({ ok: false });
    expect(parseTrace(`7 openat(AT_FDCWD, "${SOURCE}/x", O_WRONLY|O_CREAT|O_EXCL, 0666) = 3`, SOURCE)).toMatchObject({ ok: false, reason: expect.stringContaining('wrote') });
    expect(parseTrace(`7 mkdir("${SOURCE}/d", 0777) = 0`, SOURCE)).toMatchObject({ ok: false });
    expect(parseTrace([`7 execve("/bin/sh", ["sh"], 0x1 /* 1 var */) = 0`, `7 execve("/usr/bin/nix", ["nix"], 0x1 /* 1 var */) = 0`].join('\n'), SOURCE)).toMatchObject({ ok: true });
    expect(parseTrace([`7 execve("/usr/bin/nix", ["nix"], 0x1 /* 1 var */) = 0`, `8 execve("/usr/bin/git", ["git"], 0x1 /* 1 var */) = 0`].join('\n'), SOURCE)).toMatchObject({ ok: false, reason: expect.stringContaining('another program') });
    expect(parseTrace('', '/tmp/checkout')).toMatchObject({ ok: false });
  });

  it('follows a duplicated descriptor', () => {
    const log = [`5 openat(AT_FDCWD, "${SOURCE}/hosts", O_RDONLY|O_DIRECTORY) = 4`, `5 fcntl(4, F_DUPFD_CLOEXEC, 0) = 9`, `5 openat(9, "b.nix", O_RDONLY) = 10`].join('\n');
    expect(parseTrace(log, SOURCE)).toEqual({ ok: true, reads: { paths: ['hosts/b.nix'], dirs: [], listed: ['hosts'] } });
  });
});

describe('firstReadChange: whether a changed path is one the evaluation could have seen', () => {
  const reads: ReadSet = { paths: ['flake.nix', 'hosts/a.json', 'secrets/missing.txt'], dirs: ['', 'hosts', 'lib'], listed: ['keys'] };
  const dirs = new Set(['hosts', 'keys', 'lib', 'clusters']);
  const stillDir = async (dir: string) => dirs.has(dir);

  it('an unread path is not; a read, listed, probed or resolved one is', async () => {
    expect(await firstReadChange(reads, ['clusters/app.yaml', 'README.md', 'hosts/b.json'], stillDir)).toBeUndefined();
    expect(await firstReadChange(reads, ['clusters/app.yaml', 'hosts/a.json'], stillDir)).toBe('hosts/a.json');
    expect(await firstReadChange(reads, ['keys/bob.pub'], stillDir)).toBe('keys/bob.pub');
    expect(await firstReadChange(reads, ['secrets/missing.txt'], stillDir)).toBe('secrets/missing.txt');
    // A file where a folder on the way to a read path was: the path now resolves differently.
    expect(await firstReadChange(reads, ['secrets'], stillDir)).toBe('secrets');
    expect(await firstReadChange(reads, ['hosts/a.json/x'], stillDir)).toBe('hosts/a.json/x');
  });

  it('a folder the evaluation resolved that is gone at head counts', async () => {
    dirs.delete('lib');
    expect(await firstReadChange(reads, ['lib/old.txt'], stillDir)).toBe('lib/');
    dirs.add('lib');
  });
});

describe('the revision\'s own identity in the .nix files read', () => {
  it('names the file and line of self.rev, lastModified, or a builtin that hides the source path', () => {
    expect(identityInSources(new Map([['flake.nix', '{\n  outputs = { self }: { x = self.rev or "dirty"; };\n}\n']]))).toBe('flake.nix:2 (rev)');
    expect(identityInSources(new Map([['m.nix', '# rev in a comment\n{ a = builtins.hashString "sha256" "x"; }']]))).toBe('m.nix:2 (hashString)');
    expect(identityInSources(new Map([['m.nix', '{ revision = 1; previous = 2; }']]))).toBeUndefined();
  });
});

describe('nix versions', () => {
  it('accepts 2.8 and newer (Nix, Lix, Determinate), refuses older or unknown with a could-not-check reason', () => {
    expect(supportedNix('nix (Nix) 2.8.0')).toEqual({ ok: true, version: '2.8.0' });
    expect(supportedNix('nix (Nix) 2.24.10')).toEqual({ ok: true, version: '2.24.10' });
    expect(supportedNix('nix (Lix, like Nix) 2.91.1')).toEqual({ ok: true, version: '2.91.1' });
    expect(supportedNix('nix (Determinate Nix 3.6.2) 2.29.0')).toEqual({ ok: true, version: '2.29.0' });
    expect(supportedNix('nix (Nix) 2.3.16')).toMatchObject({ ok: false, reason: expect.stringContaining('2.3.16 on this runner is older than 2.8') });
    expect(supportedNix('something else')).toMatchObject({ ok: false, reason: expect.stringContaining('did not report a version') });
  });
});

describe('evaluation pool from CPUs and memory', () => {
  it('min(evalConcurrency or CPUs, evalMemoryMB / per-host peak), at least one; each process limited to the budget', () => {
    expect(evalConcurrency({ evalConcurrency: 8, evalMemoryMB: 4096 }, undefined)).toMatchObject({ concurrency: Math.floor(4096 / ESTIMATED_HOST_PEAK_MB) });
    expect(evalConcurrency({ evalConcurrency: 8, evalMemoryMB: 4096 }, 400)).toMatchObject({ concurrency: 8, limitMB: 4096 });
    expect(evalConcurrency({ evalConcurrency: 8, evalMemoryMB: 4096 }, 1600)).toMatchObject({ concurrency: 2 });
    const tiny = evalConcurrency({ evalConcurrency: 4, evalMemoryMB: 512 }, 2000);
    expect(tiny.concurrency).toBe(1);
    // Never a limit below what one host needs (nix reserves more address space than it touches).
    expect(tiny.limitMB).toBeGreaterThanOrEqual(2000 * 3);
    expect(evalConcurrency({ evalMemoryMB: 4096 }, 400).why).toContain('CPUs');
  });
});
