/**
 * Encoders and decoders for VT-d's in-memory formats: root and context entries, second-level paging
 * entries, queued-invalidation descriptors and fault records. Control plane and tests only (bigint is
 * fine here); the hardware side decodes the same bits from 32-bit halves without allocating.
 */
import { IovError } from "../../errors.js";
import type { PhysMem } from "../../memory/physmem.js";
import {
  CONTEXT_AW_MASK,
  CONTEXT_DID_SHIFT,
  CONTEXT_FPD,
  CONTEXT_P,
  CONTEXT_TT_SHIFT,
  DMA_PTE_LARGE_PAGE,
  DMA_PTE_READ,
  DMA_PTE_WRITE,
  INV_DEVICE_OR_PAGE,
  INV_DOMAIN,
  INV_GLOBAL,
  QI_CC_TYPE,
  QI_IEC_SELECTIVE,
  QI_IEC_TYPE,
  QI_IOTLB_DR,
  QI_IOTLB_DW,
  QI_IOTLB_TYPE,
  QI_IWD_FENCE,
  QI_IWD_IF,
  QI_IWD_STATUS_WRITE,
  QI_IWD_TYPE,
  ROOT_ENTRY_P,
} from "./defs.js";

/** A 128-bit entry as two little-endian qwords. */
export interface Entry128 {
  readonly lo: bigint;
  readonly hi: bigint;
}

const PAGE_ADDR_MASK = ~0xfffn & ((1n << 64n) - 1n);

function checkAddr(what: string, addr: number, align: number): bigint {
  if (!Number.isSafeInteger(addr) || addr < 0 || addr % align !== 0)
    throw new IovError("EINVAL", `${what} 0x${addr.toString(16)} is not a ${align}-byte aligned address`, { addr });
  return BigInt(addr);
}

export function readEntry128(mem: PhysMem, addr: number): Entry128 {
  return { lo: mem.read64(addr), hi: mem.read64(addr + 8) };
}
/** Write a 128-bit entry high qword first, so the present bit (in the low qword) lands last. */
export function writeEntry128(mem: PhysMem, addr: number, e: Entry128): void {
  mem.write64(addr + 8, e.hi);
  mem.write64(addr, e.lo);
}

/* ---- Root entry (VT-d §9.1): lo = CTP[63:12] | P; hi reserved in legacy mode ---- */
export interface RootEntry {
  present: boolean;
  /** Context-table pointer (host physical, 4 KiB aligned). */
  ctp: number;
}
export function encodeRootEntry(e: RootEntry): Entry128 {
  return { lo: checkAddr("context table", e.ctp, 4096) | (e.present ? BigInt(ROOT_ENTRY_P) : 0n), hi: 0n };
}
export function decodeRootEntry(e: Entry128): RootEntry {
  return { present: (e.lo & 1n) === 1n, ctp: Number(e.lo & PAGE_ADDR_MASK) };
}

/* ---- Legacy context entry (VT-d §9.3) ---- */
export interface ContextEntry {
  present: boolean;
  /** Fault Processing Disable: qualified faults of this requester are not recorded. */
  fpd: boolean;
  /** Translation type: 0 multi-level, 1 multi-level + device-TLB, 2 pass-through, 3 reserved. */
  tt: number;
  /** Second-level page-table pointer (4 KiB aligned). */
  slptptr: number;
  /** Address width: 1 = 39-bit (3 levels), 2 = 48-bit (4 levels). */
  aw: number;
  did: number;
}
export function encodeContextEntry(e: ContextEntry): Entry128 {
  const lo =
    checkAddr("second-level table", e.slptptr, 4096) |
    BigInt((e.tt & 3) << CONTEXT_TT_SHIFT) |
    (e.fpd ? BigInt(CONTEXT_FPD) : 0n) |
    (e.present ? BigInt(CONTEXT_P) : 0n);
  const hi = BigInt(e.aw & CONTEXT_AW_MASK) | (BigInt(e.did & 0xffff) << BigInt(CONTEXT_DID_SHIFT));
  return { lo, hi };
}
export function decodeContextEntry(e: Entry128): ContextEntry {
  return {
    present: (e.lo & 1n) === 1n,
    fpd: (e.lo & 2n) === 2n,
    tt: Number((e.lo >> 2n) & 3n),
    slptptr: Number(e.lo & PAGE_ADDR_MASK),
    aw: Number(e.hi & 7n),
    did: Number((e.hi >> 8n) & 0xffffn),
  };
}

/* ---- Second-level paging entry (VT-d §9.8) ---- */
export interface SlPte {
  read: boolean;
  write: boolean;
  /** PS: this entry maps a 2 MiB (level 2) or 1 GiB (level 3) page. */
  large: boolean;
  /** Next-level table or page frame (host physical). */
  addr: number;
}
export function encodeSlPte(e: SlPte): bigint {
  return (
    checkAddr("paging entry target", e.addr, 4096) |
    (e.read ? BigInt(DMA_PTE_READ) : 0n) |
    (e.write ? BigInt(DMA_PTE_WRITE) : 0n) |
    (e.large ? BigInt(DMA_PTE_LARGE_PAGE) : 0n)
  );
}
export function decodeSlPte(v: bigint, haw = 52): SlPte {
  const addrMask = ((1n << BigInt(haw)) - 1n) & PAGE_ADDR_MASK;
  return { read: (v & 1n) === 1n, write: (v & 2n) === 2n, large: (v & 0x80n) === 0x80n, addr: Number(v & addrMask) };
}

/* ---- Queued-invalidation descriptors (VT-d §6.5.2) ---- */
export type ContextInvScope = { kind: "global" } | { kind: "domain"; did: number } | { kind: "device"; did: number; sid: number; fm?: number };
export type IotlbInvScope =
  | { kind: "global" }
  | { kind: "domain"; did: number }
  | { kind: "page"; did: number; addr: number; am: number; ih?: boolean };

/** Context-cache invalidate descriptor: type 1, G bits 5:4, DID 31:16, SID 47:32, FM 49:48. */
export function qiContextCacheDesc(s: ContextInvScope): Entry128 {
  switch (s.kind) {
    case "global":
      return { lo: BigInt(QI_CC_TYPE | (INV_GLOBAL << 4)), hi: 0n };
    case "domain":
      return { lo: BigInt(QI_CC_TYPE | (INV_DOMAIN << 4)) | (BigInt(s.did & 0xffff) << 16n), hi: 0n };
    case "device":
      return {
        lo:
          BigInt(QI_CC_TYPE | (INV_DEVICE_OR_PAGE << 4)) |
          (BigInt(s.did & 0xffff) << 16n) |
          (BigInt(s.sid & 0xffff) << 32n) |
          (BigInt((s.fm ?? 0) & 3) << 48n),
        hi: 0n,
      };
  }
}

/** IOTLB invalidate descriptor: type 2, G 5:4, DW 6, DR 7, DID 31:16; hi = ADDR 63:12 | IH 6 | AM 5:0. */
export function qiIotlbDesc(s: IotlbInvScope, drain = false): Entry128 {
  const dr = drain ? BigInt(QI_IOTLB_DR | QI_IOTLB_DW) : 0n;
  switch (s.kind) {
    case "global":
      return { lo: BigInt(QI_IOTLB_TYPE | (INV_GLOBAL << 4)) | dr, hi: 0n };
    case "domain":
      return { lo: BigInt(QI_IOTLB_TYPE | (INV_DOMAIN << 4)) | dr | (BigInt(s.did & 0xffff) << 16n), hi: 0n };
    case "page":
      return {
        lo: BigInt(QI_IOTLB_TYPE | (INV_DEVICE_OR_PAGE << 4)) | dr | (BigInt(s.did & 0xffff) << 16n),
        hi: checkAddr("IOTLB invalidation address", s.addr, 4096) | (s.ih === true ? 0x40n : 0n) | BigInt(s.am & 0x3f),
      };
  }
}

/** Interrupt entry cache invalidate: type 4, G bit 4 (1 = index-selective), IM 31:27, IIDX 47:32. */
export function qiIecDesc(s: { kind: "global" } | { kind: "index"; index: number; im?: number }): Entry128 {
  if (s.kind === "global") return { lo: BigInt(QI_IEC_TYPE), hi: 0n };
  return {
    lo: BigInt(QI_IEC_TYPE | QI_IEC_SELECTIVE) | (BigInt((s.im ?? 0) & 0x1f) << 27n) | (BigInt(s.index & 0xffff) << 32n),
    hi: 0n,
  };
}

/** Invalidation wait: type 5, IF 4, SW 5, FN 6, status data 63:32; hi = status address 63:2. */
export function qiWaitDesc(w: { statusWrite?: { addr: number; data: number }; interrupt?: boolean; fence?: boolean }): Entry128 {
  let lo = BigInt(QI_IWD_TYPE);
  let hi = 0n;
  if (w.interrupt === true) lo |= BigInt(QI_IWD_IF);
  if (w.fence === true) lo |= BigInt(QI_IWD_FENCE);
  if (w.statusWrite !== undefined) {
    lo |= BigInt(QI_IWD_STATUS_WRITE) | (BigInt(w.statusWrite.data >>> 0) << 32n);
    hi = checkAddr("wait status", w.statusWrite.addr, 4);
  }
  return { lo, hi };
}

/* ---- Fault recording register (VT-d §10.4.14) ---- */
export interface FaultRecord {
  /** Which fault recording register (0 .. NFR-1). */
  index: number;
  reason: number;
  reasonName: string;
  /** Requester (source) ID of the faulting request. */
  sid: number;
  /** true for a write request (T = 0), false for a read (T = 1). */
  write: boolean;
  /** Fault info: page address of the faulting DMA (bits 63:12); for interrupt faults see `interruptIndex`. */
  address: number;
  /** Interrupt-remapping faults (0x20..0x26): the interrupt index (FI bits 63:48). */
  interruptIndex?: number;
}

/** Parse one 128-bit fault record given as four dwords; undefined when F is clear. */
export function decodeFaultRecord(index: number, dw: readonly [number, number, number, number], faultNames: (r: number) => string): FaultRecord | undefined {
  const [d0, d1, d2, d3] = dw;
  if ((d3 & 0x8000_0000) === 0) return undefined;
  const reason = d3 & 0xff;
  const rec: FaultRecord = {
    index,
    reason,
    reasonName: faultNames(reason),
    sid: d2 & 0xffff,
    write: (d3 & 0x4000_0000) === 0,
    address: (d1 >>> 0) * 0x1_0000_0000 + ((d0 & 0xffff_f000) >>> 0),
  };
  if (reason >= 0x20 && reason <= 0x26) {
    rec.interruptIndex = d1 >>> 16;
    rec.address = (d1 & 0xffff) * 0x1_0000_0000 + ((d0 & 0xffff_f000) >>> 0);
  }
  return rec;
}
