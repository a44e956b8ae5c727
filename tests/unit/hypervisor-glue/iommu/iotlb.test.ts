import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { DMA_FAULT } from "../../../../src/pcie/dma.js";
import { Iotlb, ContextCache } from "../../../../src/hypervisor-glue/iommu/caches.js";
import { PAGE_2M, PAGE_4K, VtdFault } from "../../../../src/hypervisor-glue/iommu/defs.js";
import { RAM, RID_A, RID_B, RID_C, rig } from "./helpers.js";

for (const invalidation of ["queued", "register"] as const) {
  describe(`IOTLB and context cache (${invalidation} invalidation)`, () => {
    it("counts a miss and a walk, then hits for every offset of the page", () => {
      const { hw, host } = rig({ invalidation });
      host.createDomain(1, 4);
      host.map(1, 0x10_000, RAM, 2 * PAGE_4K, "rw");
      host.attach(1, RID_A);
      expect(hw.translate(RID_A, 0x10_000, 64, true)).toBe(RAM);
      expect(hw.stats()).toMatchObject({ iotlbMisses: 1, walks: 1, iotlbHits: 0, contextMisses: 1 });
      for (let off = 0; off < PAGE_4K; off += 512) expect(hw.translate(RID_A, 0x10_000 + off, 64, off % 1024 === 0)).toBe(RAM + off);
      expect(hw.stats()).toMatchObject({ iotlbMisses: 1, walks: 1, iotlbHits: 8, contextHits: 8 });
      expect(hw.translate(RID_A, 0x11_000, 64, false)).toBe(RAM + PAGE_4K);
      expect(hw.stats()).toMatchObject({ iotlbMisses: 2, walks: 2, iotlbEntries: 2 });
    });

    it("a stale entry keeps translating after unmap until software invalidates (the hazard)", () => {
      const { hw, host } = rig({ invalidation });
      host.createDomain(1, 4);
      host.map(1, 0x10_000, RAM, PAGE_4K, "rw");
      host.attach(1, RID_A);
      expect(hw.translate(RID_A, 0x10_008, 8, true)).toBe(RAM + 8);
      host.unmap(1, 0x10_000, PAGE_4K);
      expect(host.iovaToPhys(1, 0x10_000)).toBeUndefined();
      expect(hw.translate(RID_A, 0x10_008, 8, true)).toBe(RAM + 8); // still reaches the freed page
      // Re-using the IOVA for another page without invalidation: the device still sees the old one.
      host.map(1, 0x10_000, RAM + 0x5000, PAGE_4K, "rw");
      expect(hw.translate(RID_A, 0x10_008, 8, false)).toBe(RAM + 8);
      host.invalidateIotlb({ kind: "page", did: 1, iova: 0x10_000, size: PAGE_4K });
      expect(hw.translate(RID_A, 0x10_008, 8, false)).toBe(RAM + 0x5008);
      host.unmapAndInvalidate(1, 0x10_000, PAGE_4K);
      expect(hw.translate(RID_A, 0x10_008, 8, false)).toBe(DMA_FAULT);
      expect(host.faults().at(-1)).toMatchObject({ reason: VtdFault.PAGING_ENTRY_INV, sid: RID_A });
    });

    it("a stale read-only entry does not grant writes: the write walks the current table", () => {
      const { hw, host } = rig({ invalidation });
      host.createDomain(1, 4);
      host.map(1, 0, RAM, PAGE_4K, "r");
      host.attach(1, RID_A);
      expect(hw.translate(RID_A, 0, 4, false)).toBe(RAM);
      host.unmap(1, 0, PAGE_4K);
      host.map(1, 0, RAM, PAGE_4K, "rw"); // upgrade without invalidation
      expect(hw.translate(RID_A, 0, 4, true)).toBe(RAM);
      expect(hw.stats().walks).toBe(2);
    });

    it("invalidation scopes: page (AM covers a block, and a 2 MiB entry containing the page), domain, global", () => {
      const { hw, host } = rig({ invalidation });
      host.createDomain(1, 4);
      host.createDomain(2, 4);
      host.map(1, 0, RAM, 8 * PAGE_4K, "rw");
      host.map(1, PAGE_2M, RAM + PAGE_2M, PAGE_2M, "rw", PAGE_2M);
      host.map(2, 0, RAM + 0x100_000, 8 * PAGE_4K, "rw");
      host.attach(1, RID_A);
      host.attach(2, RID_B);
      const warm = () => {
        for (let i = 0; i < 8; i++) {
          hw.translate(RID_A, i * PAGE_4K, 4, false);
          hw.translate(RID_B, i * PAGE_4K, 4, false);
        }
        hw.translate(RID_A, PAGE_2M + 0x1234, 4, false);
      };
      warm();
      expect(hw.iotlb.size).toBe(17);
      host.invalidateIotlb({ kind: "page", did: 1, iova: 0x1000, size: 3 * PAGE_4K }); // → AM 2 over 0x0..0x3fff
      expect(hw.iotlb.size).toBe(13);
      host.invalidateIotlb({ kind: "page", did: 1, iova: PAGE_2M + 0x5000, size: PAGE_4K });
      expect(hw.iotlb.size).toBe(12);
      warm();
      host.invalidateIotlb({ kind: "domain", did: 2 });
      expect(hw.iotlb.size).toBe(9);
      host.invalidateIotlb({ kind: "global" });
      expect(hw.iotlb.size).toBe(0);
    });

    it("the IOTLB is tagged by domain: requesters of one domain share entries, other domains do not", () => {
      const { hw, host } = rig({ invalidation });
      host.createDomain(1, 4);
      host.createDomain(2, 3);
      host.map(1, 0x4000, RAM, PAGE_4K, "rw");
      host.map(2, 0x4000, RAM + 0x9000, PAGE_4K, "rw");
      host.attach(1, RID_A);
      host.attach(1, RID_B);
      host.attach(2, RID_C);
      expect(hw.translate(RID_A, 0x4000, 4, true)).toBe(RAM);
      expect(hw.translate(RID_B, 0x4000, 4, true)).toBe(RAM);
      expect(hw.translate(RID_C, 0x4000, 4, true)).toBe(RAM + 0x9000);
      expect(hw.stats()).toMatchObject({ iotlbHits: 1, walks: 2 });
    });

    it("a detached requester keeps its cached context until the context cache is invalidated", () => {
      const { hw, host } = rig({ invalidation });
      host.createDomain(1, 4);
      host.map(1, 0x4000, RAM, PAGE_4K, "rw");
      host.attach(1, RID_A);
      expect(hw.translate(RID_A, 0x4000, 4, true)).toBe(RAM);
      host.detach(RID_A, { flush: false });
      expect(hw.translate(RID_A, 0x4000, 4, true)).toBe(RAM);
      host.invalidateContext({ kind: "device", rid: RID_A });
      host.invalidateIotlb({ kind: "domain", did: 1 });
      expect(hw.translate(RID_A, 0x4000, 4, true)).toBe(DMA_FAULT);
      host.attach(1, RID_A);
      host.detach(RID_A); // flushes by default
      expect(hw.translate(RID_A, 0x4000, 4, true)).toBe(DMA_FAULT);
      expect(host.faults().map((f) => f.reason)).toEqual([VtdFault.CONTEXT_ENTRY_P, VtdFault.CONTEXT_ENTRY_P]);
    });
  });
}

describe("cache capacity and CLOCK replacement", () => {
  it("IOTLB keeps at most `capacity` entries and gives a recently hit entry a second chance", () => {
    const { hw, host } = rig({ iotlbEntries: 4 });
    host.createDomain(1, 4);
    host.map(1, 0, RAM, 16 * PAGE_4K, "rw");
    host.attach(1, RID_A);
    const t = (p: number) => hw.translate(RID_A, p * PAGE_4K, 4, false);
    for (const p of [0, 1, 2, 3]) t(p); // slots 0..3, all referenced
    t(4); // the hand clears every reference bit, evicts page 0 (slot 0)
    expect(hw.iotlb.size).toBe(4);
    expect(hw.stats().iotlbEvictions).toBe(1);
    t(1); // hit: page 1 referenced again
    t(5); // hand at slot 1: page 1 gets a second chance, page 2 goes
    const walks = hw.stats().walks;
    t(1);
    expect(hw.stats().walks).toBe(walks);
    t(2);
    expect(hw.stats().walks).toBe(walks + 1);
  });

  it("context cache evicts by CLOCK and refetches from memory", () => {
    const { hw, host } = rig({ contextCacheEntries: 2 });
    host.createDomain(1, 4);
    host.map(1, 0, RAM, PAGE_4K, "rw");
    for (const r of [RID_A, RID_B, RID_C]) host.attach(1, r);
    for (let i = 0; i < 3; i++) for (const r of [RID_A, RID_B, RID_C]) expect(hw.translate(r, 0, 4, false)).toBe(RAM);
    const s = hw.stats();
    expect(s.contextEntries).toBe(2);
    expect(s.contextEvictions).toBeGreaterThan(0);
    expect(s.contextMisses + s.contextHits).toBe(9);
  });

  it("Iotlb behaves like a bounded map of its most recent inserts (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 16 }),
        fc.array(fc.record({ did: fc.integer({ min: 0, max: 3 }), level: fc.integer({ min: 1, max: 3 }), vpn: fc.integer({ min: 0, max: 40 }) }), { maxLength: 100 }),
        (cap, ops) => {
          const t = new Iotlb(cap);
          const sizes = [0, 0x1000, 0x20_0000, 0x4000_0000];
          const last = new Map<string, number>();
          ops.forEach((o, i) => {
            t.insert(o.did, o.level, o.vpn, i * 0x1000, 3);
            last.set(`${o.did}/${o.level}/${o.vpn}`, i * 0x1000);
            expect(t.size).toBeLessThanOrEqual(cap);
            // The entry just inserted is found, with its latest base.
            const s = t.lookup(o.did, o.vpn * sizes[o.level]!);
            expect(s).toBeGreaterThanOrEqual(0);
            expect(t.level(s)).toBeLessThanOrEqual(o.level);
          });
          // Anything found must be a value that was inserted last for its key.
          for (let s = 0; s < cap; s++) {
            const k = t.key[s]!;
            if (k < 0) continue;
            expect(last.get(`${k >>> 2}/${k & 3}/${t.vpn[s]}`)).toBe(t.base[s]);
          }
          const n = t.size;
          expect(t.invalidateAll()).toBe(n);
          expect(t.lookup(0, 0)).toBe(-1);
        },
      ),
    );
  });

  it("capacities are validated", () => {
    expect(() => new Iotlb(-1)).toThrow(/ERANGE/);
    expect(() => new ContextCache(0)).toThrow(/ERANGE/);
    expect(() => rig({ iotlbEntries: 1.5 })).toThrow(/ERANGE/);
  });
});
