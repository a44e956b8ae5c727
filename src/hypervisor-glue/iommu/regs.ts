/**
 * The VT-d remapping unit's MMIO register file, declared once as a register table (pcie/regs.ts).
 * 64-bit registers are two 32-bit table rows (`X` and `X_HI`), which is also how the model accepts
 * 8-byte accesses: two 4-byte accesses, low dword first (software writes the dword holding the
 * command bit last, as drivers do). Reset image, write mask and write-1-to-clear mask come from the
 * table; side effects hang on post-write hooks that see (old, new, written).
 */
import { bit, bits, defineRegFile, reg, type CapDef, type RegSpec, type RegTable } from "../../pcie/regs.js";
import {
  CAP_SAGAW_39,
  CAP_SAGAW_48,
  CAP_SLLPS_1G,
  CAP_SLLPS_2M,
  DMA_CCMD_ICC_HI,
  DMA_FECTL_IM,
  DMA_FSTS_ICE,
  DMA_FSTS_IQE,
  DMA_FSTS_ITE,
  DMA_FSTS_PFO,
  DMA_GCMD_CFI,
  DMA_GCMD_IRE,
  DMA_GCMD_QIE,
  DMA_GCMD_SIRTP,
  DMA_GCMD_SRTP,
  DMA_GCMD_TE,
  DMA_ICS_IWC,
  DMA_IRTA_EIME,
  DMA_TLB_IVT_HI,
  DMAR_FRCD_REG,
  DMAR_IVA_REG,
  DMAR_REG_SIZE,
  ECAP_C,
  ECAP_EIM,
  ECAP_IR,
  ECAP_PT,
  ECAP_QI,
} from "./defs.js";

/** What this remapping unit implements; everything the CAP/ECAP registers advertise. */
export interface VtdCaps {
  /** Host address width (bits of host physical addresses in tables). */
  readonly haw: number;
  /** Maximum guest address width: 39 (3-level tables only) or 48 (3 and 4 levels). */
  readonly mgaw: 39 | 48;
  /** Fault recording registers. */
  readonly nfr: number;
  readonly sllps2M: boolean;
  readonly sllps1G: boolean;
  /** ECAP.PT: context entries may request pass-through. */
  readonly passThrough: boolean;
  /** ECAP.EIM: x2APIC (32-bit destination IDs) in interrupt remapping. */
  readonly x2apic: boolean;
  /** CAP.MAMV: largest address mask for page-selective invalidation. */
  readonly mamv: number;
}

/** Bits of the high dword of a 64-bit address that lie below `width` bits. */
export function hiMask(width: number): number {
  return width <= 32 ? 0 : width >= 64 ? 0xffffffff : (2 ** (width - 32) - 1) >>> 0;
}

export const VTD_VERSION = 0x10; // major 1, minor 0
/** ND = 6: 16-bit domain IDs (2^(4 + 2·ND) domains). */
const CAP_ND_64K = 6;
const FRO = DMAR_FRCD_REG / 16;
/** ECAP.IRO: offset of the IOTLB registers (IVA first) in 16-byte units. */
const IRO = DMAR_IVA_REG / 16;
const MHMV = 0xf;

/** Build the register table for the given capabilities. */
export function vtdRegisterTable(c: VtdCaps) {
  const sagaw = CAP_SAGAW_39 | (c.mgaw >= 48 ? CAP_SAGAW_48 : 0);
  const sllps = (c.sllps2M ? CAP_SLLPS_2M : 0) | (c.sllps1G ? CAP_SLLPS_1G : 0);
  const capLo = (CAP_ND_64K | (sagaw << 8) | ((c.mgaw - 1) << 16) | ((FRO & 0xff) << 24)) >>> 0;
  const capHi = (((FRO >>> 8) & 3) | (sllps << 2) | (1 << 7) /* PSI */ | ((c.nfr - 1) << 8) | ((c.mamv & 0x3f) << 16) | (1 << 27)) /* PI */ >>> 0;
  const ecapLo =
    (ECAP_C | ECAP_QI | ECAP_IR | (c.x2apic ? ECAP_EIM : 0) | (c.passThrough ? ECAP_PT : 0) | (IRO << 8) | (MHMV << 20)) >>> 0;
  const hawHi = hiMask(c.haw);
  const gcmdRw = DMA_GCMD_TE | DMA_GCMD_SRTP | DMA_GCMD_QIE | DMA_GCMD_IRE | DMA_GCMD_SIRTP | DMA_GCMD_CFI;

  const frcd: RegTable = {};
  for (let i = 0; i < c.nfr; i++) {
    const o = DMAR_FRCD_REG + 16 * i;
    frcd[`FRCD${i}`] = reg(o, 4, { desc: `fault record ${i}: FI[31:12]`, fields: { FI: bits(31, 12) } });
    frcd[`FRCD${i}_1`] = reg(o + 4, 4, { desc: `fault record ${i}: FI[63:32]`, fields: { FI_HI: bits(31, 0) } });
    frcd[`FRCD${i}_2`] = reg(o + 8, 4, { desc: `fault record ${i}: SID`, fields: { SID: bits(15, 0) } });
    frcd[`FRCD${i}_3`] = reg(o + 12, 4, {
      w1c: 0x8000_0000,
      desc: `fault record ${i}: FR, T, F`,
      fields: { FR: bits(7, 0), T: bit(30), F: bit(31) },
    });
  }

  const fixed = {
    VER: reg(0x00, 4, { reset: VTD_VERSION, fields: { MIN: bits(3, 0), MAX: bits(7, 4) } }), // DMAR_VER_REG
    CAP: reg(0x08, 4, {
      reset: capLo,
      fields: { ND: bits(2, 0), RWBF: bit(4), CM: bit(7), SAGAW: bits(12, 8), MGAW: bits(21, 16), ZLR: bit(22), FRO_LO: bits(31, 24) },
    }), // DMAR_CAP_REG
    CAP_HI: reg(0x0c, 4, {
      reset: capHi,
      fields: { FRO_HI: bits(1, 0), SLLPS: bits(5, 2), PSI: bit(7), NFR: bits(15, 8), MAMV: bits(21, 16), DWD: bit(22), DRD: bit(23), PI: bit(27) },
    }),
    ECAP: reg(0x10, 4, {
      reset: ecapLo,
      fields: { C: bit(0), QI: bit(1), DT: bit(2), IR: bit(3), EIM: bit(4), PT: bit(6), SC: bit(7), IRO: bits(17, 8), MHMV: bits(23, 20) },
    }), // DMAR_ECAP_REG
    ECAP_HI: reg(0x14, 4),
    GCMD: reg(0x18, 4, {
      rw: gcmdRw,
      desc: "write-only: reads 0",
      fields: { CFI: bit(23), SIRTP: bit(24), IRE: bit(25), QIE: bit(26), WBF: bit(27), EAFL: bit(28), SFL: bit(29), SRTP: bit(30), TE: bit(31) },
    }), // DMAR_GCMD_REG
    GSTS: reg(0x1c, 4, {
      fields: { CFIS: bit(23), IRTPS: bit(24), IRES: bit(25), QIES: bit(26), WBFS: bit(27), AFLS: bit(28), FLS: bit(29), RTPS: bit(30), TES: bit(31) },
    }), // DMAR_GSTS_REG
    RTADDR: reg(0x20, 4, { rw: 0xffff_f000, fields: { TTM: bits(11, 10), RTA: bits(31, 12) } }), // DMAR_RTADDR_REG
    RTADDR_HI: reg(0x24, 4, { rw: hawHi, fields: { RTA_HI: bits(31, 0) } }),
    CCMD: reg(0x28, 4, { rw: 0xffff_ffff, fields: { DID: bits(15, 0), SID: bits(31, 16) } }), // DMAR_CCMD_REG
    CCMD_HI: reg(0x2c, 4, {
      rw: (DMA_CCMD_ICC_HI | (3 << 29) | 3) >>> 0,
      fields: { FM: bits(1, 0), CAIG: bits(28, 27), CIRG: bits(30, 29), ICC: bit(31) },
    }),
    FSTS: reg(0x34, 4, {
      w1c: DMA_FSTS_PFO | DMA_FSTS_IQE | DMA_FSTS_ICE | DMA_FSTS_ITE,
      fields: { PFO: bit(0), PPF: bit(1), IQE: bit(4), ICE: bit(5), ITE: bit(6), FRI: bits(15, 8) },
    }), // DMAR_FSTS_REG
    FECTL: reg(0x38, 4, { reset: DMA_FECTL_IM, rw: DMA_FECTL_IM, fields: { IP: bit(30), IM: bit(31) } }), // DMAR_FECTL_REG
    FEDATA: reg(0x3c, 4, { rw: 0xffff_ffff }), // DMAR_FEDATA_REG
    FEADDR: reg(0x40, 4, { rw: 0xffff_fffc }), // DMAR_FEADDR_REG
    FEUADDR: reg(0x44, 4, { rw: 0xffff_ffff }), // DMAR_FEUADDR_REG
    IQH: reg(0x80, 4, { fields: { QH: bits(18, 4) } }), // DMAR_IQH_REG
    IQH_HI: reg(0x84, 4),
    IQT: reg(0x88, 4, { rw: 0x7fff0, fields: { QT: bits(18, 4) } }), // DMAR_IQT_REG
    IQT_HI: reg(0x8c, 4),
    IQA: reg(0x90, 4, { rw: 0xffff_f007, fields: { QS: bits(2, 0), DW: bit(11), IQA: bits(31, 12) } }), // DMAR_IQA_REG
    IQA_HI: reg(0x94, 4, { rw: hawHi }),
    ICS: reg(0x9c, 4, { w1c: DMA_ICS_IWC, fields: { IWC: bit(0) } }), // DMAR_ICS_REG
    IECTL: reg(0xa0, 4, { reset: DMA_FECTL_IM, rw: DMA_FECTL_IM, fields: { IP: bit(30), IM: bit(31) } }), // DMAR_IECTL_REG
    IEDATA: reg(0xa4, 4, { rw: 0xffff_ffff }),
    IEADDR: reg(0xa8, 4, { rw: 0xffff_fffc }),
    IEUADDR: reg(0xac, 4, { rw: 0xffff_ffff }),
    IRTA: reg(0xb8, 4, {
      rw: (0xffff_f000 | (c.x2apic ? DMA_IRTA_EIME : 0) | 0xf) >>> 0,
      fields: { S: bits(3, 0), EIME: bit(11), IRTA: bits(31, 12) },
    }), // DMAR_IRTA_REG
    IRTA_HI: reg(0xbc, 4, { rw: hawHi }),
    IVA: reg(0xf0, 4, { rw: 0xffff_f07f, fields: { AM: bits(5, 0), IH: bit(6), ADDR: bits(31, 12) } }), // DMAR_IVA_REG
    IVA_HI: reg(0xf4, 4, { rw: hiMask(c.mgaw) }),
    IOTLB: reg(0xf8, 4), // DMAR_IOTLB_REG (low dword reserved)
    IOTLB_HI: reg(0xfc, 4, {
      rw: (DMA_TLB_IVT_HI | (3 << 28) | (3 << 16) | 0xffff) >>> 0,
      fields: { DID: bits(15, 0), DW: bit(16), DR: bit(17), IAIG: bits(26, 25), IIRG: bits(29, 28), IVT: bit(31) },
    }),
  };
  return defineRegFile("VT-d DMAR", DMAR_REG_SIZE, { ...fixed, ...frcd } as typeof fixed & RegTable);
}
export type VtdRegDef = ReturnType<typeof vtdRegisterTable>;
export type VtdRegTable = VtdRegDef["regs"];

/** Post-write hook: the register's value before and after the write, and the raw value written. */
export type RegWriteHook = (oldValue: number, newValue: number, written: number) => void;

/**
 * A 32-bit-granular MMIO register file driven by a register table: one generic write loop
 * (write mask, then write-1-to-clear), reserved and unknown offsets read 0 and ignore writes.
 */
export class MmioRegisterFile<R extends RegTable = RegTable> {
  readonly dw: Uint32Array;
  private readonly wmask: Uint32Array;
  private readonly w1c: Uint32Array;
  private readonly resetImage: Uint32Array;
  private readonly hooks: Array<RegWriteHook | undefined>;

  constructor(readonly def: CapDef<R>) {
    const n = def.size >>> 2;
    this.dw = new Uint32Array(n);
    this.wmask = new Uint32Array(n);
    this.w1c = new Uint32Array(n);
    this.resetImage = new Uint32Array(n);
    this.hooks = new Array<RegWriteHook | undefined>(n).fill(undefined);
    for (const r of Object.values(def.regs)) {
      const i = r.offset >>> 2;
      this.resetImage[i] = r.reset;
      this.wmask[i] = r.rw;
      this.w1c[i] = r.w1c;
    }
    this.dw.set(this.resetImage);
  }

  reset(): void {
    this.dw.set(this.resetImage);
  }

  /** Software read of the dword at `off` (4-byte aligned; others read 0). */
  read32(off: number): number {
    if ((off & 3) !== 0 || off < 0 || off >= this.def.size) return 0;
    return this.dw[off >>> 2]!;
  }

  /** Software write of the dword at `off`: masked, W1C applied, then the post-write hook. */
  write32(off: number, value: number): void {
    if ((off & 3) !== 0 || off < 0 || off >= this.def.size) return;
    const i = off >>> 2;
    const v = value >>> 0;
    const old = this.dw[i]!;
    const wm = this.wmask[i]!;
    const nv = (((old & ~wm) | (v & wm)) & ~(v & this.w1c[i]!)) >>> 0;
    this.dw[i] = nv;
    const h = this.hooks[i];
    if (h !== undefined) h(old, nv, v);
  }

  /** Hardware-side raw access (no masks, no hooks). */
  get(r: RegSpec): number {
    return this.dw[r.offset >>> 2]!;
  }
  set(r: RegSpec, v: number): void {
    this.dw[r.offset >>> 2] = v >>> 0;
  }

  onWrite(r: RegSpec, hook: RegWriteHook): void {
    this.hooks[r.offset >>> 2] = hook;
  }
}
