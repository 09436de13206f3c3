import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.js';
import { GuardError } from '../../src/errors.js';

function errorOf(text: string): GuardError {
  try {
    parseConfig(text, '.guard.yaml');
  } catch (error) {
    if (error instanceof GuardError) return error;
    throw error;
  }
  throw new Error('expected a GuardError');
}

describe('.guard.yaml', () => {
  it('accepts a full configuration', () => {
    const config = parseConfig(
      [
        'version: 1',
        'failOn: warning',
        'helm: { kubeVersion: "1.31.0", apiVersions: [monitoring.coreos.com/v1], timeoutSeconds: 60 }',
        'flags:',
        '  helpDir: help',
        '  images:',
        '    - { image: "*/external-dns:*", help: "help/{tag}.txt", binary: external-dns }',
        '    - { image: busybox, skip: true }',
        'rules: { container-flags/unverified: "off" }',
        'gitRepositories: { flux-system/charts: ../charts }',
      ].join('\n'),
      '.guard.yaml',
    );
    expect(config.flags?.images?.[0]?.binary).toBe('external-dns');
    expect(config.rules?.['container-flags/unverified']).toBe('off');
  });

  it('names the line of an unknown key', () => {
    const error = errorOf('version: 1\nflags:\n  images:\n    - image: x\n      hlep: y\n');
    expect(error.location).toMatchObject({ path: '.guard.yaml', line: 5 });
    expect(error.message).toContain('hlep');
  });

  it('names the line of a wrong value', () => {
    const error = errorOf('version: 1\nfailOn: fatal\n');
    expect(error.location?.line).toBe(2);
    expect(error.message).toContain('failOn');
  });

  it('names the line of a YAML syntax error', () => {
    const error = errorOf('version: 1\nhelm: [\n');
    expect(error.location?.path).toBe('.guard.yaml');
    expect(error.message).toContain('invalid YAML');
  });
});
