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

  it('accepts off unquoted (YAML 1.1 false) as off in rules', () => {
    const config = parseConfig('version: 1\nrules:\n  container-flags/unverified: off\n  render/chart-missing: no\n', '.guard.yaml');
    expect(config.rules).toEqual({ 'container-flags/unverified': 'off', 'render/chart-missing': 'off' });
  });

  it('names a rule key as written, not JSON-pointer escaped, with the allowed values', () => {
    const error = errorOf('version: 1\nrules:\n  container-flags/unknown-flag: fatal\n');
    expect(error.message).toContain('rules.container-flags/unknown-flag');
    expect(error.message).not.toContain('~1');
    expect(error.message).toContain('allowed values: error, warning, notice, off');
    expect(error.location?.line).toBe(3);
  });

  it('names the allowed keys when a key is unknown, and the allowed values or type of every other error', () => {
    expect(errorOf('version: 1\nflags:\n  images:\n    - image: x\n      hlep: y\n').message).toMatch(/allowed keys: image, help, binary, framework, skip, capture/);
    expect(errorOf('version: 2\n').message).toContain('the only allowed value is 1');
    expect(errorOf('helm: { timeoutSeconds: soon }\n').message).toContain('helm.timeoutSeconds is "soon"; it must be a whole number');
    expect(errorOf('deploy: { tool: ansible }\n').message).toContain('allowed values: deploy-rs, colmena, comin');
    expect(errorOf('rules: { "Bad Rule": off }\n').message).toMatch(/key "Bad Rule" in rules is not allowed.*container-flags\/unknown-flag/);
    expect(errorOf('flags:\n  images:\n    - help: x\n').message).toContain('flags.images[0] needs the key "image"');
  });

  it('knows the keys other parts of the guard read: cluster objects, deploy approvers and ignored paths, chart mirrors', () => {
    const config = parseConfig(
      [
        'version: 1',
        'cluster:',
        '  objects: [Secret/flux-system/cluster-secrets, ClusterIssuer/letsencrypt]',
        'deploy:',
        '  overrideTrailer: Guard-Allow-Multi-Site',
        '  override: { approvers: [alice, bob-sre] }',
        '  ignorePaths: ["docs/**", "*.md"]',
        'charts:',
        '  mirrors: { "https://charts.example.com": "https://mirror.internal/charts" }',
        '  resolve: cached',
      ].join('\n'),
      '.guard.yaml',
    );
    expect(config.cluster?.objects).toEqual(['Secret/flux-system/cluster-secrets', 'ClusterIssuer/letsencrypt']);
    expect(config.deploy?.override?.approvers).toEqual(['alice', 'bob-sre']);
    expect(config.deploy?.ignorePaths).toEqual(['docs/**', '*.md']);
    expect(config.charts).toEqual({ mirrors: { 'https://charts.example.com': 'https://mirror.internal/charts' }, resolve: 'cached' });
    expect(errorOf('charts: { resolve: offline }\n').message).toContain('allowed values: network, cached');
    expect(errorOf('cluster: { objects: ["secret named x"] }\n').message).toContain('cluster.objects[0]');
  });
});
