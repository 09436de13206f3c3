import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.js';
import { repoRoot } from '../support/paths.js';

describe('the README', () => {
  it('shows a .guard.yaml that the schema accepts', () => {
    const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('### Configuration'));
    const example = /```yaml\n([\s\S]*?)```/.exec(section)?.[1];
    expect(example).toBeDefined();
    const config = parseConfig(example!, '.guard.yaml');
    expect(config.deploy?.maxSitesPerChange).toBe(1);
    expect(config.flags?.images?.[0]?.capture).toContain('{image}');
  });
});
