// SDS Secret → domain Secret (inline PEM only).
import type { Secret as DomainSecret } from '../../../domain/mesh/secret.js';
import type { Secret } from '../generated/envoy/extensions/transport_sockets/tls/v3/secret.js';
import type { DecodeContext } from './decode-context.js';
import { inlineData } from './scalars.js';

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([^-]*)-----END \1-----/g;
const BASE64_LINES = /^[A-Za-z0-9+/=\r\n]+$/;

/**
 * Envoy refuses certificates that are not PEM ("Failed to load certificate chain from <inline>");
 * APISIX would drop the ssl object and upstreams would go out without a client certificate. Only
 * the PEM structure is checked here (what the key is and whether it matches is the secret
 * sources' business: a config dump redacts keys). Messages never quote the data.
 */
function checkPemCertificates(pem: string, field: string, ctx: DecodeContext): void {
  const blocks = [...pem.matchAll(PEM_BLOCK)];
  const certificates = blocks.filter((b) => b[1] === 'CERTIFICATE');
  // The message names no PEM marker: NACK text is checked to carry none (nothing of a secret leaks).
  if (certificates.length === 0) ctx.fail(field, 'not a PEM certificate (no certificate block in it)');
  else if (certificates.some((b) => !BASE64_LINES.test(b[2] ?? ''))) ctx.fail(field, 'a PEM certificate block is not base64');
}

export function decodeSecret(secret: Secret, ctx: DecodeContext): DomainSecret | undefined {
  const type = secret.type;
  switch (type?.$case) {
    case 'tlsCertificate': {
      const chain = inlineData(type.value.certificateChain, 'tls_certificate.certificate_chain', ctx);
      if (chain === undefined) {
        ctx.dropped('tls_certificate', 'no inline certificate chain');
        return undefined;
      }
      checkPemCertificates(chain, 'tls_certificate.certificate_chain', ctx);
      return { kind: 'certificate', name: secret.name, certificateChain: chain, privateKey: inlineData(type.value.privateKey, 'tls_certificate.private_key', ctx) };
    }
    case 'validationContext': {
      const ca = inlineData(type.value.trustedCa, 'validation_context.trusted_ca', ctx);
      if (ca === undefined) {
        ctx.dropped('validation_context', 'no inline trusted CA');
        return undefined;
      }
      checkPemCertificates(ca, 'validation_context.trusted_ca', ctx);
      return { kind: 'validation', name: secret.name, trustedCa: ca };
    }
    default:
      ctx.dropped('type', type ? `${type.$case} secrets are not used by APISIX` : 'empty secret');
      return undefined;
  }
}
