import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { PhysMem, PAGE_SIZE } from "../../../src/memory/physmem.js";
import type { DmaTranslator } from "../../../src/pcie/dma.js";
import { DMA_FAULT, IDENTITY_TRANSLATOR } from "../../../src/pcie/dma.js";
import { Nic } from "../../../src/nic/nic.js";
import { defaultVfPortConfig } from "../../../src/nic/port-config.js";
import { E1000_RDBAH, E1000_TDT, E1000_TXDCTL, E1000_TXDCTL_QUEUE_ENABLE } from "../../../src/nic/regs.js";
import { writeRxDesc, writeTxDesc } from "../../../src/nic/descriptors.js";
import { RecordingMsi, TinyDriver, frame } from "./tiny-driver.js";

const MAC_A = 0x0200_0000_0001;
const MAC_B = 0x0200_0000_0002;
const REMOTE = 0x0299_0000_0001;
const RID_A = 0x0180;
const RID_B = 0x0182;

/** Identity translation except what `refuse` says no to; records every request. */
class GateTranslator implements DmaTranslator {
  readonly log: Array<{ rid: number; iova: number; len: number; write: boolean }> = [];
  faults = 0;
  constructor(public refuse: (rid: number, iova: number, len: number, write: boolean) => boolean = () => false) {}
  translate(rid: number, iova: number, len: number, write: boolean): number {
    this.log.push({ rid, iova, len, write });
    if (this.refuse(rid, iova, len, write)) {
      this.faults++;
      return DMA_FAULT;
    }
    return iova;
  }
}

function setup(tr: GateTranslator, bufSize = 2048) {
  const mem = new PhysMem();
  const wire: Uint8Array[] = [];
  const nic = new Nic({ mem, translator: tr, msiSink: new RecordingMsi(), template: { maxVfs: 2, queuesPerVf: 1 }, uplink: (b, o, l) => wire.push(b.slice(o, o + l)) });
  nic.setNumVfs(2);
  nic.setRequesterId(0, RID_A);
  nic.setRequesterId(1, RID_B);
  nic.setVfConfig(0, { ...defaultVfPortConfig(), mac: MAC_A });
  nic.setVfConfig(1, { ...defaultVfPortConfig(), mac: MAC_B });
  const a = new TinyDriver(nic.vfMmio(0), mem, 0x100_0000, 16, bufSize);
  const b = new TinyDriver(nic.vfMmio(1), mem, 0x200_0000, 16, bufSize);
  for (const d of [a, b]) {
    d.upTx();
    d.upRx();
  }
  return { mem, nic, a, b, wire };
}

const snapshot = (mem: PhysMem, at: number, len: number): Buffer => Buffer.from(mem.read(at, len));

describe("DMA faults", () => {
  it("a translator that refuses everything: no bytes written, fault counted, frame dropped", () => {
    const tr = new GateTranslator();
    const { mem, nic, b } = setup(tr);
    tr.refuse = () => true;
    const ring = snapshot(mem, b.rxRing, 16 * 16);
    const bufs = snapshot(mem, b.rxBufs, 16 * 2048);
    nic.wireRx(frame(MAC_B, REMOTE, 100));
    expect(snapshot(mem, b.rxRing, 16 * 16).equals(ring)).toBe(true);
    expect(snapshot(mem, b.rxBufs, 16 * 2048).equals(bufs)).toBe(true);
    expect(nic.stats(1)).toMatchObject({ rxPackets: 0, dmaFaults: 1, rxDropped: 1, drops: expect.objectContaining({ "dma-fault": 1 }) });
    expect(tr.faults).toBeGreaterThan(0);
    // the ring is unchanged: once translation works again the same descriptor is used
    tr.refuse = () => false;
    nic.wireRx(frame(MAC_B, REMOTE, 100));
    expect(b.receive()).toHaveLength(1);
  });

  it("every DMA a function issues carries its own requester ID", () => {
    const tr = new GateTranslator();
    const { nic, a, b } = setup(tr);
    tr.log.length = 0;
    a.send(frame(MAC_B, MAC_A, 60));
    const ringA = [a.txRing, a.txRing + 16 * 16];
    const ringB = [b.rxRing, b.rxRing + 16 * 16];
    for (const r of tr.log) {
      const inA = (r.iova >= ringA[0]! && r.iova < ringA[1]!) || (r.iova >= a.txBufs && r.iova < a.txBufs + 16 * 2048);
      const inB = (r.iova >= ringB[0]! && r.iova < ringB[1]!) || (r.iova >= b.rxBufs && r.iova < b.rxBufs + 16 * 2048);
      expect(inA || inB).toBe(true);
      expect(r.rid).toBe(inA ? RID_A : RID_B);
      expect(r.len).toBeLessThanOrEqual(PAGE_SIZE - (r.iova % PAGE_SIZE));
    }
    expect(nic.stats(1).rxPackets).toBe(1);
  });

  it("RX lands whole or not at all when any page of the descriptors or buffers is refused", () => {
    fc.assert(
      fc.property(fc.integer({ min: 60, max: 6000 }), fc.subarray([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]), fc.boolean(), (len, badPages, refuseRing) => {
        const tr = new GateTranslator();
        const { mem, nic, b } = setup(tr, 1024);
        nic.setMaxFrame(1, 9000);
        tr.refuse = (rid, iova, _l, write) =>
          rid === RID_B && ((refuseRing && write && iova < b.rxBufs) || (iova >= b.rxBufs && badPages.includes(Math.floor((iova - b.rxBufs) / PAGE_SIZE))));
        const span = b.rxBufs + 16 * 1024 - b.rxRing; // the RX ring up to the end of the RX buffers
        const before = snapshot(mem, b.rxRing, span);
        const f = frame(MAC_B, REMOTE, len, { seed: len });
        nic.wireRx(f);
        const after = snapshot(mem, b.rxRing, span);
        const st = nic.stats(1);
        if (st.rxPackets === 1) {
          const got = b.receive();
          expect(got).toHaveLength(1);
          expect(Buffer.from(got[0]!.bytes).equals(Buffer.from(f))).toBe(true);
        } else {
          expect(after.equals(before)).toBe(true);
          expect(st.dmaFaults).toBe(1);
          expect(st.drops["dma-fault"]).toBe(1);
        }
        // a refusal happened iff the frame was dropped
        expect(tr.faults > 0).toBe(st.rxPackets === 0);
      }),
      { numRuns: 150 },
    );
  });

  it("a TX fault stops the queue (malicious-driver detection): nothing sent, counted, re-enable resumes", () => {
    const tr = new GateTranslator();
    const { nic, a, b, wire } = setup(tr);
    tr.refuse = (rid, iova) => rid === RID_A && iova >= a.txBufs;
    a.send(frame(MAC_B, MAC_A, 60));
    a.send(frame(REMOTE, MAC_A, 60));
    expect(b.receive()).toHaveLength(0);
    expect(wire).toHaveLength(0);
    expect(a.r(E1000_TXDCTL(0)) & E1000_TXDCTL_QUEUE_ENABLE).toBe(0);
    expect(nic.stats(0)).toMatchObject({ txPackets: 0, dmaFaults: 1, txQueueStops: 1, txDropped: 1 });
    tr.refuse = () => false;
    a.w(E1000_TXDCTL(0), E1000_TXDCTL_QUEUE_ENABLE); // the driver re-enables: the pending descriptors go out
    expect(b.receive()).toHaveLength(1);
    expect(wire).toHaveLength(1);
  });

  it("an unfinished chain waits; a chain longer than the per-frame limit stops the queue as malformed", () => {
    const tr = new GateTranslator();
    const { nic, a } = setup(tr);
    const big = new TinyDriver(nic.vfMmio(0), a.mem, 0x300_0000, 128);
    big.upTx();
    for (let i = 0; i < 100; i++) writeTxDesc(a.mem, big.txRing + i * 16, { addr: big.txBufs, len: 10, cmd: 0 });
    big.w(E1000_TDT(0), 10);
    expect(nic.stats(0).txQueueStops).toBe(0); // no EOP before the tail: the device waits for more
    expect(big.txHead()).toBe(0);
    big.w(E1000_TDT(0), 100);
    expect(big.r(E1000_TXDCTL(0)) & E1000_TXDCTL_QUEUE_ENABLE).toBe(0);
    expect(nic.stats(0)).toMatchObject({ txQueueStops: 1, dmaFaults: 0, txDropped: 1, drops: expect.objectContaining({ oversize: 1 }) });
  });

  it("addresses outside host memory fault instead of throwing (no IOMMU, hostile descriptors)", () => {
    const mem = new PhysMem(1 << 28);
    const nic = new Nic({ mem, translator: IDENTITY_TRANSLATOR, msiSink: new RecordingMsi(), template: { maxVfs: 2, queuesPerVf: 1 } });
    nic.setNumVfs(2);
    nic.setVfConfig(0, { ...defaultVfPortConfig(), mac: MAC_A });
    nic.setVfConfig(1, { ...defaultVfPortConfig(), mac: MAC_B });
    const a = new TinyDriver(nic.vfMmio(0), mem, 0x100_0000, 16);
    const b = new TinyDriver(nic.vfMmio(1), mem, 0x200_0000, 16);
    a.upTx();
    b.upRx();
    writeRxDesc(mem, b.rxRing, 2 ** 40);
    expect(() => nic.wireRx(frame(MAC_B, REMOTE, 60))).not.toThrow();
    expect(nic.stats(1).drops["dma-fault"]).toBe(1);
    writeTxDesc(mem, a.txRing, { addr: 2 ** 45, len: 60, cmd: 0x09 });
    expect(() => a.w(E1000_TDT(0), 1)).not.toThrow();
    expect(nic.stats(0).txQueueStops).toBe(1);
    b.w(E1000_RDBAH(0), 0xffff_ffff); // the ring itself out of range
    expect(() => nic.wireRx(frame(MAC_B, REMOTE, 60))).not.toThrow();
    expect(nic.stats(1).drops["dma-fault"]).toBe(2);
  });
});
