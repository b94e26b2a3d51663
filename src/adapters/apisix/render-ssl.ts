// SDS secrets → APISIX ssl objects. Only client certificates for upstream mTLS are rendered here.
import type { Secret } from '../../domain/mesh/secret.js';
import type { ApisixLabels, ApisixSsl } from './apisix-types.js';
import { stableId } from './ids.js';

export const sslId = (secretName: string): string => stableId('ssl', secretName);

/** Config dumps redact keys (`[redacted]`); such a secret cannot be used. */
export function usablePrivateKey(secret: Secret): string | undefined {
  if (secret.kind !== 'certificate' || secret.privateKey === undefined) return undefined;
  return secret.privateKey.includes('-----BEGIN') ? secret.privateKey : undefined;
}

export function renderClientSsl(secret: Secret, labels: ApisixLabels): ApisixSsl | undefined {
  const key = usablePrivateKey(secret);
  if (secret.kind !== 'certificate' || key === undefined) return undefined;
  return { id: sslId(secret.name), labels: { ...labels }, type: 'client', cert: secret.certificateChain, key };
}
