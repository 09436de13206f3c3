import type { ScalarTag, Tags } from 'yaml';

/**
 * YAML 1.1 as Kubernetes and Helm read it (sigs.k8s.io/yaml over go-yaml v2), which differs from
 * the `yaml` package's 1.1 schema in a few places that matter for values:
 * - floats need digits: `e0` and `.` stay strings (the package reads them as NaN);
 * - no sexagesimal numbers: `12:30` stays a string (the package reads 750);
 * - no timestamps: `2026-11-24` stays the string it is in JSON.
 */
const FLOAT = /^[-+]?(?:\.[0-9]+|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?$/;

const goFloat: ScalarTag = {
  identify: (value) => typeof value === 'number',
  default: true,
  tag: 'tag:yaml.org,2002:float',
  test: FLOAT,
  resolve: (text: string) => parseFloat(text.replace(/_/g, '')),
};

export function kubernetesTags(tags: Tags): Tags {
  const kept = tags.filter((tag) => {
    const scalar = tag as ScalarTag;
    if (scalar.tag === 'tag:yaml.org,2002:timestamp') return false;
    if (scalar.tag === 'tag:yaml.org,2002:int' && scalar.format === 'TIME') return false;
    if (scalar.tag === 'tag:yaml.org,2002:float' && (scalar.format === 'TIME' || scalar.format === 'EXP' || scalar.format === undefined) && !String(scalar.test).includes('inf')) return false;
    return true;
  });
  const nanIndex = kept.findIndex((tag) => String((tag as ScalarTag).test).includes('inf'));
  kept.splice(nanIndex + 1, 0, goFloat);
  return kept;
}

/** parse options shared by every YAML read of the guard. */
export const KUBERNETES_YAML = { version: '1.1', customTags: kubernetesTags } as const;
