// Rule sets as iptables-restore input. Tables come in alphabetical order, each declaring the chains
// the plan owns before any rule (Istio's BuildV4Restore layout, so the goldens compare as text).
import { BUILT_IN_CHAINS, jumpTarget, type Rule, type RuleSet, type Table } from './rule-set.js';

export interface TableBlock {
  readonly table: Table;
  /** Non-built-in chains, in order of first use (as a rule's chain, then as a jump target). */
  readonly chains: readonly string[];
  readonly rules: readonly Rule[];
}

export function ruleLine(rule: Rule): string {
  const head = rule.insertAt === undefined ? ['-A', rule.chain] : ['-I', rule.chain, String(rule.insertAt)];
  return [...head, ...rule.args].join(' ');
}

export function tableBlocks(rules: RuleSet): TableBlock[] {
  const chains = new Map<Table, string[]>();
  const byTable = new Map<Table, Rule[]>();
  const declare = (table: Table, chain: string): void => {
    const list = chains.get(table) ?? [];
    if (!BUILT_IN_CHAINS.has(chain) && !list.includes(chain)) list.push(chain);
    chains.set(table, list);
  };
  for (const rule of rules) declare(rule.table, rule.chain);
  // A chain only jumped to must exist too (Istio: "even if we have no rules in them").
  for (const rule of rules) {
    const target = jumpTarget(rule);
    if (target && !isStandardTarget(target)) declare(rule.table, target);
  }
  for (const rule of rules) byTable.set(rule.table, [...(byTable.get(rule.table) ?? []), rule]);
  return [...byTable.keys()].sort().map((table) => ({ table, chains: chains.get(table) ?? [], rules: byTable.get(table) ?? [] }));
}

const STANDARD_TARGETS: ReadonlySet<string> = new Set(['ACCEPT', 'DROP', 'RETURN', 'REJECT', 'QUEUE', 'LOG']);
function isStandardTarget(target: string): boolean {
  return STANDARD_TARGETS.has(target);
}

/** istio-iptables' restore text: `* nat`, `-N CHAIN` lines, the rules, `COMMIT` (the golden files' format). */
export function renderIstioRestore(rules: RuleSet): string {
  return tableBlocks(rules)
    .map((b) => [`* ${b.table}`, ...b.chains.map((c) => `-N ${c}`), ...b.rules.map(ruleLine), 'COMMIT'].join('\n') + '\n')
    .join('');
}

/**
 * iptables-save style text (`*nat`, `:CHAIN - [0:0]`), which `iptables-restore --noflush` applies as is:
 * what `amesh intercept plan` prints for a clean network namespace.
 */
export function renderSaveFormat(rules: RuleSet): string {
  return tableBlocks(rules)
    .map((b) => [`*${b.table}`, ...b.chains.map((c) => `:${c} - [0:0]`), ...b.rules.map(ruleLine), 'COMMIT'].join('\n') + '\n')
    .join('');
}
