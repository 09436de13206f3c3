import { execa, type ResultPromise } from 'execa';
import { promises as fs } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** A real Alertmanager (Debian prometheus-alertmanager) on 127.0.0.1, without clustering. */
export class AlertmanagerServer {
  private constructor(
    private readonly process: ResultPromise,
    private readonly dir: string,
    readonly url: string,
  ) {}

  static binary(): string {
    return process.env.ALERTMANAGER_BIN ?? 'prometheus-alertmanager';
  }

  static async start(): Promise<AlertmanagerServer> {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-alertmanager-'));
    await fs.writeFile(path.join(dir, 'alertmanager.yml'), 'route:\n  receiver: "null"\nreceivers:\n  - name: "null"\n');
    const port = await freePort();
    const child = execa(AlertmanagerServer.binary(), [
      `--config.file=${path.join(dir, 'alertmanager.yml')}`,
      `--storage.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--cluster.listen-address=',
      '--log.level=warn',
    ], { reject: false });
    const server = new AlertmanagerServer(child, dir, `http://127.0.0.1:${port}`);
    for (let attempt = 0; attempt < 100; attempt++) {
      const ready = await fetch(`${server.url}/-/ready`).then((r) => r.ok, () => false);
      if (ready) return server;
      if (child.exitCode !== null) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await server.stop();
    throw new Error(`Alertmanager did not become ready on ${server.url}`);
  }

  async postAlert(labels: Record<string, string>, summary: string): Promise<void> {
    const response = await fetch(`${this.url}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([{ labels, annotations: { summary }, startsAt: new Date().toISOString() }]),
    });
    if (!response.ok) throw new Error(`posting an alert failed: HTTP ${response.status}`);
  }

  async stop(): Promise<void> {
    this.process.kill('SIGTERM');
    await this.process.catch(() => undefined);
    await fs.rm(this.dir, { recursive: true, force: true });
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}
