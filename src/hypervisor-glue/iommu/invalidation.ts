/**
 * The remapping unit's invalidation hardware (VT-d §6.5): register-based (CCMD, IVA + IOTLB) and
 * queued (a ring of 128-bit descriptors in host memory between IQH and IQT: context-cache (1),
 * IOTLB (2), interrupt entry cache (4) and invalidation wait (5) with status write, interrupt flag
 * and fence). The model is synchronous: ringing the tail executes every descriptor up to it, so a
 * fence or a wait completes at once; what it must still get right is order, error stops and status.
 *
 * Register-based requests made while queued invalidation is enabled are ignored and report an
 * actual granularity of 0 (VT-d leaves them undefined; Linux never makes them).
 */
import type { PhysMem } from "../../memory/physmem.js";
import type { ContextCache, Iotlb } from "./caches.js";
import {
  DMA_CCMD_ICC_HI,
  DMA_FSTS_IQE,
  DMA_ICS_IWC,
  DMA_IECTL_IM,
  DMA_IECTL_IP,
  DMA_IQ_INDEX_MASK,
  DMA_IQ_SHIFT,
  DMA_TLB_IVT_HI,
  INV_DEVICE_OR_PAGE,
  INV_DOMAIN,
  INV_GLOBAL,
  POW2,
  QI_CC_TYPE,
  QI_DESC_SIZE,
  QI_IEC_TYPE,
  QI_IOTLB_TYPE,
  QI_IWD_IF,
  QI_IWD_STATUS_WRITE,
  QI_IWD_TYPE,
  TWO32,
} from "./defs.js";
import type { FaultUnit, IommuEventSink } from "./faults.js";
import type { InterruptRemapper } from "./intremap.js";
import { hiMask, type MmioRegisterFile, type VtdCaps, type VtdRegTable } from "./regs.js";

/** Bits 11:9 of a descriptor's first dword: the high bits of the type in newer specs (must be 0). */
const QI_TYPE_HI_MASK = 0xe00;

export interface InvalidationStats {
  contextInvalidations: number;
  iotlbInvalidations: number;
  iecInvalidations: number;
  qiDescriptors: number;
  qiWaits: number;
  qiErrors: number;
  /** Register-based invalidations written while queued invalidation was enabled (ignored). */
  registerInvalidationsIgnored: number;
  completionEvents: number;
}

export interface InvalidationTargets {
  readonly contextCache: ContextCache;
  readonly iotlb: Iotlb;
  readonly ir: InterruptRemapper;
  readonly faults: FaultUnit;
}

export class InvalidationUnit {
  /** GSTS.QIES. */
  private qi = false;
  private head = 0;
  readonly counts: InvalidationStats = {
    contextInvalidations: 0,
    iotlbInvalidations: 0,
    iecInvalidations: 0,
    qiDescriptors: 0,
    qiWaits: 0,
    qiErrors: 0,
    registerInvalidationsIgnored: 0,
    completionEvents: 0,
  };
  private readonly R: VtdRegTable;
  private readonly mgawHi: number;

  constructor(
    private readonly mem: PhysMem,
    private readonly regs: MmioRegisterFile<VtdRegTable>,
    private readonly caps: VtdCaps,
    private readonly hawHi: number,
    private readonly t: InvalidationTargets,
    private readonly sink: IommuEventSink | undefined,
  ) {
    this.R = regs.def.regs;
    this.mgawHi = hiMask(caps.mgaw);
  }

  get queued(): boolean {
    return this.qi;
  }

  /** GCMD.QIE: IQH reads 0 after queued invalidation is enabled or disabled. */
  setQueued(on: boolean): void {
    if (on === this.qi) return;
    this.qi = on;
    this.head = 0;
    this.regs.set(this.R.IQH, 0);
    if (on) this.processQueue();
  }

  /** Context-cache invalidation; returns the actual granularity (0 = request refused). */
  contextInvalidate(g: number, did: number, sid: number, fm: number): number {
    const cc = this.t.contextCache;
    switch (g) {
      case INV_GLOBAL:
        cc.invalidateAll();
        break;
      case INV_DOMAIN:
        cc.invalidateDomain(did);
        break;
      case INV_DEVICE_OR_PAGE:
        cc.invalidateDevice(sid, fm);
        break;
      default:
        return 0;
    }
    this.counts.contextInvalidations++;
    return g;
  }

  /** IOTLB invalidation; returns the actual granularity (0 = refused: bad G, AM > MAMV, misaligned address). */
  iotlbInvalidate(g: number, did: number, addr: number, am: number): number {
    const tlb = this.t.iotlb;
    switch (g) {
      case INV_GLOBAL:
        tlb.invalidateAll();
        break;
      case INV_DOMAIN:
        tlb.invalidateDomain(did);
        break;
      case INV_DEVICE_OR_PAGE:
        if (am > this.caps.mamv || addr % POW2[12 + am]! !== 0) return 0;
        tlb.invalidatePages(did, addr, am);
        break;
      default:
        return 0;
    }
    this.counts.iotlbInvalidations++;
    return g;
  }

  /** CCMD high dword written: ICC starts the invalidation; hardware clears ICC and reports CAIG. */
  contextCommand(nv: number): void {
    if ((nv & DMA_CCMD_ICC_HI) === 0) return;
    let caig = 0;
    if (this.qi) this.counts.registerInvalidationsIgnored++;
    else {
      const lo = this.regs.get(this.R.CCMD);
      caig = this.contextInvalidate((nv >>> 29) & 3, lo & 0xffff, lo >>> 16, nv & 3);
    }
    this.regs.set(this.R.CCMD_HI, ((nv & ~DMA_CCMD_ICC_HI & ~(3 << 27)) | (caig << 27)) >>> 0);
  }

  /** IOTLB high dword written: IVT starts the invalidation (address from IVA); hardware clears IVT, reports IAIG. */
  iotlbCommand(nv: number): void {
    if ((nv & DMA_TLB_IVT_HI) === 0) return;
    let iaig = 0;
    if (this.qi) this.counts.registerInvalidationsIgnored++;
    else {
      const ivaLo = this.regs.get(this.R.IVA);
      const addr = this.regs.get(this.R.IVA_HI) * TWO32 + ((ivaLo & 0xffff_f000) >>> 0);
      iaig = this.iotlbInvalidate((nv >>> 28) & 3, nv & 0xffff, addr, ivaLo & 0x3f);
    }
    this.regs.set(this.R.IOTLB_HI, ((nv & ~DMA_TLB_IVT_HI & ~(3 << 25)) | (iaig << 25)) >>> 0);
  }

  /** Fetch and execute descriptors from IQH up to IQT; stop with IQE on an invalid one. */
  processQueue(): void {
    const R = this.R;
    const regs = this.regs;
    if (!this.qi || (regs.get(R.FSTS) & DMA_FSTS_IQE) !== 0) return;
    const iqaLo = regs.get(R.IQA);
    const base = (regs.get(R.IQA_HI) & this.hawHi) * TWO32 + ((iqaLo & 0xffff_f000) >>> 0);
    const size = 256 << (iqaLo & 7);
    const tail = (regs.get(R.IQT) >>> DMA_IQ_SHIFT) & DMA_IQ_INDEX_MASK;
    if (tail >= size) {
      this.queueError();
      return;
    }
    while (this.head !== tail) {
      const a = base + this.head * QI_DESC_SIZE;
      if (a + QI_DESC_SIZE > this.mem.sizeLimit || !this.execute(a)) {
        this.queueError();
        return;
      }
      this.head = this.head + 1 === size ? 0 : this.head + 1;
      regs.set(R.IQH, this.head << DMA_IQ_SHIFT);
    }
  }

  private queueError(): void {
    this.counts.qiErrors++;
    this.t.faults.setIqe();
  }

  /** Execute one 128-bit descriptor; false if it is invalid (IQH stays on it). */
  private execute(a: number): boolean {
    const mem = this.mem;
    const lo0 = mem.read32(a);
    const lo1 = mem.read32(a + 4);
    const hi0 = mem.read32(a + 8);
    const hi1 = mem.read32(a + 12);
    if ((lo0 & QI_TYPE_HI_MASK) !== 0) return false;
    const g = (lo0 >>> 4) & 3;
    switch (lo0 & 0xf) {
      case QI_CC_TYPE:
        if ((lo0 & 0xffc0) !== 0 || (lo1 & 0xfffc_0000) !== 0 || hi0 !== 0 || hi1 !== 0) return false;
        if (this.contextInvalidate(g, lo0 >>> 16, lo1 & 0xffff, (lo1 >>> 16) & 3) === 0) return false;
        break;
      case QI_IOTLB_TYPE: {
        if ((lo0 & 0xff00) !== 0 || lo1 !== 0 || (hi0 & 0xf80) !== 0) return false;
        const addr = (hi1 & this.mgawHi) * TWO32 + ((hi0 & 0xffff_f000) >>> 0);
        if (this.iotlbInvalidate(g, lo0 >>> 16, addr, hi0 & 0x3f) === 0) return false;
        break;
      }
      case QI_IEC_TYPE:
        if ((lo0 & 0x07ff_ffe0) !== 0 || (lo1 & 0xffff_0000) !== 0 || hi0 !== 0 || hi1 !== 0) return false;
        if ((lo0 & 0x10) === 0) this.t.ir.invalidateAll();
        else this.t.ir.invalidateIndex(lo1 & 0xffff, lo0 >>> 27);
        this.counts.iecInvalidations++;
        break;
      case QI_IWD_TYPE:
        if ((lo0 & 0xffff_ff80) !== 0 || (hi0 & 3) !== 0) return false;
        if ((lo0 & QI_IWD_STATUS_WRITE) !== 0) {
          const sa = (hi1 & this.hawHi) * TWO32 + ((hi0 & 0xffff_fffc) >>> 0);
          if (sa + 4 > mem.sizeLimit) return false;
          mem.write32(sa, lo1);
        }
        if ((lo0 & QI_IWD_IF) !== 0) this.completionEvent();
        this.counts.qiWaits++;
        break;
      default:
        return false; // device-TLB (no ECAP.DT), PASID types (no scalable mode), reserved
    }
    this.counts.qiDescriptors++;
    return true;
  }

  /** Invalidation wait with IF: ICS.IWC, and an invalidation completion event unless masked. */
  private completionEvent(): void {
    const R = this.R;
    const regs = this.regs;
    if ((regs.get(R.ICS) & DMA_ICS_IWC) !== 0) return;
    regs.set(R.ICS, DMA_ICS_IWC);
    regs.set(R.IECTL, regs.get(R.IECTL) | DMA_IECTL_IP);
    if ((regs.get(R.IECTL) & DMA_IECTL_IM) === 0) this.deliverCompletion();
  }

  private deliverCompletion(): void {
    const R = this.R;
    const regs = this.regs;
    regs.set(R.IECTL, regs.get(R.IECTL) & ~DMA_IECTL_IP);
    this.counts.completionEvents++;
    this.sink?.iommuEvent("invalidation-complete", regs.get(R.IEUADDR) * TWO32 + regs.get(R.IEADDR), regs.get(R.IEDATA));
  }

  /** ICS written: IWC cleared (RW1C) clears IECTL.IP. */
  icsWritten(nv: number): void {
    if ((nv & DMA_ICS_IWC) === 0) this.regs.set(this.R.IECTL, this.regs.get(this.R.IECTL) & ~DMA_IECTL_IP);
  }
  /** IECTL written: unmasking with an event pending delivers it. */
  iectlWritten(oldValue: number, newValue: number): void {
    if ((oldValue & DMA_IECTL_IM) !== 0 && (newValue & DMA_IECTL_IM) === 0 && (this.regs.get(this.R.IECTL) & DMA_IECTL_IP) !== 0) this.deliverCompletion();
  }

  resetCounts(): void {
    for (const k of Object.keys(this.counts) as Array<keyof InvalidationStats>) this.counts[k] = 0;
  }
}
