/**
 * VM exit accounting by reason, shared by every backend (passthrough, Xen PV, virtio, e1000).
 * A flat record of counters: the data plane increments fields, never allocates.
 */
export const EXIT_REASONS = ["mmio", "pio", "interrupt", "eoi", "hypercall", "ipi", "hlt", "eptViolation", "configSpace"] as const;
export type ExitReason = (typeof EXIT_REASONS)[number];

export type ExitCounters = Record<ExitReason, number>;

export function newExitCounters(): ExitCounters {
  return { mmio: 0, pio: 0, interrupt: 0, eoi: 0, hypercall: 0, ipi: 0, hlt: 0, eptViolation: 0, configSpace: 0 };
}

export function totalExits(c: ExitCounters): number {
  let n = 0;
  for (const r of EXIT_REASONS) n += c[r];
  return n;
}

export function addExits(into: ExitCounters, from: ExitCounters): void {
  for (const r of EXIT_REASONS) into[r] += from[r];
}
