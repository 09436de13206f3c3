import { execa } from 'execa';
import { promises as fs } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import type { Snapshot } from '../../src/git/repo.js';
import type { BuiltImage, BuiltIndex } from './image-builder.js';
import type { Closers } from './loopback.js';

/**
 * A registry that a pull request's author (or whoever took the registry over) controls: it serves
 * images pushed to it in memory, and any request can be answered by hand first (a redirect, an
 * auth challenge, a lying header, a reason phrase). It records every request with its
 * Authorization header. Listens on 127.0.0.1, or on ::1 when asked.
 */

export interface HostileReply {
  status: number;
  statusText?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

export type Override = (pathname: string, request: http.IncomingMessage) => HostileReply | undefined;

export interface HostileRegistry {
  /** host:port as an image reference names it ([::1]:port on IPv6). */
  host: string;
  url: string;
  requests: Array<{ path: string; authorization?: string }>;
  /** Serve this image (an index: its images too) under repository:tag. */
  serve(repository: string, tag: string, built: BuiltImage | BuiltIndex): void;
  /** Serve arbitrary bytes as a manifest under repository:reference. */
  serveManifest(repository: string, reference: string, body: Buffer, mediaType: string): void;
  serveBlob(digest: string, body: Buffer): void;
  override: Override | undefined;
}

export async function hostileRegistry(closers: Closers, options: { ipv6?: boolean; override?: Override } = {}): Promise<HostileRegistry> {
  const manifests = new Map<string, { body: Buffer; mediaType: string }>();
  const blobs = new Map<string, Buffer>();
  const requests: HostileRegistry['requests'] = [];
  const registry: HostileRegistry = {
    host: '',
    url: '',
    requests,
    override: options.override,
    serve(repository, tag, built) {
      const add = (image: BuiltImage) => {
        manifests.set(`${repository}@${image.digest}`, { body: image.manifest, mediaType: image.mediaType });
        blobs.set(image.configDigest, image.config);
        for (const layer of image.layers) blobs.set(layer.digest, layer.data);
      };
      if (built.kind === 'index') built.images.forEach(add);
      else add(built);
      manifests.set(`${repository}@${built.digest}`, { body: built.manifest, mediaType: built.mediaType });
      manifests.set(`${repository}@${tag}`, { body: built.manifest, mediaType: built.mediaType });
    },
    serveManifest(repository, reference, body, mediaType) {
      manifests.set(`${repository}@${reference}`, { body, mediaType });
    },
    serveBlob(digest, body) {
      blobs.set(digest, body);
    },
  };
  const server = http.createServer((request, response) => {
    const url = request.url ?? '/';
    const pathname = url.split('?')[0]!;
    requests.push({ path: url, authorization: request.headers.authorization });
    const reply = registry.override?.(pathname, request) ?? standard(pathname);
    const body = typeof reply.body === 'string' ? Buffer.from(reply.body) : reply.body ?? Buffer.alloc(0);
    response.writeHead(reply.status, reply.statusText ?? http.STATUS_CODES[reply.status] ?? '', { 'content-length': String(body.length), ...reply.headers });
    response.end(request.method === 'HEAD' ? undefined : body);
  });
  function standard(pathname: string): HostileReply {
    if (pathname === '/v2/') return { status: 200, body: '{}' };
    const manifest = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(pathname);
    if (manifest) {
      const found = manifests.get(`${manifest[1]}@${manifest[2]}`);
      if (found) return { status: 200, headers: { 'content-type': found.mediaType }, body: found.body };
    }
    const blob = /^\/v2\/.+\/blobs\/(sha256:[0-9a-f]{64})$/.exec(pathname);
    if (blob && blobs.has(blob[1]!)) return { status: 200, headers: { 'content-type': 'application/octet-stream' }, body: blobs.get(blob[1]!) };
    return { status: 404, headers: { 'content-type': 'application/json' }, body: '{"errors":[{"code":"NOT_FOUND"}]}' };
  }
  const address = options.ipv6 ? '::1' : '127.0.0.1';
  await new Promise<void>((resolve) => server.listen(0, address, resolve));
  const port = (server.address() as net.AddressInfo).port;
  registry.host = options.ipv6 ? `[::1]:${port}` : `127.0.0.1:${port}`;
  registry.url = `http://${registry.host}`;
  closers.push(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
  return registry;
}

/**
 * A static program that prints a help text chosen by its arguments (joined by spaces, e.g.
 * `--help`, `alpha --help`) on stdout, after a delay when given, and exits 0; any other
 * arguments: exit 0 silently.
 */
export async function compileHelpProgram(work: string, name: string, helps: Record<string, string | { text: string; delayMs: number }>): Promise<string> {
  const source = path.join(work, `${name}.c`);
  const binary = path.join(work, name);
  const literal = (text: string) => `{${[...Buffer.from(text), 0].map((b) => `0x${b.toString(16)}`).join(',')}}`;
  const entries = Object.entries(helps).map(([key, help]): [string, string, number] => (typeof help === 'string' ? [key, help, 0] : [key, help.text, help.delayMs]));
  const lines = [
    '#include <string.h>',
    '#include <time.h>',
    '#include <unistd.h>',
    `static const long delays[] = {${entries.map(([, , delay]) => delay).join(',')}};`,
    ...entries.flatMap(([key, text], i) => [`static const char key${i}[] = ${literal(key)};`, `static const char text${i}[] = ${literal(text)};`]),
    `static const char *keys[] = {${entries.map((_, i) => `key${i}`).join(',')}};`,
    `static const char *texts[] = {${entries.map((_, i) => `text${i}`).join(',')}};`,
    'int main(int argc, char **argv) {',
    '  char joined[4096] = "";',
    '  for (int i = 1; i < argc; i++) { if (i > 1) strncat(joined, " ", sizeof joined - strlen(joined) - 1); strncat(joined, argv[i], sizeof joined - strlen(joined) - 1); }',
    `  for (int i = 0; i < ${entries.length}; i++) {`,
    '    if (strcmp(joined, keys[i]) == 0) { struct timespec d = { delays[i] / 1000, (delays[i] % 1000) * 1000000L }; nanosleep(&d, 0); size_t n = strlen(texts[i]), done = 0; while (done < n) { ssize_t w = write(1, texts[i] + done, n - done); if (w <= 0) return 1; done += (size_t)w; } return 0; }',
    '  }',
    '  return 0;',
    '}',
    '',
  ];
  await fs.writeFile(source, lines.join('\n'));
  await execa('gcc', ['-static', '-O1', '-o', binary, source]);
  return binary;
}

/** A revision held in memory: enough of a Snapshot for the help store (listFiles, readFile). */
export function memorySnapshot(id: string, files: Record<string, string>): Snapshot {
  const read = async (file: string) => (file in files ? Buffer.from(files[file]!) : undefined);
  return {
    id,
    label: id,
    listFiles: async () => Object.keys(files),
    readFile: read,
    readFiles: async (names) => new Map(names.filter((n) => n in files).map((n) => [n, Buffer.from(files[n]!)])),
    symlinks: async () => [],
    materialize: async () => {
      throw new Error('not in a memory snapshot');
    },
    treeDigest: async () => id,
  };
}
