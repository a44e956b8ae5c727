/**
 * Exits per packet come from the guests' exit counters (Guest.mmioWrite on trapped regions,
 * Guest.deliverInterrupt, hypercalls), and match each backend's mechanism.
 */
import { describe, expect, it } from "vitest";
import { runOnce, type RunResult } from "../../../sim/run.js";
import { small } from "./helpers.js";

const exits = (r: RunResult, reason: string): number => r.exitsPerSec[reason] ?? 0;
const total = (r: RunResult): number => Object.values(r.exitsPerSec).reduce((a, b) => a + b, 0);
const pps = (r: RunResult): number => r.mpps * 1e6;

describe("exits per packet match the mechanism of each backend", () => {
  it("SR-IOV VF with posted interrupts: zero exits, doorbells straight to the BAR", () => {
    for (const direction of ["tx", "rx"] as const) {
      const r = runOnce(small({ backend: "sriov", direction, sriov: { interrupts: "posted" } }));
      expect(r.mpps).toBeGreaterThan(0);
      expect(total(r)).toBe(0);
      expect(r.exitsPerPacket).toBe(0);
      expect(r.guestInterruptsPerSec).toBeGreaterThan(0);
      if (direction === "tx") expect(r.counters.doorbells).toBeGreaterThan(0);
    }
  });

  it("SR-IOV VF with remapped interrupts: one injection exit and one EOI exit per interrupt, nothing else", () => {
    const r = runOnce(small({ backend: "sriov", direction: "rx" }));
    expect(exits(r, "interrupt")).toBeCloseTo(r.guestInterruptsPerSec, 6);
    expect(exits(r, "eoi")).toBeCloseTo(r.guestInterruptsPerSec, 6);
    expect(total(r)).toBeCloseTo(2 * r.guestInterruptsPerSec, 6);
  });

  it("e1000: at least one trapped register write per transmitted frame (TDT)", () => {
    const r = runOnce(small({ backend: "e1000", direction: "tx", rateMbps: 50 }));
    expect(exits(r, "mmio")).toBeGreaterThanOrEqual(pps(r));
    expect(r.exitsPerPacket).toBeGreaterThanOrEqual(1);
  });

  it("virtio: a kick (exit) per frame while vhost sleeps between frames; suppression while it is busy", () => {
    const slow = runOnce(small({ backend: "virtio", direction: "tx", rateMbps: 20 }));
    expect(exits(slow, "pio")).toBeGreaterThanOrEqual(0.99 * pps(slow));
    const busy = runOnce(small({ backend: "virtio", direction: "tx", vms: 1, frameBytes: 64 }));
    expect(busy.counters.suppressedKicks).toBeGreaterThan(0);
    expect(exits(busy, "pio")).toBeLessThan(pps(busy));
    // every kick the driver decided on is one trapped write to the notify port
    const noEventIdx = runOnce(small({ backend: "virtio", direction: "tx", vms: 1, frameBytes: 64, virtio: { eventIdx: false } }));
    expect(noEventIdx.conservation.inFlight).toBe(0);
  });

  it("Xen PV: an event-channel hypercall per frame while netback sleeps between frames", () => {
    const r = runOnce(small({ backend: "xen-pv", direction: "tx", rateMbps: 20 }));
    expect(exits(r, "hypercall")).toBeGreaterThanOrEqual(0.99 * pps(r));
    expect(total(r)).toBe(exits(r, "hypercall"));
    expect(r.dom0HypercallsPerSec).toBeGreaterThan(0);
  });
});
