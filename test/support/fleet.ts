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

/**
 * Put a directory of files in the nix store as a flake input would be after a trusted pre-fetch
 * (name `source`, recursive sha256), so an evaluation without network can use it.
 */
export async function storeSource(files: Record<string, string>): Promise<{ storePath: string; narHash: string }> {
  const { execa } = await import('execa');
  const { promises: fs } = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-input-'));
  try {
    const source = path.join(dir, 'source');
    for (const [file, content] of Object.entries(files)) {
      await fs.mkdir(path.dirname(path.join(source, file)), { recursive: true });
      await fs.writeFile(path.join(source, file), content);
    }
    const storePath = (await execa('nix-store', ['--add', source])).stdout.trim();
    const narHash = (await execa('nix', ['--extra-experimental-features', 'nix-command', 'hash', 'path', storePath])).stdout.trim();
    return { storePath, narHash };
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** A flake.lock naming non-flake tarball inputs by URL and narHash (nix uses the store copy when it has it). */
export function tarballLock(inputs: Record<string, { url: string; narHash: string }>): string {
  const nodes: Record<string, unknown> = { root: { inputs: Object.fromEntries(Object.keys(inputs).map((name) => [name, name])) } };
  for (const [name, { url, narHash }] of Object.entries(inputs)) {
    nodes[name] = { flake: false, locked: { type: 'tarball', url, narHash }, original: { type: 'tarball', url } };
  }
  return JSON.stringify({ nodes, root: 'root', version: 7 }, null, 2) + '\n';
}

/** The fleet flake with a non-flake input `shared` (holding common.nix) in place of modules/common.nix. */
export function fleetFlakeWithInput(url: string): string {
  return fleetFlake()
    .replace('outputs = { self }: let', `inputs.shared = { url = "${url}"; flake = false; };\n  outputs = { self, shared }: let`)
    .replace('common = import ./modules/common.nix;', 'common = import "${shared}/common.nix";');
}
