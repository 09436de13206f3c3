import { execa } from 'execa';
import { promises as fs } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { resolveHelm } from '../../src/helm/binary.js';

/** A real HTTP Helm chart repository on 127.0.0.1: charts packaged by helm, index.yaml made by `helm repo index`. */
export class ChartServer {
  requests: string[] = [];

  private constructor(
    private readonly server: http.Server,
    readonly dir: string,
    readonly url: string,
  ) {}

  static async start(chartDirs: string[]): Promise<ChartServer> {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-chart-repo-'));
    const helm = (await resolveHelm()).path;
    for (const chartDir of chartDirs) await execa(helm, ['package', chartDir, '--destination', dir]);
    const holder: { server?: ChartServer } = {};
    const server = http.createServer((request, response) => {
      holder.server?.requests.push(request.url ?? '');
      const file = path.join(dir, path.basename(decodeURIComponent((request.url ?? '/').split('?')[0] ?? '/')));
      fs.readFile(file).then(
        (data) => {
          response.writeHead(200, { 'content-type': file.endsWith('.yaml') ? 'application/x-yaml' : 'application/gzip' });
          response.end(data);
        },
        () => {
          response.writeHead(404);
          response.end('not found');
        },
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await execa(helm, ['repo', 'index', dir, '--url', url]);
    holder.server = new ChartServer(server, dir, url);
    return holder.server;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await fs.rm(this.dir, { recursive: true, force: true });
  }
}
