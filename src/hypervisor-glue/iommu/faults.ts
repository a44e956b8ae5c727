/**
 * Primary fault logging (VT-d §7.3): fault recording registers, FSTS (PFO, PPF, FRI, IQE) and the
 * fault event interrupt (FECTL IM/IP, FEDATA/FEADDR). Shared by DMA remapping and interrupt
 * remapping: both report through the same records.
 *
 * Recording follows QEMU's vtd_report_dmar_fault: records fill round-robin from the one after the
 * last used; when PFO is set, or the next record still holds an unserviced fault (F = 1), the fault
 * is dropped and PFO set. FRI names the record written when PPF went 0 → 1. A fault event is raised
 * only when no earlier condition (PPF, PFO, IQE, ICE, ITE) is still pending. This model does not
 * collapse repeated faults of one source ID (hardware may; QEMU does): every fault gets a record.
 */
import {
  DMA_FECTL_IM,
  DMA_FECTL_IP,
  DMA_FRCD_F_HI,
  DMA_FRCD_T_HI,
  DMA_FSTS_FRI_SHIFT,
  DMA_FSTS_ICE,
  DMA_FSTS_IQE,
  DMA_FSTS_ITE,
  DMA_FSTS_PFO,
  DMA_FSTS_PPF,
  DMAR_FEADDR_REG,
  DMAR_FEDATA_REG,
  DMAR_FEUADDR_REG,
  DMAR_FRCD_REG,
  DMAR_FSTS_REG,
  DMAR_FECTL_REG,
  TWO32,
} from "./defs.js";

/** The remapping unit's own interrupts (not themselves remapped): an MSI write of `data` to `addr`. */
export interface IommuEventSink {
  iommuEvent(kind: "fault" | "invalidation-complete", addr: number, data: number): void;
}

const FSTS_CONDITIONS = DMA_FSTS_PFO | DMA_FSTS_PPF | DMA_FSTS_IQE | DMA_FSTS_ICE | DMA_FSTS_ITE;
const FSTS = DMAR_FSTS_REG >>> 2;
const FECTL = DMAR_FECTL_REG >>> 2;

export class FaultUnit {
  private next = 0;
  /** Faults written into a record. */
  recorded = 0;
  /** Faults lost because PFO was set or the next record was still in use. */
  overflowed = 0;
  /** Fault event interrupts delivered. */
  events = 0;

  constructor(
    /** The register file's dwords (MmioRegisterFile.dw): records and status live there. */
    private readonly dw: Uint32Array,
    readonly nfr: number,
    private readonly sink: IommuEventSink | undefined,
  ) {}

  /**
   * Record a fault. `fiLo`/`fiHi`: the fault-info field (page address for DMA, interrupt index in
   * bits 63:48 for interrupt requests); `read`: the T bit (1 = read request).
   */
  record(sid: number, reason: number, fiLo: number, fiHi: number, read: boolean): void {
    const dw = this.dw;
    const pre = dw[FSTS]!;
    if ((pre & DMA_FSTS_PFO) !== 0) {
      this.overflowed++;
      return;
    }
    const i = this.next;
    const base = (DMAR_FRCD_REG >>> 2) + 4 * i;
    if ((dw[base + 3]! & DMA_FRCD_F_HI) !== 0) {
      dw[FSTS] = (pre | DMA_FSTS_PFO) >>> 0;
      this.overflowed++;
      return;
    }
    dw[base] = (fiLo & 0xffff_f000) >>> 0;
    dw[base + 1] = fiHi >>> 0;
    dw[base + 2] = sid & 0xffff;
    dw[base + 3] = (DMA_FRCD_F_HI | (read ? DMA_FRCD_T_HI : 0) | (reason & 0xff)) >>> 0;
    this.next = i + 1 === this.nfr ? 0 : i + 1;
    this.recorded++;
    if ((pre & DMA_FSTS_PPF) === 0) {
      const fri = (i & 0xff) << DMA_FSTS_FRI_SHIFT;
      dw[FSTS] = ((pre & ~(0xff << DMA_FSTS_FRI_SHIFT)) | fri | DMA_FSTS_PPF) >>> 0;
      this.raise(pre);
    }
  }

  /** Invalidation queue error (VT-d §6.5.2.10): IQE set, fault event if nothing else pending. */
  setIqe(): void {
    const pre = this.dw[FSTS]!;
    this.dw[FSTS] = (pre | DMA_FSTS_IQE) >>> 0;
    this.raise(pre);
  }

  /** PPF follows the F bits of the records; call after software cleared one (RW1C). */
  updatePpf(): void {
    const dw = this.dw;
    let any = false;
    for (let i = 0; i < this.nfr; i++) {
      if ((dw[(DMAR_FRCD_REG >>> 2) + 4 * i + 3]! & DMA_FRCD_F_HI) !== 0) {
        any = true;
        break;
      }
    }
    dw[FSTS] = any ? (dw[FSTS]! | DMA_FSTS_PPF) >>> 0 : (dw[FSTS]! & ~DMA_FSTS_PPF) >>> 0;
    this.statusChanged();
  }

  /** After software serviced status bits: IP clears once no condition is left. */
  statusChanged(): void {
    const dw = this.dw;
    if ((dw[FSTS]! & FSTS_CONDITIONS) === 0) dw[FECTL] = (dw[FECTL]! & ~DMA_FECTL_IP) >>> 0;
  }

  /** FECTL written: unmasking with an interrupt pending delivers it. */
  fectlWritten(oldValue: number, newValue: number): void {
    const dw = this.dw;
    if ((oldValue & DMA_FECTL_IM) !== 0 && (newValue & DMA_FECTL_IM) === 0 && (dw[FECTL]! & DMA_FECTL_IP) !== 0) this.deliver();
  }

  private raise(preFsts: number): void {
    if ((preFsts & FSTS_CONDITIONS) !== 0) return;
    const dw = this.dw;
    dw[FECTL] = (dw[FECTL]! | DMA_FECTL_IP) >>> 0;
    if ((dw[FECTL]! & DMA_FECTL_IM) === 0) this.deliver();
  }

  private deliver(): void {
    const dw = this.dw;
    const addr = dw[DMAR_FEUADDR_REG >>> 2]! * TWO32 + dw[DMAR_FEADDR_REG >>> 2]!;
    dw[FECTL] = (dw[FECTL]! & ~DMA_FECTL_IP) >>> 0;
    this.events++;
    this.sink?.iommuEvent("fault", addr, dw[DMAR_FEDATA_REG >>> 2]!);
  }
}
