// Istio's SDS resource names, and who serves each one to a sidecar (pinned istiod, 1.31-dev).
//
// istiod's ADS serves only credential names: its SecretGen (pilot/pkg/xds/sds.go) parses each
// requested name with credentials.ParseResourceName (pilot/pkg/model/credentials/resource.go), which
// knows `kubernetes://`, `kubernetes-gateway://`, `configmap://` and `invalid://` and logs "unknown
// resource type" for anything else — and it answers nothing at all to a proxy without a verified
// identity ("is not authorized to receive credscontroller", e.g. plaintext on 15010). Those are also
// the only names istiod writes with `sds_config: {ads: {}}` (pilot/pkg/security/model
// ConstructSdsSecretConfigForCredential); every other name it writes points at pilot-agent's SDS
// cluster `sds-grpc` (pkg/model/authentication.go), or at a local credential socket:
// - `default` and `ROOTCA`: the workload certificate and trust bundle (pilot-agent's CA client, or
//   its OUTPUT_CERTS files when Envoy is disabled);
// - `file-cert:<chain>~<key>` and `file-root:<bundle>`: files in the pod named by a DestinationRule
//   (clientCertificate/privateKey/caCertificates) or by proxy metadata, which pilot-agent reads and
//   watches (pkg/security/security.go SdsCertificateConfig, security/pkg/nodeagent/cache/secretcache.go
//   generateFileSecret);
// - `file-root:system`: the OS trust store (a DestinationRule SIMPLE/MUTUAL without caCertificates),
//   read by pilot-agent from the first bundle of security.GetOSRootFilePath;
// - `sds://<name>`: kept with its prefix only when the proxy declares a credential socket
//   (`sds-external` cluster); otherwise istiod rewrites it to `kubernetes://<name>`.
// Asking istiod for any of these only arms the 15 s does-not-exist timer: nothing ever arrives.

export type IstioSecretName =
  /** istiod's (SecretGen): a Kubernetes Secret or ConfigMap named by a credentialName. */
  | { readonly kind: 'credential' }
  /** pilot-agent's workload certificate (`default`) or trust bundle (`ROOTCA`). */
  | { readonly kind: 'workload'; readonly role: 'certificate' | 'roots' }
  | { readonly kind: 'file-certificate'; readonly certificatePath: string; readonly privateKeyPath: string }
  | { readonly kind: 'file-roots'; readonly path: string }
  | { readonly kind: 'system-roots' }
  /** A `file-cert:`/`file-root:` name pilot-agent cannot parse either (it would not read a file for it). */
  | { readonly kind: 'malformed-file'; readonly reason: string }
  /** `sds://…`: a local credential socket's. */
  | { readonly kind: 'credential-socket' }
  /** Not a name Istio writes: left to whatever control plane wrote it. */
  | { readonly kind: 'other' };

/** pkg/model/authentication.go SDSDefaultResourceName, SDSRootResourceName. */
export const WORKLOAD_CERTIFICATE_SECRET = 'default';
export const ROOT_CA_SECRET = 'ROOTCA';
/** pkg/security/security.go FileRootSystemCACert. */
export const SYSTEM_ROOTS_SECRET = 'file-root:system';

const CREDENTIAL_PREFIXES = ['kubernetes://', 'kubernetes-gateway://', 'configmap://', 'invalid://'];
const FILE_CERT = 'file-cert:';
const FILE_ROOT = 'file-root:';
/** security.ResourceSeparator. */
const SEPARATOR = '~';

export function parseIstioSecretName(name: string): IstioSecretName {
  if (CREDENTIAL_PREFIXES.some((prefix) => name.startsWith(prefix))) return { kind: 'credential' };
  if (name === WORKLOAD_CERTIFICATE_SECRET) return { kind: 'workload', role: 'certificate' };
  if (name === ROOT_CA_SECRET) return { kind: 'workload', role: 'roots' };
  if (name === SYSTEM_ROOTS_SECRET) return { kind: 'system-roots' };
  // Split as SdsCertificateConfigFromResourceName does: exactly one `~` in file-cert, none in file-root.
  if (name.startsWith(FILE_CERT)) {
    const parts = name.slice(FILE_CERT.length).split(SEPARATOR);
    if (parts.length !== 2 || !parts[0] || !parts[1]) return { kind: 'malformed-file', reason: `expected ${FILE_CERT}<certificate path>${SEPARATOR}<key path>` };
    return { kind: 'file-certificate', certificatePath: parts[0], privateKeyPath: parts[1] };
  }
  if (name.startsWith(FILE_ROOT)) {
    const path = name.slice(FILE_ROOT.length);
    if (!path || path.includes(SEPARATOR)) return { kind: 'malformed-file', reason: `expected ${FILE_ROOT}<CA bundle path>` };
    return { kind: 'file-roots', path };
  }
  if (name.startsWith('sds://')) return { kind: 'credential-socket' };
  return { kind: 'other' };
}

/**
 * Whether a sidecar's secret comes from somewhere other than istiod's ADS stream (pilot-agent, files
 * in the pod, a credential socket), so that the ADS client neither subscribes to it nor waits for it.
 * Names Istio does not write stay with the control plane that wrote them.
 */
export function isAgentSecret(name: string): boolean {
  const kind = parseIstioSecretName(name).kind;
  return kind !== 'credential' && kind !== 'other';
}
