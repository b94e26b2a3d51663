// Transport sockets → upstream and downstream TLS settings (SDS names; inline certificates are reported).
import type { DownstreamTls } from '../../../domain/mesh/listener.js';
import type { UpstreamTls } from '../../../domain/mesh/cluster.js';
import type { TransportSocket } from '../generated/envoy/config/core/v3/base.js';
import type { CommonTlsContext } from '../generated/envoy/extensions/transport_sockets/tls/v3/tls.js';
import { TYPE_URL } from '../proto/type-urls.js';
import { unpackAny } from '../proto/unpack-any.js';
import type { DecodeContext } from './decode-context.js';

function validationSecret(common: CommonTlsContext | undefined): string | undefined {
  const spec = common?.validationContextType;
  if (spec?.$case === 'validationContextSdsSecretConfig') return spec.value.name;
  if (spec?.$case === 'combinedValidationContext') return spec.value.validationContextSdsSecretConfig?.name;
  return undefined;
}

function certificateSecret(common: CommonTlsContext | undefined, field: string, ctx: DecodeContext): string | undefined {
  if (common?.tlsCertificates.length) ctx.dropped(`${field}.common_tls_context.tls_certificates`, 'inline certificates are not translated; use SDS');
  return common?.tlsCertificateSdsSecretConfigs[0]?.name;
}

/** undefined for plaintext (raw_buffer) sockets. */
export function upstreamTls(socket: TransportSocket | undefined, field: string, ctx: DecodeContext): Omit<UpstreamTls, 'onlyIstioEndpoints'> | undefined {
  const config = socket?.configType;
  if (!socket || !config) return undefined;
  const unpacked = unpackAny(config.value);
  if (unpacked.kind === 'known' && unpacked.typeUrl === TYPE_URL.UpstreamTlsContext) {
    const tls = unpacked.message;
    return {
      sni: tls.sni || undefined,
      certificateSecret: certificateSecret(tls.commonTlsContext, field, ctx),
      validationSecret: validationSecret(tls.commonTlsContext),
      alpn: tls.commonTlsContext?.alpnProtocols ?? [],
    };
  }
  if (unpacked.kind === 'invalid') ctx.fail(`${field}.typed_config`, `cannot decode ${unpacked.typeUrl}: ${unpacked.error}`);
  else if (!unpacked.typeUrl.endsWith('raw_buffer.v3.RawBuffer')) ctx.dropped(field, `transport socket ${unpacked.typeUrl} has no APISIX equivalent`);
  return undefined;
}

export function downstreamTls(socket: TransportSocket | undefined, field: string, ctx: DecodeContext): DownstreamTls | undefined {
  const config = socket?.configType;
  if (!socket || !config) return undefined;
  const unpacked = unpackAny(config.value);
  if (unpacked.kind === 'known' && unpacked.typeUrl === TYPE_URL.DownstreamTlsContext) {
    const tls = unpacked.message;
    const certificate = certificateSecret(tls.commonTlsContext, field, ctx);
    return {
      certificateSecrets: certificate ? [certificate] : [],
      validationSecret: validationSecret(tls.commonTlsContext),
      requireClientCertificate: tls.requireClientCertificate ?? false,
    };
  }
  if (unpacked.kind === 'invalid') ctx.fail(`${field}.typed_config`, `cannot decode ${unpacked.typeUrl}: ${unpacked.error}`);
  else if (!unpacked.typeUrl.endsWith('raw_buffer.v3.RawBuffer')) ctx.dropped(field, `transport socket ${unpacked.typeUrl} has no APISIX equivalent`);
  return undefined;
}
