/**
 * Who runs netback's work (`xen.netback`): per VIF queue a NAPI poll for the guest's TX and a thread
 * for its RX (per-queue), a thread bound to each Dom0 vCPU serving the VIFs assigned to it (per-cpu),
 * or one TX and one RX tasklet for every VIF (tasklet). The tests pin the threading itself: what each model lets Dom0's cores do in parallel.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { applyCostOverrides, perByteNs, resolveTimeCostsNs } from "../../../../sim/costs.js";
import { checkRunParams, runOnce } from "../../../../sim/run.js";
import { NETBACK_MODELS, type NetbackModel } from "../../../../sim/params.js";
import { PRIO_SOFTIRQ, PRIO_THREAD, type Worker } from "../../../../sim/model/cpu.js";
import { catchErr, small } from "../helpers.js";

/**
 * Netback made the bottleneck: 20,000 cycles per packet, so that the PF driver and the bridge (≈ 2,500
 * cycles a frame) take a small share of Dom0. 64 B frames from the wire at 320 Mb/s in all (≈ 0.6
 * Mpps, ≈ 0.6 Dom0 cores of PF and bridge work), far more than one core of netback can take.
 */
const COSTS = { xenNetbackPerPacket: 20000 };
function rxRate(netback: NetbackModel, hostCores: number, vms: number): number {
  return runOnce(small({ backend: "xen-pv", kind: "udp", direction: "rx", vms, frameBytes: 64, rateMbps: 320 / vms, measureUs: 2000, costs: COSTS, xen: { netback }, host: { hostCores, hostQueues: hostCores } })).mpps;
}

/** Frames per µs one core of netback RX work can take: per packet, a grant copy, its bytes, and a share of the batch's hypercall and notification. */
function oneCoreMpps(): number {
  const table = applyCostOverrides(COSTS);
  const t = resolveTimeCostsNs(table);
  const ns = t.xenNetbackPerPacket + t.xenGrantCopyPerOp + 60 * perByteNs(table, "xenGrantCopyPerByte") + (t.xenGrantCopyHypercall + t.xenEventChannelSend) / 64;
  return 1e3 / ns;
}

describe("Xen netback threading models", () => {
  it("tasklet: one RX tasklet serves every VIF, so Dom0's receive capacity is one core's, whatever Dom0 has", () => {
    const bound = oneCoreMpps();
    const two = rxRate("tasklet", 2, 4);
    const four = rxRate("tasklet", 4, 4);
    expect(two).toBeLessThanOrEqual(bound);
    expect(four).toBeLessThanOrEqual(bound);
    expect(four).toBeGreaterThan(0.5 * bound);
    expect(four / two).toBeLessThan(1.15);
  });

  it("per-cpu: a thread per Dom0 vCPU, so capacity grows with Dom0's cores, also with two VIFs to a thread", () => {
    const bound = oneCoreMpps();
    expect(rxRate("per-cpu", 4, 4) / rxRate("per-cpu", 2, 4)).toBeGreaterThan(1.7);
    const shared = rxRate("per-cpu", 4, 8); // VIFs i and i + 4 share vCPU i's thread
    expect(shared).toBeGreaterThan(2.5 * bound);
    expect(shared).toBeGreaterThan(3 * rxRate("tasklet", 4, 8));
  });

  it("each model runs netback on its own workers: per queue a NAPI poll and a thread, a thread per Dom0 vCPU, or two tasklets", () => {
    const workersOf = (netback: NetbackModel): Array<{ name: string; core: number; prio: number; steps: number }> => {
      let seen: readonly Worker[] = [];
      runOnce(small({ backend: "xen-pv", kind: "tcp", direction: "rx", vms: 3, frameBytes: 1518, measureUs: 300, xen: { netback } }), { workers: (w) => (seen = w) });
      return seen.filter((w) => w.name.includes("net")).map((w) => ({ name: w.name, core: w.core.index, prio: w.priority, steps: w.steps }));
    };
    // small(): 2 Dom0 cores, 2 PF queues; per-queue threads start on the core after the PF's, (2 + i) mod 2
    const perQueue = workersOf("per-queue");
    expect(perQueue.map(({ name, core, prio }) => [name, core, prio])).toEqual(
      [0, 1, 2].flatMap((i) => [
        [`dom0.netback${i}.0`, i % 2, PRIO_THREAD],
        [`dom0.netback-napi${i}.0`, i % 2, PRIO_SOFTIRQ],
      ]),
    );
    const perCpu = workersOf("per-cpu");
    expect(perCpu.map(({ name, core, prio }) => [name, core, prio])).toEqual([
      ["dom0.netback0", 0, PRIO_THREAD],
      ["dom0.netback1", 1, PRIO_THREAD],
    ]);
    const tasklet = workersOf("tasklet");
    expect(tasklet.map(({ name, core, prio }) => [name, core, prio])).toEqual([
      ["dom0.net_tx_tasklet", 0, PRIO_SOFTIRQ],
      ["dom0.net_rx_tasklet", 1, PRIO_SOFTIRQ],
    ]);
    // every worker worked: data to the guests one way, their ACKs the other
    for (const w of [...perQueue, ...perCpu, ...tasklet]) expect(w.steps, w.name).toBeGreaterThan(0);
  });

  it("every model conserves frames and repeats itself, both directions and guest to guest", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...NETBACK_MODELS),
        fc.constantFrom("udp" as const, "tcp" as const),
        fc.constantFrom("tx" as const, "rx" as const, "g2g" as const),
        fc.integer({ min: 2, max: 5 }),
        fc.integer({ min: 64, max: 9018 }),
        fc.constantFrom("copy" as const, "persistent" as const),
        (netback, kind, direction, vms, frameBytes, grants) => {
          const p = small({ backend: "xen-pv", kind, direction, vms, frameBytes, measureUs: 300, xen: { grants, netback }, traffic: { mtu: Math.max(576, frameBytes - 18) } });
          const r = runOnce(p);
          const c = r.conservation;
          const dropped = Object.values(c.dropped).reduce((x, y) => x + y, 0);
          expect(c.inFlight).toBe(0);
          expect(c.offered).toBe(c.delivered + dropped);
          expect(c.delivered).toBeGreaterThan(0);
          expect(JSON.stringify(runOnce(p))).toBe(JSON.stringify(r));
        },
      ),
      { numRuns: 12, seed: 5 },
    );
  });

  it("multi-queue VIFs need per-queue netback; an unknown model is refused", () => {
    for (const netback of ["per-cpu", "tasklet"] as const) {
      const e = catchErr(() => checkRunParams(small({ backend: "xen-pv", xen: { queues: 2, netback } })));
      expect(e.code).toBe("EINVAL");
      expect(e.message).toContain(`xen.queues 2 needs xen.netback per-queue`);
    }
    expect(() => checkRunParams(small({ backend: "xen-pv", xen: { queues: 2, netback: "per-queue" } }))).not.toThrow();
    const bad = catchErr(() => checkRunParams(small({ backend: "xen-pv", xen: { netback: "softirq" as NetbackModel } })));
    expect(bad.code).toBe("EINVAL");
    expect(bad.message).toContain("per-queue, per-cpu, tasklet");
  });
});
