/**
 * A test driver for one queue pair of a NIC function: the igb ring driver (src/vf-driver/rings.ts)
 * on host memory (PhysMem, identity DMA: IOVA = host address), reaching the NIC only through its
 * MmioHandler, as a real driver would. On top, what the NIC's tests need to look at: `receive`
 * reassembles frames that span RX buffers and reports each frame's write-back status and VLAN tag;
 * `send` may ask for a VLAN tag to be inserted; `upMsix` routes the queue's causes to MSI-X vectors.
 */
import type { PhysMem } from "../../../src/memory/physmem.js";
import type { MmioHandler } from "../../../src/pcie/function.js";
import type { MsiSink } from "../../../src/pcie/dma.js";
import { E1000_RXD_STAT_EOP, RXD_SPECIAL, RXD_STATUS } from "../../../src/nic/descriptors.js";
import {
  E1000_EIAC,
  E1000_EIMS,
  E1000_IVAR,
  E1000_IVAR_MISC,
  E1000_IVAR_VALID,
  E1000_TDH,
  PCI_MSIX_ENTRY_DATA,
  PCI_MSIX_ENTRY_LOWER_ADDR,
  PCI_MSIX_ENTRY_SIZE,
  PCI_MSIX_ENTRY_UPPER_ADDR,
  PCI_MSIX_ENTRY_VECTOR_CTRL,
} from "../../../src/nic/regs.js";
import { planDma } from "../../../src/vf-driver/dma-layout.js";
import { IgbRings, hostMemory } from "../../../src/vf-driver/rings.js";

export interface RxFrame {
  bytes: Uint8Array;
  status: number;
  vlan: number;
}

export class RecordingMsi implements MsiSink {
  readonly writes: Array<{ rid: number; addr: number; data: number }> = [];
  msiWrite(rid: number, addr: number, data: number): void {
    this.writes.push({ rid, addr, data });
  }
}

export class TinyDriver {
  readonly rings: IgbRings;
  /** Queue q's rings and first buffers (buffer i at + i × bufSize). */
  readonly txRing: number;
  readonly rxRing: number;
  readonly txBufs: number;
  readonly rxBufs: number;

  constructor(
    readonly mmio: MmioHandler,
    readonly mem: PhysMem,
    readonly base: number,
    readonly count = 64,
    readonly bufSize = 2048,
    readonly q = 0,
    readonly msixBar = 3,
  ) {
    // Queue pairs 0..q in the layout; only q's is brought up.
    const L = planDma(base, q + 1, count, count, bufSize);
    this.txRing = L.txRing[q]!;
    this.rxRing = L.rxRing[q]!;
    this.txBufs = L.txBufs[q]!;
    this.rxBufs = L.rxBufs[q]!;
    this.rings = new IgbRings(hostMemory(mem), { read32: (o) => this.r(o), write32: (o, v) => this.w(o, v) }, { txCount: count, rxCount: count, bufSize, rxChains: true });
    this.check(this.rings.attach(L, q + 1));
  }

  w(off: number, v: number): void {
    this.mmio.mmioWrite(0, off, 4, v >>> 0);
  }
  r(off: number): number {
    return this.mmio.mmioRead(0, off, 4);
  }

  private check(err: string | null): void {
    if (err !== null) throw new Error(err);
  }

  upTx(): void {
    this.check(this.rings.setupTx(this.q));
  }

  upRx(): void {
    this.check(this.rings.setupRx(this.q));
  }

  /** Route queue q's RX cause to vector rxVec, TX to txVec, misc to miscVec; program and unmask the MSI-X entries. */
  upMsix(vectors: ReadonlyArray<{ vec: number; addr: number; data: number }>, rxVec: number, txVec: number, miscVec: number): void {
    const q = this.q;
    const shiftRx = (q & 1) === 0 ? 0 : 16;
    const shiftTx = (q & 1) === 0 ? 8 : 24;
    const ivar = this.r(E1000_IVAR(q >> 1));
    this.w(E1000_IVAR(q >> 1), ivar | ((rxVec | E1000_IVAR_VALID) << shiftRx) | ((txVec | E1000_IVAR_VALID) << shiftTx));
    this.w(E1000_IVAR_MISC, miscVec | E1000_IVAR_VALID);
    for (const v of vectors) {
      const e = v.vec * PCI_MSIX_ENTRY_SIZE;
      this.mmio.mmioWrite(this.msixBar, e + PCI_MSIX_ENTRY_LOWER_ADDR, 4, v.addr % 2 ** 32);
      this.mmio.mmioWrite(this.msixBar, e + PCI_MSIX_ENTRY_UPPER_ADDR, 4, Math.floor(v.addr / 2 ** 32));
      this.mmio.mmioWrite(this.msixBar, e + PCI_MSIX_ENTRY_DATA, 4, v.data);
      this.mmio.mmioWrite(this.msixBar, e + PCI_MSIX_ENTRY_VECTOR_CTRL, 4, 0);
    }
    const mask = (1 << rxVec) | (1 << txVec) | (1 << miscVec);
    this.w(E1000_EIAC, mask);
    this.w(E1000_EIMS, mask);
  }

  /** Queue one frame (one descriptor per buffer it needs; VLE and the tag when `vlan` is given) without ringing the doorbell. */
  queue(frame: Uint8Array, opts: { vlan?: number } = {}): void {
    if (!this.rings.xmit(frame, frame.length, this.q, opts.vlan ?? -1)) throw new Error(`TX queue ${this.q} refused a ${frame.length}-byte frame`);
  }
  /** Ring the doorbell, then reclaim what the device completed. */
  bump(): void {
    this.rings.kickQueue(this.q);
    this.rings.reclaimQueue(this.q);
  }
  send(frame: Uint8Array, opts: { vlan?: number } = {}): void {
    this.queue(frame, opts);
    this.bump();
  }
  /** Next TX descriptor to fill (the tail the next doorbell writes). */
  get txTail(): number {
    return this.rings.txNextToUse(this.q);
  }

  /** Completed RX frames, reassembled from their buffers, with the status and VLAN tag of their last descriptor. */
  receive(): RxFrame[] {
    const out: RxFrame[] = [];
    let parts: Uint8Array[] = [];
    const mem = this.mem;
    const take = (addr: number, len: number, desc: number): void => {
      parts.push(mem.read(addr, len));
      const status = mem.read8(desc + RXD_STATUS);
      if ((status & E1000_RXD_STAT_EOP) === 0) return;
      const bytes = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
      let o = 0;
      for (const p of parts) {
        bytes.set(p, o);
        o += p.length;
      }
      out.push({ bytes, status, vlan: mem.read16(desc + RXD_SPECIAL) });
      parts = [];
    };
    while (this.rings.poll(1 << this.q, this.count, take) > 0);
    return out;
  }

  txHead(): number {
    return this.r(E1000_TDH(this.q));
  }
}

export function mac(s: string): number {
  return s.split(":").reduce((a, h) => a * 256 + parseInt(h, 16), 0);
}

/** An Ethernet frame: dst, src, optional tags [(tpid, tci)], ethertype, payload of `len` bytes (pattern by seed). */
export function frame(dst: number, src: number, payloadLen: number, opts: { tags?: ReadonlyArray<[number, number]>; type?: number; seed?: number } = {}): Uint8Array {
  const tags = opts.tags ?? [];
  const f = new Uint8Array(14 + 4 * tags.length + payloadLen);
  for (let i = 0; i < 6; i++) {
    f[i] = Math.floor(dst / 2 ** (8 * (5 - i))) & 0xff;
    f[6 + i] = Math.floor(src / 2 ** (8 * (5 - i))) & 0xff;
  }
  let o = 12;
  for (const [tpid, tci] of tags) {
    f[o] = tpid >> 8;
    f[o + 1] = tpid & 0xff;
    f[o + 2] = tci >> 8;
    f[o + 3] = tci & 0xff;
    o += 4;
  }
  const type = opts.type ?? 0x0800;
  f[o] = type >> 8;
  f[o + 1] = type & 0xff;
  o += 2;
  const seed = opts.seed ?? 1;
  for (let i = 0; i < payloadLen; i++) f[o + i] = (seed * 31 + i * 7) & 0xff;
  return f;
}
