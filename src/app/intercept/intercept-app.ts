// `amesh intercept`: plans the capture from the options and hands it to the TrafficInterceptor.
// Used as the init container of a pod (install), by operators (plan, uninstall) and in tests.
import { planCapture, type CapturePlan } from '../../domain/capture/plan.js';
import type { OptionProblem } from '../../domain/capture/capture-options.js';
import type { Result } from '../../domain/result.js';
import type { Logger } from '../../ports/logger.js';
import type { InstallReport, InterceptFailure, TrafficInterceptor, UninstallReport } from '../../ports/traffic-interceptor.js';
import type { InterceptConfig } from './intercept-config.js';

export interface InterceptAppDeps {
  readonly interceptor: TrafficInterceptor;
  readonly logger: Logger;
}

export class InterceptApp {
  readonly plan: CapturePlan;

  constructor(
    private readonly deps: InterceptAppDeps,
    private readonly config: InterceptConfig,
  ) {
    this.plan = planCapture(config.capture.options);
  }

  get warnings(): readonly OptionProblem[] {
    return this.config.capture.warnings;
  }

  /** The rules, IPv4 then IPv6, in iptables-save format; nothing is touched. */
  describe(): string {
    return this.deps.interceptor.plan(this.plan);
  }

  async install(): Promise<Result<InstallReport, InterceptFailure>> {
    const result = await this.deps.interceptor.install(this.plan);
    if (result.ok) this.deps.logger.info({ target: this.deps.interceptor.target, rules: result.value.rules, replaced: result.value.replaced }, 'traffic capture installed');
    else this.deps.logger.error({ target: this.deps.interceptor.target, kind: result.error.kind, rolledBack: result.error.rolledBack }, result.error.message);
    return result;
  }

  async verify(): Promise<Result<void, InterceptFailure>> {
    return this.deps.interceptor.verify(this.plan);
  }

  async uninstall(): Promise<Result<UninstallReport, InterceptFailure>> {
    const result = await this.deps.interceptor.uninstall(this.plan);
    if (result.ok) this.deps.logger.info({ target: this.deps.interceptor.target, ...result.value }, 'traffic capture removed');
    return result;
  }
}
