/**
 * Emulated e1000 (trap-and-emulate): the device model runs in the hypervisor's user space; every
 * guest register access is a trapped MMIO exit (the Guest's trap region accounts it). The model
 * copies descriptors and buffers between guest RAM and its own frame buffer.
 *
 * TX takes legacy descriptors (a frame each, as the model's driver writes them) and the extended
 * ones of the 8254x (SDM §3.3.6–3.3.7), as QEMU's e1000 does: a TCP/IP context descriptor (DEXT,
 * DTYP 0) sets IPCSS, TUCSS, HDRLEN, MSS and TUCMD; data descriptors (DEXT, DTYP 1) gather a packet
 * up to EOP. With TSE the packet is cut into segments by the context (src/nic/tso.ts: headers
 * replicated, IPv4 length, ID and checksum, sequence, flags, TCP checksum), each sent on its own
 * (QEMU's xmit_seg, a tap write each). A packet whose EOP is not yet in the ring waits.
 */
import type { Guest, TrapHandler } from "../../../src/hypervisor-glue/guest.js";
import {
  E1000_DESC,
  E1000_ICR,
  E1000_ICR_RXT0,
  E1000_ICR_TXDW,
  E1000_ICS,
  E1000_IMC,
  E1000_IMS,
  E1000_RDBAH,
  E1000_RDBAL,
  E1000_RDH,
  E1000_RDLEN,
  E1000_RDT,
  E1000_RXD_STAT_DD,
  E1000_RXD_STAT_EOP,
  E1000_TDBAH,
  E1000_TDBAL,
  E1000_TDH,
  E1000_TDLEN,
  E1000_TDT,
  E1000_TXD_CMD_DEXT,
  E1000_TXD_CMD_EOP,
  E1000_TXD_CMD_RS,
  E1000_TXD_CMD_TSE,
  E1000_TXD_DTYP_D,
  E1000_TXD_STAT_DD,
  E1000_TXD_TUCMD_IP,
} from "./regs.js";
import { tsoSegmentInto, tsoSegments } from "../../../src/nic/tso.js";

export interface E1000Counters {
  txPackets: number;
  txBytes: number;
  rxPackets: number;
  rxBytes: number;
  rxNoBuffer: number;
  descReads: number;
  descWrites: number;
  interrupts: number;
}

export class E1000Device implements TrapHandler {
  private readonly regs = new Uint32Array(0x20000 / 4);
  readonly scratch = new Uint8Array(16384);
  readonly c: E1000Counters = { txPackets: 0, txBytes: 0, rxPackets: 0, rxBytes: 0, rxNoBuffer: 0, descReads: 0, descWrites: 0, interrupts: 0 };
  /** Frame leaving the device (to the tap/bridge). */
  onTx: (frame: Uint8Array, len: number) => void = () => {};
  /** A TSO packet taken from the ring: its descriptors and bytes (the emulation's work before its segments go out through onTxSegment). */
  onTsoPacket: (descriptors: number, bytes: number) => void = () => {};
  /** One segment the emulation cut from a TSO packet (to the tap/bridge). */
  onTxSegment: (frame: Uint8Array, len: number) => void = () => {};
  /** A TSO packet dropped as malformed: the segments it stood for (by its context's MSS, or 1). */
  onTsoMalformed: (segments: number) => void = () => {};
  /** The TCP/IP context (IPCSS, TUCSS, HDRLEN, MSS, TUCMD), as the last context descriptor set it. */
  private ctxIpcss = 0;
  private ctxTucss = 0;
  private ctxHdrLen = 0;
  private ctxMss = 0;
  private ctxTucmd = 0;
  /** A TSO packet gathered whole, and one segment of it (allocated at the first). */
  private tsoBuf: Uint8Array | undefined;
  private segBuf: Uint8Array | undefined;
  /** TSO packets and the segments cut from them; packets dropped as malformed (a context that cannot describe them). */
  tsoPackets = 0;
  tsoSegments = 0;
  tsoMalformed = 0;
  /** Interrupt line raised (the hypervisor injects it). */
  onInterrupt: () => void = () => {};
  /** The guest made receive buffers available (RDT written): QEMU flushes packets it queued. */
  onRxAvailable: () => void = () => {};

  constructor(readonly g: Guest) {}

  private reg(off: number): number {
    return this.regs[off >>> 2]!;
  }
  private set(off: number, v: number): void {
    this.regs[off >>> 2] = v >>> 0;
  }

  read(off: number, _size: 1 | 2 | 4): number {
    if (off === E1000_ICR) {
      const v = this.reg(E1000_ICR);
      this.set(E1000_ICR, 0); // read to clear
      return v;
    }
    return this.reg(off & ~3);
  }

  write(off: number, _size: 1 | 2 | 4, v: number): void {
    switch (off) {
      case E1000_IMS:
        this.set(E1000_IMS, this.reg(E1000_IMS) | v);
        this.maybeInterrupt();
        return;
      case E1000_IMC:
        this.set(E1000_IMS, this.reg(E1000_IMS) & ~v);
        return;
      case E1000_ICS:
        this.cause(v);
        return;
      case E1000_TDT:
        this.set(E1000_TDT, v);
        this.processTx();
        return;
      case E1000_RDT:
        this.set(E1000_RDT, v);
        this.onRxAvailable();
        return;
      default:
        this.set(off & ~3, v);
    }
  }

  private ringGpa(base: number, hi: number): number {
    return this.reg(hi) * 2 ** 32 + this.reg(base);
  }
  private ringN(len: number): number {
    return Math.floor(this.reg(len) / E1000_DESC);
  }

  private processTx(): void {
    const gpa = this.ringGpa(E1000_TDBAL, E1000_TDBAH);
    const n = this.ringN(E1000_TDLEN);
    if (n === 0) return;
    let head = this.reg(E1000_TDH);
    const tail = this.reg(E1000_TDT) % n;
    let sent = 0;
    while (head !== tail) {
      const d = gpa + head * E1000_DESC;
      const cmd = this.g.read8(d + 11);
      if ((cmd & E1000_TXD_CMD_DEXT) !== 0) {
        // an extended packet: its context and data descriptors up to EOP
        const next = this.processExtended(gpa, n, head, tail);
        if (next < 0) break; // EOP not in the ring yet
        head = next;
        sent++;
        continue;
      }
      const addr = this.g.read64n(d);
      const len = this.g.read16(d + 8);
      this.c.descReads++;
      const m = Math.min(len, this.scratch.length);
      this.g.readBytes(addr, this.scratch, 0, m);
      this.onTx(this.scratch, m);
      this.c.txPackets++;
      this.c.txBytes += m;
      if (cmd & E1000_TXD_CMD_RS) {
        this.g.write8(d + 12, E1000_TXD_STAT_DD);
        this.c.descWrites++;
      }
      head = (head + 1) % n;
      sent++;
    }
    this.set(E1000_TDH, head);
    if (sent > 0) this.cause(E1000_ICR_TXDW);
  }

  /**
   * The extended descriptors from `head`: context descriptors set the context; data descriptors
   * are gathered up to EOP into one packet, sent whole or (TSE) cut into segments. DD is written
   * wherever RS is set. Returns the index after the packet's EOP, or −1 when EOP is not before `tail`.
   */
  private processExtended(gpa: number, n: number, head: number, tail: number): number {
    const g = this.g;
    // find EOP first: a packet is taken whole or not at all
    let end = head;
    let descs = 0;
    for (;;) {
      if (end === tail) return -1;
      const d = gpa + end * E1000_DESC;
      const cmd = g.read8(d + 11);
      const data = (cmd & E1000_TXD_CMD_DEXT) !== 0 && g.read8(d + 10) >>> 4 === E1000_TXD_DTYP_D;
      descs++;
      end = (end + 1) % n;
      if ((data || (cmd & E1000_TXD_CMD_DEXT) === 0) && (cmd & E1000_TXD_CMD_EOP) !== 0) break;
    }
    const buf = (this.tsoBuf ??= new Uint8Array(0x10000 + 512));
    let total = 0;
    let tse = false;
    let first = true;
    for (let i = head; i !== end; i = (i + 1) % n) {
      const d = gpa + i * E1000_DESC;
      const cmd = g.read8(d + 11);
      this.c.descReads++;
      if ((cmd & E1000_TXD_CMD_DEXT) !== 0 && g.read8(d + 10) >>> 4 !== E1000_TXD_DTYP_D) {
        // TCP/IP context descriptor
        this.ctxIpcss = g.read8(d);
        this.ctxTucss = g.read8(d + 4);
        this.ctxTucmd = cmd;
        this.ctxHdrLen = g.read8(d + 13);
        this.ctxMss = g.read16(d + 14);
      } else {
        if (first) tse = (cmd & E1000_TXD_CMD_TSE) !== 0 && (cmd & E1000_TXD_CMD_DEXT) !== 0;
        first = false;
        const len = g.read32(d + 8) & 0xfffff;
        const m = Math.max(0, Math.min(len, buf.length - total));
        g.readBytes(g.read64n(d), buf, total, m);
        total += m;
      }
      if (cmd & E1000_TXD_CMD_RS) {
        g.write8(d + 12, E1000_TXD_STAT_DD);
        this.c.descWrites++;
      }
    }
    this.c.txPackets++;
    this.c.txBytes += total;
    if (!tse) {
      this.onTx(buf, total);
      return end;
    }
    const hdr = this.ctxHdrLen;
    const mss = this.ctxMss;
    const ipOff = this.ctxIpcss;
    const l4Off = this.ctxTucss;
    if (mss === 0 || ipOff < 14 || l4Off < ipOff + 20 || hdr < l4Off + 20 || hdr >= total) {
      this.tsoMalformed++; // QEMU would send garbage; the model drops it
      this.onTsoMalformed(mss > 0 && hdr > 0 && hdr < total ? tsoSegments(total, hdr, mss) : 1);
      return end;
    }
    this.onTsoPacket(descs, total);
    this.tsoPackets++;
    const seg = (this.segBuf ??= new Uint8Array(this.scratch.length));
    const segs = tsoSegments(total, hdr, mss);
    for (let k = 0; k < segs; k++) {
      const sl = tsoSegmentInto(buf, 0, total, ipOff, l4Off, hdr, (this.ctxTucmd & E1000_TXD_TUCMD_IP) !== 0, mss, k, seg, 0);
      if (sl === 0) break;
      this.tsoSegments++;
      this.onTxSegment(seg, sl);
    }
    return end;
  }

  /** Whether a posted receive buffer is free (QEMU's e1000_can_receive). */
  canReceive(): boolean {
    const n = Math.floor(this.reg(E1000_RDLEN) / E1000_DESC);
    return n > 0 && this.reg(E1000_RDH) !== this.reg(E1000_RDT) % n;
  }

  /** Posted receive buffers the device has not filled yet (descriptors from RDH up to RDT). */
  freeRxBuffers(): number {
    const n = Math.floor(this.reg(E1000_RDLEN) / E1000_DESC);
    return n > 0 ? (this.reg(E1000_RDT) % n - this.reg(E1000_RDH) + n) % n : 0;
  }

  /** Whether the interrupt line is asserted: a cause is set that IMS enables. */
  get asserted(): boolean {
    return (this.reg(E1000_ICR) & this.reg(E1000_IMS)) !== 0;
  }

  /** A frame from the bridge for this guest: into the next posted RX buffer, or dropped. */
  receive(frame: Uint8Array, len: number): boolean {
    const gpa = this.ringGpa(E1000_RDBAL, E1000_RDBAH);
    const n = this.ringN(E1000_RDLEN);
    const head = this.reg(E1000_RDH);
    if (n === 0 || head === this.reg(E1000_RDT) % n) {
      this.c.rxNoBuffer++;
      return false;
    }
    const d = gpa + head * E1000_DESC;
    const addr = this.g.read64n(d);
    this.g.writeBytes(addr, frame, 0, len);
    this.g.write16(d + 8, len);
    this.g.write8(d + 12, E1000_RXD_STAT_DD | E1000_RXD_STAT_EOP);
    this.c.descReads++;
    this.c.descWrites++;
    this.set(E1000_RDH, (head + 1) % n);
    this.c.rxPackets++;
    this.c.rxBytes += len;
    this.cause(E1000_ICR_RXT0);
    return true;
  }

  private cause(bits: number): void {
    this.set(E1000_ICR, this.reg(E1000_ICR) | bits);
    this.maybeInterrupt();
  }
  private maybeInterrupt(): void {
    if (this.reg(E1000_ICR) & this.reg(E1000_IMS)) {
      this.c.interrupts++;
      this.onInterrupt();
    }
  }
}
