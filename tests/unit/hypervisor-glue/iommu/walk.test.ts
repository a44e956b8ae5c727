import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { PhysMem } from "../../../../src/memory/physmem.js";
import { DMA_FAULT } from "../../../../src/pcie/dma.js";
import { VtdIommu } from "../../../../src/hypervisor-glue/iommu/vtd.js";
import { encodeContextEntry, encodeRootEntry, encodeSlPte, writeEntry128 } from "../../../../src/hypervisor-glue/iommu/formats.js";
import {
  DMA_GCMD_SRTP,
  DMA_GCMD_TE,
  DMAR_GCMD_REG,
  DMAR_GSTS_REG,
  DMAR_RTADDR_REG,
  PAGE_1G,
  PAGE_2M,
  PAGE_4K,
  VtdFault,
  type PageSize,
} from "../../../../src/hypervisor-glue/iommu/defs.js";
import { RAM, RID_A, rig } from "./helpers.js";

describe("second-level walk over hand-built tables (the hardware reads the spec's bits)", () => {
  /** Root → context → PML4 → PDPT → PD → PT, written with the format encoders, programmed by MMIO. */
  function build(mem: PhysMem) {
    const T = { root: 0x10_000, ctx: 0x11_000, l4: 0x12_000, l3: 0x13_000, l2: 0x14_000, l1: 0x15_000 };
    const iova = 0x0000_7f12_3456_7000; // indices: l4 = 0xfe, l3 = 0x48, l2 = 0x1a2, l1 = 0x167
    writeEntry128(mem, T.root + 3 * 16, encodeRootEntry({ present: true, ctp: T.ctx }));
    writeEntry128(mem, T.ctx + 0x10 * 16, encodeContextEntry({ present: true, fpd: false, tt: 0, slptptr: T.l4, aw: 2, did: 5 }));
    mem.write64(T.l4 + 0xfe * 8, encodeSlPte({ read: true, write: true, large: false, addr: T.l3 }));
    mem.write64(T.l3 + 0x48 * 8, encodeSlPte({ read: true, write: true, large: false, addr: T.l2 }));
    mem.write64(T.l2 + 0x1a2 * 8, encodeSlPte({ read: true, write: true, large: false, addr: T.l1 }));
    mem.write64(T.l1 + 0x167 * 8, encodeSlPte({ read: true, write: false, large: false, addr: 0x2_dead_b000 }));
    return { T, iova };
  }
  function enable(hw: VtdIommu, root: number): void {
    hw.mmioWrite(DMAR_RTADDR_REG, 8, BigInt(root));
    hw.mmioWrite(DMAR_GCMD_REG, 4, DMA_GCMD_SRTP);
    hw.mmioWrite(DMAR_GCMD_REG, 4, DMA_GCMD_TE);
    expect(hw.mmioRead(DMAR_GSTS_REG, 4) >>> 30).toBe(0b11);
  }

  it("translates through four levels and honours the leaf's R/W bits", () => {
    const mem = new PhysMem();
    const hw = new VtdIommu(mem);
    const { T, iova } = build(mem);
    enable(hw, T.root);
    expect(hw.translate(RID_A, iova + 0x123, 8, false)).toBe(0x2_dead_b123);
    expect(hw.lastWalkReads).toBe(2 + 4); // root + context + 4 paging entries
    expect(hw.translate(RID_A, iova + 0x123, 8, true)).toBe(DMA_FAULT);
  });

  it("permissions accumulate: a non-leaf entry without W denies writes below it", () => {
    const mem = new PhysMem();
    const hw = new VtdIommu(mem);
    const { T, iova } = build(mem);
    mem.write64(T.l1 + 0x167 * 8, encodeSlPte({ read: true, write: true, large: false, addr: 0x2_dead_b000 }));
    mem.write64(T.l3 + 0x48 * 8, encodeSlPte({ read: true, write: false, large: false, addr: T.l2 }));
    enable(hw, T.root);
    expect(hw.translate(RID_A, iova, 4, false)).toBe(0x2_dead_b000);
    expect(hw.translate(RID_A, iova, 4, true)).toBe(DMA_FAULT);
    expect(hw.stats().faultsRecorded).toBe(1);
  });

  it("ignored high bits (52..61, 63) are not part of the address; bit 62 is reserved", () => {
    const mem = new PhysMem();
    const hw = new VtdIommu(mem);
    const { T, iova } = build(mem);
    mem.write64(T.l1 + 0x167 * 8, encodeSlPte({ read: true, write: true, large: false, addr: 0x3000 }) | (0x3ffn << 52n) | (1n << 63n));
    enable(hw, T.root);
    expect(hw.translate(RID_A, iova, 4, true)).toBe(0x3000);
    mem.write64(T.l1 + 0x167 * 8, encodeSlPte({ read: true, write: true, large: false, addr: 0x3000 }) | (1n << 62n));
    hw.iotlb.invalidateAll();
    expect(hw.translate(RID_A, iova, 4, true)).toBe(DMA_FAULT);
  });
});

const SIZES: Array<[PageSize, string]> = [
  [PAGE_4K, "4K"],
  [PAGE_2M, "2M"],
  [PAGE_1G, "1G"],
];

describe("walks through the host's tables: 3 and 4 levels × 4K / 2M / 1G pages", () => {
  for (const levels of [3, 4] as const) {
    for (const [size, name] of SIZES) {
      it(`${levels}-level, ${name} pages: every offset lands at hpa + offset, with the right number of entry reads`, () => {
        const agaw = levels === 3 ? 39 : 48;
        const pages = 2 ** (agaw - Math.log2(size));
        fc.assert(
          fc.property(
            fc.integer({ min: 0, max: pages - 1 }),
            fc.integer({ min: 0, max: 2 ** 20 - 1 }),
            fc.integer({ min: 0, max: size - 8 }),
            fc.boolean(),
            (page, frame, off, write) => {
              const iova = page * size;
              if (iova <= 0xfeef_ffff && iova + size > 0xfee0_0000) return; // the interrupt window is not mappable
              const { hw, host } = rig();
              host.createDomain(1, levels);
              const hpa = RAM + frame * size;
              host.map(1, iova, hpa, size, "rw", size);
              host.attach(1, RID_A);
              expect(hw.translate(RID_A, iova + off, 8, write)).toBe(hpa + off);
              const perLevel = levels - (size === PAGE_4K ? 0 : size === PAGE_2M ? 1 : 2);
              expect(hw.lastWalkReads).toBe(2 + perLevel);
              expect(hw.translate(RID_A, iova + (size - 8 - off), 8, !write)).toBe(hpa + size - 8 - off);
              expect(hw.lastWalkReads).toBe(0); // IOTLB hit, same page
              expect(hw.stats().iotlbHits).toBe(1);
            },
          ),
          { numRuns: 40 },
        );
      });
    }
  }

  it("a domain mixes page sizes; each translation uses its own leaf", () => {
    const { hw, host } = rig();
    host.createDomain(1, 4);
    host.map(1, 0, RAM, PAGE_1G, "rw", PAGE_1G);
    host.map(1, PAGE_1G, RAM + 2 * PAGE_1G, 4 * PAGE_2M, "r", PAGE_2M);
    host.map(1, PAGE_1G + 4 * PAGE_2M, RAM + 0x7000, PAGE_4K, "w");
    host.attach(1, RID_A);
    expect(hw.translate(RID_A, 0x3fff_fff0, 8, true)).toBe(RAM + 0x3fff_fff0);
    expect(hw.translate(RID_A, PAGE_1G + 3 * PAGE_2M + 5, 1, false)).toBe(RAM + 2 * PAGE_1G + 3 * PAGE_2M + 5);
    expect(hw.translate(RID_A, PAGE_1G + 4 * PAGE_2M + 9, 1, true)).toBe(RAM + 0x7009);
    expect(hw.translate(RID_A, PAGE_1G + 4 * PAGE_2M + 9, 1, false)).toBe(DMA_FAULT);
    expect(host.faults()[0]?.reason).toBe(VtdFault.READ);
  });

  it("without SLLPS for a size, PS at that level is a reserved bit (0xC) and the host refuses the size", () => {
    const { hw, host, mem } = rig({ sllps1G: false });
    host.createDomain(1, 4);
    expect(() => host.map(1, 0, RAM, PAGE_1G, "rw", PAGE_1G)).toThrow(/ERANGE/);
    host.map(1, 0, RAM, PAGE_2M, "rw", PAGE_2M);
    host.attach(1, RID_A);
    // Turn the level-3 entry into a 1 GiB leaf behind the driver's back.
    const l4 = host.domain(1).root;
    const l3 = Number(mem.read64(l4) & ~0xfffn);
    mem.write64(l3, encodeSlPte({ read: true, write: true, large: true, addr: 0 }));
    expect(hw.translate(RID_A, 0x1000, 4, false)).toBe(DMA_FAULT);
    expect(host.faults()[0]?.reason).toBe(VtdFault.PAGING_ENTRY_RSVD);
  });

  it("with the IOTLB disabled every translation walks", () => {
    const { hw, host } = rig({ iotlbEntries: 0 });
    host.createDomain(1, 4);
    host.map(1, 0x1000, RAM, PAGE_4K, "rw");
    host.attach(1, RID_A);
    for (let i = 0; i < 10; i++) expect(hw.translate(RID_A, 0x1000 + i, 1, false)).toBe(RAM + i);
    const s = hw.stats();
    expect(s.walks).toBe(10);
    expect(s.iotlbHits).toBe(0);
    expect(s.walkReads).toBe(2 + 10 * 4);
  });
});
