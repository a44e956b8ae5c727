import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { PhysMem } from "../../../src/memory/physmem.js";
import { DMA_FAULT, type DmaTranslator } from "../../../src/pcie/dma.js";
import { Nic } from "../../../src/nic/nic.js";
import { defaultVfPortConfig } from "../../../src/nic/port-config.js";
import { E1000_RDBAL, E1000_RDT, E1000_TDBAL } from "../../../src/nic/regs.js";
import { planDma } from "../../../src/vf-driver/dma-layout.js";
import { IgbRings, hostMemory, type DmaMapper } from "../../../src/vf-driver/rings.js";

const MAC_A = 0x0200_0000_0001;
const MAC_B = 0x0200_0000_0002;
/** The device sees the drivers' memory at this offset (an IOMMU mapping IOVA = address + OFF). */
const OFF = 2 ** 36;

/** dma_map_single that hands out address + OFF and keeps the live mappings. */
class Mapper implements DmaMapper {
  readonly live = new Map<number, number>();
  maps = 0;
  unmaps = 0;
  map(addr: number, len: number): number {
    this.maps++;
    const iova = addr + OFF;
    expect(this.live.has(iova), `0x${addr.toString(16)} mapped twice`).toBe(false);
    this.live.set(iova, len);
    return iova;
  }
  unmap(iova: number, len: number): void {
    this.unmaps++;
    expect(this.live.get(iova), `unmap of 0x${iova.toString(16)}`).toBe(len);
    this.live.delete(iova);
  }
}

function pair(o: { ring?: number; stride?: number } = {}) {
  const mem = new PhysMem();
  // the device reaches only what is mapped, at address + OFF
  const ma = new Mapper();
  const mb = new Mapper();
  const translator: DmaTranslator = {
    translate: (_rid, iova) => {
      const hpa = iova - OFF;
      for (const m of [ma, mb]) for (const [at, len] of m.live) if (iova >= at && iova < at + Math.max(len, 1)) return hpa;
      return DMA_FAULT;
    },
  };
  const nic = new Nic({ mem, translator, msiSink: { msiWrite: () => undefined }, template: { maxVfs: 2, queuesPerVf: 1 } });
  nic.setNumVfs(2);
  nic.setVfConfig(0, { ...defaultVfPortConfig(), mac: MAC_A });
  nic.setVfConfig(1, { ...defaultVfPortConfig(), mac: MAC_B });
  nic.setMaxFrame(1, 9000); // frames past one RX buffer reach the driver (spanning buffers)
  const ring = o.ring ?? 16;
  const port = (k: number) => ({ read32: (off: number) => nic.vfMmio(k).mmioRead(0, off, 4), write32: (off: number, v: number) => nic.vfMmio(k).mmioWrite(0, off, 4, v) });
  const La = planDma(0x100_0000, 1, ring, ring, 2048, o.stride ?? 2048);
  const Lb = planDma(0x200_0000, 1, ring, ring, 2048, o.stride ?? 2048);
  const a = new IgbRings(hostMemory(mem), port(0), { txCount: ring, rxCount: ring, bufSize: 2048, dma: ma });
  const b = new IgbRings(hostMemory(mem), port(1), { txCount: ring, rxCount: ring, bufSize: 2048, dma: mb });
  expect(a.setup(La)).toBeNull();
  expect(b.setup(Lb)).toBeNull();
  return { nic, mem, a, b, ma, mb, La, Lb, ring };
}

function frame(len: number, seed: number): Uint8Array {
  const f = new Uint8Array(len);
  for (let i = 0; i < 6; i++) {
    f[i] = Math.floor(MAC_B / 2 ** (8 * (5 - i))) & 0xff;
    f[6 + i] = Math.floor(MAC_A / 2 ** (8 * (5 - i))) & 0xff;
  }
  f[12] = 0x88;
  f[13] = 0xb5;
  for (let i = 14; i < len; i++) f[i] = (seed * 13 + i) & 0xff;
  return f;
}

describe("igb ring driver: DMA mapping", () => {
  it("setup maps both rings and every RX slot but one; the device is given IOVAs", () => {
    const { nic, ma, La, ring } = pair();
    expect(ma.maps).toBe(2 + ring - 1);
    expect(nic.vfMmio(0).mmioRead(0, E1000_TDBAL(0), 4)).toBe((La.txRing[0]! + OFF) % 2 ** 32);
    expect(nic.vfMmio(0).mmioRead(0, E1000_RDBAL(0), 4)).toBe((La.rxRing[0]! + OFF) % 2 ** 32);
    expect(nic.vfMmio(0).mmioRead(0, E1000_RDT(0), 4)).toBe(ring - 1);
  });

  it("a TX buffer is mapped from xmit to reclaim, an RX buffer from posting to receipt; frames arrive intact", () => {
    fc.assert(
      fc.property(fc.array(fc.array(fc.integer({ min: 14, max: 5000 }), { minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 8 }), (batches) => {
        const { a, b, ma, mb, ring } = pair();
        const base = { a: ma.live.size, b: mb.live.size };
        const sent: Uint8Array[] = [];
        const got: Uint8Array[] = [];
        let seed = 0;
        for (const batch of batches) {
          let descs = 0;
          for (const len of batch) {
            const f = frame(len, seed++);
            if (a.xmit(f, len)) {
              sent.push(f);
              descs += Math.ceil(len / 2048);
            }
          }
          // every descriptor's buffer is mapped until reclaimed
          expect(ma.live.size).toBe(base.a + descs);
          a.kick();
          a.reclaim(1);
          expect(ma.live.size).toBe(base.a);
          while (b.pollCopy(1, ring, (buf, len) => got.push(buf.slice(0, len))) > 0);
          // as many RX buffers posted as before: one mapped for each taken
          expect(mb.live.size).toBe(base.b);
        }
        // frames up to one buffer arrive; longer ones span RX buffers and are dropped as errors
        const fits = sent.filter((f) => f.length <= 2048);
        expect(got.map((f) => Array.from(f))).toEqual(fits.map((f) => Array.from(f)));
        expect(b.counters.rxErrors).toBe(sent.length - fits.length);
        expect(a.counters.txPackets).toBe(sent.length);
      }),
      { numRuns: 30 },
    );
  });

  it("stop gives back every mapping", () => {
    const { a, b, ma, mb } = pair();
    a.xmit(frame(100, 1), 100);
    a.stop();
    b.stop();
    expect(ma.live.size).toBe(0);
    expect(mb.live.size).toBe(0);
    expect(ma.maps).toBe(ma.unmaps);
  });
});

describe("igb ring driver: TX buffers from a pool, last freed first reused (a slab freelist)", () => {
  it("no buffer is in two descriptors at once, frames arrive intact, and the buffers ever used are the most in flight at once", () => {
    // ops: a frame of n bytes queued (n > 0), a doorbell (0), a reclaim (−1)
    const op = fc.oneof(fc.integer({ min: 14, max: 6000 }), fc.constant(0), fc.constant(-1));
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 80 }), (ops) => {
        const { a, b, ma, La, ring } = pair();
        const txLo = La.txBufs[0]! + OFF;
        const txHi = txLo + ring * La.stride;
        const used = new Set<number>();
        let peak = 0;
        const inFlight = (): number => [...ma.live.keys()].filter((i) => i >= txLo && i < txHi).length;
        const sent: number[][] = [];
        const got: number[][] = [];
        let seed = 0;
        for (const o of ops) {
          if (o > 0) {
            const f = frame(o, seed++);
            if (a.xmit(f, o)) sent.push(Array.from(f));
          } else if (o === 0) a.kick();
          else a.reclaim(1);
          // the Mapper refuses an IOVA mapped twice: a buffer shared by two live descriptors fails here
          for (const i of ma.live.keys()) if (i >= txLo && i < txHi) used.add(i);
          peak = Math.max(peak, inFlight());
          while (b.pollCopy(1, ring, (buf, len) => got.push(Array.from(buf.subarray(0, len)))) > 0);
        }
        a.kick();
        a.reclaim(1);
        while (b.pollCopy(1, ring, (buf, len) => got.push(Array.from(buf.subarray(0, len)))) > 0);
        expect(inFlight()).toBe(0);
        expect(got).toEqual(sent.filter((f) => f.length <= 2048));
        // last freed, first reused: a buffer is new only when every one used before is in flight
        expect(used.size).toBe(peak);
      }),
      { numRuns: 150 },
    );
  });

  it("a frame after a reclaim goes out from the buffer freed last", () => {
    const { a, ma, La } = pair();
    const tx = (): number[] => [...ma.live.keys()].filter((i) => i >= La.txBufs[0]! + OFF && i < La.rxBufs[0]! + OFF).sort((x, y) => x - y);
    for (let k = 0; k < 3; k++) expect(a.xmit(frame(60, k), 60)).toBe(true);
    const first = tx();
    expect(first).toEqual([0, 1, 2].map((k) => La.txBufs[0]! + OFF + k * La.stride));
    a.kick();
    a.reclaim(1);
    expect(a.xmit(frame(60, 9), 60)).toBe(true);
    // reclaim freed buffers 0, 1, 2 in that order: 2 is on top
    expect(tx()).toEqual([first[2]!]);
  });
});

describe("igb ring driver: buffers at a stride", () => {
  it("RX slot i's buffer is at base + i × stride", () => {
    const stride = 8192;
    const { a, b, La, Lb, ring } = pair({ stride });
    const at: number[] = [];
    for (let k = 0; k < 2 * ring; k++) {
      expect(a.xmit(frame(60, k), 60)).toBe(true);
      a.kick();
      a.reclaim(1);
      b.poll(1, 4, (addr) => at.push(addr));
    }
    expect(at).toEqual(Array.from({ length: 2 * ring }, (_, k) => Lb.rxBufs[0]! + (k % ring) * stride));
    expect(La.rxBufs[0]! - La.txBufs[0]!).toBe(ring * stride);
  });
});
