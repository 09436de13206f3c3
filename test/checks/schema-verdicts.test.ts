import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkRevisions } from '../../src/engine.js';
import { forgetBuilds } from '../../src/flux/kustomize-build.js';
import { schemaVerdictKey } from '../../src/checks/values-schema.js';
import { BASE_VALUES, externalDnsRelease, exampleRepo } from '../support/scenario.js';
import { useTempDirs } from '../support/temp-dirs.js';

/** The values-schema verdict of a (schema, values) pair is kept: a rerun does not compile the chart's schema again, and gives the same findings. */
const { tempDir, keepRepo } = useTempDirs();

async function entries(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const sub of await fs.readdir(dir).catch(() => [] as string[])) for (const file of await fs.readdir(path.join(dir, sub))) out.push(path.join(dir, sub, file));
  return out;
}

const violations = (report: Awaited<ReturnType<typeof checkRevisions>>['report']) =>
  report.findings.filter((f) => f.rule === 'values-schema/violation').map((f) => [f.subject.name, f.location.path, f.location.line, f.message]);

describe('kept values-schema verdicts', () => {
  it('give a rerun the same violations, and a damaged entry is worked out again', async () => {
    const repo = keepRepo(await exampleRepo());
    await repo.commit('typo', { 'infrastructure/external-dns/helmrelease.yaml': externalDnsRelease({ ...BASE_VALUES, policy: 'upsert-onyl' }) });
    const cacheDir = await tempDir('guard-verdicts-');
    forgetBuilds();
    const cold = await checkRevisions({ cwd: repo.dir, base: 'main', head: 'change', noCache: true });
    expect(violations(cold.report)).toHaveLength(1);
    expect(violations(cold.report)[0]![3]).toContain('policy must be one of');

    forgetBuilds();
    const first = await checkRevisions({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
    const kept = await entries(path.join(cacheDir, 'schema-verdicts'));
    // The head's values and the base's: two verdicts.
    expect(kept).toHaveLength(2);
    forgetBuilds();
    const warm = await checkRevisions({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
    expect(violations(first.report)).toEqual(violations(cold.report));
    expect(violations(warm.report)).toEqual(violations(cold.report));

    // An entry edited to say "valid" without its digest is not believed.
    for (const file of kept) {
      const entry = JSON.parse(await fs.readFile(file, 'utf8'));
      entry.verdict = { valid: true };
      await fs.writeFile(file, JSON.stringify(entry));
    }
    forgetBuilds();
    const damaged = await checkRevisions({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
    expect(violations(damaged.report)).toEqual(violations(cold.report));
  });

  it('is keyed by everything the verdict depends on', () => {
    const schema = { type: 'object', properties: { list: { type: 'array', items: { type: 'number' } } } };
    const chart = (defaults: Record<string, unknown>) => ({ chartName: 'c', defaults, schema });
    const values = (v: Record<string, unknown>) => ({ values: v, positions: new Map() });
    const key = (defaults: Record<string, unknown>, v: Record<string, unknown>) => schemaVerdictKey(chart(defaults), values(v));
    // YAML's .nan and null in a list read alike in JSON; not here.
    expect(key({}, { list: [Number.NaN] })).not.toBe(key({}, { list: [null] }));
    expect(key({ a: 1 }, {})).not.toBe(key({ a: 2 }, {}));
    expect(key({}, { list: [1] })).toBe(key({}, { list: [1] }));
    const otherSchema = { ...chart({}), schema: { ...schema, required: ['list'] } };
    expect(schemaVerdictKey(otherSchema, values({}))).not.toBe(key({}, {}));
  });
});
