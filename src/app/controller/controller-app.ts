// `amesh controller`: the cluster watch and reconcile loop, the gRPC plugin delivery the sidecars
// subscribe to, leader election among the replicas, /healthz + /readyz (ready once the caches
// synced and while the watches are up, leader or not: a follower is a healthy replica, and a
// rollout must not wait for it to lead) and Prometheus metrics.
//
// Every replica watches and keeps its caches current; only the leader delivers and writes status.
// Delivery starts paused (subscriptions refused with UNAVAILABLE, so sidecars look elsewhere) and
// is resumed only once the leader has published every pod's set: a sidecar never gets an empty set
// from a replica that simply has not computed it yet. Losing the lease pauses it again at once.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import type { GrpcPluginDelivery } from '../../adapters/plugin-grpc/grpc-plugin-delivery.js';
import type { VersionClock } from '../../domain/plugins/version-clock.js';
import type { ControllerMetrics } from '../../ports/controller-metrics.js';
import type { LeaderElection, LeadershipTerm } from '../../ports/leader-election.js';
import type { Logger } from '../../ports/logger.js';
import type { PluginSchemas } from '../../ports/plugin-schemas.js';
import type { ControllerState, PluginController } from './plugin-controller.js';

export interface ControllerAppDeps {
  readonly controller: PluginController;
  readonly delivery: GrpcPluginDelivery;
  readonly election: LeaderElection;
  /** The clock the plugin set versions come from: moved past the previous leader's on election. */
  readonly clock: VersionClock;
  readonly metrics: ControllerMetrics;
  readonly logger: Logger;
  readonly healthAddress: string | undefined;
  readonly metricsAddress: string | undefined;
  /** What the metrics endpoint serves; undefined: metrics recorded elsewhere (tests). */
  readonly registry: Registry | undefined;
  /** Only said at startup: whether plugin configs are checked against APISIX's schemas. */
  readonly pluginSchemas: PluginSchemas | undefined;
}

export interface ControllerAppState extends ControllerState {
  readonly identity: string;
  /** The leader as last observed (this replica or another); undefined when none is known. */
  readonly leader: string | undefined;
  /** The leader's delivery is resumed (its first full pass published). */
  readonly delivering: boolean;
}

function send(response: ServerResponse, code: number, body: string, type = 'text/plain; charset=utf-8'): void {
  response.writeHead(code, { 'content-type': type, 'cache-control': 'no-store' }).end(body);
}

async function listenHttp(address: string, handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Server> {
  const colon = address.lastIndexOf(':');
  const server = createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(address.slice(colon + 1)), address.slice(0, colon).replace(/^\[|\]$/g, '') || undefined, () => resolve());
  });
  return server;
}

export class ControllerApp {
  private readonly servers: Server[] = [];
  private deliveryAddress: string | undefined;
  private leader: string | undefined;
  private delivering = false;
  /** Bumped on every election and loss: a first pass finishing late cannot resume a stale term. */
  private term = 0;

  constructor(private readonly deps: ControllerAppDeps) {}

  /** Where sidecars subscribe (`host:port`), once started. */
  get address(): string | undefined {
    return this.deliveryAddress;
  }

  get controller(): PluginController {
    return this.deps.controller;
  }

  get state(): ControllerAppState {
    return { ...this.deps.controller.state, identity: this.deps.election.identity, leader: this.leader, delivering: this.delivering };
  }

  async start(): Promise<void> {
    const { logger, delivery, election } = this.deps;
    const schemas = this.deps.pluginSchemas;
    if (schemas) logger.info({ source: schemas.source, plugins: schemas.names().length }, "plugin configs are checked against APISIX's plugin schemas before delivery");
    else
      logger.warn(
        { flag: '--plugin-schemas', env: 'AMESH_PLUGIN_SCHEMAS' },
        'no APISIX plugin schemas: plugin configs get only structural checks, and one APISIX refuses reaches the sidecars (APISIX then drops the routes it is on)',
      );
    delivery.pause('this controller replica is not the leader (yet)');
    this.deliveryAddress = await delivery.listen();
    logger.info({ address: this.deliveryAddress }, 'plugin delivery listening (paused until elected)');
    if (this.deps.healthAddress) this.servers.push(await listenHttp(this.deps.healthAddress, (req, res) => this.health(req, res)));
    if (this.deps.metricsAddress && this.deps.registry) {
      const registry = this.deps.registry;
      this.servers.push(
        await listenHttp(this.deps.metricsAddress, (req, res) => {
          if ((req.url ?? '/').split('?')[0] !== '/metrics') return send(res, 404, 'not found\n');
          registry.metrics().then(
            (text) => send(res, 200, text, registry.contentType),
            (e: unknown) => send(res, 500, `${String(e)}\n`),
          );
        }),
      );
    }
    this.deps.metrics.leader(false);
    await this.deps.controller.start();
    await election.start({
      elected: (term) => this.elected(term),
      deposed: (reason) => this.deposed(reason),
      leaderObserved: (holder) => {
        this.leader = holder;
        logger.info({ leader: holder ?? null, identity: election.identity }, holder === undefined ? 'no leader' : 'leader observed');
      },
      failed: (reason) => {
        this.deps.metrics.error('lease');
        logger.debug({ lease: election.target, reason }, 'lease read or write failed; retrying');
      },
    });
    logger.info({ lease: election.target, identity: election.identity }, 'campaigning for leadership');
  }

  async stop(): Promise<void> {
    // Stop acting as leader before the lease is freed: another replica may lead as soon as it is.
    this.term++;
    this.delivering = false;
    this.deps.controller.follow();
    this.deps.delivery.pause('controller shutting down');
    await this.deps.election.stop({ release: true });
    await this.deps.controller.stop();
    await this.deps.delivery.close();
    await Promise.all(this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    this.servers.length = 0;
    this.deps.logger.info({}, 'stopped');
  }

  private elected(term: LeadershipTerm): void {
    const { logger, controller, delivery, clock, metrics } = this.deps;
    // The previous leader's versions came from its clock, up to this bound at most.
    if (term.previousUntilMs !== undefined) clock.atLeast(term.previousUntilMs);
    const mine = ++this.term;
    this.leader = term.identity;
    metrics.leader(true);
    logger.info(
      { identity: term.identity, previousHolder: term.previousHolder ?? null, versionsAbove: term.previousUntilMs ?? null },
      "elected leader: publishing every pod's plugin set",
    );
    const electedAt = performance.now();
    void controller.lead().then((published) => {
      if (!published || mine !== this.term) return;
      delivery.resume();
      this.delivering = true;
      logger.info({ identity: term.identity, afterMs: Math.round(performance.now() - electedAt) }, 'delivering plugin sets as the leader');
    });
  }

  private deposed(reason: string): void {
    this.term++;
    this.delivering = false;
    if (this.leader === this.deps.election.identity) this.leader = undefined;
    this.deps.metrics.leader(false);
    this.deps.controller.follow();
    this.deps.delivery.pause(`this controller replica is no longer the leader: ${reason}`);
    this.deps.logger.warn({ identity: this.deps.election.identity, reason }, 'lost leadership: delivery paused, status no longer written');
  }

  private health(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') return send(res, 200, 'ok\n');
    if (path !== '/readyz') return send(res, 404, 'not found\n');
    const state = this.state;
    send(res, state.synced && state.connected ? 200 : 503, `${JSON.stringify(state)}\n`, 'application/json');
  }
}
