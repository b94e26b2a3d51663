// An in-memory network namespace's tables: enough of iptables-restore (--noflush) and iptables-save
// to put plans in force, refuse rules the "kernel" lacks, and read the tables back, so the apps'
// tests run without root. It honours the same TrafficInterceptor contract as the iptables adapter.
import type { CapturePlan } from '../../domain/capture/plan.js';
import { parseSave, replaceTransaction, verifyAgainst, words } from '../../domain/capture/netfilter-tables.js';
import { renderSaveFormat } from '../../domain/capture/render.js';
import type { RuleSet } from '../../domain/capture/rule-set.js';
import { err, ok, type Result } from '../../domain/result.js';
import type { InstallReport, InterceptFailure, TrafficInterceptor, UninstallReport } from '../../ports/traffic-interceptor.js';

type Family = 'ipv4' | 'ipv6';
type Chains = Map<string, string[]>;
type Tables = Map<string, { readonly builtIn: readonly string[]; chains: Chains }>;

const BUILT_IN: Readonly<Record<string, readonly string[]>> = {
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
  mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
  raw: ['PREROUTING', 'OUTPUT'],
};
/** What this "kernel" has: matches (-m) and targets (-j) beyond user chains. */
const MATCHES = new Set(['tcp', 'udp', 'owner', 'multiport', 'conntrack', 'mark', 'connmark', 'comment']);
const TARGETS = new Set(['ACCEPT', 'DROP', 'RETURN', 'REDIRECT', 'TPROXY', 'MARK', 'CONNMARK', 'CT']);

export interface MemoryInterceptorOptions {
  /** iptables-save text the namespace starts with, per family (rules of others, to be left alone). */
  readonly initial?: Partial<Record<Family, string>>;
}

interface Replaced {
  readonly added: number;
  readonly removedRules: number;
  readonly removedChains: number;
}

class RestoreError extends Error {
  constructor(
    readonly kind: InterceptFailure['kind'],
    message: string,
    readonly line: number,
  ) {
    super(message);
  }
}

function cloneTables(tables: Tables): Tables {
  return new Map([...tables].map(([name, t]) => [name, { builtIn: t.builtIn, chains: new Map([...t.chains].map(([c, r]) => [c, [...r]])) }]));
}

function emptyTable(name: string): { builtIn: readonly string[]; chains: Chains } {
  const builtIn = BUILT_IN[name] ?? [];
  return { builtIn, chains: new Map(builtIn.map((c) => [c, [] as string[]])) };
}

const same = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

function checkRule(table: { chains: Chains }, args: readonly string[], line: number): void {
  for (let i = 0; i < args.length - 1; i++) {
    if (args[i] === '-m' && !MATCHES.has(args[i + 1]!)) throw new RestoreError('missing-kernel-feature', `Couldn't load match \`${args[i + 1]}'`, line);
    if (args[i] === '-j' && !TARGETS.has(args[i + 1]!) && !table.chains.has(args[i + 1]!)) {
      throw new RestoreError('missing-kernel-feature', `Couldn't load target \`${args[i + 1]}'`, line);
    }
  }
}

/** Applies iptables-restore --noflush input to a copy of the tables; all or nothing. */
function restore(tables: Tables, text: string): Tables {
  const next = cloneTables(tables);
  let table: { builtIn: readonly string[]; chains: Chains } | undefined;
  text.split('\n').forEach((raw, index) => {
    const n = index + 1;
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line === 'COMMIT') return;
    if (line.startsWith('*')) {
      const name = line.slice(1);
      if (!next.has(name)) next.set(name, emptyTable(name));
      table = next.get(name);
      return;
    }
    if (!table) throw new RestoreError('rejected', 'rule outside a table', n);
    const [verb, chain = '', ...rest] = words(line);
    const rules = table.chains.get(chain);
    if (verb === '-N' || line.startsWith(':')) {
      const name = verb === '-N' ? chain : line.slice(1).split(' ')[0]!;
      if (table.chains.has(name) && verb === '-N') throw new RestoreError('rejected', `Chain already exists: ${name}`, n);
      table.chains.set(name, []);
      return;
    }
    if (!rules) throw new RestoreError('rejected', `No chain/target/match by that name: ${chain}`, n);
    if (verb === '-F') rules.length = 0;
    else if (verb === '-X') {
      if (table.builtIn.includes(chain) || rules.length > 0) throw new RestoreError('rejected', `Directory not empty / built-in: ${chain}`, n);
      for (const other of table.chains.values()) if (other.some((r) => words(r).includes(chain))) throw new RestoreError('rejected', `Too many links: ${chain}`, n);
      table.chains.delete(chain);
    } else if (verb === '-D') {
      const at = rules.findIndex((r) => same(words(r).slice(2), rest));
      if (at < 0) throw new RestoreError('rejected', 'Bad rule (does a matching rule exist in that chain?)', n);
      rules.splice(at, 1);
    } else if (verb === '-A') {
      checkRule(table, rest, n);
      rules.push(['-A', chain, ...rest].join(' '));
    } else if (verb === '-I') {
      const [position = '1', ...args] = rest;
      checkRule(table, args, n);
      rules.splice(Number(position) - 1, 0, ['-A', chain, ...args].join(' '));
    } else throw new RestoreError('rejected', `unknown command ${verb}`, n);
  });
  return next;
}

function save(tables: Tables): string {
  return [...tables]
    .map(([name, t]) => {
      const declared = [...t.chains.keys()].map((c) => (t.builtIn.includes(c) ? `:${c} ACCEPT [0:0]` : `:${c} - [0:0]`));
      return [`*${name}`, ...declared, ...[...t.chains.values()].flat(), 'COMMIT'].join('\n');
    })
    .join('\n');
}

export class MemoryTrafficInterceptor implements TrafficInterceptor {
  readonly target = 'memory';
  private readonly tables = new Map<Family, Tables>();
  /** Every restore input applied, in order (for tests of the apps). */
  readonly transactions: string[] = [];

  constructor(options: MemoryInterceptorOptions = {}) {
    for (const family of ['ipv4', 'ipv6'] as const) {
      const initial = parseSave(options.initial?.[family] ?? '');
      const tables: Tables = new Map();
      for (const [name, state] of initial) {
        const table = emptyTable(name);
        for (const chain of state.chains) if (!table.chains.has(chain)) table.chains.set(chain, []);
        for (const rule of state.rules) table.chains.get(words(rule)[1]!)?.push(words(rule).join(' '));
        tables.set(name, table);
      }
      this.tables.set(family, tables);
    }
  }

  /** iptables-save text of one family. */
  save(family: Family): string {
    return save(this.tables.get(family)!);
  }

  plan(plan: CapturePlan): string {
    return `# IPv4\n${renderSaveFormat(plan.ipv4)}${plan.ipv6 ? `# IPv6\n${renderSaveFormat(plan.ipv6)}` : ''}`;
  }

  async install(plan: CapturePlan): Promise<Result<InstallReport, InterceptFailure>> {
    const result = await this.replace(plan, (family) => (family === 'ipv4' ? plan.ipv4 : (plan.ipv6 ?? [])));
    return result.ok ? ok({ rules: result.value.added, replaced: result.value.removedRules }) : result;
  }

  async uninstall(plan: CapturePlan): Promise<Result<UninstallReport, InterceptFailure>> {
    const result = await this.replace(plan, () => []);
    return result.ok ? ok({ rules: result.value.removedRules, chains: result.value.removedChains }) : result;
  }

  async verify(plan: CapturePlan): Promise<Result<void, InterceptFailure>> {
    const problems = (['ipv4', 'ipv6'] as const).flatMap((family) => {
      const rules = family === 'ipv4' ? plan.ipv4 : (plan.ipv6 ?? []);
      return verifyAgainst(parseSave(this.save(family)), plan.chainPrefix, rules).map((p) => `${family}: ${p}`);
    });
    return problems.length === 0 ? ok(undefined) : err({ kind: 'verification', message: problems.join('; ') });
  }

  private async replace(plan: CapturePlan, rulesOf: (family: Family) => RuleSet): Promise<Result<Replaced, InterceptFailure>> {
    const next = new Map<Family, Tables>();
    const done = { added: 0, removedRules: 0, removedChains: 0 };
    for (const family of ['ipv4', 'ipv6'] as const) {
      const current = this.tables.get(family)!;
      const transaction = replaceTransaction(parseSave(save(current)), plan.chainPrefix, rulesOf(family));
      try {
        next.set(family, transaction.text ? restore(current, transaction.text) : current);
      } catch (error) {
        if (!(error instanceof RestoreError)) throw error;
        // Nothing was stored yet: the namespace is as it was.
        const rule = transaction.lineRules.get(error.line);
        return err({ kind: error.kind, message: `${family}: ${error.message}`, ...(rule ? { rule } : {}), rolledBack: true });
      }
      if (transaction.text) this.transactions.push(transaction.text);
      done.added += transaction.added;
      done.removedRules += transaction.removed.rules;
      done.removedChains += transaction.removed.chains;
    }
    for (const [family, tables] of next) this.tables.set(family, tables);
    return ok(done);
  }
}
