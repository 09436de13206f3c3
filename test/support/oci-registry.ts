import { execa } from 'execa';
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { resolveHelm } from '../../src/helm/binary.js';

const REGISTRY_BINARY = '/usr/bin/docker-registry';

/** A real OCI registry (Debian's docker-registry, the CNCF distribution) on 127.0.0.1, plain HTTP. */
export class OciRegistry {
  private constructor(
    private readonly process: ChildProcess,
    readonly dir: string,
    /** host:port */
    readonly host: string,
  ) {}

  static async start(): Promise<OciRegistry> {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-oci-registry-'));
    const port = await freePort();
    const config = [
      'version: 0.1',
      'log:',
      '  level: error',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${path.join(dir, 'data')}`,
      'http:',
      `  addr: 127.0.0.1:${port}`,
      '',
    ].join('\n');
    await fs.writeFile(path.join(dir, 'config.yml'), config);
    const child = spawn(REGISTRY_BINARY, ['serve', path.join(dir, 'config.yml')], { stdio: 'ignore' });
    const registry = new OciRegistry(child, dir, `127.0.0.1:${port}`);
    try {
      await registry.waitUntilReady();
    } catch (error) {
      await registry.stop();
      throw error;
    }
    return registry;
  }

  /** Package a chart directory with the real helm and push it to oci://host/<repository>. */
  async pushChart(chartDir: string, repository = 'charts'): Promise<void> {
    const helm = (await resolveHelm()).path;
    const packaged = await fs.mkdtemp(path.join(this.dir, 'package-'));
    const env = { HELM_CONFIG_HOME: path.join(this.dir, 'helm-config'), HELM_CACHE_HOME: path.join(this.dir, 'helm-cache'), HELM_DATA_HOME: path.join(this.dir, 'helm-data') };
    await execa(helm, ['package', chartDir, '--destination', packaged], { env });
    const [archive] = await fs.readdir(packaged);
    await execa(helm, ['push', path.join(packaged, archive!), `oci://${this.host}/${repository}`, '--plain-http'], { env });
  }

  private async waitUntilReady(): Promise<void> {
    for (let attempt = 0; attempt < 100; attempt++) {
      if (this.process.exitCode !== null) throw new Error(`docker-registry exited with code ${this.process.exitCode}`);
      const ready = await fetch(`http://${this.host}/v2/`).then((response) => response.ok, () => false);
      if (ready) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`docker-registry did not answer on http://${this.host}/v2/ within 10 s`);
  }

  async stop(): Promise<void> {
    if (this.process.exitCode === null) {
      const exited = new Promise((resolve) => this.process.once('exit', resolve));
      this.process.kill();
      await exited;
    }
    await fs.rm(this.dir, { recursive: true, force: true });
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
