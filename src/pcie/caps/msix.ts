/**
 * MSI-X capability (PCI_CAP_ID_MSIX 0x11; PCIe Base 4.0 §7.7.2). The table and the Pending Bit
 * Array live in a BAR (in simulated memory), not here; this is only the capability's three registers.
 *
 * JSON names: msixFlags { tableSize, functionMask, msixEnable }, msixTable { tableBir,
 * tableOffsetQwords }, msixPba { pbaBir, pbaOffsetQwords }.
 *
 * `tableSize` is N-1 encoded as hardware reports it (a value of 7 means 8 entries). The offsets are
 * fields 31:3, i.e. in units of 8 bytes; `msixTableOffset`/`msixPbaOffset` give bytes.
 */
import { IovError } from "../../errors.js";
import { bit, bits, defineCap, reg } from "../regs.js";
import type { CapConfig } from "./common.js";
import { checkRange } from "./common.js";

export const PCI_CAP_ID_MSIX = 0x11; // MSI-X
export const PCI_MSIX_FLAGS = 2; // Message Control
export const PCI_MSIX_FLAGS_QSIZE = 0x07ff; // Table Size (N-1)
export const PCI_MSIX_FLAGS_MASKALL = 0x4000; // Function Mask
export const PCI_MSIX_FLAGS_ENABLE = 0x8000; // MSI-X Enable
export const PCI_MSIX_TABLE = 4; // Table Offset/Table BIR
export const PCI_MSIX_TABLE_BIR = 0x00000007; // Table BIR
export const PCI_MSIX_TABLE_OFFSET = 0xfffffff8; // Table Offset
export const PCI_MSIX_PBA = 8; // PBA Offset/PBA BIR
export const PCI_MSIX_PBA_BIR = 0x00000007; // PBA BIR
export const PCI_MSIX_PBA_OFFSET = 0xfffffff8; // PBA Offset
export const PCI_CAP_MSIX_SIZEOF = 12;
/* MSI-X table entry, in the memory a BAR maps. */
export const PCI_MSIX_ENTRY_SIZE = 16;
export const PCI_MSIX_ENTRY_LOWER_ADDR = 0x0; // Message Address
export const PCI_MSIX_ENTRY_UPPER_ADDR = 0x4; // Message Upper Address
export const PCI_MSIX_ENTRY_DATA = 0x8; // Message Data
export const PCI_MSIX_ENTRY_VECTOR_CTRL = 0xc; // Vector Control
export const PCI_MSIX_ENTRY_CTRL_MASKBIT = 0x00000001; // Mask Bit
/** Most vectors an MSI-X capability can describe (an 11-bit N-1 field). */
export const PCI_MSIX_MAX_VECTORS = 2048;

export const MSIX_CAP = defineCap("MSI-X", PCI_CAP_ID_MSIX, PCI_CAP_MSIX_SIZEOF, {
  FLAGS: reg(PCI_MSIX_FLAGS, 2, {
    rw: PCI_MSIX_FLAGS_MASKALL | PCI_MSIX_FLAGS_ENABLE,
    json: "msixFlags",
    fields: { QSIZE: bits(10, 0, "tableSize"), MASKALL: bit(14, "functionMask"), ENABLE: bit(15, "msixEnable") },
  }),
  TABLE: reg(PCI_MSIX_TABLE, 4, { json: "msixTable", fields: { BIR: bits(2, 0, "tableBir"), OFFSET: bits(31, 3, "tableOffsetQwords") } }),
  PBA: reg(PCI_MSIX_PBA, 4, { json: "msixPba", fields: { BIR: bits(2, 0, "pbaBir"), OFFSET: bits(31, 3, "pbaOffsetQwords") } }),
});

export interface MsixOptions {
  /** Number of table entries, 1..2048 (reported as N-1 in Table Size). */
  readonly vectors: number;
  readonly tableBir: number;
  /** Byte offset of the table inside its BAR (multiple of 8). */
  readonly tableOffset: number;
  readonly pbaBir: number;
  /** Byte offset of the PBA inside its BAR (multiple of 8). */
  readonly pbaOffset: number;
}

function offsetBir(what: string, bir: number, off: number): number {
  checkRange(`${what} BIR`, bir, 0, 5);
  if (!Number.isInteger(off) || off < 0 || off > PCI_MSIX_TABLE_OFFSET || off % 8 !== 0)
    throw new IovError("EINVAL", `${what} offset 0x${off.toString(16)} must be a multiple of 8 below 4 GiB`, { what, offset: off });
  return (off + bir) >>> 0;
}

/** MSI-X for one device: table size and where the table and PBA are. */
export function msixCap(o: MsixOptions): CapConfig<typeof MSIX_CAP.regs> {
  checkRange("MSI-X vectors", o.vectors, 1, PCI_MSIX_MAX_VECTORS);
  return {
    def: MSIX_CAP,
    overrides: {
      FLAGS: o.vectors - 1,
      TABLE: offsetBir("MSI-X table", o.tableBir, o.tableOffset),
      PBA: offsetBir("MSI-X PBA", o.pbaBir, o.pbaOffset),
    },
  };
}

/** Byte offset and BIR from a Table or PBA register value. */
export function msixTableOffset(v: number): { bir: number; offset: number } {
  return { bir: v & PCI_MSIX_TABLE_BIR, offset: (v & PCI_MSIX_TABLE_OFFSET) >>> 0 };
}
export const msixPbaOffset = msixTableOffset;
