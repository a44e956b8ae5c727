/**
 * PF↔VF mailbox hardware (Intel 82576 "igb" layout; anchors.md §2.3, Linux
 * drivers/net/ethernet/intel/igb/e1000_mbx.[ch], QEMU hw/net/igb_core.c).
 *
 * Per VF: a 16-dword message buffer and a pair of control registers, one seen by the VF
 * (V2PMAILBOX, at 0xC40 in the VF's BAR0, buffer at 0x800) and one seen by the PF (P2VMAILBOX(n) at
 * 0xC00 + 4n, buffer VMBMEM(n) at 0x800 + 64n in the PF's BAR0). The PF also sees the cause
 * registers MBVFICR (VF request / VF ack bits), MBVFIMR (their interrupt mask) and VFLRE (VF reset
 * events).
 *
 * Behaviour:
 * - Buffer ownership is exclusive: VFU can be taken only while PFU is clear and vice versa. A write
 *   that asks for the buffer while the other side holds it is ignored; the requester reads back
 *   and sees that it did not get it. Buffer writes from the side that does not hold the lock while
 *   the other side does are dropped (a stricter rule than the silicon's shared RAM, invisible to a
 *   driver that follows the lock protocol).
 * - VF writes REQ → MBVFICR.VFREQ[n] and a PF mailbox interrupt; VF writes ACK → VFACK[n] likewise.
 * - PF writes STS → V2P.PFSTS and a VF mailbox interrupt; PF writes ACK → V2P.PFACK likewise.
 * - PFSTS, PFACK and RSTD clear when the VF reads V2PMAILBOX (E1000_V2PMAILBOX_R2C_BITS).
 * - PF reset: every VF sees RSTI (reset in progress) until the PF signals reset done
 *   (CTRL_EXT.PFRSTD, routed here as `pfResetDone()`), which clears RSTI and sets RSTD.
 * - VF reset (the VF's CTRL.RST or an FLR, routed here as `vfReset(vf)`): the VF's buffer and
 *   lock are cleared, VFLRE[n] is set and the PF is interrupted; RSTD is set unless the PF itself
 *   is still in reset.
 *
 * Parts with more than 16 VFs: igb's windows stop at VF 15, so the PF also reaches every VF through
 * the wide windows of src/nic/regs.ts (PF_P2VMAILBOX_WIDE, PF_VMBMEM_WIDE, E1000_VFLRE(w)) and the
 * wide cause words below (32 VFs per word).
 *
 * Hardware never throws on guest input: unknown offsets read 0, writes to them are dropped,
 * register accesses that are not aligned dwords are ignored.
 */
import { IovError } from "../errors.js";
import { bit, bits, defineRegFile, reg } from "../pcie/regs.js";
import {
  E1000_MBVFICR,
  E1000_MBVFIMR,
  E1000_P2VMAILBOX,
  E1000_V2PMAILBOX,
  E1000_VFLRE,
  E1000_VMBMEM,
  E1000_VMBMEM_SIZE,
  IGB_MAILBOX_VFS,
  MAX_VFS,
  PF_P2VMAILBOX_WIDE,
  PF_VMBMEM_WIDE,
} from "./regs.js";

// ---- V2PMAILBOX (the VF's view), e1000_mbx.h names ----
export const E1000_V2PMAILBOX_REQ = 0x00000001; // Request for PF Ready bit
export const E1000_V2PMAILBOX_ACK = 0x00000002; // Ack PF message received
export const E1000_V2PMAILBOX_VFU = 0x00000004; // VF owns the mailbox buffer
export const E1000_V2PMAILBOX_PFU = 0x00000008; // PF owns the mailbox buffer
export const E1000_V2PMAILBOX_PFSTS = 0x00000010; // PF wrote a message in the MB
export const E1000_V2PMAILBOX_PFACK = 0x00000020; // PF ack the previous VF msg
export const E1000_V2PMAILBOX_RSTI = 0x00000040; // PF has reset indication
export const E1000_V2PMAILBOX_RSTD = 0x00000080; // PF has indicated reset done
export const E1000_V2PMAILBOX_R2C_BITS = 0x000000b0; // All read to clear bits

// ---- P2VMAILBOX(n) (the PF's view of VF n) ----
export const E1000_P2VMAILBOX_STS = 0x00000001; // Initiate message send to VF
export const E1000_P2VMAILBOX_ACK = 0x00000002; // Ack message recv'd from VF
export const E1000_P2VMAILBOX_VFU = 0x00000004; // VF owns the mailbox buffer
export const E1000_P2VMAILBOX_PFU = 0x00000008; // PF owns the mailbox buffer
export const E1000_P2VMAILBOX_RVFU = 0x00000010; // Reset VFU - used when VF stuck

// ---- MBVFICR: VFREQ for VF n at bit n, VFACK at bit 16 + n (igb uses bits 7:0 / 23:16 for 8 VFs) ----
export const E1000_MBVFICR_VFREQ_MASK = 0x0000ffff;
export const E1000_MBVFICR_VFREQ_VF1 = 0x00000001;
export const E1000_MBVFICR_VFACK_MASK = 0xffff0000;
export const E1000_MBVFICR_VFACK_VF1 = 0x00010000;

/** 16 32-bit words (64 bytes) per VF. */
export const E1000_VFMAILBOX_SIZE = E1000_VMBMEM_SIZE / 4;

// ---- pciov wide cause registers (PF only), VF n at bit n % 32 of word n >> 5 ----
export const MBX_VFREQ_WIDE = (w: number): number => 0x04800 + 4 * w; // VF requests (W1C)
export const MBX_VFACK_WIDE = (w: number): number => 0x04880 + 4 * w; // VF acks (W1C)
export const MBX_VFIMR_WIDE = (w: number): number => 0x04900 + 4 * w; // interrupt enable per VF (RW)

const ALL = 0xffffffff;

/** The VF's mailbox registers (VF BAR0), declared once: masks and field names come from here. */
export const MBX_VF_REGS = defineRegFile("vf-mailbox", 0x1000, {
  V2PMAILBOX: reg(E1000_V2PMAILBOX(0), 4, {
    rw: E1000_V2PMAILBOX_REQ | E1000_V2PMAILBOX_ACK | E1000_V2PMAILBOX_VFU,
    fields: { REQ: bit(0), ACK: bit(1), VFU: bit(2), PFU: bit(3), PFSTS: bit(4), PFACK: bit(5), RSTI: bit(6), RSTD: bit(7) },
    desc: "VF mailbox control; REQ/ACK are strobes; PFSTS, PFACK and RSTD clear on read",
  }),
  VMBMEM: reg(E1000_VMBMEM(0), 4, { rw: ALL, desc: "first of 16 message dwords" }),
});

/** The PF's mailbox registers (PF BAR0), offsets of VF 0 / word 0. */
export const MBX_PF_REGS = defineRegFile("pf-mailbox", 0x1000, {
  P2VMAILBOX: reg(E1000_P2VMAILBOX(0), 4, {
    rw: E1000_P2VMAILBOX_STS | E1000_P2VMAILBOX_ACK | E1000_P2VMAILBOX_PFU | E1000_P2VMAILBOX_RVFU,
    fields: { STS: bit(0), ACK: bit(1), VFU: bit(2), PFU: bit(3), RVFU: bit(4) },
    desc: "PF mailbox control for VF n at 0xC00 + 4n; STS/ACK/RVFU are strobes",
  }),
  VMBMEM: reg(E1000_VMBMEM(0), 4, { rw: ALL, desc: "VF n message buffer at 0x800 + 64n" }),
  MBVFICR: reg(E1000_MBVFICR, 4, { w1c: ALL, fields: { VFREQ: bits(15, 0), VFACK: bits(31, 16) } }),
  MBVFIMR: reg(E1000_MBVFIMR, 4, { rw: E1000_MBVFICR_VFREQ_MASK, fields: { VFIM: bits(15, 0) } }),
  VFLRE: reg(E1000_VFLRE(0), 4, { w1c: ALL, desc: "VF reset events, VF n at bit n % 32 of word n >> 5" }),
});

const V2P_WMASK = MBX_VF_REGS.regs.V2PMAILBOX.rw;
const P2V_WMASK = MBX_PF_REGS.regs.P2VMAILBOX.rw;

const OWNER_NONE = 0;
const OWNER_VF = 1;
const OWNER_PF = 2;

/** One VF's mailbox as the hardware holds it (a plain, JSON-able copy). */
export interface MailboxVfSnapshot {
  /** V2PMAILBOX as the VF would read it (without the read-to-clear side effect). */
  readonly v2p: number;
  /** P2VMAILBOX as the PF would read it. */
  readonly p2v: number;
  readonly mem: readonly number[];
  readonly vfreq: boolean;
  readonly vfack: boolean;
  readonly interruptEnabled: boolean;
  readonly vflre: boolean;
}

export interface MailboxSnapshot {
  readonly pfInReset: boolean;
  readonly vfs: readonly MailboxVfSnapshot[];
}

/** Where a PF-space offset lands. */
type PfTarget =
  | { readonly kind: "mem"; readonly vf: number; readonly byte: number }
  | { readonly kind: "p2v"; readonly vf: number }
  | { readonly kind: "mbvficr" }
  | { readonly kind: "mbvfimr" }
  | { readonly kind: "vflre"; readonly word: number }
  | { readonly kind: "req-wide"; readonly word: number }
  | { readonly kind: "ack-wide"; readonly word: number }
  | { readonly kind: "imr-wide"; readonly word: number }
  | { readonly kind: "none" };

const NONE: PfTarget = { kind: "none" };
const noop = (): void => {};

function memRead(mem: Uint32Array, base: number, byte: number, size: number): number {
  const word = mem[base + (byte >>> 2)]!;
  if (size === 4) return word >>> 0;
  const shift = 8 * (byte & 3);
  return size === 2 ? (word >>> shift) & 0xffff : (word >>> shift) & 0xff;
}

function memWrite(mem: Uint32Array, base: number, byte: number, size: number, v: number): void {
  const i = base + (byte >>> 2);
  if (size === 4) {
    mem[i] = v >>> 0;
    return;
  }
  const shift = 8 * (byte & 3);
  const m = (size === 2 ? 0xffff : 0xff) << shift;
  mem[i] = ((mem[i]! & ~m) | ((v << shift) & m)) >>> 0;
}

const validAccess = (off: number, size: number): boolean =>
  Number.isInteger(off) && off >= 0 && (size === 1 || size === 2 || size === 4) && off % size === 0;

export class MailboxHw {
  /** Raised when VF `vf` sets REQ or ACK (if enabled in MBVFIMR) or resets (VFLRE). The owner sets it. */
  onPfInterrupt: (vf: number) => void = noop;
  /** Raised when the PF sets STS or ACK for VF `vf`, and at PF reset done. The owner sets it. */
  onVfInterrupt: (vf: number) => void = noop;

  private readonly mem: Uint32Array;
  private readonly owner: Uint8Array;
  /** V2P status bits PFSTS | PFACK | RSTI | RSTD (the lock bits come from `owner`). */
  private readonly status: Uint8Array;
  private readonly vfreq: Uint8Array;
  private readonly vfack: Uint8Array;
  private readonly imr: Uint8Array;
  private readonly vflre: Uint8Array;
  private pfInReset = true;

  constructor(readonly numVfs: number) {
    if (!Number.isInteger(numVfs) || numVfs < 1 || numVfs > MAX_VFS) {
      throw new IovError("ERANGE", `mailbox: ${numVfs} VFs outside 1..${MAX_VFS}`, { numVfs });
    }
    this.mem = new Uint32Array(numVfs * E1000_VFMAILBOX_SIZE);
    this.owner = new Uint8Array(numVfs);
    this.status = new Uint8Array(numVfs);
    this.vfreq = new Uint8Array(numVfs);
    this.vfack = new Uint8Array(numVfs);
    this.imr = new Uint8Array(numVfs);
    this.vflre = new Uint8Array(numVfs);
    this.pfReset();
  }

  // ------------------------------------------------------------------ VF side (VF BAR0 offsets)

  vfRead(vf: number, off: number, size: number): number {
    if (!this.hasVf(vf) || !validAccess(off, size)) return 0;
    const memBase = E1000_VMBMEM(0);
    if (off >= memBase && off < memBase + E1000_VMBMEM_SIZE) {
      return memRead(this.mem, vf * E1000_VFMAILBOX_SIZE, off - memBase, size);
    }
    if (off === E1000_V2PMAILBOX(0) && size === 4) {
      const v = this.v2p(vf);
      this.status[vf] = this.status[vf]! & ~E1000_V2PMAILBOX_R2C_BITS;
      return v;
    }
    return 0;
  }

  vfWrite(vf: number, off: number, size: number, value: number): void {
    if (!this.hasVf(vf) || !validAccess(off, size)) return;
    const memBase = E1000_VMBMEM(0);
    if (off >= memBase && off < memBase + E1000_VMBMEM_SIZE) {
      if (this.owner[vf] !== OWNER_PF) memWrite(this.mem, vf * E1000_VFMAILBOX_SIZE, off - memBase, size, value);
      return;
    }
    if (off === E1000_V2PMAILBOX(0) && size === 4) this.writeV2p(vf, value & V2P_WMASK);
  }

  // ------------------------------------------------------------------ PF side (PF BAR0 offsets)

  pfRead(off: number, size: number): number {
    if (!validAccess(off, size)) return 0;
    const t = this.decodePf(off);
    if (t.kind === "mem") return memRead(this.mem, t.vf * E1000_VFMAILBOX_SIZE, t.byte, size);
    if (size !== 4) return 0;
    switch (t.kind) {
      case "p2v":
        return this.p2v(t.vf);
      case "mbvficr":
        return this.legacyBits(this.vfreq, 0) | this.legacyBits(this.vfack, 16);
      case "mbvfimr":
        return this.legacyBits(this.imr, 0);
      case "vflre":
        return this.wideWord(this.vflre, t.word);
      case "req-wide":
        return this.wideWord(this.vfreq, t.word);
      case "ack-wide":
        return this.wideWord(this.vfack, t.word);
      case "imr-wide":
        return this.wideWord(this.imr, t.word);
      case "none":
        return 0;
    }
  }

  pfWrite(off: number, size: number, value: number): void {
    if (!validAccess(off, size)) return;
    const t = this.decodePf(off);
    if (t.kind === "mem") {
      if (this.owner[t.vf] !== OWNER_VF) memWrite(this.mem, t.vf * E1000_VFMAILBOX_SIZE, t.byte, size, value);
      return;
    }
    if (size !== 4) return;
    const v = value >>> 0;
    switch (t.kind) {
      case "p2v":
        this.writeP2v(t.vf, v & P2V_WMASK);
        return;
      case "mbvficr":
        for (let n = 0; n < Math.min(this.numVfs, IGB_MAILBOX_VFS); n++) {
          if (v & (E1000_MBVFICR_VFREQ_VF1 << n)) this.vfreq[n] = 0;
          if (v & ((E1000_MBVFICR_VFACK_VF1 << n) >>> 0)) this.vfack[n] = 0;
        }
        return;
      case "mbvfimr":
        for (let n = 0; n < Math.min(this.numVfs, IGB_MAILBOX_VFS); n++) this.setImr(n, (v >>> n) & 1);
        return;
      case "vflre":
        this.clearWide(this.vflre, t.word, v);
        return;
      case "req-wide":
        this.clearWide(this.vfreq, t.word, v);
        return;
      case "ack-wide":
        this.clearWide(this.vfack, t.word, v);
        return;
      case "imr-wide":
        for (let b = 0; b < 32; b++) {
          const n = t.word * 32 + b;
          if (n < this.numVfs) this.setImr(n, (v >>> b) & 1);
        }
        return;
      case "none":
        return;
    }
  }

  // ------------------------------------------------------------------ resets (routed by the NIC)

  /** PF (device) reset: every mailbox is cleared and shows RSTI until `pfResetDone()`. */
  pfReset(): void {
    this.pfInReset = true;
    this.mem.fill(0);
    this.owner.fill(OWNER_NONE);
    this.status.fill(E1000_V2PMAILBOX_RSTI);
    this.vfreq.fill(0);
    this.vfack.fill(0);
    this.imr.fill(0);
    this.vflre.fill(0);
  }

  /** CTRL_EXT.PFRSTD: the PF driver finished its reset; every VF sees RSTD (and loses RSTI). */
  pfResetDone(): void {
    this.pfInReset = false;
    for (let vf = 0; vf < this.numVfs; vf++) {
      this.status[vf] = (this.status[vf]! & ~E1000_V2PMAILBOX_RSTI) | E1000_V2PMAILBOX_RSTD;
      this.onVfInterrupt(vf);
    }
  }

  /** VF `vf` reset itself (its CTRL.RST) or was function-level reset. */
  vfReset(vf: number): void {
    if (!this.hasVf(vf)) return;
    this.mem.fill(0, vf * E1000_VFMAILBOX_SIZE, (vf + 1) * E1000_VFMAILBOX_SIZE);
    if (this.owner[vf] === OWNER_VF) this.owner[vf] = OWNER_NONE;
    let s = this.status[vf]! & E1000_V2PMAILBOX_RSTI;
    if (!this.pfInReset) s |= E1000_V2PMAILBOX_RSTD;
    this.status[vf] = s;
    this.vfreq[vf] = 0;
    this.vfack[vf] = 0;
    this.vflre[vf] = 1;
    // VFLRE and the mailbox share the PF's VMMB cause; VF reset events are not masked by MBVFIMR.
    this.onPfInterrupt(vf);
  }

  // ------------------------------------------------------------------ inspection

  vfSnapshot(vf: number): MailboxVfSnapshot {
    const base = vf * E1000_VFMAILBOX_SIZE;
    return {
      v2p: this.v2p(vf),
      p2v: this.p2v(vf),
      mem: Array.from(this.mem.subarray(base, base + E1000_VFMAILBOX_SIZE)),
      vfreq: this.vfreq[vf] === 1,
      vfack: this.vfack[vf] === 1,
      interruptEnabled: this.imr[vf] === 1,
      vflre: this.vflre[vf] === 1,
    };
  }

  snapshot(): MailboxSnapshot {
    return { pfInReset: this.pfInReset, vfs: Array.from({ length: this.numVfs }, (_, vf) => this.vfSnapshot(vf)) };
  }

  // ------------------------------------------------------------------ internals

  private hasVf(vf: number): boolean {
    return Number.isInteger(vf) && vf >= 0 && vf < this.numVfs;
  }

  private v2p(vf: number): number {
    const o = this.owner[vf];
    return (
      this.status[vf]! | (o === OWNER_VF ? E1000_V2PMAILBOX_VFU : 0) | (o === OWNER_PF ? E1000_V2PMAILBOX_PFU : 0)
    );
  }

  private p2v(vf: number): number {
    const o = this.owner[vf];
    return (o === OWNER_VF ? E1000_P2VMAILBOX_VFU : 0) | (o === OWNER_PF ? E1000_P2VMAILBOX_PFU : 0);
  }

  /** VF write of V2PMAILBOX: lock first, then the strobes (a handler run by the strobe sees the lock released). */
  private writeV2p(vf: number, v: number): void {
    if (v & E1000_V2PMAILBOX_VFU) {
      if (this.owner[vf] === OWNER_NONE) this.owner[vf] = OWNER_VF;
    } else if (this.owner[vf] === OWNER_VF) {
      this.owner[vf] = OWNER_NONE;
    }
    let raise = false;
    if (v & E1000_V2PMAILBOX_REQ) {
      this.vfreq[vf] = 1;
      raise = true;
    }
    if (v & E1000_V2PMAILBOX_ACK) {
      this.vfack[vf] = 1;
      raise = true;
    }
    if (raise && this.imr[vf] === 1) this.onPfInterrupt(vf);
  }

  /** PF write of P2VMAILBOX(n): lock first, RVFU, then the strobes. */
  private writeP2v(vf: number, v: number): void {
    if (v & E1000_P2VMAILBOX_PFU) {
      if (this.owner[vf] === OWNER_NONE) this.owner[vf] = OWNER_PF;
    } else if (this.owner[vf] === OWNER_PF) {
      this.owner[vf] = OWNER_NONE;
    }
    if (v & E1000_P2VMAILBOX_RVFU) {
      if (this.owner[vf] === OWNER_VF) this.owner[vf] = OWNER_NONE;
      this.vfreq[vf] = 0;
      this.vfack[vf] = 0;
    }
    let raise = false;
    if (v & E1000_P2VMAILBOX_STS) {
      this.status[vf] = this.status[vf]! | E1000_V2PMAILBOX_PFSTS;
      raise = true;
    }
    if (v & E1000_P2VMAILBOX_ACK) {
      this.status[vf] = this.status[vf]! | E1000_V2PMAILBOX_PFACK;
      raise = true;
    }
    if (raise) this.onVfInterrupt(vf);
  }

  /** Unmasking a VF with a pending request or ack raises its interrupt (the cause is level). */
  private setImr(vf: number, on: number): void {
    const was = this.imr[vf];
    this.imr[vf] = on;
    if (was === 0 && on === 1 && (this.vfreq[vf] === 1 || this.vfack[vf] === 1)) this.onPfInterrupt(vf);
  }

  private legacyBits(a: Uint8Array, shift: number): number {
    let v = 0;
    for (let n = 0; n < Math.min(this.numVfs, IGB_MAILBOX_VFS); n++) if (a[n] === 1) v |= 1 << (n + shift);
    return v >>> 0;
  }

  private wideWord(a: Uint8Array, word: number): number {
    let v = 0;
    for (let b = 0; b < 32; b++) {
      const n = word * 32 + b;
      if (n < this.numVfs && a[n] === 1) v |= 1 << b;
    }
    return v >>> 0;
  }

  private clearWide(a: Uint8Array, word: number, v: number): void {
    for (let b = 0; b < 32; b++) {
      const n = word * 32 + b;
      if (n < this.numVfs && (v >>> b) & 1) a[n] = 0;
    }
  }

  private decodePf(off: number): PfTarget {
    const n = this.numVfs;
    const words = Math.ceil(n / 32);
    const legacy = Math.min(n, IGB_MAILBOX_VFS);
    const memLo = E1000_VMBMEM(0);
    if (off >= memLo && off < E1000_VMBMEM(legacy)) {
      const rel = off - memLo;
      return { kind: "mem", vf: Math.floor(rel / E1000_VMBMEM_SIZE), byte: rel % E1000_VMBMEM_SIZE };
    }
    const wideMemLo = PF_VMBMEM_WIDE(0);
    if (off >= wideMemLo && off < PF_VMBMEM_WIDE(n)) {
      const rel = off - wideMemLo;
      return { kind: "mem", vf: Math.floor(rel / E1000_VMBMEM_SIZE), byte: rel % E1000_VMBMEM_SIZE };
    }
    if (off % 4 !== 0) return NONE;
    if (off >= E1000_P2VMAILBOX(0) && off < E1000_P2VMAILBOX(legacy)) return { kind: "p2v", vf: (off - E1000_P2VMAILBOX(0)) / 4 };
    if (off >= PF_P2VMAILBOX_WIDE(0) && off < PF_P2VMAILBOX_WIDE(n)) return { kind: "p2v", vf: (off - PF_P2VMAILBOX_WIDE(0)) / 4 };
    if (off === E1000_MBVFICR) return { kind: "mbvficr" };
    if (off === E1000_MBVFIMR) return { kind: "mbvfimr" };
    for (let w = 0; w < words; w++) {
      if (off === E1000_VFLRE(w)) return { kind: "vflre", word: w };
      if (off === MBX_VFREQ_WIDE(w)) return { kind: "req-wide", word: w };
      if (off === MBX_VFACK_WIDE(w)) return { kind: "ack-wide", word: w };
      if (off === MBX_VFIMR_WIDE(w)) return { kind: "imr-wide", word: w };
    }
    return NONE;
  }
}
