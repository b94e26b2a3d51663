// `amesh intercept` flags and environment → the capture options, the adapter settings and the action.
// Every problem is reported with the flag (or variable) it came from, before anything is applied.
import fs from 'node:fs';
import { parseCaptureOptions, type ParsedCaptureOptions, type RawCaptureOptions } from '../../domain/capture/capture-options.js';
import { err, ok, type Result } from '../../domain/result.js';
import { CAPTURE_FLAGS, describeOption, flagKey } from './intercept-flags.js';

export type InterceptBackend = 'nft' | 'legacy' | 'system';

export interface InterceptConfig {
  readonly capture: ParsedCaptureOptions;
  readonly backend: InterceptBackend;
  readonly netns: string | undefined;
  /** `--dry-run` (istio-iptables -n): print what would be done, touch nothing. */
  readonly dryRun: boolean;
}

export type InterceptFlags = Readonly<Record<string, string | boolean | undefined>>;

export interface InterceptEnvironment {
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Reads /etc/resolv.conf and /etc/passwd; tests substitute. */
  readonly readFile: (path: string) => string | undefined;
}

export const systemFiles = (path: string): string | undefined => {
  try {
    return fs.readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
};

const TRUE = /^(1|t|true|yes|on)$/i;
const FALSE = /^(0|f|false|no|off|)$/i;

/** Name servers in resolv.conf, split by family (what istio-iptables reads when DNS capture is on). */
export function nameservers(resolvConf: string): { v4: string[]; v6: string[] } {
  const servers = [...resolvConf.matchAll(/^\s*nameserver\s+(\S+)/gm)].map((m) => m[1]!);
  return { v4: servers.filter((s) => !s.includes(':')), v6: servers.filter((s) => s.includes(':')) };
}

/** istio-iptables: the uid of $ENVOY_USER (istio-proxy) when it exists, else 1337. */
function defaultProxyUid(environment: InterceptEnvironment): string {
  const user = environment.env.ENVOY_USER || 'istio-proxy';
  const passwd = environment.readFile('/etc/passwd') ?? '';
  const entry = passwd
    .split('\n')
    .map((l) => l.split(':'))
    .find((fields) => fields[0] === user);
  return entry?.[2] && /^\d+$/.test(entry[2]) ? entry[2] : '1337';
}

export function parseInterceptConfig(flags: InterceptFlags, environment: InterceptEnvironment): Result<InterceptConfig, string[]> {
  const problems: string[] = [];
  const raw: Record<string, string | boolean | readonly string[]> = {};
  const origin = new Map<string, string>();
  for (const spec of CAPTURE_FLAGS) {
    const fromFlag = spec.flag ? flags[flagKey(spec.flag)] : undefined;
    if (fromFlag !== undefined) {
      raw[spec.option] = fromFlag;
      continue;
    }
    const name = spec.env.find((n) => environment.env[n] !== undefined);
    if (name === undefined) continue;
    const value = environment.env[name]!;
    origin.set(spec.option, name);
    if (!spec.boolean) raw[spec.option] = value;
    else if (TRUE.test(value)) raw[spec.option] = true;
    else if (FALSE.test(value)) raw[spec.option] = false;
    else problems.push(`${describeOption(spec.option, name)}: "${value}" is not true or false`);
  }
  raw.proxyUid ??= defaultProxyUid(environment);
  // Istio has no IPv6 flag; it turns IPv6 on when the pod has an IPv6 address. --dual-stack implies it.
  if (flags.dualStack === true || TRUE.test(environment.env.DUAL_STACK ?? environment.env.ISTIO_DUAL_STACK ?? '')) raw.ipv6 = true;
  if (raw.redirectDns === true && raw.captureAllDns !== true) {
    const path = typeof flags.resolvConf === 'string' ? flags.resolvConf : '/etc/resolv.conf';
    const text = environment.readFile(path);
    if (text === undefined) problems.push(`--resolv-conf: cannot read ${path} (needed for --redirect-dns without --capture-all-dns)`);
    else {
      const servers = nameservers(text);
      raw.dnsServersV4 = servers.v4;
      raw.dnsServersV6 = servers.v6;
    }
  }
  const backend = String(flags.iptablesBackend ?? environment.env.AMESH_IPTABLES_BACKEND ?? 'system');
  if (backend !== 'nft' && backend !== 'legacy' && backend !== 'system') problems.push(`--iptables-backend: "${backend}" is not nft, legacy or system`);
  const netns = typeof flags.netns === 'string' && flags.netns.length > 0 ? flags.netns : undefined;

  const parsed = parseCaptureOptions(raw as RawCaptureOptions);
  if (!parsed.ok) problems.push(...parsed.error.map((p) => `${describeOption(p.option, origin.get(p.option))}: ${p.message}`));
  if (problems.length > 0 || !parsed.ok) return err(problems);
  return ok({ capture: parsed.value, backend: backend as InterceptBackend, netns, dryRun: flags.dryRun === true || TRUE.test(environment.env.DRY_RUN ?? '') });
}
