import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureHelp, listedCommands, type HelpRunner, type RunOutput } from '../../src/flags/capture-plan.js';
import { parseHelp, validateArgs } from '../../src/flags/frameworks/registry.js';
import { resolveProgram, type ImageConfig } from '../../src/image/entrypoint.js';
import { sandboxRunner } from '../../src/image/sandbox-run.js';
import { resolveHelm } from '../../src/helm/binary.js';
import { resolveKubectl } from '../../src/kustomize/binary.js';
import { removeRootfs, rootfsFromHost } from '../support/rootfs-from-host.js';

const ENV = ['PATH=/usr/local/bin:/usr/bin:/bin'];

const ARGPARSE_SCRIPT = `import argparse
parser = argparse.ArgumentParser(prog='greeter', description='Greets over HTTP.')
parser.add_argument('-v', '--verbose', action='store_true', help='log more')
commands = parser.add_subparsers(dest='command')
serve = commands.add_parser('serve', help='serve greetings')
serve.add_argument('--port', type=int, default=8080, help='port to listen on')
serve.add_argument('--name', default='world')
check = commands.add_parser('check', help='check the configuration')
parser.parse_args()
`;

/** Help split over both streams, as some Go programs print it: a usage header on stdout, the flags on stderr. */
const SPLIT_HELP = `#!/bin/sh
echo 'Usage of split-app:'
printf '  -listen string\\n    \\taddress to listen on (default ":8080")\\n  -once\\n    \\texit after one request\\n' >&2
exit 2
`;

describe('captureHelp, with real programs in the sandbox', () => {
  let root: string;
  let captureDirect: (program: string) => ReturnType<typeof captureHelp>;
  let capture: (config: ImageConfig, container?: { command?: string[]; args?: string[] }) => ReturnType<typeof captureHelp>;
  beforeAll(async () => {
    const [kubectl, helm] = await Promise.all([resolveKubectl(), resolveHelm()]);
    root = rootfsFromHost({
      entries: [
        { from: '/usr/bin/etcd', to: '/usr/local/bin/etcd' },
        { from: '/usr/bin/prometheus-alertmanager', to: '/bin/alertmanager' },
        { from: '/usr/bin/rg', to: '/usr/bin/rg' },
        { from: '/usr/bin/rclone', to: '/usr/bin/rclone' },
        { from: kubectl.path, to: '/usr/local/bin/kubectl' },
        { from: helm.path, to: '/usr/local/bin/helm' },
        { from: '/usr/bin/dash', to: '/bin/sh' },
        { to: '/usr/bin/quiet', content: '#!/bin/sh\nexit 0\n' },
        { to: '/app/greeter', content: `#!/usr/bin/python3\n${ARGPARSE_SCRIPT}` },
        { to: '/usr/bin/split-app', content: SPLIT_HELP },
        { to: '/usr/bin/broken', content: '#!/bin/sh\necho "exec /usr/bin/app: no such file or directory" >&2\nexit 127\n' },
        { to: '/usr/bin/refuses-help', content: '#!/bin/sh\necho "Error: unknown flag: --help" >&2\nexit 1\n' },
      ],
      python: { script: ARGPARSE_SCRIPT },
    });
    capture = async (config, container = {}) => {
      const image = { Env: ENV, ...config };
      const resolved = await resolveProgram(root, image, container);
      if (!resolved.ok) return { ok: false, error: resolved.error };
      return captureHelp({ program: resolved.program, args: resolved.args, run: sandboxRunner({ rootfs: root, env: image.Env ?? [], workingDir: '/', timeoutMs: 15_000 }) });
    };
  });
  afterAll(() => removeRootfs(root));
  // Shell scripts stand in for programs here (a script entrypoint is a wrapper to resolveProgram).
  beforeAll(() => {
    captureDirect = (program) => captureHelp({ program, args: [], run: sandboxRunner({ rootfs: root, env: ENV, timeoutMs: 15_000 }) });
  });

  it('captures a Go flag program (etcd)', async () => {
    const result = await capture({ Entrypoint: ['etcd'] }, { args: ['--data-dir=/var/lib/etcd'] });
    expect(result).toMatchObject({ ok: true, program: '/usr/local/bin/etcd', helpArgv: ['/usr/local/bin/etcd', '--help'], subcommand: [], framework: 'goflag' });
  });

  it('captures a kingpin program (alertmanager)', async () => {
    const result = await capture({ Entrypoint: ['/bin/alertmanager'], Cmd: ['--config.file=/etc/am.yml'] });
    expect(result).toMatchObject({ ok: true, framework: 'kingpin', subcommand: [] });
    expect(result.ok && result.text).toContain('--config.file');
  });

  it('captures a clap program (ripgrep)', async () => {
    const result = await capture({ Entrypoint: ['rg'] });
    expect(result).toMatchObject({ ok: true, framework: 'clap', helpArgv: ['/usr/bin/rg', '--help'] });
  });

  it('captures an argparse script and its subcommand\'s help', async () => {
    const top = await capture({ Entrypoint: ['/app/greeter'] }, { args: ['-v'] });
    expect(top).toMatchObject({ ok: true, framework: 'argparse', subcommand: [] });
    const serve = await capture({ Entrypoint: ['/app/greeter'] }, { args: ['-v', 'serve', '--port', '80'] });
    expect(serve).toMatchObject({ ok: true, framework: 'argparse', subcommand: ['serve'], argsAfterSubcommand: ['--port', '80'], helpArgv: ['/app/greeter', 'serve', '--help'] });
    expect(serve.ok && serve.text).toContain('--port');
  });

  it('captures `kubectl proxy` with the global flags of `kubectl options`, and the catalog accepts --v', async () => {
    const result = await capture({ Entrypoint: ['kubectl'] }, { args: ['proxy', '--port=8001', '--v=4'] });
    if (!result.ok) throw new Error(result.error);
    expect(result).toMatchObject({ helpArgv: ['/usr/local/bin/kubectl', 'proxy', '--help'], globalFlagsArgv: ['/usr/local/bin/kubectl', 'options'], subcommand: ['proxy'], framework: 'pflag' });
    const parsed = parseHelp(result.text);
    if (!parsed.ok) throw new Error(parsed.reason);
    expect(parsed.catalog.subcommand).toEqual(['proxy']);
    expect(validateArgs(parsed.catalog, ['proxy', '--port=8001', '--v=4'])).toEqual([]);
    expect(validateArgs(parsed.catalog, ['proxy', '--prot=8001']).map((p) => p.kind)).toEqual(['unknown-flag']);
  });

  it('captures a nested command chain past a global flag and its value (kubectl --kubeconfig FILE config view)', async () => {
    const result = await capture({ Entrypoint: ['kubectl'] }, { args: ['--kubeconfig', '/dev/null', 'config', 'view', '--minify'] });
    expect(result).toMatchObject({ ok: true, subcommand: ['config', 'view'], argsAfterSubcommand: ['--minify'], helpArgv: ['/usr/local/bin/kubectl', 'config', 'view', '--help'] });
  });

  it('captures a cobra subcommand with its Global Flags (helm version)', async () => {
    const result = await capture({ Entrypoint: ['helm'] }, { args: ['version', '--short', '--kube-context=prod'] });
    if (!result.ok) throw new Error(result.error);
    expect(result.subcommand).toEqual(['version']);
    expect(result.globalFlagsArgv).toBeUndefined();
    const parsed = parseHelp(result.text);
    expect(parsed.ok && validateArgs(parsed.catalog, ['version', '--short', '--kube-context=prod'])).toEqual([]);
  });

  it('captures `rclone serve http` with the global flags of `rclone help flags`', async () => {
    const args = ['serve', 'http', 'remote:media', '--addr=:8080', '--transfers=8', '--s3-region=eu-west-1'];
    const result = await capture({ Entrypoint: ['rclone'] }, { args });
    if (!result.ok) throw new Error(result.error);
    expect(result).toMatchObject({ subcommand: ['serve', 'http'], helpArgv: ['/usr/bin/rclone', 'serve', 'http', '--help'], globalFlagsArgv: ['/usr/bin/rclone', 'help', 'flags'], framework: 'pflag' });
    const parsed = parseHelp(result.text);
    if (!parsed.ok) throw new Error(parsed.reason);
    expect(validateArgs(parsed.catalog, args)).toEqual([]);
    expect(validateArgs(parsed.catalog, ['serve', 'http', 'remote:', '--transfer=8']).map((p) => p.kind)).toEqual(['unknown-flag']);
  });

  it('reads help printed partly on stdout and partly on stderr', async () => {
    const result = await captureDirect('/usr/bin/split-app');
    expect(result).toMatchObject({ ok: true, framework: 'goflag' });
    expect(result.ok && result.text).toMatch(/^Usage of split-app:\n {2}-listen string/);
  });

  it('fails, storing nothing, when the command prints nothing, cannot start, refuses --help or hangs', async () => {
    expect(await captureDirect('/usr/bin/quiet')).toEqual({ ok: false, error: '`/usr/bin/quiet --help` printed nothing (exit 0)', helpArgv: ['/usr/bin/quiet', '--help'] });
    const broken = await captureDirect('/usr/bin/broken');
    expect(!broken.ok && broken.error).toBe('`/usr/bin/broken --help` could not be started (exit 127): exec /usr/bin/app: no such file or directory');
    const refuses = await captureDirect('/usr/bin/refuses-help');
    expect(refuses.ok).toBe(false);
    expect(!refuses.ok && refuses.error).toContain('printed no help that a parser reads');
    const missing = await capture({ Entrypoint: ['/usr/bin/absent'] });
    expect(missing).toEqual({ ok: false, error: '/usr/bin/absent is not in the image' });
  });
});

describe('captureHelp, its plan', () => {
  const cobraRoot = 'Usage:\n  app [command]\n\nAvailable Commands:\n  serve       Serve\n  help        Help about any command\n\nFlags:\n  -c, --config string   config file\n  -h, --help            help for app\n';
  const cobraServe = 'Usage:\n  app serve [flags]\n\nFlags:\n      --port int   port\n\nGlobal Flags:\n  -c, --config string   config file\n';
  const fake = (outputs: Record<string, Partial<RunOutput>>): { run: HelpRunner; calls: string[][] } => {
    const calls: string[][] = [];
    const run: HelpRunner = async (argv) => {
      calls.push(argv);
      return { stdout: '', stderr: '', exitCode: 0, timedOut: false, ...outputs[argv.slice(1).join(' ')] };
    };
    return { run, calls };
  };

  it('skips the value of a flag before the subcommand, and does not take a flag value for a command', async () => {
    const { run, calls } = fake({ '--help': { stdout: cobraRoot }, 'serve --help': { stdout: cobraServe } });
    expect(await captureHelp({ program: '/app', args: ['-c', 'serve', 'serve', '--port=1'], run })).toMatchObject({ ok: true, subcommand: ['serve'] });
    expect(calls.map((c) => c.slice(1).join(' '))).toEqual(['--help', 'serve --help']);
    const second = fake({ '--help': { stdout: cobraRoot } });
    expect(await captureHelp({ program: '/app', args: ['-c', 'serve'], run: second.run })).toMatchObject({ ok: true, subcommand: [] });
  });

  it('reads rclone-style `help flags` as global flags', async () => {
    const sub = 'Usage:\n  rclone serve http remote:path [flags]\n\nFlags:\n      --addr stringArray   address\n\nUse "rclone [command] --help" for more information about a command.\nUse "rclone help flags" for to see the global flags.\n';
    const flags = 'Usage:\n  rclone help flags [<regexp to match>] [flags]\n\nFlags:\n  -h, --help   help for flags\n\nGlobal Flags:\n  -c, --checksum   Check for changes with size & checksum\n      --transfers int   Number of file transfers (default 4)\n\nBackend Flags:\n      --s3-region string   Region to connect to\n\nUse "rclone [command] --help" for more information about a command.\n';
    const { run } = fake({ '--help': { stdout: sub }, 'help flags': { stdout: flags } });
    const result = await captureHelp({ program: '/rclone', args: ['--transfers=8'], run });
    if (!result.ok) throw new Error(result.error);
    const parsed = parseHelp(result.text);
    expect(parsed.ok && parsed.catalog.flags.map((f) => f.name)).toEqual(expect.arrayContaining(['addr', 'checksum', 'transfers', 's3-region']));
    expect(parsed.ok && parsed.catalog.subcommand).toEqual(['serve', 'http']);
  });

  it('fails when the global flags cannot be read', async () => {
    const { run } = fake({ 'proxy --help': { stdout: 'Options:\n    --port=0:\n\tport\n\nUsage:\n  kubectl proxy [options]\n\nUse "kubectl options" for a list of global command-line options (applies to all commands).\n' }, '--help': { stdout: 'Basic Commands (Beginner):\n  proxy    Run a proxy\n' }, options: { stderr: 'error: unknown command', exitCode: 1 } });
    expect(await captureHelp({ program: '/k', args: ['proxy'], run })).toMatchObject({ ok: false, error: expect.stringContaining('global flags') });
  });

  it('lists commands of each layout', () => {
    expect(listedCommands('Available Commands:\n  completion  Generate\n  serve       Serve\n\nFlags:\n  -h, --help   help\n', undefined)).toEqual(['completion', 'serve']);
    expect(listedCommands('Commands:\n  help [<command>...]\n    Show help.\n\n  run [<flags>]\n    Run it.\n', undefined)).toEqual(['run']);
    expect(listedCommands('COMMANDS:\n   serve, s  Serve\n   help, h   Shows help\n\nGLOBAL OPTIONS:\n   --x value\n', undefined)).toEqual(['serve', 's']);
    expect(listedCommands('Basic Commands (Beginner):\n  create   Create\n\nSettings Commands:\n  label    Label\n', undefined)).toEqual(['create', 'label']);
  });
});
