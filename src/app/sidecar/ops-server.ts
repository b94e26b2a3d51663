// The sidecar's operations endpoints, where Istio's pod spec expects them: readiness on 15021
// (`/healthz/ready`, probed by the kubelet) and Prometheus metrics on 15090 (`/stats/prometheus`,
// also `/metrics`), plus a config dump with the fidelity report and what the sinks' targets do not
// serve (`/debug/config_dump`).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { standaloneDocument } from '../../adapters/apisix/standalone-document.js';
import type { SyncStatus } from './sync-service.js';

export interface OpsServerDeps {
  readonly status: () => SyncStatus;
  readonly registry: Registry | undefined;
  readonly xdsConnected: () => boolean | undefined;
}

function send(response: ServerResponse, code: number, body: string, type = 'text/plain; charset=utf-8'): void {
  response.writeHead(code, { 'content-type': type, 'cache-control': 'no-store' });
  response.end(body);
}

export class OpsServer {
  private readonly servers: Server[] = [];

  constructor(private readonly deps: OpsServerDeps) {}

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = (request.url ?? '/').split('?')[0];
    const status = this.deps.status();
    switch (path) {
      case '/healthz/ready':
      case '/ready':
        // Ready once a configuration (live, or the cached one while the control plane is away) is applied.
        if (status.ready) send(response, 200, 'ready\n');
        else send(response, 503, `not ready${status.lastError ? `: ${status.lastError}` : ''}\n`);
        return;
      case '/healthz/live':
        send(response, 200, 'live\n');
        return;
      case '/stats/prometheus':
      case '/metrics':
        if (!this.deps.registry) return send(response, 404, 'metrics disabled\n');
        send(response, 200, await this.deps.registry.metrics(), this.deps.registry.contentType);
        return;
      case '/debug/config_dump': {
        const translation = status.translation;
        const dump = {
          version: status.version ?? null,
          ready: status.ready,
          fromCache: status.fromCache,
          xdsConnected: this.deps.xdsConnected() ?? null,
          lastError: status.lastError ?? null,
          // Objects a sink's target does not serve as it is set up (stream routes without stream mode).
          unserved: status.unserved,
          fidelity: translation ? { summary: translation.report.summary(), records: translation.report.records } : null,
          config: translation ? standaloneDocument(translation.config) : null,
        };
        send(response, 200, `${JSON.stringify(dump, null, 2)}\n`, 'application/json');
        return;
      }
      default:
        send(response, 404, 'not found\n');
    }
  }

  /** Listens on each address (`host:port`); returns the bound ones (port 0 picks a free port). */
  async listen(addresses: readonly string[]): Promise<string[]> {
    const bound: string[] = [];
    for (const address of new Set(addresses)) {
      const colon = address.lastIndexOf(':');
      const host = address.slice(0, colon) || '0.0.0.0';
      const port = Number(address.slice(colon + 1));
      const server = createServer((req, res) => {
        this.handle(req, res).catch((error: unknown) => send(res, 500, `${String(error)}\n`));
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host.replace(/^\[|\]$/g, ''), () => resolve());
      });
      this.servers.push(server);
      const info = server.address() as AddressInfo;
      bound.push(`${host}:${info.port}`);
    }
    return bound;
  }

  async close(): Promise<void> {
    await Promise.all(this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    this.servers.length = 0;
  }
}
