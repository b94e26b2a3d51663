// The sidecar's operations endpoints, on up to three addresses by role:
// - `ready` where Istio's pod spec expects readiness (15021, probed by the kubelet: `/healthz/ready`)
//   and `metrics` where Prometheus scrapes (15090, `/stats/prometheus`, also `/metrics`). Both are
//   reachable from the network and serve nothing but probes and metrics.
// - `admin` (127.0.0.1:15000 by default, like Envoy's admin) also serves `/debug/config_dump`: the
//   configuration in force with its fidelity report and what the sinks' targets do not serve. The
//   dump shows private keys redacted wherever it is served, and is never served on `ready`/`metrics`.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { redactedDocument } from '../../adapters/apisix/redacted-document.js';
import { displayText } from '../../domain/display-text.js';
import { redactJsonStrings } from '../../domain/redaction.js';
import type { SyncStatus } from './sync-service.js';

export type OpsRole = 'ready' | 'metrics' | 'admin';

export interface OpsAddress {
  readonly role: OpsRole;
  /** `host:port`; an empty host is every interface, port 0 a free port. */
  readonly address: string;
}

export interface BoundOpsAddress extends OpsAddress {
  /** What the server listens on (the port chosen for port 0). */
  readonly bound: string;
}

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

  private async handle(request: IncomingMessage, response: ServerResponse, admin: boolean): Promise<void> {
    const path = (request.url ?? '/').split('?')[0];
    const status = this.deps.status();
    switch (path) {
      case '/healthz/ready':
      case '/ready':
        // Ready once a configuration (live, or the cached one while the control plane is away) is applied.
        // Why not is for the admin address: the error names resources, files and the sinks' targets.
        if (status.ready) send(response, 200, 'ready\n');
        else send(response, 503, `not ready${admin && status.lastError ? `: ${displayText(status.lastError)}` : ''}\n`);
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
        if (!admin) return send(response, 404, 'not found (the config dump is served on the admin address)\n');
        const translation = status.translation;
        const dump = redactJsonStrings({
          version: status.version ?? null,
          ready: status.ready,
          fromCache: status.fromCache,
          xdsConnected: this.deps.xdsConnected() ?? null,
          lastError: status.lastError ?? null,
          // Objects a sink's target does not serve as it is set up (stream routes without stream mode).
          unserved: status.unserved,
          fidelity: translation ? { summary: translation.report.summary(), records: translation.report.records } : null,
          config: translation ? redactedDocument(translation.config) : null,
        });
        send(response, 200, `${JSON.stringify(dump, null, 2)}\n`, 'application/json');
        return;
      }
      default:
        send(response, 404, 'not found\n');
    }
  }

  /**
   * Listens on each address; roles sharing an address share one server, which then serves what each
   * of them serves (port 0 is shared by readiness and metrics, never with admin, which gets its own).
   * Returns the bound addresses in the order given.
   */
  async listen(addresses: readonly OpsAddress[]): Promise<BoundOpsAddress[]> {
    const keyOf = ({ role, address }: OpsAddress): string => (role === 'admin' && address.endsWith(':0') ? `${address} admin` : address);
    const roles = new Map<string, { readonly address: string; readonly roles: Set<OpsRole> }>();
    for (const entry of addresses) {
      const key = keyOf(entry);
      const group = roles.get(key) ?? { address: entry.address, roles: new Set<OpsRole>() };
      group.roles.add(entry.role);
      roles.set(key, group);
    }
    const boundByKey = new Map<string, string>();
    for (const [key, { address, roles: served }] of roles) {
      const colon = address.lastIndexOf(':');
      const host = address.slice(0, colon) || '0.0.0.0';
      const port = Number(address.slice(colon + 1));
      const admin = served.has('admin');
      const server = createServer((req, res) => {
        this.handle(req, res, admin).catch((error: unknown) => send(res, 500, `${displayText(String(error))}\n`));
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host.replace(/^\[|\]$/g, ''), () => resolve());
      });
      this.servers.push(server);
      const info = server.address() as AddressInfo;
      boundByKey.set(key, `${host}:${info.port}`);
    }
    return addresses.map((a) => ({ ...a, bound: boundByKey.get(keyOf(a))! }));
  }

  async close(): Promise<void> {
    await Promise.all(this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    this.servers.length = 0;
  }
}

/** Whether only this machine can reach `host` (an `host:port`'s host, brackets allowed). */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  return bare === 'localhost' || bare === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare) || bare === '::ffff:127.0.0.1';
}
