// Bundles the action entry (src/action.ts) into dist/index.js, which action.yml runs, and the CLI
// (src/cli.ts) into dist/cli.js, the npm package's code with its dependencies inside: installing
// the guard (tarball, git URL or global) installs nothing else and runs no script. Both are
// committed; tests fail when they are stale.
// Usage: node scripts/bundle-action.mjs            both, into dist/
//        node scripts/bundle-action.mjs OUTFILE    the action only, into OUTFILE
//        node scripts/bundle-action.mjs --cli [OUTFILE]
import { build } from 'esbuild';

const [first, second] = process.argv.slice(2);
const targets = first === '--cli'
  ? [['src/cli.ts', second ?? 'dist/cli.js']]
  : first
    ? [['src/action.ts', first]]
    : [['src/action.ts', 'dist/index.js'], ['src/cli.ts', 'dist/cli.js']];
for (const [entry, outfile] of targets) {
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    legalComments: 'none',
    logLevel: 'warning',
    // CommonJS dependencies call require(); give the ESM bundle one.
    banner: { js: "import { createRequire as __guardCreateRequire } from 'node:module'; const require = __guardCreateRequire(import.meta.url);" },
  });
}
