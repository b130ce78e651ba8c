/** Faults a test injects; every connection reads the same counters. */
export type Faults = {
  refuseTokens: number;
  failSettlements: number;
  settlementLatencyMs: number;
  /** Receive links attached before this generation deliver nothing more (a stalled link). */
  stallGeneration: number;
};

export const createFaults = (): Faults => ({
  refuseTokens: 0,
  failSettlements: 0,
  settlementLatencyMs: 0,
  stallGeneration: 0,
});

/** Consumes one injected settlement failure, if any is left. */
export const takeSettlementFailure = (faults: Faults): boolean => {
  if (faults.failSettlements <= 0) return false;
  faults.failSettlements -= 1;
  return true;
};
