/**
 * Address-space allocation for enumeration, in the manner of Linux drivers/pci/setup-bus.c:
 * bottom-up, every bridge window is sized to hold what lies below it (children sorted by alignment,
 * each naturally aligned; memory windows in 1 MiB, I/O windows in 4 KiB granules); top-down, windows
 * and BARs get addresses inside their parent's window.
 *
 * Three kinds of window: I/O, non-prefetchable memory (below 4 GiB) and prefetchable memory (64-bit;
 * 64-bit prefetchable BARs go there, every other memory BAR into the non-prefetchable window).
 * SR-IOV IOV resources (VF BAR size × TotalVFs, aligned to the VF BAR size) are optional, as in Linux:
 * with `realloc` the windows are first sized to hold them too; when that does not fit (or without
 * `realloc`) windows are sized for the BARs alone and each IOV resource is placed in what is left of
 * its window. One that does not fit is an ENOSPC naming the device, the VF BAR, the size needed, the
 * window and what was left in it.
 */
import { IovError } from "../errors.js";
import type { BarKind } from "./bars.js";
import { IO_WINDOW_GRANULE, MEM_WINDOW_GRANULE } from "./route.js";

export type WindowKind = "io" | "mem" | "pref";

/** An address range [base, limit] (limit inclusive, as bridge registers and firmware tables say it). */
export interface AddrRange {
  readonly base: number;
  readonly limit: number;
}

/** What the allocator needs to know about one function found by the scan. */
export interface AllocDev {
  readonly bdf: string;
  readonly bars: ReadonlyArray<{ readonly index: number; readonly kind: BarKind; readonly prefetchable: boolean; readonly size: number }>;
  readonly iov: ReadonlyArray<{ readonly index: number; readonly kind: BarKind; readonly prefetchable: boolean; readonly perVf: number; readonly vfs: number }>;
  /** For bridges: the bus below and which windows the bridge implements. */
  readonly below: AllocBus | undefined;
  readonly hasIoWindow: boolean;
  readonly hasPrefWindow: boolean;
  /** Minimum window sizes (hot-plug reservation), 0 for none. */
  readonly reserve: Readonly<Record<WindowKind, number>>;
}

export interface AllocBus {
  readonly devs: readonly AllocDev[];
}

/** One thing that needs addresses: a BAR, an IOV resource or a bridge window. */
export interface Placement {
  readonly dev: AllocDev;
  readonly what: "bar" | "iov" | "window";
  /** BAR / VF BAR index; the window kind's position for windows (0 io, 1 mem, 2 pref). */
  readonly index: number;
  readonly kind: WindowKind;
  readonly size: number;
  readonly align: number;
  /** Assigned base (−1 until placed; stays −1 for an IOV resource skipped for lack of space). */
  base: number;
  /** Offset inside the parent window while packing. */
  rel: number;
  /** Window contents (windows only). */
  children: Placement[];
}

export interface AllocOptions {
  readonly io: AddrRange;
  readonly mmio32: AddrRange;
  /** 64-bit window for prefetchable memory; undefined = prefetchable memory shares the 32-bit range. */
  readonly mmio64: AddrRange | undefined;
  readonly realloc: boolean;
  readonly iovShortage: "error" | "skip";
  readonly rootName: string;
}

export interface AllocResult {
  /** Every placement (BARs, IOV resources, windows), top-down. */
  readonly placements: readonly Placement[];
  readonly problems: readonly IovError[];
}

const WINDOW_INDEX: Readonly<Record<WindowKind, number>> = { io: 0, mem: 1, pref: 2 };
const WINDOW_NAME: Readonly<Record<WindowKind, string>> = { io: "I/O window", mem: "non-prefetchable window", pref: "prefetchable window" };

const alignUp = (x: number, a: number): number => Math.ceil(x / a) * a;

/** "64 MiB", "256 KiB", "3 B": the largest binary unit that divides the size. */
export function fmtSize(n: number): string {
  const units: Array<[number, string]> = [
    [2 ** 40, "TiB"],
    [2 ** 30, "GiB"],
    [2 ** 20, "MiB"],
    [2 ** 10, "KiB"],
  ];
  for (const [u, name] of units) if (n >= u && n % u === 0) return `${n / u} ${name}`;
  return `${n} B`;
}
const hex = (n: number): string => `0x${n.toString(16)}`;

function barWindow(kind: BarKind, prefetchable: boolean): WindowKind {
  if (kind === "io") return "io";
  return kind === "mem64" && prefetchable ? "pref" : "mem";
}

/** The window of `parent` (undefined = root) that takes resources of `kind`. */
function windowFor(kind: WindowKind, parent: AllocDev | undefined, sharedRoot: boolean): WindowKind {
  if (kind !== "pref") return kind;
  if (parent === undefined) return sharedRoot ? "mem" : "pref";
  return parent.hasPrefWindow ? "pref" : "mem";
}

function mk(dev: AllocDev, what: Placement["what"], index: number, kind: WindowKind, size: number, align: number): Placement {
  return { dev, what, index, kind, size, align, base: -1, rel: 0, children: [] };
}

/** Sort by alignment (largest first) and lay out; returns the end offset. */
function pack(items: Placement[]): number {
  items.sort((a, b) => b.align - a.align || b.size - a.size);
  let off = 0;
  for (const it of items) {
    off = alignUp(off, it.align);
    it.rel = off;
    off += it.size;
  }
  return off;
}

interface Sized {
  /** Top-level placements of the bus, by the window kind of the parent that takes them. */
  readonly lists: Record<WindowKind, Placement[]>;
}

/** Bottom-up: the placements of `bus` (whose bridge is `parent`), windows sized to their contents. */
function sizeBus(bus: AllocBus, parent: AllocDev | undefined, withIov: boolean, sharedRoot: boolean): Sized {
  const lists: Record<WindowKind, Placement[]> = { io: [], mem: [], pref: [] };
  for (const d of bus.devs) {
    for (const b of d.bars) lists[windowFor(barWindow(b.kind, b.prefetchable), parent, sharedRoot)].push(mk(d, "bar", b.index, barWindow(b.kind, b.prefetchable), b.size, b.size));
    if (withIov)
      for (const r of d.iov) {
        const k = barWindow(r.kind, r.prefetchable);
        lists[windowFor(k, parent, sharedRoot)].push(mk(d, "iov", r.index, k, r.perVf * r.vfs, r.perVf));
      }
    if (d.below !== undefined) {
      const inner = sizeBus(d.below, d, withIov, sharedRoot);
      const needsIo = inner.lists.io[0];
      if (!d.hasIoWindow && needsIo !== undefined)
        throw new IovError("ENOSPC", `${needsIo.dev.bdf}: not enough I/O resources for ${describe(needsIo)}: ${d.bdf} has no I/O window`, {
          bdf: needsIo.dev.bdf,
          resource: describe(needsIo),
          needed: needsIo.size,
          window: `I/O window of ${d.bdf}`,
          left: 0,
        });
      for (const k of ["io", "mem", "pref"] as const) {
        if (k === "io" && !d.hasIoWindow) continue;
        const wk = k === "pref" && !d.hasPrefWindow ? "mem" : k;
        const kids = inner.lists[k];
        const reserve = d.reserve[k];
        if (kids.length === 0 && reserve === 0) continue;
        if (k !== wk) continue; // no prefetchable window: sizeBus already put its contents in "mem"
        const gran = k === "io" ? IO_WINDOW_GRANULE : MEM_WINDOW_GRANULE;
        const end = pack(kids);
        const align = Math.max(gran, ...kids.map((c) => c.align));
        const w = mk(d, "window", WINDOW_INDEX[k], k, Math.max(alignUp(end, gran), alignUp(reserve, gran)), align);
        w.children = kids;
        lists[windowFor(k, parent, sharedRoot)].push(w);
      }
    }
  }
  return { lists };
}

/** Assign absolute bases below a placed window. */
function placeChildren(w: Placement): void {
  for (const c of w.children) {
    c.base = w.base + c.rel;
    placeChildren(c);
  }
}

function describe(p: Placement): string {
  if (p.what === "bar") return `BAR${p.index}`;
  if (p.what === "iov") return `VF BAR${p.index}`;
  return `its ${WINDOW_NAME[p.kind]}`;
}

interface RootRegion {
  readonly name: string;
  readonly range: AddrRange;
  readonly kinds: readonly WindowKind[];
}

/** A window to place leftovers in: its range and what is already in it. */
interface FreeWindow {
  readonly name: string;
  readonly base: number;
  readonly end: number; // exclusive
  readonly used: Array<[number, number]>;
}

function largestGap(w: FreeWindow): number {
  let best = 0;
  let cur = w.base;
  for (const [s, e] of w.used) {
    if (s > cur) best = Math.max(best, s - cur);
    cur = Math.max(cur, e);
  }
  return Math.max(best, w.end - cur);
}

function firstFit(w: FreeWindow, size: number, align: number): number {
  let cur = w.base;
  for (const [s, e] of w.used) {
    const a = alignUp(cur, align);
    if (a + size <= s) return a;
    cur = Math.max(cur, e);
  }
  const a = alignUp(cur, align);
  return a + size <= w.end ? a : -1;
}

function insertUsed(w: FreeWindow, s: number, e: number): void {
  let i = w.used.length;
  while (i > 0 && w.used[i - 1]![0] > s) i--;
  w.used.splice(i, 0, [s, e]);
}

/**
 * Allocate addresses for everything below the root bus. Throws ENOSPC when the BARs alone do not fit,
 * and for IOV resources that do not fit unless `iovShortage` is "skip" (then they are reported in `problems`).
 */
export function allocate(root: AllocBus, o: AllocOptions): AllocResult {
  const shared = o.mmio64 === undefined;
  const regions: RootRegion[] = [
    { name: `I/O range [${hex(o.io.base)}-${hex(o.io.limit)}] of ${o.rootName}`, range: o.io, kinds: ["io"] },
    { name: `32-bit MMIO range [${hex(o.mmio32.base)}-${hex(o.mmio32.limit)}] of ${o.rootName}`, range: o.mmio32, kinds: shared ? ["mem", "pref"] : ["mem"] },
  ];
  if (o.mmio64 !== undefined)
    regions.push({ name: `64-bit MMIO range [${hex(o.mmio64.base)}-${hex(o.mmio64.limit)}] of ${o.rootName}`, range: o.mmio64, kinds: ["pref"] });

  const tryPlace = (withIov: boolean): Placement[] | IovError => {
    const s = sizeBus(root, undefined, withIov, shared);
    const top: Placement[] = [];
    for (const r of regions) {
      const items = r.kinds.flatMap((k) => s.lists[k]);
      if (items.length === 0) continue;
      const end = pack(items);
      const maxAlign = Math.max(...items.map((i) => i.align));
      const start = alignUp(r.range.base, maxAlign);
      if (start + end - 1 > r.range.limit) {
        const bad = items.find((i) => start + i.rel + i.size - 1 > r.range.limit) ?? items[items.length - 1]!;
        const left = Math.max(0, r.range.limit + 1 - alignUp(start + bad.rel, bad.align));
        return new IovError("ENOSPC", `${bad.dev.bdf}: not enough ${bad.kind === "io" ? "I/O" : "MMIO"} resources for ${describe(bad)}: needs ${fmtSize(bad.size)} in the ${r.name}, ${fmtSize(left)} left`, {
          bdf: bad.dev.bdf,
          resource: describe(bad),
          needed: bad.size,
          window: r.name,
          left,
        });
      }
      for (const it of items) {
        it.base = start + it.rel;
        placeChildren(it);
        top.push(it);
      }
    }
    return top;
  };

  const problems: IovError[] = [];
  const hasIov = (b: AllocBus): boolean => b.devs.some((d) => d.iov.length > 0 || (d.below !== undefined && hasIov(d.below)));
  const flatten = (ps: readonly Placement[], out: Placement[]): Placement[] => {
    for (const p of ps) {
      out.push(p);
      flatten(p.children, out);
    }
    return out;
  };

  if (o.realloc && hasIov(root)) {
    const full = tryPlace(true);
    if (!(full instanceof IovError)) return { placements: flatten(full, []), problems };
  }
  const req = tryPlace(false);
  if (req instanceof IovError) throw req;
  const placements = flatten(req, []);

  // Leftover placement of IOV resources, top-down, in the window of the bridge above each PF.
  const windows = new Map<string, FreeWindow>();
  const rootWindow = (k: WindowKind): FreeWindow => {
    const key = `root:${k}`;
    let w = windows.get(key);
    if (w === undefined) {
      const r = regions.find((x) => x.kinds.includes(k))!;
      w = { name: r.name, base: r.range.base, end: r.range.limit + 1, used: [] };
      for (const p of req) if (r.kinds.includes(p.kind) && p.size > 0) insertUsed(w, p.base, p.base + p.size);
      windows.set(key, w);
    }
    return w;
  };
  const bridgeWindow = (bridge: AllocDev, k: WindowKind): FreeWindow => {
    const key = `${bridge.bdf}:${k}`;
    let w = windows.get(key);
    if (w === undefined) {
      const p = placements.find((x) => x.what === "window" && x.dev === bridge && x.kind === k);
      w =
        p === undefined
          ? { name: `${WINDOW_NAME[k]} of ${bridge.bdf}`, base: 0, end: 0, used: [] }
          : { name: `${WINDOW_NAME[k]} of ${bridge.bdf}`, base: p.base, end: p.base + p.size, used: [] };
      if (p !== undefined) for (const c of p.children) insertUsed(w, c.base, c.base + c.size);
      windows.set(key, w);
    }
    return w;
  };
  const visit = (bus: AllocBus, parent: AllocDev | undefined): void => {
    for (const d of bus.devs) {
      for (const r of d.iov) {
        const k = barWindow(r.kind, r.prefetchable);
        const wk = windowFor(k, parent, shared);
        const w = parent === undefined ? rootWindow(wk) : bridgeWindow(parent, wk);
        const size = r.perVf * r.vfs;
        const p = mk(d, "iov", r.index, k, size, r.perVf);
        const at = firstFit(w, size, r.perVf);
        if (at < 0) {
          const left = largestGap(w);
          const err = new IovError(
            "ENOSPC",
            `${d.bdf}: not enough MMIO resources for SR-IOV: VF BAR${r.index} needs ${fmtSize(size)} (${r.vfs} VFs × ${fmtSize(r.perVf)}) in the ${w.name}, ${fmtSize(left)} left`,
            { bdf: d.bdf, resource: `VF BAR${r.index}`, needed: size, vfs: r.vfs, perVf: r.perVf, window: w.name, left },
          );
          if (o.iovShortage === "error") throw err;
          problems.push(err);
          placements.push(p);
          continue;
        }
        p.base = at;
        insertUsed(w, at, at + size);
        placements.push(p);
      }
      if (d.below !== undefined) visit(d.below, d);
    }
  };
  visit(root, undefined);
  return { placements, problems };
}
