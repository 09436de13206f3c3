import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseHelp, validateArgs } from '../../src/flags/frameworks/registry.js';
import { captureImageHelp } from '../../src/flags/capture-image-help.js';
import { removeRootfs, rootfsFromHost } from '../support/rootfs-from-host.js';

describe('captureImageHelp', () => {
  let root: string;
  beforeAll(() => {
    root = rootfsFromHost({
      entries: [
        { from: '/usr/bin/rg', to: '/usr/bin/rg' },
        { from: '/usr/bin/dash', to: '/bin/sh' },
        { from: '/usr/bin/true', to: '/sbin/tini', libraries: false },
        { to: '/docker-entrypoint.sh', content: '#!/bin/sh\nset -e\nexec /usr/bin/rg "$@"\n' },
      ],
    });
  });
  afterAll(() => removeRootfs(root));

  it('captures the help of the program behind init and wrapper script, and its args validate', async () => {
    const config = { Entrypoint: ['/sbin/tini', '--', '/docker-entrypoint.sh'], Cmd: ['--files'], Env: ['PATH=/usr/bin:/bin'], WorkingDir: '/srv' };
    const result = await captureImageHelp({ rootfs: root, config, container: { args: ['--hidden', '--max-depth=3'] } });
    if (!result.ok) throw new Error(result.error);
    expect(result).toMatchObject({ program: '/usr/bin/rg', helpArgv: ['/usr/bin/rg', '--help'], args: ['--hidden', '--max-depth=3'], framework: 'clap', method: 'bubblewrap', subcommand: [] });
    expect(result.steps).toHaveLength(2);
    const parsed = parseHelp(result.text);
    if (!parsed.ok) throw new Error(parsed.reason);
    expect(validateArgs(parsed.catalog, result.args)).toEqual([]);
    expect(validateArgs(parsed.catalog, ['--hiden']).map((p) => p.kind)).toEqual(['unknown-flag']);
  });

  it('says which binary to name when the entrypoint script is not a plain wrapper', async () => {
    const result = await captureImageHelp({ rootfs: root, config: { Entrypoint: ['/bin/sh', '-c', 'rg "$@" | head'], Env: [] }, container: {} });
    expect(result).toMatchObject({ ok: false, error: expect.stringContaining('flags.images[].binary') });
  });
});
