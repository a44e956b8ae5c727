import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { PhysMem } from "../../../../src/memory/physmem.js";
import { DMA_FAULT } from "../../../../src/pcie/dma.js";
import { decode } from "../../../../src/pcie/regs.js";
import { VtdIommu } from "../../../../src/hypervisor-glue/iommu/vtd.js";
import {
  DMA_CCMD_DEVICE_INVL,
  DMA_CCMD_FM,
  DMA_CCMD_ICC,
  DMA_CCMD_SID,
  DMA_GCMD_CFI,
  DMA_GCMD_IRE,
  DMA_GCMD_QIE,
  DMA_GCMD_SIRTP,
  DMA_GCMD_SRTP,
  DMA_GCMD_TE,
  DMA_TLB_DID,
  DMA_TLB_IVT,
  DMA_TLB_PSI_FLUSH,
  DMA_TLB_DSI_FLUSH,
  DMAR_CCMD_REG,
  DMAR_GCMD_REG,
  DMAR_GSTS_REG,
  DMAR_IOTLB_REG,
  DMAR_IQH_REG,
  DMAR_IRTA_REG,
  DMAR_IVA_REG,
  DMAR_RTADDR_REG,
  PAGE_4K,
} from "../../../../src/hypervisor-glue/iommu/defs.js";
import { RAM, RID_A, RID_B, rig } from "./helpers.js";

/** Registers whose writes have side effects (hooks); the generic conformance rule does not apply. */
const HOOKED = new Set(["GCMD", "CCMD_HI", "IOTLB_HI", "IQT", "FSTS", "FECTL", "ICS", "IECTL"]);

describe("register file conformance (derived from the table)", () => {
  it("every plain register reads back (reset & ~rw) | (written & rw), W1C bits clear on 1", () => {
    const hw = new VtdIommu(new PhysMem());
    const regs = Object.entries(hw.R).filter(([k]) => !HOOKED.has(k) && !/^FRCD\d+_3$/.test(k));
    expect(regs.length).toBeGreaterThan(30);
    fc.assert(
      fc.property(fc.constantFrom(...regs), fc.nat({ max: 0xffff_ffff }), ([, r], v) => {
        const before = hw.mmioRead(r.offset, 4);
        hw.mmioWrite(r.offset, 4, v);
        const expected = (((before & ~r.rw) | (v & r.rw)) & ~(v & r.w1c)) >>> 0;
        expect(hw.mmioRead(r.offset, 4)).toBe(expected);
        hw.regs.reset();
        expect(hw.mmioRead(r.offset, 4)).toBe(r.reset);
      }),
      { numRuns: 300 },
    );
  });

  it("unknown and reserved offsets read 0 and ignore writes; misaligned or odd-sized accesses are EINVAL", () => {
    const hw = new VtdIommu(new PhysMem());
    for (const off of [0x04, 0x30, 0x60, 0x200, 0xffc]) {
      hw.mmioWrite(off, 4, 0xffff_ffff);
      expect(hw.mmioRead(off, 4)).toBe(0);
    }
    expect(hw.mmioRead(0x2000, 4)).toBe(0);
    expect(() => hw.mmioRead(DMAR_IVA_REG + 4, 8)).toThrow(/EINVAL/);
    expect(() => hw.mmioRead(DMAR_IVA_REG, 2 as 4)).toThrow(/EINVAL/);
    expect(() => hw.mmioWrite(DMAR_IVA_REG, 8, 5 as unknown as bigint)).toThrow(/EINVAL/);
    hw.mmioWrite(DMAR_IVA_REG, 8, 0x1234_5678_9000n | 0x47n);
    expect(hw.mmioRead(DMAR_IVA_REG, 8)).toBe(0x1234_5678_9000n | 0x47n);
  });

  it("CAP, ECAP, VER and GSTS are read-only", () => {
    const hw = new VtdIommu(new PhysMem());
    const cap = hw.mmioRead(0x08, 8);
    hw.mmioWrite(0x08, 8, 0n);
    hw.mmioWrite(DMAR_GSTS_REG, 4, 0xffff_ffff);
    expect(hw.mmioRead(0x08, 8)).toBe(cap);
    expect(hw.mmioRead(DMAR_GSTS_REG, 4)).toBe(0);
  });
});

describe("GCMD → GSTS", () => {
  it("persistent commands (TE, QIE, IRE, CFI) are reflected as written; GCMD reads 0", () => {
    const hw = new VtdIommu(new PhysMem());
    const gsts = () => decode(hw.R.GSTS, hw.mmioRead(DMAR_GSTS_REG, 4));
    hw.mmioWrite(DMAR_GCMD_REG, 4, DMA_GCMD_TE);
    expect(gsts()).toMatchObject({ TES: 1, QIES: 0, IRES: 0, CFIS: 0, RTPS: 0 });
    expect(hw.mmioRead(DMAR_GCMD_REG, 4)).toBe(0);
    hw.mmioWrite(DMAR_GCMD_REG, 4, (DMA_GCMD_TE | DMA_GCMD_QIE | DMA_GCMD_IRE | DMA_GCMD_CFI) >>> 0);
    expect(gsts()).toMatchObject({ TES: 1, QIES: 1, IRES: 1, CFIS: 1 });
    expect(hw.ir.enabled && hw.ir.compatAllowed).toBe(true);
    // A command word without TE turns translation off: GCMD carries every persistent command.
    hw.mmioWrite(DMAR_GCMD_REG, 4, DMA_GCMD_QIE);
    expect(gsts()).toMatchObject({ TES: 0, QIES: 1, IRES: 0, CFIS: 0 });
    expect(hw.translationEnabled).toBe(false);
    expect(hw.translate(RID_A, 0x1234, 4, true)).toBe(0x1234); // untranslated
  });

  it("SRTP latches RTADDR (RTPS); later RTADDR writes change nothing until the next SRTP", () => {
    const { hw, host, mem, tables } = rig();
    host.createDomain(1, 4);
    host.map(1, 0x1000, RAM, PAGE_4K, "rw");
    host.attach(1, RID_A);
    expect(decode(hw.R.GSTS, hw.mmioRead(DMAR_GSTS_REG, 4)).RTPS).toBe(1);
    const emptyRoot = tables.alloc(PAGE_4K, PAGE_4K);
    mem.fill(emptyRoot, PAGE_4K, 0);
    hw.mmioWrite(DMAR_RTADDR_REG, 8, BigInt(emptyRoot));
    hw.contextCache.invalidateAll();
    expect(hw.translate(RID_A, 0x1000, 4, false)).toBe(RAM);
    hw.mmioWrite(DMAR_GCMD_REG, 4, (DMA_GCMD_TE | DMA_GCMD_QIE | DMA_GCMD_SRTP) >>> 0);
    hw.contextCache.invalidateAll();
    expect(hw.translate(RID_A, 0x1000, 4, false)).toBe(DMA_FAULT);
  });

  it("QIE resets IQH; SIRTP latches IRTA (IRTPS) with its size and x2APIC mode", () => {
    const hw = new VtdIommu(new PhysMem());
    hw.mmioWrite(DMAR_IRTA_REG, 8, 0x20_0000n | (1n << 11n) | 7n);
    hw.mmioWrite(DMAR_GCMD_REG, 4, DMA_GCMD_SIRTP);
    expect(decode(hw.R.GSTS, hw.mmioRead(DMAR_GSTS_REG, 4)).IRTPS).toBe(1);
    expect([hw.ir.tableBase, hw.ir.tableEntries, hw.ir.extendedMode]).toEqual([0x20_0000, 256, true]);
    hw.mmioWrite(DMAR_GCMD_REG, 4, DMA_GCMD_QIE);
    expect(hw.mmioRead(DMAR_IQH_REG, 8)).toBe(0n);
  });
});

describe("register-based invalidation (CCMD, IVA + IOTLB)", () => {
  it("CCMD: ICC self-clears and CAIG reports the granularity; device-selective honours FM", () => {
    const { hw, host } = rig({ invalidation: "register" });
    host.createDomain(1, 4);
    host.map(1, 0x1000, RAM, PAGE_4K, "rw");
    host.attach(1, RID_A);
    host.attach(1, RID_B);
    hw.translate(RID_A, 0x1000, 4, false);
    hw.translate(RID_B, 0x1000, 4, false);
    expect(hw.contextCache.size).toBe(2);
    hw.mmioWrite(DMAR_CCMD_REG, 8, DMA_CCMD_ICC | DMA_CCMD_DEVICE_INVL | DMA_CCMD_SID(RID_A));
    let v = hw.mmioRead(DMAR_CCMD_REG, 8);
    expect(v >> 63n).toBe(0n);
    expect((v >> 59n) & 3n).toBe(3n);
    expect(hw.contextCache.size).toBe(1);
    // FM = 3 masks the function bits: RID_B (fn 1) goes too.
    hw.translate(RID_A, 0x1000, 4, false);
    hw.mmioWrite(DMAR_CCMD_REG, 8, DMA_CCMD_ICC | DMA_CCMD_DEVICE_INVL | DMA_CCMD_SID(RID_A & ~7) | DMA_CCMD_FM(3));
    expect(hw.contextCache.size).toBe(0);
    // CIRG = 0 is not a granularity: refused, CAIG = 0.
    hw.mmioWrite(DMAR_CCMD_REG, 8, DMA_CCMD_ICC);
    v = hw.mmioRead(DMAR_CCMD_REG, 8);
    expect([(v >> 63n) & 1n, (v >> 59n) & 3n]).toEqual([0n, 0n]);
    expect(host.stats().registerInvalidations).toBeGreaterThan(0);
  });

  it("IOTLB: IVT self-clears, IAIG reports; PSI with AM > MAMV or a misaligned address is refused (IAIG 0)", () => {
    const { hw, host } = rig({ invalidation: "register" });
    host.createDomain(1, 4);
    host.map(1, 0, RAM, 4 * PAGE_4K, "rw");
    host.attach(1, RID_A);
    for (let i = 0; i < 4; i++) hw.translate(RID_A, i * PAGE_4K, 4, false);
    expect(hw.iotlb.size).toBe(4);
    const iaig = () => (hw.mmioRead(DMAR_IOTLB_REG, 8) >> 57n) & 3n;
    hw.mmioWrite(DMAR_IVA_REG, 8, 0x2000n | 1n); // 2 pages at 0x2000
    hw.mmioWrite(DMAR_IOTLB_REG, 8, DMA_TLB_IVT | DMA_TLB_PSI_FLUSH | DMA_TLB_DID(1));
    expect(hw.mmioRead(DMAR_IOTLB_REG, 8) >> 63n).toBe(0n);
    expect(iaig()).toBe(3n);
    expect(hw.iotlb.size).toBe(2);
    hw.mmioWrite(DMAR_IVA_REG, 8, 0x1000n | 1n); // misaligned for AM = 1
    hw.mmioWrite(DMAR_IOTLB_REG, 8, DMA_TLB_IVT | DMA_TLB_PSI_FLUSH | DMA_TLB_DID(1));
    expect(iaig()).toBe(0n);
    hw.mmioWrite(DMAR_IVA_REG, 8, 19n); // AM 19 > MAMV 18
    hw.mmioWrite(DMAR_IOTLB_REG, 8, DMA_TLB_IVT | DMA_TLB_PSI_FLUSH | DMA_TLB_DID(1));
    expect(iaig()).toBe(0n);
    expect(hw.iotlb.size).toBe(2);
    hw.mmioWrite(DMAR_IOTLB_REG, 8, DMA_TLB_IVT | DMA_TLB_DSI_FLUSH | DMA_TLB_DID(2));
    expect([iaig(), BigInt(hw.iotlb.size)]).toEqual([2n, 2n]);
    hw.mmioWrite(DMAR_IOTLB_REG, 8, DMA_TLB_IVT | DMA_TLB_DSI_FLUSH | DMA_TLB_DID(1));
    expect(hw.iotlb.size).toBe(0);
  });

  it("is ignored (actual granularity 0) while queued invalidation is enabled", () => {
    const { hw, host } = rig({ invalidation: "queued" });
    host.createDomain(1, 4);
    host.map(1, 0, RAM, PAGE_4K, "rw");
    host.attach(1, RID_A);
    hw.translate(RID_A, 0, 4, false);
    hw.mmioWrite(DMAR_IOTLB_REG, 8, DMA_TLB_IVT | DMA_TLB_DSI_FLUSH | DMA_TLB_DID(1));
    expect((hw.mmioRead(DMAR_IOTLB_REG, 8) >> 57n) & 3n).toBe(0n);
    expect(hw.iotlb.size).toBe(1);
    expect(hw.stats().registerInvalidationsIgnored).toBe(1);
  });
});
