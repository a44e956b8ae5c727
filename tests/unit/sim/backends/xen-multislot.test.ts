/**
 * Xen PV frames over one page: netfront splits them into a request per page (NETTXF_more_data),
 * netback checks each packet's requests as xenvif_count_requests does, grant-copies each piece, and
 * fills an RX slot per page (NETRXF_more_data). One netfront queue and one netback queue, with the
 * Dom0 switch replaced by a recorder.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { XEN_PAGE } from "../../../../sim/backends/xen/grant.js";
import { DOM0_ID, slotsFor } from "../../../../sim/backends/xen/netfront.js";
import { NETIF_RSP_ERROR, NETIF_RSP_OKAY, NETTXF_more_data, RX_SLOT, TX_SLOT, ringSize, writeTxRequest } from "../../../../sim/backends/xen/netif.js";
import { runOnce } from "../../../../sim/run.js";
import { small } from "../helpers.js";
import { xenRig } from "./xen-rig.js";

const MiB = 2 ** 20;
const rig = (persistent = false) => xenRig({ persistent });

const frameOf = (len: number, seed: number): Uint8Array => Uint8Array.from({ length: len }, (_, i) => (i * 7 + seed) & 0xff);

/** Write one raw TX request (a misbehaving frontend): grant `pieceLen` bytes of a fresh page. */
function rawRequest(r: ReturnType<typeof rig>, idx: number, id: number, offset: number, flags: number, size: number): void {
  const page = 12 * MiB + id * XEN_PAGE;
  const ref = r.gt.grant(DOM0_ID, page, true);
  writeTxRequest(r.g, r.fe.tx.slotGpa(idx), ref, offset, flags, id, size);
}

function txStatuses(r: ReturnType<typeof rig>, from: number, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((r.g.read16(r.fe.tx.slotGpa(from + i) + 2) << 16) >> 16);
  return out;
}

describe("Xen PV frames over one page", () => {
  it("netfront writes a 9014 B frame as three requests: the whole size first, then each piece's", () => {
    const r = rig();
    const f = frameOf(9014, 3);
    expect(r.fe.xmit(f, 9014)).toBe(true);
    expect(r.fe.txFree).toBe(ringSize(TX_SLOT) - 3);
    const req = (i: number) => ({ flags: r.g.read16(r.fe.tx.slotGpa(i) + 6), size: r.g.read16(r.fe.tx.slotGpa(i) + 10) });
    expect([0, 1, 2].map(req)).toEqual([
      { flags: NETTXF_more_data, size: 9014 },
      { flags: NETTXF_more_data, size: 4096 },
      { flags: 0, size: 822 },
    ]);
    expect(r.fe.pushTx()).toBe(true);
    r.runNetback();
    expect(r.sent).toEqual([Array.from(f)]);
    expect(r.nb.grantCopies).toBe(3);
    expect(r.nb.copyHypercalls).toBe(1);
    expect(txStatuses(r, 0, 3)).toEqual([NETIF_RSP_OKAY, NETIF_RSP_OKAY, NETIF_RSP_OKAY]);
    expect(r.fe.reclaimTx()).toBe(3);
    expect(r.fe.txFree).toBe(ringSize(TX_SLOT));
  });

  it("a queue without the slots for a frame refuses it and writes nothing", () => {
    const r = rig();
    let sent = 0;
    while (r.fe.xmit(frameOf(9014, sent), 9014)) sent++;
    expect(sent).toBe(Math.floor(ringSize(TX_SLOT) / 3));
    expect(r.fe.txFree).toBe(ringSize(TX_SLOT) % 3);
    expect(r.fe.xmit(frameOf(60, 0), 60)).toBe(true); // one page still fits
  });

  for (const persistent of [false, true])
    it(`frames of 14..9728 B go both ways byte for byte, ring wrap included (${persistent ? "persistent grants" : "grant copy"})`, () => {
      fc.assert(
        fc.property(fc.array(fc.integer({ min: 14, max: 9728 }), { minLength: 1, maxLength: 40 }), fc.nat({ max: 255 }), (lens, seed) => {
          const r = rig(persistent);
          // three rounds: the rings' 256 slots wrap for large frames
          for (let round = 0; round < 3; round++) {
            r.sent.length = 0;
            r.received.length = 0;
            const frames = lens.map((l, i) => frameOf(l, seed + i + round));
            let k = 0;
            for (const f of frames) {
              if (!r.fe.xmit(f, f.length)) break;
              k++;
            }
            r.fe.pushTx();
            for (const f of frames) expect(r.nb.deliver(f, f.length)).toBe(true);
            r.nb.commit();
            r.runNetback();
            r.pollGuest();
            r.runNetback(); // the re-posted RX slots take the frames that waited for them
            r.pollGuest();
            r.fe.reclaimTx();
            expect(r.sent).toEqual(frames.slice(0, k).map((f) => Array.from(f)));
            expect(r.received).toEqual(frames.map((f) => Array.from(f)));
          }
          // a grant copy per page of every frame, each way, each round
          const slots = lens.reduce((a, l) => a + slotsFor(l), 0);
          expect(r.nb.grantCopies).toBe(persistent ? 0 : 6 * slots);
          expect(r.fe.rxErrors).toBe(0);
          expect(r.ledger.droppedTotal).toBe(0);
        }),
        { numRuns: 40, seed: 11 },
      );
    });

  it("RX: a frame waits for a slot per page, and netback asks to be woken when they are posted", () => {
    const r = rig();
    const f = frameOf(9014, 1);
    // every RX slot but two taken by 1-page frames the guest has not polled yet
    const nr = ringSize(RX_SLOT);
    for (let i = 0; i < nr - 2; i++) r.nb.deliver(frameOf(60, i), 60);
    r.nb.deliver(f, f.length);
    r.nb.commit();
    r.runNetback();
    expect(r.nb.rxPackets).toBe(nr - 2);
    expect(r.fe.rx.reqProd).toBe(nr);
    expect(r.g.read32(r.fe.rx.gpa + 4)).toBe(nr - 2 + 3); // req_event: the three slots the frame needs
    r.pollGuest(); // re-posts the pages
    r.runNetback();
    r.pollGuest();
    expect(r.received.at(-1)).toEqual(Array.from(f));
    expect(r.nb.rxPackets).toBe(nr - 1);
  });

  it("a packet whose pieces exceed its size is answered with an error per slot and dropped; the next one goes", () => {
    const r = rig();
    rawRequest(r, 0, 0, 0, NETTXF_more_data, 4000); // the whole packet: 4,000 B
    rawRequest(r, 1, 1, 0, 0, 4096); // a piece larger than that
    rawRequest(r, 2, 2, 0, 0, 100); // a good one-slot packet
    r.fe.tx.pushRequests(3);
    r.runNetback();
    expect(txStatuses(r, 0, 3)).toEqual([NETIF_RSP_ERROR, NETIF_RSP_ERROR, NETIF_RSP_OKAY]);
    expect(r.ledger.snapshot().dropped).toEqual({ "netback:tx-bad-request": 1 });
    expect(r.sent.map((s) => s.length)).toEqual([100]);
    expect(r.nb.vif.disabled).toBe(false);
  });

  it("19 slots make a packet; 20 are dropped with an error each (XEN_NETBK_LEGACY_SLOTS_MAX); 22 disable the VIF", () => {
    const chain = (r: ReturnType<typeof rig>, at: number, slots: number, piece: number) => {
      for (let s = 0; s < slots; s++) rawRequest(r, at + s, at + s, 0, s + 1 < slots ? NETTXF_more_data : 0, s === 0 ? slots * piece : piece);
      return at + slots;
    };
    const r = rig();
    let at = chain(r, 0, 19, 100);
    at = chain(r, at, 20, 100);
    r.fe.tx.pushRequests(at);
    r.runNetback();
    expect(r.sent.map((s) => s.length)).toEqual([1900]);
    expect(new Set(txStatuses(r, 0, 19))).toEqual(new Set([NETIF_RSP_OKAY]));
    expect(new Set(txStatuses(r, 19, 20))).toEqual(new Set([NETIF_RSP_ERROR]));
    expect(r.ledger.snapshot().dropped).toEqual({ "netback:tx-bad-request": 1 });

    const m = rig();
    m.fe.tx.pushRequests(chain(m, 0, 22, 100));
    m.runNetback();
    expect(m.nb.vif.disabled).toBe(true);
    expect(m.sent).toEqual([]);
  });

  it("fatal requests disable the VIF (a chain past req_prod, a piece crossing its page); frames for it are then dropped", () => {
    for (const bad of ["past-prod", "cross-page"] as const) {
      const r = rig();
      if (bad === "past-prod") rawRequest(r, 0, 0, 0, NETTXF_more_data, 200);
      else {
        rawRequest(r, 0, 0, 0, NETTXF_more_data, 300);
        rawRequest(r, 1, 1, 4000, 0, 200);
      }
      r.fe.tx.pushRequests(bad === "past-prod" ? 1 : 2);
      r.runNetback(); // and it goes idle: no spinning on the broken ring
      expect(r.nb.vif.disabled).toBe(true);
      expect(r.nb.vif.fatalErrors).toBe(1);
      expect(r.sent).toEqual([]);
      expect(r.nb.deliver(frameOf(60, 0), 60)).toBe(false);
      expect(r.ledger.snapshot().dropped).toEqual({ "netback:vif-disabled": 1 });
    }
  });

  it("a req_prod more than a ring ahead of netback is fatal (\"Impossible number of requests\")", () => {
    const r = rig();
    r.fe.tx.pushRequests(ringSize(TX_SLOT) + 1);
    r.runNetback();
    expect(r.nb.vif.disabled).toBe(true);
    expect(r.sent).toEqual([]);
    expect(r.nb.grantCopies).toBe(0);
  });

  it("a first piece shorter than an Ethernet header is dropped", () => {
    const r = rig();
    rawRequest(r, 0, 0, 0, NETTXF_more_data, 4096 + 10);
    rawRequest(r, 1, 1, 0, 0, 4096);
    r.fe.tx.pushRequests(2);
    r.runNetback();
    expect(txStatuses(r, 0, 2)).toEqual([NETIF_RSP_ERROR, NETIF_RSP_ERROR]);
    expect(r.ledger.snapshot().dropped).toEqual({ "netback:tx-bad-request": 1 });
  });
});

describe("Xen PV runs with jumbo frames", () => {
  for (const direction of ["tx", "rx", "g2g"] as const)
    it(`UDP ${direction} at 9018 B: every frame delivered or dropped with a reason, three grant copies per frame`, () => {
      const r = runOnce(small({ backend: "xen-pv", direction, vms: 2, frameBytes: 9018, rateMbps: 2000 }));
      const c = r.conservation;
      const dropped = Object.values(c.dropped).reduce((a, b) => a + b, 0);
      expect(c.inFlight).toBe(0);
      expect(c.offered).toBeGreaterThan(0);
      expect(c.offered).toBe(c.delivered + dropped);
      // each frame crosses netback once (tx, rx) or twice (g2g: out of one guest, into the other)
      const crossings = direction === "g2g" ? 2 : 1;
      expect(r.counters.grantCopies).toBe(3 * crossings * c.delivered);
    });
});
