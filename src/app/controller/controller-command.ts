// `amesh controller` as the CLI runs it: flags with environment fallbacks, then the app until the
// signal aborts. Imported only when the command runs (it loads @kubernetes/client-node).
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { EXIT, flagOrEnv, whenAborted, type CliIo } from '../cli-io.js';
import { JsonSchemaPluginSchemas } from '../../adapters/plugin-schemas/json-schema-plugin-schemas.js';
import type { ControllerApp } from './controller-app.js';
import { parseControllerConfig, type ControllerFlags } from './controller-config.js';
import { buildControllerContainer, ControllerAppToken } from './controller-container.js';

const SERVICE_ACCOUNT_NAMESPACE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

/** The namespace of the pod's service account, when running in a pod that mounts it. */
function serviceAccountNamespace(): string | undefined {
  try {
    return readFileSync(SERVICE_ACCOUNT_NAMESPACE, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

export async function runController(flags: ControllerFlags, io: CliIo): Promise<number> {
  const env = io.env ?? {};
  const pick = flagOrEnv(env);
  const config = parseControllerConfig({
    ...flags,
    listen: pick(flags.listen, 'AMESH_CONTROLLER_LISTEN'),
    tlsCertFile: pick(flags.tlsCertFile, 'AMESH_CONTROLLER_TLS_CERT_FILE'),
    tlsKeyFile: pick(flags.tlsKeyFile, 'AMESH_CONTROLLER_TLS_KEY_FILE'),
    clientCaFile: pick(flags.clientCaFile, 'AMESH_CONTROLLER_CLIENT_CA_FILE'),
    logLevel: pick(flags.logLevel, 'AMESH_LOG_LEVEL'),
    pluginSchemas: pick(flags.pluginSchemas, 'AMESH_PLUGIN_SCHEMAS'),
    metricsAddress: pick(flags.metricsAddress, 'AMESH_CONTROLLER_METRICS_ADDRESS'),
    leaderElect: pick(flags.leaderElect, 'AMESH_LEADER_ELECT'),
    // In a pod: its own namespace (downward API POD_NAMESPACE, else the service account's).
    leaderElectResourceNamespace:
      pick(flags.leaderElectResourceNamespace, 'AMESH_LEADER_ELECT_RESOURCE_NAMESPACE') ?? pick(undefined, 'POD_NAMESPACE') ?? serviceAccountNamespace(),
    leaderElectResourceName: pick(flags.leaderElectResourceName, 'AMESH_LEADER_ELECT_RESOURCE_NAME'),
    leaderElectLeaseDuration: pick(flags.leaderElectLeaseDuration, 'AMESH_LEADER_ELECT_LEASE_DURATION'),
    leaderElectRenewDeadline: pick(flags.leaderElectRenewDeadline, 'AMESH_LEADER_ELECT_RENEW_DEADLINE'),
    leaderElectRetryPeriod: pick(flags.leaderElectRetryPeriod, 'AMESH_LEADER_ELECT_RETRY_PERIOD'),
    // The pod name says which replica leads (kubectl get lease); the suffix tells restarts apart.
    ...(env['POD_NAME'] ? { leaderElectIdentity: `${env['POD_NAME']}_${randomBytes(4).toString('hex')}` } : {}),
  });
  if (!config.ok) {
    io.err(`error: ${config.error}\n`);
    return EXIT.usage;
  }
  // Read before anything connects: a wrong directory is a startup error, not a silent fallback.
  const schemas = config.value.pluginSchemas === undefined ? undefined : JsonSchemaPluginSchemas.load(config.value.pluginSchemas);
  if (schemas && !schemas.ok) {
    io.err(`error: --plugin-schemas: ${schemas.error}\n`);
    return EXIT.input;
  }
  const app = buildControllerContainer(config.value, schemas ? { pluginSchemas: schemas.value } : {}).get<ControllerApp>(ControllerAppToken);
  await app.start();
  await whenAborted(io.signal);
  await app.stop();
  return EXIT.ok;
}
