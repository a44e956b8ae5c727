/**
 * Registry of every capability table the model knows, so that decoders (JSON, lspci text, dump
 * import) can name the registers of any capability found while walking a chain.
 * The tables themselves, their uapi constants and per-device helpers live in the modules of this
 * folder (pm, msi, msix, pcie, aer, acs, ari, ats, pri, pasid, sriov, dsn, vndr); import them from there.
 */
import type { CapDef } from "../regs.js";
import { ACS_CAP, ACS_EGRESS_CAP, PCI_ACS_CAP, PCI_ACS_EC, PCI_EXT_CAP_ID_ACS } from "./acs.js";
import { AER_CAP } from "./aer.js";
import { asCapDef } from "./common.js";
import { ARI_CAP } from "./ari.js";
import { ATS_CAP } from "./ats.js";
import { DSN_CAP } from "./dsn.js";
import { MSI_CAP, PCI_CAP_ID_MSI, PCI_MSI_FLAGS, msiCapFromFlags } from "./msi.js";
import { MSIX_CAP } from "./msix.js";
import { PASID_CAP } from "./pasid.js";
import { PCIE_CAP } from "./pcie.js";
import { PM_CAP } from "./pm.js";
import { PRI_CAP } from "./pri.js";
import { SRIOV_CAP } from "./sriov.js";
import { PCI_EXT_CAP_ID_VNDR, PCI_EXT_CAP_VNDR_MIN_SIZEOF, PCI_VNDR_HEADER, PCI_VNDR_HEADER_LEN, VNDR_CAP, vndrDef } from "./vndr.js";

/** One table per capability ID and chain; for capabilities with several layouts, the common one. */
export const CAP_DEFS: readonly CapDef[] = [
  asCapDef(PM_CAP),
  asCapDef(MSI_CAP),
  asCapDef(PCIE_CAP),
  asCapDef(MSIX_CAP),
  asCapDef(AER_CAP),
  asCapDef(DSN_CAP),
  asCapDef(VNDR_CAP),
  asCapDef(ACS_CAP),
  asCapDef(ARI_CAP),
  asCapDef(ATS_CAP),
  asCapDef(SRIOV_CAP),
  asCapDef(PRI_CAP),
  asCapDef(PASID_CAP),
];

/** The table for capability `id` in the standard (extended=false) or extended chain. */
export function findCapDef(id: number, extended: boolean): CapDef | undefined {
  return CAP_DEFS.find((d) => d.id === id && d.extended === extended);
}

/** Reads `size` bytes of configuration space at an absolute offset (ConfigSpace.read, dump bytes, ...). */
export type CfgRead = (off: number, size: 1 | 2 | 4) => number;

/**
 * The table that fits the capability found at `offset`, reading the capability's own bytes where its
 * layout depends on them: MSI (Message Control's 64-bit and per-vector-mask bits), a VSEC (its length),
 * ACS (Egress Control). Falls back to `findCapDef`.
 */
export function capDefAt(read: CfgRead, offset: number, id: number, extended: boolean): CapDef | undefined {
  if (!extended && id === PCI_CAP_ID_MSI) return asCapDef(msiCapFromFlags(read(offset + PCI_MSI_FLAGS, 2)));
  if (extended && id === PCI_EXT_CAP_ID_VNDR) {
    const len = PCI_VNDR_HEADER_LEN(read(offset + PCI_VNDR_HEADER, 4));
    return len >= PCI_EXT_CAP_VNDR_MIN_SIZEOF && len % 4 === 0 && offset + len <= 0x1000 ? asCapDef(vndrDef(len)) : asCapDef(VNDR_CAP);
  }
  if (extended && id === PCI_EXT_CAP_ID_ACS) {
    const cap = read(offset + PCI_ACS_CAP, 2);
    const n = cap >> 8;
    return (cap & PCI_ACS_EC) !== 0 && n >= 1 && n <= 32 ? asCapDef(ACS_EGRESS_CAP) : asCapDef(ACS_CAP);
  }
  return findCapDef(id, extended);
}
