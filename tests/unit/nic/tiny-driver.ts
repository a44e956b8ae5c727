/**
 * A test-local driver: brings queues up through BAR0 writes, writes descriptors and buffers into
 * PhysMem (identity translation: IOVA = host address), bumps tails, and reads RX write-backs.
 * It reaches the NIC only through its MmioHandler, as a real driver would.
 */
import type { PhysMem } from "../../../src/memory/physmem.js";
import type { MmioHandler } from "../../../src/pcie/function.js";
import type { MsiSink } from "../../../src/pcie/dma.js";
import {
  DESC_SIZE,
  E1000_RXD_STAT_DD,
  E1000_TXD_CMD_EOP,
  E1000_TXD_CMD_RS,
  E1000_TXD_CMD_VLE,
  readRxDesc,
  writeRxDesc,
  writeTxDesc,
} from "../../../src/nic/descriptors.js";
import {
  E1000_EIAC,
  E1000_EIMS,
  E1000_IVAR,
  E1000_IVAR_MISC,
  E1000_IVAR_VALID,
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
  PCI_MSIX_ENTRY_DATA,
  PCI_MSIX_ENTRY_LOWER_ADDR,
  PCI_MSIX_ENTRY_SIZE,
  PCI_MSIX_ENTRY_UPPER_ADDR,
  PCI_MSIX_ENTRY_VECTOR_CTRL,
} from "../../../src/nic/regs.js";

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
  readonly txRing: number;
  readonly rxRing: number;
  readonly txBufs: number;
  readonly rxBufs: number;
  txTail = 0;
  rxNext = 0;

  constructor(
    readonly mmio: MmioHandler,
    readonly mem: PhysMem,
    readonly base: number,
    readonly count = 64,
    readonly bufSize = 2048,
    readonly q = 0,
    readonly msixBar = 3,
  ) {
    this.txRing = base;
    this.rxRing = base + count * DESC_SIZE;
    this.txBufs = base + 2 * count * DESC_SIZE;
    this.rxBufs = this.txBufs + count * bufSize;
  }

  w(off: number, v: number): void {
    this.mmio.mmioWrite(0, off, 4, v >>> 0);
  }
  r(off: number): number {
    return this.mmio.mmioRead(0, off, 4);
  }

  upTx(): void {
    const q = this.q;
    this.w(E1000_TDBAL(q), this.txRing % 2 ** 32);
    this.w(E1000_TDBAH(q), Math.floor(this.txRing / 2 ** 32));
    this.w(E1000_TDLEN(q), this.count * DESC_SIZE);
    this.w(E1000_TDH(q), 0);
    this.w(E1000_TDT(q), 0);
    this.w(E1000_TXDCTL(q), E1000_TXDCTL_QUEUE_ENABLE);
    this.txTail = 0;
  }

  upRx(): void {
    const q = this.q;
    this.w(E1000_RDBAL(q), this.rxRing % 2 ** 32);
    this.w(E1000_RDBAH(q), Math.floor(this.rxRing / 2 ** 32));
    this.w(E1000_RDLEN(q), this.count * DESC_SIZE);
    this.w(E1000_SRRCTL(q), this.bufSize / 1024);
    this.w(E1000_RDH(q), 0);
    for (let i = 0; i < this.count; i++) writeRxDesc(this.mem, this.rxRing + i * DESC_SIZE, this.rxBufs + i * this.bufSize);
    this.w(E1000_RXDCTL(q), E1000_RXDCTL_QUEUE_ENABLE);
    this.w(E1000_RDT(q), this.count - 1);
    this.rxNext = 0;
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

  /** Queue one frame (one or more descriptors) without bumping the tail. */
  queue(frame: Uint8Array, opts: { vlan?: number; split?: number } = {}): void {
    const parts = opts.split ?? 1;
    const per = Math.ceil(frame.length / parts);
    for (let p = 0, off = 0; p < parts; p++) {
      const n = Math.min(per, frame.length - off);
      const buf = this.txBufs + this.txTail * this.bufSize;
      this.mem.writeFrom(buf, frame, off, n);
      const last = p === parts - 1;
      const cmd = (last ? E1000_TXD_CMD_EOP | E1000_TXD_CMD_RS : 0) | (last && opts.vlan !== undefined ? E1000_TXD_CMD_VLE : 0);
      writeTxDesc(this.mem, this.txRing + this.txTail * DESC_SIZE, { addr: buf, len: n, cmd, vlan: opts.vlan ?? 0 });
      this.txTail = (this.txTail + 1) % this.count;
      off += n;
    }
  }
  bump(): void {
    this.w(E1000_TDT(this.q), this.txTail);
  }
  send(frame: Uint8Array, opts: { vlan?: number; split?: number } = {}): void {
    this.queue(frame, opts);
    this.bump();
  }

  /** Completed RX frames (descriptors with DD), re-posting their buffers. */
  receive(): RxFrame[] {
    const out: RxFrame[] = [];
    let parts: Uint8Array[] = [];
    for (;;) {
      const at = this.rxRing + this.rxNext * DESC_SIZE;
      const d = readRxDesc(this.mem, at);
      if ((d.status & E1000_RXD_STAT_DD) === 0) break;
      parts.push(this.mem.read(d.addr, d.len));
      if ((d.status & 0x02) !== 0) {
        const len = parts.reduce((a, p) => a + p.length, 0);
        const bytes = new Uint8Array(len);
        let o = 0;
        for (const p of parts) {
          bytes.set(p, o);
          o += p.length;
        }
        out.push({ bytes, status: d.status, vlan: d.vlan });
        parts = [];
      }
      writeRxDesc(this.mem, at, this.rxBufs + this.rxNext * this.bufSize);
      this.w(E1000_RDT(this.q), this.rxNext);
      this.rxNext = (this.rxNext + 1) % this.count;
    }
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
