/**
 * Base Address Registers: hardware decode of a BAR from its size and flags, and the sizing protocol
 * (software writes all-ones and reads back the mask). Shared by type 0/1 headers, SR-IOV VF BARs and
 * expansion ROMs.
 */
import { IovError } from "../errors.js";
import { PCI_BASE_ADDRESS_MEM_PREFETCH, PCI_BASE_ADDRESS_MEM_TYPE_64, PCI_BASE_ADDRESS_SPACE_IO } from "./header.js";
import type { RegOverride } from "./layout.js";

export type BarKind = "io" | "mem32" | "mem64";

export interface BarSpec {
  /** BAR slot 0..5 (a 64-bit BAR also takes index+1). */
  readonly index: number;
  readonly kind: BarKind;
  readonly prefetchable: boolean;
  /** Size in bytes, a power of two: ≥ 16 for memory, ≥ 4 for I/O. */
  readonly size: number;
}

export const isPow2 = (n: number): boolean => Number.isSafeInteger(n) && n > 0 && 2 ** Math.round(Math.log2(n)) === n;

/** Low flag bits of a BAR as hardware reports them. */
export function barFlags(b: Pick<BarSpec, "kind" | "prefetchable">): number {
  if (b.kind === "io") return PCI_BASE_ADDRESS_SPACE_IO;
  return (b.kind === "mem64" ? PCI_BASE_ADDRESS_MEM_TYPE_64 : 0) | (b.prefetchable ? PCI_BASE_ADDRESS_MEM_PREFETCH : 0);
}

export function validateBar(b: BarSpec): void {
  const min = b.kind === "io" ? 4 : 16;
  const max = b.kind === "mem64" ? 2 ** 52 : b.kind === "io" ? 256 : 2 ** 31;
  if (!isPow2(b.size) || b.size < min || b.size > max)
    throw new IovError("EINVAL", `BAR${b.index}: size ${b.size} must be a power of two in ${min}..${max}`);
  if (b.index < 0 || b.index > 5 || (b.kind === "mem64" && b.index > 4))
    throw new IovError("EINVAL", `BAR${b.index}: no room for a ${b.kind} BAR`);
  if (b.kind === "io" && b.prefetchable) throw new IovError("EINVAL", `BAR${b.index}: I/O BARs cannot be prefetchable`);
}

/** Write masks of the BAR dword(s): low dword and (64-bit) high dword. */
export function barMasks(b: BarSpec): { lo: number; hi: number } {
  const flagsBits = b.kind === "io" ? 0x3 : 0xf;
  const lo = b.size >= 2 ** 32 ? 0 : (~(b.size - 1) & ~flagsBits) >>> 0;
  let hi = 0;
  if (b.kind === "mem64") hi = b.size > 2 ** 32 ? (~(b.size / 2 ** 32 - 1)) >>> 0 : 0xffffffff;
  if (b.kind === "io") return { lo: lo & 0xffff, hi: 0 }; // 16-bit I/O decode (x86)
  return { lo, hi };
}

/** Layout overrides for BAR registers starting at BAR register key prefix (e.g. "BAR" or "VF_BAR"). */
export function barOverrides(bars: readonly BarSpec[], keyOf: (i: number) => string): Record<string, RegOverride> {
  const ov: Record<string, RegOverride> = {};
  const used = new Set<number>();
  for (const b of bars) {
    validateBar(b);
    for (const i of b.kind === "mem64" ? [b.index, b.index + 1] : [b.index]) {
      if (used.has(i)) throw new IovError("EINVAL", `BAR${i} declared twice`);
      used.add(i);
    }
    const m = barMasks(b);
    ov[keyOf(b.index)] = { reset: barFlags(b), rw: m.lo };
    if (b.kind === "mem64") ov[keyOf(b.index + 1)] = { reset: 0, rw: m.hi };
  }
  return ov;
}

export interface DecodedBar {
  readonly index: number;
  readonly kind: BarKind;
  readonly prefetchable: boolean;
  /** Programmed address (0 when unassigned). */
  readonly address: number;
  /** Size found by the sizing protocol (0 = no BAR in this slot). */
  readonly size: number;
}

/** Decode a BAR from the value read and the value read back after writing all-ones (sizing). */
export function decodeBar(index: number, lo: number, hi: number, sizeLo: number, sizeHi: number): DecodedBar | undefined {
  if (sizeLo === 0 && sizeHi === 0) return undefined;
  if ((lo & PCI_BASE_ADDRESS_SPACE_IO) !== 0) {
    const m = (sizeLo & 0xfffffffc) | 0xffff0000;
    return { index, kind: "io", prefetchable: false, address: (lo & 0xfffffffc) >>> 0, size: ((~m >>> 0) + 1) >>> 0 };
  }
  const is64 = (lo & 0x6) === PCI_BASE_ADDRESS_MEM_TYPE_64;
  const pf = (lo & PCI_BASE_ADDRESS_MEM_PREFETCH) !== 0;
  const addrLo = (lo & 0xfffffff0) >>> 0;
  if (!is64) {
    const m = (sizeLo & 0xfffffff0) >>> 0;
    if (m === 0) return undefined;
    return { index, kind: "mem32", prefetchable: pf, address: addrLo, size: (~m >>> 0) + 1 };
  }
  const mlo = (sizeLo & 0xfffffff0) >>> 0;
  const mask = sizeHi * 2 ** 32 + mlo; // mask of the writable address bits
  if (mask === 0) return undefined;
  // size = lowest set bit of the 64-bit mask
  let size: number;
  if (mlo !== 0) size = (mlo & -mlo) >>> 0;
  else size = ((sizeHi & -sizeHi) >>> 0) * 2 ** 32;
  return { index, kind: "mem64", prefetchable: pf, address: hi * 2 ** 32 + addrLo, size };
}

/** Run the sizing protocol on BAR `i` through a config accessor (as firmware/Linux does), restoring the value. */
export function sizeBarVia(
  read32: (off: number) => number,
  write32: (off: number, v: number) => void,
  barOff: (i: number) => number,
  i: number,
): DecodedBar | undefined {
  const off = barOff(i);
  const lo = read32(off);
  write32(off, 0xffffffff);
  const sLo = read32(off);
  write32(off, lo);
  const is64 = (lo & 0x7) === PCI_BASE_ADDRESS_MEM_TYPE_64;
  let hi = 0;
  let sHi = 0;
  if (is64 && i < 5) {
    const offHi = barOff(i + 1);
    hi = read32(offHi);
    write32(offHi, 0xffffffff);
    sHi = read32(offHi);
    write32(offHi, hi);
  }
  return decodeBar(i, lo, hi, sLo, sHi);
}
