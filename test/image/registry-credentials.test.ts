import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadCredentials } from '../../src/registry/credentials.js';

/** Registry credentials from the Docker config file and GUARD_REGISTRY_AUTH_* variables, each bound to one host. */

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-credentials-'));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

const b64 = (text: string) => Buffer.from(text).toString('base64');

describe('loadCredentials', () => {
  it('reads auths by host (Docker Hub under all its names), with env taking precedence', async () => {
    await fs.writeFile(
      path.join(dir, 'config.json'),
      JSON.stringify({
        auths: {
          'https://index.docker.io/v1/': { auth: b64('hubuser:hubpass') },
          'ghcr.io': { auth: b64('gh:from-config') },
          'http://10.0.0.5:5000/v2/': { username: 'u', password: 'p' },
          'quay.io': { identitytoken: 'refresh' },
        },
      }),
    );
    const { lookup, warnings } = await loadCredentials({ dockerConfigDir: dir, env: { GUARD_REGISTRY_AUTH_GH: 'ghcr.io gh:from-env' } });
    expect(warnings).toEqual([]);
    for (const host of ['docker.io', 'registry-1.docker.io', 'index.docker.io']) expect(lookup(host)).toMatchObject({ username: 'hubuser', password: 'hubpass' });
    expect(lookup('ghcr.io')).toMatchObject({ password: 'from-env', source: 'the environment variable GUARD_REGISTRY_AUTH_GH' });
    expect(lookup('10.0.0.5:5000')).toMatchObject({ username: 'u', password: 'p' });
    expect(lookup('10.0.0.5')).toBeUndefined();
    expect(lookup('quay.io')).toMatchObject({ identityToken: 'refresh' });
    expect(lookup('evil.example')).toBeUndefined();
  });

  it('finds the config through DOCKER_CONFIG, and warns (never throws) on what it cannot use', async () => {
    await fs.writeFile(path.join(dir, 'config.json'), JSON.stringify({ auths: { 'r.example': { auth: b64('no-colon') } }, credsStore: 'desktop' }));
    const { lookup, warnings } = await loadCredentials({ env: { DOCKER_CONFIG: dir, GUARD_REGISTRY_AUTH_BAD: 'just-a-host' } });
    expect(lookup('r.example')).toBeUndefined();
    expect(warnings).toEqual([
      expect.stringContaining('does not run them'),
      expect.stringContaining('the auth of r.example'),
      'GUARD_REGISTRY_AUTH_BAD is not "<host> <user>:<password>"; it is ignored',
    ]);
    await fs.writeFile(path.join(dir, 'config.json'), '{not json');
    expect((await loadCredentials({ dockerConfigDir: dir, env: {} })).warnings).toEqual([expect.stringContaining('is not JSON')]);
    expect(await loadCredentials({ dockerConfigDir: path.join(dir, 'absent'), env: {} })).toMatchObject({ warnings: [] });
  });
});
