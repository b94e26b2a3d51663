// Where a redirected connection was going before iptables sent it to us: getsockopt(SO_ORIGINAL_DST)
// on the accepted socket, through koffi (no npm package reads this struct-valued option). Linux only;
// IPv4 (SOL_IP) and IPv6 (SOL_IPV6, ip6tables' IP6T_SO_ORIGINAL_DST).
import type { Socket } from 'node:net';
import { endianness } from 'node:os';
import koffi from 'koffi';
import { err, ok, type Result } from '../../domain/result.js';

export interface OriginalDestination {
  readonly family: 'ipv4' | 'ipv6';
  readonly address: string;
  readonly port: number;
}

const SOL_IP = 0;
const SOL_IPV6 = 41;
/** Same number for SO_ORIGINAL_DST and IP6T_SO_ORIGINAL_DST (linux/netfilter_ipv4.h, netfilter_ipv6/ip6_tables.h). */
const SO_ORIGINAL_DST = 80;
const AF_INET = 2;
const AF_INET6 = 10;
const SOCKADDR_IN6_SIZE = 28;

type GetSockOpt = (fd: number, level: number, name: number, value: Buffer, length: number[]) => number;
let getsockopt: GetSockOpt | undefined;

function libcGetsockopt(): GetSockOpt {
  // Loaded on first use, so importing this module costs nothing where it is never called.
  getsockopt ??= koffi.load('libc.so.6').func('int getsockopt(int fd, int level, int name, _Out_ uint8_t *value, _Inout_ uint32_t *length)') as GetSockOpt;
  return getsockopt;
}

/** The OS file descriptor behind a Node socket (libuv's handle keeps it; Node has no public accessor). */
function fdOf(socket: Socket): number | undefined {
  const handle: unknown = (socket as unknown as { _handle?: unknown })._handle;
  const fd = typeof handle === 'object' && handle !== null ? (handle as { fd?: unknown }).fd : undefined;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

function ipv6Text(bytes: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  // The WHATWG URL parser prints IPv6 hosts in their canonical compressed form (RFC 5952).
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
}

export function originalDestination(socket: Socket): Result<OriginalDestination, string> {
  const fd = fdOf(socket);
  if (fd === undefined) return err('the socket has no file descriptor (closed, or not a TCP socket)');
  const ipv6 = socket.localFamily === 'IPv6' && !(socket.localAddress ?? '').startsWith('::ffff:');
  const value = Buffer.alloc(SOCKADDR_IN6_SIZE);
  const length = [value.length];
  const status = libcGetsockopt()(fd, ipv6 ? SOL_IPV6 : SOL_IP, SO_ORIGINAL_DST, value, length);
  if (status !== 0) {
    const errno = koffi.errno();
    // ENOENT: conntrack has no NAT entry for this connection (it was not redirected).
    return err(`getsockopt(SO_ORIGINAL_DST) failed with errno ${errno}${errno === 2 ? ' (connection was not redirected)' : ''}`);
  }
  // sa_family is in host byte order, the port in network order.
  const family = endianness() === 'LE' ? value.readUInt16LE(0) : value.readUInt16BE(0);
  const port = value.readUInt16BE(2);
  if (family === AF_INET) return ok({ family: 'ipv4', address: [...value.subarray(4, 8)].join('.'), port });
  if (family === AF_INET6) return ok({ family: 'ipv6', address: ipv6Text(value.subarray(8, 24)), port });
  return err(`getsockopt(SO_ORIGINAL_DST) returned address family ${family}`);
}
