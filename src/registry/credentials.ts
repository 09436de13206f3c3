import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { canonicalRegistry, isRegistryHost } from './distribution.js';

/**
 * Credentials for private registries, from the places the usual tools keep them:
 *
 * - env: `GUARD_REGISTRY_AUTH_<ANY_NAME>="<host[:port]> <user>:<password>"`, one registry per
 *   variable (e.g. `GUARD_REGISTRY_AUTH_GHCR="ghcr.io bot:ghp_xxx"`). The host is written in the
 *   value, not derived from the variable's name, so two hosts can never share a credential.
 *   Env wins over the Docker config.
 * - the Docker config file `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`:
 *   `auths[host].auth` (base64 of user:password, or `username`/`password`) and
 *   `auths[host].identitytoken` (an OAuth2 refresh token for the registry's token service).
 *   Credential helpers (`credHelpers`, `credsStore`) are not run: the guard starts no programs
 *   the repository or the machine names for this.
 *
 * A credential belongs to exactly one host: the registry client sends it only to that host and to
 * the token realm that host names (both on the allow-list), never across a redirect.
 */

export interface RegistryCredential {
  username?: string;
  password?: string;
  identityToken?: string;
  /** Where it came from, for messages (never the secret itself). */
  source: string;
}

export type CredentialLookup = (host: string) => RegistryCredential | undefined;

export interface CredentialSources {
  env?: NodeJS.ProcessEnv;
  /** The folder holding config.json; default $DOCKER_CONFIG, else ~/.docker. */
  dockerConfigDir?: string;
}

const ENV_PREFIX = 'GUARD_REGISTRY_AUTH_';
const MAX_CONFIG_BYTES = 1024 * 1024;

/** The credentials of every registry the env and the Docker config name; problems are reported, never thrown. */
export async function loadCredentials(sources: CredentialSources = {}): Promise<{ lookup: CredentialLookup; warnings: string[] }> {
  const env = sources.env ?? process.env;
  const warnings: string[] = [];
  const byHost = new Map<string, RegistryCredential>();
  const configDir = sources.dockerConfigDir ?? (env.DOCKER_CONFIG || path.join(env.HOME || os.homedir(), '.docker'));
  const configFile = path.join(configDir, 'config.json');
  for (const [host, credential] of await readDockerConfig(configFile, warnings)) byHost.set(host, credential);
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || value === undefined) continue;
    const parsed = parseEnvCredential(value);
    if (!parsed) {
      warnings.push(`${name} is not "<host> <user>:<password>"; it is ignored`);
      continue;
    }
    byHost.set(parsed.host, { username: parsed.username, password: parsed.password, source: `the environment variable ${name}` });
  }
  return { lookup: (host) => byHost.get(canonicalRegistry(host)), warnings };
}

function parseEnvCredential(value: string): { host: string; username: string; password: string } | undefined {
  const match = /^\s*(\S+)\s+([^:\s]+):(.+?)\s*$/.exec(value);
  if (!match) return undefined;
  const host = configKeyHost(match[1]!);
  return host ? { host, username: match[2]!, password: match[3]! } : undefined;
}

/** `https://index.docker.io/v1/`, `http://host:5000`, `host:5000/path` -> the canonical host. */
function configKeyHost(key: string): string | undefined {
  const withoutScheme = key.trim().replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  const host = withoutScheme.split('/')[0] ?? '';
  if (!isRegistryHost(host)) return undefined;
  return canonicalRegistry(host);
}

async function readDockerConfig(file: string, warnings: string[]): Promise<Map<string, RegistryCredential>> {
  const found = new Map<string, RegistryCredential>();
  const text = await readSmallFile(file);
  if (text === undefined) return found;
  let config: { auths?: Record<string, { auth?: unknown; username?: unknown; password?: unknown; identitytoken?: unknown }>; credHelpers?: unknown; credsStore?: unknown };
  try {
    config = JSON.parse(text);
  } catch {
    warnings.push(`${file} is not JSON; no registry credentials were read from it`);
    return found;
  }
  if (config.credsStore || config.credHelpers) warnings.push(`${file} names credential helpers; the guard does not run them (use auths entries or ${ENV_PREFIX}* variables)`);
  const auths = config.auths && typeof config.auths === 'object' ? config.auths : {};
  for (const [key, entry] of Object.entries(auths)) {
    const host = configKeyHost(key);
    if (!host || !entry || typeof entry !== 'object') continue;
    const credential: RegistryCredential = { source: `${file} (auths["${key.replace(/[^\x20-\x7e]/g, '?')}"])` };
    if (typeof entry.auth === 'string' && entry.auth !== '') {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon > 0) {
        credential.username = decoded.slice(0, colon);
        credential.password = decoded.slice(colon + 1);
      } else {
        warnings.push(`the auth of ${host} in ${file} is not base64 of user:password; it is ignored`);
      }
    } else if (typeof entry.username === 'string' && typeof entry.password === 'string') {
      credential.username = entry.username;
      credential.password = entry.password;
    }
    if (typeof entry.identitytoken === 'string' && entry.identitytoken !== '') credential.identityToken = entry.identitytoken;
    if (credential.password !== undefined || credential.identityToken !== undefined) found.set(host, credential);
  }
  return found;
}

async function readSmallFile(file: string): Promise<string | undefined> {
  const handle = await fs.open(file, 'r').catch(() => undefined);
  if (!handle) return undefined;
  try {
    const stat = await handle.stat();
    if (!stat.isFile() || stat.size > MAX_CONFIG_BYTES) return undefined;
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}
