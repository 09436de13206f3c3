import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { rememberedVersion } from '../../src/tools/version-memo.js';

/** `helm version` and `kubectl version` are asked once per binary, and again whenever the binary changes. */
const cleanup: string[] = [];
afterEach(async () => {
  for (const dir of cleanup.splice(0)) await fs.rm(dir, { recursive: true, force: true });
});

async function setup(): Promise<{ binary: string; env: NodeJS.ProcessEnv; asked: () => Promise<number>; probe: () => Promise<string | undefined> }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-version-memo-'));
  cleanup.push(dir);
  const binary = path.join(dir, 'tool');
  const count = path.join(dir, 'count');
  await writeTool(binary, count, 'v3.17.0');
  const probe = async () => {
    const result = await execa(binary, ['version'], { reject: false });
    return result.exitCode === 0 ? result.stdout.trim() : undefined;
  };
  const asked = async () => (await fs.readFile(count, 'utf8').catch(() => '')).length;
  return { binary, env: { XDG_CACHE_HOME: path.join(dir, 'cache') }, asked, probe };
}

async function writeTool(binary: string, count: string, version: string, exit = 0): Promise<void> {
  await fs.rm(binary, { force: true });
  await fs.writeFile(binary, `#!/bin/sh\nprintf x >> ${count}\necho ${version}\nexit ${exit}\n`, { mode: 0o755 });
}

describe('tool versions', () => {
  it('are asked once per binary and remembered across processes', async () => {
    const { binary, env, asked, probe } = await setup();
    expect(await rememberedVersion(binary, probe, env)).toBe('v3.17.0');
    expect(await rememberedVersion(binary, probe, env)).toBe('v3.17.0');
    expect(await asked()).toBe(1);
  });

  it('are asked again when the binary is replaced, rewritten or chmodded', async () => {
    const { binary, env, asked, probe } = await setup();
    await rememberedVersion(binary, probe, env);
    await writeTool(binary, path.join(path.dirname(binary), 'count'), 'v3.18.1');
    expect(await rememberedVersion(binary, probe, env)).toBe('v3.18.1');
    await fs.chmod(binary, 0o700);
    expect(await rememberedVersion(binary, probe, env)).toBe('v3.18.1');
    expect(await asked()).toBe(3);
  });

  it('are never remembered when the binary did not answer', async () => {
    const { binary, env, asked, probe } = await setup();
    await writeTool(binary, path.join(path.dirname(binary), 'count'), 'broken', 1);
    expect(await rememberedVersion(binary, probe, env)).toBeUndefined();
    expect(await rememberedVersion(binary, probe, env)).toBeUndefined();
    expect(await asked()).toBe(2);
  });

  it('a damaged or foreign entry is not believed', async () => {
    const { binary, env, asked, probe } = await setup();
    await rememberedVersion(binary, probe, env);
    const dir = path.join(env.XDG_CACHE_HOME!, 'gitops-guard', 'tool-versions');
    const [entry] = await fs.readdir(dir);
    await fs.writeFile(path.join(dir, entry!), 'v1 /elsewhere 1 2 3 4 5\nv9.9.9');
    expect(await rememberedVersion(binary, probe, env)).toBe('v3.17.0');
    expect(await asked()).toBe(2);
  });
});
