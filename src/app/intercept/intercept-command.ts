// `amesh intercept plan|install|uninstall|verify`: istio-iptables' flags on each subcommand, then the app.
// Exit codes: 0 done, 1 the system refused (not root, tool or kernel feature missing; rolled back), 2 bad options.
import type { Command } from 'commander';
import type { LogLevel } from '../../adapters/logging/pino-logger.js';
import type { InterceptFailure } from '../../ports/traffic-interceptor.js';
import { parseInterceptConfig, systemFiles, type InterceptEnvironment, type InterceptFlags } from './intercept-config.js';
import type { InterceptOverrides } from './intercept-container.js';
import type { InterceptApp } from './intercept-app.js';
import { CAPTURE_FLAGS, describeOption } from './intercept-flags.js';

export interface InterceptIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly readFile?: InterceptEnvironment['readFile'];
}

type Action = 'plan' | 'install' | 'uninstall' | 'verify';

const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];

function describeFailure(failure: InterceptFailure): string {
  const rule = failure.rule ? `\n  rule: ${failure.rule}` : '';
  const state =
    failure.rolledBack === false
      ? '\n  the rollback failed too: run `amesh intercept uninstall` with the same options'
      : failure.rolledBack
        ? '\n  nothing was changed (rolled back)'
        : '';
  return `error: ${failure.kind}: ${failure.message}${rule}${state}\n`;
}

async function runIntercept(action: Action, flags: InterceptFlags, io: InterceptIo, overrides: InterceptOverrides): Promise<number> {
  const config = parseInterceptConfig(flags, { env: io.env, readFile: io.readFile ?? systemFiles });
  if (!config.ok) {
    io.err(config.error.map((p) => `error: ${p}\n`).join(''));
    return 2;
  }
  const level = String(flags.logLevel ?? io.env.AMESH_LOG_LEVEL ?? 'info') as LogLevel;
  if (!LEVELS.includes(level)) {
    io.err(`error: --log-level: "${level}" is not one of ${LEVELS.join(', ')}\n`);
    return 2;
  }
  // The container and the iptables adapter load only when an intercept command runs.
  const { buildInterceptContainer, InterceptAppToken } = await import('./intercept-container.js');
  const app = buildInterceptContainer(config.value, level, overrides).get<InterceptApp>(InterceptAppToken);
  for (const warning of app.warnings) io.err(`warning: ${describeOption(warning.option)}: ${warning.message}\n`);
  if (action === 'plan' || config.value.dryRun) {
    io.out(app.describe());
    return 0;
  }
  const result = action === 'install' ? await app.install() : action === 'verify' ? await app.verify() : await app.uninstall();
  if (!result.ok) {
    io.err(describeFailure(result.error));
    return 1;
  }
  return 0;
}

function withCaptureOptions(command: Command): Command {
  for (const spec of CAPTURE_FLAGS) {
    if (!spec.flag) continue;
    const names = `${spec.short ? `-${spec.short}, ` : ''}--${spec.flag}${spec.boolean ? '' : ' <value>'}`;
    command.option(names, `${spec.description}${spec.env.length > 0 ? ` [${spec.env.join(', ')}]` : ''}`);
  }
  return command
    .option('--dual-stack', 'IPv4 and IPv6 (implies --ipv6) [DUAL_STACK, ISTIO_DUAL_STACK]')
    .option('-n, --dry-run', 'print the rules instead of applying them [DRY_RUN]')
    .option('--resolv-conf <file>', 'name servers for --redirect-dns', '/etc/resolv.conf')
    .option('--iptables-backend <backend>', 'nft, legacy or system (the iptables-* alternative) [AMESH_IPTABLES_BACKEND]')
    .option('--netns <name>', 'apply inside this named network namespace (ip netns)')
    .option('--log-level <level>', 'debug, info, warn, error or silent [AMESH_LOG_LEVEL]');
}

export function addInterceptCommand(program: Command, io: InterceptIo, setExit: (code: number) => void, overrides: InterceptOverrides = {}): void {
  const intercept = program.command('intercept').description("capture the pod's traffic for the proxy with iptables, as istio-iptables does (same flags and variables)");
  const actions: [Action, string][] = [
    ['plan', 'print the rules (iptables-save format, IPv4 then IPv6) without touching anything'],
    ['install', 'apply the rules atomically (replacing an earlier install), verify them, roll back on failure'],
    ['uninstall', 'remove the chains with the prefix, the jumps into them and the rules install added'],
    ['verify', 'exit 0 if exactly these rules are in force, else 1 with the differences'],
  ];
  for (const [action, description] of actions) {
    withCaptureOptions(intercept.command(action).description(description)).action(async (flags: InterceptFlags) => {
      setExit(await runIntercept(action, flags, io, overrides));
    });
  }
}
