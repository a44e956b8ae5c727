/**
 * Address Translation Services (PCI_EXT_CAP_ID_ATS 0x0F; PCIe Base 4.0 §10.5.1).
 *
 * JSON names: atsCap { invalidateQueueDepth, pageAlignedRequest, globalInvalidate },
 * atsCtrl { smallestTranslationUnit, atsEnable }.
 *
 * Invalidate Queue Depth 0 means 32. The Smallest Translation Unit is 2^(12+STU) bytes. In a VF the
 * STU field is reserved (the PF's value applies to all its VFs, SR-IOV 1.1 §3.7.2): `atsCap({ vf: true })`.
 */
import { bit, bits, defineExtCap, reg } from "../regs.js";
import type { CapConfig } from "./common.js";
import { checkRange, when } from "./common.js";

export const PCI_EXT_CAP_ID_ATS = 0x0f; // Address Translation Services
export const PCI_ATS_CAP = 0x04; // ATS Capability
export const PCI_ATS_CAP_QDEP_MASK = 0x001f; // Invalidate Queue Depth
export const PCI_ATS_MAX_QDEP = 32; // Queue depth that the value 0 stands for
export const PCI_ATS_CAP_PAGE_ALIGNED = 0x0020; // Page Aligned Request
export const PCI_ATS_CAP_GLOBAL_INV = 0x0040; // Global Invalidate Supported
export const PCI_ATS_CTRL = 0x06; // ATS Control
export const PCI_ATS_CTRL_ENABLE = 0x8000; // Enable
export const PCI_ATS_CTRL_STU_MASK = 0x001f; // Smallest Translation Unit
export const PCI_ATS_MIN_STU = 12; // log2 of the smallest STU (4 KiB)
export const PCI_EXT_CAP_ATS_SIZEOF = 8;

/** Invalidate Queue Depth of an ATS Capability value (pci_regs.h PCI_ATS_CAP_QDEP); 0 reads as 32. */
export const PCI_ATS_CAP_QDEP = (x: number): number => x & PCI_ATS_CAP_QDEP_MASK;

export const ATS_CAP = defineExtCap("Address Translation Services", PCI_EXT_CAP_ID_ATS, PCI_EXT_CAP_ATS_SIZEOF, {
  CAP: reg(PCI_ATS_CAP, 2, {
    json: "atsCap",
    fields: { QDEP: bits(4, 0, "invalidateQueueDepth"), PAGE_ALIGNED: bit(5, "pageAlignedRequest"), GLOBAL_INV: bit(6, "globalInvalidate") },
  }),
  CTRL: reg(PCI_ATS_CTRL, 2, {
    rw: PCI_ATS_CTRL_STU_MASK | PCI_ATS_CTRL_ENABLE,
    json: "atsCtrl",
    fields: { STU: bits(4, 0, "smallestTranslationUnit"), ENABLE: bit(15, "atsEnable") },
  }),
});

export interface AtsOptions {
  /** Invalidate requests the function can queue, 1..32. Default 32. */
  readonly queueDepth?: number;
  readonly pageAligned?: boolean;
  readonly globalInvalidate?: boolean;
  /** ATS of a VF: STU is reserved (read-only zero). */
  readonly vf?: boolean;
}

export function atsCap(o: AtsOptions = {}): CapConfig<typeof ATS_CAP.regs> {
  const q = checkRange("ATS Invalidate Queue Depth", o.queueDepth ?? PCI_ATS_MAX_QDEP, 1, PCI_ATS_MAX_QDEP);
  return {
    def: ATS_CAP,
    overrides: {
      CAP: (q & PCI_ATS_CAP_QDEP_MASK) | when(o.pageAligned, PCI_ATS_CAP_PAGE_ALIGNED) | when(o.globalInvalidate, PCI_ATS_CAP_GLOBAL_INV),
      CTRL: { rw: o.vf === true ? PCI_ATS_CTRL_ENABLE : PCI_ATS_CTRL_ENABLE | PCI_ATS_CTRL_STU_MASK },
    },
  };
}
