/**
 * netfront's GSO (feature-gso-tcpv4): a packet of up to 64 KiB as its pages' requests with a GSO
 * extra-info slot after the first; netback answers the extra with XEN_NETIF_RSP_NULL, copies the
 * pieces and hands the packet to Dom0's switch whole with its segment size. Towards the guest the
 * first RX response carries NETRXF_extra_info and the slot after it the GSO info. One netfront queue
 * and one netback queue, the switch replaced by a recorder; then whole runs.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { slotsFor } from "../../../../sim/backends/xen/netfront.js";
import { NETIF_RSP_ERROR, NETIF_RSP_NULL, NETIF_RSP_OKAY, RX_SLOT, TX_SLOT, XEN_NETIF_EXTRA_FLAG_MORE, XEN_NETIF_EXTRA_TYPE_GSO, ringSize } from "../../../../sim/backends/xen/netif.js";
import { DEFAULT_RUN } from "../../../../sim/params.js";
import { runOnce, type RunResult } from "../../../../sim/run.js";
import { xenRig } from "./xen-rig.js";

const rig = (gso: boolean, persistent = false) => xenRig({ gso, persistent, maxFrame: 1518 });

const frameOf = (len: number, seed: number): Uint8Array => Uint8Array.from({ length: len }, (_, i) => (i * 13 + seed) & 0xff);
const status = (r: ReturnType<typeof rig>, idx: number): number => (r.g.read16(r.fe.tx.slotGpa(idx) + 2) << 16) >> 16;

describe("netfront GSO packets through netback", () => {
  it("any packet up to 64 KiB, with or without GSO, reaches the switch whole with its segment size; the extra slot is answered RSP_NULL; every slot comes back", () => {
    fc.assert(
      fc.property(fc.array(fc.record({ len: fc.integer({ min: 60, max: 0xffff }), gso: fc.constantFrom(536, 1448, 8948) }), { minLength: 1, maxLength: 12 }), fc.boolean(), (pkts, persistent) => {
        const r = rig(true, persistent);
        const size = ringSize(TX_SLOT);
        let idx = 0;
        for (const [i, p] of pkts.entries()) {
          const gso = p.len > 1514 ? p.gso : 0; // a frame within the MTU goes without GSO
          const f = frameOf(p.len, i);
          if (r.fe.txFree < slotsFor(p.len) + 1) {
            r.runNetback();
            r.fe.reclaimTx();
          }
          expect(r.fe.xmit(f, p.len, gso)).toBe(true);
          const copies = r.nb.grantCopies;
          r.fe.pushTx();
          r.runNetback();
          // a grant copy per page of data (copy mode), none for the extra slot
          if (!persistent) expect(r.nb.grantCopies - copies).toBe(slotsFor(p.len));
          expect(r.sentGso.at(-1)).toBe(gso);
          expect(r.sent.at(-1)).toEqual(Array.from(f));
          // responses: the first request OKAY, the extra NULL, every further piece OKAY
          const slots = slotsFor(p.len) + (gso > 0 ? 1 : 0);
          const st = Array.from({ length: slots }, (_, k) => status(r, idx + k));
          expect(st).toEqual(st.map((_, k) => (gso > 0 && k === 1 ? NETIF_RSP_NULL : NETIF_RSP_OKAY)));
          idx += slots;
        }
        r.fe.reclaimTx();
        expect(r.fe.txFree).toBe(size);
        expect(r.sent.length).toBe(pkts.length);
      }),
      { numRuns: 60 },
    );
  });

  it("a netback that did not offer GSO answers a GSO packet with errors and drops it; the VIF stays up", () => {
    const r = rig(false);
    expect(r.fe.xmit(frameOf(9000, 1), 9000, 1448)).toBe(true);
    r.fe.pushTx();
    r.runNetback();
    expect(r.sent.length).toBe(0);
    expect([0, 1, 2, 3].map((k) => status(r, k))).toEqual([NETIF_RSP_ERROR, NETIF_RSP_NULL, NETIF_RSP_ERROR, NETIF_RSP_ERROR]);
    expect(r.ledger.snapshot().droppedTotal).toBe(1);
    expect(r.nb.vif.disabled).toBe(false);
    expect(r.fe.xmit(frameOf(1000, 2), 1000)).toBe(true);
    r.fe.pushTx();
    r.runNetback();
    expect(r.sent.length).toBe(1);
  });

  it("an extra of an unknown type is a fatal protocol error (xenvif_get_extras); one with FLAG_MORE is followed by another extra slot", () => {
    const bad = rig(true);
    expect(bad.fe.xmit(frameOf(5000, 1), 5000, 1448)).toBe(true);
    bad.g.write16(bad.fe.tx.slotGpa(1), 9); // the extra's type
    bad.fe.pushTx();
    bad.runNetback();
    expect(bad.nb.vif.disabled).toBe(true);
    expect(bad.sent.length).toBe(0);

    const two = rig(true);
    expect(two.fe.xmit(frameOf(9000, 1), 9000, 1448)).toBe(true); // slots: request, extra, request, request
    // make the GSO extra say MORE and turn the next data slot into a second GSO extra: the packet's
    // data then runs short of its size, so it is refused, but the slots are walked as extras
    two.g.write16(two.fe.tx.slotGpa(1), XEN_NETIF_EXTRA_TYPE_GSO | (XEN_NETIF_EXTRA_FLAG_MORE << 8));
    two.g.write16(two.fe.tx.slotGpa(2), XEN_NETIF_EXTRA_TYPE_GSO);
    two.fe.pushTx();
    two.runNetback();
    expect(two.nb.vif.disabled).toBe(false);
    expect([1, 2].map((k) => status(two, k))).toEqual([NETIF_RSP_NULL, NETIF_RSP_NULL]);
  });
});

describe("GSO packets from Dom0 to netfront", () => {
  it("any packet up to 64 KiB, with or without GSO, reaches the guest whole with its segment size; the extra-info slot uses up a request; every RX slot is posted again", () => {
    fc.assert(
      fc.property(fc.array(fc.record({ len: fc.integer({ min: 60, max: 0xffff }), gso: fc.constantFrom(536, 1448, 8948) }), { minLength: 1, maxLength: 20 }), fc.boolean(), (pkts, persistent) => {
        const r = rig(true, persistent);
        const size = ringSize(RX_SLOT);
        for (const [i, p] of pkts.entries()) {
          const gso = p.len > 1514 ? p.gso : 0;
          const f = frameOf(p.len, i);
          expect(r.nb.deliver(f, p.len, undefined, gso)).toBe(true);
          r.nb.commit();
          const copies = r.nb.grantCopies;
          r.runNetback();
          if (!persistent) expect(r.nb.grantCopies - copies).toBe(slotsFor(p.len)); // none for the extra's slot
          expect(r.pollGuest()).toBe(1);
          expect(r.receivedGso.at(-1)).toBe(gso);
          expect(r.received.at(-1)).toEqual(Array.from(f));
          // every request the packet used (its pages and the extra's) was posted again
          expect((r.fe.rx.reqProd - r.fe.rx.rspProd) >>> 0).toBe(size);
        }
        expect(r.fe.rxErrors).toBe(0);
      }),
      { numRuns: 40 },
    );
  });
});

/** One VM's bulk TCP through Xen PV, with or without GSO; conservation checked. */
function xenRun(direction: "tx" | "rx", gso: boolean): RunResult {
  const r = runOnce({ ...DEFAULT_RUN, backend: "xen-pv", vms: 1, warmupUs: 1000, measureUs: 4000, traffic: { ...DEFAULT_RUN.traffic, direction }, xen: { ...DEFAULT_RUN.xen, gso } });
  const c = r.conservation;
  expect(c.offered).toBe(c.delivered + c.inFlight + Object.values(c.dropped).reduce((a, b) => a + b, 0));
  expect(c.inFlight).toBe(0);
  return r;
}

describe("a run with netfront's GSO", () => {
  it("one VM receives the line through Xen PV: Dom0's GRO aggregates reach the guest whole, one ACK each", () => {
    const off = xenRun("rx", false);
    const on = xenRun("rx", true);
    expect(off.goodputGbps).toBeLessThan(6.5);
    expect(on.goodputGbps).toBeGreaterThan(9.3);
    expect(on.counters.rxGsoPackets).toBeGreaterThan(0);
    expect(on.counters.rxGsoPackets).toBe(on.counters.hostGroAggregates);
    expect(on.counters.rxGsoSegments).toBe(on.counters.hostGroSegments);
    expect(on.cpu.host.busyCores).toBeLessThan(off.cpu.host.busyCores / 1.5);
  });

  it("one VM sends the line through Xen PV: the PF's TSO takes every super-frame netback hands over, every segment accounted", () => {
    const off = xenRun("tx", false);
    const on = xenRun("tx", true);
    expect(off.goodputGbps).toBeLessThan(6);
    expect(on.goodputGbps).toBeGreaterThan(9.3);
    expect(on.counters.tsoFrames).toBeGreaterThan(0);
    expect(on.counters.hostTsoPackets).toBe(on.counters.tsoFrames);
  });
});
