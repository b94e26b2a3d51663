// Puts capture plans in force with iptables-restore (nft or legacy backend): one --noflush transaction
// per family that removes the previous capture with the same chain prefix and adds the new one, checked
// with iptables-save afterwards. If any step fails, every family is put back as iptables-save showed it
// before, so a failed install never leaves half a capture behind.
import type { CapturePlan, RoutingStep } from '../../domain/capture/plan.js';
import { parseSave, replaceTransaction, verifyAgainst, type TablesState } from '../../domain/capture/netfilter-tables.js';
import { renderSaveFormat } from '../../domain/capture/render.js';
import type { RuleSet } from '../../domain/capture/rule-set.js';
import { err, ok, type Result } from '../../domain/result.js';
import type { Logger } from '../../ports/logger.js';
import type { InstallReport, InterceptFailure, TrafficInterceptor, UninstallReport } from '../../ports/traffic-interceptor.js';
import { execaRunner, type CommandRunner } from './command-runner.js';
import { classify } from './failures.js';

/** `nft`/`legacy` pick iptables-nft-* / iptables-legacy-*; `system` uses whatever `iptables-*` points to. */
export type IptablesBackend = 'nft' | 'legacy' | 'system';
type Family = 'ipv4' | 'ipv6';

export interface IptablesInterceptorOptions {
  readonly backend?: IptablesBackend;
  /** Apply inside this named network namespace (`ip netns exec`) instead of the current one. */
  readonly netns?: string;
}

export interface IptablesInterceptorDeps {
  readonly logger: Logger;
  /** Defaults to execa; tests may substitute. */
  readonly run?: CommandRunner;
}

interface Snapshot {
  readonly family: Family;
  readonly text: string;
  readonly state: TablesState;
}

interface Applied {
  readonly added: number;
  readonly removedRules: number;
  readonly removedChains: number;
}

const FAMILIES: readonly Family[] = ['ipv4', 'ipv6'];

function tableBlocksOf(saveText: string): Map<string, string> {
  const blocks = new Map<string, string>();
  let name: string | undefined;
  let lines: string[] = [];
  for (const line of saveText.split('\n')) {
    if (line.startsWith('*')) {
      name = line.slice(1).trim();
      lines = [line];
    } else if (name !== undefined) {
      lines.push(line);
      if (line.trim() === 'COMMIT') {
        blocks.set(name, `${lines.join('\n')}\n`);
        name = undefined;
      }
    }
  }
  return blocks;
}

export class IptablesInterceptor implements TrafficInterceptor {
  readonly target: string;
  private readonly backend: IptablesBackend;
  private readonly run: CommandRunner;

  constructor(
    private readonly deps: IptablesInterceptorDeps,
    private readonly options: IptablesInterceptorOptions = {},
  ) {
    this.backend = options.backend ?? 'system';
    this.run = deps.run ?? execaRunner(options.netns);
    this.target = `iptables${this.backend === 'system' ? '' : `-${this.backend}`}${options.netns ? ` in netns ${options.netns}` : ''}`;
  }

  private tool(family: Family, kind: 'save' | 'restore'): string {
    const base = family === 'ipv4' ? 'iptables' : 'ip6tables';
    return this.backend === 'system' ? `${base}-${kind}` : `${base}-${this.backend}-${kind}`;
  }

  plan(plan: CapturePlan): string {
    return `# IPv4\n${renderSaveFormat(plan.ipv4)}${plan.ipv6 ? `# IPv6\n${renderSaveFormat(plan.ipv6)}` : ''}`;
  }

  async install(plan: CapturePlan): Promise<Result<InstallReport, InterceptFailure>> {
    const result = await this.replace(plan, (family) => (family === 'ipv4' ? plan.ipv4 : (plan.ipv6 ?? [])), true);
    return result.ok ? ok({ rules: result.value.added, replaced: result.value.removedRules }) : result;
  }

  async uninstall(plan: CapturePlan): Promise<Result<UninstallReport, InterceptFailure>> {
    const result = await this.replace(plan, () => [], false);
    if (!result.ok) return result;
    await this.removeRouting(plan.routing);
    return ok({ rules: result.value.removedRules, chains: result.value.removedChains });
  }

  async verify(plan: CapturePlan): Promise<Result<void, InterceptFailure>> {
    const problems: string[] = [];
    for (const family of FAMILIES) {
      const snapshot = await this.save(family);
      if (!snapshot.ok) return snapshot;
      const rules = family === 'ipv4' ? plan.ipv4 : (plan.ipv6 ?? []);
      problems.push(...verifyAgainst(snapshot.value.state, plan.chainPrefix, rules).map((p) => `${family}: ${p}`));
    }
    return problems.length === 0 ? ok(undefined) : err({ kind: 'verification', message: problems.join('; ') });
  }

  private async save(family: Family): Promise<Result<Snapshot, InterceptFailure>> {
    const tool = this.tool(family, 'save');
    const result = await this.run(tool, []);
    if (result.exitCode !== 0 || result.missing) return err(classify(tool, result));
    return ok({ family, text: result.stdout, state: parseSave(result.stdout) });
  }

  private async replace(plan: CapturePlan, rulesOf: (family: Family) => RuleSet, withRouting: boolean): Promise<Result<Applied, InterceptFailure>> {
    const snapshots: Snapshot[] = [];
    for (const family of FAMILIES) {
      const snapshot = await this.save(family);
      if (!snapshot.ok) return err({ ...snapshot.error, rolledBack: true });
      snapshots.push(snapshot.value);
    }
    const changed: { snapshot: Snapshot; tables: string[] }[] = [];
    const done = { added: 0, removedRules: 0, removedChains: 0 };
    const fail = async (failure: InterceptFailure): Promise<Result<Applied, InterceptFailure>> => {
      const restored = await this.rollback(plan, changed);
      if (!restored) this.deps.logger.error({ target: this.target }, 'rollback failed: the capture may be half installed; run uninstall');
      return err({ ...failure, rolledBack: restored });
    };
    for (const snapshot of snapshots) {
      const transaction = replaceTransaction(snapshot.state, plan.chainPrefix, rulesOf(snapshot.family));
      if (!transaction.text) continue;
      const tool = this.tool(snapshot.family, 'restore');
      // Recorded before running: a failed restore may have committed its first tables already.
      changed.push({ snapshot, tables: [...transaction.text.matchAll(/^\*(\S+)$/gm)].map((m) => m[1]!) });
      const result = await this.run(tool, ['--noflush'], transaction.text);
      if (result.exitCode !== 0 || result.missing) {
        const failure = classify(tool, result, transaction.lineRules);
        return fail({ ...failure, message: `${snapshot.family}: ${failure.message}` });
      }
      done.added += transaction.added;
      done.removedRules += transaction.removed.rules;
      done.removedChains += transaction.removed.chains;
    }
    for (const family of FAMILIES) {
      const after = await this.save(family);
      if (!after.ok) return fail(after.error);
      const problems = verifyAgainst(after.value.state, plan.chainPrefix, rulesOf(family));
      if (problems.length > 0) return fail({ kind: 'verification', message: `${family}: ${problems.join('; ')}` });
    }
    if (withRouting) {
      const routed = await this.addRouting(plan.routing);
      if (!routed.ok) {
        await this.removeRouting(plan.routing);
        return fail(routed.error);
      }
    }
    this.deps.logger.info({ target: this.target, added: done.added, removed: done.removedRules }, withRouting ? 'capture installed' : 'capture removed');
    return ok(done);
  }

  /** Puts each changed table back as the snapshot showed it; tables that did not exist lose our part. */
  private async rollback(plan: CapturePlan, changed: readonly { snapshot: Snapshot; tables: string[] }[]): Promise<boolean> {
    let complete = true;
    for (const { snapshot, tables } of changed) {
      const blocks = tableBlocksOf(snapshot.text);
      const present = tables.filter((t) => blocks.has(t));
      const absent = new Set(tables.filter((t) => !blocks.has(t)));
      const restoreTool = this.tool(snapshot.family, 'restore');
      if (present.length > 0) {
        const result = await this.run(restoreTool, [], present.map((t) => blocks.get(t)!).join(''));
        if (result.exitCode !== 0) complete = false;
      }
      if (absent.size > 0) {
        const now = await this.save(snapshot.family);
        if (!now.ok) {
          complete = false;
          continue;
        }
        const removal = replaceTransaction(new Map([...now.value.state].filter(([t]) => absent.has(t))), plan.chainPrefix, []);
        if (removal.text && (await this.run(restoreTool, ['--noflush'], removal.text)).exitCode !== 0) complete = false;
      }
    }
    return complete;
  }

  private ip(step: RoutingStep, verb: 'add' | 'del' | 'replace'): [string, string[]] {
    return ['ip', [step.family === 'ipv4' ? '-4' : '-6', step.kind === 'address' ? 'addr' : step.kind, verb, ...step.args]];
  }

  private async addRouting(steps: readonly RoutingStep[]): Promise<Result<void, InterceptFailure>> {
    for (const step of steps) {
      if (step.kind === 'rule') await this.deleteAll(step);
      // `replace` is add-or-keep for addresses and routes; rules have no replace, hence deleteAll.
      const [file, args] = this.ip(step, step.kind === 'rule' ? 'add' : 'replace');
      const result = await this.run(file, args);
      if (result.exitCode !== 0 || result.missing) return err(classify(`ip ${args.join(' ')}`, result));
    }
    return ok(undefined);
  }

  private async deleteAll(step: RoutingStep): Promise<void> {
    // `ip rule add` duplicates; delete until none is left (bounded, in case del keeps "succeeding").
    for (let i = 0; i < 16; i++) {
      const [file, args] = this.ip(step, 'del');
      if ((await this.run(file, args)).exitCode !== 0) return;
    }
  }

  /** TPROXY policy routing goes with the capture; the ::6 address on lo is left (others may bind it). */
  private async removeRouting(steps: readonly RoutingStep[]): Promise<void> {
    for (const step of steps) {
      if (step.kind === 'address') continue;
      if (step.kind === 'rule') await this.deleteAll(step);
      else await this.run(...this.ip(step, 'del'));
    }
  }
}
