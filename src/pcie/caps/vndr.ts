/**
 * Vendor-Specific Extended Capability (PCI_EXT_CAP_ID_VNDR 0x0B; PCIe Base 4.0 §7.9.5).
 * Only the VSEC header is modelled; the vendor's registers after it read as zero.
 * The table's size is the VSEC Length, so `vsecCap` returns one table per length.
 *
 * JSON names: vsecHeader { vsecId, vsecRev, vsecLength }.
 */
import { bits, defineExtCap, reg } from "../regs.js";
import type { CapDef } from "../regs.js";
import type { CapConfig } from "./common.js";
import { checkRange } from "./common.js";

export const PCI_EXT_CAP_ID_VNDR = 0x0b; // Vendor-Specific
export const PCI_VNDR_HEADER = 4; // Vendor-Specific Header
export const PCI_VNDR_HEADER_LEN_SHIFT = 20;
/** Smallest VSEC: the extended capability header and the vendor-specific header. */
export const PCI_EXT_CAP_VNDR_MIN_SIZEOF = 8;

/** VSEC ID, revision and length of a Vendor-Specific Header value (pci_regs.h PCI_VNDR_HEADER_*). */
export const PCI_VNDR_HEADER_ID = (x: number): number => x & 0xffff;
export const PCI_VNDR_HEADER_REV = (x: number): number => (x >> 16) & 0xf;
export const PCI_VNDR_HEADER_LEN = (x: number): number => (x >>> 20) & 0xfff;

function buildVndr(length: number) {
  return defineExtCap("Vendor-Specific", PCI_EXT_CAP_ID_VNDR, length, {
    HEADER: reg(PCI_VNDR_HEADER, 4, {
      reset: (length * 2 ** PCI_VNDR_HEADER_LEN_SHIFT) >>> 0,
      json: "vsecHeader",
      fields: { ID: bits(15, 0, "vsecId"), REV: bits(19, 16, "vsecRev"), LEN: bits(31, 20, "vsecLength") },
    }),
  });
}
export type VndrRegs = ReturnType<typeof buildVndr>["regs"];
const memo = new Map<number, CapDef<VndrRegs>>();

/** The VSEC table of `length` bytes (the same object for the same length). */
export function vndrDef(length: number): CapDef<VndrRegs> {
  const hit = memo.get(length);
  if (hit !== undefined) return hit;
  const def = buildVndr(length);
  memo.set(length, def);
  return def;
}

/** The 8-byte VSEC (header only). */
export const VNDR_CAP = vndrDef(PCI_EXT_CAP_VNDR_MIN_SIZEOF);

export interface VsecOptions {
  readonly vsecId: number;
  readonly rev: number;
  /** Bytes, header included: 8..0xf00, a multiple of 4. Default 8. */
  readonly length?: number;
}

export function vsecCap(o: VsecOptions): CapConfig<VndrRegs> {
  const len = checkRange("VSEC length", o.length ?? PCI_EXT_CAP_VNDR_MIN_SIZEOF, PCI_EXT_CAP_VNDR_MIN_SIZEOF, 0xf00);
  checkRange("VSEC length in dwords", len / 4, 2, 0x3c0);
  const id = checkRange("VSEC ID", o.vsecId, 0, 0xffff);
  const rev = checkRange("VSEC revision", o.rev, 0, 15);
  return { def: vndrDef(len), overrides: { HEADER: (id | (rev << 16) | ((len * 2 ** PCI_VNDR_HEADER_LEN_SHIFT) >>> 0)) >>> 0 } };
}
