// The one check on TLS material, wherever it comes from: pilot-agent's OUTPUT_CERTS files, Istio's
// `file-cert:`/`file-root:` names, pilot-agent's SDS (injected there by the container). A certificate
// chain whose blocks are all complete, parseable certificates, each issued by the next; a private
// key that parses and belongs to the leaf; a trust bundle of parseable certificates. Envoy refuses a
// key that does not match its certificate; a chain out of order is refused here before a peer does.
// Problems name the field, never its content.
import type { X509Certificate } from 'node:crypto';
import type { Secret } from '../../domain/mesh/secret.js';
import type { SecretField, SecretProblem } from '../../ports/secret-source.js';
import { keyMatchesCertificate, parseCertificates, parsePrivateKey } from './pem.js';

const byFieldName = (field: SecretField): string => field;

/** Why `chain` is not leaf first with each certificate followed by its issuer, or undefined. */
function chainOrderProblem(chain: readonly X509Certificate[]): string | undefined {
  for (let i = 0; i + 1 < chain.length; i++) {
    const [subject, issuer] = [chain[i]!, chain[i + 1]!];
    if (!subject.checkIssued(issuer) || !subject.verify(issuer.publicKey)) {
      return `certificate ${i + 1} is not issued by certificate ${i + 2} (a chain is the leaf first, each certificate followed by its issuer)`;
    }
  }
  return undefined;
}

export function checkSecret(secret: Secret, nameOf: (field: SecretField) => string = byFieldName): SecretProblem | undefined {
  if (secret.kind === 'validation') {
    const roots = parseCertificates(secret.trustedCa);
    return roots.ok ? undefined : { field: 'validation_context.trusted_ca', message: roots.error };
  }
  const chain = parseCertificates(secret.certificateChain);
  if (!chain.ok) return { field: 'tls_certificate.certificate_chain', message: chain.error };
  const order = chainOrderProblem(chain.value);
  if (order) return { field: 'tls_certificate.certificate_chain', message: order };
  if (secret.privateKey === undefined) return { field: 'tls_certificate.private_key', message: 'missing' };
  const key = parsePrivateKey(secret.privateKey);
  if (!key.ok) return { field: 'tls_certificate.private_key', message: key.error };
  if (!keyMatchesCertificate(chain.value[0]!, key.value)) {
    const related = 'tls_certificate.certificate_chain';
    return { field: 'tls_certificate.private_key', related, message: `does not belong to the leaf certificate of ${nameOf(related)}` };
  }
  return undefined;
}
