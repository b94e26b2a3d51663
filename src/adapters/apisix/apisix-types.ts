// The APISIX objects this project emits (a subset of APISIX 3.x's schemas: route, upstream, ssl,
// stream_route). Field names are APISIX's own.
import type { JsonValue } from '../../domain/json.js';

/** A lua-resty-expr expression: `[var, op, value]`, `[var, '!', op, value]` or `['OR'|'AND', expr…]`. */
export type VarExpr = JsonValue[];

export interface ApisixTimeout {
  connect: number;
  send: number;
  read: number;
}

export interface ApisixLabels {
  [key: string]: string;
}

export interface ApisixRoute {
  id: string;
  name: string;
  desc?: string;
  labels: ApisixLabels;
  uri: string;
  hosts?: string[];
  vars?: VarExpr[];
  priority: number;
  upstream_id?: string;
  plugins?: { [plugin: string]: JsonValue };
  timeout?: ApisixTimeout;
  enable_websocket?: boolean;
  status: 1;
}

export interface ApisixNode {
  host: string;
  port: number;
  weight: number;
  priority?: number;
}

export interface ApisixHealthChecks {
  active: { [key: string]: JsonValue };
  passive?: { [key: string]: JsonValue };
}

export interface ApisixUpstream {
  id: string;
  name: string;
  desc?: string;
  labels: ApisixLabels;
  type: 'roundrobin' | 'chash' | 'least_conn' | 'ewma';
  hash_on?: 'vars' | 'header' | 'cookie';
  key?: string;
  nodes: ApisixNode[];
  scheme: 'http' | 'https' | 'grpc' | 'grpcs' | 'tcp' | 'tls';
  pass_host?: 'pass' | 'node' | 'rewrite';
  upstream_host?: string;
  timeout: ApisixTimeout;
  retries: number;
  retry_timeout?: number;
  tls?: { client_cert_id: string };
  checks?: ApisixHealthChecks;
}

export interface ApisixSsl {
  id: string;
  labels: ApisixLabels;
  type: 'client' | 'server';
  cert: string;
  key: string;
  snis?: string[];
}

export interface ApisixStreamRoute {
  id: string;
  name: string;
  desc?: string;
  labels: ApisixLabels;
  server_addr?: string;
  server_port?: number;
  sni?: string;
  upstream_id: string;
}
