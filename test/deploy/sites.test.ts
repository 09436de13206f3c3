import { describe, expect, it } from 'vitest';
import { baseSites, siteOf } from '../../src/deploy/sites.js';

describe('the site of a deploy node', () => {
  const rules = { hostPattern: '^cc-(?<country>[a-z]{2})-(?<site>[a-z]{3})-(?<role>[a-z0-9]+)-', hosts: { 'edge-01': 'sto' } };

  it('comes from the base policy: the explicit map, then the hostname pattern', () => {
    expect(siteOf({ name: 'edge-01', hostname: 'edge-01.example.net' }, rules)).toMatchObject({ site: 'sto', source: 'hosts map' });
    const atBase = { name: 'cc-fi-hel-core-01', hostname: 'x' };
    expect(siteOf(atBase, rules, atBase)).toEqual({ site: 'hel', source: 'hostPattern', groups: { country: 'fi', role: 'core' } });
  });

  it('never from the node name alone: the change chooses it, the deploy tool contacts the hostname', () => {
    expect(siteOf({ name: 'cc-fi-hel-core-01', hostname: 'x' }, rules)).toEqual({ source: 'unknown', groups: {} });
    expect(siteOf({ name: 'cc-fi-hel-core-01', hostname: 'CC-SE-STO-CORE-01.Example.NET.' }, rules)).toMatchObject({ site: 'sto', source: 'hostPattern' });
  });

  it('a hostname or address the base deploys to keeps the site the base gives it, whatever node now names it', () => {
    const base = baseSites([{ name: 'cc-se-sto-core-01', hostname: '10.0.3.1' }, { name: 'cc-fi-hel-core-01', hostname: '10.0.2.2' }], rules);
    const moved = { name: 'cc-fi-hel-core-01', hostname: '10.0.3.1' };
    expect(siteOf(moved, rules, { name: 'cc-fi-hel-core-01', hostname: '10.0.2.2' }, base)).toMatchObject({ site: 'sto', source: 'hostPattern' });
    expect(siteOf({ name: 'cc-fi-hel-core-01', hostname: '10.0.9.9' }, rules, { name: 'cc-fi-hel-core-01', hostname: '10.0.2.2' }, base)).toMatchObject({ source: 'unknown' });
    expect(siteOf({ name: 'x', hostname: 'edge-01.example.net' }, { hosts: { 'EDGE-01.example.net.': 'sto' } }).site).toBe('sto');
  });

  it('a hostname the base places in two sites is unknown, not guessed', () => {
    const base = baseSites([{ name: 'a', hostname: 'h', site: 'hel' }, { name: 'b', hostname: 'H.', site: 'sto' }], {});
    expect(siteOf({ name: 'a', hostname: 'h' }, {}, undefined, base)).toMatchObject({ source: 'unknown' });
  });

  it('a node attribute that disagrees with the base mapping is reported and the mapping wins', () => {
    const atBase = { name: 'cc-fi-hel-core-01', hostname: 'x' };
    expect(siteOf({ ...atBase, site: 'lau' }, rules, atBase)).toMatchObject({ site: 'hel', source: 'hostPattern', conflict: 'lau' });
    expect(siteOf({ ...atBase, site: 'hel' }, rules, atBase)).not.toHaveProperty('conflict');
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
