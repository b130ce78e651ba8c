import type { SettleOutcome } from './model.ts';

/** Faults a test injects; every connection reads the same counters. */
export type Faults = {
  refuseTokens: number;
  failSettlements: number;
  /** Only settlements of this kind fail; undefined = any. */
  failSettlementsOf: SettleOutcome['kind'] | undefined;
  settlementLatencyMs: number;
  /** Receive links attached before this generation deliver nothing more (a stalled link). */
  stallGeneration: number;
};

export const createFaults = (): Faults => ({
  refuseTokens: 0,
  failSettlements: 0,
  failSettlementsOf: undefined,
  settlementLatencyMs: 0,
  stallGeneration: 0,
});

/** Consumes one injected settlement failure for a settlement of `kind`, if any is left. */
export const takeSettlementFailure = (faults: Faults, kind: SettleOutcome['kind']): boolean => {
  if (faults.failSettlements <= 0) return false;
  if (faults.failSettlementsOf !== undefined && faults.failSettlementsOf !== kind) return false;
  faults.failSettlements -= 1;
  return true;
};
