// The planner's output: iptables rules as data, per IP family, in the order they must be applied.
export type Table = 'filter' | 'mangle' | 'nat' | 'raw';

export const BUILT_IN_CHAINS: ReadonlySet<string> = new Set(['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING']);

export interface Rule {
  readonly table: Table;
  readonly chain: string;
  /** 1-based position for `-I`; absent for `-A`. */
  readonly insertAt?: number;
  /** Matches and target, e.g. `-p tcp -j REDIRECT --to-ports 15001`. */
  readonly args: readonly string[];
}

export type RuleSet = readonly Rule[];

/** The chain a rule jumps to when `-j X` ends it (Istio's convention; REDIRECT, MARK… take options after). */
export function jumpTarget(rule: Rule): string | undefined {
  const n = rule.args.length;
  return n >= 2 && rule.args[n - 2] === '-j' ? rule.args[n - 1] : undefined;
}

/** The chain names the plan uses, from the prefix (Istio: ISTIO_OUTPUT, ISTIO_INBOUND, …). */
export interface ChainNames {
  readonly output: string;
  readonly outputDns: string;
  readonly inbound: string;
  readonly divert: string;
  readonly tproxy: string;
  readonly redirect: string;
  readonly inRedirect: string;
  readonly drop: string;
}

export function chainNames(prefix: string): ChainNames {
  return {
    output: `${prefix}_OUTPUT`,
    outputDns: `${prefix}_OUTPUT_DNS`,
    inbound: `${prefix}_INBOUND`,
    divert: `${prefix}_DIVERT`,
    tproxy: `${prefix}_TPROXY`,
    redirect: `${prefix}_REDIRECT`,
    inRedirect: `${prefix}_IN_REDIRECT`,
    drop: `${prefix}_DROP`,
  };
}

export function allChainNames(prefix: string): readonly string[] {
  return Object.values(chainNames(prefix));
}
