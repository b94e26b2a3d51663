// SDS Secret → domain Secret (inline PEM only).
import type { Secret as DomainSecret } from '../../../domain/mesh/secret.js';
import type { Secret } from '../generated/envoy/extensions/transport_sockets/tls/v3/secret.js';
import type { DecodeContext } from './decode-context.js';
import { inlineData } from './scalars.js';

export function decodeSecret(secret: Secret, ctx: DecodeContext): DomainSecret | undefined {
  const type = secret.type;
  switch (type?.$case) {
    case 'tlsCertificate': {
      const chain = inlineData(type.value.certificateChain, 'tls_certificate.certificate_chain', ctx);
      if (chain === undefined) {
        ctx.dropped('tls_certificate', 'no inline certificate chain');
        return undefined;
      }
      return { kind: 'certificate', name: secret.name, certificateChain: chain, privateKey: inlineData(type.value.privateKey, 'tls_certificate.private_key', ctx) };
    }
    case 'validationContext': {
      const ca = inlineData(type.value.trustedCa, 'validation_context.trusted_ca', ctx);
      if (ca === undefined) {
        ctx.dropped('validation_context', 'no inline trusted CA');
        return undefined;
      }
      return { kind: 'validation', name: secret.name, trustedCa: ca };
    }
    default:
      ctx.dropped('type', type ? `${type.$case} secrets are not used by APISIX` : 'empty secret');
      return undefined;
  }
}
