// Checks on PEM files before they are handed on as Secrets: complete BEGIN/END blocks (a file cut
// short by a non-atomic copy has no final END), parseable by OpenSSL, and a private key that belongs
// to the leaf certificate. Problems are strings; nothing here throws.
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { err, ok, type Result } from '../../domain/result.js';

interface PemBlock {
  readonly label: string;
  readonly text: string;
}

const BEGIN = /-----BEGIN ([A-Z0-9 ]+)-----/g;

/** Every block in order; an unmatched BEGIN or a stray END is an error. */
export function pemBlocks(text: string): Result<PemBlock[], string> {
  const blocks: PemBlock[] = [];
  let end = 0;
  for (const match of text.matchAll(BEGIN)) {
    if (match.index < end) continue;
    const label = match[1]!;
    const endMarker = `-----END ${label}-----`;
    const endAt = text.indexOf(endMarker, match.index);
    if (endAt === -1) return err(`"${label}" block has no END line (file incomplete?)`);
    const between = text.slice(match.index + match[0].length, endAt);
    if (between.includes('-----')) return err(`"${label}" block is not closed before the next marker`);
    end = endAt + endMarker.length;
    blocks.push({ label, text: text.slice(match.index, end) });
  }
  const strayEnd = text.lastIndexOf('-----END ');
  if (strayEnd >= end) return err('END line without a BEGIN');
  if (blocks.length === 0) return err('no PEM block');
  return ok(blocks);
}

/** The certificates of a PEM file (a chain or a bundle of roots), leaf first. */
export function parseCertificates(text: string): Result<X509Certificate[], string> {
  const blocks = pemBlocks(text);
  if (!blocks.ok) return blocks;
  const certificates: X509Certificate[] = [];
  for (const [i, block] of blocks.value.entries()) {
    if (block.label !== 'CERTIFICATE') return err(`block ${i + 1} is "${block.label}", expected CERTIFICATE`);
    try {
      certificates.push(new X509Certificate(block.text));
    } catch (error) {
      return err(`certificate ${i + 1} does not parse: ${(error as Error).message}`);
    }
  }
  return ok(certificates);
}

const KEY_LABELS = new Set(['PRIVATE KEY', 'RSA PRIVATE KEY', 'EC PRIVATE KEY']);

/** One unencrypted private key (PKCS#8, PKCS#1 or SEC1, as Istio writes depending on PKCS8_KEY/ECC). */
export function parsePrivateKey(text: string): Result<KeyObject, string> {
  const blocks = pemBlocks(text);
  if (!blocks.ok) return blocks;
  const keys = blocks.value.filter((block) => block.label !== 'EC PARAMETERS');
  if (keys.length !== 1 || !KEY_LABELS.has(keys[0]!.label)) return err(`expected one unencrypted private key, found ${blocks.value.map((b) => b.label).join(', ')}`);
  try {
    return ok(createPrivateKey(keys[0]!.text));
  } catch (error) {
    return err(`private key does not parse: ${(error as Error).message}`);
  }
}

export const keyMatchesCertificate = (certificate: X509Certificate, key: KeyObject): boolean => {
  try {
    return certificate.checkPrivateKey(key);
  } catch {
    return false; // different key types (an EC key against an RSA certificate) throw rather than answer false
  }
};
