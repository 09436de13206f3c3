import { spawnSync } from 'node:child_process';
import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { bubblewrapArgv, containerArgv, detectSandbox, MAX_STREAM_BYTES, noSandboxError, runInSandbox } from '../../src/image/sandbox-run.js';
import { removeRootfs, rootfsFromHost } from '../support/rootfs-from-host.js';
import { runningCommandLines, waitFor } from '../support/processes.js';

const IMAGE_ENV = ['PATH=/usr/local/bin:/usr/bin:/bin', 'IMAGE_VAR=from-the-image'];

describe('runInSandbox with bubblewrap', () => {
  let root: string;
  beforeAll(() => {
    root = rootfsFromHost({
      entries: [
        { from: '/usr/bin/etcd', to: '/usr/local/bin/etcd' },
        { from: '/usr/bin/dash', to: '/bin/sh' },
        { from: '/usr/bin/bash', to: '/bin/bash' },
        { from: '/usr/bin/env', to: '/usr/bin/env' },
        { from: '/usr/bin/id', to: '/usr/bin/id' },
        { from: '/usr/bin/sleep', to: '/usr/bin/sleep' },
        { from: '/usr/bin/yes', to: '/usr/bin/yes' },
        { from: '/usr/bin/touch', to: '/usr/bin/touch' },
        { directory: true, to: '/srv/app' },
      ],
    });
  });
  afterAll(() => removeRootfs(root));

  it('is the sandbox detected here', () => {
    expect(detectSandbox()).toBe('bubblewrap');
  });

  it('runs a Go binary of the image with its help on stdout, as nobody, in the working directory', async () => {
    const help = await runInSandbox({ rootfs: root, argv: ['/usr/local/bin/etcd', '--help'], env: IMAGE_ENV, timeoutMs: 20_000 });
    expect(help).toMatchObject({ exitCode: 0, timedOut: false, truncated: false, method: 'bubblewrap' });
    expect(help.stdout).toContain('--data-dir');
    const who = await runInSandbox({ rootfs: root, argv: ['/bin/sh', '-c', 'id -u; id -g; pwd'], env: IMAGE_ENV, workingDir: '/srv/app' });
    expect(who.stdout.split('\n')).toEqual(['65534', '65534', '/srv/app', '']);
  });

  it('gives the program only the image environment, none of the guard\'s', async () => {
    process.env.GUARD_SANDBOX_SECRET = 'host-secret-value';
    try {
      const result = await runInSandbox({ rootfs: root, argv: ['/usr/bin/env'], env: IMAGE_ENV });
      expect(result.exitCode).toBe(0);
      const lines = result.stdout.trim().split('\n').filter((line) => !line.startsWith('PWD='));
      expect(lines.sort()).toEqual([...IMAGE_ENV].sort());
      expect(result.stdout).not.toContain('host-secret-value');
    } finally {
      delete process.env.GUARD_SANDBOX_SECRET;
    }
  });

  it('sets the default PATH when the image has none', () => {
    const argv = bubblewrapArgv({ rootfs: root, argv: ['/x'], env: [] });
    const at = argv.indexOf('PATH');
    expect(argv[at - 1]).toBe('--setenv');
    expect(argv[at + 1]).toBe('/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
  });

  it('shows the image root read-only, with a private writable /tmp, and none of this machine', async () => {
    const result = await runInSandbox({ rootfs: root, argv: ['/bin/sh', '-c', 'touch /srv/app/x 2>/dev/null && echo root-writable; touch /tmp/x && echo tmp-writable; test -e /etc/passwd || echo no-host-etc; test -e /work || echo no-host-work'], env: IMAGE_ENV });
    expect(result.stdout.trim().split('\n')).toEqual(['tmp-writable', 'no-host-etc', 'no-host-work']);
  });

  describe('network', () => {
    let server: net.Server;
    let contacts = 0;
    afterEach(async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    it('has none: a connection to a listener on this machine\'s loopback fails and is never seen', async () => {
      server = net.createServer((socket) => {
        contacts++;
        socket.destroy();
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const port = (server.address() as net.AddressInfo).port;
      const connect = `exec 3<>/dev/tcp/127.0.0.1/${port} && echo connected`;
      // The probe itself works outside the sandbox: the listener counts it.
      const outside = spawnSync('/usr/bin/bash', ['-c', connect], { encoding: 'utf8', timeout: 10_000 });
      expect(outside.stdout.trim()).toBe('connected');
      await waitFor(() => contacts === 1);
      const inside = await runInSandbox({ rootfs: root, argv: ['/bin/bash', '-c', connect], env: IMAGE_ENV });
      expect(inside.exitCode).not.toBe(0);
      expect(inside.stdout).not.toContain('connected');
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(contacts).toBe(1);
    });
  });

  it('kills a program that runs past the time limit, with everything it started', async () => {
    const started = Date.now();
    const result = await runInSandbox({ rootfs: root, argv: ['/bin/sh', '-c', '/usr/bin/sleep 37.25; echo woke'], env: IMAGE_ENV, timeoutMs: 1_000 });
    expect(result.timedOut).toBe(true);
    expect(result.stdout).not.toContain('woke');
    expect(Date.now() - started).toBeLessThan(6_000);
    await waitFor(() => !runningCommandLines().some((line) => line.includes('37.25')));
  });

  it('caps output and stops a program that prints without end', async () => {
    const result = await runInSandbox({ rootfs: root, argv: ['/usr/bin/yes'], env: IMAGE_ENV, timeoutMs: 15_000 });
    expect(result.truncated).toBe(true);
    expect(result.timedOut).toBe(false);
    expect(result.stdout.length).toBe(MAX_STREAM_BYTES);
  });

  it('applies the memory limit (a Go binary cannot start in 256 MB of address space)', async () => {
    const result = await runInSandbox({ rootfs: root, argv: ['/usr/local/bin/etcd', '--help'], env: IMAGE_ENV, memoryMB: 256 });
    expect(result.exitCode).not.toBe(0);
    expect(result.stdout).not.toContain('--data-dir');
  });

  it('runs from / when the image WorkingDir does not exist in the root', async () => {
    const result = await runInSandbox({ rootfs: root, argv: ['/bin/sh', '-c', 'pwd'], env: IMAGE_ENV, workingDir: '/nowhere' });
    expect(result.stdout.trim()).toBe('/');
  });
});

describe('container runtimes', () => {
  it('builds a docker/podman run without network, host environment or write access', () => {
    const argv = containerArgv({ rootfs: '/unused', argv: ['/usr/bin/kubectl', 'proxy', '--help'], env: ['PATH=/usr/bin', 'A=b'], workingDir: '/work', memoryMB: 512, image: 'registry.k8s.io/kubectl@sha256:abc' });
    expect(argv).toEqual([
      'run', '--rm', '--pull', 'missing', '--network', 'none', '--read-only', '--tmpfs', '/tmp', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges',
      '--user', '65534:65534', '--memory', '512m', '--memory-swap', '512m', '--pids-limit', '256', '--workdir', '/work',
      '--entrypoint', '/usr/bin/kubectl', '--env', 'PATH=/usr/bin', '--env', 'A=b', '--', 'registry.k8s.io/kubectl@sha256:abc', 'proxy', '--help',
    ]);
  });

  it('refuses to run an image by reference when none is given', async () => {
    await expect(runInSandbox({ rootfs: '/unused', argv: ['/x'], env: [], method: 'docker' })).rejects.toThrow(/docker|not available|no sandbox/);
  });

  it('names what to install when there is no sandbox', () => {
    expect(noSandboxError().describe()).toContain('apt-get install bubblewrap');
  });
});
