// TLS material delivered by SDS. PEM text, never parsed here.
export type Secret =
  | {
      readonly kind: 'certificate';
      readonly name: string;
      readonly certificateChain: string;
      /** undefined when the source redacts it (config dumps do). */
      readonly privateKey: string | undefined;
    }
  | { readonly kind: 'validation'; readonly name: string; readonly trustedCa: string };
