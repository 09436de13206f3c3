import { randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import type { Closers } from './loopback.js';

/**
 * A front for a real registry on 127.0.0.1 that asks for what private registries ask for: a
 * bearer token from its realm (handed out anonymously, or only for basic credentials), or basic
 * auth on every request. It can also alter what it passes on (a tampered blob, a false digest header).
 */

export type ProxyAuth = { kind: 'bearer'; user?: string; password?: string; refreshToken?: string } | { kind: 'basic'; user: string; password: string } | { kind: 'none' };

export interface ProxyRequest {
  path: string;
  authorization?: string;
}

export interface RegistryProxy {
  host: string;
  requests: ProxyRequest[];
  tokensIssued: () => number;
}

export async function registryProxy(
  upstream: string,
  auth: ProxyAuth,
  closers: Closers,
  tamper?: (path: string, body: Buffer, headers: Record<string, string>) => Buffer | undefined,
): Promise<RegistryProxy> {
  const requests: ProxyRequest[] = [];
  const tokens = new Set<string>();
  const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  let host = '';
  const server = http.createServer(async (request, response) => {
    const url = request.url ?? '/';
    requests.push({ path: url, authorization: request.headers.authorization });
    const pathname = url.split('?')[0]!;
    if (pathname === '/token' && auth.kind === 'bearer') {
      let form = '';
      for await (const chunk of request) form += String(chunk);
      const refresh = request.method === 'POST' ? new URLSearchParams(form) : undefined;
      const byRefresh = auth.refreshToken !== undefined && refresh?.get('grant_type') === 'refresh_token' && refresh.get('refresh_token') === auth.refreshToken;
      const byBasic = auth.user !== undefined && request.headers.authorization === basic(auth.user, auth.password ?? '');
      if ((auth.user !== undefined || auth.refreshToken !== undefined) && !byRefresh && !byBasic) {
        response.writeHead(401, { 'content-type': 'application/json' });
        response.end('{"errors":[{"code":"UNAUTHORIZED"}]}');
        return;
      }
      const token = randomBytes(12).toString('hex');
      tokens.add(token);
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify(refresh ? { access_token: token, expires_in: 300 } : { token, expires_in: 300 }));
      return;
    }
    if (!pathname.startsWith('/v2/')) {
      response.writeHead(404);
      response.end();
      return;
    }
    const given = request.headers.authorization ?? '';
    const allowed = auth.kind === 'none' || (auth.kind === 'basic' ? given === basic(auth.user, auth.password) : tokens.has(given.replace(/^Bearer /, '')));
    if (!allowed) {
      const name = /^\/v2\/(.+?)\/(?:manifests|blobs|tags)\//.exec(pathname)?.[1] ?? '';
      const challenge = auth.kind === 'basic' ? 'Basic realm="test registry"' : `Bearer realm="http://${host}/token",service="test-registry",scope="repository:${name}:pull"`;
      response.writeHead(401, { 'www-authenticate': challenge, 'content-type': 'application/json' });
      response.end('{"errors":[{"code":"UNAUTHORIZED"}]}');
      return;
    }
    try {
      const reply = await fetch(`http://${upstream}${url}`, { method: request.method, headers: request.headers.accept ? { accept: request.headers.accept } : {}, redirect: 'manual' });
      const headers: Record<string, string> = {};
      for (const name of ['content-type', 'docker-content-digest', 'location', 'link']) {
        const value = reply.headers.get(name);
        if (value) headers[name] = value;
      }
      let body: Buffer = Buffer.from(await reply.arrayBuffer());
      body = tamper?.(pathname, body, headers) ?? body;
      response.writeHead(reply.status, headers);
      response.end(request.method === 'HEAD' ? undefined : body);
    } catch {
      response.writeHead(502);
      response.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  host = `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  closers.push(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
  return { host, requests, tokensIssued: () => tokens.size };
}
