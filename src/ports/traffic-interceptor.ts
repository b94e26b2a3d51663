// Port: puts a capture plan in force in a network namespace (iptables today; nftables or eBPF later)
// and takes it away again. Failures are values that say what to fix; an install either takes effect
// completely or leaves the namespace as it found it.
import type { CapturePlan } from '../domain/capture/plan.js';
import type { Result } from '../domain/result.js';

export const TrafficInterceptor = Symbol.for('amesh.TrafficInterceptor');

export type InterceptFailureKind =
  /** Changing the tables needs root (or CAP_NET_ADMIN). */
  | 'permission'
  /** A tool the adapter runs is not installed. */
  | 'missing-binary'
  /** The kernel (or the iptables build) lacks a match or target the plan uses. */
  | 'missing-kernel-feature'
  /** The tables were refused for another reason (the message quotes the tool). */
  | 'rejected'
  /** What is in force differs from the plan. */
  | 'verification';

export interface InterceptFailure {
  readonly kind: InterceptFailureKind;
  readonly message: string;
  /** The plan's rule the failure is about, in iptables syntax, when known. */
  readonly rule?: string;
  /** Whether the namespace was put back as it was before the install. */
  readonly rolledBack?: boolean;
}

export interface InstallReport {
  /** Rules put in force, all families. */
  readonly rules: number;
  /** Rules of an earlier install (same chain prefix) that were replaced. */
  readonly replaced: number;
}

export interface UninstallReport {
  /** Rules and chains removed, all families. */
  readonly rules: number;
  readonly chains: number;
}

export interface TrafficInterceptor {
  /** Where the rules go, for logs (e.g. "iptables-nft in netns pod-1"). */
  readonly target: string;
  /** What install would apply to a clean namespace, IPv4 then IPv6; touches nothing. */
  plan(plan: CapturePlan): string;
  /** Replaces any earlier capture with the same chain prefix by this plan, all or nothing. */
  install(plan: CapturePlan): Promise<Result<InstallReport, InterceptFailure>>;
  /** Checks that exactly this plan is in force. */
  verify(plan: CapturePlan): Promise<Result<void, InterceptFailure>>;
  /** Removes the chains with the plan's prefix, the jumps into them and the rules install added to built-in chains. */
  uninstall(plan: CapturePlan): Promise<Result<UninstallReport, InterceptFailure>>;
}
