import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { PhysMem } from "../../../../src/memory/physmem.js";
import { decode } from "../../../../src/pcie/regs.js";
import { VtdIommu } from "../../../../src/hypervisor-glue/iommu/vtd.js";
import { qiContextCacheDesc, qiIotlbDesc, qiWaitDesc, writeEntry128, type Entry128 } from "../../../../src/hypervisor-glue/iommu/formats.js";
import {
  DMA_FSTS_IQE,
  DMA_GCMD_QIE,
  DMA_ICS_IWC,
  DMAR_FSTS_REG,
  DMAR_GCMD_REG,
  DMAR_ICS_REG,
  DMAR_IEADDR_REG,
  DMAR_IECTL_REG,
  DMAR_IEDATA_REG,
  DMAR_IQA_REG,
  DMAR_IQH_REG,
  DMAR_IQT_REG,
  PAGE_4K,
} from "../../../../src/hypervisor-glue/iommu/defs.js";
import { RAM, RecordingEvents, RID_A, rig } from "./helpers.js";

const QUEUE = 0x40_0000;
const STATUS = 0x50_0000;

/** A bare unit with queued invalidation on, driven by hand: descriptors written, then the tail rung. */
function bare(qs = 0) {
  const events = new RecordingEvents();
  const mem = new PhysMem();
  const hw = new VtdIommu(mem, { eventSink: events });
  hw.mmioWrite(DMAR_IQA_REG, 8, BigInt(QUEUE) | BigInt(qs));
  hw.mmioWrite(DMAR_GCMD_REG, 4, DMA_GCMD_QIE);
  let tail = 0;
  const size = 256 << qs;
  const post = (descs: Entry128[]) => {
    for (const d of descs) {
      writeEntry128(mem, QUEUE + tail * 16, d);
      tail = (tail + 1) % size;
    }
    hw.mmioWrite(DMAR_IQT_REG, 8, BigInt(tail << 4));
  };
  const head = () => Number(hw.mmioRead(DMAR_IQH_REG, 8) >> 4n);
  return { mem, hw, events, post, head, tailOf: () => tail };
}

describe("queued invalidation", () => {
  it("executes descriptors up to the tail; a wait descriptor with SW writes its status data", () => {
    const { mem, hw, post, head } = bare();
    mem.write32(STATUS, 0);
    post([qiContextCacheDesc({ kind: "global" }), qiIotlbDesc({ kind: "global" }), qiWaitDesc({ statusWrite: { addr: STATUS, data: 0xc0ffee }, fence: true })]);
    expect(mem.read32(STATUS)).toBe(0xc0ffee);
    expect(head()).toBe(3);
    expect(hw.stats()).toMatchObject({ qiDescriptors: 3, qiWaits: 1, contextInvalidations: 1, iotlbInvalidations: 1, qiErrors: 0 });
  });

  it("IF sets ICS.IWC and raises the completion event (IEADDR/IEDATA) unless IECTL.IM; unmasking delivers it", () => {
    const { hw, events, post } = bare();
    hw.mmioWrite(DMAR_IEADDR_REG, 4, 0xfee0_1000);
    hw.mmioWrite(DMAR_IEDATA_REG, 4, 0x77);
    post([qiWaitDesc({ interrupt: true })]); // IM is set at reset
    expect(hw.mmioRead(DMAR_ICS_REG, 4)).toBe(DMA_ICS_IWC);
    expect(decode(hw.R.IECTL, hw.mmioRead(DMAR_IECTL_REG, 4))).toEqual({ IM: 1, IP: 1 });
    expect(events.got).toHaveLength(0);
    hw.mmioWrite(DMAR_IECTL_REG, 4, 0);
    expect(events.got).toEqual([{ kind: "invalidation-complete", addr: 0xfee0_1000, data: 0x77 }]);
    hw.mmioWrite(DMAR_ICS_REG, 4, DMA_ICS_IWC); // W1C
    expect(hw.mmioRead(DMAR_ICS_REG, 4)).toBe(0);
    post([qiWaitDesc({ interrupt: true })]);
    expect(events.got).toHaveLength(2);
    expect(hw.stats().completionEvents).toBe(2);
  });

  it("an invalid descriptor sets IQE and stops with IQH on it; later ones wait; clearing IQE resumes", () => {
    const { mem, hw, post, head } = bare();
    mem.write32(STATUS, 0);
    const bad: Entry128[] = [
      { lo: 0x3n, hi: 0n }, // device-TLB invalidate: no ECAP.DT
      { lo: 0x6n, hi: 0n }, // PASID types: no scalable mode
      { lo: 0x1n, hi: 0n }, // context-cache with G = 0
      { lo: 0x11n | 0x100n, hi: 0n }, // reserved bit 8
      { lo: 0x32n, hi: 0x1000n | 1n }, // page-selective, address not aligned to 2^AM pages
      { lo: 0x32n, hi: 19n }, // AM above MAMV
      { lo: 0x25n, hi: 0x3n }, // wait with a misaligned status address
      { lo: 0x5n | 0x200n, hi: 0n }, // type bits 11:9 set
    ];
    for (const b of bad) {
      const at = head();
      post([b, qiWaitDesc({ statusWrite: { addr: STATUS, data: at + 1 } })]);
      expect(hw.mmioRead(DMAR_FSTS_REG, 4) & DMA_FSTS_IQE).toBe(DMA_FSTS_IQE);
      expect(head()).toBe(at);
      expect(mem.read32(STATUS)).not.toBe(at + 1);
      // Software fixes the descriptor (as Linux does: a wait in its place) and clears IQE.
      writeEntry128(mem, QUEUE + at * 16, qiWaitDesc({}));
      hw.mmioWrite(DMAR_FSTS_REG, 4, DMA_FSTS_IQE);
      expect(mem.read32(STATUS)).toBe(at + 1);
      expect(head()).toBe(at + 2);
    }
    expect(hw.stats().qiErrors).toBe(bad.length);
  });

  it("wraps around the ring: IQH always catches up with IQT (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 2, maxLength: 12, size: "max" }), (batches) => {
        const { mem, hw, post, head, tailOf } = bare(0);
        let seq = 0;
        for (const n of batches) {
          const descs: Entry128[] = [];
          for (let i = 0; i < n - 1; i++) descs.push(i % 2 === 0 ? qiIotlbDesc({ kind: "domain", did: i }) : qiContextCacheDesc({ kind: "domain", did: i }));
          descs.push(qiWaitDesc({ statusWrite: { addr: STATUS, data: ++seq } }));
          post(descs);
          expect(head()).toBe(tailOf());
          expect(mem.read32(STATUS)).toBe(seq);
        }
        expect(hw.stats().qiDescriptors).toBe(batches.reduce((a, b) => a + b, 0));
      }),
      { numRuns: 60 },
    );
  });

  it("a tail beyond the queue size is a queue error", () => {
    const { hw } = bare(0);
    hw.mmioWrite(DMAR_IQT_REG, 8, BigInt(300 << 4));
    expect(hw.mmioRead(DMAR_FSTS_REG, 4) & DMA_FSTS_IQE).toBe(DMA_FSTS_IQE);
  });
});

describe("the host's queued invalidation (descriptor + wait with status write)", () => {
  it("every helper ends with a wait whose status the host checked", () => {
    const { hw, host } = rig();
    const before = host.stats().waits;
    host.invalidateContext({ kind: "domain", did: 3 });
    host.invalidateIotlb({ kind: "page", did: 3, iova: 0x7000, size: PAGE_4K });
    host.invalidateInterruptEntries({ kind: "global" });
    expect(host.stats().waits - before).toBe(3);
    expect(hw.stats().qiWaits).toBe(host.stats().waits);
  });

  it("recovers from a queue error left by someone else: replaces the bad descriptor, clears IQE, reports EIO", () => {
    const { mem, hw, host } = rig();
    host.createDomain(1, 4);
    host.map(1, 0, RAM, PAGE_4K, "rw");
    host.attach(1, RID_A);
    // Sneak an invalid descriptor into the queue and ring the tail.
    const iqa = Number(hw.mmioRead(DMAR_IQA_REG, 8) & ~0xfffn);
    const tail = Number(hw.mmioRead(DMAR_IQT_REG, 8) >> 4n);
    writeEntry128(mem, iqa + tail * 16, { lo: 0x3n, hi: 0n });
    hw.mmioWrite(DMAR_IQT_REG, 8, BigInt((tail + 1) << 4));
    expect(host.faultStatus().iqe).toBe(true);
    expect(() => host.invalidateIotlb({ kind: "global" })).toThrow(/EIO/);
    expect(host.faultStatus().iqe).toBe(false);
    expect(hw.mmioRead(DMAR_IQH_REG, 8)).toBe(hw.mmioRead(DMAR_IQT_REG, 8));
    hw.translate(RID_A, 0, 4, false);
    host.unmap(1, 0, PAGE_4K);
    host.invalidateIotlb({ kind: "domain", did: 1 });
    expect(hw.translate(RID_A, 0, 4, false)).toBe(-1);
  });
});
