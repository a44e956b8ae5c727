/** Per-VM throughput and Jain's fairness index: how a run's data rate is shared among its VMs. */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { WindowStats } from "../../../sim/model/window.js";
import { DEFAULT_RUN } from "../../../sim/params.js";
import { runOnce } from "../../../sim/run.js";
import { ALL_BACKENDS, anySmallRun, small } from "./helpers.js";

describe("per-VM rates and Jain's index", () => {
  it("Jain's index is 1 for equal shares, 1/n when one VM has everything, and (Σx)²/(nΣx²) between", () => {
    const w = new WindowStats();
    w.setVms(4);
    expect(w.jain).toBe(1); // nothing delivered
    w.deliver(0, 100, 50, -1, 2);
    expect(w.jain).toBe(0.25);
    for (const vm of [0, 1, 3]) w.deliver(0, 100, 50, -1, vm);
    expect(w.jain).toBe(1);
    w.deliver(0, 96, 0, -1, 0); // VM 0 now has 104 + 100 B (frames with their FCS), the others 104
    const x = [204, 104, 104, 104];
    const sum = x.reduce((a, b) => a + b, 0);
    expect(w.jain).toBeCloseTo((sum * sum) / (4 * x.reduce((a, b) => a + b * b, 0)), 12);
    w.deliver(0, 100, 50, -1, -1); // no VM known: counted in the total only
    w.deliver(0, 100, 50, -1, 0, true); // a pure ACK: not data
    expect(Array.from(w.perVmBytes)).toEqual(x);
    expect(w.frames).toBe(6);
  });

  it("the VMs' rates add up to the run's rate, every backend, kind, direction, size and load", () => {
    fc.assert(
      fc.property(anySmallRun({ min: 2, max: 5 }, 300), (p) => {
        const r = runOnce(p);
        expect(r.perVm.gbps).toHaveLength(p.vms);
        const sum = r.perVm.gbps.reduce((a, b) => a + b, 0);
        expect(Math.abs(sum - r.gbps)).toBeLessThanOrEqual(1e-9 * r.gbps);
        expect(r.perVm.jain).toBeGreaterThanOrEqual(1 / p.vms - 1e-12);
        expect(r.perVm.jain).toBeLessThanOrEqual(1 + 1e-12);
      }),
      { numRuns: 16, seed: 3 },
    );
  });

  it("below capacity every VM gets what it offers: the index is 1, up to a batch at the window's edges", () => {
    for (const backend of ALL_BACKENDS)
      for (const direction of ["tx", "rx"] as const) {
        const r = runOnce(small({ backend, kind: "udp", direction, vms: 4, frameBytes: 512, rateMbps: 100, measureUs: 2000 }));
        expect(r.perVm.jain, `${backend} ${direction}`).toBeGreaterThan(0.995);
      }
  });

  it("SR-IOV: VFs sending more than the wire takes share it evenly (the NIC's transmit arbiter serves waiting queues round robin)", () => {
    // 4 and 8 VMs on 4 guest cores (small()), each able to send more than its share of the 10 GbE wire
    for (const vms of [4, 8])
      for (const frameBytes of [512, 1518]) {
        const r = runOnce(small({ backend: "sriov", kind: "udp", direction: "tx", vms, frameBytes, measureUs: 2000 }));
        expect(r.wire.outUtilisation, `${vms} VMs, ${frameBytes} B`).toBeGreaterThan(0.99);
        const mean = r.gbps / vms;
        for (const g of r.perVm.gbps) expect(Math.abs(g - mean) / mean, `${vms} VMs, ${frameBytes} B: ${r.perVm.gbps.map((x) => x.toFixed(2)).join(" ")}`).toBeLessThan(0.05);
      }
  });

  it("SR-IOV: VFs held back by the NIC's DMA side share it evenly too (12 VMs, 64 B, a 64-entry IOTLB: the IOMMU's page walker limits)", () => {
    // a queue that waits for the transmit path joins the others in the arbiter; none is served whole while others wait.
    // 12 VMs' rings and buffers in flight are more pages than 64 IOTLB entries: the walker, not the vCPUs or the wire, limits.
    const r = runOnce({ ...DEFAULT_RUN, backend: "sriov", vms: 12, warmupUs: 1000, measureUs: 2000, host: { ...DEFAULT_RUN.host, iotlbEntries: 64 }, traffic: { ...DEFAULT_RUN.traffic, kind: "udp", direction: "tx", frameBytes: 64, rateMbps: 0 } });
    expect(r.wire.outUtilisation).toBeLessThan(0.6);
    expect(r.cpu.guest.busyCores).toBeLessThan(10);
    const mean = r.gbps / 12;
    for (const g of r.perVm.gbps) expect(Math.abs(g - mean) / mean, r.perVm.gbps.map((x) => x.toFixed(3)).join(" ")).toBeLessThan(0.05);
  });

  it("Xen PV, netback the bottleneck: VIFs sharing a Dom0 core share it, a VIF alone gets twice as much; one TX tasklet serves all alike", () => {
    // 3 VMs sending as fast as they can, 2 Dom0 cores: VIFs 0 and 2 are served on core 0, VIF 1 on core 1
    const run = (netback: "per-queue" | "per-cpu" | "tasklet") =>
      runOnce(small({ backend: "xen-pv", kind: "udp", direction: "tx", vms: 3, frameBytes: 64, measureUs: 5000, costs: { xenNetbackPerPacket: 5000 }, xen: { netback } })).perVm;
    for (const netback of ["per-queue", "per-cpu"] as const) {
      const { gbps: [a, b, c], jain } = run(netback);
      expect(b! / a!, netback).toBeGreaterThan(1.8);
      expect(b! / a!, netback).toBeLessThan(2.2);
      expect(Math.abs(a! - c!) / a!, netback).toBeLessThan(0.1);
      expect(jain, netback).toBeLessThan(0.92);
    }
    expect(run("tasklet").jain).toBeGreaterThan(0.98);
  });
});
