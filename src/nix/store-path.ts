import { createHash } from 'node:crypto';

const NIX_BASE32 = '0123456789abcdfghijklmnpqrsvwxyz';

/**
 * The store path nix gives a locked flake input (a tree named `source` added by its NAR hash), so the
 * guard can tell whether the input is already in the store without asking nix or the network.
 * `undefined` for a hash that is not a sha256 SRI/base16 value.
 */
export function sourceStorePath(narHash: string, storeDir = '/nix/store'): string | undefined {
  const digest = sha256Of(narHash);
  if (!digest) return undefined;
  // Recursive sha256 without references: nix's "source" path type.
  const outer = createHash('sha256').update(`source:sha256:${digest.toString('hex')}:${storeDir}:source`).digest();
  const compressed = Buffer.alloc(20);
  for (let i = 0; i < outer.length; i++) compressed[i % 20]! ^= outer[i]!;
  return `${storeDir}/${base32(compressed)}-source`;
}

function sha256Of(narHash: string): Buffer | undefined {
  const sri = /^sha256-([A-Za-z0-9+/]{43}=)$/.exec(narHash);
  if (sri) return Buffer.from(sri[1]!, 'base64');
  const hex = /^sha256:([0-9a-f]{64})$/.exec(narHash);
  if (hex) return Buffer.from(hex[1]!, 'hex');
  return undefined;
}

function base32(bytes: Buffer): string {
  const length = Math.floor((bytes.length * 8 - 1) / 5) + 1;
  let out = '';
  for (let n = length - 1; n >= 0; n--) {
    const bit = n * 5;
    const i = Math.floor(bit / 8);
    const j = bit % 8;
    const c = (bytes[i]! >> j) | (i + 1 < bytes.length ? bytes[i + 1]! << (8 - j) : 0);
    out += NIX_BASE32[c & 0x1f];
  }
  return out;
}
