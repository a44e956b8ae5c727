/**
 * Address routing of memory and I/O requests through the fabric, as the hardware decodes them:
 * a function claims an address with a BAR while its Command register enables that space; a bridge
 * forwards what falls in its memory, prefetchable or I/O window while its Command register enables
 * that space, and then the same rules apply on its secondary bus. SR-IOV VFs are decoded by their
 * PF: VF BAR i of VF k lies at VF BARi + k × (per-VF size), while VF Enable and VF MSE are set
 * (SR-IOV 1.1 §3.3.14; the VF's own Command.Memory is not used).
 *
 * On one bus the first function in devfn order that claims an address takes it; a bridge that takes
 * it and finds nothing below answers UR. `buildDecodeTable` flattens that into sorted disjoint
 * intervals for an O(log n) lookup; `walkDecode` follows the rules live, as a reference.
 */
import type { FabricBus, FabricNode } from "./fabric.js";
import type { PciFunction } from "./function.js";
import type { BarKind } from "./bars.js";
import {
  PCI_BASE_ADDRESS_0,
  PCI_BASE_ADDRESS_MEM_PREFETCH,
  PCI_BASE_ADDRESS_MEM_TYPE_64,
  PCI_BASE_ADDRESS_SPACE_IO,
  PCI_COMMAND,
  PCI_COMMAND_IO,
  PCI_COMMAND_MEMORY,
  PCI_IO_BASE,
  PCI_IO_BASE_UPPER16,
  PCI_IO_LIMIT,
  PCI_IO_LIMIT_UPPER16,
  PCI_IO_RANGE_TYPE_32,
  PCI_MEMORY_BASE,
  PCI_MEMORY_LIMIT,
  PCI_PREF_BASE_UPPER32,
  PCI_PREF_LIMIT_UPPER32,
  PCI_PREF_MEMORY_BASE,
  PCI_PREF_MEMORY_LIMIT,
  PCI_PREF_RANGE_TYPE_64,
} from "./header.js";
import {
  PCI_SRIOV_BAR,
  PCI_SRIOV_CTRL,
  PCI_SRIOV_CTRL_MSE,
  PCI_SRIOV_CTRL_VFE,
  PCI_SRIOV_NUM_BARS,
  PCI_SRIOV_NUM_VF,
  PCI_SRIOV_SYS_PGSIZE,
} from "./caps/sriov.js";

export type AddrSpace = "mem" | "io";

/** Where one address range lands: a function's BAR. `offset = addr - base`. Shared, never copied. */
export interface MmioTarget {
  readonly fn: PciFunction;
  readonly bar: number;
  /** Address of offset 0 of the BAR (the VF's own BAR base for VFs). */
  readonly base: number;
  /** Claimed range [start, end) (a BAR may be clipped by the windows above it). */
  readonly start: number;
  readonly end: number;
  readonly space: AddrSpace;
}

/** Highest memory address the model routes (JavaScript numbers are exact up to 2^53). */
export const MEM_SPACE_END = 2 ** 53;
/** x86 I/O space is 64 KiB; bridges can forward 32-bit I/O addresses. */
export const IO_SPACE_END = 2 ** 32;
/** Bridge memory windows have 1 MiB granularity, I/O windows 4 KiB (PCI-PCI Bridge 1.2 §3.2.5). */
export const MEM_WINDOW_GRANULE = 0x100000;
export const IO_WINDOW_GRANULE = 0x1000;

/** A BAR as the hardware decodes it: the writable bits of the register give its size. */
export interface HwBar {
  readonly index: number;
  readonly kind: BarKind;
  readonly prefetchable: boolean;
  readonly base: number;
  readonly size: number;
}

const lowestBit = (mask: number): number => (mask === 0 ? 0 : (mask & -mask) >>> 0);

function wmask32(fn: PciFunction, off: number): number {
  const w = fn.cfg.layout.wmask;
  return ((w[off] ?? 0) | ((w[off + 1] ?? 0) << 8) | ((w[off + 2] ?? 0) << 16) | ((w[off + 3] ?? 0) << 24)) >>> 0;
}

/**
 * The BARs implemented in `count` consecutive BAR registers at `regOff` (the header's BAR0..5,
 * a bridge's BAR0..1 or the SR-IOV VF BARs), decoded from the current register value and the
 * register's write mask. A 64-bit BAR takes two registers and is reported at its lower index.
 */
export function hwBars(fn: PciFunction, regOff: number, count: number): HwBar[] {
  const out: HwBar[] = [];
  const cs = fn.cfg;
  for (let i = 0; i < count; i++) {
    const off = regOff + 4 * i;
    const lo = cs.readRaw(off, 4);
    const wm = wmask32(fn, off);
    if ((lo & PCI_BASE_ADDRESS_SPACE_IO) !== 0) {
      const size = lowestBit(wm & 0xfffc);
      if (size !== 0) out.push({ index: i, kind: "io", prefetchable: false, base: lo & 0xfffc, size });
      continue;
    }
    const pf = (lo & PCI_BASE_ADDRESS_MEM_PREFETCH) !== 0;
    if ((lo & 0x6) === PCI_BASE_ADDRESS_MEM_TYPE_64 && i + 1 < count) {
      const hi = cs.readRaw(off + 4, 4);
      const wmHi = wmask32(fn, off + 4);
      const mlo = (wm & 0xfffffff0) >>> 0;
      const size = mlo !== 0 ? lowestBit(mlo) : lowestBit(wmHi) * 2 ** 32;
      if (size !== 0) out.push({ index: i, kind: "mem64", prefetchable: pf, base: hi * 2 ** 32 + ((lo & 0xfffffff0) >>> 0), size });
      i++;
      continue;
    }
    const size = lowestBit((wm & 0xfffffff0) >>> 0);
    if (size !== 0) out.push({ index: i, kind: "mem32", prefetchable: pf, base: (lo & 0xfffffff0) >>> 0, size });
  }
  return out;
}

/** A bridge window [base, limit] as programmed, or undefined when disabled (base > limit). */
export interface Window {
  readonly base: number;
  readonly limit: number;
}

export interface BridgeWindows {
  readonly io: Window | undefined;
  readonly mem: Window | undefined;
  readonly pref: Window | undefined;
}

/** Decode a type 1 header's I/O, memory and prefetchable windows from its registers. */
export function bridgeWindows(fn: PciFunction): BridgeWindows {
  const cs = fn.cfg;
  const ioB = cs.readRaw(PCI_IO_BASE, 1);
  const ioL = cs.readRaw(PCI_IO_LIMIT, 1);
  const io32 = (ioB & 0xf) === PCI_IO_RANGE_TYPE_32;
  const ioBase = (ioB & 0xf0) * 0x100 + (io32 ? cs.readRaw(PCI_IO_BASE_UPPER16, 2) * 0x10000 : 0);
  const ioLimit = (ioL & 0xf0) * 0x100 + 0xfff + (io32 ? cs.readRaw(PCI_IO_LIMIT_UPPER16, 2) * 0x10000 : 0);
  const memBase = (cs.readRaw(PCI_MEMORY_BASE, 2) & 0xfff0) * 0x10000;
  const memLimit = (cs.readRaw(PCI_MEMORY_LIMIT, 2) & 0xfff0) * 0x10000 + 0xfffff;
  const pb = cs.readRaw(PCI_PREF_MEMORY_BASE, 2);
  const pl = cs.readRaw(PCI_PREF_MEMORY_LIMIT, 2);
  const p64 = (pb & 0xf) === PCI_PREF_RANGE_TYPE_64;
  const prefBase = (pb & 0xfff0) * 0x10000 + (p64 ? cs.readRaw(PCI_PREF_BASE_UPPER32, 4) * 2 ** 32 : 0);
  const prefLimit = (pl & 0xfff0) * 0x10000 + 0xfffff + (p64 ? cs.readRaw(PCI_PREF_LIMIT_UPPER32, 4) * 2 ** 32 : 0);
  // The I/O and prefetchable windows are optional: when absent, their registers are read-only zero.
  const wm = cs.layout.wmask;
  const hasIo = (wm[PCI_IO_BASE] ?? 0) !== 0;
  const hasPref = ((wm[PCI_PREF_MEMORY_BASE] ?? 0) | (wm[PCI_PREF_MEMORY_BASE + 1] ?? 0)) !== 0;
  return {
    io: hasIo && ioBase <= ioLimit ? { base: ioBase, limit: ioLimit } : undefined,
    mem: memBase <= memLimit ? { base: memBase, limit: memLimit } : undefined,
    pref: hasPref && prefBase <= prefLimit ? { base: prefBase, limit: prefLimit } : undefined,
  };
}

/** Per-VF size of a VF BAR: its declared size, at least one System Page (SR-IOV 1.1 §3.3.14). */
function vfStride(pf: PciFunction, cap: number, declared: number): number {
  const sys = pf.cfg.readRaw(cap + PCI_SRIOV_SYS_PGSIZE, 4);
  const page = sys === 0 ? 4096 : lowestBit(sys) * 4096;
  return Math.max(declared, page);
}

/** The VF BAR apertures a PF decodes now (VF Enable and VF MSE set), with the per-VF size. */
export function vfApertures(node: FabricNode): Array<{ bar: HwBar; perVf: number; numVfs: number }> {
  const cap = node.sriovCap;
  if (cap === 0) return [];
  const cs = node.fn.cfg;
  const ctrl = cs.readRaw(cap + PCI_SRIOV_CTRL, 2);
  if ((ctrl & PCI_SRIOV_CTRL_VFE) === 0 || (ctrl & PCI_SRIOV_CTRL_MSE) === 0) return [];
  const numVfs = cs.readRaw(cap + PCI_SRIOV_NUM_VF, 2);
  if (numVfs === 0) return [];
  return hwBars(node.fn, cap + PCI_SRIOV_BAR, PCI_SRIOV_NUM_BARS)
    .filter((b) => b.kind !== "io")
    .map((bar) => ({ bar, perVf: vfStride(node.fn, cap, bar.size), numVfs }));
}

/** One claim on a bus: a leaf (BAR), a hole (a PF's VF slot without a VF) or a bridge window. */
interface Claim {
  readonly start: number;
  readonly end: number;
  readonly fn: PciFunction | undefined;
  readonly bar: number;
  readonly base: number;
  readonly below: FabricBus | undefined;
}

function windowsFor(fn: PciFunction, space: AddrSpace): Window[] {
  const w = bridgeWindows(fn);
  const out: Window[] = [];
  if (space === "io") {
    if (w.io !== undefined) out.push(w.io);
  } else {
    if (w.mem !== undefined) out.push(w.mem);
    if (w.pref !== undefined) out.push(w.pref);
  }
  return out;
}

const spaceMatches = (b: HwBar, space: AddrSpace): boolean => (b.kind === "io") === (space === "io");

/** The claims of one function on its bus, in decode priority order. */
function claimsOf(node: FabricNode, space: AddrSpace, out: Claim[]): void {
  const fn = node.fn;
  const cmd = fn.cfg.readRaw(PCI_COMMAND, 2);
  const enable = space === "io" ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY;
  if ((cmd & enable) === 0) {
    if (space === "mem") vfClaims(node, out);
    return;
  }
  const nBars = node.secondary === undefined ? 6 : 2;
  for (const b of hwBars(fn, PCI_BASE_ADDRESS_0, nBars)) {
    if (spaceMatches(b, space)) out.push({ start: b.base, end: b.base + b.size, fn, bar: b.index, base: b.base, below: undefined });
  }
  if (node.secondary !== undefined) {
    for (const w of windowsFor(fn, space)) out.push({ start: w.base, end: w.limit + 1, fn, bar: -1, base: w.base, below: node.secondary });
  } else if (space === "mem") vfClaims(node, out);
}

function vfClaims(node: FabricNode, out: Claim[]): void {
  for (const a of vfApertures(node)) {
    for (let k = 0; k < a.numVfs; k++) {
      const base = a.bar.base + k * a.perVf;
      out.push({ start: base, end: base + a.perVf, fn: node.vfs[k], bar: a.bar.index, base, below: undefined });
    }
  }
}

/** Nodes of a bus in decode order: functions in devfn order (VFs are decoded through their PF). */
function* decoders(bus: FabricBus): Generator<FabricNode> {
  for (const n of bus.slots) if (n !== undefined) yield n;
}

// ---- interval sets: sorted, disjoint [s, e) pairs in a flat array ----

function intersect(avail: readonly number[], s: number, e: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < avail.length; i += 2) {
    const a = Math.max(avail[i]!, s);
    const b = Math.min(avail[i + 1]!, e);
    if (a < b) out.push(a, b);
  }
  return out;
}

function subtract(avail: readonly number[], s: number, e: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < avail.length; i += 2) {
    const a = avail[i]!;
    const b = avail[i + 1]!;
    if (e <= a || s >= b) {
      out.push(a, b);
      continue;
    }
    if (a < s) out.push(a, s);
    if (e < b) out.push(e, b);
  }
  return out;
}

/** Sorted disjoint targets with binary search. Allocation-free lookup. */
export class DecodeTable {
  private readonly starts: Float64Array;
  private readonly ends: Float64Array;
  private readonly targets: readonly MmioTarget[];
  constructor(entries: MmioTarget[]) {
    entries.sort((a, b) => a.start - b.start);
    this.targets = entries;
    this.starts = new Float64Array(entries.map((t) => t.start));
    this.ends = new Float64Array(entries.map((t) => t.end));
  }
  get size(): number {
    return this.targets.length;
  }
  all(): readonly MmioTarget[] {
    return this.targets;
  }
  lookup(addr: number): MmioTarget | undefined {
    const st = this.starts;
    let lo = 0;
    let hi = st.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (st[mid]! <= addr) lo = mid + 1;
      else hi = mid - 1;
    }
    if (hi < 0 || addr >= this.ends[hi]!) return undefined;
    return this.targets[hi];
  }
}

const spaceEnd = (space: AddrSpace): number => (space === "io" ? IO_SPACE_END : MEM_SPACE_END);

/** Flatten the decode of the whole hierarchy below `root` into a table. */
export function buildDecodeTable(root: FabricBus, space: AddrSpace): DecodeTable {
  const entries: MmioTarget[] = [];
  const visit = (bus: FabricBus, availIn: number[]): void => {
    let avail = availIn;
    const claims: Claim[] = [];
    for (const node of decoders(bus)) {
      claims.length = 0;
      claimsOf(node, space, claims);
      for (const c of claims) {
        if (avail.length === 0) return;
        const pieces = intersect(avail, c.start, c.end);
        if (pieces.length === 0) continue;
        if (c.below !== undefined) visit(c.below, pieces);
        else if (c.fn !== undefined) {
          for (let i = 0; i < pieces.length; i += 2)
            entries.push({ fn: c.fn, bar: c.bar, base: c.base, start: pieces[i]!, end: pieces[i + 1]!, space });
        }
        avail = subtract(avail, c.start, c.end);
      }
    }
  };
  visit(root, [0, spaceEnd(space)]);
  return new DecodeTable(entries);
}

/** Reference decode of one address, reading every register on the way (no cache). */
export function walkDecode(root: FabricBus, space: AddrSpace, addr: number): { fn: PciFunction; bar: number; offset: number } | undefined {
  if (addr < 0 || addr >= spaceEnd(space)) return undefined;
  let bus: FabricBus = root;
  const claims: Claim[] = [];
  for (;;) {
    let next: FabricBus | undefined;
    let found = false;
    for (const node of decoders(bus)) {
      claims.length = 0;
      claimsOf(node, space, claims);
      for (const c of claims) {
        if (addr < c.start || addr >= c.end) continue;
        if (c.below !== undefined) next = c.below;
        else if (c.fn === undefined) return undefined;
        else return { fn: c.fn, bar: c.bar, offset: addr - c.base };
        found = true;
        break;
      }
      if (found) break;
    }
    if (next === undefined) return undefined;
    bus = next;
  }
}
