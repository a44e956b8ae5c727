/**
 * The VF driver's descriptor rings (igbvf_configure_tx/rx, igbvf_xmit_frame, igbvf_clean_tx_irq,
 * igbvf_clean_rx_irq): TX and RX rings in guest RAM the driver owns, their registers on BAR0, and the
 * data path over them. Ring memory is read and written through the guest's RAM accessors (by GPA);
 * the device is reached only by 32-bit MMIO on BAR0 (`VfBar0`).
 *
 * TX: `xmit` copies a frame into the next buffer(s), one descriptor per buffer with RS, EOP on the
 * last; `kick` writes TDT once per queue that has new descriptors; `reclaim` walks DD write-backs.
 * RX: every buffer is posted at setup; `poll` hands each complete frame's buffer (GPA, length) up,
 * re-posts it with the driver's own address, and moves RDT once per queue. A write-back the driver
 * cannot trust (a frame spanning buffers, a length of 0 or beyond the buffer) is counted and skipped.
 *
 * Nothing here allocates or throws after `setup`; everything is counted in the shared counters.
 */
import type { Guest } from "../hypervisor-glue/guest.js";
import { DESC_LEN, DESC_SIZE, E1000_RXD_STAT_DD, E1000_RXD_STAT_EOP, E1000_TXD_CMD_EOP, E1000_TXD_CMD_RS, E1000_TXD_STAT_DD, RXD_STATUS, TXD_STA } from "../nic/descriptors.js";
import { ETH_HLEN, MAX_FRAME } from "../nic/frame.js";
import {
  E1000_RDBAH,
  E1000_RDBAL,
  E1000_RDH,
  E1000_RDLEN,
  E1000_RDT,
  E1000_RXDCTL,
  E1000_RXDCTL_QUEUE_ENABLE,
  E1000_SRRCTL,
  E1000_SRRCTL_DROP_EN,
  E1000_TDBAH,
  E1000_TDBAL,
  E1000_TDH,
  E1000_TDLEN,
  E1000_TDT,
  E1000_TXDCTL,
  E1000_TXDCTL_QUEUE_ENABLE,
  MAX_QUEUES,
} from "../nic/regs.js";
import type { DmaLayout } from "./dma-layout.js";
import type { RxHandler, VfDriverCounters } from "./types.js";

/** 32-bit MMIO on the VF's BAR0, as the driver issues it. */
export interface VfBar0 {
  read(off: number): number;
  write(off: number, value: number): void;
}

/** TXD_CMD is byte 11: bits 31:24 of the descriptor's second dword. */
const TXD_CMD_SHIFT = 24;
const TWO32 = 0x1_0000_0000;

export class VfRings {
  /** Queue pairs set up, and their bit mask. */
  nq = 0;
  allQueues = 0;

  private readonly txRingGpa = new Float64Array(MAX_QUEUES);
  private readonly rxRingGpa = new Float64Array(MAX_QUEUES);
  private readonly txBufGpa = new Float64Array(MAX_QUEUES);
  private readonly rxBufGpa = new Float64Array(MAX_QUEUES);
  /** Next TX descriptor to fill, next to reclaim, and the tail last written to TDT. */
  private readonly txTail = new Int32Array(MAX_QUEUES);
  private readonly txClean = new Int32Array(MAX_QUEUES);
  private readonly txKicked = new Int32Array(MAX_QUEUES);
  private readonly rxNext = new Int32Array(MAX_QUEUES);
  /** Inside a frame that spans buffers (its descriptors are skipped up to EOP). */
  private readonly rxSkipping = new Uint8Array(MAX_QUEUES);
  /** Frame length at the index of each frame's EOP descriptor, 0 elsewhere ([q × txCount + i]). */
  private txFrameLen = new Int32Array(0);
  private rxBusy = false;

  constructor(
    private readonly g: Guest,
    private readonly bar: VfBar0,
    private readonly c: VfDriverCounters,
    readonly txCount: number,
    readonly rxCount: number,
    readonly bufSize: number,
  ) {}

  /** Rings of `queues` queue pairs at `L`: registers programmed and read back, every RX buffer posted. */
  setup(L: DmaLayout, queues: number): string | null {
    const g = this.g;
    const bar = this.bar;
    this.nq = queues;
    this.allQueues = (1 << queues) - 1;
    this.txFrameLen = new Int32Array(queues * this.txCount);
    for (let q = 0; q < queues; q++) {
      const tx = L.txRing[q]!;
      const rx = L.rxRing[q]!;
      this.txRingGpa[q] = tx;
      this.rxRingGpa[q] = rx;
      this.txBufGpa[q] = L.txBufs[q]!;
      this.rxBufGpa[q] = L.rxBufs[q]!;
      this.txTail[q] = 0;
      this.txClean[q] = 0;
      this.txKicked[q] = 0;
      this.rxNext[q] = 0;
      this.rxSkipping[q] = 0;
      for (let i = 0; i < this.txCount; i++) {
        const d = tx + i * DESC_SIZE;
        g.write64n(d, 0);
        g.write32(d + DESC_LEN, 0);
        g.write32(d + TXD_STA, 0);
      }
      const txLen = this.txCount * DESC_SIZE;
      bar.write(E1000_TDBAL(q), tx % TWO32);
      bar.write(E1000_TDBAH(q), Math.floor(tx / TWO32));
      bar.write(E1000_TDLEN(q), txLen);
      bar.write(E1000_TDH(q), 0);
      bar.write(E1000_TDT(q), 0);
      bar.write(E1000_TXDCTL(q), E1000_TXDCTL_QUEUE_ENABLE);
      if (bar.read(E1000_TDLEN(q)) !== txLen || (bar.read(E1000_TXDCTL(q)) & E1000_TXDCTL_QUEUE_ENABLE) === 0) return `TX queue ${q} registers do not read back`;
      for (let i = 0; i < this.rxCount; i++) this.postRx(rx + i * DESC_SIZE, L.rxBufs[q]! + i * this.bufSize);
      const rxLen = this.rxCount * DESC_SIZE;
      bar.write(E1000_RDBAL(q), rx % TWO32);
      bar.write(E1000_RDBAH(q), Math.floor(rx / TWO32));
      bar.write(E1000_RDLEN(q), rxLen);
      bar.write(E1000_SRRCTL(q), (this.bufSize / 1024) | E1000_SRRCTL_DROP_EN);
      bar.write(E1000_RDH(q), 0);
      bar.write(E1000_RXDCTL(q), E1000_RXDCTL_QUEUE_ENABLE);
      bar.write(E1000_RDT(q), this.rxCount - 1);
      if (bar.read(E1000_RDLEN(q)) !== rxLen || (bar.read(E1000_RXDCTL(q)) & E1000_RXDCTL_QUEUE_ENABLE) === 0) return `RX queue ${q} registers do not read back`;
    }
    return null;
  }

  /** Disable every queue that was set up. */
  stop(): void {
    for (let q = 0; q < this.nq; q++) {
      this.bar.write(E1000_TXDCTL(q), 0);
      this.bar.write(E1000_RXDCTL(q), 0);
    }
  }

  /** Descriptors of queue q filled and not yet reclaimed. */
  txInFlight(q: number): number {
    const t = this.txTail[q] ?? 0;
    const cl = this.txClean[q] ?? 0;
    return t >= cl ? t - cl : t + this.txCount - cl;
  }

  xmit(frame: Uint8Array, len: number, q: number): boolean {
    const c = this.c;
    if (q >>> 0 !== q || q >= this.nq || (len | 0) !== len || len < ETH_HLEN || len > MAX_FRAME || len > frame.length) {
      c.txInvalid++;
      return false;
    }
    const count = this.txCount;
    const bs = this.bufSize;
    const need = len <= bs ? 1 : Math.ceil(len / bs);
    const tail = this.txTail[q]!;
    const clean = this.txClean[q]!;
    const used = tail >= clean ? tail - clean : tail + count - clean;
    // One descriptor always stays empty: head == tail means an empty ring.
    if (count - 1 - used < need) {
      c.txRingFull++;
      return false;
    }
    const g = this.g;
    const ring = this.txRingGpa[q]!;
    const bufs = this.txBufGpa[q]!;
    const lens = this.txFrameLen;
    const lbase = q * count;
    let i = tail;
    let off = 0;
    for (let k = 0; k < need; k++) {
      const seg = len - off < bs ? len - off : bs;
      const buf = bufs + i * bs;
      g.writeBytes(buf, frame, off, seg);
      const d = ring + i * DESC_SIZE;
      const last = k === need - 1;
      g.write64n(d, buf);
      g.write32(d + DESC_LEN, (seg | ((last ? E1000_TXD_CMD_EOP | E1000_TXD_CMD_RS : E1000_TXD_CMD_RS) << TXD_CMD_SHIFT)) >>> 0);
      g.write32(d + TXD_STA, 0);
      lens[lbase + i] = last ? len : 0;
      off += seg;
      i = i + 1 === count ? 0 : i + 1;
    }
    this.txTail[q] = i;
    c.txQueued++;
    return true;
  }

  kick(): number {
    let rung = 0;
    for (let q = 0; q < this.nq; q++) {
      const t = this.txTail[q]!;
      if (t === this.txKicked[q]) continue;
      this.txKicked[q] = t;
      this.c.txDoorbells++;
      rung++;
      this.bar.write(E1000_TDT(q), t);
    }
    return rung;
  }

  /** Reclaim the completed (DD) descriptors of the queues in `mask`; returns the frames completed. */
  reclaim(mask: number): number {
    const g = this.g;
    const c = this.c;
    const count = this.txCount;
    const lens = this.txFrameLen;
    let frames = 0;
    for (let q = 0; q < this.nq; q++) {
      if ((mask & (1 << q)) === 0) continue;
      const ring = this.txRingGpa[q]!;
      const tail = this.txKicked[q]!;
      const lbase = q * count;
      let i = this.txClean[q]!;
      while (i !== tail) {
        if ((g.read8(ring + i * DESC_SIZE + TXD_STA) & E1000_TXD_STAT_DD) === 0) break;
        const len = lens[lbase + i]!;
        if (len > 0) {
          c.txPackets++;
          c.txBytes += len;
          frames++;
        }
        i = i + 1 === count ? 0 : i + 1;
      }
      this.txClean[q] = i;
    }
    return frames;
  }

  /** Up to `budget` RX descriptors of the queues in `mask`. A nested call (from `onFrame`) takes nothing. */
  poll(mask: number, budget: number, onFrame: RxHandler): number {
    if (this.rxBusy || !(budget > 0)) return 0;
    this.rxBusy = true;
    this.c.rxPolls++;
    let done = 0;
    try {
      for (let q = 0; q < this.nq && done < budget; q++) if ((mask & (1 << q)) !== 0) done += this.pollQueue(q, budget - done, onFrame);
    } finally {
      this.rxBusy = false;
    }
    return done;
  }

  private pollQueue(q: number, budget: number, onFrame: RxHandler): number {
    const g = this.g;
    const c = this.c;
    const count = this.rxCount;
    const bs = this.bufSize;
    const ring = this.rxRingGpa[q]!;
    const bufs = this.rxBufGpa[q]!;
    let i = this.rxNext[q]!;
    let n = 0;
    while (n < budget) {
      const d = ring + i * DESC_SIZE;
      const st = g.read8(d + RXD_STATUS);
      if ((st & E1000_RXD_STAT_DD) === 0) break;
      const len = g.read16(d + DESC_LEN);
      const buf = bufs + i * bs;
      if ((st & E1000_RXD_STAT_EOP) === 0) {
        // A frame spanning buffers: not what this driver sized its buffers for; drop the chain.
        if (this.rxSkipping[q] === 0) c.rxErrors++;
        this.rxSkipping[q] = 1;
      } else if (this.rxSkipping[q] !== 0) {
        this.rxSkipping[q] = 0;
      } else if (len === 0 || len > bs) {
        c.rxErrors++;
      } else {
        c.rxPackets++;
        c.rxBytes += len;
        onFrame(buf, len);
      }
      this.postRx(d, buf);
      i = i + 1 === count ? 0 : i + 1;
      n++;
    }
    if (n > 0) {
      this.rxNext[q] = i;
      c.rxDoorbells++;
      this.bar.write(E1000_RDT(q), i === 0 ? count - 1 : i - 1);
    }
    return n;
  }

  /** Hand a buffer to the device: its address, the write-back half cleared (DD = 0). */
  private postRx(d: number, buf: number): void {
    const g = this.g;
    g.write64n(d, buf);
    g.write32(d + DESC_LEN, 0);
    g.write32(d + RXD_STATUS, 0);
  }
}
