/**
 * Monotonicity of the model: raising any cost never raises throughput; adding link capacity never
 * lowers it. Exactly where no batch boundary of the model can move; elsewhere up to the phase of its
 * batch boundaries, a bound stated and checked here.
 *
 * What is measured. D(T): data frames delivered to their sinks from an empty system (no warm-up) by
 * time T. A frame counts when its sink has it: at the peer when its last bit has crossed the wire,
 * in a guest when the stack has finished with it (a NAPI poll hands its frames up one after another,
 * not all at its start). A window after a warm-up counts D(T) − D(W), which is not monotone even
 * where D is (a slower system catches up inside the window), so nothing here uses one.
 *
 * Exact (no tolerance):
 *  - saturating VF and e1000 guest senders, UDP and TCP: each frame pays its own costs and no batch
 *    grows when a stage slows down (1–4 VMs here; over a sweep of 1–8 VMs, 64/256/1518 B and every
 *    time/per-byte cost ×1.5/×2/×3, one point in 4,160 breaks it: VF TCP senders at 8 VMs with the
 *    IOTLB miss ×2, +1 frame, 0.5 µs ahead);
 *  - every backend, TX and RX, with the offered load held equal below capacity;
 *  - a faster wire or a wider PCIe link for saturating VF and e1000 senders (UDP and TCP) and Xen PV
 *    senders (UDP) (2 VMs here; in the sweep one point breaks it: e1000 TCP, 8 VMs, wire 10 → 40
 *    Gb/s, 2 frames fewer, 1 µs behind).
 *
 * Everywhere else, up to the phase of batch boundaries. Work in the model comes in batches whose
 * boundaries recur: throttled interrupts (EITR on the NIC, QEMU's e1000 ITR: at most one per vector
 * per 1/itr = 125 µs at the default itr), NAPI polls and backend steps of up to 64 frames whose
 * results are handed on when the step ends. A raised cost moves those boundaries, and a run that is
 * slower at every stage can have a boundary fall earlier relative to T — a poll still running when
 * the next frame lands instead of leaving it to the next throttled interrupt, a throttle interval
 * restarted at a better moment — and so be ahead at T. It is ahead by less than one boundary period
 * per throttled stage, and the lead does not grow with T: that is what is checked,
 *     D_raised(T) ≤ D_base(T + L),  L = 2 / itr = 250 µs (a host-side and a guest-side throttle),
 * for UDP on every backend, TX and RX, 1–4 VMs, with T = 2 ms (a sustained gain of more than
 * L / T = 12.5 % fails it), also for Xen PV with each netback model, and for TCP with T = 1 ms. The
 * largest leads in a sweep of 1–8 VMs, 64/256/1518 B, every cost ×1.5/×2/×3 and the wire or link
 * ×4: UDP 80.5 µs (T = 1 ms; e1000 RX, 2 VMs, 64 B, DMA write latency ×3: 519 → 560 frames) and
 * 118.5 µs (T = 2 ms, 1–4 VMs; e1000 RX, 1 VM, 1518 B, memcpy per byte ×1.5: 769 → 809 frames,
 * +5.2 %); TCP, raised costs, 109 µs (T = 1 ms; e1000 RX, 8 VMs, DMA write latency ×3: 476 → 522
 * frames). A faster wire with TCP is not covered: one e1000 guest receiving gets 115 frames by 1 ms
 * over 10 Gb/s and 83 over 40 Gb/s, which reaches 115 114 µs later (slow start: a round trip that
 * misses a throttled interrupt costs half the frames in flight; 299 µs while a poll's ACKs shared
 * one doorbell).
 *
 * Not covered, and why (docs/comparison.md, "Where the model is not monotone"): TCP beyond the first
 * millisecond — each round trip crosses throttled interrupts, a raised cost that moves ACKs into an
 * earlier interrupt shortens the round trip of a window-limited flow and the gain persists (+11 % at
 * T = 2 ms for virtio TX with the kick cost ×1.5; up to +18.5 % in the sweep at 2 ms, e1000 RX,
 * 4 VMs, DMA write latency ×3); guest-to-guest traffic. 8 VMs (two vCPUs per guest core, four
 * backend threads per host core) are left out of the UDP property: when a core ran its steps first
 * come, first served, a host NAPI poll waited behind 64-frame netback steps and gains persisted
 * there (+21 % at T = 2 ms, Xen PV TX, 1518 B, guest stack ×3); with the run queues (softirq before
 * threads, round robin, ksoftirqd after 4 polls) that case gives +0.3 % and the sweep at T = 2 ms
 * stays inside the bound at 8 VMs (largest lead 88.5 µs, Xen PV TX; largest gain +3.4 %).
 *
 * Where it does not hold at all, by the mechanism the issue asks for (the last describe below):
 * notification suppression. A virtio guest sending bulk TCP with a window wide enough to keep its
 * vCPU busy (emulated-vs-virtio-vs-vf.yaml, 1 VM): when vhost's per-packet cost is lowered, vhost
 * empties the ring before the guest adds the next frame, re-enables notifications and the guest
 * kicks for about 0.4 of its frames (none at the default cost); the vCPU saturates on the kicks
 * and the rate falls (5.96 → 5.04 Gb/s for vhostPerPacket 600 → 200 cycles). A steady-state loss, not a phase: the regime
 * vhost-net's busy polling (QEMU's tap poll-us) exists to avoid: off by default as in QEMU (poll-us
 * 0); with `virtio.busyPollUs` the loss goes (tested below). `pciov sensitivity` finds such cases in
 * any scenario.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { COST_KEYS, DEFAULT_COSTS, type CostKey } from "../../../sim/costs.js";
import { DEFAULT_HOST, NETBACK_MODELS, type RunParams } from "../../../sim/params.js";
import { runOnce } from "../../../sim/run.js";
import { loadScenario } from "../../../sim/scenario.js";
import { plan } from "../../../sim/compare.js";
import { ALL_BACKENDS, small, type Small } from "./helpers.js";

const TIME_KEYS = COST_KEYS.filter((k) => {
  const u = DEFAULT_COSTS[k].unit;
  return u === "cycles" || u === "ns" || u === "cycles/byte";
});

const frames = (r: ReturnType<typeof runOnce>): number => Math.round(r.mpps * r.windowUs);
/** A run measured from an empty system: delivered frames in [0, T), T = `us` (1 ms by default). */
const fromEmpty = (p: RunParams, us = 1000): RunParams => ({ ...p, warmupUs: 0, measureUs: us });
/** D(T) of a run from empty. */
const delivered = (p: RunParams, us: number): number => frames(runOnce(fromEmpty(p, us)));
const raised = (key: CostKey, factor: number): Record<string, number> => {
  const v = DEFAULT_COSTS[key].value;
  return { [key]: v === 0 ? 100 : v * factor };
};
/** The phase bound: two moderation intervals at the default interrupt rate (250 µs). */
const LEAD_US = 2 * (1e6 / DEFAULT_HOST.itr);

/**
 * The slower run (`slow`) is never ahead of the faster one (`fast`) at T by more than the phase
 * bound: D_slow(T) ≤ D_fast(T + L).
 */
function notAheadByMoreThanPhase(fast: RunParams, slow: RunParams, tUs: number): void {
  const s = delivered(slow, tUs);
  const f = delivered(fast, tUs + LEAD_US);
  expect(s, `slower run: ${s} frames by ${tUs} µs; faster run: ${f} by ${tUs + LEAD_US} µs`).toBeLessThanOrEqual(f);
}

describe("monotonicity (exact)", () => {
  it("raising any time or per-byte cost never raises the frames a saturating VF or e1000 sender delivers (UDP and TCP)", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("sriov" as const, "e1000" as const),
        fc.constantFrom("udp" as const, "tcp" as const),
        fc.constantFrom(...TIME_KEYS),
        fc.double({ min: 1.5, max: 3, noNaN: true }),
        fc.constantFrom(64, 256, 1518, 9018),
        fc.integer({ min: 1, max: 4 }),
        (backend, kind, key, factor, frameBytes, vms) => {
          const base = fromEmpty(small({ backend, direction: "tx", kind, vms, frameBytes }));
          const a = frames(runOnce(base));
          const b = frames(runOnce({ ...base, costs: raised(key, factor) }));
          expect(b).toBeLessThanOrEqual(a);
        },
      ),
      { numRuns: 80, seed: 11 },
    );
  });

  it("with the offered load held equal below capacity, raising any cost never raises delivered frames (every backend, tx and rx)", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...ALL_BACKENDS),
        fc.constantFrom(...TIME_KEYS),
        fc.constantFrom(1.5, 2, 3),
        fc.constantFrom("tx" as const, "rx" as const),
        fc.constantFrom(64, 256, 1518, 9018),
        (backend, key, factor, direction, frameBytes) => {
          const base = fromEmpty(small({ backend, direction, kind: "udp", vms: 2, frameBytes, rateMbps: 50 }));
          const a = frames(runOnce(base));
          const b = frames(runOnce({ ...base, costs: raised(key, factor) }));
          expect(b).toBeLessThanOrEqual(a);
        },
      ),
      { numRuns: 40, seed: 5 },
    );
  });

  it("a faster wire or a wider PCIe link never lowers what saturating senders deliver (VF and e1000: UDP and TCP; Xen PV: UDP)", () => {
    const cases = [
      ["sriov", "udp"],
      ["sriov", "tcp"],
      ["e1000", "udp"],
      ["e1000", "tcp"],
      ["xen-pv", "udp"],
    ] as const;
    fc.assert(
      fc.property(
        fc.constantFrom(...cases),
        fc.constantFrom(1, 2.5, 5, 10),
        fc.constantFrom(1, 2, 4) as fc.Arbitrary<1 | 2 | 4>,
        fc.constantFrom(64, 1024, 9018),
        ([backend, kind], gbps, width, frameBytes) => {
          const base = fromEmpty(small({ backend, direction: "tx", kind, vms: 2, frameBytes, costs: { ethRateGbps: gbps }, host: { pcieWidth: width } }));
          const a = frames(runOnce(base));
          expect(frames(runOnce({ ...base, costs: { ethRateGbps: gbps * 4 } }))).toBeGreaterThanOrEqual(a);
          expect(frames(runOnce({ ...base, host: { ...base.host, pcieWidth: (width * 4) as 4 | 8 | 16 } }))).toBeGreaterThanOrEqual(a);
        },
      ),
      { numRuns: 30, seed: 3 },
    );
  });
});

/**
 * UDP, TX and RX, 1–4 VMs, frames of 64–9018 B, any time or per-byte cost ×1.5/×2/×3, on the
 * backend (and options) `who` draws: the raised run is never ahead of the base at 2 ms by more than
 * the phase bound.
 */
function udpRaisedCostWithinPhase(who: fc.Arbitrary<Pick<Small, "backend" | "xen">>, numRuns: number, seed: number): void {
  fc.assert(
    fc.property(
      who,
      fc.constantFrom("tx" as const, "rx" as const),
      fc.constantFrom(...TIME_KEYS),
      fc.constantFrom(1.5, 2, 3),
      fc.constantFrom(64, 256, 1518, 9018),
      fc.integer({ min: 1, max: 4 }),
      (w, direction, key, factor, frameBytes, vms) => {
        const base = small({ ...w, direction, kind: "udp", vms, frameBytes });
        notAheadByMoreThanPhase(base, { ...base, costs: raised(key, factor) }, 2000);
      },
    ),
    { numRuns, seed },
  );
}

describe("monotonicity up to the phase of batch boundaries (a raised cost never puts a run more than 2/itr ahead)", () => {
  it("UDP, every backend, tx and rx, 1–4 VMs: raising any time or per-byte cost never gets more delivered by 2 ms than the base delivers by 2 ms + 250 µs", () => {
    udpRaisedCostWithinPhase(
      fc.constantFrom(...ALL_BACKENDS).map((backend) => ({ backend })),
      60,
      17,
    );
  });

  it("UDP, Xen PV with each netback model (a poll and a thread per VIF, a thread per Dom0 vCPU, two tasklets), tx and rx, 1–4 VMs: the same bound", () => {
    udpRaisedCostWithinPhase(
      fc.constantFrom(...NETBACK_MODELS).map((netback) => ({ backend: "xen-pv" as const, xen: { netback } })),
      30,
      31,
    );
  });

  it("UDP, every backend, tx and rx: a 4× slower wire or a 4× narrower PCIe link never gets more delivered by 2 ms than the faster one by 2 ms + 250 µs", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...ALL_BACKENDS),
        fc.constantFrom("tx" as const, "rx" as const),
        fc.constantFrom("wire" as const, "pcie" as const),
        fc.constantFrom(64, 256, 1518, 9018),
        fc.integer({ min: 1, max: 4 }),
        (backend, direction, what, frameBytes, vms) => {
          const base = small({ backend, direction, kind: "udp", vms, frameBytes });
          if (what === "wire") notAheadByMoreThanPhase(base, { ...base, costs: { ethRateGbps: 2.5 } }, 2000);
          else notAheadByMoreThanPhase({ ...base, host: { ...base.host, pcieWidth: 8 } }, { ...base, host: { ...base.host, pcieWidth: 2 } }, 2000);
        },
      ),
      { numRuns: 24, seed: 23 },
    );
  });

  it("TCP, every backend, tx and rx, 1–8 VMs: raising any cost never gets more delivered by 1 ms than the base delivers by 1 ms + 250 µs", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...ALL_BACKENDS),
        fc.constantFrom("tx" as const, "rx" as const),
        fc.constantFrom(...TIME_KEYS),
        fc.constantFrom(1.5, 2, 3),
        fc.constantFrom(1, 2, 4, 8),
        (backend, direction, key, factor, vms) => {
          const base = small({ backend, direction, kind: "tcp", vms });
          notAheadByMoreThanPhase(base, { ...base, costs: raised(key, factor) }, 1000);
        },
      ),
      { numRuns: 40, seed: 29 },
    );
  });

  it("TCP with the devices' TSO/GSO and the guests' GRO (64 KiB units through the VF, vhost, netback, QEMU's e1000, the host's GRO and the PF's TSO), tx and rx, 1–4 VMs: the same bound", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...ALL_BACKENDS),
        fc.constantFrom("tx" as const, "rx" as const),
        fc.constantFrom(...TIME_KEYS),
        fc.constantFrom(1.5, 3),
        fc.constantFrom(1, 2, 4),
        (backend, direction, key, factor, vms) => {
          const base = small({ backend, direction, kind: "tcp", vms, sriov: { tso: true }, virtio: { tso: true }, xen: { gso: true }, e1000: { tso: true }, host: { guestGro: true } });
          notAheadByMoreThanPhase(base, { ...base, costs: raised(key, factor) }, 1000);
        },
      ),
      { numRuns: 48, seed: 31 },
    );
  });
});

describe("monotonicity (sanity)", () => {
  it("raising every cost at once (a slower CPU) lowers throughput of a CPU-bound guest", () => {
    const base = small({ backend: "sriov", direction: "tx", vms: 1, frameBytes: 64, measureUs: 1000 });
    const fast = frames(runOnce(base));
    const slow = frames(runOnce({ ...base, costs: { coreClockGHz: 1.25 } }));
    expect(slow).toBeLessThan(0.6 * fast);
  });

  it("the wire is the limit where it should be: 1 GbE carries ≤ its line rate", () => {
    const r = runOnce(small({ backend: "sriov", direction: "tx", vms: 2, frameBytes: 1518, measureUs: 1000, costs: { ethRateGbps: 1 } }));
    expect(r.gbps).toBeLessThanOrEqual((1 * 1518) / 1538 + 0.01);
    expect(r.gbps).toBeGreaterThan(0.9);
  });
});

describe("monotonicity: where notification suppression breaks it (documented, docs/comparison.md)", () => {
  /** One VM sending bulk TCP through virtio (emulated-vs-virtio-vs-vf.yaml), vhost at a given cost and busy poll; each run once. */
  const runs = new Map<string, ReturnType<typeof runOnce>>();
  const sender = (vhostPerPacket: number, busyPollUs = 0) => {
    const key = `${vhostPerPacket}/${busyPollUs}`;
    let r = runs.get(key);
    if (r === undefined) {
      const sc = loadScenario(new URL("../../../sim/scenarios/emulated-vs-virtio-vs-vf.yaml", import.meta.url).pathname);
      const p = plan(sc, { backends: ["virtio"], vms: [1] })[0]!.params;
      r = runOnce({ ...p, virtio: { ...p.virtio, busyPollUs }, costs: { ...p.costs, vhostPerPacket } });
      runs.set(key, r);
    }
    return r;
  };
  const v = DEFAULT_COSTS.vhostPerPacket.value;

  it("a faster vhost lets the guest kick more: exits per frame rise tenfold and a vCPU-bound virtio sender delivers less", () => {
    const base = sender(v);
    const faster = sender(v / 3);
    // the base: vhost is the busy side, notifications stay off (kicks only after it idles)
    expect(base.cpu.vhost.busyCores).toBeGreaterThan(0.95);
    expect(base.exitsPerPacket).toBeLessThan(0.1);
    // faster vhost: it idles, the guest kicks, its vCPU is the limit, and the rate falls
    expect(faster.exitsPerPacket).toBeGreaterThan(10 * base.exitsPerPacket);
    expect(faster.exitsPerSec.pio ?? 0).toBeGreaterThan(0.3 * faster.mpps * 1e6);
    expect(faster.cpu.guest.busyCores).toBeGreaterThan(0.97);
    expect(faster.goodputGbps).toBeLessThan(0.9 * base.goodputGbps);
  });

  it("with vhost's busy polling (virtio.busyPollUs) the faster vhost keeps notifications off, the guest stops kicking and the rate no longer falls", () => {
    const base = sender(v);
    const faster = sender(v / 3);
    const polling = sender(v / 3, 10);
    expect(polling.counters.vhostBusyPolls).toBeGreaterThan(0);
    expect(polling.counters.vhostBusyPollHits).toBeGreaterThan(0);
    expect(polling.exitsPerSec.pio ?? 0).toBeLessThan(0.1 * (faster.exitsPerSec.pio ?? 0));
    expect(polling.cpu.guest.busyCores).toBeLessThan(0.95);
    expect(polling.goodputGbps).toBeGreaterThan(faster.goodputGbps);
    expect(polling.goodputGbps).toBeGreaterThanOrEqual(base.goodputGbps);
    // polling costs vhost CPU: its thread is busy all the time
    expect(polling.cpu.vhost.busyCores).toBeGreaterThan(faster.cpu.vhost.busyCores);
  });
});
