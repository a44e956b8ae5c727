import { describe, expect, it } from "vitest";
import { runOnce } from "../../../sim/run.js";
import { ALL_BACKENDS, small } from "./helpers.js";

/*
 * TCP and the guests' offloads: ACK clocking, GRO on receive, GSO on transmit.
 */

/**
 * A receiver ACKs every `ackEvery` in-order segments (RFC 1122 delayed ACKs, Linux without GRO),
 * each ACK a frame of its own: a guest that sends its ACKs after its NAPI poll sends all of them,
 * not one for the poll. Counted where the ACKs arrive (the peer for a guest receiver, the guest for
 * a guest sender), against the data frames delivered in the same window.
 */
describe("TCP ACK clocking", () => {
  for (const backend of ALL_BACKENDS)
    for (const direction of ["rx", "tx"] as const)
      it(`${backend}, guest ${direction === "rx" ? "receiving" : "sending"}: one ACK per ackEvery segments (2 and 4), without loss`, () => {
        for (const ackEvery of [2, 4]) {
          const p = small({ backend, kind: "tcp", direction, frameBytes: 1518, vms: 2, measureUs: 2000 });
          const r = runOnce({ ...p, traffic: { ...p.traffic, ackEvery } });
          const frames = Math.round(r.mpps * r.windowUs); // Mpps × µs
          expect(r.counters.tcpRetransmits).toBe(0);
          expect(frames).toBeGreaterThan(300);
          const ratio = r.countersInWindow.tcpAcks! / frames;
          // window edges and segments with PSH (ACKed at once) move it a little either way
          expect(ratio).toBeGreaterThan(0.88 / ackEvery);
          expect(ratio).toBeLessThan(1.12 / ackEvery);
        }
      });
});

describe("TCP ACKs ring the device one by one", () => {
  it("a guest receiving TCP rings its VF's doorbell, or traps a TDT write to QEMU's e1000, for every ACK it sends", () => {
    for (const [backend, key] of [
      ["sriov", "doorbells"],
      ["e1000", "exits"],
    ] as const) {
      const r = runOnce(small({ backend, kind: "tcp", direction: "rx", frameBytes: 1518, vms: 1, measureUs: 2000 }));
      const acks = r.countersInWindow.tcpAcks!;
      expect(acks).toBeGreaterThan(100);
      const perAck = r.countersInWindow[key]! / acks;
      // one per ACK (e1000 adds its interrupt handler's register accesses); one per poll would be ~1/30
      expect(perAck).toBeGreaterThan(0.9);
      if (backend === "sriov") expect(perAck).toBeLessThan(1.1);
    }
  });
});

/**
 * The same small TCP run (2 VMs, 1518 B) without and with a guest offload; the offload's counters
 * must be absent without it, and with it count units (aggregates, super-segments) of more than two
 * segments on average. Returns both runs and the segments per unit.
 */
function withOffload(backend: (typeof ALL_BACKENDS)[number], direction: "rx" | "tx", flag: "guestGro" | "guestGso", units: string, segments: string) {
  const base = small({ backend, kind: "tcp", direction, frameBytes: 1518, vms: 2, measureUs: 2000 });
  const off = runOnce(base);
  const on = runOnce({ ...base, host: { ...base.host, [flag]: true } });
  expect(units in off.counters).toBe(false);
  const n = on.counters[units]!;
  expect(n).toBeGreaterThan(0);
  const perUnit = on.counters[segments]! / n;
  expect(perUnit).toBeGreaterThan(2);
  expect(on.counters.tcpRetransmits).toBe(0);
  return { off, on, perUnit };
}

/**
 * host.guestGro: a guest's NAPI poll merges the stream's consecutive segments into aggregates (up to
 * 64 KiB) that cross its stack once and are ACKed once, in every backend's guest.
 */
describe("guest GRO", () => {
  for (const backend of ALL_BACKENDS)
    it(`${backend}: aggregates of several segments, one ACK each, the same bytes delivered for less guest CPU per frame`, () => {
      // a poll takes several of the stream's frames at once
      const { off, on, perUnit } = withOffload(backend, "rx", "guestGro", "groAggregates", "groSegments");
      expect(perUnit).toBeLessThanOrEqual(Math.floor(65536 / 1448) + 1);
      const frames = Math.round(on.mpps * on.windowUs);
      // one ACK per aggregate, not one per two segments
      const ackRatio = on.countersInWindow.tcpAcks! / frames;
      expect(ackRatio).toBeLessThan(0.5 * 0.6);
      expect(ackRatio).toBeGreaterThan(0.8 / perUnit / 2);
      // the stack's per-packet work once per aggregate: less guest CPU per delivered frame
      const perFrame = (r: typeof on): number => r.cpu.guest.busyCores / r.mpps;
      expect(perFrame(on)).toBeLessThan(0.85 * perFrame(off));
      // nothing lost or duplicated by holding frames: what was offered arrived
      expect(on.conservation.inFlight).toBe(0);
      expect(on.conservation.delivered).toBe(on.conservation.offered);
    });

  it("an aggregate stays below 64 KiB of IP length, as Linux's skb_gro_receive", () => {
    // a 9000-byte MTU: 8948-byte segments, so 64 KiB holds 7 of them; a window of 256 KiB
    const base = small({ backend: "sriov", kind: "tcp", direction: "rx", frameBytes: 9018, vms: 1, measureUs: 2000, host: { guestGro: true } });
    const r = runOnce({ ...base, traffic: { ...base.traffic, mtu: 9000, windowBytes: 256 * 1024 } });
    const segs = r.counters.groSegments!;
    const aggs = r.counters.groAggregates!;
    expect(segs / aggs).toBeGreaterThan(2);
    expect(segs / aggs).toBeLessThanOrEqual(7);
  });
});

/**
 * host.guestGso: a guest's TCP stack builds super-segments of up to 64 KiB once; they are cut into
 * MSS frames before the driver, which posts a super-segment's frames with one doorbell (xmit_more).
 */
describe("guest GSO", () => {
  for (const backend of ALL_BACKENDS)
    it(`${backend}: super-segments of several frames, the stack once each, less guest CPU per frame`, () => {
      const { off, on, perUnit } = withOffload(backend, "tx", "guestGso", "gsoSuperSegments", "gsoSegments");
      expect(perUnit).toBeLessThanOrEqual(Math.floor((65536 - 52) / 1448)); // 45 segments of MSS 1448
      const perFrame = (r: typeof on): number => r.cpu.guest.busyCores / r.mpps;
      expect(perFrame(on)).toBeLessThan(0.85 * perFrame(off));
      expect(on.conservation.inFlight).toBe(0);
      expect(on.conservation.delivered).toBe(on.conservation.offered);
    });

  it("a super-segment's frames share one doorbell (VF) and one trapped TDT write (e1000)", () => {
    for (const [backend, key] of [
      ["sriov", "doorbells"],
      ["e1000", "exits"],
    ] as const) {
      const base = small({ backend, kind: "tcp", direction: "tx", frameBytes: 1518, vms: 1, measureUs: 2000 });
      const perFrame = (r: ReturnType<typeof runOnce>): number => r.countersInWindow[key]! / (r.mpps * r.windowUs);
      const off = runOnce(base);
      const on = runOnce({ ...base, host: { ...base.host, guestGso: true } });
      expect(perFrame(off)).toBeGreaterThan(0.9); // a doorbell or a TDT trap for every frame
      expect(perFrame(on)).toBeLessThan(0.5 * perFrame(off));
    }
  });
});
