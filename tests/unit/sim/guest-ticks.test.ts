/**
 * host.guestHz: every guest's periodic timer interrupt, with the exits its hypervisor takes for it —
 * KVM's LAPIC timer exit and, without a virtual APIC, the EOI's; with posted interrupts (APICv) the
 * timer exit only; under Xen the PV guest's one-shot timer re-arm hypercall — and the CPU time of
 * those exits, the interrupt entry and the tick's work (guestTimerTick).
 */
import { describe, expect, it } from "vitest";
import { runOnce } from "../../../sim/run.js";
import { DEFAULT_COSTS, costNs } from "../../../sim/costs.js";
import { small } from "./helpers.js";

const HZ = 1000;
const VMS = 3;

describe("guest timer ticks", () => {
  const cases = [
    { name: "sriov, remapped interrupts", backend: "sriov", sriov: { interrupts: "remapped" }, exits: { interrupt: 1, eoi: 1 }, entry: "irqHandlerEntry" },
    { name: "sriov, posted interrupts", backend: "sriov", sriov: { interrupts: "posted" }, exits: { interrupt: 1 }, entry: "irqHandlerEntry" },
    { name: "virtio", backend: "virtio", sriov: {}, exits: { interrupt: 1, eoi: 1 }, entry: "irqHandlerEntry" },
    { name: "e1000", backend: "e1000", sriov: {}, exits: { interrupt: 1, eoi: 1 }, entry: "irqHandlerEntry" },
    { name: "xen-pv", backend: "xen-pv", sriov: {}, exits: { hypercall: 1 }, entry: "xenEventChannelUpcall" },
  ] as const;
  for (const c of cases)
    it(`${c.name}: ${HZ} ticks a second per VM, their exits counted and their CPU time charged`, () => {
      // light traffic, a window a whole number of tick periods long
      const base = small({ backend: c.backend, kind: "udp", direction: "rx", vms: VMS, frameBytes: 256, rateMbps: 100, measureUs: 4000, sriov: c.sriov });
      const off = runOnce(base);
      const on = runOnce({ ...base, host: { ...base.host, guestHz: HZ } });
      for (const reason of ["interrupt", "eoi", "hypercall"] as const) {
        const added = (on.exitsPerSec[reason] ?? 0) - (off.exitsPerSec[reason] ?? 0);
        expect(added).toBeCloseTo(HZ * VMS * ((c.exits as Record<string, number>)[reason] ?? 0), 6);
      }
      // the vCPUs' added time: per tick its exits, the interrupt entry and the tick's work
      const costs = DEFAULT_COSTS;
      // as the backends' exit ledgers price them (a Xen PV guest's hypercalls at an event-channel send's)
      const price = { interrupt: "vmExitKernel", eoi: "virtualEoi", hypercall: "xenEventChannelSend" } as const;
      let perTick = costNs(costs, c.entry) + costNs(costs, "guestTimerTick");
      for (const [reason, n] of Object.entries(c.exits)) perTick += n * costNs(costs, price[reason as keyof typeof price]);
      const addedCores = on.cpu.guest.busyCores - off.cpu.guest.busyCores;
      expect(addedCores).toBeGreaterThan(0.98 * (HZ * VMS * perTick) / 1e9);
      expect(addedCores).toBeLessThan(1.02 * (HZ * VMS * perTick) / 1e9);
      // the traffic is untouched
      expect(on.conservation.delivered).toBe(on.conservation.offered);
    });
});
