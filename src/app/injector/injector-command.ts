// `amesh injector` as the CLI runs it: flags with environment fallbacks, then the webhook server
// until the signal aborts. Imported only when the command runs.
import { PinoLogger } from '../../adapters/logging/pino-logger.js';
import { EXIT, flagOrEnv, type CliIo } from '../cli-io.js';
import { InjectorApp } from './injector-app.js';
import { parseInjectorConfig, type InjectorFlags } from './injector-config.js';

export async function runInjector(flags: InjectorFlags, io: CliIo): Promise<number> {
  const env = io.env ?? {};
  const pick = flagOrEnv(env);
  const config = parseInjectorConfig({
    ...flags,
    tlsCertFile: pick(flags.tlsCertFile, 'AMESH_INJECTOR_TLS_CERT_FILE'),
    tlsKeyFile: pick(flags.tlsKeyFile, 'AMESH_INJECTOR_TLS_KEY_FILE'),
    image: pick(flags.image, 'AMESH_INJECTOR_IMAGE'),
    pilotAgentImage: pick(flags.pilotAgentImage, 'AMESH_INJECTOR_PILOT_AGENT_IMAGE'),
    logLevel: pick(flags.logLevel, 'AMESH_LOG_LEVEL'),
  });
  if (!config.ok) {
    io.err(`error: ${config.error}\n`);
    return EXIT.usage;
  }
  const { logLevel, ...options } = config.value;
  const app = new InjectorApp({ ...options, logger: new PinoLogger({ level: logLevel }) });
  await app.start();
  await new Promise<void>((resolve) => {
    if (io.signal?.aborted) resolve();
    io.signal?.addEventListener('abort', () => resolve(), { once: true });
  });
  await app.stop();
  return EXIT.ok;
}
