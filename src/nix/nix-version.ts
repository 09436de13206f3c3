/**
 * The nix versions the guard runs with. Every interface it uses (nix eval --json --apply, nix flake
 * metadata --json's path and locks, builtins.fetchTree, nix-store --query --requisites, and the
 * settings in NIX_SETTINGS) exists from nix 2.8 (Debian 12's nix-bin, where it is tested) on, and in
 * the 2.18+ releases current nixpkgs requires. Older nix lacks some of them or spells them otherwise.
 */
export const MINIMUM_NIX = '2.8';

export type NixSupport = { ok: true; version: string } | { ok: false; reason: string };

/** `nix --version` output, e.g. "nix (Nix) 2.8.0", "nix (Lix, like Nix) 2.91.1", "nix (Determinate Nix 3.6.2) 2.29.0". */
export function supportedNix(versionText: string): NixSupport {
  // The last version number on the line is nix's own (Determinate names its release before it).
  const versions = [...versionText.matchAll(/\b(\d+)\.(\d+)(?:\.(\d+))?(?:pre[\w.]*)?\b/g)];
  const last = versions.at(-1);
  if (!last) return { ok: false, reason: `the nix on this runner did not report a version the guard recognises ("${versionText.slice(0, 80)}"), and the guard needs nix ${MINIMUM_NIX} or newer` };
  const [major, minor] = [Number(last[1]), Number(last[2])];
  const [minMajor, minMinor] = MINIMUM_NIX.split('.').map(Number) as [number, number];
  const version = last[0];
  if (major < minMajor || (major === minMajor && minor < minMinor)) {
    return { ok: false, reason: `nix ${version} on this runner is older than ${MINIMUM_NIX}, the oldest nix the guard can evaluate a flake with` };
  }
  return { ok: true, version };
}
