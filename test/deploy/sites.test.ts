import { describe, expect, it } from 'vitest';
import { siteOf } from '../../src/deploy/sites.js';

describe('the site of a deploy node', () => {
  const rules = { hostPattern: '^cc-(?<country>[a-z]{2})-(?<site>[a-z]{3})-(?<role>[a-z0-9]+)-', hosts: { 'edge-01': 'sto' } };

  it('comes from the base policy: the explicit map, then the hostname pattern', () => {
    expect(siteOf({ name: 'edge-01', hostname: 'edge-01.example.net' }, rules)).toMatchObject({ site: 'sto', source: 'hosts map' });
    expect(siteOf({ name: 'cc-fi-hel-core-01', hostname: 'x' }, rules)).toEqual({ site: 'hel', source: 'hostPattern', groups: { country: 'fi', role: 'core' } });
  });

  it('a node attribute that disagrees with the base mapping is reported and the mapping wins', () => {
    expect(siteOf({ name: 'cc-fi-hel-core-01', hostname: 'x', site: 'lau' }, rules)).toMatchObject({ site: 'hel', source: 'hostPattern', conflict: 'lau' });
    expect(siteOf({ name: 'cc-fi-hel-core-01', hostname: 'x', site: 'hel' }, rules)).not.toHaveProperty('conflict');
  });

  it('the hostname, which the deploy tool contacts, wins over a node name that claims another site', () => {
    expect(siteOf({ name: 'cc-fi-hel-core-01', hostname: 'cc-se-sto-core-01.example.net' }, rules).site).toBe('sto');
  });

  it('a node attribute alone is not a site; the same node\'s attribute at base is', () => {
    const node = { name: 'db', hostname: 'db.example.net', site: 'hel' };
    expect(siteOf(node, rules)).toMatchObject({ source: 'unknown', unconfirmed: 'hel' });
    expect(siteOf(node, rules, { ...node, site: 'lau' })).toMatchObject({ site: 'lau', source: 'base node attribute', conflict: 'hel' });
    expect(siteOf(node, rules, { ...node, hostname: 'elsewhere.example.net', site: 'hel' })).toMatchObject({ source: 'unknown' });
  });

  it('matches the hostname when the node name does not, and is unknown otherwise', () => {
    expect(siteOf({ name: 'db', hostname: 'cc-se-sto-db-01.example.net' }, rules).site).toBe('sto');
    expect(siteOf({ name: 'db', hostname: 'db.example.net' }, rules)).toEqual({ source: 'unknown', groups: {} });
  });
});
