/**
 * Routing-ID arithmetic of SR-IOV (SR-IOV 1.1 §2.1.2; Linux pci_iov_virtfn_bus/devfn, pci_iov_vf_id).
 * VF k (0-based here, as Linux's vf_id) has RID = PF RID + First VF Offset + k × VF Stride; the sum
 * may carry into higher bus numbers.
 */
import { IovError } from "../errors.js";

/** Absolute 16-bit routing ID of VF `vfId` (0-based), or -1 when it would pass bus 255. */
export function virtfnRid(pfRid: number, offset: number, stride: number, vfId: number): number {
  const r = pfRid + offset + stride * vfId;
  return r > 0xffff ? -1 : r;
}

/** Linux pci_iov_virtfn_bus: bus number of VF `vfId`. */
export function virtfnBus(pfBus: number, pfDevfn: number, offset: number, stride: number, vfId: number): number {
  return pfBus + Math.floor((pfDevfn + offset + stride * vfId) / 256);
}

/** Linux pci_iov_virtfn_devfn: devfn of VF `vfId`. */
export function virtfnDevfn(pfDevfn: number, offset: number, stride: number, vfId: number): number {
  return (pfDevfn + offset + stride * vfId) % 256;
}

/** Linux pci_iov_vf_id: inverse mapping from a VF's RID to its 0-based index; -1 if not one of the PF's VFs. */
export function vfIdFromRid(pfRid: number, offset: number, stride: number, numVfs: number, vfRid: number): number {
  const d = vfRid - (pfRid + offset);
  if (d < 0) return -1;
  if (stride === 0) return d === 0 && numVfs >= 1 ? 0 : -1;
  if (d % stride !== 0) return -1;
  const k = d / stride;
  return k < numVfs ? k : -1;
}

/** Highest bus number any of `numVfs` VFs lands on (compute_max_vf_buses for one NumVFs value). */
export function lastVfBus(pfBus: number, pfDevfn: number, offset: number, stride: number, numVfs: number): number {
  if (numVfs === 0) return pfBus;
  return virtfnBus(pfBus, pfDevfn, offset, stride, numVfs - 1);
}

/** Validate offset/stride as Linux does before enabling (-EIO when offset is 0, or stride is 0 with NumVFs > 1). */
export function checkOffsetStride(offset: number, stride: number, numVfs: number): void {
  if (numVfs === 0) return;
  if (offset === 0) throw new IovError("EIO", "SR-IOV: First VF Offset is 0 (invalid)");
  if (numVfs > 1 && stride === 0) throw new IovError("EIO", "SR-IOV: VF Stride is 0 with more than one VF (invalid)");
}

/** Supported/System Page Size encoding: bit n ⇔ 2^(n+12) bytes. */
export const pageSizeBit = (bytes: number): number => Math.log2(bytes) - 12;
export const pageSizeFromMask = (mask: number): number => 2 ** (31 - Math.clz32(mask & -mask) + 12);

/**
 * Linux sriov_init's choice of System Page Size: the smallest supported size ≥ the host page size.
 * Returns the single-bit mask to program, or throws EIO when none is supported.
 */
export function chooseSystemPageSize(supported: number, hostPageSize = 4096): number {
  const minBit = pageSizeBit(hostPageSize);
  const usable = (supported >>> 0) & ~((1 << minBit) - 1);
  if (usable === 0) throw new IovError("EIO", `SR-IOV: no supported page size ≥ ${hostPageSize} B (supported mask 0x${supported.toString(16)})`);
  return (usable & -usable) >>> 0;
}

/** True when exactly one bit is set. */
export const isSingleBit = (v: number): boolean => v !== 0 && (v & (v - 1)) === 0;
