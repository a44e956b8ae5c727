/**
 * VT-d (Intel Virtualization Technology for Directed I/O) constants: register offsets, command and
 * status bits, entry bits, invalidation descriptor fields and fault reasons.
 *
 * Names follow Linux (drivers/iommu/intel/iommu.h, include/linux/intel-iommu.h) so that grep works
 * across both worlds; where Linux has no name, QEMU's (hw/i386/intel_iommu_internal.h) is used.
 * The bit positions are the VT-d specification's (rev. 3.x, chapters 9 and 10).
 *
 * 64-bit quantities are handled as two 32-bit halves on the hardware side (no bigint on the data
 * path); constants with a `_HI` suffix are bit masks in the high dword (bit n of the dword = bit n+32).
 */

/* ---- Register offsets (VT-d §10.4) ---- */
export const DMAR_VER_REG = 0x00; // Version
export const DMAR_CAP_REG = 0x08; // Capability (64-bit)
export const DMAR_ECAP_REG = 0x10; // Extended Capability (64-bit)
export const DMAR_GCMD_REG = 0x18; // Global Command (write-only)
export const DMAR_GSTS_REG = 0x1c; // Global Status
export const DMAR_RTADDR_REG = 0x20; // Root Table Address (64-bit)
export const DMAR_CCMD_REG = 0x28; // Context Command (64-bit)
export const DMAR_FSTS_REG = 0x34; // Fault Status
export const DMAR_FECTL_REG = 0x38; // Fault Event Control
export const DMAR_FEDATA_REG = 0x3c; // Fault Event Data
export const DMAR_FEADDR_REG = 0x40; // Fault Event Address
export const DMAR_FEUADDR_REG = 0x44; // Fault Event Upper Address
export const DMAR_IQH_REG = 0x80; // Invalidation Queue Head (64-bit)
export const DMAR_IQT_REG = 0x88; // Invalidation Queue Tail (64-bit)
export const DMAR_IQA_REG = 0x90; // Invalidation Queue Address (64-bit)
export const DMAR_ICS_REG = 0x9c; // Invalidation Completion Status
export const DMAR_IECTL_REG = 0xa0; // Invalidation Event Control
export const DMAR_IEDATA_REG = 0xa4; // Invalidation Event Data
export const DMAR_IEADDR_REG = 0xa8; // Invalidation Event Address
export const DMAR_IEUADDR_REG = 0xac; // Invalidation Event Upper Address
export const DMAR_IRTA_REG = 0xb8; // Interrupt Remapping Table Address (64-bit)
/** IOTLB registers: located by ECAP.IRO (offset / 16); this model puts them where QEMU does. */
export const DMAR_IVA_REG = 0xf0; // Invalidate Address (64-bit)
export const DMAR_IOTLB_REG = 0xf8; // IOTLB Invalidate (64-bit)
/** Fault recording registers: located by CAP.FRO (offset / 16); 16 bytes each, CAP.NFR + 1 of them. */
export const DMAR_FRCD_REG = 0x220;
/** The register set occupies one 4 KiB MMIO page. */
export const DMAR_REG_SIZE = 0x1000;
/** Fault recording registers that fit in the page after DMAR_FRCD_REG. */
export const DMAR_NFR_MAX = (DMAR_REG_SIZE - DMAR_FRCD_REG) / 16;

/* ---- GCMD / GSTS (same bit positions; VT-d §10.4.4-5) ---- */
export const DMA_GCMD_TE = 0x8000_0000; // Translation Enable
export const DMA_GCMD_SRTP = 0x4000_0000; // Set Root Table Pointer
export const DMA_GCMD_SFL = 0x2000_0000; // Set Fault Log
export const DMA_GCMD_EAFL = 0x1000_0000; // Enable Advanced Fault Logging
export const DMA_GCMD_WBF = 0x0800_0000; // Write Buffer Flush
export const DMA_GCMD_QIE = 0x0400_0000; // Queued Invalidation Enable
export const DMA_GCMD_IRE = 0x0200_0000; // Interrupt Remapping Enable
export const DMA_GCMD_SIRTP = 0x0100_0000; // Set Interrupt Remap Table Pointer
export const DMA_GCMD_CFI = 0x0080_0000; // Compatibility Format Interrupt
export const DMA_GSTS_TES = DMA_GCMD_TE;
export const DMA_GSTS_RTPS = DMA_GCMD_SRTP;
export const DMA_GSTS_FLS = DMA_GCMD_SFL;
export const DMA_GSTS_AFLS = DMA_GCMD_EAFL;
export const DMA_GSTS_WBFS = DMA_GCMD_WBF;
export const DMA_GSTS_QIES = DMA_GCMD_QIE;
export const DMA_GSTS_IRES = DMA_GCMD_IRE;
export const DMA_GSTS_IRTPS = DMA_GCMD_SIRTP;
export const DMA_GSTS_CFIS = DMA_GCMD_CFI;
/** Commands that stay in effect (mirrored in GSTS); the others are one-shot. */
export const DMA_GCMD_PERSISTENT = DMA_GCMD_TE | DMA_GCMD_QIE | DMA_GCMD_IRE | DMA_GCMD_CFI;

/* ---- CCMD (VT-d §10.4.7), as 64-bit values for software and _HI masks for the hardware ---- */
export const DMA_CCMD_ICC = 1n << 63n; // Invalidate Context-Cache
export const DMA_CCMD_GLOBAL_INVL = 1n << 61n;
export const DMA_CCMD_DOMAIN_INVL = 2n << 61n;
export const DMA_CCMD_DEVICE_INVL = 3n << 61n;
export const DMA_CCMD_FM = (fm: number): bigint => BigInt(fm & 3) << 32n;
export const DMA_CCMD_SID = (sid: number): bigint => BigInt(sid & 0xffff) << 16n;
export const DMA_CCMD_DID = (did: number): bigint => BigInt(did & 0xffff);
export const DMA_CCMD_ICC_HI = 0x8000_0000;
export const DMA_CCMD_CIRG_SHIFT_HI = 29; // bits 62:61
export const DMA_CCMD_CAIG_SHIFT_HI = 27; // bits 60:59

/* ---- IOTLB invalidate register (VT-d §10.4.8.1) and IVA (§10.4.8.2) ---- */
export const DMA_TLB_IVT = 1n << 63n; // Invalidate IOTLB
export const DMA_TLB_GLOBAL_FLUSH = 1n << 60n;
export const DMA_TLB_DSI_FLUSH = 2n << 60n;
export const DMA_TLB_PSI_FLUSH = 3n << 60n;
export const DMA_TLB_DID = (did: number): bigint => BigInt(did & 0xffff) << 32n;
export const DMA_TLB_IVT_HI = 0x8000_0000;
export const DMA_TLB_IIRG_SHIFT_HI = 28; // bits 61:60
export const DMA_TLB_IAIG_SHIFT_HI = 25; // bits 58:57
export const DMA_IVA_IH = 1 << 6; // Invalidation Hint
export const DMA_IVA_AM_MASK = 0x3f; // Address Mask (2^AM pages)

/** Invalidation granularities as encoded in CIRG/IIRG and in descriptors' G field. */
export const INV_GLOBAL = 1;
export const INV_DOMAIN = 2;
export const INV_DEVICE_OR_PAGE = 3;

/* ---- FSTS / FECTL / ICS / IECTL (VT-d §10.4.9-10, §10.4.24-25) ---- */
export const DMA_FSTS_PFO = 1 << 0; // Primary Fault Overflow (RW1C)
export const DMA_FSTS_PPF = 1 << 1; // Primary Pending Fault (RO)
export const DMA_FSTS_IQE = 1 << 4; // Invalidation Queue Error (RW1C)
export const DMA_FSTS_ICE = 1 << 5; // Invalidation Completion Error (RW1C)
export const DMA_FSTS_ITE = 1 << 6; // Invalidation Time-out Error (RW1C)
export const DMA_FSTS_FRI_SHIFT = 8; // Fault Record Index, bits 15:8
export const DMA_FECTL_IM = 0x8000_0000; // Interrupt Mask
export const DMA_FECTL_IP = 0x4000_0000; // Interrupt Pending
export const DMA_ICS_IWC = 1 << 0; // Invalidation Wait Descriptor Complete
export const DMA_IECTL_IM = DMA_FECTL_IM;
export const DMA_IECTL_IP = DMA_FECTL_IP;

/* ---- Fault recording register, high qword (VT-d §10.4.14) ---- */
export const DMA_FRCD_F_HI = 0x8000_0000; // bit 127: Fault (RW1C)
export const DMA_FRCD_T_HI = 0x4000_0000; // bit 126: Type, 1 = read request, 0 = write
export const DMA_FRCD_FR_MASK = 0xff; // bits 103:96 of the record = bits 7:0 of its last dword

/* ---- IQA / IQH / IQT (VT-d §10.4.21-23) ---- */
export const DMA_IQA_QS_MASK = 0x7; // queue size: 2^QS 4 KiB pages of 128-bit descriptors
export const DMA_IQ_SHIFT = 4; // QH/QT hold descriptor index << 4 (128-bit descriptors)
export const DMA_IQ_INDEX_MASK = 0x7fff;

/* ---- IRTA (VT-d §10.4.29) ---- */
export const DMA_IRTA_EIME = 1 << 11; // Extended Interrupt Mode Enable (x2APIC)
export const DMA_IRTA_S_MASK = 0xf; // table has 2^(S+1) entries

/* ---- CAP / ECAP bits used by the model (VT-d §10.4.2-3) ---- */
export const CAP_SAGAW_39 = 1 << 1; // 39-bit AGAW, 3-level tables (SAGAW bit 1)
export const CAP_SAGAW_48 = 1 << 2; // 48-bit AGAW, 4-level tables (SAGAW bit 2)
export const CAP_SLLPS_2M = 1 << 0;
export const CAP_SLLPS_1G = 1 << 1;
export const ECAP_C = 1 << 0; // page-walk coherency
export const ECAP_QI = 1 << 1; // queued invalidation
export const ECAP_DT = 1 << 2; // device-TLB
export const ECAP_IR = 1 << 3; // interrupt remapping
export const ECAP_EIM = 1 << 4; // extended interrupt mode (x2APIC)
export const ECAP_PT = 1 << 6; // pass-through
export const ECAP_SC = 1 << 7; // snoop control

/* ---- Root and context entries (VT-d §9.1, §9.3) ---- */
export const ROOT_ENTRY_P = 1;
export const ROOT_ENTRY_SIZE = 16;
export const CONTEXT_ENTRY_SIZE = 16;
export const CONTEXT_P = 1 << 0;
export const CONTEXT_FPD = 1 << 1; // Fault Processing Disable
export const CONTEXT_TT_SHIFT = 2; // Translation Type, bits 3:2
export const CONTEXT_TT_MULTI_LEVEL = 0;
export const CONTEXT_TT_DEV_IOTLB = 1;
export const CONTEXT_TT_PASS_THROUGH = 2;
export const CONTEXT_AW_MASK = 0x7; // high qword bits 2:0
export const CONTEXT_DID_SHIFT = 8; // high qword bits 23:8
/** AW field values: 1 = 39-bit / 3-level, 2 = 48-bit / 4-level. */
export const AGAW_39 = 1;
export const AGAW_48 = 2;
export const agawToLevels = (aw: number): number => aw + 2;
export const agawToBits = (aw: number): number => 30 + 9 * aw;

/* ---- Second-level paging entries (VT-d §9.8) ---- */
export const DMA_PTE_READ = 1 << 0;
export const DMA_PTE_WRITE = 1 << 1;
export const DMA_PTE_LARGE_PAGE = 1 << 7; // PS
export const DMA_PTE_SNP = 1 << 11;
export const DMA_PTE_TM_HI = 1 << 30; // bit 62, Transient Mapping (reserved without device-TLB)
/** Bits 61:52 and 63 are ignored by hardware (QEMU's VTD_SL_IGN_COM). */
export const SL_IGNORED_HI = 0xbff0_0000;
export const VTD_PAGE_SHIFT = 12;
export const VTD_PAGE_SIZE = 0x1000;
export const PAGE_4K = 0x1000;
export const PAGE_2M = 0x20_0000;
export const PAGE_1G = 0x4000_0000;
export type PageSize = typeof PAGE_4K | typeof PAGE_2M | typeof PAGE_1G;
/** Bytes mapped by one entry at paging level 1..4 (4K, 2M, 1G, 512G). */
export const levelShift = (level: number): number => VTD_PAGE_SHIFT + 9 * (level - 1);

/* ---- Queued invalidation descriptors (VT-d §6.5.2), 128-bit ---- */
export const QI_DESC_SIZE = 16;
export const QI_CC_TYPE = 0x1; // context-cache invalidate
export const QI_IOTLB_TYPE = 0x2; // IOTLB invalidate
export const QI_DIOTLB_TYPE = 0x3; // device-TLB invalidate
export const QI_IEC_TYPE = 0x4; // interrupt entry cache invalidate
export const QI_IWD_TYPE = 0x5; // invalidation wait
export const QI_IWD_IF = 1 << 4; // interrupt flag
export const QI_IWD_STATUS_WRITE = 1 << 5; // SW
export const QI_IWD_FENCE = 1 << 6; // FN
export const QI_IEC_SELECTIVE = 1 << 4; // G = 1: index-selective
export const QI_IOTLB_DR = 1 << 7;
export const QI_IOTLB_DW = 1 << 6;

/* ---- Interrupt remapping (VT-d §5.1, §9.10) ---- */
export const MSI_ADDR_HEADER = 0xfee; // bits 31:20 of an interrupt request address
export const MSI_ADDR_IF_REMAP = 1 << 4; // Interrupt Format: 1 = remappable
export const MSI_ADDR_SHV = 1 << 3; // SubHandle Valid
export const MSI_ADDR_HANDLE_15 = 1 << 2; // handle bit 15
export const IRTE_SIZE = 16;
export const IRTE_P = 1 << 0;
export const IRTE_FPD = 1 << 1;
export const IRTE_DM = 1 << 2; // destination mode: 1 = logical
export const IRTE_RH = 1 << 3; // redirection hint
export const IRTE_TM = 1 << 4; // trigger mode: 1 = level
export const IRTE_DLM_SHIFT = 5; // delivery mode, bits 7:5
export const IRTE_URGENT = 1 << 14; // posted format: urgent
export const IRTE_IM = 1 << 15; // IRTE mode: 1 = posted
export const IRTE_VECTOR_SHIFT = 16; // bits 23:16
/** Source validation type (SVT, bits 83:82) and qualifier (SQ, bits 81:80). */
export const SVT_NONE = 0;
export const SVT_ALL = 1; // compare SID, ignoring the function bits SQ says
export const SVT_BUS = 2; // requester bus within [SID[15:8], SID[7:0]]
/** SQ → mask applied to both SIDs before comparing (QEMU vtd_svt_mask). */
export const SQ_MASK = [0xffff, 0xfffb, 0xfff9, 0xfff8] as const;

/* ---- Posted-interrupt descriptor (VT-d §9.12): 64 bytes, 64-byte aligned ---- */
export const PID_SIZE = 64;
export const PID_PIR = 0; // bits 255:0
export const PID_CONTROL = 32; // byte holding ON (bit 256) and SN (bit 257)
export const PID_ON = 1 << 0;
export const PID_SN = 1 << 1;
export const PID_NV = 34; // bits 279:272, notification vector
export const PID_NDST = 36; // bits 319:288, notification destination

/**
 * Fault reasons (VT-d Appendix A / §7.1.3; QEMU's VTDFaultReason). "Qualified" faults are the ones
 * the FPD bit of the entry in use may suppress.
 */
export const VtdFault = {
  ROOT_ENTRY_P: 0x1, // root entry not present
  CONTEXT_ENTRY_P: 0x2, // context entry not present
  CONTEXT_ENTRY_INV: 0x3, // invalid context entry programming (e.g. AW not in SAGAW)
  ADDR_BEYOND_MGAW: 0x4, // input address above 2^min(AGAW, MGAW) - 1
  WRITE: 0x5, // write without write permission
  READ: 0x6, // read without read permission
  PAGING_ENTRY_INV: 0x7, // second-level entry not present, or cannot be fetched
  ROOT_TABLE_INV: 0x8, // root entry cannot be fetched
  CONTEXT_TABLE_INV: 0x9, // context entry cannot be fetched
  ROOT_ENTRY_RSVD: 0xa, // reserved bit set in a present root entry
  CONTEXT_ENTRY_RSVD: 0xb, // reserved bit set in a present context entry
  PAGING_ENTRY_RSVD: 0xc, // reserved bit set in a present second-level entry
  CONTEXT_ENTRY_TT: 0xd, // translation type reserved / not supported
  INTERRUPT_ADDR: 0xe, // DMA request to the interrupt address range
  IR_REQ_RSVD: 0x20, // reserved field set in an interrupt request
  IR_INDEX_OVER: 0x21, // interrupt index beyond the table size
  IR_ENTRY_P: 0x22, // IRTE not present
  IR_ROOT_INVAL: 0x23, // interrupt remapping table cannot be fetched
  IR_IRTE_RSVD: 0x24, // reserved field set in a present IRTE
  IR_REQ_COMPAT: 0x25, // compatibility-format interrupt while CFIS = 0
  IR_SID_ERR: 0x26, // source-ID validation failed
} as const;
export type VtdFaultReason = (typeof VtdFault)[keyof typeof VtdFault];

const FAULT_NAMES: Record<number, string> = {};
for (const [k, v] of Object.entries(VtdFault)) FAULT_NAMES[v] = k;
/** Name of a fault reason (e.g. 0x5 → "WRITE"), "UNKNOWN_0xNN" otherwise. */
export function faultReasonName(reason: number): string {
  return FAULT_NAMES[reason] ?? `UNKNOWN_0x${reason.toString(16)}`;
}

/** Faults that the FPD bit suppresses (QEMU vtd_qualified_faults; IR: reasons decided after the IRTE is read). */
export function isQualifiedFault(reason: number): boolean {
  switch (reason) {
    case VtdFault.CONTEXT_ENTRY_P:
    case VtdFault.CONTEXT_ENTRY_INV:
    case VtdFault.ADDR_BEYOND_MGAW:
    case VtdFault.WRITE:
    case VtdFault.READ:
    case VtdFault.PAGING_ENTRY_INV:
    case VtdFault.PAGING_ENTRY_RSVD:
    case VtdFault.CONTEXT_ENTRY_TT:
    case VtdFault.IR_ENTRY_P:
    case VtdFault.IR_IRTE_RSVD:
    case VtdFault.IR_SID_ERR:
      return true;
    default:
      return false;
  }
}

/** The x86 interrupt address window (requests here are interrupts, not memory accesses). */
export const INTERRUPT_ADDR_FIRST = 0xfee0_0000;
export const INTERRUPT_ADDR_LAST = 0xfeef_ffff;

/** 2^n for n in 0..63 as exact doubles (no Math.pow on the data path). */
export const POW2: Float64Array = (() => {
  const a = new Float64Array(64);
  for (let i = 0; i < 64; i++) a[i] = 2 ** i;
  return a;
})();
export const TWO32 = 0x1_0000_0000;
