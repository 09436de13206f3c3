/**
 * A small NixOS-like fleet as a deploy-rs flake, built from builtins.derivation so no nixpkgs is
 * needed: each host's system profile is a derivation of the shared module and its own module.
 */
export const FLEET_HOSTS = ['cc-fr-lau-store-01', 'cc-fi-hel-k3s-02', 'cc-fi-hel-core-01', 'cc-se-sto-core-01'] as const;

export function fleetFlake(options: { extraNodeAttributes?: Record<string, string> } = {}): string {
  const nodes = FLEET_HOSTS.map((host) => {
    const extra = options.extraNodeAttributes?.[host] ?? '';
    return `      ${host} = node "${host}" { ${extra} };`;
  }).join('\n');
  return `{
  description = "Fleet";
  outputs = { self }: let
    system = "x86_64-linux";
    common = import ./modules/common.nix;
    profile = name: host: builtins.derivation {
      inherit name system;
      builder = "/bin/sh";
      args = [ "-c" "echo '\${common.motd} \${host.role}' > $out" ];
    };
    node = name: attrs: {
      hostname = "\${name}.example.net";
      sshUser = "root";
      profiles.system = { user = "root"; path = profile name (import (./hosts + "/\${name}.nix")); };
    } // attrs;
  in {
    deploy.nodes = {
${nodes}
    };
  };
}
`;
}

export function fleetFiles(options: { motd?: string; roles?: Partial<Record<(typeof FLEET_HOSTS)[number], string>>; flake?: string } = {}): Record<string, string> {
  const files: Record<string, string> = {
    'flake.nix': options.flake ?? fleetFlake(),
    'modules/common.nix': `{\n  motd = "${options.motd ?? 'welcome'}";\n}\n`,
  };
  for (const host of FLEET_HOSTS) files[`hosts/${host}.nix`] = `{\n  role = "${options.roles?.[host] ?? 'default'}";\n}\n`;
  return files;
}

export const SITE_POLICY = [
  'version: 1',
  'deploy:',
  '  tool: deploy-rs',
  '  maxSitesPerChange: 1',
  '  sites:',
  '    hostPattern: "^cc-[a-z]{2}-(?<site>[a-z]{3})-"',
  '',
].join('\n');
