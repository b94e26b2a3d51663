// `amesh controller`: the cluster watch and reconcile loop, the gRPC plugin delivery the sidecars
// subscribe to, and /healthz + /readyz (ready once the caches synced and while the watches are up).
import { createServer, type Server } from 'node:http';
import type { GrpcPluginDelivery } from '../../adapters/plugin-grpc/grpc-plugin-delivery.js';
import type { Logger } from '../../ports/logger.js';
import type { PluginSchemas } from '../../ports/plugin-schemas.js';
import type { PluginController } from './plugin-controller.js';

export interface ControllerAppDeps {
  readonly controller: PluginController;
  readonly delivery: GrpcPluginDelivery;
  readonly logger: Logger;
  readonly healthAddress: string | undefined;
  /** Only said at startup: whether plugin configs are checked against APISIX's schemas. */
  readonly pluginSchemas: PluginSchemas | undefined;
}

export class ControllerApp {
  private health: Server | undefined;
  private deliveryAddress: string | undefined;

  constructor(private readonly deps: ControllerAppDeps) {}

  /** Where sidecars subscribe (`host:port`), once started. */
  get address(): string | undefined {
    return this.deliveryAddress;
  }

  get controller(): PluginController {
    return this.deps.controller;
  }

  async start(): Promise<void> {
    const schemas = this.deps.pluginSchemas;
    if (schemas) this.deps.logger.info({ source: schemas.source, plugins: schemas.names().length }, "plugin configs are checked against APISIX's plugin schemas before delivery");
    else
      this.deps.logger.warn(
        { flag: '--plugin-schemas', env: 'AMESH_PLUGIN_SCHEMAS' },
        "no APISIX plugin schemas: plugin configs get only structural checks, and one APISIX refuses reaches the sidecars (APISIX then drops the routes it is on)",
      );
    this.deliveryAddress = await this.deps.delivery.listen();
    this.deps.logger.info({ address: this.deliveryAddress }, 'plugin delivery listening');
    if (this.deps.healthAddress) await this.listenHealth(this.deps.healthAddress);
    await this.deps.controller.start();
  }

  async stop(): Promise<void> {
    await this.deps.controller.stop();
    await this.deps.delivery.close();
    await new Promise<void>((resolve) => (this.health ? this.health.close(() => resolve()) : resolve()));
    this.deps.logger.info({}, 'stopped');
  }

  private async listenHealth(address: string): Promise<void> {
    const colon = address.lastIndexOf(':');
    const server = createServer((req, res) => {
      const state = this.deps.controller.state;
      const ready = state.synced && state.connected;
      const [code, body] = req.url === '/healthz' ? [200, 'ok'] : req.url === '/readyz' ? [ready ? 200 : 503, JSON.stringify(state)] : [404, 'not found'];
      res.writeHead(code, { 'content-type': 'text/plain' }).end(body);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(Number(address.slice(colon + 1)), address.slice(0, colon).replace(/^\[|\]$/g, '') || undefined, () => resolve());
    });
    this.health = server;
  }
}
