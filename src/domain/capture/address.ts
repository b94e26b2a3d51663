// IP addresses and CIDR prefixes as istio-iptables accepts them, checked without touching the network.
// The text the user gave is kept (iptables prints its own canonical form anyway); only validity,
// family and "is it loopback" matter to the planner.
import { err, ok, type Result } from '../result.js';

export type IpFamily = 'ipv4' | 'ipv6';

export interface IpAddress {
  readonly family: IpFamily;
  readonly text: string;
  /** 4 or 16 bytes, network order. */
  readonly bytes: readonly number[];
}

export interface IpPrefix {
  readonly address: IpAddress;
  readonly length: number;
  readonly text: string;
}

function parseIpv4Bytes(text: string): number[] | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const bytes: number[] = [];
  for (const part of parts) {
    // Leading zeros are ambiguous (octal in some parsers): Go's netip rejects them, so do we.
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return undefined;
    const value = Number(part);
    if (value > 255) return undefined;
    bytes.push(value);
  }
  return bytes;
}

function parseIpv6Bytes(text: string): number[] | undefined {
  if (text.length === 0 || text.includes('%')) return undefined;
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groupsOf = (half: string): number[] | undefined => {
    if (half === '') return [];
    const out: number[] = [];
    const pieces = half.split(':');
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i]!;
      if (i === pieces.length - 1 && piece.includes('.')) {
        const v4 = parseIpv4Bytes(piece);
        if (!v4) return undefined;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(piece)) return undefined;
        out.push(parseInt(piece, 16));
      }
    }
    return out;
  };
  const head = groupsOf(halves[0]!);
  const tail = halves.length === 2 ? groupsOf(halves[1]!) : [];
  if (!head || !tail) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const groups = [...head, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tail];
  return groups.flatMap((g) => [g >> 8, g & 0xff]);
}

export function parseIpAddress(text: string): Result<IpAddress, string> {
  const v4 = parseIpv4Bytes(text);
  if (v4) return ok({ family: 'ipv4', text, bytes: v4 });
  const v6 = text.includes(':') ? parseIpv6Bytes(text) : undefined;
  if (v6) return ok({ family: 'ipv6', text, bytes: v6 });
  return err(`"${text}" is not an IPv4 or IPv6 address`);
}

export function parseIpPrefix(text: string): Result<IpPrefix, string> {
  const slash = text.indexOf('/');
  if (slash < 0) return err(`"${text}" is not a CIDR prefix (address/length)`);
  const address = parseIpAddress(text.slice(0, slash));
  if (!address.ok) return err(`"${text}" is not a CIDR prefix: ${address.error}`);
  const lengthText = text.slice(slash + 1);
  const max = address.value.family === 'ipv4' ? 32 : 128;
  if (!/^(0|[1-9][0-9]{0,2})$/.test(lengthText) || Number(lengthText) > max) {
    return err(`"${text}" has an invalid prefix length (0–${max} for ${address.value.family === 'ipv4' ? 'IPv4' : 'IPv6'})`);
  }
  return ok({ address: address.value, length: Number(lengthText), text });
}

/** 127.0.0.0/8 or ::1, as Go's netip.Addr.IsLoopback decides. */
export function isLoopback(address: IpAddress): boolean {
  if (address.family === 'ipv4') return address.bytes[0] === 127;
  return address.bytes.slice(0, 15).every((b) => b === 0) && address.bytes[15] === 1;
}

/** Whether every address of `inner` lies inside `outer` (same family). */
export function prefixContains(outer: IpPrefix, inner: IpPrefix): boolean {
  if (outer.address.family !== inner.address.family || inner.length < outer.length) return false;
  for (let bit = 0; bit < outer.length; bit++) {
    const byte = bit >> 3;
    const mask = 0x80 >> (bit & 7);
    if ((outer.address.bytes[byte]! & mask) !== (inner.address.bytes[byte]! & mask)) return false;
  }
  return true;
}
