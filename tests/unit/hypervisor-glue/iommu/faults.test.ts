import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { DMA_FAULT } from "../../../../src/pcie/dma.js";
import { decode } from "../../../../src/pcie/regs.js";
import { encodeContextEntry, encodeRootEntry, encodeSlPte, writeEntry128 } from "../../../../src/hypervisor-glue/iommu/formats.js";
import {
  DMA_FECTL_IM,
  DMA_FRCD_F_HI,
  DMA_FSTS_PFO,
  DMA_GCMD_SRTP,
  DMA_GCMD_TE,
  DMAR_FECTL_REG,
  DMAR_FEADDR_REG,
  DMAR_FEDATA_REG,
  DMAR_FRCD_REG,
  DMAR_FSTS_REG,
  DMAR_GCMD_REG,
  DMAR_RTADDR_REG,
  PAGE_4K,
  VtdFault,
} from "../../../../src/hypervisor-glue/iommu/defs.js";
import { RAM, RecordingEvents, RID_A, RID_B, RID_C, rig, type Rig } from "./helpers.js";

function rootTable(r: Rig): number {
  return Number(r.hw.mmioRead(DMAR_RTADDR_REG, 8) & ~0xfffn);
}
/** A rig with domain 1 (4-level) mapping IOVA 0x1000 → RAM rw, 0x2000 → RAM+0x1000 r, 0x3000 → RAM+0x2000 w; RID_A attached. */
function attached(opts: Parameters<typeof rig>[0] = {}): Rig {
  const r = rig(opts);
  r.host.createDomain(1, 4);
  r.host.map(1, 0x1000, RAM, PAGE_4K, "rw");
  r.host.map(1, 0x2000, RAM + 0x1000, PAGE_4K, "r");
  r.host.map(1, 0x3000, RAM + 0x2000, PAGE_4K, "w");
  r.host.attach(1, RID_A);
  return r;
}
/** Write a context entry for `rid` by hand (the context table for its bus must exist). */
function rawContext(r: Rig, rid: number, lo: bigint, hi: bigint): void {
  const root = rootTable(r) + (rid >>> 8) * 16;
  let ctp = Number(r.mem.read64(root) & ~0xfffn);
  if ((r.mem.read64(root) & 1n) === 0n) {
    ctp = r.tables.alloc(PAGE_4K, PAGE_4K);
    r.mem.fill(ctp, PAGE_4K, 0);
    writeEntry128(r.mem, root, encodeRootEntry({ present: true, ctp }));
  }
  writeEntry128(r.mem, ctp + (rid & 0xff) * 16, { lo, hi });
}
function onlyFault(r: Rig) {
  const f = r.host.faults();
  expect(f).toHaveLength(1);
  return f[0]!;
}

describe("every DMA-remapping fault reason, recorded with the requester's source ID", () => {
  it("0x1 root entry not present", () => {
    const r = attached();
    expect(r.hw.translate(0x0900, 0x1000, 4, false)).toBe(DMA_FAULT);
    expect(onlyFault(r)).toMatchObject({ reason: VtdFault.ROOT_ENTRY_P, sid: 0x0900, write: false, address: 0x1000 });
  });
  it("0x2 context entry not present", () => {
    const r = attached();
    expect(r.hw.translate(RID_B, 0x1234, 4, true)).toBe(DMA_FAULT);
    expect(onlyFault(r)).toMatchObject({ reason: VtdFault.CONTEXT_ENTRY_P, sid: RID_B, write: true, address: 0x1000 });
  });
  it("0x3 context entry invalid: AW not in SAGAW", () => {
    for (const aw of [0, 3]) {
      const r = attached();
      const dom = r.host.domain(1);
      const e = encodeContextEntry({ present: true, fpd: false, tt: 0, slptptr: dom.root, aw, did: 1 });
      rawContext(r, RID_C, e.lo, e.hi);
      expect(r.hw.translate(RID_C, 0x1000, 4, false)).toBe(DMA_FAULT);
      expect(onlyFault(r)).toMatchObject({ reason: VtdFault.CONTEXT_ENTRY_INV, sid: RID_C });
    }
    const r = rig({ mgaw: 39 });
    r.host.createDomain(1, 3);
    const e = encodeContextEntry({ present: true, fpd: false, tt: 0, slptptr: r.host.domain(1).root, aw: 2, did: 1 });
    rawContext(r, RID_C, e.lo, e.hi);
    expect(r.hw.translate(RID_C, 0x1000, 4, false)).toBe(DMA_FAULT);
    expect(onlyFault(r).reason).toBe(VtdFault.CONTEXT_ENTRY_INV);
  });
  it("0x4 address beyond the domain's AGAW (39-bit) and beyond MGAW", () => {
    const r = rig();
    r.host.createDomain(3, 3);
    r.host.attach(3, RID_C);
    expect(r.hw.translate(RID_C, 2 ** 39, 4, false)).toBe(DMA_FAULT);
    expect(r.hw.translate(RID_C, 2 ** 39 - 2, 4, false)).toBe(DMA_FAULT); // the access straddles the limit
    expect(r.host.faults().map((f) => [f.reason, f.sid])).toEqual([
      [VtdFault.ADDR_BEYOND_MGAW, RID_C],
      [VtdFault.ADDR_BEYOND_MGAW, RID_C],
    ]);
    const a = attached();
    expect(a.hw.translate(RID_A, 2 ** 48, 4, false)).toBe(DMA_FAULT);
    expect(onlyFault(a).reason).toBe(VtdFault.ADDR_BEYOND_MGAW);
  });
  it("0x5 write denied and 0x6 read denied", () => {
    const r = attached();
    expect(r.hw.translate(RID_A, 0x2000, 4, true)).toBe(DMA_FAULT);
    expect(r.hw.translate(RID_A, 0x3000, 4, false)).toBe(DMA_FAULT);
    expect(r.hw.translate(RID_A, 0x2000, 4, false)).toBe(RAM + 0x1000);
    expect(r.hw.translate(RID_A, 0x3000, 4, true)).toBe(RAM + 0x2000);
    const f = r.host.faults();
    expect(f.map((x) => [x.reason, x.sid, x.write, x.address])).toEqual([
      [VtdFault.WRITE, RID_A, true, 0x2000],
      [VtdFault.READ, RID_A, false, 0x3000],
    ]);
  });
  it("0x7 paging entry not present, and a table the walk cannot fetch", () => {
    const r = attached();
    expect(r.hw.translate(RID_A, 0x9000, 4, false)).toBe(DMA_FAULT);
    expect(onlyFault(r)).toMatchObject({ reason: VtdFault.PAGING_ENTRY_INV, sid: RID_A, address: 0x9000 });
    const s = attached({ memSize: 2 ** 34 });
    const l4 = s.host.domain(1).root;
    s.mem.write64(l4 + 8, encodeSlPte({ read: true, write: true, large: false, addr: 2 ** 35 })); // L3 table beyond memory
    expect(s.hw.translate(RID_A, 2 ** 39, 4, false)).toBe(DMA_FAULT);
    expect(onlyFault(s).reason).toBe(VtdFault.PAGING_ENTRY_INV);
  });
  it("0x8 root table and 0x9 context table beyond memory", () => {
    const r = attached({ memSize: 2 ** 34 });
    const root = rootTable(r);
    writeEntry128(r.mem, root + 7 * 16, encodeRootEntry({ present: true, ctp: 2 ** 35 }));
    expect(r.hw.translate(0x0700, 0, 4, false)).toBe(DMA_FAULT);
    expect(onlyFault(r)).toMatchObject({ reason: VtdFault.CONTEXT_TABLE_INV, sid: 0x0700 });
    r.host.clearFaults();
    r.hw.mmioWrite(DMAR_RTADDR_REG, 8, BigInt(2 ** 35));
    r.hw.mmioWrite(DMAR_GCMD_REG, 4, DMA_GCMD_SRTP | DMA_GCMD_TE);
    expect(r.hw.translate(0x0600, 0x1000, 4, true)).toBe(DMA_FAULT);
    expect(onlyFault(r)).toMatchObject({ reason: VtdFault.ROOT_TABLE_INV, sid: 0x0600 });
  });
  it("0xA reserved bits in a present root entry", () => {
    for (const [lo, hi] of [
      [0x5002n, 0n],
      [0x5001n | 0x10n, 0n],
      [0x5001n, 1n],
    ] as const) {
      const r = attached();
      writeEntry128(r.mem, rootTable(r) + 9 * 16, { lo: lo | 1n, hi });
      expect(r.hw.translate(0x0901, 0, 4, false)).toBe(DMA_FAULT);
      expect(onlyFault(r)).toMatchObject({ reason: VtdFault.ROOT_ENTRY_RSVD, sid: 0x0901 });
    }
  });
  it("0xB reserved bits in a present context entry", () => {
    const r = attached();
    const e = encodeContextEntry({ present: true, fpd: false, tt: 0, slptptr: r.host.domain(1).root, aw: 2, did: 1 });
    for (const [lo, hi] of [
      [e.lo | 0x10n, e.hi],
      [e.lo, e.hi | 0x80n],
      [e.lo, e.hi | (1n << 40n)],
    ] as const) {
      r.host.clearFaults();
      r.hw.contextCache.invalidateAll();
      rawContext(r, RID_C, lo, hi);
      expect(r.hw.translate(RID_C, 0x1000, 4, false)).toBe(DMA_FAULT);
      expect(onlyFault(r)).toMatchObject({ reason: VtdFault.CONTEXT_ENTRY_RSVD, sid: RID_C });
    }
  });
  it("0xC reserved bits in a present paging entry (SNP, PS at level 4, a 2 MiB frame's low bits)", () => {
    const r = attached();
    const l4 = r.host.domain(1).root;
    const l3 = Number(r.mem.read64(l4) & ~0xfffn);
    const l2 = Number(r.mem.read64(l3) & ~0xfffn);
    const l1 = Number(r.mem.read64(l2) & ~0xfffn);
    r.mem.write64(l1 + 8, r.mem.read64(l1 + 8) | 0x800n);
    expect(r.hw.translate(RID_A, 0x1000, 4, false)).toBe(DMA_FAULT);
    r.mem.write64(l2 + 8, encodeSlPte({ read: true, write: true, large: true, addr: RAM }) | 0x1000n);
    expect(r.hw.translate(RID_A, 0x20_0000, 4, false)).toBe(DMA_FAULT);
    r.mem.write64(l4 + 8, encodeSlPte({ read: true, write: true, large: true, addr: RAM }));
    expect(r.hw.translate(RID_A, 2 ** 39, 4, false)).toBe(DMA_FAULT);
    expect(r.host.faults().map((f) => [f.reason, f.sid])).toEqual([
      [VtdFault.PAGING_ENTRY_RSVD, RID_A],
      [VtdFault.PAGING_ENTRY_RSVD, RID_A],
      [VtdFault.PAGING_ENTRY_RSVD, RID_A],
    ]);
  });
  it("0xD translation type reserved or unsupported (TT 1 without device-TLB, TT 3, TT 2 without ECAP.PT)", () => {
    for (const tt of [1, 3]) {
      const r = attached();
      const e = encodeContextEntry({ present: true, fpd: false, tt, slptptr: r.host.domain(1).root, aw: 2, did: 1 });
      rawContext(r, RID_C, e.lo, e.hi);
      expect(r.hw.translate(RID_C, 0x1000, 4, false)).toBe(DMA_FAULT);
      expect(onlyFault(r)).toMatchObject({ reason: VtdFault.CONTEXT_ENTRY_TT, sid: RID_C });
    }
    const r = attached({ passThrough: false });
    const e = encodeContextEntry({ present: true, fpd: false, tt: 2, slptptr: 0, aw: 2, did: 0 });
    rawContext(r, RID_C, e.lo, e.hi);
    expect(r.hw.translate(RID_C, 0x1000, 4, false)).toBe(DMA_FAULT);
    expect(onlyFault(r).reason).toBe(VtdFault.CONTEXT_ENTRY_TT);
  });
  it("0xE a DMA request into the interrupt address range", () => {
    const r = attached();
    expect(r.hw.translate(RID_A, 0xfee0_1000, 4, true)).toBe(DMA_FAULT);
    expect(onlyFault(r)).toMatchObject({ reason: VtdFault.INTERRUPT_ADDR, sid: RID_A, address: 0xfee0_1000 });
  });
});

describe("FPD (fault processing disable)", () => {
  it("suppresses qualified faults: non-present blocked entry (0x2) and permission faults", () => {
    const r = attached();
    r.host.block(RID_C, { silent: true });
    expect(r.hw.translate(RID_C, 0x1000, 4, false)).toBe(DMA_FAULT);
    const e = encodeContextEntry({ present: true, fpd: true, tt: 0, slptptr: r.host.domain(1).root, aw: 2, did: 1 });
    rawContext(r, RID_B, e.lo, e.hi);
    expect(r.hw.translate(RID_B, 0x2000, 4, true)).toBe(DMA_FAULT);
    expect(r.hw.translate(RID_B, 0x2000, 4, false)).toBe(RAM + 0x1000);
    expect(r.host.faults()).toHaveLength(0);
    expect(r.hw.stats()).toMatchObject({ faults: 2, faultsSuppressed: 2, faultsRecorded: 0 });
    r.host.block(RID_C, { silent: false });
    expect(r.hw.translate(RID_C, 0x1000, 4, false)).toBe(DMA_FAULT);
    expect(onlyFault(r).reason).toBe(VtdFault.CONTEXT_ENTRY_P);
  });
  it("does not suppress non-qualified faults (reserved bits in the context entry itself)", () => {
    const r = attached();
    const e = encodeContextEntry({ present: true, fpd: true, tt: 0, slptptr: r.host.domain(1).root, aw: 2, did: 1 });
    rawContext(r, RID_C, e.lo | 0x100n, e.hi);
    expect(r.hw.translate(RID_C, 0x1000, 4, false)).toBe(DMA_FAULT);
    expect(onlyFault(r).reason).toBe(VtdFault.CONTEXT_ENTRY_RSVD);
  });
});

describe("fault recording registers: F (RW1C), FRI, PPF, PFO", () => {
  const frcd3 = (i: number) => DMAR_FRCD_REG + 16 * i + 12;
  const fsts = (r: Rig) => decode(r.hw.R.FSTS, r.hw.mmioRead(DMAR_FSTS_REG, 4));

  it("fills records round-robin, sets PPF with FRI at the first, overflows into PFO when all are in use", () => {
    const r = attached();
    for (let i = 0; i < 8; i++) r.hw.translate(0x0a00 + i, 0x1000, 4, false);
    expect(fsts(r)).toMatchObject({ PPF: 1, PFO: 0, FRI: 0 });
    expect(r.host.faults().map((f) => f.sid)).toEqual([0xa00, 0xa01, 0xa02, 0xa03, 0xa04, 0xa05, 0xa06, 0xa07]);
    r.hw.translate(0x0b00, 0x1000, 4, false);
    expect(fsts(r).PFO).toBe(1);
    expect(r.hw.stats().faultsOverflowed).toBe(1);
    // While PFO is set nothing is recorded, even into a freed record.
    r.hw.mmioWrite(frcd3(0), 4, DMA_FRCD_F_HI);
    r.hw.translate(0x0b01, 0x1000, 4, false);
    expect(r.host.faults()).toHaveLength(7);
    // Clear PFO: the next fault goes to record 0 (the one after the last written, wrapped).
    r.hw.mmioWrite(DMAR_FSTS_REG, 4, DMA_FSTS_PFO);
    r.hw.translate(0x0b02, 0x1000, 4, false);
    expect(r.host.faults()[0]).toMatchObject({ index: 0, sid: 0x0b02 });
    expect(fsts(r)).toMatchObject({ PPF: 1, PFO: 0 });
  });

  it("F clears only by writing 1; other bits of a record are read-only; PPF drops with the last F", () => {
    const r = attached();
    r.hw.translate(RID_B, 0x5000, 4, true);
    const before = r.hw.mmioRead(frcd3(0), 4);
    r.hw.mmioWrite(frcd3(0), 4, 0x7fff_ffff); // no F bit: nothing may change
    r.hw.mmioWrite(DMAR_FRCD_REG + 8, 4, 0xffff_ffff); // SID dword is read-only
    expect(r.hw.mmioRead(frcd3(0), 4)).toBe(before);
    expect(r.host.faults()[0]?.sid).toBe(RID_B);
    r.hw.mmioWrite(frcd3(0), 4, DMA_FRCD_F_HI);
    expect(r.host.faults()).toHaveLength(0);
    expect(fsts(r).PPF).toBe(0);
    r.hw.translate(RID_B, 0x5000, 4, true);
    expect(fsts(r)).toMatchObject({ PPF: 1, FRI: 1 });
  });

  it("matches a reference model over random fault / service sequences", () => {
    const nfr = 4;
    type Op = { k: "fault"; sid: number } | { k: "clear"; i: number } | { k: "pfo" };
    const op = fc.oneof(
      fc.record({ k: fc.constant("fault" as const), sid: fc.integer({ min: 0x0a00, max: 0x0aff }) }),
      fc.record({ k: fc.constant("clear" as const), i: fc.integer({ min: 0, max: nfr - 1 }) }),
      fc.constant({ k: "pfo" as const }),
    );
    fc.assert(
      fc.property(fc.array(op, { minLength: 5, maxLength: 40, size: "max" }), (ops: Op[]) => {
        const r = attached({ nfr });
        const recs: Array<number | undefined> = new Array<number | undefined>(nfr).fill(undefined);
        let next = 0;
        let pfo = false;
        let fri = 0;
        for (const o of ops) {
          if (o.k === "fault") {
            r.hw.translate(o.sid, 0x1000, 4, false);
            if (pfo) continue;
            if (recs[next] !== undefined) {
              pfo = true;
              continue;
            }
            if (recs.every((x) => x === undefined)) fri = next;
            recs[next] = o.sid;
            next = (next + 1) % nfr;
          } else if (o.k === "clear") {
            r.hw.mmioWrite(frcd3(o.i), 4, DMA_FRCD_F_HI);
            recs[o.i] = undefined;
          } else {
            r.hw.mmioWrite(DMAR_FSTS_REG, 4, DMA_FSTS_PFO);
            pfo = false;
          }
          const got = r.host.faults();
          expect(got.map((f) => [f.index, f.sid])).toEqual(recs.flatMap((s, i) => (s === undefined ? [] : [[i, s]])));
          const st = fsts(r);
          expect(st.PFO).toBe(pfo ? 1 : 0);
          expect(st.PPF).toBe(recs.some((x) => x !== undefined) ? 1 : 0);
          if (st.PPF === 1) expect(st.FRI).toBe(fri);
        }
      }),
      { numRuns: 150 },
    );
  });

  it("raises a fault event (FEADDR/FEDATA) when unmasked, only for the first pending condition, and on unmask", () => {
    const ev = new RecordingEvents();
    const r = attached({ eventSink: ev });
    r.hw.mmioWrite(DMAR_FEADDR_REG, 4, 0xfee0_0000);
    r.hw.mmioWrite(DMAR_FEDATA_REG, 4, 0x51);
    r.hw.translate(RID_B, 0x1000, 4, false); // masked (IM resets to 1): pending
    expect(ev.got).toHaveLength(0);
    expect(decode(r.hw.R.FECTL, r.hw.mmioRead(DMAR_FECTL_REG, 4))).toEqual({ IM: 1, IP: 1 });
    r.hw.mmioWrite(DMAR_FECTL_REG, 4, 0);
    expect(ev.got).toEqual([{ kind: "fault", addr: 0xfee0_0000, data: 0x51 }]);
    expect(decode(r.hw.R.FECTL, r.hw.mmioRead(DMAR_FECTL_REG, 4)).IP).toBe(0);
    r.hw.translate(RID_B, 0x1000, 4, false); // PPF already set: no new event
    expect(ev.got).toHaveLength(1);
    r.host.clearFaults();
    r.hw.translate(RID_B, 0x1000, 4, false);
    expect(ev.got).toHaveLength(2);
    expect(r.hw.stats().faultEvents).toBe(2);
    r.hw.mmioWrite(DMAR_FECTL_REG, 4, DMA_FECTL_IM);
  });
});
