/**
 * Interrupt remapping formats (VT-d §5.1.2, §9.10, §9.12), control plane: IRTE encode/decode, the
 * MSI messages a device is programmed with, and what the hypervisor and the CPU do to a
 * posted-interrupt descriptor in memory.
 */
import { IovError } from "../../errors.js";
import type { PhysMem } from "../../memory/physmem.js";
import {
  INTERRUPT_ADDR_FIRST,
  IRTE_DLM_SHIFT,
  IRTE_DM,
  IRTE_FPD,
  IRTE_IM,
  IRTE_P,
  IRTE_RH,
  IRTE_TM,
  IRTE_URGENT,
  IRTE_VECTOR_SHIFT,
  MSI_ADDR_HANDLE_15,
  MSI_ADDR_IF_REMAP,
  MSI_ADDR_SHV,
  PID_CONTROL,
  PID_NDST,
  PID_NV,
  PID_ON,
  PID_PIR,
  PID_SIZE,
  PID_SN,
  SVT_ALL,
  SVT_BUS,
  TWO32,
} from "./defs.js";
import type { Entry128 } from "./formats.js";

/* ------------------------------------------------------------------------------------------------
 * IRTE format (control plane): encode / decode, remappable MSI messages.
 * ---------------------------------------------------------------------------------------------- */

/** Source-ID validation of an IRTE (SVT/SQ/SID). */
export type IrteSourceCheck =
  | { svt: "none" }
  /** Requester ID must equal `sid`, ignoring function bits per SQ (0: none, 1: bit 2, 2: bits 2:1, 3: bits 2:0). */
  | { svt: "requester"; sid: number; sq?: number }
  /** Requester's bus must lie in [startBus, endBus] (for devices behind a PCIe-to-PCI bridge). */
  | { svt: "bus"; startBus: number; endBus: number };

export interface RemappedIrte {
  mode: "remapped";
  vector: number;
  /** Destination APIC ID (8-bit in xAPIC mode, 32-bit with x2APIC / EIME). */
  dest: number;
  logical?: boolean;
  level?: boolean;
  /** Delivery mode 0..7 (0 fixed, 1 lowest priority, 4 NMI, ...). */
  deliveryMode?: number;
  redirectionHint?: boolean;
  fpd?: boolean;
  source?: IrteSourceCheck;
}
export interface PostedIrte {
  mode: "posted";
  /** Virtual vector set in the descriptor's PIR. */
  vector: number;
  /** Posted-interrupt descriptor address (64-byte aligned, host physical). */
  pda: number;
  /** Urgent: notify even when the descriptor's SN is set. */
  urgent?: boolean;
  fpd?: boolean;
  source?: IrteSourceCheck;
}
export type IrteSpec = RemappedIrte | PostedIrte;

function checkByte(what: string, v: number): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xff) throw new IovError("EINVAL", `${what} ${v} is not 0..255`, { [what]: v });
  return v;
}

function encodeSource(s: IrteSourceCheck | undefined): bigint {
  if (s === undefined || s.svt === "none") return 0n;
  if (s.svt === "requester") {
    const sq = s.sq ?? 0;
    if (!Number.isInteger(sq) || sq < 0 || sq > 3) throw new IovError("EINVAL", `SQ ${sq} is not 0..3`);
    return BigInt(s.sid & 0xffff) | (BigInt(sq) << 16n) | (BigInt(SVT_ALL) << 18n);
  }
  const start = checkByte("startBus", s.startBus);
  const end = checkByte("endBus", s.endBus);
  if (start > end) throw new IovError("EINVAL", `bus range ${start}..${end} is empty`);
  return BigInt((start << 8) | end) | (BigInt(SVT_BUS) << 18n);
}

/** Encode a present IRTE (VT-d §9.10). */
export function encodeIrte(e: IrteSpec, x2apic: boolean): Entry128 {
  const vector = checkByte("vector", e.vector);
  let lo = BigInt(IRTE_P | (e.fpd === true ? IRTE_FPD : 0)) | (BigInt(vector) << BigInt(IRTE_VECTOR_SHIFT));
  let hi = encodeSource(e.source);
  if (e.mode === "remapped") {
    const dm = e.deliveryMode ?? 0;
    if (!Number.isInteger(dm) || dm < 0 || dm > 7) throw new IovError("EINVAL", `delivery mode ${dm} is not 0..7`);
    const maxDest = x2apic ? 0xffff_ffff : 0xff;
    if (!Number.isInteger(e.dest) || e.dest < 0 || e.dest > maxDest) throw new IovError("ERANGE", `destination ${e.dest} outside 0..${maxDest}`);
    lo |= BigInt((e.logical === true ? IRTE_DM : 0) | (e.redirectionHint === true ? IRTE_RH : 0) | (e.level === true ? IRTE_TM : 0) | (dm << IRTE_DLM_SHIFT));
    lo |= BigInt(x2apic ? e.dest : e.dest << 8) << 32n;
  } else {
    if (!Number.isSafeInteger(e.pda) || e.pda < 0 || e.pda % PID_SIZE !== 0)
      throw new IovError("EINVAL", `posted descriptor 0x${e.pda.toString(16)} is not 64-byte aligned`);
    lo |= BigInt(IRTE_IM | (e.urgent === true ? IRTE_URGENT : 0));
    lo |= BigInt(e.pda % TWO32) << 32n; // address bits 31:6 land in IRTE bits 63:38
    hi |= BigInt(Math.floor(e.pda / TWO32)) << 32n; // address bits 63:32 in IRTE bits 127:96
  }
  return { lo, hi };
}

export type DecodedIrte = { present: false; fpd: boolean } | (IrteSpec & { present: true });

export function decodeIrte(e: Entry128, x2apic: boolean): DecodedIrte {
  const lo = e.lo;
  const hi = e.hi;
  const fpd = (lo & 2n) === 2n;
  if ((lo & 1n) === 0n) return { present: false, fpd };
  const svt = Number((hi >> 18n) & 3n);
  const sidField = Number(hi & 0xffffn);
  const source: IrteSourceCheck =
    svt === SVT_ALL
      ? { svt: "requester", sid: sidField, sq: Number((hi >> 16n) & 3n) }
      : svt === SVT_BUS
        ? { svt: "bus", startBus: sidField >>> 8, endBus: sidField & 0xff }
        : { svt: "none" };
  const vector = Number((lo >> 16n) & 0xffn);
  if ((lo & BigInt(IRTE_IM)) !== 0n) {
    const pda = Number(((lo >> 32n) & 0xffff_ffc0n) | (hi & 0xffff_ffff_0000_0000n));
    return { present: true, mode: "posted", vector, pda, urgent: (lo & BigInt(IRTE_URGENT)) !== 0n, fpd, source };
  }
  const destField = Number((lo >> 32n) & 0xffff_ffffn);
  return {
    present: true,
    mode: "remapped",
    vector,
    dest: x2apic ? destField : (destField >>> 8) & 0xff,
    logical: (lo & BigInt(IRTE_DM)) !== 0n,
    redirectionHint: (lo & BigInt(IRTE_RH)) !== 0n,
    level: (lo & BigInt(IRTE_TM)) !== 0n,
    deliveryMode: Number((lo >> 5n) & 7n),
    fpd,
    source,
  };
}

/** A remappable-format MSI message for IRTE `handle` (plus `subhandle`, which sets SHV). */
export function remappableMsi(handle: number, subhandle?: number): { address: number; data: number } {
  if (!Number.isInteger(handle) || handle < 0 || handle > 0xffff) throw new IovError("ERANGE", `interrupt handle ${handle} outside 0..65535`);
  let address = (INTERRUPT_ADDR_FIRST | ((handle & 0x7fff) << 5) | MSI_ADDR_IF_REMAP | ((handle >>> 15) !== 0 ? MSI_ADDR_HANDLE_15 : 0)) >>> 0;
  let data = 0;
  if (subhandle !== undefined) {
    if (!Number.isInteger(subhandle) || subhandle < 0 || subhandle > 0xffff) throw new IovError("ERANGE", `subhandle ${subhandle} outside 0..65535`);
    address = (address | MSI_ADDR_SHV) >>> 0;
    data = subhandle;
  }
  return { address, data };
}

/** A compatibility-format MSI message (what a device is programmed with when nothing remaps). */
export function compatibilityMsi(destId: number, vector: number, opts: { logical?: boolean; level?: boolean; deliveryMode?: number } = {}): { address: number; data: number } {
  const address = (INTERRUPT_ADDR_FIRST | ((checkByte("destId", destId) & 0xff) << 12) | (opts.logical === true ? IRTE_DM : 0)) >>> 0;
  const data = checkByte("vector", vector) | (((opts.deliveryMode ?? 0) & 7) << 8) | (opts.level === true ? 1 << 15 : 0);
  return { address, data };
}

/* ------------------------------------------------------------------------------------------------
 * Posted-interrupt descriptors (64 bytes in host memory): what the hypervisor and the CPU do to them.
 * ---------------------------------------------------------------------------------------------- */

export interface PostedDescriptorState {
  /** Vectors whose PIR bit is set, ascending. */
  pending: number[];
  /** Outstanding Notification. */
  on: boolean;
  /** Suppress Notification. */
  sn: boolean;
  /** Notification vector. */
  nv: number;
  /** Notification destination (APIC ID). */
  ndst: number;
}

function checkPda(mem: PhysMem, pda: number): void {
  if (!Number.isSafeInteger(pda) || pda < 0 || pda % PID_SIZE !== 0 || pda + PID_SIZE > mem.sizeLimit)
    throw new IovError("EINVAL", `posted descriptor 0x${pda.toString(16)} is not a 64-byte aligned address in memory`);
}

/** Hypervisor: initialise a descriptor (PIR empty, ON = SN = 0) with its notification vector and destination. */
export function pidInit(mem: PhysMem, pda: number, nv: number, ndst: number, x2apic: boolean): void {
  checkPda(mem, pda);
  mem.fill(pda, PID_SIZE, 0);
  pidSetNotification(mem, pda, nv, ndst, x2apic);
}

/** Hypervisor: retarget notifications (vCPU migrated, or switched between running and blocked). */
export function pidSetNotification(mem: PhysMem, pda: number, nv: number, ndst: number, x2apic: boolean): void {
  checkPda(mem, pda);
  mem.write8(pda + PID_NV, checkByte("nv", nv));
  if (!x2apic) checkByte("ndst", ndst);
  mem.write32(pda + PID_NDST, x2apic ? ndst >>> 0 : (ndst & 0xff) << 8);
}

/** Hypervisor: set or clear Suppress Notification (vCPU preempted / scheduled in). */
export function pidSetSuppress(mem: PhysMem, pda: number, sn: boolean): void {
  checkPda(mem, pda);
  const c = mem.read8(pda + PID_CONTROL);
  mem.write8(pda + PID_CONTROL, sn ? c | PID_SN : c & ~PID_SN);
}

export function pidRead(mem: PhysMem, pda: number, x2apic: boolean): PostedDescriptorState {
  checkPda(mem, pda);
  const pending: number[] = [];
  for (let v = 0; v < 256; v++) if ((mem.read8(pda + PID_PIR + (v >>> 3)) & (1 << (v & 7))) !== 0) pending.push(v);
  const c = mem.read8(pda + PID_CONTROL);
  const ndst = mem.read32(pda + PID_NDST);
  return { pending, on: (c & PID_ON) !== 0, sn: (c & PID_SN) !== 0, nv: mem.read8(pda + PID_NV), ndst: x2apic ? ndst : (ndst >>> 8) & 0xff };
}

/**
 * CPU posted-interrupt processing (what the notification triggers on the vCPU's CPU, or what the
 * hypervisor does when it schedules the vCPU in): clear ON, take and clear PIR. Returns the vectors.
 */
export function pidDrain(mem: PhysMem, pda: number): number[] {
  checkPda(mem, pda);
  mem.write8(pda + PID_CONTROL, mem.read8(pda + PID_CONTROL) & ~PID_ON);
  const out: number[] = [];
  for (let b = 0; b < 32; b++) {
    const x = mem.read8(pda + PID_PIR + b);
    if (x === 0) continue;
    for (let i = 0; i < 8; i++) if ((x & (1 << i)) !== 0) out.push(b * 8 + i);
    mem.write8(pda + PID_PIR + b, 0);
  }
  return out;
}
