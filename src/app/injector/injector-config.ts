// `amesh injector` options → typed configuration.
import { err, ok, type Result } from '../../domain/result.js';
import { DEFAULT_TEMPLATE_OPTIONS, type SidecarTemplateOptions } from '../../domain/injection/sidecar-template.js';
import type { LogLevel } from '../../adapters/logging/pino-logger.js';

export interface InjectorConfig {
  readonly listen: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly template: SidecarTemplateOptions;
  readonly logLevel: LogLevel;
}

export interface InjectorFlags {
  readonly listen?: string;
  readonly tlsCertFile?: string;
  readonly tlsKeyFile?: string;
  readonly image?: string;
  readonly pilotAgentImage?: string;
  readonly controller?: string;
  readonly caAddress?: string;
  readonly clusterDomain?: string;
  readonly logLevel?: string;
}

const ADDRESS = /^(\[[0-9a-fA-F:.]+\]|[^:\s]*):\d{1,5}$/;

export function parseInjectorConfig(flags: InjectorFlags): Result<InjectorConfig, string> {
  const listen = flags.listen ?? '0.0.0.0:9443';
  if (!ADDRESS.test(listen)) return err(`--listen: "${listen}" is not host:port`);
  if (!flags.tlsCertFile || !flags.tlsKeyFile) return err('--tls-cert-file and --tls-key-file are required (the API server only calls webhooks over TLS)');
  if (!flags.image) return err('--image is required (the image with APISIX and amesh)');
  if (!flags.pilotAgentImage) return err('--pilot-agent-image is required (istio/proxyv2 of your Istio version)');
  const controller = flags.controller ?? DEFAULT_TEMPLATE_OPTIONS.controllerAddress;
  if (!ADDRESS.test(controller)) return err(`--controller: "${controller}" is not host:port`);
  const caAddress = flags.caAddress ?? DEFAULT_TEMPLATE_OPTIONS.caAddress;
  if (!ADDRESS.test(caAddress)) return err(`--ca-address: "${caAddress}" is not host:port`);
  const logLevel = (flags.logLevel ?? 'info') as LogLevel;
  if (!['debug', 'info', 'warn', 'error', 'silent'].includes(logLevel)) return err('--log-level: expected debug, info, warn, error or silent');
  return ok({
    listen,
    certFile: flags.tlsCertFile,
    keyFile: flags.tlsKeyFile,
    template: {
      ...DEFAULT_TEMPLATE_OPTIONS,
      image: flags.image,
      pilotAgentImage: flags.pilotAgentImage,
      controllerAddress: controller,
      caAddress,
      clusterDomain: flags.clusterDomain ?? DEFAULT_TEMPLATE_OPTIONS.clusterDomain,
    },
    logLevel,
  });
}
