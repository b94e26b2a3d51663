// What both injection paths must give a pod for the amesh agent to get its configuration and its
// workload certificate from pilot-agent without Envoy (what test/integration/pilot-agent-sidecar.test.ts
// runs): pilot-agent with DISABLE_ENVOY=true writes the certificate to OUTPUT_CERTS, the mount point of
// an emptyDir (it must exist before pilot-agent starts), which the amesh proxy mounts and reads with
// --output-certs; no --sds (no SDS socket exists in that mode); --xds names pilot-agent's socket on a
// volume both mount; pilot-agent has the pod's JWT (audience istio-ca) and istiod's root certificate
// where it looks for them. Checked as data, so the unit test (amesh injector's template) and the
// Istio-rendered template share it.
import type { V1Pod } from '@kubernetes/client-node';
import { parseSidecarConfig, type SidecarFlags } from '../../src/app/sidecar/sidecar-config.js';
import { withEnvironment } from '../../src/app/sidecar/sidecar-command.js';
import type { JsonObject, JsonValue } from '../../src/domain/json.js';
import type { RenderedPod } from './pod-files.js';

export const AGENT_CONTAINER = 'istio-proxy';
export const PROXY_CONTAINER = 'amesh-proxy';
/** pilot-agent's paths, relative to its working directory, which is / in the proxyv2 image. */
export const PILOT_AGENT_PATHS = { xdsSocket: '/etc/istio/proxy/XDS', token: '/var/run/secrets/tokens/istio-token', rootCert: '/var/run/secrets/istio/root-cert.pem' } as const;

const isObject = (value: JsonValue | undefined): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);
const objects = (value: JsonValue | undefined): JsonObject[] => (Array.isArray(value) ? value.filter(isObject) : []);

/** A pod's spec as plain data (what Istio's renderer or the injector's patch produced). */
export function renderedPodOf(pod: V1Pod): RenderedPod {
  const spec = JSON.parse(JSON.stringify(pod.spec ?? {})) as JsonObject;
  return { containers: objects(spec['containers']), volumes: objects(spec['volumes']) };
}

/** The container's literal env values (fieldRefs as undefined). */
export function literalEnv(container: JsonObject): Record<string, string | undefined> {
  return Object.fromEntries(objects(container['env']).map((e) => [String(e['name']), typeof e['value'] === 'string' ? e['value'] : undefined]));
}

/** `--name=value` arguments as `amesh sidecar` flags (repeated --sink collected). */
export function sidecarFlagsOf(args: readonly string[]): SidecarFlags {
  const flags: Record<string, string | string[] | boolean> = {};
  for (const arg of args) {
    if (arg === 'sidecar') continue;
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (!match) throw new Error(`argument ${arg}: expected --name=value`);
    const key = match[1]!.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    if (key === 'sink') flags['sink'] = [...((flags['sink'] as string[] | undefined) ?? []), match[2] ?? ''];
    else flags[key] = match[2] ?? true;
  }
  return flags as SidecarFlags;
}

/** Where a container path lives: the volume mounted over it and the path inside that volume. */
function onVolume(container: JsonObject, path: string): { volume: string; within: string; mountPath: string } | undefined {
  const holder = objects(container['volumeMounts'])
    .map((m) => ({ volume: String(m['name']), mountPath: String(m['mountPath']).replace(/\/$/, '') }))
    .filter((m) => path === m.mountPath || path.startsWith(`${m.mountPath}/`))
    .sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
  return holder ? { ...holder, within: path.slice(holder.mountPath.length) } : undefined;
}

/** Every way the pod breaks the wiring described above; [] when it holds. */
export function certificateWiringProblems(pod: RenderedPod): string[] {
  const problems: string[] = [];
  const agent = pod.containers.find((c) => c['name'] === AGENT_CONTAINER);
  const proxy = pod.containers.find((c) => c['name'] === PROXY_CONTAINER);
  if (!agent || !proxy) return [`containers ${AGENT_CONTAINER} and ${PROXY_CONTAINER} expected; got ${pod.containers.map((c) => String(c['name'])).join(', ')}`];
  const volumes = new Map(pod.volumes.map((v) => [String(v['name']), v]));
  const agentEnv = literalEnv(agent);
  if (agentEnv['DISABLE_ENVOY'] !== 'true') problems.push(`${AGENT_CONTAINER}: DISABLE_ENVOY is ${String(agentEnv['DISABLE_ENVOY'])}, not true`);
  if (agentEnv['PILOT_CERT_PROVIDER'] !== 'istiod') problems.push(`${AGENT_CONTAINER}: PILOT_CERT_PROVIDER is ${String(agentEnv['PILOT_CERT_PROVIDER'])}, not istiod`);
  for (const name of ['POD_NAME', 'POD_NAMESPACE', 'INSTANCE_IP', 'SERVICE_ACCOUNT']) {
    if (!objects(agent['env']).some((e) => e['name'] === name)) problems.push(`${AGENT_CONTAINER}: no ${name} (pilot-agent's identity and CSR)`);
  }

  // OUTPUT_CERTS: a mount point of an emptyDir, read by the proxy on the same volume.
  const outputCerts = agentEnv['OUTPUT_CERTS'];
  const agentCerts = outputCerts ? onVolume(agent, outputCerts) : undefined;
  if (!outputCerts) problems.push(`${AGENT_CONTAINER}: no OUTPUT_CERTS (with DISABLE_ENVOY=true the certificate is written nowhere else)`);
  else if (!agentCerts || agentCerts.within !== '')
    problems.push(`${AGENT_CONTAINER}: OUTPUT_CERTS ${outputCerts} is not a volume's mount point (it must exist before pilot-agent starts)`);
  else if (!isObject(volumes.get(agentCerts.volume)?.['emptyDir'])) problems.push(`volume ${agentCerts.volume} (OUTPUT_CERTS) is not an emptyDir`);

  const args = Array.isArray(proxy['args']) ? proxy['args'].map(String) : [];
  if (args.some((a) => a.startsWith('--sds'))) problems.push(`${PROXY_CONTAINER}: --sds given, but pilot-agent with DISABLE_ENVOY=true serves no SDS socket`);
  let flags: SidecarFlags | undefined;
  try {
    flags = sidecarFlagsOf(args);
  } catch (error) {
    problems.push(`${PROXY_CONTAINER}: ${(error as Error).message}`);
  }
  if (flags) {
    const proxyEnv = Object.fromEntries(objects(proxy['env']).map((e) => [String(e['name']), typeof e['value'] === 'string' ? e['value'] : 'from-the-downward-api']));
    const config = parseSidecarConfig(withEnvironment(flags, proxyEnv));
    if (!config.ok) problems.push(`${PROXY_CONTAINER}: amesh sidecar refuses its arguments: ${config.error}`);
    else {
      const certs = config.value.outputCertsDir;
      const proxyCerts = certs ? onVolume(proxy, certs) : undefined;
      if (!certs) problems.push(`${PROXY_CONTAINER}: no --output-certs`);
      else if (!proxyCerts || !agentCerts || proxyCerts.volume !== agentCerts.volume || proxyCerts.within !== agentCerts.within) {
        problems.push(`${PROXY_CONTAINER}: --output-certs=${certs} is not where ${AGENT_CONTAINER} writes OUTPUT_CERTS (${String(outputCerts)})`);
      }
      const source = config.value.source;
      const socket = source.kind === 'xds' && source.target.startsWith('unix:') ? source.target.slice('unix:'.length) : undefined;
      const proxySocket = socket ? onVolume(proxy, socket) : undefined;
      const agentSocket = onVolume(agent, PILOT_AGENT_PATHS.xdsSocket);
      if (!socket) problems.push(`${PROXY_CONTAINER}: --xds is not a unix socket (pilot-agent's XDS proxy)`);
      else if (!proxySocket || !agentSocket || proxySocket.volume !== agentSocket.volume || proxySocket.within !== agentSocket.within) {
        problems.push(`${PROXY_CONTAINER}: --xds=unix:${socket} is not pilot-agent's ${PILOT_AGENT_PATHS.xdsSocket} on a shared volume`);
      }
    }
  }

  // The pod's JWT (audience istio-ca) and istiod's root certificate, where pilot-agent reads them.
  const token = onVolume(agent, PILOT_AGENT_PATHS.token);
  const projected = token ? volumes.get(token.volume)?.['projected'] : undefined;
  const tokenSource = objects(isObject(projected) ? projected['sources'] : undefined)
    .map((s) => s['serviceAccountToken'])
    .find((t): t is JsonObject => isObject(t) && `/${String(t['path'])}` === token?.within);
  if (!tokenSource) problems.push(`${AGENT_CONTAINER}: no projected service-account token at ${PILOT_AGENT_PATHS.token}`);
  else if (tokenSource['audience'] !== 'istio-ca') problems.push(`${AGENT_CONTAINER}: the token's audience is ${String(tokenSource['audience'])}, not istio-ca`);
  const root = onVolume(agent, PILOT_AGENT_PATHS.rootCert);
  const rootVolume = root ? volumes.get(root.volume) : undefined;
  if (!root || !rootVolume || !(isObject(rootVolume['configMap']) || isObject(rootVolume['projected']))) {
    problems.push(`${AGENT_CONTAINER}: istiod's root certificate (${PILOT_AGENT_PATHS.rootCert}) is on no configMap volume`);
  }
  return problems;
}
