/**
 * Interrupt remapping and posting (VT-d chapter 5, §9.10 IRTE, §9.12 posted-interrupt descriptor).
 *
 * A device's MSI write lands here (this class is the `MsiSink` a device sees). With interrupt
 * remapping enabled, a remappable-format address (bit 4 set) carries a handle (address bits 19:5
 * plus bit 2 as handle bit 15, plus the data's subhandle when SHV is set) that indexes the interrupt
 * remapping table (IRT) in host memory; the 128-bit IRTE there says where the interrupt goes:
 *  - remapped format (IM = 0): vector, destination APIC ID, modes → `InterruptTarget.deliver`;
 *  - posted format (IM = 1): the vector's bit is set in the posted-interrupt descriptor (PID) named
 *    by the IRTE, and a notification event (vector NV to APIC NDST) is sent only if the descriptor's
 *    ON bit was clear and notifications are not suppressed (SN = 0, or the IRTE is urgent). A running
 *    vCPU's CPU picks the PIR up on that notification without a VM exit; a blocked vCPU's hypervisor
 *    points NV at its wakeup vector; a preempted one sets SN and finds PIR when it runs again.
 * Requests that fail a check are blocked and recorded in the fault recording registers with reason
 * 0x20..0x26 and the interrupt index in FI[63:48] (unless the IRTE's FPD suppresses a qualified one).
 *
 * The interrupt entry cache (IEC) holds IRTEs read from memory until software invalidates them.
 * The MSI path allocates nothing.
 */
import type { PhysMem } from "../../memory/physmem.js";
import type { MsiSink } from "../../pcie/dma.js";
import {
  INTERRUPT_ADDR_FIRST,
  INTERRUPT_ADDR_LAST,
  IRTE_DLM_SHIFT,
  IRTE_DM,
  IRTE_FPD,
  IRTE_IM,
  IRTE_P,
  IRTE_RH,
  IRTE_SIZE,
  IRTE_TM,
  IRTE_URGENT,
  IRTE_VECTOR_SHIFT,
  MSI_ADDR_HANDLE_15,
  MSI_ADDR_IF_REMAP,
  MSI_ADDR_SHV,
  PID_CONTROL,
  PID_NDST,
  PID_NV,
  PID_ON,
  PID_PIR,
  PID_SIZE,
  PID_SN,
  SQ_MASK,
  SVT_ALL,
  SVT_NONE,
  TWO32,
  VtdFault,
} from "./defs.js";
import type { FaultUnit } from "./faults.js";

export {
  compatibilityMsi,
  decodeIrte,
  encodeIrte,
  pidDrain,
  pidInit,
  pidRead,
  pidSetNotification,
  pidSetSuppress,
  remappableMsi,
  type DecodedIrte,
  type IrteSourceCheck,
  type IrteSpec,
  type PostedDescriptorState,
  type PostedIrte,
  type RemappedIrte,
} from "./irte.js";

/** Attribute bits passed with a delivered interrupt: the IRTE's low-byte layout. */
export const IRQ_ATTR_LOGICAL = IRTE_DM; // destination mode logical (else physical)
export const IRQ_ATTR_REDIRECTION_HINT = IRTE_RH;
export const IRQ_ATTR_LEVEL = IRTE_TM; // level-triggered (else edge)
export const IRQ_ATTR_DLM_SHIFT = IRTE_DLM_SHIFT; // delivery mode in bits 7:5 (0 fixed, 1 lowest priority, 4 NMI, ...)

/** Where remapped interrupts and posted-interrupt notification events go (the local APICs). */
export interface InterruptTarget {
  /**
   * Interrupt `vector` for APIC `destId`, with IRQ_ATTR_* bits. Posted-interrupt notification
   * events arrive here too: vector = the descriptor's NV, destId = its NDST, attrs = 0.
   */
  deliver(destId: number, vector: number, attrs: number): void;
}
/** A target that drops everything (counters still count). */
export const NULL_INTERRUPT_TARGET: InterruptTarget = { deliver: () => undefined };

export interface InterruptRemapStats {
  /** Delivered through a remapped-format IRTE. */
  remapped: number;
  /** Compatibility-format interrupts passed through (IR disabled, or CFIS = 1). */
  compat: number;
  /** Posted into a posted-interrupt descriptor's PIR. */
  posted: number;
  /** Posted-interrupt notification events sent (ON went 0 → 1 with SN = 0 or urgent). */
  notifications: number;
  /** Posted with SN = 1 and not urgent: PIR set, no notification. */
  suppressed: number;
  /** Posted while ON was already set: PIR set, the pending notification covers it. */
  coalesced: number;
  /** Interrupt requests refused (recorded or FPD-suppressed). */
  blocked: number;
  iecHits: number;
  iecMisses: number;
}

/*
 * MSI-path constants as module-local bindings: under the TypeScript runners used for tests and
 * benchmarks (tsx/esbuild, vite) an imported binding can compile to an accessor call per use.
 */
const L_INTERRUPT_ADDR_FIRST = INTERRUPT_ADDR_FIRST;
const L_INTERRUPT_ADDR_LAST = INTERRUPT_ADDR_LAST;
const L_IRTE_DLM_SHIFT = IRTE_DLM_SHIFT;
const L_IRTE_DM = IRTE_DM;
const L_IRTE_FPD = IRTE_FPD;
const L_IRTE_IM = IRTE_IM;
const L_IRTE_P = IRTE_P;
const L_IRTE_RH = IRTE_RH;
const L_IRTE_SIZE = IRTE_SIZE;
const L_IRTE_URGENT = IRTE_URGENT;
const L_IRTE_VECTOR_SHIFT = IRTE_VECTOR_SHIFT;
const L_MSI_ADDR_HANDLE_15 = MSI_ADDR_HANDLE_15;
const L_MSI_ADDR_IF_REMAP = MSI_ADDR_IF_REMAP;
const L_MSI_ADDR_SHV = MSI_ADDR_SHV;
const L_PID_CONTROL = PID_CONTROL;
const L_PID_NDST = PID_NDST;
const L_PID_NV = PID_NV;
const L_PID_ON = PID_ON;
const L_PID_PIR = PID_PIR;
const L_PID_SIZE = PID_SIZE;
const L_PID_SN = PID_SN;
const L_SQ_MASK = SQ_MASK;
const L_SVT_ALL = SVT_ALL;
const L_SVT_NONE = SVT_NONE;
const L_TWO32 = TWO32;
const FR_IR_ENTRY_P = VtdFault.IR_ENTRY_P;
const FR_IR_INDEX_OVER = VtdFault.IR_INDEX_OVER;
const FR_IR_IRTE_RSVD = VtdFault.IR_IRTE_RSVD;
const FR_IR_REQ_COMPAT = VtdFault.IR_REQ_COMPAT;
const FR_IR_REQ_RSVD = VtdFault.IR_REQ_RSVD;
const FR_IR_ROOT_INVAL = VtdFault.IR_ROOT_INVAL;
const FR_IR_SID_ERR = VtdFault.IR_SID_ERR;

const C_REMAPPED = 0;
const C_COMPAT = 1;
const C_POSTED = 2;
const C_NOTIFY = 3;
const C_SUPPRESSED = 4;
const C_COALESCED = 5;
const C_BLOCKED = 6;
const C_IEC_HIT = 7;
const C_IEC_MISS = 8;
const N_COUNTERS = 9;

/** Reserved bits of a remapped-format IRTE (low dword 0, low dword 1 in xAPIC mode, high dword 0). */
const RSVD_REMAP_LO0 = 0xff00_7000; // bits 14:12, 31:24
const RSVD_XAPIC_LO1 = 0xffff_00ff; // destination bits other than 15:8 in xAPIC mode
const RSVD_POSTED_LO0 = 0xff00_30fc; // bits 7:2, 13:12, 31:24
const RSVD_POSTED_LO1 = 0x3f; // bits 37:32
const RSVD_HI0 = 0xfff0_0000; // bits 95:84

export class InterruptRemapper implements MsiSink {
  /** GSTS.IRES. */
  enabled = false;
  /** GSTS.CFIS: compatibility-format interrupts pass through while remapping is enabled. */
  compatAllowed = false;
  private base = 0;
  private entries = 0;
  private x2apic = false;
  private iec = new Uint32Array(0);
  private iecValid = new Uint8Array(0);
  private readonly c = new Float64Array(N_COUNTERS);

  constructor(
    private readonly mem: PhysMem,
    private readonly faults: FaultUnit,
    /** Bits of a high address dword below the host address width. */
    private readonly hawHi: number,
    public target: InterruptTarget = NULL_INTERRUPT_TARGET,
  ) {}

  /** SIRTP: latch the table address, size (2^(s+1) entries) and x2APIC mode; empties the IEC. */
  setTable(base: number, s: number, eime: boolean): void {
    this.base = base;
    this.entries = 2 ** ((s & 0xf) + 1);
    this.x2apic = eime;
    this.iec = new Uint32Array(this.entries * 4);
    this.iecValid = new Uint8Array(this.entries);
  }
  get tableEntries(): number {
    return this.entries;
  }
  get tableBase(): number {
    return this.base;
  }
  get extendedMode(): boolean {
    return this.x2apic;
  }

  /** Interrupt entry cache invalidation: all, or 2^im entries aligned around `index`. */
  invalidateAll(): void {
    this.iecValid.fill(0);
  }
  invalidateIndex(index: number, im: number): void {
    const n = 2 ** (im & 0x1f);
    const first = Math.floor(index / n) * n;
    const last = Math.min(first + n, this.entries);
    for (let i = first; i < last; i++) this.iecValid[i] = 0;
  }

  stats(): InterruptRemapStats {
    const c = this.c;
    return {
      remapped: c[C_REMAPPED]!,
      compat: c[C_COMPAT]!,
      posted: c[C_POSTED]!,
      notifications: c[C_NOTIFY]!,
      suppressed: c[C_SUPPRESSED]!,
      coalesced: c[C_COALESCED]!,
      blocked: c[C_BLOCKED]!,
      iecHits: c[C_IEC_HIT]!,
      iecMisses: c[C_IEC_MISS]!,
    };
  }
  resetStats(): void {
    this.c.fill(0);
  }

  msiWrite(rid: number, addr: number, data: number): void {
    const sid = rid & 0xffff;
    if (!this.enabled) {
      this.deliverCompat(addr, data);
      return;
    }
    if (!(addr >= L_INTERRUPT_ADDR_FIRST && addr <= L_INTERRUPT_ADDR_LAST)) {
      this.block(sid, FR_IR_REQ_RSVD, 0, false);
      return;
    }
    if ((addr & L_MSI_ADDR_IF_REMAP) === 0) {
      if (this.compatAllowed) this.deliverCompat(addr, data);
      else this.block(sid, FR_IR_REQ_COMPAT, 0, false);
      return;
    }
    let index = ((addr >>> 5) & 0x7fff) | ((addr & L_MSI_ADDR_HANDLE_15) << 13);
    if ((addr & L_MSI_ADDR_SHV) !== 0) {
      if ((data & 0xffff_0000) !== 0) {
        this.block(sid, FR_IR_REQ_RSVD, index, false);
        return;
      }
      index += data & 0xffff;
    }
    if (index >= this.entries) {
      this.block(sid, FR_IR_INDEX_OVER, index, false);
      return;
    }
    // Fetch the IRTE (interrupt entry cache, else memory).
    const q = index * 4;
    const iec = this.iec;
    if (this.iecValid[index] === 1) {
      this.c[C_IEC_HIT]!++;
    } else {
      const ea = this.base + index * L_IRTE_SIZE;
      if (ea + L_IRTE_SIZE > this.mem.sizeLimit) {
        this.block(sid, FR_IR_ROOT_INVAL, index, false);
        return;
      }
      this.c[C_IEC_MISS]!++;
      iec[q] = this.mem.read32(ea);
      iec[q + 1] = this.mem.read32(ea + 4);
      iec[q + 2] = this.mem.read32(ea + 8);
      iec[q + 3] = this.mem.read32(ea + 12);
      if ((iec[q]! & L_IRTE_P) !== 0) this.iecValid[index] = 1;
    }
    const lo0 = iec[q]!;
    const lo1 = iec[q + 1]!;
    const hi0 = iec[q + 2]!;
    const hi1 = iec[q + 3]!;
    const fpd = (lo0 & L_IRTE_FPD) !== 0;
    if ((lo0 & L_IRTE_P) === 0) {
      this.block(sid, FR_IR_ENTRY_P, index, fpd);
      return;
    }
    const posted = (lo0 & L_IRTE_IM) !== 0;
    const svt = (hi0 >>> 18) & 3;
    const rsvd = posted
      ? (lo0 & RSVD_POSTED_LO0) | (lo1 & RSVD_POSTED_LO1) | (hi0 & RSVD_HI0) | (hi1 & ~this.hawHi)
      : (lo0 & RSVD_REMAP_LO0) | (this.x2apic ? 0 : lo1 & RSVD_XAPIC_LO1) | (hi0 & RSVD_HI0) | hi1;
    if (rsvd !== 0 || svt === 3) {
      this.block(sid, FR_IR_IRTE_RSVD, index, fpd);
      return;
    }
    if (svt !== L_SVT_NONE) {
      let ok: boolean;
      if (svt === L_SVT_ALL) {
        const mask = L_SQ_MASK[(hi0 >>> 16) & 3]!;
        ok = (hi0 & mask) === (sid & mask);
      } else {
        const bus = sid >>> 8;
        ok = bus >= ((hi0 >>> 8) & 0xff) && bus <= (hi0 & 0xff);
      }
      if (!ok) {
        this.block(sid, FR_IR_SID_ERR, index, fpd);
        return;
      }
    }
    const vector = (lo0 >>> L_IRTE_VECTOR_SHIFT) & 0xff;
    if (!posted) {
      this.c[C_REMAPPED]!++;
      this.target.deliver(this.x2apic ? lo1 : (lo1 >>> 8) & 0xff, vector, lo0 & 0xfc);
      return;
    }
    const pda = ((lo1 & 0xffff_ffc0) >>> 0) + hi1 * L_TWO32;
    if (pda + L_PID_SIZE > this.mem.sizeLimit) {
      // A descriptor outside host memory cannot be written: treated as a malformed IRTE.
      this.block(sid, FR_IR_IRTE_RSVD, index, fpd);
      return;
    }
    this.post(pda, vector, (lo0 & L_IRTE_URGENT) !== 0);
  }

  /** Posted-interrupt processing by the remapping hardware (VT-d §5.2.3), one descriptor update. */
  private post(pda: number, vector: number, urgent: boolean): void {
    const mem = this.mem;
    const pirByte = pda + L_PID_PIR + (vector >>> 3);
    mem.write8(pirByte, mem.read8(pirByte) | (1 << (vector & 7)));
    this.c[C_POSTED]!++;
    const ctl = mem.read8(pda + L_PID_CONTROL);
    if ((ctl & L_PID_ON) !== 0) {
      this.c[C_COALESCED]!++;
      return;
    }
    if ((ctl & L_PID_SN) !== 0 && !urgent) {
      this.c[C_SUPPRESSED]!++;
      return;
    }
    mem.write8(pda + L_PID_CONTROL, ctl | L_PID_ON);
    const nv = mem.read8(pda + L_PID_NV);
    const ndst = mem.read32(pda + L_PID_NDST);
    this.c[C_NOTIFY]!++;
    this.target.deliver(this.x2apic ? ndst : (ndst >>> 8) & 0xff, nv, 0);
  }

  /** Compatibility format: destination in address bits 19:12, vector/delivery mode/trigger in data. */
  private deliverCompat(addr: number, data: number): void {
    this.c[C_COMPAT]!++;
    const attrs = (addr & (L_IRTE_DM | L_IRTE_RH)) | (((data >>> 15) & 1) << 4) | (((data >>> 8) & 7) << L_IRTE_DLM_SHIFT);
    this.target.deliver((addr >>> 12) & 0xff, data & 0xff, attrs);
  }

  private block(sid: number, reason: number, index: number, fpd: boolean): void {
    this.c[C_BLOCKED]!++;
    if (fpd) return; // every reason passed with fpd = true here is a qualified one
    this.faults.record(sid, reason, 0, ((index & 0xffff) << 16) >>> 0, false);
  }
}
