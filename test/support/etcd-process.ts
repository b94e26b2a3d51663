// A real etcd (Debian's etcd-server) for the tests: a private data directory and ephemeral loopback
// ports, stoppable and restartable on the same data, plus a watcher on etcd's v3 JSON gateway.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The etcd binary, or why there is none (the suite then says it is skipped). */
export function findEtcd(): { ok: true; path: string } | { ok: false; reason: string } {
  const found = spawnSync('sh', ['-c', 'command -v etcd'], { encoding: 'utf8' });
  const path = found.stdout.trim();
  if (found.status === 0 && path) return { ok: true, path };
  return { ok: false, reason: 'etcd not found on PATH (apt-get install etcd-server; .ci/run installs it)' };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export class EtcdProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  private constructor(
    private readonly binary: string,
    private readonly dataDir: string,
    private readonly clientPort: number,
    private readonly peerPort: number,
  ) {}

  static async start(binary: string): Promise<EtcdProcess> {
    const dir = await mkdtemp(join(tmpdir(), 'amesh-etcd-'));
    const etcd = new EtcdProcess(binary, dir, await freePort(), await freePort());
    await etcd.launch();
    return etcd;
  }

  get url(): string {
    return `http://127.0.0.1:${this.clientPort}`;
  }

  private async launch(): Promise<void> {
    const child = spawn(
      this.binary,
      [
        '--name',
        'amesh-test',
        '--data-dir',
        this.dataDir,
        '--listen-client-urls',
        this.url,
        '--advertise-client-urls',
        this.url,
        '--listen-peer-urls',
        `http://127.0.0.1:${this.peerPort}`,
        '--initial-advertise-peer-urls',
        `http://127.0.0.1:${this.peerPort}`,
        '--initial-cluster',
        `amesh-test=http://127.0.0.1:${this.peerPort}`,
        '--logger=zap',
        '--log-level=error',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`etcd exited with ${child.exitCode}: ${stderr}`);
      try {
        const response = await fetch(`${this.url}/v3/kv/range`, { method: 'POST', body: JSON.stringify({ key: Buffer.from('probe').toString('base64') }) });
        if (response.ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`etcd did not answer within 15 s: ${stderr}`);
  }

  /** Kills etcd at once (no graceful shutdown), as a crash would. */
  async kill(): Promise<void> {
    this.child?.kill('SIGKILL');
    await this.exited;
    this.child = undefined;
  }

  /** Starts again on the same data directory and ports. */
  async restart(): Promise<void> {
    if (this.child) await this.kill();
    await this.launch();
  }

  async stop(): Promise<void> {
    if (this.child) {
      this.child.kill('SIGTERM');
      await this.exited;
    }
    await rm(this.dataDir, { recursive: true, force: true });
  }
}

export interface WatchEvent {
  readonly type: 'PUT' | 'DELETE';
  readonly key: string;
  readonly value: string | undefined;
}

/** Watches every key under `prefix` through the JSON gateway's streaming /v3/watch. */
export class EtcdWatcher {
  readonly events: WatchEvent[] = [];
  private readonly abort = new AbortController();
  private created!: Promise<void>;

  static async start(url: string, prefix: string): Promise<EtcdWatcher> {
    const watcher = new EtcdWatcher();
    const end = Buffer.from(prefix);
    end[end.length - 1] = end[end.length - 1]! + 1;
    const response = await fetch(`${url}/v3/watch`, {
      method: 'POST',
      body: JSON.stringify({ create_request: { key: Buffer.from(prefix).toString('base64'), range_end: end.toString('base64') } }),
      signal: watcher.abort.signal,
    });
    let markCreated = (): void => undefined;
    watcher.created = new Promise((resolve) => (markCreated = resolve));
    void watcher.read(response, markCreated);
    await watcher.created;
    return watcher;
  }

  private async read(response: Response, markCreated: () => void): Promise<void> {
    const decoder = new TextDecoder();
    let buffered = '';
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        buffered += decoder.decode(chunk, { stream: true });
        let newline: number;
        while ((newline = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, newline).trim();
          buffered = buffered.slice(newline + 1);
          if (!line) continue;
          const message = JSON.parse(line) as { result?: { created?: boolean; events?: { type?: string; kv: { key: string; value?: string } }[] } };
          if (message.result?.created) markCreated();
          for (const event of message.result?.events ?? []) {
            this.events.push({
              type: event.type === 'DELETE' ? 'DELETE' : 'PUT',
              key: Buffer.from(event.kv.key, 'base64').toString(),
              value: event.kv.value === undefined ? undefined : Buffer.from(event.kv.value, 'base64').toString(),
            });
          }
        }
      }
    } catch {
      // aborted by close()
    }
  }

  /** Waits until at least `count` events arrived (or the timeout), then a little longer for strays. */
  async settle(count: number, timeoutMs = 5_000): Promise<WatchEvent[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.events.length < count && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    await new Promise((resolve) => setTimeout(resolve, 200));
    return [...this.events];
  }

  close(): void {
    this.abort.abort();
  }
}
