import { describe, expect, it } from 'vitest';
import { siteOf } from '../../src/deploy/sites.js';

describe('the site of a deploy node', () => {
  const rules = { hostPattern: '^cc-(?<country>[a-z]{2})-(?<site>[a-z]{3})-(?<role>[a-z0-9]+)-', hosts: { 'edge-01': 'sto' } };

  it('comes from the node attribute first, then the explicit map, then the hostname pattern', () => {
    expect(siteOf({ name: 'cc-fi-hel-core-01', hostname: 'x', site: 'lau' }, rules)).toMatchObject({ site: 'lau', source: 'node attribute' });
    expect(siteOf({ name: 'edge-01', hostname: 'edge-01.example.net' }, rules)).toMatchObject({ site: 'sto', source: 'hosts map' });
    expect(siteOf({ name: 'cc-fi-hel-core-01', hostname: 'x' }, rules)).toEqual({ site: 'hel', source: 'hostPattern', groups: { country: 'fi', role: 'core' } });
  });

  it('matches the hostname when the node name does not, and is unknown otherwise', () => {
    expect(siteOf({ name: 'db', hostname: 'cc-se-sto-db-01.example.net' }, rules).site).toBe('sto');
    expect(siteOf({ name: 'db', hostname: 'db.example.net' }, rules)).toEqual({ source: 'unknown', groups: {} });
  });
});
