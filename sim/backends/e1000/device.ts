/**
 * Emulated e1000 (trap-and-emulate): the device model runs in the hypervisor's user space; every
 * guest register access is a trapped MMIO exit (the Guest's trap region accounts it). The model
 * copies descriptors and buffers between guest RAM and its own frame buffer.
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
  E1000_TXD_CMD_RS,
  E1000_TXD_STAT_DD,
} from "./regs.js";

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
      const addr = this.g.read64n(d);
      const len = this.g.read16(d + 8);
      const cmd = this.g.read8(d + 11);
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
