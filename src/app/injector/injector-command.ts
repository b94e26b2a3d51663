// `amesh injector` as the CLI runs it: flags with environment fallbacks, then the webhook server
// until the signal aborts. Imported only when the command runs.
import { EXIT, flagOrEnv, whenAborted, type CliIo } from '../cli-io.js';
import type { InjectorApp } from './injector-app.js';
import { buildInjectorContainer, InjectorAppToken } from './injector-container.js';
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
  const app = buildInjectorContainer(config.value).get<InjectorApp>(InjectorAppToken);
  await app.start();
  await whenAborted(io.signal);
  await app.stop();
  return EXIT.ok;
}
