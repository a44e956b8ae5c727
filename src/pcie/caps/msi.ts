/**
 * MSI capability (PCI_CAP_ID_MSI 0x05; PCI Local Bus 3.0 §6.8.1, PCIe Base 4.0 §7.7.1).
 * Four layouts, chosen by two read-only bits of Message Control: 64-bit address capable and
 * per-vector masking capable. `msiCap(...)` returns the table of one layout (the same object for the
 * same options); `MSI_CAP` is the common one (64-bit, maskable, one vector).
 *
 * JSON names: msiFlags { msiEnable, multipleMessageCapable, multipleMessageEnable, addr64,
 * perVectorMask }, messageAddress, messageUpperAddress, messageData, maskBits, pendingBits.
 *
 * Multiple Message Capable/Enable are log2-encoded vector counts (0 = 1 vector ... 5 = 32), as in
 * hardware. Mask and Pending bits exist only for the vectors the function has; the rest read 0.
 * Pending bits are set and cleared by the device (read-only to software).
 */
import { IovError } from "../../errors.js";
import type { CapDef, FieldSpec, RegSpec, RegTable } from "../regs.js";
import { bit, bits, defineCap, reg } from "../regs.js";
import { checkRange } from "./common.js";

export const PCI_CAP_ID_MSI = 0x05; // Message Signaled Interrupts
export const PCI_MSI_FLAGS = 0x02; // Message Control
export const PCI_MSI_FLAGS_ENABLE = 0x0001; // MSI Enable
export const PCI_MSI_FLAGS_QMASK = 0x000e; // Multiple Message Capable
export const PCI_MSI_FLAGS_QSIZE = 0x0070; // Multiple Message Enable
export const PCI_MSI_FLAGS_64BIT = 0x0080; // 64 bit address capable
export const PCI_MSI_FLAGS_MASKBIT = 0x0100; // Per-Vector Masking Capable
export const PCI_MSI_ADDRESS_LO = 0x04; // Message Address
export const PCI_MSI_ADDRESS_HI = 0x08; // Message Upper Address (64-bit layouts)
export const PCI_MSI_DATA_32 = 0x08; // Message Data (32-bit layouts)
export const PCI_MSI_MASK_32 = 0x0c; // Mask Bits (32-bit layouts)
export const PCI_MSI_PENDING_32 = 0x10; // Pending Bits (32-bit layouts)
export const PCI_MSI_DATA_64 = 0x0c; // Message Data (64-bit layouts)
export const PCI_MSI_MASK_64 = 0x10; // Mask Bits (64-bit layouts)
export const PCI_MSI_PENDING_64 = 0x14; // Pending Bits (64-bit layouts)
/** Message Address bits 1:0 are reserved: the address is dword aligned. */
export const PCI_MSI_ADDRESS_LO_MASK = 0xfffffffc;

/** Capability sizes of the four layouts (header through the last register). */
export const PCI_MSI_SIZEOF_32 = 0x0a;
export const PCI_MSI_SIZEOF_64 = 0x0e;
export const PCI_MSI_SIZEOF_32_MASK = 0x14;
export const PCI_MSI_SIZEOF_64_MASK = 0x18;

const FLAGS_FIELDS = {
  ENABLE: bit(0, "msiEnable"),
  QMASK: bits(3, 1, "multipleMessageCapable"),
  QSIZE: bits(6, 4, "multipleMessageEnable"),
  "64BIT": bit(7, "addr64"),
  MASKBIT: bit(8, "perVectorMask"),
};

/** Registers every MSI layout has; the others (ADDRESS_HI, MASK, PENDING) depend on the layout. */
export type MsiRegs = {
  HDR: RegSpec;
  FLAGS: RegSpec<typeof FLAGS_FIELDS>;
  ADDRESS_LO: RegSpec;
  DATA: RegSpec;
} & RegTable;

export interface MsiOptions {
  /** 64-bit Message Address (adds Message Upper Address). Default true. */
  readonly addr64?: boolean;
  /** Per-vector masking (adds Mask Bits and Pending Bits). Default true. */
  readonly perVectorMask?: boolean;
  /** Multiple Message Capable as hardware encodes it: log2 of the vector count, 0..5. Default 0. */
  readonly multipleMessageCapable?: number;
}

const memo = new Map<string, CapDef<MsiRegs>>();

/** The MSI table of one layout, with the vector count baked into the reset value and the mask bits. */
export function msiCap(o: MsiOptions = {}): CapDef<MsiRegs> {
  const addr64 = o.addr64 ?? true;
  const masking = o.perVectorMask ?? true;
  const mmc = checkRange("MSI Multiple Message Capable (log2 of vectors)", o.multipleMessageCapable ?? 0, 0, 5);
  const key = `${addr64 ? 64 : 32}/${masking ? "mask" : "nomask"}/${mmc}`;
  const hit = memo.get(key);
  if (hit !== undefined) return hit;

  const vectors = 1 << mmc;
  const vectorBits = vectors === 32 ? 0xffffffff : (1 << vectors) - 1;
  const flags = (mmc << 1) | (addr64 ? PCI_MSI_FLAGS_64BIT : 0) | (masking ? PCI_MSI_FLAGS_MASKBIT : 0);
  const regs: Record<string, RegSpec<Record<string, FieldSpec>>> = {
    FLAGS: reg(PCI_MSI_FLAGS, 2, { reset: flags, rw: PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_QSIZE, json: "msiFlags", fields: FLAGS_FIELDS }),
    ADDRESS_LO: reg(PCI_MSI_ADDRESS_LO, 4, { rw: PCI_MSI_ADDRESS_LO_MASK, json: "messageAddress" }),
  };
  if (addr64) regs.ADDRESS_HI = reg(PCI_MSI_ADDRESS_HI, 4, { rw: 0xffffffff, json: "messageUpperAddress" });
  regs.DATA = reg(addr64 ? PCI_MSI_DATA_64 : PCI_MSI_DATA_32, 2, { rw: 0xffff, json: "messageData" });
  if (masking) {
    regs.MASK = reg(addr64 ? PCI_MSI_MASK_64 : PCI_MSI_MASK_32, 4, { rw: vectorBits, json: "maskBits" });
    // Pending Bits: read-only to software; only the implemented vectors' bits are named.
    regs.PENDING = reg(addr64 ? PCI_MSI_PENDING_64 : PCI_MSI_PENDING_32, 4, {
      json: "pendingBits",
      fields: { VALUE: bits(vectors - 1, 0, "pendingBits") },
    });
  }
  const size = masking ? (addr64 ? PCI_MSI_SIZEOF_64_MASK : PCI_MSI_SIZEOF_32_MASK) : addr64 ? PCI_MSI_SIZEOF_64 : PCI_MSI_SIZEOF_32;
  const name = `MSI (${addr64 ? "64" : "32"}-bit${masking ? ", maskable" : ""}, ${vectors} vector${vectors === 1 ? "" : "s"})`;
  const def = defineCap(name, PCI_CAP_ID_MSI, size, regs) as unknown as CapDef<MsiRegs>;
  memo.set(key, def);
  return def;
}

/** The layout a Message Control value announces (for decoding a capability found in a dump). */
export function msiCapFromFlags(flags: number): CapDef<MsiRegs> {
  return msiCap({
    addr64: (flags & PCI_MSI_FLAGS_64BIT) !== 0,
    perVectorMask: (flags & PCI_MSI_FLAGS_MASKBIT) !== 0,
    multipleMessageCapable: Math.min((flags & PCI_MSI_FLAGS_QMASK) >> 1, 5),
  });
}

/** Message Data / Mask / Pending offsets of a layout (capability-relative). */
export function msiOffsets(addr64: boolean): { data: number; mask: number; pending: number } {
  return addr64
    ? { data: PCI_MSI_DATA_64, mask: PCI_MSI_MASK_64, pending: PCI_MSI_PENDING_64 }
    : { data: PCI_MSI_DATA_32, mask: PCI_MSI_MASK_32, pending: PCI_MSI_PENDING_32 };
}

/** Number of vectors a Multiple Message Capable/Enable code stands for (0..5 → 1..32). */
export function msiVectors(code: number): number {
  if (!Number.isInteger(code) || code < 0 || code > 5) throw new IovError("ERANGE", `MSI vector code ${code} outside 0..5`);
  return 1 << code;
}

export const MSI_CAP = msiCap();
