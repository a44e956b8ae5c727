import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { decode } from "../../../../src/pcie/regs.js";
import {
  decodeContextEntry,
  decodeRootEntry,
  decodeSlPte,
  encodeContextEntry,
  encodeRootEntry,
  encodeSlPte,
  qiContextCacheDesc,
  qiIecDesc,
  qiIotlbDesc,
  qiWaitDesc,
  decodeFaultRecord,
} from "../../../../src/hypervisor-glue/iommu/formats.js";
import { compatibilityMsi, decodeIrte, encodeIrte, remappableMsi, type IrteSpec } from "../../../../src/hypervisor-glue/iommu/intremap.js";
import { vtdRegisterTable } from "../../../../src/hypervisor-glue/iommu/regs.js";
import { DMAR_FRCD_REG, DMAR_IVA_REG, faultReasonName } from "../../../../src/hypervisor-glue/iommu/defs.js";

const pageAddr = fc.integer({ min: 0, max: 2 ** 40 - 1 }).map((x) => x * 4096);
const bit = (v: bigint, n: number): number => Number((v >> BigInt(n)) & 1n);
const field = (v: bigint, hi: number, lo: number): number => Number((v >> BigInt(lo)) & ((1n << BigInt(hi - lo + 1)) - 1n));

describe("VT-d root and context entries", () => {
  it("root entry: P is bit 0, CTP bits 63:12, high qword zero", () => {
    const e = encodeRootEntry({ present: true, ctp: 0x1234_5678_9000 });
    expect(e.lo).toBe(0x1234_5678_9001n);
    expect(e.hi).toBe(0n);
    expect(encodeRootEntry({ present: false, ctp: 0x5000 }).lo).toBe(0x5000n);
    fc.assert(
      fc.property(pageAddr, fc.boolean(), (ctp, present) => {
        expect(decodeRootEntry(encodeRootEntry({ present, ctp }))).toEqual({ present, ctp });
      }),
    );
  });

  it("context entry: P b0, FPD b1, TT 3:2, SLPTPTR 63:12 / AW 66:64, DID 87:72", () => {
    const e = encodeContextEntry({ present: true, fpd: true, tt: 2, slptptr: 0xabc_d000, aw: 2, did: 0xbeef });
    expect(e.lo).toBe(0xabc_d000n | 0b1011n);
    expect(e.hi).toBe(0x00be_ef02n);
    fc.assert(
      fc.property(fc.boolean(), fc.boolean(), fc.integer({ min: 0, max: 3 }), pageAddr, fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0, max: 0xffff }), (present, fpd, tt, slptptr, aw, did) => {
        const c = { present, fpd, tt, slptptr, aw, did };
        const enc = encodeContextEntry(c);
        expect(bit(enc.lo, 0)).toBe(present ? 1 : 0);
        expect(bit(enc.lo, 1)).toBe(fpd ? 1 : 0);
        expect(field(enc.lo, 3, 2)).toBe(tt);
        expect(field(enc.lo, 11, 4)).toBe(0); // reserved
        expect(field(enc.hi, 2, 0)).toBe(aw);
        expect(field(enc.hi, 23, 8)).toBe(did);
        expect(field(enc.hi, 63, 24)).toBe(0);
        expect(decodeContextEntry(enc)).toEqual(c);
      }),
    );
  });

  it("second-level entry: R b0, W b1, PS b7, address 51:12", () => {
    expect(encodeSlPte({ read: true, write: false, large: true, addr: 0x4000_0000 })).toBe(0x4000_0081n);
    expect(encodeSlPte({ read: false, write: true, large: false, addr: 0x1_2345_6000 })).toBe(0x1_2345_6002n);
    fc.assert(
      fc.property(fc.boolean(), fc.boolean(), fc.boolean(), pageAddr, (read, write, large, addr) => {
        expect(decodeSlPte(encodeSlPte({ read, write, large, addr }))).toEqual({ read, write, large, addr });
      }),
    );
  });

  it("misaligned table pointers are refused with EINVAL", () => {
    expect(() => encodeRootEntry({ present: true, ctp: 0x1001 })).toThrow(/EINVAL/);
    expect(() => encodeSlPte({ read: true, write: true, large: false, addr: 0x10 })).toThrow(/EINVAL/);
  });
});

describe("queued invalidation descriptors", () => {
  it("context-cache: type 1, G 5:4, DID 31:16, SID 47:32, FM 49:48", () => {
    expect(qiContextCacheDesc({ kind: "global" })).toEqual({ lo: 0x11n, hi: 0n });
    expect(qiContextCacheDesc({ kind: "domain", did: 7 })).toEqual({ lo: 0x7_0021n, hi: 0n });
    const d = qiContextCacheDesc({ kind: "device", did: 9, sid: 0x0310, fm: 2 });
    expect(field(d.lo, 3, 0)).toBe(1);
    expect(field(d.lo, 5, 4)).toBe(3);
    expect(field(d.lo, 31, 16)).toBe(9);
    expect(field(d.lo, 47, 32)).toBe(0x310);
    expect(field(d.lo, 49, 48)).toBe(2);
  });
  it("IOTLB: type 2, G 5:4, DR b7, DW b6, DID 31:16; hi = ADDR | IH b6 | AM 5:0", () => {
    const d = qiIotlbDesc({ kind: "page", did: 0x42, addr: 0x7654_3000, am: 9, ih: true }, true);
    expect(field(d.lo, 3, 0)).toBe(2);
    expect(field(d.lo, 5, 4)).toBe(3);
    expect(bit(d.lo, 6)).toBe(1);
    expect(bit(d.lo, 7)).toBe(1);
    expect(field(d.lo, 31, 16)).toBe(0x42);
    expect(d.hi).toBe(0x7654_3000n | 0x40n | 9n);
    expect(qiIotlbDesc({ kind: "global" }).lo).toBe(0x12n);
  });
  it("interrupt entry cache: type 4, G b4 (1 = index), IM 31:27, IIDX 47:32", () => {
    expect(qiIecDesc({ kind: "global" })).toEqual({ lo: 4n, hi: 0n });
    const d = qiIecDesc({ kind: "index", index: 0x1234, im: 3 });
    expect(d.lo).toBe(0x1234_0000_0000n | (3n << 27n) | 0x14n);
  });
  it("wait: type 5, IF b4, SW b5, FN b6, status data 63:32, status address in hi", () => {
    const d = qiWaitDesc({ statusWrite: { addr: 0x12_3454, data: 0xdead_beef }, interrupt: true, fence: true });
    expect(d.lo).toBe((0xdead_beefn << 32n) | 0x75n);
    expect(d.hi).toBe(0x12_3454n);
    expect(qiWaitDesc({})).toEqual({ lo: 5n, hi: 0n });
  });
});

describe("fault recording register decode", () => {
  it("F b127, T b126, FR 103:96, SID 79:64, FI 63:12", () => {
    const r = decodeFaultRecord(3, [0x0002_3000, 0x1, 0x0310, 0xc000_0006], faultReasonName);
    expect(r).toEqual({ index: 3, reason: 6, reasonName: "READ", sid: 0x310, write: false, address: 0x1_0002_3000 });
    expect(decodeFaultRecord(0, [0, 0, 0, 0x0000_0005], faultReasonName)).toBeUndefined();
    const ir = decodeFaultRecord(1, [0, 0x0017_0000, 0x0500, 0x8000_0022], faultReasonName);
    expect(ir?.interruptIndex).toBe(0x17);
    expect(ir?.address).toBe(0);
  });
});

describe("IRTE and MSI address formats", () => {
  it("remapped IRTE: P b0, FPD b1, DM b2, RH b3, TM b4, DLM 7:5, V 23:16, DST 63:32; SID 79:64, SQ 81:80, SVT 83:82", () => {
    const e = encodeIrte(
      { mode: "remapped", vector: 0x31, dest: 0x1234_5678, logical: true, level: true, deliveryMode: 1, redirectionHint: true, fpd: true, source: { svt: "requester", sid: 0x0310, sq: 2 } },
      true,
    );
    expect(field(e.lo, 7, 0)).toBe(0b0011_1111);
    expect(field(e.lo, 23, 16)).toBe(0x31);
    expect(bit(e.lo, 15)).toBe(0);
    expect(field(e.lo, 63, 32)).toBe(0x1234_5678);
    expect(field(e.hi, 15, 0)).toBe(0x310);
    expect(field(e.hi, 17, 16)).toBe(2);
    expect(field(e.hi, 19, 18)).toBe(1);
    // xAPIC mode: the 8-bit APIC ID sits in DST bits 15:8 (IRTE bits 47:40).
    const x = encodeIrte({ mode: "remapped", vector: 0x40, dest: 0x0a }, false);
    expect(field(x.lo, 47, 40)).toBe(0x0a);
    expect(field(x.lo, 39, 32)).toBe(0);
    const b = encodeIrte({ mode: "remapped", vector: 1, dest: 1, source: { svt: "bus", startBus: 3, endBus: 9 } }, true);
    expect(field(b.hi, 15, 8)).toBe(3);
    expect(field(b.hi, 7, 0)).toBe(9);
    expect(field(b.hi, 19, 18)).toBe(2);
  });

  it("posted IRTE: IM b15, URG b14, VV 23:16, PDA[31:6] in 63:38, PDA[63:32] in 127:96", () => {
    const pda = 0x12_3456_7840;
    const e = encodeIrte({ mode: "posted", vector: 0x99, pda, urgent: true }, true);
    expect(bit(e.lo, 15)).toBe(1);
    expect(bit(e.lo, 14)).toBe(1);
    expect(field(e.lo, 23, 16)).toBe(0x99);
    expect(field(e.lo, 63, 38)).toBe((pda % 2 ** 32) / 64);
    expect(field(e.hi, 63, 32)).toBe(Math.floor(pda / 2 ** 32));
    expect(() => encodeIrte({ mode: "posted", vector: 1, pda: 0x1020 }, true)).toThrow(/EINVAL/);
  });

  it("IRTE encode/decode round-trips", () => {
    const src = fc.oneof(
      fc.constant({ svt: "none" as const }),
      fc.record({ svt: fc.constant("requester" as const), sid: fc.integer({ min: 0, max: 0xffff }), sq: fc.integer({ min: 0, max: 3 }) }),
      fc.integer({ min: 0, max: 255 }).chain((s) => fc.record({ svt: fc.constant("bus" as const), startBus: fc.constant(s), endBus: fc.integer({ min: s, max: 255 }) })),
    );
    const remapped = fc.record({
      mode: fc.constant("remapped" as const),
      vector: fc.integer({ min: 0, max: 255 }),
      dest: fc.integer({ min: 0, max: 0xffff_ffff }),
      logical: fc.boolean(),
      level: fc.boolean(),
      deliveryMode: fc.integer({ min: 0, max: 7 }),
      redirectionHint: fc.boolean(),
      fpd: fc.boolean(),
      source: src,
    });
    const posted = fc.record({
      mode: fc.constant("posted" as const),
      vector: fc.integer({ min: 0, max: 255 }),
      pda: fc.integer({ min: 0, max: 2 ** 46 - 1 }).map((x) => x * 64),
      urgent: fc.boolean(),
      fpd: fc.boolean(),
      source: src,
    });
    fc.assert(
      fc.property(fc.oneof(remapped, posted), (irte: IrteSpec) => {
        expect(decodeIrte(encodeIrte(irte, true), true)).toEqual({ ...irte, present: true });
      }),
    );
  });

  it("remappable MSI: 0xFEE 31:20, handle[14:0] 19:5, IF b4, SHV b3, handle[15] b2", () => {
    expect(remappableMsi(0x8005).address).toBe(0xfee0_00b4);
    expect(remappableMsi(3, 7)).toEqual({ address: 0xfee0_0078, data: 7 });
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff }), (h) => {
        const a = remappableMsi(h).address;
        expect(a >>> 20).toBe(0xfee);
        expect(((a >>> 5) & 0x7fff) | (((a >>> 2) & 1) << 15)).toBe(h);
        expect(a & 0x10).toBe(0x10);
      }),
    );
    expect(compatibilityMsi(5, 0x41, { level: true })).toEqual({ address: 0xfee0_5000, data: 0x8041 });
  });
});

describe("register table: CAP / ECAP / VER as the hardware advertises them", () => {
  it("CAP: ND, SAGAW, MGAW, FRO, SLLPS, PSI, NFR, MAMV, PI; ECAP: QI, IR, EIM, PT, IRO", () => {
    const def = vtdRegisterTable({ haw: 46, mgaw: 48, nfr: 8, sllps2M: true, sllps1G: true, passThrough: true, x2apic: true, mamv: 18 });
    const R = def.regs;
    const cap = decode(R.CAP, R.CAP.reset);
    expect(cap.ND).toBe(6);
    expect(cap.SAGAW).toBe(0b00110); // 39-bit and 48-bit
    expect(cap.MGAW).toBe(47);
    const capHi = decode(R.CAP_HI, R.CAP_HI.reset);
    expect((capHi.FRO_HI * 256 + cap.FRO_LO) * 16).toBe(DMAR_FRCD_REG);
    expect(capHi.SLLPS).toBe(0b11);
    expect(capHi.PSI).toBe(1);
    expect(capHi.NFR).toBe(7);
    expect(capHi.MAMV).toBe(18);
    expect(capHi.PI).toBe(1);
    const ecap = decode(R.ECAP, R.ECAP.reset);
    expect([ecap.QI, ecap.IR, ecap.EIM, ecap.PT, ecap.DT, ecap.SC]).toEqual([1, 1, 1, 1, 0, 0]);
    expect(ecap.IRO * 16).toBe(DMAR_IVA_REG);
    expect(decode(R.VER, R.VER.reset)).toEqual({ MIN: 0, MAX: 1 });
    const small = vtdRegisterTable({ haw: 39, mgaw: 39, nfr: 16, sllps2M: true, sllps1G: false, passThrough: false, x2apic: false, mamv: 18 });
    expect(decode(small.regs.CAP, small.regs.CAP.reset).SAGAW).toBe(0b00010);
    expect(decode(small.regs.CAP_HI, small.regs.CAP_HI.reset).SLLPS).toBe(0b01);
    expect(decode(small.regs.ECAP, small.regs.ECAP.reset).PT).toBe(0);
    expect(small.regs.FRCD15_3).toBeDefined();
  });
});
