/**
 * One TX/RX queue pair of an igb-family function (PF or VF), driven as Linux's igb/igbvf/ixgbevf
 * drivers drive it: legacy 16-byte descriptors in the driver's memory, buffers named by their DMA
 * address (IOVA), tail registers written through the function's BAR, DD write-backs polled.
 * It reaches the NIC only through MMIO (a `RegPort`) and memory it owns (`Guest` RAM accessors: a
 * guest's RAM for a VF in a VM, the host kernel's for the PF).
 *
 * Buffers: slot i of a ring uses the buffer at base + i × stride (stride ≥ buffer size), so the
 * DMA working set of a ring is ring size × stride bytes (what an IOTLB has to cover).
 */
import type { Guest } from "../../../src/hypervisor-glue/guest.js";
import {
  DESC_SIZE,
  E1000_RXD_STAT_DD,
  E1000_RXD_STAT_EOP,
  E1000_TXD_CMD_EOP,
  E1000_TXD_CMD_IFCS,
  E1000_TXD_CMD_RS,
  E1000_TXD_STAT_DD,
  RXD_STATUS,
  TXD_CMD,
  TXD_STA,
} from "../../../src/nic/descriptors.js";
import {
  E1000_RDBAH,
  E1000_RDBAL,
  E1000_RDH,
  E1000_RDLEN,
  E1000_RDT,
  E1000_RXDCTL,
  E1000_RXDCTL_QUEUE_ENABLE,
  E1000_SRRCTL,
  E1000_TDBAH,
  E1000_TDBAL,
  E1000_TDH,
  E1000_TDLEN,
  E1000_TDT,
  E1000_TXDCTL,
  E1000_TXDCTL_QUEUE_ENABLE,
} from "../../../src/nic/regs.js";

/** 32-bit register access to the function's BAR0. */
export interface RegPort {
  write32(off: number, v: number): void;
  read32(off: number): number;
}

/** The driver's DMA API: streaming mappings of buffers (dma_map_single / dma_unmap_single). */
export interface DmaMapper {
  /** IOVA for [gpa, gpa+len) of the driver's memory, mapped for the device. */
  map(gpa: number, len: number): number;
  unmap(iova: number, len: number): void;
}

/** IOVA = GPA: the whole of the driver's memory is mapped once (VFIO's static guest-RAM mapping, or iommu=pt). */
export const STATIC_MAPPING: DmaMapper = {
  map: (gpa) => gpa,
  unmap: () => undefined,
};

export interface IgbQueueLayout {
  readonly q: number;
  readonly txRing: number;
  readonly rxRing: number;
  readonly txBufs: number;
  readonly rxBufs: number;
  readonly entries: number;
  readonly bufSize: number;
  readonly stride: number;
}

/** Bytes of driver memory a queue pair needs: two rings plus 2 × entries buffers at `stride`. */
export function igbQueueBytes(entries: number, stride: number): number {
  return 2 * Math.ceil((entries * DESC_SIZE) / 4096) * 4096 + 2 * entries * stride;
}

/** Lay a queue pair out from `base` (4 KiB aligned) in driver memory. */
export function igbQueueLayout(q: number, base: number, entries: number, bufSize: number, stride: number): IgbQueueLayout {
  const ringBytes = Math.ceil((entries * DESC_SIZE) / 4096) * 4096;
  return {
    q,
    txRing: base,
    rxRing: base + ringBytes,
    txBufs: base + 2 * ringBytes,
    rxBufs: base + 2 * ringBytes + entries * stride,
    entries,
    bufSize,
    stride,
  };
}

/*
 * Data-path constants as module-local bindings: under the TypeScript runners (tsx/esbuild, vite) an
 * imported binding can compile to an accessor call per use.
 */
const D_SIZE = DESC_SIZE;
const D_TXD_CMD = TXD_CMD;
const D_TXD_STA = TXD_STA;
const D_RXD_STATUS = RXD_STATUS;
const TX_CMD = E1000_TXD_CMD_EOP | E1000_TXD_CMD_IFCS | E1000_TXD_CMD_RS;
const TX_DD = E1000_TXD_STAT_DD;
const RX_DD = E1000_RXD_STAT_DD;
const RX_EOP = E1000_RXD_STAT_EOP;

export class IgbQueue {
  private readonly tdt: number;
  private readonly rdt: number;
  private txTail = 0;
  private txClean = 0;
  private txUsed = 0;
  private txWritten = 0;
  private rxNext = 0;
  /** Next slot to post a buffer into (next_to_use); RDT = this. */
  private rxNtu = 0;
  private readonly txIova: Float64Array;
  private readonly rxIova: Float64Array;
  /** Driver counters. */
  txPackets = 0;
  rxPackets = 0;
  doorbells = 0;
  readonly scratch: Uint8Array;

  constructor(
    readonly mem: Guest,
    readonly regs: RegPort,
    readonly L: IgbQueueLayout,
    readonly dma: DmaMapper,
  ) {
    this.txIova = new Float64Array(L.entries).fill(-1);
    this.rxIova = new Float64Array(L.entries).fill(-1);
    this.scratch = new Uint8Array(L.bufSize);
    this.tdt = E1000_TDT(L.q);
    this.rdt = E1000_RDT(L.q);
  }

  /** Bring the queue pair up (rings programmed, every RX slot but one posted, queues enabled). */
  up(): void {
    const { q, entries } = this.L;
    const r = this.regs;
    const txRing = this.dma.map(this.L.txRing, entries * DESC_SIZE);
    const rxRing = this.dma.map(this.L.rxRing, entries * DESC_SIZE);
    for (let i = 0; i < entries; i++) {
      for (let o = 0; o < DESC_SIZE; o += 4) this.mem.write32(this.L.txRing + i * DESC_SIZE + o, 0);
    }
    r.write32(E1000_TDBAL(q), txRing % 2 ** 32);
    r.write32(E1000_TDBAH(q), Math.floor(txRing / 2 ** 32));
    r.write32(E1000_TDLEN(q), entries * DESC_SIZE);
    r.write32(E1000_TDH(q), 0);
    r.write32(E1000_TDT(q), 0);
    r.write32(E1000_TXDCTL(q), E1000_TXDCTL_QUEUE_ENABLE);
    r.write32(E1000_RDBAL(q), rxRing % 2 ** 32);
    r.write32(E1000_RDBAH(q), Math.floor(rxRing / 2 ** 32));
    r.write32(E1000_RDLEN(q), entries * DESC_SIZE);
    r.write32(E1000_SRRCTL(q), Math.max(1, Math.ceil(this.L.bufSize / 1024)));
    r.write32(E1000_RDH(q), 0);
    for (let i = 0; i < entries - 1; i++) this.postRx(i);
    this.rxNtu = entries - 1;
    r.write32(E1000_RXDCTL(q), E1000_RXDCTL_QUEUE_ENABLE);
    r.write32(E1000_RDT(q), entries - 1);
  }

  private postRx(i: number): void {
    const gpa = this.L.rxBufs + i * this.L.stride;
    const iova = this.dma.map(gpa, this.L.bufSize);
    this.rxIova[i] = iova;
    const d = this.L.rxRing + i * D_SIZE;
    this.mem.write64n(d, iova);
    this.mem.write32(d + 8, 0);
    this.mem.write32(d + 12, 0);
  }

  /** Free TX descriptors. */
  get txFree(): number {
    return this.L.entries - 1 - this.txUsed;
  }

  /** Copy a frame into the next TX buffer and write its descriptor; false when the ring is full. */
  xmit(frame: Uint8Array, len: number): boolean {
    if (this.txFree === 0 || len > this.L.bufSize) return false;
    const i = this.txTail;
    const gpa = this.L.txBufs + i * this.L.stride;
    this.mem.writeBytes(gpa, frame, 0, len);
    const iova = this.dma.map(gpa, len);
    this.txIova[i] = iova;
    const d = this.L.txRing + i * D_SIZE;
    this.mem.write64n(d, iova);
    this.mem.write32(d + 8, len); // length, CSO = 0, CMD below
    this.mem.write8(d + D_TXD_CMD, TX_CMD);
    this.mem.write32(d + 12, 0); // STA, CSS, special
    this.txTail = i + 1 === this.L.entries ? 0 : i + 1;
    this.txUsed++;
    this.txPackets++;
    return true;
  }

  /** Whether descriptors were queued since the last doorbell. */
  get txDirty(): boolean {
    return this.txWritten !== this.txTail;
  }

  /** Doorbell: tell the device the new tail. */
  flush(): void {
    if (this.txWritten === this.txTail) return;
    this.txWritten = this.txTail;
    this.doorbells++;
    this.regs.write32(this.tdt, this.txTail);
  }

  /** Reclaim transmitted descriptors (DD set); returns how many. */
  cleanTx(): number {
    let n = 0;
    while (this.txUsed > 0) {
      const i = this.txClean;
      const d = this.L.txRing + i * D_SIZE;
      if ((this.mem.read8(d + D_TXD_STA) & TX_DD) === 0) break;
      this.dma.unmap(this.txIova[i]!, this.mem.read16(d + 8));
      this.txIova[i] = -1;
      this.mem.write8(d + D_TXD_STA, 0);
      this.txClean = i + 1 === this.L.entries ? 0 : i + 1;
      this.txUsed--;
      n++;
    }
    return n;
  }

  /** Whether a received frame is waiting (DD set on the next RX descriptor). */
  rxPending(): boolean {
    return (this.mem.read8(this.L.rxRing + this.rxNext * D_SIZE + D_RXD_STATUS) & RX_DD) !== 0;
  }

  /**
   * Receive up to `budget` frames: each is copied out of its buffer into `scratch` and handed to
   * `onFrame`; as many buffers are re-posted at next_to_use and the tail is written once at the end. Frames longer than one
   * buffer are not expected (the queue's buffers fit the largest frame).
   */
  rxPoll(budget: number, onFrame: (buf: Uint8Array, len: number) => void): number {
    let n = 0;
    const E = this.L.entries;
    while (n < budget) {
      const i = this.rxNext;
      const d = this.L.rxRing + i * D_SIZE;
      const st = this.mem.read8(d + D_RXD_STATUS);
      if ((st & RX_DD) === 0) break;
      const len = this.mem.read16(d + 8);
      this.dma.unmap(this.rxIova[i]!, this.L.bufSize);
      if ((st & RX_EOP) !== 0 && len <= this.scratch.length) {
        this.mem.readBytes(this.L.rxBufs + i * this.L.stride, this.scratch, 0, len);
        this.rxPackets++;
        onFrame(this.scratch, len);
      }
      this.postRx(this.rxNtu);
      this.rxNtu = this.rxNtu + 1 === E ? 0 : this.rxNtu + 1;
      this.rxNext = i + 1 === E ? 0 : i + 1;
      n++;
    }
    if (n > 0) this.regs.write32(this.rdt, this.rxNtu);
    return n;
  }
}
