// `amesh injector`: a mutating admission webhook over HTTPS. POST /inject with an AdmissionReview
// for a pod answers with the JSON Patch that adds the amesh sidecar (or no patch when the pod opts
// out); GET /healthz for probes. Certificates are re-read when their files change (cert-manager
// rotates them in place), so a rotation needs no restart.
import { readFileSync, watchFile, unwatchFile } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { decideInjection } from '../../domain/injection/injection-decision.js';
import { injectionPatch } from '../../domain/injection/injection-patch.js';
import type { SidecarTemplateOptions } from '../../domain/injection/sidecar-template.js';
import type { Logger } from '../../ports/logger.js';
import { admissionResponse, decodeAdmissionReview } from './admission-review.js';

export interface InjectorAppOptions {
  readonly listen: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly template: SidecarTemplateOptions;
  readonly logger: Logger;
}

const MAX_BODY = 3 * 1024 * 1024; // the API server's own request limit

export class InjectorApp {
  private server: Server | undefined;
  private bound: string | undefined;

  constructor(private readonly options: InjectorAppOptions) {}

  get address(): string | undefined {
    return this.bound;
  }

  async start(): Promise<string> {
    const server = createServer({ cert: readFileSync(this.options.certFile), key: readFileSync(this.options.keyFile) }, (req, res) => void this.handle(req, res));
    const reload = (): void => {
      try {
        server.setSecureContext({ cert: readFileSync(this.options.certFile), key: readFileSync(this.options.keyFile) });
        this.options.logger.info({ certFile: this.options.certFile }, 'serving certificate reloaded');
      } catch (e) {
        this.options.logger.error({ reason: e instanceof Error ? e.message : String(e) }, 'serving certificate not reloaded; keeping the previous one');
      }
    };
    watchFile(this.options.certFile, { interval: 5000 }, reload);
    const colon = this.options.listen.lastIndexOf(':');
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(Number(this.options.listen.slice(colon + 1)), this.options.listen.slice(0, colon).replace(/^\[|\]$/g, '') || undefined, () => resolve());
    });
    this.server = server;
    const address = server.address();
    this.bound = typeof address === 'object' && address ? `${address.address}:${address.port}` : this.options.listen;
    this.options.logger.info({ address: this.bound }, 'injector listening');
    return this.bound;
  }

  async stop(): Promise<void> {
    unwatchFile(this.options.certFile);
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://injector');
    if (req.method === 'GET' && url.pathname === '/healthz') return void res.writeHead(200).end('ok');
    if (req.method !== 'POST' || url.pathname !== '/inject') return void res.writeHead(404).end('not found');
    let body = '';
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_BODY) return void res.writeHead(413).end('request too large');
      body += (chunk as Buffer).toString('utf8');
    }
    const request = decodeAdmissionReview(body);
    if (!request.ok) {
      this.options.logger.warn({ reason: request.error }, 'malformed AdmissionReview');
      return void res.writeHead(400, { 'content-type': 'text/plain' }).end(`bad AdmissionReview: ${request.error}\n`);
    }
    const { uid, namespace, pod } = request.value;
    const podName = pod.metadata?.name ?? `${pod.metadata?.generateName ?? ''}*`;
    const decision = decideInjection(pod);
    if (!decision.inject) {
      this.options.logger.info({ namespace, pod: podName, reason: decision.reason }, 'not injected');
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(admissionResponse(uid, undefined));
    }
    const patch = injectionPatch(pod, this.options.template);
    this.options.logger.info({ namespace, pod: podName, operations: patch.length, dryRun: request.value.dryRun }, 'injected');
    res.writeHead(200, { 'content-type': 'application/json' }).end(admissionResponse(uid, patch));
  }
}
