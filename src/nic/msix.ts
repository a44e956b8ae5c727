/**
 * Interrupts, igb style: a cause (RX queue q, TX queue q, "other") is mapped by IVAR/IVAR_MISC to an
 * MSI-X vector n; the cause sets EICR bit n. When EIMS bit n is set the vector's message is sent,
 * subject to EITR throttling (minimum interval in simulated time), with EIAC clearing the EICR bit
 * and EIAM clearing the EIMS bit as it is sent. The message goes out through the MSI-X table entry
 * (address, data); a masked entry (vector control bit, or the capability's Function Mask) holds it as a
 * pending bit in the PBA, and unmasking delivers it. Nothing is sent while MSI-X is disabled: the cause
 * stays in EICR. Raising only marks the function; `flush()` sends, after the data-path step that
 * raised them, so a guest's interrupt handler never runs in the middle of a frame.
 */
import type { MsiSink } from "../pcie/dma.js";
import { C_MSIX_MESSAGES, C_MSIX_PENDED } from "./counters.js";
import type { NicFunction } from "./fn.js";
import { E1000_EITR_INTERVAL_MASK, E1000_IVAR_VALID, PCI_MSIX_ENTRY_CTRL_MASKBIT, ivarRxShift, ivarTxShift } from "./regs.js";

/** ns per EITR count: the interval field is bits 14:2 in µs, so the masked register counts 0.25 µs. */
const EITR_NS_PER_UNIT = 250;

export class InterruptUnit {
  nowNs = 0;
  private readonly dirty: Int32Array;
  private dirtyCount = 0;

  /**
   * Set whenever a vector is deferred by its throttle, with the earliest end of interval among them:
   * `Nic.poll` releases deferred vectors once that time has come (and clears both).
   */
  deferredAny = false;
  deferredMin = Infinity;
  /** Earliest end of a throttle interval a vector was deferred to since `Nic.takeNewWakeNs`. */
  newWakeNs = Infinity;

  constructor(
    private readonly fns: readonly NicFunction[],
    private readonly sink: MsiSink,
  ) {
    this.dirty = new Int32Array(fns.length);
  }

  /** EICR bit of queue q's RX cause (0 when IVAR has no valid vector for it). */
  rxBit(f: NicFunction, q: number): number {
    const b = (f.regs.vals[f.sIvar[q >> 1]!]! >>> ivarRxShift(q)) & 0xff;
    return (b & E1000_IVAR_VALID) !== 0 ? 1 << (b & 0x1f) : 0;
  }
  txBit(f: NicFunction, q: number): number {
    const b = (f.regs.vals[f.sIvar[q >> 1]!]! >>> ivarTxShift(q)) & 0xff;
    return (b & E1000_IVAR_VALID) !== 0 ? 1 << (b & 0x1f) : 0;
  }
  miscBit(f: NicFunction): number {
    const b = f.regs.vals[f.sIvarMisc]! & 0xff;
    return (b & E1000_IVAR_VALID) !== 0 ? 1 << (b & 0x1f) : 0;
  }

  /** Set cause bits in EICR and mark the function for `flush()`. */
  raise(f: NicFunction, bits: number): void {
    if (bits === 0) return;
    f.regs.vals[f.sEicr] = f.regs.vals[f.sEicr]! | bits;
    this.schedule(f, bits);
  }

  /** Re-evaluate vectors `bits` at the next flush (EIMS enabled them, or they were raised). */
  schedule(f: NicFunction, bits: number): void {
    f.irqPending |= bits;
    this.mark(f);
  }

  /** Deliver pending PBA bits at the next flush (something was unmasked or MSI-X enabled). */
  schedulePba(f: NicFunction): void {
    f.pbaCheck = true;
    this.mark(f);
  }

  private mark(f: NicFunction): void {
    if (!f.irqDirty) {
      f.irqDirty = true;
      this.dirty[this.dirtyCount++] = f.index;
    }
  }

  /** Send what was raised (re-entrant: a handler that raises more is served in the same loop). */
  flush(): void {
    while (this.dirtyCount > 0) {
      const f = this.fns[this.dirty[--this.dirtyCount]!]!;
      f.irqDirty = false;
      if (f.pbaCheck) {
        f.pbaCheck = false;
        this.deliverPending(f);
      }
      const bits = f.irqPending;
      f.irqPending = 0;
      this.evaluate(f, bits);
    }
  }

  /** Consider sending vectors `bits` of `f` (those enabled in EIMS and set in EICR). */
  evaluate(f: NicFunction, bits: number): void {
    const v = f.regs.vals;
    let b = bits & v[f.sEims]! & v[f.sEicr]!;
    while (b !== 0) {
      const n = 31 - Math.clz32(b);
      b &= ~(1 << n);
      this.fire(f, n);
    }
  }

  private fire(f: NicFunction, n: number): void {
    if (!f.msixEnable || n >= f.vectors) return;
    const bit = 1 << n;
    if (n < f.sEitr.length) {
      const interval = (f.regs.vals[f.sEitr[n]!]! & E1000_EITR_INTERVAL_MASK) * EITR_NS_PER_UNIT;
      if (interval > 0) {
        if (this.nowNs < f.nextIrqNs[n]!) {
          f.irqDeferred |= bit;
          this.deferredAny = true;
          if (f.nextIrqNs[n]! < this.deferredMin) this.deferredMin = f.nextIrqNs[n]!;
          if (f.nextIrqNs[n]! < this.newWakeNs) this.newWakeNs = f.nextIrqNs[n]!;
          return;
        }
        f.nextIrqNs[n] = this.nowNs + interval;
      }
    }
    const v = f.regs.vals;
    if ((v[f.sEiac]! & bit) !== 0) v[f.sEicr] = v[f.sEicr]! & ~bit;
    if ((v[f.sEiam]! & bit) !== 0) v[f.sEims] = v[f.sEims]! & ~bit;
    this.send(f, n);
  }

  private masked(f: NicFunction, n: number): boolean {
    return f.msixFunctionMask || (f.msix.vals[f.mCtrl[n]!]! & PCI_MSIX_ENTRY_CTRL_MASKBIT) !== 0;
  }

  /** One MSI-X message for vector n, or its pending bit when masked. */
  send(f: NicFunction, n: number): void {
    const m = f.msix.vals;
    if (this.masked(f, n)) {
      const w = f.mPba[n >> 5]!;
      m[w] = m[w]! | (1 << (n & 31));
      f.ctr[C_MSIX_PENDED]!++;
      return;
    }
    f.ctr[C_MSIX_MESSAGES]!++;
    this.sink.msiWrite(f.rid, m[f.mAddrHi[n]!]! * 0x1_0000_0000 + m[f.mAddrLo[n]!]!, m[f.mData[n]!]!);
  }

  /** After an unmask (entry or function): deliver pending vectors that are now unmasked. */
  deliverPending(f: NicFunction): void {
    if (!f.msixEnable) return;
    const m = f.msix.vals;
    for (let w = 0; w < f.mPba.length; w++) {
      let p = m[f.mPba[w]!]!;
      while (p !== 0) {
        const bit = 31 - Math.clz32(p);
        p &= ~(1 << bit);
        const n = w * 32 + bit;
        if (this.masked(f, n)) continue;
        m[f.mPba[w]!] = m[f.mPba[w]!]! & ~(1 << bit);
        f.ctr[C_MSIX_MESSAGES]!++;
        this.sink.msiWrite(f.rid, m[f.mAddrHi[n]!]! * 0x1_0000_0000 + m[f.mAddrLo[n]!]!, m[f.mData[n]!]!);
      }
    }
  }

  /** Vectors held back by EITR whose interval has passed at `nowNs`. */
  pollDeferred(): void {
    for (const f of this.fns) {
      if (f.irqDeferred === 0) continue;
      const bits = f.irqDeferred;
      f.irqDeferred = 0;
      this.evaluate(f, bits);
    }
  }

  /** Forget interrupt state of a function being reset. */
  clear(f: NicFunction): void {
    f.irqPending = 0;
    f.irqDeferred = 0;
    f.pbaCheck = false;
    f.nextIrqNs.fill(0);
  }
}
