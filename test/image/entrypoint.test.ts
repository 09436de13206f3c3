import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubernetesArgv, resolveProgram, type ImageConfig } from '../../src/image/entrypoint.js';
import { runInSandbox } from '../../src/image/sandbox-run.js';
import { removeRootfs, rootfsFromHost } from '../support/rootfs-from-host.js';

const ENV = ['PATH=/opt/tools/bin:/usr/local/bin:/usr/bin:/bin'];

describe('kubernetesArgv', () => {
  const image: ImageConfig = { Entrypoint: ['/app'], Cmd: ['serve', '--port=80'] };
  it('follows the Kubernetes rules for command and args', () => {
    expect(kubernetesArgv(image, {})).toEqual(['/app', 'serve', '--port=80']);
    expect(kubernetesArgv(image, { args: ['run'] })).toEqual(['/app', 'run']);
    // command replaces ENTRYPOINT and drops CMD
    expect(kubernetesArgv(image, { command: ['/other'] })).toEqual(['/other']);
    expect(kubernetesArgv(image, { command: ['/other'], args: ['-x'] })).toEqual(['/other', '-x']);
    expect(kubernetesArgv({ Entrypoint: null, Cmd: ['/bin/app', '-v'] }, {})).toEqual(['/bin/app', '-v']);
  });
});

describe('resolveProgram', () => {
  let root: string;
  beforeAll(() => {
    root = rootfsFromHost({
      entries: [
        { from: '/usr/bin/rg', to: '/usr/bin/rg' },
        { from: '/usr/bin/dash', to: '/bin/sh' },
        { from: '/usr/bin/true', to: '/tini', libraries: false },
        { from: '/usr/bin/true', to: '/usr/bin/dumb-init', libraries: false },
        { to: '/usr/local/bin/search', symlink: '/usr/bin/rg' },
        { to: '/usr/local/bin/relative-search', symlink: '../../bin/rg' },
        { to: '/usr/bin/escape', symlink: '../../../../../../../usr/bin/env' },
        { to: '/entrypoint.sh', content: '#!/bin/sh\n# start ripgrep\nset -e\nexport RUST_BACKTRACE=1\nLANG=C.UTF-8\nexec /usr/bin/rg --no-config "$@"\n' },
        { to: '/by-path.sh', content: '#!/usr/bin/env sh\nPATH=/usr/bin\nexec rg "$@"\n' },
        { to: '/fixed.sh', content: '#!/bin/sh\nexec /usr/bin/rg --files\n' },
        { to: '/chain.sh', content: '#!/bin/sh\nexec /entrypoint.sh "$@"\n' },
        { to: '/complex.sh', content: '#!/bin/sh\nif [ -n "$DEBUG" ]; then set -x; fi\nexec /usr/bin/rg "$@"\n' },
        { to: '/runs-first-arg.sh', content: '#!/bin/sh\nexec "$@"\n' },
        { to: '/app/greeter.py', content: '#!/usr/bin/python3\nimport argparse\n' },
        { to: '/app/data.txt', content: 'not a program', mode: 0o644 },
      ],
    });
  });
  afterAll(() => removeRootfs(root));

  const resolve = (config: ImageConfig, container: { command?: string[]; args?: string[] } = {}) => resolveProgram(root, { Env: ENV, ...config }, container);

  it('looks the program up on the image PATH', async () => {
    expect(await resolve({ Entrypoint: ['rg'], Cmd: ['--files'] })).toEqual({ ok: true, program: '/usr/bin/rg', realPath: '/usr/bin/rg', args: ['--files'], steps: [] });
  });

  it('follows symlinks inside the image root only', async () => {
    expect(await resolve({ Entrypoint: ['search'] })).toMatchObject({ ok: true, program: '/usr/local/bin/search', realPath: '/usr/bin/rg' });
    expect(await resolve({ Entrypoint: ['/usr/local/bin/relative-search'] })).toMatchObject({ ok: true, realPath: '/usr/bin/rg' });
    // ../ above the image root stays at the root: /usr/bin/env exists on this machine, not in the image.
    const escape = await resolve({ Entrypoint: ['/usr/bin/escape'] });
    expect(escape).toEqual({ ok: false, error: '/usr/bin/escape is not in the image' });
  });

  it('resolves a relative program name from the working directory', async () => {
    expect(await resolve({ Entrypoint: ['./rg'], WorkingDir: '/usr/bin' })).toMatchObject({ ok: true, program: '/usr/bin/rg' });
  });

  it('follows a wrapper script that execs a program with "$@"', async () => {
    const result = await resolve({ Entrypoint: ['/entrypoint.sh'] }, { args: ['--hidden', 'x'] });
    expect(result).toMatchObject({ ok: true, program: '/usr/bin/rg', args: ['--no-config', '--hidden', 'x'] });
    expect(await resolve({ Entrypoint: ['/chain.sh'] }, { args: ['-i'] })).toMatchObject({ ok: true, program: '/usr/bin/rg', args: ['--no-config', '-i'] });
    expect(await resolve({ Entrypoint: ['/by-path.sh'] }, { args: ['-i'] })).toMatchObject({ ok: true, program: '/usr/bin/rg', args: ['-i'] });
    const fixed = await resolve({ Entrypoint: ['/fixed.sh'] }, { args: ['-i'] });
    expect(fixed).toMatchObject({ ok: true, program: '/usr/bin/rg', args: ['--files'] });
    expect(fixed.ok && fixed.steps[0]).toContain('without passing on its own args');
  });

  it('asks for the binary to be named when a script does more than exec', async () => {
    for (const script of ['/complex.sh', '/runs-first-arg.sh']) {
      const result = await resolve({ Entrypoint: [script] }, { args: ['rg'] });
      expect(result.ok).toBe(false);
      expect(!result.ok && result.error).toContain('flags.images[].binary');
    }
  });

  it('follows init wrappers to the program they start', async () => {
    expect(await resolve({ Entrypoint: ['/tini', '--'], Cmd: ['rg', '--files'] })).toMatchObject({ ok: true, program: '/usr/bin/rg', args: ['--files'] });
    expect(await resolve({ Entrypoint: ['/tini', '-s', '-e', '143', '--', 'search', '-i'] })).toMatchObject({ ok: true, program: '/usr/local/bin/search', args: ['-i'] });
    expect(await resolve({ Entrypoint: ['dumb-init', '--single-child', '-r', '15:2'] }, { args: ['rg', '-u'] })).toMatchObject({ ok: true, program: '/usr/bin/rg', args: ['-u'] });
    expect(await resolve({ Entrypoint: ['/tini', '--'] })).toMatchObject({ ok: false });
  });

  it('reads a plain `sh -c` command', async () => {
    expect(await resolve({}, { command: ['/bin/sh', '-c', 'exec rg --files'] })).toMatchObject({ ok: true, program: '/usr/bin/rg', args: ['--files'] });
    const complex = await resolve({}, { command: ['/bin/sh', '-c', 'rg --files | head'] });
    expect(!complex.ok && complex.error).toContain('flags.images[].binary');
  });

  it('takes a script for another interpreter as the program, when the image holds the interpreter', async () => {
    const result = await resolve({ Entrypoint: ['/app/greeter.py'] });
    expect(result).toEqual({ ok: false, error: '/app/greeter.py is a script for /usr/bin/python3, which the image does not hold' });
  });

  it('says what is missing', async () => {
    expect(await resolve({ Entrypoint: ['kubectl'] })).toEqual({ ok: false, error: "kubectl is not on the image's PATH (/opt/tools/bin:/usr/local/bin:/usr/bin:/bin)" });
    expect(await resolve({})).toMatchObject({ ok: false, error: expect.stringContaining('no ENTRYPOINT or CMD') });
    expect(await resolve({ Entrypoint: ['/app/data.txt'] })).toEqual({ ok: false, error: '/app/data.txt in the image is not executable' });
  });

  it('runs what it resolved: the wrapper and the symlink give ripgrep\'s help in the sandbox', async () => {
    for (const entrypoint of ['/entrypoint.sh', 'search']) {
      const resolved = await resolve({ Entrypoint: [entrypoint] });
      if (!resolved.ok) throw new Error(resolved.error);
      const result = await runInSandbox({ rootfs: root, argv: [resolved.program, ...resolved.args, '--help'], env: ENV });
      expect(result.exitCode).toBe(0);
      expect(result.stdout).toContain('--no-config');
    }
  });
});
