// What a namespace's tables hold (parsed iptables-save text) and which parts of it belong to a capture:
// the chains named with its prefix, the jumps into them, and the rules it tagged in built-in chains.
// From that, the restore text that replaces or removes a capture without touching anything else.
import { ruleLine, tableBlocks } from './render.js';
import { allChainNames, BUILT_IN_CHAINS, type Rule, type RuleSet } from './rule-set.js';

export interface TableState {
  /** Every chain the table declares, built-in ones included, in save order. */
  readonly chains: readonly string[];
  /** Rule lines as iptables-save prints them (`-A CHAIN …`), in order. */
  readonly rules: readonly string[];
}

export type TablesState = ReadonlyMap<string, TableState>;

/** Parses iptables-save output; comments and counters are dropped. */
export function parseSave(text: string): TablesState {
  const tables = new Map<string, { chains: string[]; rules: string[] }>();
  let current: { chains: string[]; rules: string[] } | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line === 'COMMIT') continue;
    if (line.startsWith('*')) {
      current = { chains: [], rules: [] };
      tables.set(line.slice(1).trim(), current);
    } else if (line.startsWith(':') && current) current.chains.push(line.slice(1).split(' ')[0]!);
    else if (current) current.rules.push(line.replace(/^\[\d+:\d+\] /, ''));
  }
  return tables;
}

/** The save text without comments, counters or empty tables: what "unchanged" compares. */
export function normalizeSave(text: string): string {
  return [...parseSave(text)]
    .filter(([, t]) => t.rules.length > 0 || t.chains.some((c) => !BUILT_IN_CHAINS.has(c)))
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([name, t]) => [`*${name}`, ...t.chains.map((c) => `:${c}`), ...t.rules, 'COMMIT'].join('\n'))
    .join('\n');
}

export const ownerTag = (prefix: string): string => `amesh-ts:${prefix}`;

export function words(line: string): string[] {
  return line.match(/"[^"]*"|\S+/g)?.map((w) => w.replace(/^"(.*)"$/, '$1')) ?? [];
}

export function chainOf(line: string): string {
  return words(line)[1] ?? '';
}

/** The target after `-j`, wherever it is. */
export function targetOf(line: string): string | undefined {
  const w = words(line);
  const j = w.indexOf('-j');
  return j >= 0 ? w[j + 1] : undefined;
}

export interface Owned {
  readonly chains: readonly string[];
  /** Save lines in built-in chains that belong to the capture. */
  readonly builtInRules: readonly string[];
  /** Rules inside the capture's own chains. */
  readonly chainRules: readonly string[];
}

export function owned(table: TableState, prefix: string): Owned {
  const ours = new Set(allChainNames(prefix));
  const tag = ownerTag(prefix);
  const chains = table.chains.filter((c) => ours.has(c));
  const builtInRules = table.rules.filter((line) => {
    if (!BUILT_IN_CHAINS.has(chainOf(line))) return false;
    const w = words(line);
    return ours.has(targetOf(line) ?? '') || w.some((x, i) => x === tag && w[i - 1] === '--comment');
  });
  const chainRules = table.rules.filter((line) => ours.has(chainOf(line)));
  return { chains, builtInRules, chainRules };
}

/** A rule as install writes it: rules in built-in chains carry the owner tag, so uninstall can find them. */
export function taggedRule(rule: Rule, prefix: string): Rule {
  if (!BUILT_IN_CHAINS.has(rule.chain)) return rule;
  const j = rule.args.indexOf('-j');
  const at = j >= 0 ? j : rule.args.length;
  return { ...rule, args: [...rule.args.slice(0, at), '-m', 'comment', '--comment', ownerTag(prefix), ...rule.args.slice(at)] };
}

export interface Transaction {
  /** iptables-restore --noflush input; empty when there is nothing to do. */
  readonly text: string;
  readonly removed: { readonly rules: number; readonly chains: number };
  readonly added: number;
  /** Restore input line number → the plan rule written there, to explain errors. */
  readonly lineRules: ReadonlyMap<number, string>;
}

/**
 * One restore transaction per family: remove what the capture with this prefix has in force now
 * (jumps and tagged rules first, then flush all its chains, then delete them), then add `rules`.
 */
export function replaceTransaction(current: TablesState, prefix: string, rules: RuleSet): Transaction {
  const blocks = new Map(tableBlocks(rules.map((r) => taggedRule(r, prefix))).map((b) => [b.table as string, b] as const));
  const tables = [...new Set([...current.keys(), ...blocks.keys()])].sort();
  const lines: string[] = [];
  const lineRules = new Map<number, string>();
  let removedRules = 0;
  let removedChains = 0;
  let added = 0;
  for (const table of tables) {
    const state = current.get(table);
    const mine = state ? owned(state, prefix) : { chains: [], builtInRules: [], chainRules: [] };
    const block = blocks.get(table);
    if (!block && mine.chains.length === 0 && mine.builtInRules.length === 0) continue;
    lines.push(`*${table}`);
    for (const line of mine.builtInRules) lines.push(line.replace(/^-A /, '-D '));
    for (const chain of mine.chains) lines.push(`-F ${chain}`);
    for (const chain of mine.chains) lines.push(`-X ${chain}`);
    removedRules += mine.builtInRules.length + mine.chainRules.length;
    removedChains += mine.chains.length;
    if (block) {
      for (const chain of block.chains) lines.push(`-N ${chain}`);
      for (const rule of block.rules) {
        lines.push(ruleLine(rule));
        lineRules.set(lines.length, ruleLine(rule));
        added++;
      }
    }
    lines.push('COMMIT');
  }
  return { text: lines.length > 0 ? `${lines.join('\n')}\n` : '', removed: { rules: removedRules, chains: removedChains }, added, lineRules };
}

/** What differs between the plan and what is in force, or nothing. */
export function verifyAgainst(current: TablesState, prefix: string, rules: RuleSet): string[] {
  const problems: string[] = [];
  const blocks = new Map(tableBlocks(rules).map((b) => [b.table as string, b] as const));
  for (const table of new Set([...current.keys(), ...blocks.keys()])) {
    const state = current.get(table) ?? { chains: [], rules: [] };
    const mine = owned(state, prefix);
    const block = blocks.get(table);
    const wantChains = [...(block?.chains ?? [])].sort();
    if (JSON.stringify([...mine.chains].sort()) !== JSON.stringify(wantChains)) {
      problems.push(`${table}: chains ${mine.chains.join(',') || 'none'} in force, ${wantChains.join(',') || 'none'} planned`);
    }
    // Compare per chain by count and targets, the parts iptables-save prints back unchanged.
    const planned = new Map<string, string[]>();
    for (const rule of block?.rules ?? []) {
      const j = rule.args.indexOf('-j');
      planned.set(rule.chain, [...(planned.get(rule.chain) ?? []), j >= 0 ? rule.args[j + 1]! : '']);
    }
    const actual = new Map<string, string[]>();
    for (const line of [...mine.builtInRules, ...mine.chainRules]) actual.set(chainOf(line), [...(actual.get(chainOf(line)) ?? []), targetOf(line) ?? '']);
    for (const chain of new Set([...planned.keys(), ...actual.keys()])) {
      const want = planned.get(chain) ?? [];
      const have = actual.get(chain) ?? [];
      // `-I` rules land at their position, so compare targets as multisets and counts exactly.
      if (JSON.stringify([...want].sort()) !== JSON.stringify([...have].sort())) {
        problems.push(`${table} ${chain}: ${have.length} rules in force (targets ${have.join(',') || 'none'}), ${want.length} planned (${want.join(',') || 'none'})`);
      }
    }
  }
  return problems;
}
