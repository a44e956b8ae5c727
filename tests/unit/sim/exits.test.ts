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

  it("with halting vCPUs, a VF with posted interrupts still has no data-path exit: only HLTs and the wake-ups of halted vCPUs", () => {
    for (const [direction, rateMbps] of [["tx", 300], ["tx", 6000], ["rx", 300], ["rx", 4000]] as const) {
      // 300 Mb/s: mostly halted; 4 Gb/s of 1518 B frames: the vCPUs busy about 70 % of the time, so
      // many interrupts find them running (and cost nothing)
      const p = small({ backend: "sriov", direction, rateMbps, frameBytes: 1518, measureUs: 2000, sriov: { interrupts: "posted" }, host: { vcpuHalt: true } });
      const r = runOnce(p);
      const idle = runOnce({ ...p, host: { ...p.host, vcpuHalt: false } });
      expect(exits(r, "hlt")).toBeGreaterThan(0);
      // a posted interrupt costs an exit only when it finds its vCPU halted, and every halt ends in one
      // wake-up (an interrupt or a timer): one wake exit per HLT, give or take a halt per VM at each
      // edge of the window
      const inWindow = (reason: string): number => Math.round((exits(r, reason) * r.windowUs) / 1e6);
      expect(inWindow("interrupt")).toBeGreaterThan(0);
      expect(Math.abs(inWindow("interrupt") - inWindow("hlt"))).toBeLessThanOrEqual(2 * p.vms);
      expect(exits(r, "eoi") + exits(r, "mmio") + exits(r, "pio")).toBe(0);
      // the same load carried (nothing dropped; the window's edges move with the wake-ups), more guest
      // CPU: halting and waking cost, spinning did not
      expect(Math.abs(r.conservation.delivered - idle.conservation.delivered)).toBeLessThanOrEqual(0.02 * idle.conservation.delivered);
      expect(r.cpu.guest.busyCores).toBeGreaterThan(idle.cpu.guest.busyCores);
      expect(total(idle)).toBe(0);
    }
  });

  it("with halting vCPUs, Xen PV guests block with a hypercall-priced HLT and are woken by the event channel", () => {
    const r = runOnce(small({ backend: "xen-pv", direction: "rx", rateMbps: 300, host: { vcpuHalt: true } }));
    expect(exits(r, "hlt")).toBeGreaterThan(0);
    expect(exits(r, "interrupt")).toBe(0);
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

  it("Xen PV: an EVTCHNOP_send hypercall per packet (not per ring slot) while netback sleeps between packets; none while it is busy", () => {
    for (const frameBytes of [1518, 9018]) {
      const slow = runOnce(small({ backend: "xen-pv", direction: "tx", vms: 1, rateMbps: 200, frameBytes, measureUs: 2000 }));
      expect(pps(slow)).toBeGreaterThan(0);
      expect(exits(slow, "hypercall")).toBeCloseTo(pps(slow), 6);
      expect(total(slow)).toBe(exits(slow, "hypercall"));
      // a jumbo frame takes three slots and three grant copies, and one notification
      expect(slow.countersInWindow.grantCopies).toBe((frameBytes > 4100 ? 3 : 1) * slow.countersInWindow.netfrontToDom0Events!);
    }
    const busy = runOnce(small({ backend: "xen-pv", direction: "tx", vms: 1, frameBytes: 64 }));
    expect(busy.mpps).toBeGreaterThan(0.3);
    expect(exits(busy, "hypercall")).toBe(0);
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
