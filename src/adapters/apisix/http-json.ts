// A small keep-alive HTTP client for APISIX's Admin API and etcd's JSON gateway: one pooled agent per
// client (sockets bounded by the caller's concurrency), a deadline per request, and failures as
// values. Errors name the method and path only: headers (the API key) never reach a message.
import http from 'node:http';
import https from 'node:https';

export interface HttpReply {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/** A reply, or why there was none (refused, reset, timed out): the caller decides about retrying. */
export type HttpOutcome = { readonly ok: true; readonly reply: HttpReply } | { readonly ok: false; readonly error: string };

export interface HttpJsonOptions {
  /** `http(s)://host:port`, without credentials or path. */
  readonly baseUrl: string;
  readonly timeoutMs: number;
  readonly maxSockets: number;
}

export interface HttpRequest {
  readonly method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'DELETE';
  readonly path: string;
  readonly body?: string;
  readonly headers?: Readonly<Record<string, string>>;
}

/** Rejects anything but a bare origin, so that credentials cannot hide in a URL that gets logged. */
export function parseOrigin(text: string): URL | string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `"${text}" is not a URL (e.g. http://127.0.0.1:9180)`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `"${text}": expected http:// or https://`;
  if (url.username || url.password) return `"${url.host}": credentials in the URL are not allowed (use --admin-key-file or AMESH_ADMIN_KEY)`;
  if ((url.pathname !== '/' && url.pathname !== '') || url.search) return `"${url.origin}": give the origin only, without a path`;
  return url;
}

export class HttpJsonClient {
  private readonly agent: http.Agent;
  private readonly url: URL;
  private readonly request: typeof http.request;

  constructor(private readonly options: HttpJsonOptions) {
    this.url = new URL(options.baseUrl);
    const secure = this.url.protocol === 'https:';
    const agentOptions = { keepAlive: true, maxSockets: options.maxSockets, keepAliveMsecs: 10_000 };
    this.agent = secure ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
    this.request = secure ? https.request : http.request;
  }

  get origin(): string {
    return this.url.origin;
  }

  send(request: HttpRequest): Promise<HttpOutcome> {
    return new Promise((resolve) => {
      let settled = false;
      const finish = (outcome: HttpOutcome): void => {
        if (settled) return;
        settled = true;
        resolve(outcome);
      };
      const body = request.body === undefined ? undefined : Buffer.from(request.body);
      const req = this.request(
        {
          protocol: this.url.protocol,
          hostname: this.url.hostname,
          port: this.url.port,
          method: request.method,
          path: request.path,
          agent: this.agent,
          headers: {
            ...(body ? { 'content-type': 'application/json', 'content-length': String(body.length) } : {}),
            ...request.headers,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => finish({ ok: true, reply: { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') } }));
          res.on('error', (error) => finish({ ok: false, error: `${request.method} ${request.path}: response interrupted (${error.message})` }));
          res.on('aborted', () => finish({ ok: false, error: `${request.method} ${request.path}: response aborted` }));
        },
      );
      req.setTimeout(this.options.timeoutMs, () => {
        req.destroy(new Error(`no answer within ${this.options.timeoutMs} ms`));
      });
      req.on('error', (error: NodeJS.ErrnoException) =>
        finish({ ok: false, error: `${request.method} ${this.url.host}${request.path}: ${error.code ? `${error.code} (${error.message})` : error.message}` }),
      );
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
