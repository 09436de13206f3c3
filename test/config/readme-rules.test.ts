import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../support/paths.js';

const RULE_LITERAL = /'((?:container-flags|values-schema|helmrelease|render|yaml|repo|flux|kustomize|deploy|nix|config|guard)\/[a-z-]+)'/g;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? sourceFiles(full) : full.endsWith('.ts') ? [full] : [];
  });
}

describe('the README rule table', () => {
  it('lists every rule the code can emit, and no rule the code does not know', () => {
    const emitted = new Set(sourceFiles(path.join(repoRoot, 'src')).flatMap((file) => [...readFileSync(file, 'utf8').matchAll(RULE_LITERAL)].map((m) => m[1]!)));
    const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
    const documented = new Set([...readme.matchAll(/^\| `([a-z-]+\/[a-z-]+)` \|/gm)].map((m) => m[1]!));
    expect([...emitted].filter((rule) => !documented.has(rule)).sort()).toEqual([]);
    expect([...documented].filter((rule) => !emitted.has(rule)).sort()).toEqual([]);
  });
});
