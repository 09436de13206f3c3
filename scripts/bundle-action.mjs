// Bundles the action entry (src/action.ts) into dist/index.js, which action.yml runs.
// Usage: node scripts/bundle-action.mjs [OUTFILE]
import { build } from 'esbuild';

const outfile = process.argv[2] ?? 'dist/index.js';
await build({
  entryPoints: ['src/action.ts'],
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
