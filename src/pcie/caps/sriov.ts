/**
 * Single Root I/O Virtualization capability (PCI_EXT_CAP_ID_SRIOV 0x10; SR-IOV 1.1 §3.3,
 * PCIe Base 4.0 §9.3.3), layout only: the behaviour (NumVFs/VF Enable rules, offset and stride
 * recomputation, VF instantiation, VF BAR sizing by System Page Size) is the post-write hooks of
 * src/sriov/pf.ts.
 *
 * JSON names: sriovCap { vfMigrationCapable, ariCapableHierarchyPreserved,
 * vf10BitTagRequesterSupported, vfMigrationInterruptMessageNumber },
 * sriovCtrl { vfEnable, vfMigrationEnable, vfMigrationInterruptEnable, vfMse, ariCapableHierarchy,
 * vf10BitTagRequesterEnable }, sriovStatus { vfMigrationStatus }, initialVFs, totalVFs, numVFs,
 * functionDependencyLink, firstVfOffset, vfStride, vfDeviceId, supportedPageSizes, systemPageSize,
 * vfBar0..vfBar5, vfMigrationState { vfMigrationStateBir, vfMigrationStateOffsetQwords }.
 *
 * Write masks: Control VFE | VFM | INTR | MSE | ARI (and VF 10-Bit Tag Requester Enable when the
 * capability advertises it), NumVFs 0xffff, System Page Size (any bits: the PF hook refuses values
 * that are not one supported size). VF BARs are hardwired zero until `sriovCap` (or bars.ts
 * `barOverrides`) gives them a size. VF Migration Status is RW1C.
 */
import { IovError } from "../../errors.js";
import type { BarSpec } from "../bars.js";
import { barOverrides } from "../bars.js";
import type { RegOverride } from "../layout.js";
import { bit, bits, defineExtCap, reg } from "../regs.js";
import type { CapConfig } from "./common.js";
import { checkRange, value, when } from "./common.js";

export const PCI_EXT_CAP_ID_SRIOV = 0x10; // Single Root I/O Virtualization
export const PCI_SRIOV_CAP = 0x04; // SR-IOV Capabilities
export const PCI_SRIOV_CAP_VFM = 0x00000001; // VF Migration Capable
export const PCI_SRIOV_CAP_ARI_PRESERVED = 0x00000002; // ARI Capable Hierarchy Preserved
export const PCI_SRIOV_CAP_VF_10BIT_TAG_REQ = 0x00000004; // VF 10-Bit Tag Requester Supported
export const PCI_SRIOV_CAP_INTR_MASK = 0xffe00000; // VF Migration Interrupt Message Number
export const PCI_SRIOV_CTRL = 0x08; // SR-IOV Control
export const PCI_SRIOV_CTRL_VFE = 0x0001; // VF Enable
export const PCI_SRIOV_CTRL_VFM = 0x0002; // VF Migration Enable
export const PCI_SRIOV_CTRL_INTR = 0x0004; // VF Migration Interrupt Enable
export const PCI_SRIOV_CTRL_MSE = 0x0008; // VF Memory Space Enable
export const PCI_SRIOV_CTRL_ARI = 0x0010; // ARI Capable Hierarchy
export const PCI_SRIOV_CTRL_VF_10BIT_TAG_REQ_EN = 0x0020; // VF 10-Bit Tag Requester Enable
export const PCI_SRIOV_STATUS = 0x0a; // SR-IOV Status
export const PCI_SRIOV_STATUS_VFM = 0x0001; // VF Migration Status
export const PCI_SRIOV_INITIAL_VF = 0x0c; // InitialVFs
export const PCI_SRIOV_TOTAL_VF = 0x0e; // TotalVFs
export const PCI_SRIOV_NUM_VF = 0x10; // NumVFs
export const PCI_SRIOV_FUNC_LINK = 0x12; // Function Dependency Link
export const PCI_SRIOV_VF_OFFSET = 0x14; // First VF Offset
export const PCI_SRIOV_VF_STRIDE = 0x16; // VF Stride
export const PCI_SRIOV_VF_DID = 0x1a; // VF Device ID
export const PCI_SRIOV_SUP_PGSIZE = 0x1c; // Supported Page Sizes
export const PCI_SRIOV_SYS_PGSIZE = 0x20; // System Page Size
export const PCI_SRIOV_BAR = 0x24; // VF BAR0 (VF BARn at 0x24 + 4n)
export const PCI_SRIOV_NUM_BARS = 6;
export const PCI_SRIOV_VFM = 0x3c; // VF Migration State Array Offset
export const PCI_SRIOV_VFM_BIR_MASK = 0x00000007; // VF Migration State BIR
export const PCI_SRIOV_VFM_OFFSET_MASK = 0xfffffff8; // VF Migration State Offset
export const PCI_SRIOV_VFM_UA = 0x0; // Inactive.Unavailable
export const PCI_SRIOV_VFM_MI = 0x1; // Dormant.MigrateIn
export const PCI_SRIOV_VFM_MO = 0x2; // Active.MigrateOut
export const PCI_SRIOV_VFM_AV = 0x3; // Active.Available
export const PCI_EXT_CAP_SRIOV_SIZEOF = 0x40;
/** Page sizes every SR-IOV PF must support: 4K, 8K, 64K, 256K, 1M, 4M (SR-IOV 1.1 §3.3.12). */
export const PCI_SRIOV_SUP_PGSIZE_DEFAULT = 0x553;
/** System Page Size after reset: 4 KiB (§3.3.13). */
export const PCI_SRIOV_SYS_PGSIZE_DEFAULT = 0x1;
/** Control bits software can write in every SR-IOV PF. */
export const PCI_SRIOV_CTRL_RW = PCI_SRIOV_CTRL_VFE | PCI_SRIOV_CTRL_VFM | PCI_SRIOV_CTRL_INTR | PCI_SRIOV_CTRL_MSE | PCI_SRIOV_CTRL_ARI;

/** VF Migration Interrupt Message Number of an SR-IOV Capabilities value (pci_regs.h PCI_SRIOV_CAP_INTR). */
export const PCI_SRIOV_CAP_INTR = (x: number): number => x >>> 21;
/** BIR and byte offset of the VF Migration State Array (pci_regs.h PCI_SRIOV_VFM_BIR/_OFFSET). */
export const PCI_SRIOV_VFM_BIR = (x: number): number => x & PCI_SRIOV_VFM_BIR_MASK;
export const PCI_SRIOV_VFM_OFFSET = (x: number): number => (x & PCI_SRIOV_VFM_OFFSET_MASK) >>> 0;

/** Table key of VF BAR `i` (for bars.ts `barOverrides(bars, sriovBarKey)`). */
export const sriovBarKey = (i: number): string => `BAR${i}`;

const vfBar = (i: number) => reg(PCI_SRIOV_BAR + 4 * i, 4, { json: `vfBar${i}` });

export const SRIOV_CAP = defineExtCap("Single Root I/O Virtualization", PCI_EXT_CAP_ID_SRIOV, PCI_EXT_CAP_SRIOV_SIZEOF, {
  CAP: reg(PCI_SRIOV_CAP, 4, {
    json: "sriovCap",
    fields: {
      VFM: bit(0, "vfMigrationCapable"),
      ARI_PRESERVED: bit(1, "ariCapableHierarchyPreserved"),
      VF_10BIT_TAG_REQ: bit(2, "vf10BitTagRequesterSupported"),
      INTR: bits(31, 21, "vfMigrationInterruptMessageNumber"),
    },
  }),
  CTRL: reg(PCI_SRIOV_CTRL, 2, {
    rw: PCI_SRIOV_CTRL_RW,
    json: "sriovCtrl",
    fields: {
      VFE: bit(0, "vfEnable"),
      VFM: bit(1, "vfMigrationEnable"),
      INTR: bit(2, "vfMigrationInterruptEnable"),
      MSE: bit(3, "vfMse"),
      ARI: bit(4, "ariCapableHierarchy"),
      VF_10BIT_TAG_REQ_EN: bit(5, "vf10BitTagRequesterEnable"),
    },
  }),
  STATUS: reg(PCI_SRIOV_STATUS, 2, { w1c: PCI_SRIOV_STATUS_VFM, json: "sriovStatus", fields: { VFM: bit(0, "vfMigrationStatus") } }),
  INITIAL_VF: value(PCI_SRIOV_INITIAL_VF, 2, "initialVFs"),
  TOTAL_VF: value(PCI_SRIOV_TOTAL_VF, 2, "totalVFs"),
  NUM_VF: reg(PCI_SRIOV_NUM_VF, 2, { rw: 0xffff, json: "numVFs" }),
  FUNC_LINK: value(PCI_SRIOV_FUNC_LINK, 1, "functionDependencyLink"),
  VF_OFFSET: value(PCI_SRIOV_VF_OFFSET, 2, "firstVfOffset"),
  VF_STRIDE: value(PCI_SRIOV_VF_STRIDE, 2, "vfStride"),
  VF_DID: value(PCI_SRIOV_VF_DID, 2, "vfDeviceId"),
  SUP_PGSIZE: value(PCI_SRIOV_SUP_PGSIZE, 4, "supportedPageSizes", { reset: PCI_SRIOV_SUP_PGSIZE_DEFAULT }),
  SYS_PGSIZE: reg(PCI_SRIOV_SYS_PGSIZE, 4, { reset: PCI_SRIOV_SYS_PGSIZE_DEFAULT, rw: 0xffffffff, json: "systemPageSize" }),
  BAR0: vfBar(0),
  BAR1: vfBar(1),
  BAR2: vfBar(2),
  BAR3: vfBar(3),
  BAR4: vfBar(4),
  BAR5: vfBar(5),
  VFM: reg(PCI_SRIOV_VFM, 4, {
    json: "vfMigrationState",
    fields: { BIR: bits(2, 0, "vfMigrationStateBir"), OFFSET: bits(31, 3, "vfMigrationStateOffsetQwords") },
  }),
});

export type SriovRegs = typeof SRIOV_CAP.regs;

export interface SriovCapOptions {
  readonly totalVFs: number;
  /** Default: totalVFs (a PF without VF Migration must report InitialVFs = TotalVFs). */
  readonly initialVFs?: number;
  readonly vfDeviceId: number;
  /** Function number of the PF this one depends on; a PF with no dependency names itself. Default 0. */
  readonly functionDependencyLink?: number;
  readonly supportedPageSizes?: number;
  /** Per-VF BARs (sizes per VF); they set the VF BAR registers' flags and write masks. */
  readonly vfBars?: readonly BarSpec[];
  readonly vf10BitTagRequester?: boolean;
  /** VF Migration Capable, with its interrupt message number (0..2047) and state array location. */
  readonly vfMigration?: { readonly interruptMessageNumber: number; readonly bir: number; readonly offset: number };
}

/** The SR-IOV capability of one PF: counts, VF Device ID, page sizes and VF BAR masks as reset overrides. */
export function sriovCap(o: SriovCapOptions): CapConfig<SriovRegs> {
  const total = checkRange("TotalVFs", o.totalVFs, 0, 0xffff);
  const initial = checkRange("InitialVFs", o.initialVFs ?? total, 0, total);
  const vfm = o.vfMigration;
  let cap = when(o.vf10BitTagRequester, PCI_SRIOV_CAP_VF_10BIT_TAG_REQ);
  let vfmReg = 0;
  if (vfm !== undefined) {
    const irq = checkRange("VF Migration Interrupt Message Number", vfm.interruptMessageNumber, 0, 0x7ff);
    cap |= PCI_SRIOV_CAP_VFM | ((irq * 2 ** 21) >>> 0);
    checkRange("VF Migration State BIR", vfm.bir, 0, 5);
    checkRange("VF Migration State Offset", vfm.offset, 0, PCI_SRIOV_VFM_OFFSET_MASK);
    if (vfm.offset % 8 !== 0) throw new IovError("EINVAL", `VF Migration State Offset 0x${vfm.offset.toString(16)} is not a multiple of 8`);
    vfmReg = ((vfm.offset & PCI_SRIOV_VFM_OFFSET_MASK) | vfm.bir) >>> 0;
  }
  const ov: Record<string, RegOverride> = {
    CAP: cap >>> 0,
    CTRL: { rw: PCI_SRIOV_CTRL_RW | when(o.vf10BitTagRequester, PCI_SRIOV_CTRL_VF_10BIT_TAG_REQ_EN) },
    INITIAL_VF: initial,
    TOTAL_VF: total,
    VF_DID: checkRange("VF Device ID", o.vfDeviceId, 0, 0xffff),
    FUNC_LINK: checkRange("Function Dependency Link", o.functionDependencyLink ?? 0, 0, 0xff),
    SUP_PGSIZE: (o.supportedPageSizes ?? PCI_SRIOV_SUP_PGSIZE_DEFAULT) >>> 0,
    VFM: vfmReg,
    ...barOverrides(o.vfBars ?? [], sriovBarKey),
  };
  return { def: SRIOV_CAP, overrides: ov };
}
