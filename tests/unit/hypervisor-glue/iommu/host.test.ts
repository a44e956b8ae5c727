import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { PhysMem } from "../../../../src/memory/physmem.js";
import { RangeAllocator } from "../../../../src/memory/alloc.js";
import { DMA_FAULT } from "../../../../src/pcie/dma.js";
import { VtdIommu } from "../../../../src/hypervisor-glue/iommu/vtd.js";
import { IommuHost } from "../../../../src/hypervisor-glue/iommu/host.js";
import { PAGE_1G, PAGE_2M, PAGE_4K, VtdFault } from "../../../../src/hypervisor-glue/iommu/defs.js";
import { expectIovError, RAM, RID_A, RID_B, RID_C, rig, TABLES_BASE } from "./helpers.js";

describe("IommuHost: what a hypervisor does", () => {
  it("creates a domain, maps guest RAM, attaches a VF, and the VF's DMA lands in that RAM", () => {
    const { hw, host, mem } = rig();
    const dom = host.createDomain(7, 4);
    expect(dom).toMatchObject({ did: 7, levels: 4, mappedBytes: 0, tablePages: 1 });
    // Guest RAM: GPA 0..8 MiB at HPA RAM + 64 MiB, in 2 MiB pages (IOVA = GPA).
    host.map(7, 0, RAM + 0x400_0000, 4 * PAGE_2M, "rw", PAGE_2M);
    host.attach(7, RID_A);
    expect(host.domain(7)).toMatchObject({ mappedBytes: 4 * PAGE_2M, rids: new Set([RID_A]) });
    expect(host.contextOf(RID_A)).toEqual({ present: true, fpd: false, tt: 0, slptptr: dom.root, aw: 2, did: 7 });
    const hpa = hw.translate(RID_A, 0x30_1234, 4, true);
    mem.write32(hpa, 0xfeedf00d);
    expect(mem.read32(RAM + 0x400_0000 + 0x30_1234)).toBe(0xfeedf00d);
    expect(host.iovaToPhys(7, 0x30_1234)).toEqual({ hpa: RAM + 0x400_0000 + 0x30_1234, perms: "rw", pageSize: PAGE_2M });
  });

  it("pass-through entries translate 1:1; blocked entries refuse (loudly or silently)", () => {
    const { hw, host } = rig();
    host.setPassThrough(RID_B);
    expect(host.contextOf(RID_B)?.tt).toBe(2);
    expect(hw.translate(RID_B, RAM + 0x1234, 4, true)).toBe(RAM + 0x1234);
    expect(hw.stats().passThrough).toBe(1);
    host.block(RID_B);
    expect(hw.translate(RID_B, RAM, 4, true)).toBe(DMA_FAULT);
    host.block(RID_C, { silent: true });
    expect(hw.translate(RID_C, RAM, 4, true)).toBe(DMA_FAULT);
    expect(host.faults().map((f) => [f.reason, f.sid])).toEqual([[VtdFault.CONTEXT_ENTRY_P, RID_B]]);
    expectIovError(() => rig({ passThrough: false }).host.setPassThrough(RID_A), "ERANGE");
  });

  it("the IOMMU's own tables are out of a device's reach unless software maps them", () => {
    const { hw, host, mem } = rig();
    const dom = host.createDomain(1, 4);
    host.map(1, 0, RAM, 16 * PAGE_4K, "rw");
    host.attach(1, RID_A);
    // The device aims at the host physical address of its own page table: nothing maps it.
    expect(hw.translate(RID_A, dom.root, 8, true)).toBe(DMA_FAULT);
    expect(host.faults()[0]).toMatchObject({ reason: VtdFault.PAGING_ENTRY_INV, address: dom.root });
    // A hypervisor bug that maps it hands the device its own translation: nothing special-cases it.
    host.map(1, dom.root, dom.root, PAGE_4K, "rw");
    const hpa = hw.translate(RID_A, dom.root, 8, true);
    expect(hpa).toBe(dom.root);
    mem.write64(hpa, 0n); // the device wipes the PML4 entry for IOVA 0..512 GiB
    hw.iotlb.invalidateAll();
    expect(hw.translate(RID_A, 0, 8, false)).toBe(DMA_FAULT);
  });

  it("register-based and queued invalidation give the same results", () => {
    for (const invalidation of ["register", "queued"] as const) {
      const { hw, host } = rig({ invalidation });
      host.createDomain(1, 3);
      host.map(1, 0x8000, RAM, PAGE_4K, "rw");
      host.attach(1, RID_A);
      expect(hw.translate(RID_A, 0x8000, 4, true)).toBe(RAM);
      host.unmapAndInvalidate(1, 0x8000, PAGE_4K);
      expect(hw.translate(RID_A, 0x8000, 4, true)).toBe(DMA_FAULT);
      const s = host.stats();
      expect(invalidation === "queued" ? s.queuedInvalidations : s.registerInvalidations).toBeGreaterThan(0);
    }
  });

  it("reads and services faults through the fault recording registers", () => {
    const { hw, host } = rig();
    hw.translate(RID_A, 0x1000, 4, false);
    hw.translate(RID_B, 0x2000, 4, true);
    expect(host.faultStatus()).toEqual({ pfo: false, ppf: true, iqe: false, fri: 0 });
    const f = host.clearFaults();
    expect(f.map((x) => [x.index, x.sid, x.write, x.reasonName])).toEqual([
      [0, RID_A, false, "ROOT_ENTRY_P"],
      [1, RID_B, true, "ROOT_ENTRY_P"],
    ]);
    expect(host.faults()).toEqual([]);
    expect(host.faultStatus().ppf).toBe(false);
  });

  it("destroying a domain frees its tables; the allocator hands them out again", () => {
    const { host, tables } = rig();
    host.createDomain(1, 4);
    host.map(1, 0, RAM, 600 * PAGE_4K, "rw"); // spans two leaf tables
    host.attach(1, RID_A);
    expectIovError(() => host.destroyDomain(1), "EBUSY");
    host.detach(RID_A);
    const pages = host.domain(1).tablePages;
    expect(pages).toBe(5);
    const used = tables.used;
    host.destroyDomain(1);
    expectIovError(() => host.domain(1), "ENOENT");
    host.createDomain(2, 4);
    host.map(2, 0, RAM, 600 * PAGE_4K, "rw");
    expect(tables.used).toBe(used);
  });

  it("a large page replaces an emptied table and gives its pages back", () => {
    const { hw, host } = rig();
    host.createDomain(1, 4);
    host.map(1, 0, RAM, 4 * PAGE_4K, "rw");
    host.attach(1, RID_A);
    host.unmap(1, 0, 4 * PAGE_4K);
    host.map(1, 0, RAM + PAGE_2M, PAGE_2M, "r", PAGE_2M);
    expect(host.domain(1).tablePages).toBe(3);
    host.invalidateIotlb({ kind: "domain", did: 1 });
    expect(hw.translate(RID_A, 0x1234, 4, false)).toBe(RAM + PAGE_2M + 0x1234);
  });
});

describe("IommuHost misuse → IovError", () => {
  it("domains", () => {
    const { host } = rig();
    host.createDomain(1, 4);
    expectIovError(() => host.createDomain(1, 3), "EEXIST");
    expectIovError(() => host.createDomain(0x1_0000, 4), "ERANGE");
    expectIovError(() => host.createDomain(2, 5 as 4), "EINVAL");
    expectIovError(() => rig({ mgaw: 39 }).host.createDomain(1, 4), "ERANGE");
    expectIovError(() => host.map(9, 0, RAM, PAGE_4K, "rw"), "ENOENT");
    const fresh = new IommuHost(new VtdIommu(new PhysMem()), { tables: new RangeAllocator(TABLES_BASE, TABLES_BASE + 0x10_0000) });
    expectIovError(() => fresh.createDomain(1, 4), "EINVAL");
    fresh.init();
    expectIovError(() => fresh.init(), "EEXIST");
  });

  it("map", () => {
    const { host } = rig({ sllps1G: false });
    host.createDomain(1, 4);
    host.createDomain(3, 3);
    host.map(1, 0x10_0000, RAM, 4 * PAGE_4K, "rw");
    expectIovError(() => host.map(1, 0x10_2000, RAM, 4 * PAGE_4K, "rw"), "EEXIST");
    expectIovError(() => host.map(1, 0, RAM, PAGE_2M, "rw", PAGE_2M), "EEXIST"); // covers live 4K pages
    expectIovError(() => host.map(1, 0x1001, RAM, PAGE_4K, "rw"), "EINVAL");
    expectIovError(() => host.map(1, 0x1000, RAM + 1, PAGE_4K, "rw"), "EINVAL");
    expectIovError(() => host.map(1, 0x1000, RAM, 100, "rw"), "EINVAL");
    expectIovError(() => host.map(1, 0x1000, RAM, PAGE_4K, "x" as "r"), "EINVAL");
    expectIovError(() => host.map(1, 0x1000, RAM, PAGE_4K, "rw", 8192 as typeof PAGE_4K), "EINVAL");
    expectIovError(() => host.map(1, 0, RAM, PAGE_1G, "rw", PAGE_1G), "ERANGE");
    expectIovError(() => host.map(3, 2 ** 39 - PAGE_4K, RAM, 2 * PAGE_4K, "rw"), "ERANGE");
    expectIovError(() => host.map(1, 0x1000, 2 ** 52, PAGE_4K, "rw"), "ERANGE");
    expectIovError(() => host.map(1, 0xfee0_0000, RAM, PAGE_4K, "rw"), "EINVAL");
    // None of the refused calls changed the table.
    expect(host.domain(1).mappedBytes).toBe(4 * PAGE_4K);
    expect(host.iovaToPhys(1, 0)).toBeUndefined();
  });

  it("a map that runs out of table memory part-way leaves nothing behind", () => {
    fc.assert(
      fc.property(fc.integer({ min: 3, max: 9 }), (spare) => {
        const mem = new PhysMem();
        const hw = new VtdIommu(mem);
        // Root table + invalidation queue + status + domain root + `spare` pages; the map needs 10 tables.
        const tables = new RangeAllocator(TABLES_BASE, TABLES_BASE + (4 + spare) * PAGE_4K);
        const host = new IommuHost(hw, { tables });
        host.init();
        host.createDomain(1, 4);
        // 8 leaf tables' worth of 4K pages, spread so that every 2 MiB needs its own table.
        let err: unknown;
        try {
          host.map(1, 0, RAM, 8 * PAGE_2M, "rw");
        } catch (e) {
          err = e;
        }
        expect(String(err)).toMatch(/ENOSPC/);
        for (let a = 0; a < 8 * PAGE_2M; a += PAGE_2M / 2) expect(host.iovaToPhys(1, a)).toBeUndefined();
        expect(host.domain(1).tablePages).toBe(1);
        expect(host.domain(1).mappedBytes).toBe(0);
        // The pages went back to the allocator: a map that fits (3 tables) now succeeds.
        host.map(1, 0, RAM, PAGE_4K, "rw");
        expect(host.iovaToPhys(1, 0)?.hpa).toBe(RAM);
      }),
      { numRuns: 7 },
    );
  });

  it("a bring-up that runs out of memory part-way undoes itself", () => {
    const hw = new VtdIommu(new PhysMem());
    const tables = new RangeAllocator(TABLES_BASE, TABLES_BASE + PAGE_4K); // room for the root table only
    const host = new IommuHost(hw, { tables });
    expectIovError(() => host.init(), "ENOSPC");
    expect(hw.translationEnabled).toBe(false);
    expect(hw.mmioRead(0x1c, 4) & 0x8400_0000).toBe(0); // neither TES nor QIES
    expectIovError(() => host.createDomain(1, 4), "EINVAL");
    expect(tables.alloc(PAGE_4K, PAGE_4K)).toBe(TABLES_BASE); // the root table page came back
  });

  it("unmap, attach, detach", () => {
    const { host } = rig();
    host.createDomain(1, 4);
    host.map(1, 0, RAM, PAGE_2M, "rw", PAGE_2M);
    host.map(1, PAGE_2M, RAM, 2 * PAGE_4K, "rw");
    expectIovError(() => host.unmap(1, 0x1000, PAGE_4K), "EINVAL"); // cuts the 2 MiB page
    expectIovError(() => host.unmap(1, PAGE_2M, 3 * PAGE_4K), "ENOENT"); // third page not mapped
    expect(host.iovaToPhys(1, PAGE_2M)?.hpa).toBe(RAM); // nothing was unmapped by the refused call
    expectIovError(() => host.unmap(1, 0x800, PAGE_4K), "EINVAL");
    expect(host.unmap(1, PAGE_2M, 2 * PAGE_4K)).toBe(2 * PAGE_4K);
    host.attach(1, RID_A);
    expectIovError(() => host.attach(1, RID_A), "EEXIST");
    expectIovError(() => host.attach(2, RID_B), "ENOENT");
    expectIovError(() => host.attach(1, 0x1_0000), "ERANGE");
    expectIovError(() => host.setPassThrough(RID_A), "EEXIST");
    expectIovError(() => host.detach(RID_B), "ENOENT");
    host.detach(RID_A);
    expect(host.attachedDomain(RID_A)).toBeUndefined();
    expectIovError(() => host.detach(RID_A), "ENOENT");
  });
});
