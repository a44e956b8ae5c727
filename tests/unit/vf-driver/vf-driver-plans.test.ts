import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { DESC_SIZE } from "../../../src/nic/descriptors.js";
import { isMulticastMac } from "../../../src/nic/port-config.js";
import { PAGE_ALIGN, RING_ALIGN, planDma } from "../../../src/vf-driver/dma-layout.js";
import { isLocallyAdministered, isUsableUnicast, localMacCandidate, macSeed } from "../../../src/vf-driver/mac.js";
import { planVectors, vectorMask } from "../../../src/vf-driver/vector-plan.js";

describe("vector plan", () => {
  it("igbvf's three vectors for one queue pair: RX 0, TX 1, other 2", () => {
    expect(planVectors(3, 1)).toMatchObject({ used: 3, rxVector: [0], txVector: [1], miscVector: 2, style: "split" });
    expect(planVectors(1, 4)).toMatchObject({ used: 1, miscVector: 0, style: "single" });
  });

  it("every cause has a vector below `used`, each queue's RX and TX appear once, misc is the last", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2048 }), fc.integer({ min: 1, max: 16 }), (entries, queues) => {
        const p = planVectors(entries, queues);
        expect(p.used).toBeGreaterThanOrEqual(1);
        expect(p.used).toBeLessThanOrEqual(Math.min(entries, 32));
        expect(p.miscVector).toBe(p.used - 1);
        let rx = 0;
        let tx = 0;
        for (let n = 0; n < p.used; n++) {
          expect(rx & p.rxQueues[n]!).toBe(0);
          expect(tx & p.txQueues[n]!).toBe(0);
          rx |= p.rxQueues[n]!;
          tx |= p.txQueues[n]!;
        }
        expect(rx).toBe((1 << queues) - 1);
        expect(tx).toBe((1 << queues) - 1);
        for (let q = 0; q < queues; q++) {
          expect(p.rxQueues[p.rxVector[q]!]! & (1 << q)).not.toBe(0);
          expect(p.txQueues[p.txVector[q]!]! & (1 << q)).not.toBe(0);
        }
        if (p.style === "split") expect(new Set([...p.rxVector, ...p.txVector, p.miscVector]).size).toBe(2 * queues + 1);
        expect(vectorMask(p.used)).toBe(2 ** p.used - 1);
      }),
    );
  });
});

describe("DMA layout", () => {
  it("rings on their own pages, buffers from a page at `stride`, nothing overlaps, all inside [base, end)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 40 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 64 }).map((n) => 8 * n),
        fc.integer({ min: 1, max: 64 }).map((n) => 8 * n),
        fc.integer({ min: 1, max: 16 }).map((n) => 1024 * n),
        fc.integer({ min: 0, max: 3 }),
        (base, queues, tx, rx, bs, wider) => {
          const stride = bs + wider * 2048;
          const L = planDma(base, queues, tx, rx, bs, stride);
          expect(L.stride).toBe(stride);
          const spans: Array<[number, number]> = [];
          for (let q = 0; q < queues; q++) {
            expect(L.txRing[q]! % PAGE_ALIGN).toBe(0);
            expect(L.rxRing[q]! % PAGE_ALIGN).toBe(0);
            expect(L.txRing[q]! % RING_ALIGN).toBe(0);
            expect(L.txBufs[q]! % PAGE_ALIGN).toBe(0);
            // a ring's pages hold nothing else
            spans.push([L.txRing[q]!, L.txRing[q]! + Math.ceil((tx * DESC_SIZE) / PAGE_ALIGN) * PAGE_ALIGN]);
            spans.push([L.rxRing[q]!, L.rxRing[q]! + Math.ceil((rx * DESC_SIZE) / PAGE_ALIGN) * PAGE_ALIGN]);
            for (let i = 0; i < tx; i++) spans.push([L.txBufs[q]! + i * stride, L.txBufs[q]! + i * stride + bs]);
            for (let i = 0; i < rx; i++) spans.push([L.rxBufs[q]! + i * stride, L.rxBufs[q]! + i * stride + bs]);
          }
          spans.sort((x, y) => x[0] - y[0]);
          expect(spans[0]![0]).toBeGreaterThanOrEqual(base);
          for (let i = 1; i < spans.length; i++) expect(spans[i]![0]).toBeGreaterThanOrEqual(spans[i - 1]![1]);
          expect(spans[spans.length - 1]![1]).toBeLessThanOrEqual(L.end);
        },
      ),
    );
  });
});

describe("chosen MACs", () => {
  it("are locally administered unicast addresses, distinct across attempts", () => {
    fc.assert(
      fc.property(fc.string(), fc.integer({ min: 0, max: 100 }), (name, attempt) => {
        const seed = macSeed(name);
        const m = localMacCandidate(seed, attempt);
        expect(isUsableUnicast(m)).toBe(true);
        expect(isMulticastMac(m)).toBe(false);
        expect(isLocallyAdministered(m)).toBe(true);
        expect(localMacCandidate(seed, attempt + 1)).not.toBe(m);
      }),
    );
  });
});
