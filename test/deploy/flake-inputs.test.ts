import { describe, expect, it } from 'vitest';
import { errorIdentity } from '../../src/nix/eval-deploy.js';
import { inputNamedIn, localInputs, printableUrl, type FlakeLocks } from '../../src/nix/flake-inputs.js';

describe('flake inputs judged before evaluation', () => {
  const locks: FlakeLocks = {
    root: 'root',
    nodes: {
      root: { inputs: { nixpkgs: 'nixpkgs', sec: 'sec', repo: 'repo', sub: 'sub', stored: 'stored', sneaky: 'sneaky' } },
      nixpkgs: { locked: { type: 'github', owner: 'NixOS', repo: 'nixpkgs', rev: '0123456789abcdef0123456789abcdef01234567' } },
      sec: { locked: { type: 'path', path: '/home/runner/.ssh' } },
      repo: { locked: { type: 'git', url: 'file:///srv/private-repo', rev: 'abc' } },
      sub: { locked: { type: 'path', path: './modules' } },
      stored: { locked: { type: 'path', path: '/nix/store/0qpdaaaz149qfapzm3sl09vs5mwyixv0-source' } },
      sneaky: { locked: { type: 'path', path: '/nix/store/../../etc' } },
    },
  };

  it('refuses inputs that read the machine\'s files, allows network, store and in-revision inputs', () => {
    expect(localInputs(locks)).toEqual([
      { input: 'sec', where: '/home/runner/.ssh' },
      { input: 'repo', where: '/srv/private-repo' },
      { input: 'sneaky', where: '/nix/store/../../etc' },
    ]);
  });

  it('names the input an error is about, and prints URLs without credentials or query', () => {
    expect(inputNamedIn("unable to download 'https://api.github.com/repos/NixOS/nixpkgs/tarball/0123456789abcdef0123456789abcdef01234567'", locks)).toBe('nixpkgs');
    expect(inputNamedIn('something else', locks)).toBeUndefined();
    expect(printableUrl('https://user:ghp_secret@example.net/x.tar.gz?token=abc#frag')).toBe('https://example.net/x.tar.gz');
  });

  it('gives the same identity to the same evaluation error in two revisions', () => {
    const at = (hash: string, line: number) => `error: undefined variable 'pkgs'\n       at /nix/store/${hash}-source/hosts/a.nix:${line}:5:`;
    const a = errorIdentity(`error: undefined variable 'pkgs' at /nix/store/${'a'.repeat(32)}-source/hosts/a.nix:3:5\n${at('a'.repeat(32), 3)}`);
    const b = errorIdentity(`error: undefined variable 'pkgs' at /nix/store/${'b'.repeat(32)}-source/hosts/a.nix:9:5\n${at('b'.repeat(32), 9)}`);
    expect(a).toBe(b);
    expect(a).not.toContain('/nix/store/');
    expect(errorIdentity("error: hash mismatch sha256-zfQ9Bvvb0F4XUflDQGjMsI1YmYQTSf3tqCXmICe5xcg= in git+file:///tmp/x?rev=abc")).toBe('error: hash mismatch <hash> in <flake>');
  });
});
