import http from 'node:http';
import net from 'node:net';

/** How a test stops what it started (run in afterEach/afterAll). */
export type Closers = Array<() => Promise<unknown>>;

/**
 * A loopback listener that counts and drops every connection: a host the guard must never contact
 * (the count stays 0), or an allowed host that cannot be reached.
 */
export async function countingListener(closers: Closers): Promise<{ host: string; port: number; connections: () => number }> {
  let count = 0;
  const server = net.createServer((socket) => {
    count++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const port = (server.address() as net.AddressInfo).port;
  return { host: `127.0.0.1:${port}`, port, connections: () => count };
}

export type Route = Buffer | string | ((url: string, request: http.IncomingMessage) => { status: number; headers?: Record<string, string>; body?: string | Buffer });

/** An HTTP server on loopback answering from a table of paths (a function gives a status and headers); it records every path asked. */
export async function routedServer(routes: Record<string, Route>, closers: Closers): Promise<{ host: string; port: number; url: string; requests: string[] }> {
  const requests: string[] = [];
  const server = http.createServer((request, response) => {
    const url = request.url ?? '/';
    requests.push(url);
    const route = routes[url.split('?')[0]!];
    if (typeof route === 'function') {
      const answer = route(url, request);
      response.writeHead(answer.status, answer.headers);
      response.end(answer.body ?? '');
    } else if (route !== undefined) {
      response.writeHead(200);
      response.end(route);
    } else {
      response.writeHead(404);
      response.end('not found');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
  const port = (server.address() as net.AddressInfo).port;
  const host = `127.0.0.1:${port}`;
  return { host, port, url: `http://${host}`, requests };
}
